//! ONNX export: an IR graph as an opset-21 model of standard ONNX ops that ONNX
//! Runtime runs, `onnx.checker` accepts and this frontend imports back with the same
//! statistics where the ops allow (see below).
//!
//! Most ops map one to one: the op table marks the ones written as the standard op of
//! the same name with no attributes ([`Export::Direct`]); every other kind has an arm
//! below. IR-only ops are decomposed: `Silu` -> `x * Sigmoid(x)`,
//! `Gelu` -> its erf or tanh formula, `RmsNorm` -> `x / sqrt(mean(x^2) + eps) * gamma`,
//! `QMatMul` -> `DequantizeLinear(int8/int4 W, scale, zp)` [+ `Cast`] then `MatMul`
//! (the weight-only idiom the importer turns back into a `QMatMul`), `Quantize` ->
//! [`Cast` to f32 +] `QuantizeLinear` with an int8 zero point, `Rope` -> slices,
//! precomputed cos/sin tables and `Concat` (positions must be constants, as the zoo's
//! are), `CausalMask` -> `Where` with a constant mask, `KvAppend` -> `Concat`, `Cast`
//! float->int -> `Round` + `Cast` (the IR rounds, ONNX truncates),
//! bf16 `TopK` -> f32 `TopK` between casts (no bf16 TopK before opset 24),
//! `MoeDispatch`/`MoeCombine` -> 0/1 selection matrices built from the expert indices
//! (`Equal`, a cumulative sum as a matmul by a triangular constant, `Less` for the
//! capacity) and `MatMul`s, computed in f32 and cast to the activation dtype.
//!
//! Every node carries its IR node's scope as node metadata (IR version 10), KV-cache
//! inputs and `KvAppend`s are marked too, and the importer reads them back (see
//! `scope`), so per-block statistics and KV traffic survive a round trip.
//! What a round trip still changes in the statistics: the Rope cos/sin tables become
//! constants (their FLOPs vanish, their bytes are read), the MoE routing becomes
//! the arithmetic above, and `QuantizeLinear`'s explicit zero point counts one FLOP
//! per element (ONNX needs it to make int8).
//!
//! bf16 graphs export as bf16: valid ONNX, but ONNX Runtime's CPU build has no
//! bfloat16 kernels for `Add`, `MatMul` and most ops, so only other builds run them.
//! Not exportable (an [`Error::Format`] naming the node): `Rope` with run-time
//! positions, quantisation to i4/i32.

use prost::Message;
use triad_isa::DType;

use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType as At,
    tensor_shape_proto, type_proto,
};
use super::tensor::{code_of, encode};
use crate::data::{Data, Init, TensorType};
use crate::error::{Error, Result};
use crate::graph::{Graph, ValueRef};
use crate::op::{Export, Op, ReduceKind};

/// The default-domain opset written: 21, the first with int4 tensors (i4 weights
/// keep their size) and float16 `QuantizeLinear`.
pub const EXPORT_OPSET: i64 = 21;
/// The ONNX IR version written: 10 (ONNX 1.16, ONNX Runtime 1.17), the first with
/// node metadata, which carries the scopes ([`super::scope`]).
const EXPORT_IR: i64 = 10;

/// An ONNX graph under construction.
struct Ex {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    k: usize,
    /// Metadata of the IR node being exported (its scope, its op if it is a
    /// `KvAppend`), recorded on every ONNX node made for it.
    meta: Vec<StringStringEntryProto>,
}

fn attr(name: &str, f: impl FnOnce(&mut AttributeProto)) -> AttributeProto {
    let mut a = AttributeProto {
        name: Some(name.into()),
        ..AttributeProto::default()
    };
    f(&mut a);
    a
}
fn a_int(name: &str, v: i64) -> AttributeProto {
    attr(name, |a| {
        a.r#type = Some(At::Int as i32);
        a.i = Some(v);
    })
}
fn a_ints(name: &str, v: Vec<i64>) -> AttributeProto {
    attr(name, |a| {
        a.r#type = Some(At::Ints as i32);
        a.ints = v;
    })
}
fn a_float(name: &str, v: f32) -> AttributeProto {
    attr(name, |a| {
        a.r#type = Some(At::Float as i32);
        a.f = Some(v);
    })
}

impl Ex {
    fn fresh(&mut self, base: &str) -> String {
        self.k += 1;
        format!("{base}/x{}", self.k)
    }

    fn node(
        &mut self,
        op: &str,
        name: &str,
        ins: &[&str],
        outs: &[&str],
        attrs: Vec<AttributeProto>,
    ) {
        let name = self.fresh(name);
        self.nodes.push(NodeProto {
            op_type: Some(op.into()),
            name: Some(name),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: outs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            metadata_props: self.meta.clone(),
            ..NodeProto::default()
        });
    }

    /// A new value computed by `op`.
    fn op(&mut self, op: &str, name: &str, ins: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(name);
        self.node(op, name, ins, &[&out], attrs);
        out
    }

    fn init(&mut self, name: &str, ty: &TensorType, data: &Data) -> String {
        let n = self.fresh(name);
        self.inits.push(encode(&n, ty, data, 0));
        n
    }

    fn ints(&mut self, name: &str, v: &[i64]) -> String {
        self.init(
            name,
            &TensorType::new(DType::I64, [v.len()]),
            &Data::I64(v.to_vec()),
        )
    }

    fn scalar(&mut self, name: &str, dtype: DType, x: f32) -> String {
        self.init(
            name,
            &TensorType::new(dtype, []),
            &Data::F32(vec![crate::data::round_to(dtype, x)]),
        )
    }
}

fn value_info(name: &str, ty: &TensorType) -> ValueInfoProto {
    let dims = ty
        .shape
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(code_of(ty.dtype, 0)),
                shape: Some(TensorShapeProto { dim: dims }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

/// Serialise `graph` as an ONNX model (opset [`EXPORT_OPSET`]).
pub fn export_bytes(graph: &Graph) -> Result<Vec<u8>> {
    graph.validate()?;
    let mut ex = Ex {
        nodes: Vec::new(),
        inits: Vec::new(),
        k: 0,
        meta: Vec::new(),
    };
    let mut inputs = Vec::new();
    for id in graph.topo_order()? {
        let n = graph.node(id);
        let name = |v: &ValueRef| graph.value_info(*v).name.clone();
        let ins: Vec<String> = n.inputs.iter().map(name).collect();
        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
        let outs: Vec<&str> = n.outputs.iter().map(|o| o.name.as_str()).collect();
        let ty = |i: usize| graph.ty(n.inputs[i]).clone();
        let out_ty = n.outputs[0].ty.clone();
        let unsupported = |what: &str| Error::Format {
            file: "<onnx export>".into(),
            reason: format!(
                "node `{}` ({}): {what} cannot be exported",
                n.name,
                n.op.name()
            ),
        };
        let nm = n.name.as_str();
        ex.meta = super::scope::node_entries(&n.scope, &n.op);
        match &n.op {
            Op::Input { kind } => inputs.push(ValueInfoProto {
                metadata_props: super::scope::input_entries(*kind),
                ..value_info(outs[0], &out_ty)
            }),
            Op::Weight { init } | Op::Constant { init } => {
                // Rope positions are baked into its cos/sin tables.
                let me = ValueRef { node: id, port: 0 };
                let only_rope = graph
                    .consumers(me)
                    .iter()
                    .all(|&(c, slot)| slot == 1 && matches!(graph.node(c).op, Op::Rope { .. }));
                if only_rope && !graph.outputs().contains(&me) && !graph.consumers(me).is_empty() {
                    continue;
                }
                let data = match init {
                    Init::Data(d) => d.clone(),
                    u => u.materialise(out_ty.dtype, out_ty.elems() as usize),
                };
                ex.inits.push(encode(outs[0], &out_ty, &data, 0));
            }
            Op::MatMul if ty(0).dtype.is_int() => ex.node("MatMulInteger", nm, &ins, &outs, vec![]),
            op if op.info().export == Export::Direct || matches!(op, Op::MatMul) => {
                ex.node(op.name(), nm, &ins, &outs, vec![])
            }
            Op::Gemm {
                alpha,
                beta,
                trans_a,
                trans_b,
            } => {
                let attrs = vec![
                    a_float("alpha", *alpha),
                    a_float("beta", *beta),
                    a_int("transA", *trans_a as i64),
                    a_int("transB", *trans_b as i64),
                ];
                ex.node("Gemm", nm, &ins, &outs, attrs);
            }
            Op::Silu => {
                let s = ex.op("Sigmoid", nm, &ins, vec![]);
                ex.node("Mul", nm, &[ins[0], &s], &outs, vec![]);
            }
            Op::Gelu { tanh_approx } => {
                gelu(&mut ex, nm, ins[0], outs[0], out_ty.dtype, *tanh_approx)
            }
            Op::Cast { to } => {
                let src = if ty(0).dtype.is_float() && to.is_int() {
                    ex.op("Round", nm, &ins, vec![])
                } else {
                    ins[0].to_string()
                };
                ex.node(
                    "Cast",
                    nm,
                    &[&src],
                    &outs,
                    vec![a_int("to", code_of(*to, 0) as i64)],
                );
            }
            Op::Softmax { axis } => ex.node("Softmax", nm, &ins, &outs, vec![a_int("axis", *axis)]),
            Op::LayerNorm { axis, eps } => {
                let attrs = vec![a_int("axis", *axis), a_float("epsilon", *eps)];
                ex.node("LayerNormalization", nm, &ins, &outs, attrs);
            }
            Op::RmsNorm { axis, eps } => {
                let rank = ty(0).rank() as i64;
                let a = if *axis < 0 { axis + rank } else { *axis };
                let sq = ex.op("Mul", nm, &[ins[0], ins[0]], vec![]);
                let axes = ex.ints(nm, &(a..rank).collect::<Vec<_>>());
                let ms = ex.op("ReduceMean", nm, &[&sq, &axes], vec![a_int("keepdims", 1)]);
                let e = ex.scalar(nm, out_ty.dtype, *eps);
                let v = ex.op("Add", nm, &[&ms, &e], vec![]);
                let r = ex.op("Sqrt", nm, &[&v], vec![]);
                let x = ex.op("Div", nm, &[ins[0], &r], vec![]);
                ex.node("Mul", nm, &[&x, ins[1]], &outs, vec![]);
            }
            Op::QMatMul => {
                // DequantizeLinear(W, scale, zp) along the output columns, then MatMul:
                // the weight-only idiom the importer turns back into a QMatMul.
                let mut dq = vec![ins[1], ins[2]];
                dq.extend(ins.get(3).copied());
                let axis = vec![a_int("axis", if ty(2).rank() == 1 { 1 } else { 0 })];
                let mut w = ex.op("DequantizeLinear", nm, &dq, axis);
                if out_ty.dtype != DType::F32 {
                    w = ex.op(
                        "Cast",
                        nm,
                        &[&w],
                        vec![a_int("to", code_of(out_ty.dtype, 0) as i64)],
                    );
                }
                ex.node("MatMul", nm, &[ins[0], &w], &outs, vec![]);
            }
            Op::Rope { theta, rotary_dim } => {
                let pos_node = graph.node(n.inputs[1].node);
                let positions = match &pos_node.op {
                    Op::Constant { init } | Op::Weight { init } => {
                        match init.materialise(DType::I64, ty(1).elems() as usize) {
                            Data::I64(v) => v,
                            _ => return Err(unsupported("Rope with non-integer positions")),
                        }
                    }
                    _ => return Err(unsupported("Rope with run-time positions")),
                };
                rope(
                    &mut ex,
                    nm,
                    (ins[0], outs[0]),
                    &ty(0),
                    &positions,
                    (*theta, *rotary_dim),
                );
            }
            Op::CausalMask => {
                let t = ty(0);
                let (sq, sk) = (t.shape[t.rank() - 2], t.shape[t.rank() - 1]);
                let mask = (0..sq * sk).map(|p| p % sk > sk - sq + p / sk).collect();
                let m = ex.init(
                    nm,
                    &TensorType::new(DType::Bool, [sq, sk]),
                    &Data::Bool(mask),
                );
                let inf = ex.scalar(nm, t.dtype, f32::NEG_INFINITY);
                ex.node("Where", nm, &[&m, &inf, ins[0]], &outs, vec![]);
            }
            Op::Transpose { perm } => {
                let attrs = if perm.is_empty() {
                    vec![]
                } else {
                    vec![a_ints("perm", perm.iter().map(|&p| p as i64).collect())]
                };
                ex.node("Transpose", nm, &ins, &outs, attrs);
            }
            Op::Reshape { shape } => {
                let s = ex.ints(nm, shape);
                ex.node("Reshape", nm, &[ins[0], &s], &outs, vec![]);
            }
            Op::Concat { axis } | Op::KvAppend { axis } => {
                ex.node("Concat", nm, &ins, &outs, vec![a_int("axis", *axis)]);
            }
            Op::Split { axis, sizes } => {
                let s = ex.ints(nm, &sizes.iter().map(|&x| x as i64).collect::<Vec<_>>());
                ex.node(
                    "Split",
                    nm,
                    &[ins[0], &s],
                    &outs,
                    vec![a_int("axis", *axis)],
                );
            }
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                let axes: Vec<i64> = if axes.is_empty() {
                    (0..starts.len() as i64).collect()
                } else {
                    axes.clone()
                };
                let steps: Vec<i64> = if steps.is_empty() {
                    vec![1; starts.len()]
                } else {
                    steps.clone()
                };
                let (s, e, a, st) = (
                    ex.ints(nm, starts),
                    ex.ints(nm, ends),
                    ex.ints(nm, &axes),
                    ex.ints(nm, &steps),
                );
                ex.node("Slice", nm, &[ins[0], &s, &e, &a, &st], &outs, vec![]);
            }
            Op::Gather { axis } => ex.node("Gather", nm, &ins, &outs, vec![a_int("axis", *axis)]),
            Op::Reduce {
                kind,
                axes,
                keepdims,
            } => {
                // Opset 18+: the axes are an input (none: every axis).
                let k = a_int("keepdims", *keepdims as i64);
                let op = match kind {
                    ReduceKind::Sum => "ReduceSum",
                    ReduceKind::Mean => "ReduceMean",
                    ReduceKind::Max => "ReduceMax",
                };
                if axes.is_empty() {
                    ex.node(op, nm, &ins, &outs, vec![k]);
                } else {
                    let a = ex.ints(nm, axes);
                    ex.node(op, nm, &[ins[0], &a], &outs, vec![k]);
                }
            }
            Op::Quantize { to, axis } => {
                if *to != DType::I8 {
                    return Err(unsupported("quantisation to a type other than i8"));
                }
                let zp = match ins.get(2) {
                    Some(z) => z.to_string(),
                    None => ex.init(nm, &TensorType::new(DType::I8, []), &Data::I64(vec![0])),
                };
                // Opset 17's QuantizeLinear takes f32 (or i32) data and f32 scales.
                let x = cast_to(&mut ex, nm, ins[0], ty(0).dtype, DType::F32);
                let s = cast_to(&mut ex, nm, ins[1], ty(1).dtype, DType::F32);
                ex.node(
                    "QuantizeLinear",
                    nm,
                    &[&x, &s, &zp],
                    &outs,
                    vec![a_int("axis", *axis)],
                );
            }
            Op::Dequantize { to, axis } => {
                let f = if *to == DType::F32 {
                    outs[0].to_string()
                } else {
                    ex.fresh(nm)
                };
                ex.node(
                    "DequantizeLinear",
                    nm,
                    &ins,
                    &[&f],
                    vec![a_int("axis", *axis)],
                );
                if *to != DType::F32 {
                    ex.node(
                        "Cast",
                        nm,
                        &[&f],
                        &outs,
                        vec![a_int("to", code_of(*to, 0) as i64)],
                    );
                }
            }
            Op::TopK { k, axis } => {
                let kk = ex.ints(nm, &[*k as i64]);
                let axis = vec![a_int("axis", *axis)];
                if ty(0).dtype == DType::BF16 {
                    // Opset 21's TopK has no bfloat16: select in f32 (exact, same
                    // order and ties), cast the values back.
                    let x = cast_to(&mut ex, nm, ins[0], DType::BF16, DType::F32);
                    let v = ex.fresh(nm);
                    ex.node("TopK", nm, &[&x, &kk], &[&v, outs[1]], axis);
                    let to = vec![a_int("to", code_of(DType::BF16, 0) as i64)];
                    ex.node("Cast", nm, &[&v], &[outs[0]], to);
                } else {
                    ex.node("TopK", nm, &[ins[0], &kk], &outs, axis);
                }
            }
            Op::MoeDispatch { expert, capacity } => {
                let (t, x_dtype) = (ty(0).shape[0], ty(0).dtype);
                let (d, _) = moe_route(&mut ex, nm, ins[1], ty(1).dtype, t, *expert, *capacity);
                let d = cast_to(&mut ex, nm, &d, DType::F32, x_dtype);
                ex.node("MatMul", nm, &[&d, ins[0]], &outs, vec![]);
            }
            Op::MoeCombine { experts, capacity } => {
                let t = ty(0).shape[0];
                let dtype = out_ty.dtype;
                let w = cast_to(&mut ex, nm, ins[1], ty(1).dtype, DType::F32);
                let mut acc: Option<String> = None;
                for e in 0..*experts {
                    let (d, eq) = moe_route(&mut ex, nm, ins[0], ty(0).dtype, t, e, *capacity);
                    // Gate weight of expert e per token: sum over choices that pick e.
                    let we = ex.op("Mul", nm, &[&w, &eq], vec![]);
                    let one = ex.ints(nm, &[1]);
                    let we = ex.op("ReduceSum", nm, &[&we, &one], vec![a_int("keepdims", 1)]);
                    let dt = ex.op("Transpose", nm, &[&d], vec![a_ints("perm", vec![1, 0])]);
                    let dt = cast_to(&mut ex, nm, &dt, DType::F32, dtype);
                    let rows = ex.op("MatMul", nm, &[&dt, ins[2 + e]], vec![]);
                    let we = cast_to(&mut ex, nm, &we, DType::F32, dtype);
                    let part = ex.op("Mul", nm, &[&rows, &we], vec![]);
                    acc = Some(match acc {
                        None => part,
                        Some(a) => ex.op("Add", nm, &[&a, &part], vec![]),
                    });
                }
                let acc = acc.ok_or_else(|| unsupported("MoeCombine without experts"))?;
                ex.node("Identity", nm, &[&acc], &outs, vec![]);
            }
            // Every other kind is `Export::Direct` in the op table; a `Rule` kind
            // without an arm above is a bug the `op_table` test catches.
            _ => return Err(unsupported("an op without an export rule")),
        }
    }
    let outputs = graph
        .outputs()
        .iter()
        .map(|v| value_info(&graph.value_info(*v).name, graph.ty(*v)))
        .collect();
    let model = ModelProto {
        ir_version: Some(EXPORT_IR),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(EXPORT_OPSET),
        }],
        producer_name: Some("triad".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(GraphProto {
            node: ex.nodes,
            name: Some(graph.name.clone()),
            initializer: ex.inits,
            input: inputs,
            output: outputs,
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    };
    Ok(model.encode_to_vec())
}

/// `x` (of dtype `from`) cast to `dtype` (no node when it already has it).
fn cast_to(ex: &mut Ex, nm: &str, x: &str, from: DType, dtype: DType) -> String {
    if dtype == from {
        return x.to_string();
    }
    ex.op(
        "Cast",
        nm,
        &[x],
        vec![a_int("to", code_of(dtype, 0) as i64)],
    )
}

/// The routing of `t` tokens to expert `e` as f32 tensors: the `[capacity, t]`
/// selection matrix `D` (`D[c, i]` = 1 when token i holds slot c) and the `[t, k]`
/// choice mask `eq` (choice j of token i is `e`). Slots are counted with a matmul by
/// a constant upper-triangular matrix of ones (a cumulative sum; exact in f32).
fn moe_route(
    ex: &mut Ex,
    nm: &str,
    idx: &str,
    idx_dtype: DType,
    t: usize,
    e: usize,
    capacity: usize,
) -> (String, String) {
    let ec = ex.init(
        nm,
        &TensorType::new(idx_dtype, []),
        &Data::I64(vec![e as i64]),
    );
    let eq = ex.op("Equal", nm, &[idx, &ec], vec![]);
    let eq = ex.op(
        "Cast",
        nm,
        &[&eq],
        vec![a_int("to", code_of(DType::F32, 0) as i64)],
    );
    let one = ex.ints(nm, &[1]);
    let routed = ex.op("ReduceMax", nm, &[&eq, &one], vec![a_int("keepdims", 0)]);
    let upper = (0..t * t)
        .map(|p| if p / t <= p % t { 1.0 } else { 0.0 })
        .collect();
    let u = ex.init(nm, &TensorType::new(DType::F32, [t, t]), &Data::F32(upper));
    let count = ex.op("MatMul", nm, &[&routed, &u], vec![]);
    let one = ex.scalar(nm, DType::F32, 1.0);
    let slot = ex.op("Sub", nm, &[&count, &one], vec![]);
    let cap = ex.scalar(nm, DType::F32, capacity as f32);
    let fits = ex.op("Less", nm, &[&slot, &cap], vec![]);
    let fits = ex.op(
        "Cast",
        nm,
        &[&fits],
        vec![a_int("to", code_of(DType::F32, 0) as i64)],
    );
    let keep = ex.op("Mul", nm, &[&routed, &fits], vec![]);
    let slots = (0..capacity).map(|c| c as f32).collect();
    let ar = ex.init(
        nm,
        &TensorType::new(DType::F32, [capacity, 1]),
        &Data::F32(slots),
    );
    let sel = ex.op("Equal", nm, &[&slot, &ar], vec![]);
    let sel = ex.op(
        "Cast",
        nm,
        &[&sel],
        vec![a_int("to", code_of(DType::F32, 0) as i64)],
    );
    let d = ex.op("Mul", nm, &[&sel, &keep], vec![]);
    (d, eq)
}

/// GELU by its formula (opset 17 has no Gelu op).
fn gelu(ex: &mut Ex, nm: &str, x: &str, out: &str, dtype: DType, tanh_approx: bool) {
    let half = ex.scalar(nm, dtype, 0.5);
    let one = ex.scalar(nm, dtype, 1.0);
    let inner = if tanh_approx {
        // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
        let c = ex.scalar(nm, dtype, 0.044715);
        let k = ex.scalar(nm, dtype, (2.0 / std::f64::consts::PI).sqrt() as f32);
        let x2 = ex.op("Mul", nm, &[x, x], vec![]);
        let x3 = ex.op("Mul", nm, &[&x2, x], vec![]);
        let cx3 = ex.op("Mul", nm, &[&x3, &c], vec![]);
        let s = ex.op("Add", nm, &[x, &cx3], vec![]);
        let ks = ex.op("Mul", nm, &[&s, &k], vec![]);
        ex.op("Tanh", nm, &[&ks], vec![])
    } else {
        let r = ex.scalar(nm, dtype, std::f32::consts::SQRT_2);
        let d = ex.op("Div", nm, &[x, &r], vec![]);
        ex.op("Erf", nm, &[&d], vec![])
    };
    let p = ex.op("Add", nm, &[&inner, &one], vec![]);
    let hx = ex.op("Mul", nm, &[x, &half], vec![]);
    ex.node("Mul", nm, &[&hx, &p], &[out], vec![]);
}

/// Rotate-half RoPE with constant cos/sin tables `[S, r/2]`.
fn rope(
    ex: &mut Ex,
    nm: &str,
    (x, out): (&str, &str),
    t: &TensorType,
    pos: &[i64],
    (theta, rotary_dim): (f32, usize),
) {
    let d = t.shape[t.rank() - 1];
    let r = if rotary_dim == 0 { d } else { rotary_dim };
    let h = r / 2;
    let s = pos.len();
    let mut cos = Vec::with_capacity(s * h);
    let mut sin = Vec::with_capacity(s * h);
    for &p in pos {
        for i in 0..h {
            let f = libm::pow(f64::from(theta), -2.0 * i as f64 / r as f64);
            let a = p as f64 * f;
            cos.push(libm::cos(a) as f32);
            sin.push(libm::sin(a) as f32);
        }
    }
    let tab = TensorType::new(t.dtype, [s, h]);
    let c = ex.init(nm, &tab, &Data::F32(cos));
    let sn = ex.init(nm, &tab, &Data::F32(sin));
    let slice = |ex: &mut Ex, lo: usize, hi: usize| {
        let (a, b, ax) = (
            ex.ints(nm, &[lo as i64]),
            ex.ints(nm, &[hi as i64]),
            ex.ints(nm, &[-1]),
        );
        ex.op("Slice", nm, &[x, &a, &b, &ax], vec![])
    };
    let x1 = slice(ex, 0, h);
    let x2 = slice(ex, h, r);
    let pass = (r < d).then(|| slice(ex, r, d));
    let x1c = ex.op("Mul", nm, &[&x1, &c], vec![]);
    let x2s = ex.op("Mul", nm, &[&x2, &sn], vec![]);
    let o1 = ex.op("Sub", nm, &[&x1c, &x2s], vec![]);
    let x2c = ex.op("Mul", nm, &[&x2, &c], vec![]);
    let x1s = ex.op("Mul", nm, &[&x1, &sn], vec![]);
    let o2 = ex.op("Add", nm, &[&x2c, &x1s], vec![]);
    let mut parts = vec![o1, o2];
    parts.extend(pass);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    ex.node("Concat", nm, &parts, &[out], vec![a_int("axis", -1)]);
}
