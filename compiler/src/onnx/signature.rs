//! The declared inputs of an ONNX model (name, element type, dims with their
//! symbolic names), read without importing it: what a caller needs to bind the
//! symbolic dims from the data it will feed (`triad eval --input`).
//!
//! Failure: a file that is not an ONNX protobuf, or an input that is not a tensor,
//! is an [`Error::Format`] naming the file (and the input).

use std::path::Path;

use prost::Message;

use super::proto::{ModelProto, tensor_shape_proto::dimension, type_proto};
use super::tensor::elem_of;
use crate::error::{Error, Result};
use triad_isa::DType;

/// One dim of a declared input shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclaredDim {
    /// A fixed size.
    Fixed(usize),
    /// A symbolic dim bound by this name: the `dim_param` (`batch`), or
    /// `{input}.{position}` for a dynamic dim without a name (as the importer binds it).
    Symbolic(String),
}

/// A graph input as the model declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredInput {
    /// The input's name.
    pub name: String,
    /// Its IR element type (ONNX uint8/uint4 inputs are fed as i32).
    pub dtype: DType,
    /// Its dims.
    pub dims: Vec<DeclaredDim>,
}

/// The inputs of the serialised model `bytes` (initializers listed as inputs are
/// left out); `origin` names the file in errors.
pub fn declared_inputs(bytes: &[u8], origin: &Path) -> Result<Vec<DeclaredInput>> {
    let bad = |reason: String| Error::Format {
        file: origin.to_path_buf(),
        reason,
    };
    let model =
        ModelProto::decode(bytes).map_err(|e| bad(format!("not a valid ONNX protobuf: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| bad("the model has no graph".into()))?;
    let inits: std::collections::BTreeSet<&str> = graph
        .initializer
        .iter()
        .filter_map(|t| t.name.as_deref())
        .collect();
    let mut out = Vec::new();
    for vi in &graph.input {
        let name = vi.name.clone().unwrap_or_default();
        if inits.contains(name.as_str()) {
            continue;
        }
        let Some(type_proto::Value::TensorType(t)) =
            vi.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return Err(bad(format!("input `{name}` is not a tensor")));
        };
        let elem =
            elem_of(t.elem_type.unwrap_or(0)).map_err(|r| bad(format!("input `{name}`: {r}")))?;
        let dtype = if elem.shift != 0 {
            DType::I32
        } else {
            elem.dtype
        };
        let dims = t
            .shape
            .iter()
            .flat_map(|s| &s.dim)
            .enumerate()
            .map(|(i, d)| match &d.value {
                Some(dimension::Value::DimValue(v)) if *v >= 0 => DeclaredDim::Fixed(*v as usize),
                Some(dimension::Value::DimParam(p)) => DeclaredDim::Symbolic(p.clone()),
                _ => DeclaredDim::Symbolic(format!("{name}.{i}")),
            })
            .collect();
        out.push(DeclaredInput { name, dtype, dims });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{
        GraphProto, TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto,
    };

    fn input(name: &str, elem: i32, dims: Vec<dimension::Value>) -> ValueInfoProto {
        ValueInfoProto {
            name: Some(name.into()),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(elem),
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .into_iter()
                            .map(|v| tensor_shape_proto::Dimension {
                                value: Some(v),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..TypeProto::default()
            }),
            ..ValueInfoProto::default()
        }
    }

    #[test]
    fn named_fixed_and_unnamed_dims() {
        use dimension::Value::{DimParam, DimValue};
        let model = ModelProto {
            graph: Some(GraphProto {
                // int64 = 7, uint8 = 2 (ONNX TensorProto.DataType codes).
                input: vec![
                    input("ids", 7, vec![DimParam("batch".into()), DimValue(6)]),
                    input("q", 2, vec![DimValue(-1)]),
                ],
                ..GraphProto::default()
            }),
            ..ModelProto::default()
        };
        let got = declared_inputs(&model.encode_to_vec(), Path::new("m.onnx")).unwrap();
        assert_eq!(
            got,
            vec![
                DeclaredInput {
                    name: "ids".into(),
                    dtype: DType::I64,
                    dims: vec![DeclaredDim::Symbolic("batch".into()), DeclaredDim::Fixed(6)],
                },
                DeclaredInput {
                    name: "q".into(),
                    dtype: DType::I32,
                    dims: vec![DeclaredDim::Symbolic("q.0".into())],
                },
            ]
        );
        assert!(declared_inputs(b"\xff\xff", Path::new("m.onnx")).is_err());
    }
}
