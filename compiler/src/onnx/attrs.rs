//! Typed access to ONNX node attributes.
//!
//! Each getter returns the attribute's value, its default when absent, or an
//! [`Error::Attribute`] naming the node, the op and the attribute when the attribute
//! has the wrong type.

use super::proto::{AttributeProto, NodeProto, attribute_proto::AttributeType as At};
use crate::error::{Error, Result};

/// The attributes of one node, with the node's name and op type for messages.
pub(crate) struct Attrs<'a> {
    node: &'a str,
    op: &'a str,
    list: &'a [AttributeProto],
}

impl<'a> Attrs<'a> {
    /// Attributes of `proto`, reported under node name `node`.
    pub fn new(node: &'a str, proto: &'a NodeProto) -> Self {
        Attrs {
            node,
            op: proto.op_type.as_deref().unwrap_or(""),
            list: &proto.attribute,
        }
    }

    /// An error about attribute `name` of this node.
    pub fn err(&self, reason: impl Into<String>) -> Error {
        Error::Attribute {
            node: self.node.to_string(),
            op: self.op.to_string(),
            reason: reason.into(),
        }
    }

    /// The raw attribute, if present.
    pub fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.list.iter().find(|a| a.name.as_deref() == Some(name))
    }

    fn typed(&self, name: &str, want: At) -> Result<Option<&'a AttributeProto>> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                // Old writers leave `type` unset; accept the field being filled instead.
                let ty = a.r#type.and_then(|t| At::try_from(t).ok());
                if ty.is_some_and(|t| t != want) {
                    return Err(self.err(format!(
                        "attribute `{name}` must be {}, got {}",
                        want.as_str_name(),
                        ty.map_or("UNDEFINED", |t| t.as_str_name())
                    )));
                }
                Ok(Some(a))
            }
        }
    }

    /// Integer attribute.
    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.typed(name, At::Int)?.and_then(|a| a.i))
    }

    /// Integer attribute with a default.
    pub fn int_or(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// Float attribute with a default.
    pub fn float_or(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self
            .typed(name, At::Float)?
            .and_then(|a| a.f)
            .unwrap_or(default))
    }

    /// Integer-list attribute.
    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.typed(name, At::Ints)?.map(|a| a.ints.clone()))
    }

    /// Float-list attribute.
    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        Ok(self.typed(name, At::Floats)?.map(|a| a.floats.clone()))
    }

    /// String attribute (UTF-8).
    pub fn string(&self, name: &str) -> Result<Option<String>> {
        match self.typed(name, At::String)?.and_then(|a| a.s.as_ref()) {
            None => Ok(None),
            Some(b) => String::from_utf8(b.clone())
                .map(Some)
                .map_err(|_| self.err(format!("attribute `{name}` is not UTF-8"))),
        }
    }

    /// Tensor attribute.
    pub fn tensor(&self, name: &str) -> Result<Option<&'a super::proto::TensorProto>> {
        Ok(self.typed(name, At::Tensor)?.and_then(|a| a.t.as_ref()))
    }
}
