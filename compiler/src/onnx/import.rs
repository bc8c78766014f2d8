//! The ONNX import driver: model checks, graph inputs with bound dims, initializers,
//! the unsupported-op census, node ordering, dispatch to the op mappers and outputs.
//!
//! Failure modes (all typed, none panic): malformed protobuf ([`Error::Format`]),
//! unsupported IR version or opset ([`Error::Format`]), every unsupported op at once
//! ([`Error::UnsupportedOps`]), an unbound dynamic dim ([`Error::UnboundDim`]), an
//! undefined value name ([`Error::Dangling`]), a cycle ([`Error::Cycle`]), a
//! declared output type that differs from the computed one ([`Error::Declared`]).
//!
//! Decoder exports: inputs named `past_key_values.*` are KV-cache inputs (see
//! [`KV_CACHE_PREFIXES`]); a symbolic dim written as a sum (`past_sequence + 1`) is
//! bound from its terms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::rc::Rc;

use prost::Message;

use super::fold::{Builder, Const, ImportStats, Val};
use super::ops::{self, NodeIn};
use super::proto::{
    GraphProto, ModelProto, ValueInfoProto, tensor_shape_proto::dimension, type_proto,
};
use super::tensor::{decode, elem_of};
use crate::data::TensorType;
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, Value, ValueRef};
use crate::interp::Tensor;
use crate::op::{InputKind, Op};
use triad_isa::DType;

/// What to bind at import time besides the model itself.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Values of the symbolic input dims (`batch`, `sequence`, …); an unnamed dynamic
    /// dim is bound by `{input}.{position}`.
    pub dims: BTreeMap<String, usize>,
    /// Graph inputs whose values are fixed now: they become constants and fold
    /// (e.g. the `axes` or `shape` operands that conformance models take as inputs).
    /// Unsigned 8/4-bit inputs are given as i32 holding the real values.
    pub fixed: BTreeMap<String, Tensor>,
}

/// Oldest and newest ONNX IR versions accepted (IR 7 = ONNX 1.8, IR 10 = ONNX 1.16,
/// IR 14 = the default of ONNX 1.23's `onnx.helper`). IR 11-14 only added element
/// types (float4/6/8 variants, 2-bit integers; rejected as unsupported dtypes where
/// they occur) and opaque types; no feature of them is needed by the ops here. A
/// newer IR version is refused with the newest one supported named.
pub const IR_VERSIONS: std::ops::RangeInclusive<i64> = 3..=14;
/// Oldest and newest default-domain opsets accepted. Ops are mapped with their
/// opset 13-21 semantics (versions 22-25 of these ops only added element types,
/// which are rejected as unsupported dtypes); older files use the attribute forms
/// (`axes`, `split`, Slice's attributes, Softmax's 2-D coercion) handled too.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=25;

/// Decode and import a serialised model. `origin` names the model in messages;
/// `base` is the directory external data is resolved against.
pub(crate) fn import_bytes(
    bytes: &[u8],
    origin: &Path,
    base: Option<&Path>,
    opts: &ImportOptions,
) -> Result<(Graph, ImportStats)> {
    let model = ModelProto::decode(bytes).map_err(|e| Error::Format {
        file: origin.to_path_buf(),
        reason: format!("not a valid ONNX protobuf: {e}"),
    })?;
    import_model(&model, origin, base, opts)
}

/// [`import_bytes`] from an owned buffer: `raw_data` payloads are slices of `buf`.
pub(crate) fn import_buf(
    buf: prost::bytes::Bytes,
    origin: &Path,
    base: Option<&Path>,
    opts: &ImportOptions,
) -> Result<(Graph, ImportStats)> {
    let model = ModelProto::decode(buf).map_err(|e| Error::Format {
        file: origin.to_path_buf(),
        reason: format!("not a valid ONNX protobuf: {e}"),
    })?;
    import_model(&model, origin, base, opts)
}

fn fmt_err(origin: &Path, reason: String) -> Error {
    Error::Format {
        file: origin.to_path_buf(),
        reason,
    }
}

fn import_model(
    model: &ModelProto,
    origin: &Path,
    base: Option<&Path>,
    opts: &ImportOptions,
) -> Result<(Graph, ImportStats)> {
    let ir = model.ir_version.unwrap_or(0);
    if ir > *IR_VERSIONS.end() {
        return Err(fmt_err(
            origin,
            format!(
                "ONNX IR version {ir} is newer than this importer supports (newest: {}); \
                 re-save the model with an older `onnx` package or a lower ir_version",
                IR_VERSIONS.end()
            ),
        ));
    }
    if !IR_VERSIONS.contains(&ir) {
        return Err(fmt_err(
            origin,
            format!("ONNX IR version {ir} is not supported (expected {IR_VERSIONS:?})"),
        ));
    }
    let mut opsets = BTreeMap::new();
    for o in &model.opset_import {
        let d = o.domain.clone().unwrap_or_default();
        let d = if d == "ai.onnx" { String::new() } else { d };
        opsets.insert(d, o.version.unwrap_or(0));
    }
    let opset = *opsets.get("").unwrap_or(&0);
    if !OPSETS.contains(&opset) {
        return Err(fmt_err(
            origin,
            format!("default-domain opset {opset} is not supported (expected {OPSETS:?})"),
        ));
    }
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| fmt_err(origin, "the model has no graph".into()))?;
    census(graph, origin)?;
    let name = graph
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "onnx".into());
    let mut reserved = BTreeSet::new();
    for n in &graph.node {
        reserved.extend(n.output.iter().cloned());
        reserved.extend(n.name.iter().cloned());
    }
    for v in graph.input.iter().chain(&graph.output) {
        reserved.extend(v.name.iter().cloned());
    }
    let mut b = Builder::new(&name, reserved);
    b.g.meta.insert("source".into(), "onnx".into());
    b.g.meta.insert("onnx.opset".into(), opset.to_string());
    if let Some(p) = &model.producer_name {
        b.g.meta.insert("onnx.producer".into(), p.clone());
    }
    let mut env: BTreeMap<String, Val> = BTreeMap::new();
    for t in &graph.initializer {
        let d = decode(t, base)?;
        let n = t.name.clone().unwrap_or_default();
        // Parameters are the initializers a model learns: not scalars (scales of
        // activations, epsilons, GELU coefficients) and not index tensors.
        let param = d.ty.elems() > 1 && !matches!(d.ty.dtype, DType::I64 | DType::Bool);
        env.insert(
            n.clone(),
            Val::Const(Rc::new(Const {
                name: n,
                ty: d.ty,
                data: Rc::new(d.data),
                shift: d.shift,
                param,
            })),
        );
    }
    for vi in &graph.input {
        let n = vi.name.clone().unwrap_or_default();
        if env.contains_key(&n) {
            continue; // an initializer also listed as an input (IR < 4 style)
        }
        if let Some(t) = opts.fixed.get(&n) {
            let elem = input_elem(vi)?;
            let dtype = if elem.shift != 0 {
                DType::I32
            } else {
                elem.dtype
            };
            let ty = TensorType::new(dtype, t.shape().to_vec());
            let data = super::npy::convert(t, &ty, &n)?.to_data();
            env.insert(
                n.clone(),
                Val::Const(Rc::new(Const {
                    name: n,
                    ty,
                    data: Rc::new(data),
                    shift: 0,
                    param: false,
                })),
            );
            continue;
        }
        let (ty, shift) = input_type(vi, &opts.dims)?;
        // Unsigned 8/4-bit inputs are fed as i32 holding the real values.
        let ty = if shift != 0 {
            TensorType::new(DType::I32, ty.shape)
        } else {
            ty
        };
        // By name (`past_key_values.*`, as exporters write) or by Triad's own mark.
        let kind = if is_kv_cache_name(&n) {
            InputKind::KvCache
        } else {
            super::scope::input_kind(vi)
        };
        let r = b.g.insert_node(
            &n,
            Op::Input { kind },
            Vec::new(),
            vec![Value {
                name: n.clone(),
                ty,
            }],
        )?[0];
        env.insert(n, Val::node(r));
    }
    for idx in order(graph, &env)? {
        let proto = &graph.node[idx];
        let node = node_name(proto, idx);
        let domain = proto.domain.clone().unwrap_or_default();
        let domain = if domain == "ai.onnx" {
            String::new()
        } else {
            domain
        };
        let mut ins = Vec::with_capacity(proto.input.len());
        for (slot, i) in proto.input.iter().enumerate() {
            if i.is_empty() {
                ins.push(None);
                continue;
            }
            let v = env.get(i).ok_or_else(|| Error::Dangling {
                node: node.clone(),
                slot,
                value: i.clone(),
            })?;
            ins.push(Some(v.clone()));
        }
        let n = NodeIn {
            name: node.clone(),
            proto,
            opset: *opsets.get(&domain).unwrap_or(&opset),
            ins,
        };
        let outs = super::scope::scoped(&mut b, proto, |b| ops::map_node(b, &n))?;
        for (i, o) in proto.output.iter().enumerate() {
            if let (false, Some(v)) = (o.is_empty(), outs.get(i)) {
                env.insert(o.clone(), v.clone());
            }
        }
    }
    let mut outputs = Vec::new();
    for vi in &graph.output {
        let n = vi.name.clone().unwrap_or_default();
        let v = env.get(&n).ok_or_else(|| Error::Output {
            name: n.clone(),
            reason: "no node or initializer produces it".into(),
        })?;
        let v = b.plain(&n, &v.clone())?;
        let mut r = b.materialise(&v)?;
        if b.g.value_info(r).name != n {
            // An output that aliases another value (Identity): give it its own name.
            let shape = b.g.ty(r).shape.iter().map(|&d| d as i64).collect();
            let out = b.emit1(&n, &n, Op::Reshape { shape }, &[Val::node(r)])?;
            r = b.materialise(&out)?;
        }
        check_declared(vi, b.g.ty(r), &n)?;
        outputs.push(r);
    }
    b.g.set_outputs(&outputs);
    let g = prune(b.g)?;
    g.validate()?;
    let stats = b.stats.clone();
    Ok((g, stats))
}

/// Drop nodes that no graph output depends on (graph inputs stay): the reshapes of
/// routing weights that MoE recognition (`ops::moe`) replaced leave such nodes. A
/// graph without any is returned as it is; otherwise the live nodes are moved, in
/// topological order, into a new graph (ops are moved, not copied).
fn prune(mut g: Graph) -> Result<Graph> {
    let mut live = BTreeSet::new();
    let mut stack: Vec<NodeId> = g.outputs().iter().map(|v| v.node).collect();
    stack.extend(g.inputs());
    while let Some(id) = stack.pop() {
        if live.insert(id) {
            stack.extend(g.node(id).inputs.iter().map(|v| v.node));
        }
    }
    if live.len() == g.len() {
        return Ok(g);
    }
    let mut out = Graph::new(g.name.clone());
    out.meta = std::mem::take(&mut g.meta);
    let mut map: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    for id in g.topo_order()? {
        if !live.contains(&id) {
            continue;
        }
        let node = g.node(id);
        let (name, scope, outs) = (node.name.clone(), node.scope.clone(), node.outputs.clone());
        let ins: Vec<ValueRef> = node
            .inputs
            .iter()
            .map(|v| ValueRef {
                node: map[&v.node],
                port: v.port,
            })
            .collect();
        let op = std::mem::replace(g.node_mut(id).0, Op::Add);
        out.set_scope(scope);
        out.insert_node(&name, op, ins, outs)?;
        let new = out.node_by_name(&name).ok_or_else(|| Error::Dangling {
            node: name.clone(),
            slot: 0,
            value: name.clone(),
        })?;
        map.insert(id, new);
    }
    out.set_scope("");
    let outputs: Vec<ValueRef> = g
        .outputs()
        .iter()
        .map(|v| ValueRef {
            node: map[&v.node],
            port: v.port,
        })
        .collect();
    out.set_outputs(&outputs);
    Ok(out)
}

/// Prefixes of graph inputs that hold a decoder's KV cache: `past_key_values.{i}.key`
/// / `.value` (transformers, Optimum, ONNX Runtime GenAI). Such inputs are imported
/// as [`InputKind::KvCache`], and a `Concat` that appends to one is a `KvAppend`.
pub const KV_CACHE_PREFIXES: &[&str] = &["past_key_values.", "past_key_values_"];

fn is_kv_cache_name(name: &str) -> bool {
    KV_CACHE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The value of a symbolic dim: bound directly, or a sum of bound dims and integers
/// (`past_sequence_length + 1`, `past_sequence + sequence`, as Optimum and transformers
/// name a decoder's total length). `None` when a term is unbound.
fn dim_value(p: &str, dims: &BTreeMap<String, usize>) -> Option<usize> {
    if let Some(&v) = dims.get(p) {
        return Some(v);
    }
    if !p.contains('+') {
        return None;
    }
    p.split('+').try_fold(0usize, |acc, t| {
        let t = t.trim();
        let v = match t.parse::<usize>() {
            Ok(v) => v,
            Err(_) => *dims.get(t)?,
        };
        acc.checked_add(v)
    })
}

/// The node's name, or `{op_type}_{index}` when it has none.
fn node_name(p: &super::proto::NodeProto, idx: usize) -> String {
    match p.name.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("{}_{idx}", p.op_type.as_deref().unwrap_or("node")),
    }
}

/// Every unsupported op type with its count and first node, in one error.
fn census(graph: &GraphProto, origin: &Path) -> Result<()> {
    let mut bad: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        let domain = n.domain.clone().unwrap_or_default();
        let op = n.op_type.clone().unwrap_or_default();
        if !ops::supported(&domain, &op) {
            let key = if domain.is_empty() || domain == "ai.onnx" {
                op
            } else {
                format!("{domain}.{op}")
            };
            bad.entry(key).or_insert((0, node_name(n, i))).0 += 1;
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let list = bad
        .iter()
        .map(|(op, (count, first))| format!("{op} x{count} (first node `{first}`)"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::UnsupportedOps {
        file: origin.to_path_buf(),
        list,
    })
}

/// Node indices in a topological order (file order among ready nodes).
fn order(graph: &GraphProto, env: &BTreeMap<String, Val>) -> Result<Vec<usize>> {
    let mut producer: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if env.contains_key(o) || producer.insert(o, i).is_some() {
                return Err(Error::Duplicate {
                    what: "value",
                    name: o.clone(),
                });
            }
        }
    }
    let mut deps: Vec<BTreeSet<usize>> = Vec::with_capacity(graph.node.len());
    for (i, n) in graph.node.iter().enumerate() {
        let mut d = BTreeSet::new();
        for (slot, inp) in n.input.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            match producer.get(inp.as_str()) {
                Some(&p) => {
                    d.insert(p);
                }
                None if env.contains_key(inp) => {}
                None => {
                    return Err(Error::Dangling {
                        node: node_name(n, i),
                        slot,
                        value: inp.clone(),
                    });
                }
            }
        }
        deps.push(d);
    }
    let mut done = vec![false; deps.len()];
    let mut out = Vec::with_capacity(deps.len());
    // Repeated sweeps keep file order for already-sorted files (one sweep).
    loop {
        let before = out.len();
        for i in 0..deps.len() {
            if !done[i] && deps[i].iter().all(|&d| done[d]) {
                done[i] = true;
                out.push(i);
            }
        }
        if out.len() == deps.len() {
            return Ok(out);
        }
        if out.len() == before {
            let i = (0..deps.len()).find(|&i| !done[i]).unwrap_or(0);
            return Err(Error::Cycle {
                node: node_name(&graph.node[i], i),
            });
        }
    }
}

/// The element type of a graph input.
fn input_elem(vi: &ValueInfoProto) -> Result<super::tensor::Elem> {
    let n = vi.name.clone().unwrap_or_default();
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(Error::Type {
            node: n,
            op: "Input",
            reason: "only tensor inputs are supported".into(),
        });
    };
    elem_of(t.elem_type.unwrap_or(0)).map_err(|reason| Error::Type {
        node: n,
        op: "Input",
        reason,
    })
}

/// The IR type of a graph input, binding symbolic dims from `dims`.
fn input_type(vi: &ValueInfoProto, dims: &BTreeMap<String, usize>) -> Result<(TensorType, i64)> {
    let n = vi.name.clone().unwrap_or_default();
    let bad = |reason: String| Error::Type {
        node: n.clone(),
        op: "Input",
        reason,
    };
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(bad("only tensor inputs are supported".into()));
    };
    let elem = elem_of(t.elem_type.unwrap_or(0)).map_err(bad)?;
    let shape = t
        .shape
        .as_ref()
        .ok_or_else(|| bad("the input has no shape".into()))?;
    let mut out = Vec::with_capacity(shape.dim.len());
    for (i, d) in shape.dim.iter().enumerate() {
        let v = match &d.value {
            Some(dimension::Value::DimValue(v)) if *v >= 0 => *v as usize,
            Some(dimension::Value::DimParam(p)) => {
                dim_value(p, dims).ok_or_else(|| Error::UnboundDim {
                    input: n.clone(),
                    dim: p.clone(),
                })?
            }
            _ => {
                let key = format!("{n}.{i}");
                *dims.get(&key).ok_or(Error::UnboundDim {
                    input: n.clone(),
                    dim: key,
                })?
            }
        };
        out.push(v);
    }
    super::tensor::check_elems(&n, &out)?;
    Ok((TensorType::new(elem.dtype, out), elem.shift))
}

/// Check a graph output's declared element type and static dims against the graph.
fn check_declared(vi: &ValueInfoProto, got: &TensorType, name: &str) -> Result<()> {
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Ok(());
    };
    let declared_elem = t.elem_type.and_then(|c| elem_of(c).ok());
    let elem_ok = declared_elem.is_none_or(|e| e.dtype == got.dtype || e.shift != 0);
    let dims_ok = t.shape.as_ref().is_none_or(|s| {
        s.dim.len() == got.rank()
            && s.dim.iter().zip(&got.shape).all(|(d, &g)| match d.value {
                Some(dimension::Value::DimValue(v)) => v == g as i64,
                _ => true,
            })
    });
    if elem_ok && dims_ok {
        return Ok(());
    }
    let dims: Vec<String> = t
        .shape
        .iter()
        .flat_map(|s| &s.dim)
        .map(|d| match &d.value {
            Some(dimension::Value::DimValue(v)) => v.to_string(),
            Some(dimension::Value::DimParam(p)) => p.clone(),
            None => "?".into(),
        })
        .collect();
    Err(Error::Declared {
        node: name.to_string(),
        index: 0,
        declared: format!(
            "{}[{}]",
            declared_elem.map_or("?".to_string(), |e| e.dtype.to_string()),
            dims.join(",")
        ),
        inferred: got.to_string(),
    })
}
