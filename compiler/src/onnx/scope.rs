//! Triad's annotations in ONNX files, so that a re-imported export keeps the
//! statistics of the graph it came from:
//!
//! - every node's scope (`layer3/attn`) as the node metadata entry [`SCOPE_KEY`]; the
//!   importer gives the IR nodes it makes for an ONNX node that scope;
//! - the KV-cache role: a graph input that is a KV cache carries [`KIND_KEY`] =
//!   [`KV_CACHE`] in its value-info metadata, and a `Concat` that appends to a cache
//!   carries [`OP_KEY`] = `KvAppend`; they import as a KV-cache input and a
//!   `KvAppend`, whose bytes count as KV traffic.
//!
//! Files from other producers have no such entries and import as before. The
//! entries are labels: a hostile value cannot fail an import (a `KvAppend` mark on
//! anything but a two-input `Concat` is ignored).

use super::fold::{Builder, Val};
use super::proto::{NodeProto, StringStringEntryProto, ValueInfoProto};
use crate::error::Result;
use crate::op::{InputKind, Op, OpKind};

/// The `NodeProto.metadata_props` key holding the node's scope.
pub const SCOPE_KEY: &str = "triad.scope";
/// The `NodeProto.metadata_props` key naming the IR op a standard op stands for.
pub const OP_KEY: &str = "triad.op";
/// The `ValueInfoProto.metadata_props` key holding an input's kind.
pub const KIND_KEY: &str = "triad.kind";
/// The [`KIND_KEY`] value of a KV-cache input.
pub const KV_CACHE: &str = "kv_cache";

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: Some(key.into()),
        value: Some(value.into()),
    }
}

fn get<'a>(props: &'a [StringStringEntryProto], key: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|e| e.key.as_deref() == Some(key))
        .and_then(|e| e.value.as_deref())
}

/// The metadata of an exported node: its `scope` (none when empty) and, for a
/// `KvAppend`, the op it stands for.
pub(super) fn node_entries(scope: &str, op: &Op) -> Vec<StringStringEntryProto> {
    let mut out = Vec::new();
    if !scope.is_empty() {
        out.push(entry(SCOPE_KEY, scope));
    }
    if matches!(op, Op::KvAppend { .. }) {
        out.push(entry(OP_KEY, op.name()));
    }
    out
}

/// The metadata of an exported graph input of kind `kind`.
pub(super) fn input_entries(kind: InputKind) -> Vec<StringStringEntryProto> {
    match kind {
        InputKind::KvCache => vec![entry(KIND_KEY, KV_CACHE)],
        InputKind::Data => Vec::new(),
    }
}

/// The kind of a graph input: a KV cache if its metadata says so.
pub(super) fn input_kind(vi: &ValueInfoProto) -> InputKind {
    match get(&vi.metadata_props, KIND_KEY) {
        Some(KV_CACHE) => InputKind::KvCache,
        _ => InputKind::Data,
    }
}

/// Run `map` (the mapping of ONNX node `node`) with the IR nodes it adds in the
/// node's scope (nodes added afterwards are unscoped again); a `Concat` marked as a
/// `KvAppend` becomes one.
pub(super) fn scoped(
    b: &mut Builder,
    node: &NodeProto,
    map: impl FnOnce(&mut Builder) -> Result<Vec<Val>>,
) -> Result<Vec<Val>> {
    b.g.set_scope(get(&node.metadata_props, SCOPE_KEY).unwrap_or(""));
    let out = map(b);
    b.g.set_scope("");
    let out = out?;
    let kv_append = get(&node.metadata_props, OP_KEY) == Some(OpKind::KvAppend.info().name)
        && node.op_type.as_deref() == Some("Concat")
        && node.input.len() == 2;
    if let (true, [Val::Node { v, shift: 0 }]) = (kv_append, out.as_slice()) {
        let (op, _) = b.g.node_mut(v.node);
        if let Op::Concat { axis } = *op {
            *op = Op::KvAppend { axis };
        }
    }
    Ok(out)
}
