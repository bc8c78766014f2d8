//! Property tests of the ONNX frontend's invariants:
//! - export then import of a random element-wise/layout graph interprets exactly like
//!   the original (every op used maps one to one, so results are bit-identical);
//! - `.npy` write then read returns the same tensor for random shapes and values.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use triad_compiler::onnx::{export_bytes, import_bytes, npy};
use triad_compiler::{DType, Data, Graph, Init, Op, Tensor, TensorType, run};

/// Ops applied in sequence to a `[2, 3]` f32 value (binary ones with a constant).
const OPS: &[&str] = &[
    "Add",
    "Mul",
    "Sub",
    "Max",
    "Tanh",
    "Sigmoid",
    "Neg",
    "Abs",
    "Exp",
    "Transpose",
];

fn graph(ops: &[usize], consts: &[f32]) -> Graph {
    let mut g = Graph::new("prop");
    let mut x = g.input("x", TensorType::new(DType::F32, [2, 3])).unwrap();
    for (i, &o) in ops.iter().enumerate() {
        let name = format!("n{i}");
        let shape = g.ty(x).shape.clone();
        let op = match OPS[o] {
            "Add" => Op::Add,
            "Mul" => Op::Mul,
            "Sub" => Op::Sub,
            "Max" => Op::Max,
            "Tanh" => Op::Tanh,
            "Sigmoid" => Op::Sigmoid,
            "Neg" => Op::Neg,
            "Abs" => Op::Abs,
            "Exp" => Op::Exp,
            _ => Op::Transpose { perm: vec![] },
        };
        x = if op.is_binary() {
            let n = shape[1];
            let vals = (0..n).map(|j| consts[(i + j) % consts.len()]).collect();
            let c = g
                .constant(
                    &format!("c{i}"),
                    TensorType::new(DType::F32, [n]),
                    Init::Data(Data::F32(vals)),
                )
                .unwrap();
            g.add1(&name, op, &[x, c]).unwrap()
        } else {
            g.add1(&name, op, &[x]).unwrap()
        };
    }
    g.set_outputs(&[x]);
    g
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn export_import_preserves_results(
        ops in proptest::collection::vec(0..OPS.len(), 1..8),
        consts in proptest::collection::vec(-2.0f32..2.0, 3),
        xs in proptest::collection::vec(-3.0f32..3.0, 6),
    ) {
        let g = graph(&ops, &consts);
        let g2 = import_bytes(&export_bytes(&g).unwrap(), Path::new("p.onnx"), &BTreeMap::new()).unwrap();
        let x = Tensor::from_f32s(DType::F32, &[2, 3], xs).unwrap();
        let ins = BTreeMap::from([("x".to_string(), x)]);
        let a = run(&g, &ins).unwrap();
        let b = run(&g2, &ins).unwrap();
        // Compare bit patterns, so NaN results (inf * 0) compare equal too.
        let bits = |m: &BTreeMap<String, Tensor>| match m.values().next().unwrap().to_data() {
            Data::F32(v) => v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            other => panic!("not f32: {other:?}"),
        };
        prop_assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn npy_round_trips(
        shape in proptest::collection::vec(1usize..4, 0..4),
        seed in proptest::num::u64::ANY,
        kind in 0usize..4,
    ) {
        let n: usize = shape.iter().product();
        let vals: Vec<i64> = (0..n as u64).map(|i| (seed.wrapping_mul(i + 1) % 255) as i64 - 127).collect();
        let t = match kind {
            0 => Tensor::from_f32s(DType::F32, &shape, vals.iter().map(|&v| v as f32 / 7.0).collect()),
            1 => Tensor::from_i64s(DType::I64, &shape, vals.iter().map(|&v| v * 1_000_003).collect()),
            2 => Tensor::from_i64s(DType::I8, &shape, vals.clone()),
            _ => Tensor::from_bools(&shape, vals.iter().map(|&v| v > 0).collect()),
        }
        .unwrap();
        let back = npy::read_npy_bytes(&npy::write_npy_bytes(&t).unwrap(), Path::new("t.npy")).unwrap();
        prop_assert_eq!(back, t);
    }
}
