//! The op table: every op kind has every hook. For one sample application of each
//! kind (the `sample` match below is exhaustive, so a new row cannot skip it), the
//! name round-trips through graph JSON and e-graph op codes, the attribute names are
//! the JSON ones, shape inference accepts the table's operand counts and rejects one
//! fewer or one more, the interpreter evaluates it, statistics count it, and ONNX
//! export writes it (a `Direct` kind as the ONNX op of its name) in a form that
//! imports back to the same values; the refusals the export module documents are
//! typed errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use prost::Message;
use triad_compiler::egraph::OpCode;
use triad_compiler::onnx::{export_bytes, import_bytes, proto::ModelProto};
use triad_compiler::{
    Arity, Category, DType, Data, Error, Export, Graph, Init, InputKind, Op, OpKind, ReduceKind,
    TensorType, ValueRef, json, run, stats,
};

/// Largest difference allowed between the interpreter's results on a graph and on
/// its ONNX export imported back (the decompositions round differently).
const ROUND_TRIP_TOL: f64 = 1e-4;

fn t(dtype: DType, shape: &[usize]) -> TensorType {
    TensorType::new(dtype, shape.to_vec())
}

/// One application of `kind`: the op and its operand types.
fn sample(kind: OpKind) -> (Op, Vec<TensorType>) {
    use DType::{Bool, F32, I8, I64};
    let x = || t(F32, &[2, 3]);
    let row = || t(F32, &[3]);
    let binary = |op| (op, vec![x(), row()]);
    let unary = |op| (op, vec![x()]);
    let init = || Init::Data(Data::F32(vec![1.0]));
    match kind {
        OpKind::Input => (
            Op::Input {
                kind: InputKind::KvCache,
            },
            vec![],
        ),
        OpKind::Weight => (Op::Weight { init: init() }, vec![]),
        OpKind::Constant => (Op::Constant { init: init() }, vec![]),
        OpKind::MatMul => (Op::MatMul, vec![x(), t(F32, &[3, 4])]),
        OpKind::Gemm => (
            Op::Gemm {
                alpha: 0.5,
                beta: 2.0,
                trans_a: true,
                trans_b: false,
            },
            vec![t(F32, &[3, 2]), t(F32, &[3, 4]), t(F32, &[4])],
        ),
        OpKind::QMatMul => (Op::QMatMul, vec![x(), t(I8, &[3, 4]), t(F32, &[4])]),
        OpKind::Add => binary(Op::Add),
        OpKind::Sub => binary(Op::Sub),
        OpKind::Mul => binary(Op::Mul),
        OpKind::Div => binary(Op::Div),
        OpKind::Pow => binary(Op::Pow),
        OpKind::Max => binary(Op::Max),
        OpKind::Min => binary(Op::Min),
        OpKind::Equal => binary(Op::Equal),
        OpKind::Less => binary(Op::Less),
        OpKind::Greater => binary(Op::Greater),
        OpKind::And => (Op::And, vec![t(Bool, &[2, 3]), t(Bool, &[3])]),
        OpKind::Or => (Op::Or, vec![t(Bool, &[2, 3]), t(Bool, &[3])]),
        OpKind::Not => (Op::Not, vec![t(Bool, &[2, 3])]),
        OpKind::Neg => unary(Op::Neg),
        OpKind::Abs => unary(Op::Abs),
        OpKind::Sqrt => unary(Op::Sqrt),
        OpKind::Reciprocal => unary(Op::Reciprocal),
        OpKind::Exp => unary(Op::Exp),
        OpKind::Log => unary(Op::Log),
        OpKind::Erf => unary(Op::Erf),
        OpKind::Tanh => unary(Op::Tanh),
        OpKind::Sigmoid => unary(Op::Sigmoid),
        OpKind::Relu => unary(Op::Relu),
        OpKind::Silu => unary(Op::Silu),
        OpKind::Gelu => unary(Op::Gelu { tanh_approx: true }),
        OpKind::Where => (Op::Where, vec![t(Bool, &[2, 3]), x(), row()]),
        OpKind::Cast => unary(Op::Cast { to: I64 }),
        OpKind::Softmax => unary(Op::Softmax { axis: -1 }),
        OpKind::LayerNorm => (
            Op::LayerNorm {
                axis: -1,
                eps: 1e-3,
            },
            vec![x(), row(), row()],
        ),
        OpKind::RmsNorm => (
            Op::RmsNorm {
                axis: -1,
                eps: 1e-3,
            },
            vec![x(), row()],
        ),
        OpKind::Rope => (
            Op::Rope {
                theta: 100.0,
                rotary_dim: 2,
            },
            vec![t(F32, &[1, 2, 4]), t(I64, &[2])],
        ),
        OpKind::CausalMask => unary(Op::CausalMask),
        OpKind::Transpose => unary(Op::Transpose { perm: vec![1, 0] }),
        OpKind::Reshape => unary(Op::Reshape { shape: vec![3, -1] }),
        OpKind::Concat => (Op::Concat { axis: 0 }, vec![x(), t(F32, &[1, 3])]),
        OpKind::Split => unary(Op::Split {
            axis: 1,
            sizes: vec![1, 2],
        }),
        OpKind::Slice => unary(Op::Slice {
            starts: vec![1],
            ends: vec![3],
            axes: vec![1],
            steps: vec![1],
        }),
        OpKind::Gather => (Op::Gather { axis: 0 }, vec![x(), t(I64, &[2])]),
        OpKind::Reduce => unary(Op::Reduce {
            kind: ReduceKind::Mean,
            axes: vec![1],
            keepdims: true,
        }),
        OpKind::Quantize => (
            Op::Quantize { to: I8, axis: -1 },
            vec![x(), t(F32, &[]), t(I8, &[])],
        ),
        OpKind::Dequantize => (
            Op::Dequantize { to: F32, axis: -1 },
            vec![t(I8, &[2, 3]), t(F32, &[])],
        ),
        OpKind::TopK => unary(Op::TopK { k: 2, axis: -1 }),
        OpKind::MoeDispatch => (
            Op::MoeDispatch {
                expert: 1,
                capacity: 2,
            },
            vec![t(F32, &[3, 4]), t(I64, &[3, 2])],
        ),
        OpKind::MoeCombine => (
            Op::MoeCombine {
                experts: 2,
                capacity: 2,
            },
            vec![
                t(I64, &[3, 2]),
                t(F32, &[3, 2]),
                t(F32, &[2, 4]),
                t(F32, &[2, 4]),
            ],
        ),
        OpKind::KvAppend => (
            Op::KvAppend { axis: -2 },
            vec![t(F32, &[1, 2, 4]), t(F32, &[1, 1, 4])],
        ),
    }
}

/// Deterministic operand values every sample accepts: positive floats, 0/1 integers
/// (valid indices, positions and expert numbers), alternating bools.
fn values(ty: &TensorType) -> Data {
    let n = ty.elems() as usize;
    if ty.dtype.is_float() {
        Data::F32((0..n).map(|i| 0.5 + 0.25 * (i % 5) as f32).collect())
    } else if ty.dtype.is_int() {
        Data::I64((0..n).map(|i| (i % 2) as i64).collect())
    } else {
        Data::Bool((0..n).map(|i| i % 2 == 0).collect())
    }
}

/// A graph applying `op` once to constant operands of types `tys`.
fn one_op_graph(op: &Op, tys: &[TensorType]) -> (Graph, Vec<ValueRef>) {
    let mut g = Graph::new("one_op");
    let ins: Vec<ValueRef> = tys
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            g.constant(&format!("in{i}"), ty.clone(), Init::Data(values(ty)))
                .unwrap()
        })
        .collect();
    let outs = g.add("the_op", op.clone(), &ins).unwrap();
    g.set_outputs(&outs);
    (g, ins)
}

#[test]
fn kinds_and_names_are_one_table() {
    let names: BTreeSet<&str> = OpKind::ALL.iter().map(|k| k.info().name).collect();
    assert_eq!(names.len(), OpKind::ALL.len(), "op names are unique");
    for &kind in OpKind::ALL {
        let (op, _) = sample(kind);
        let info = kind.info();
        assert_eq!(op.kind(), kind);
        assert_eq!(op.name(), info.name);
        assert_eq!(OpKind::from_name(info.name), Some(kind));
        assert_eq!(op.is_source(), info.category == Category::Source);
        // JSON: the tag is the name, the attribute keys are the table's.
        let j = serde_json::to_value(&op).unwrap();
        assert_eq!(j["op"], info.name);
        let keys: BTreeSet<&str> = j
            .get("attrs")
            .and_then(|a| a.as_object())
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, info.attrs.iter().copied().collect(), "{}", info.name);
        assert_eq!(serde_json::from_value::<Op>(j).unwrap(), op);
        // E-graph op codes are parsed by name.
        let code: OpCode = format!("{}#7", info.name).parse().unwrap();
        assert_eq!((code.index, code.name.as_str()), (7, info.name));
    }
    assert_eq!(OpKind::from_name("Conv"), None);
    assert!("Conv#1".parse::<OpCode>().is_err());
}

#[test]
fn arity_is_the_tables() {
    for &kind in OpKind::ALL {
        let (op, tys) = sample(kind);
        let (lo, hi) = op.operand_range();
        match kind.info().arity {
            Arity::Fixed(n) => assert_eq!((lo, hi), (n, n)),
            Arity::Optional { min, max } => assert_eq!((lo, hi), (min, max)),
            Arity::Variadic { min } => assert_eq!((lo, hi), (min, usize::MAX)),
            Arity::PerExpert { base } => assert_eq!(lo, hi, "{base} + experts"),
        }
        assert!((lo..=hi).contains(&tys.len()), "{}", op.name());
        if op.is_source() {
            continue;
        }
        let (mut g, ins) = one_op_graph(&op, &tys);
        let arity_error = |r: triad_compiler::Result<Vec<ValueRef>>| matches!(r, Err(Error::Arity { got, .. }) if got != tys.len());
        if lo > 0 {
            let fewer = g.add("fewer", op.clone(), &ins[..lo - 1]);
            assert!(arity_error(fewer), "{} with {} operands", op.name(), lo - 1);
        }
        if hi < usize::MAX {
            let mut more = ins.clone();
            more.resize(hi + 1, ins[0]);
            let more = g.add("more", op.clone(), &more);
            assert!(arity_error(more), "{} with {} operands", op.name(), hi + 1);
        }
    }
}

#[test]
fn every_op_has_every_hook() {
    for &kind in OpKind::ALL {
        let (op, tys) = sample(kind);
        if op.is_source() {
            continue;
        }
        let name = op.name();
        let (g, _) = one_op_graph(&op, &tys);
        // Graph JSON prints and parses the op unchanged.
        let text = json::to_string(&g).unwrap();
        let back = json::from_str(&text, Path::new("one_op.json")).unwrap();
        assert_eq!(json::to_string(&back).unwrap(), text, "{name}");
        let node = back.node(back.node_by_name("the_op").unwrap());
        assert_eq!(node.op, op, "{name}");
        // The interpreter evaluates it; statistics count it.
        let want = run(&g, &BTreeMap::new()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = stats::analyze(&g).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.node("the_op").unwrap().op, name);
        // ONNX export writes it, a `Direct` kind as the ONNX op of its name, and the
        // export imports back to the same values.
        let bytes = export_bytes(&g).unwrap_or_else(|e| panic!("{name}: {e}"));
        if kind.info().export == Export::Direct {
            let model = ModelProto::decode(bytes.as_slice()).unwrap();
            let types: Vec<String> = model
                .graph
                .unwrap()
                .node
                .iter()
                .map(|n| n.op_type().to_string())
                .collect();
            assert_eq!(types, [name], "{name}");
        }
        let imported = import_bytes(&bytes, Path::new("one_op.onnx"), &BTreeMap::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = run(&imported, &BTreeMap::new()).unwrap();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (k, w) in &want {
            let d = got[k].max_abs_diff(w);
            assert!(d.is_some_and(|d| d <= ROUND_TRIP_TOL), "{name} {k}: {d:?}");
        }
    }
}

/// The export refusals `onnx/export.rs` documents: quantisation to a type other than
/// i8 and `Rope` with run-time positions.
#[test]
fn export_refusals_are_typed_errors() {
    let x = t(DType::F32, &[1, 2, 4]);
    let (g, _) = one_op_graph(
        &Op::Quantize {
            to: DType::I4,
            axis: -1,
        },
        &[x.clone(), t(DType::F32, &[])],
    );
    let e = export_bytes(&g).unwrap_err();
    assert!(
        matches!(&e, Error::Format { reason, .. } if reason.contains("i8")),
        "{e}"
    );

    let mut g = Graph::new("rope");
    let xs = g.input("x", x).unwrap();
    let pos = g.input("pos", t(DType::I64, &[2])).unwrap();
    let rope = Op::Rope {
        theta: 100.0,
        rotary_dim: 0,
    };
    let y = g.add1("rope", rope, &[xs, pos]).unwrap();
    g.set_outputs(&[y]);
    let e = export_bytes(&g).unwrap_err();
    assert!(
        matches!(&e, Error::Format { reason, .. } if reason.contains("run-time positions")),
        "{e}"
    );
}
