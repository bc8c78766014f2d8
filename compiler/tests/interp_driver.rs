//! Tests of the interpreter's driver and tensor API: input validation (missing,
//! extra, mistyped and malformed tensors), weights and constants, `run` vs
//! `run_all`, values shared by several consumers, `eval_node` checks, and a tiny
//! two-layer transformer block end to end.

mod interp_util;

use std::collections::BTreeMap;

use interp_util::*;
use triad_compiler::{
    Array, DType, Data, Error, Graph, Init, Op, Tensor, TensorType, eval_node, run, run_all,
    run_with_stats,
};
use triad_isa::Bytes;

fn ty(dtype: DType, shape: &[usize]) -> TensorType {
    TensorType::new(dtype, shape.to_vec())
}

/// y = x + w with a random f32 weight w of shape [2].
fn add_weight_graph() -> (Graph, Init) {
    let mut g = Graph::new("g");
    let init = Init::Uniform {
        seed: 9,
        low: -1.,
        high: 1.,
    };
    let x = g.input("x", ty(DType::F32, &[2])).unwrap();
    let w = g.weight("w", ty(DType::F32, &[2]), init.clone()).unwrap();
    let y = g.add1("y", Op::Add, &[x, w]).unwrap();
    g.set_outputs(&[y]);
    (g, init)
}

fn feed(name: &str, t: Tensor) -> BTreeMap<String, Tensor> {
    BTreeMap::from([(name.to_string(), t)])
}

#[test]
fn weights_are_materialised_from_their_init() {
    let (g, init) = add_weight_graph();
    let Data::F32(w) = init.materialise(DType::F32, 2) else {
        panic!("float init")
    };
    let out = run(&g, &feed("x", f32t(&[2], &[1., 2.]))).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(fv(&out["y"]), [1. + w[0], 2. + w[1]]);
}

#[test]
fn input_errors_name_the_input_and_list_the_expected_ones() {
    let (g, _) = add_weight_graph();
    let err = |inputs: BTreeMap<String, Tensor>| match run(&g, &inputs) {
        Err(e @ Error::Eval { .. }) => e.to_string(),
        other => panic!("expected an Eval error, got {other:?}"),
    };
    let e = err(BTreeMap::new());
    assert!(
        e.contains("`x`") && e.contains("no tensor given") && e.contains("x: f32[2]"),
        "{e}"
    );
    let mut two = feed("x", f32t(&[2], &[1., 2.]));
    two.insert("z".into(), f32t(&[1], &[0.]));
    let e = err(two);
    assert!(
        e.contains("`z`") && e.contains("not a graph input") && e.contains("x: f32[2]"),
        "{e}"
    );
    // The weight is not an input either.
    let mut w = feed("x", f32t(&[2], &[1., 2.]));
    w.insert("w".into(), f32t(&[2], &[0., 0.]));
    assert!(err(w).contains("not a graph input"));
    let e = err(feed("x", f32t(&[3], &[1., 2., 3.])));
    assert!(e.contains("expected f32[2], got f32[3]"), "{e}");
    let e = err(feed("x", f(DType::F16, &[2], &[1., 2.])));
    assert!(e.contains("expected f32[2], got f16[2]"), "{e}");
}

#[test]
fn malformed_input_tensors_are_rejected() {
    let mut g = Graph::new("g");
    let x = g.input("x", ty(DType::I8, &[1])).unwrap();
    let h = g.input("h", ty(DType::F16, &[1])).unwrap();
    g.set_outputs(&[x, h]);
    let ok_h = f(DType::F16, &[1], &[0.5]);
    // An i8 tensor holding 200, built through the public fields.
    let bad_i8 = Tensor {
        dtype: DType::I8,
        array: Array::I64(ndarray::ArrayD::from_elem(vec![1], 200)),
    };
    let inputs = BTreeMap::from([("x".to_string(), bad_i8), ("h".to_string(), ok_h)]);
    let e = run(&g, &inputs).unwrap_err().to_string();
    assert!(
        e.contains("value 200") && e.contains("out of range for i8"),
        "{e}"
    );
    // An f16 tensor holding 0.1, which f16 cannot represent.
    let bad_h = Tensor {
        dtype: DType::F16,
        array: Array::F32(ndarray::ArrayD::from_elem(vec![1], 0.1)),
    };
    let inputs = BTreeMap::from([
        ("x".to_string(), int(DType::I8, &[1], &[1])),
        ("h".to_string(), bad_h),
    ]);
    let e = run(&g, &inputs).unwrap_err().to_string();
    assert!(e.contains("not representable in f16"), "{e}");
    // An i8 tensor in the float carrier.
    let wrong = Tensor {
        dtype: DType::I8,
        array: Array::F32(ndarray::ArrayD::zeros(vec![1])),
    };
    let ok_h = f(DType::F16, &[1], &[0.5]);
    let inputs = BTreeMap::from([("x".to_string(), wrong), ("h".to_string(), ok_h)]);
    let e = run(&g, &inputs).unwrap_err().to_string();
    assert!(e.contains("carrier"), "{e}");
}

#[test]
fn shared_values_survive_until_their_last_consumer() {
    // a = x * x; b = a + x; c = a * b; outputs c and a. x = 3: a = 9, b = 12, c = 108.
    let mut g = Graph::new("g");
    let x = g.input("x", ty(DType::F32, &[1])).unwrap();
    let a = g.add1("a", Op::Mul, &[x, x]).unwrap();
    let b = g.add1("b", Op::Add, &[a, x]).unwrap();
    let c = g.add1("c", Op::Mul, &[a, b]).unwrap();
    g.set_outputs(&[c, a]);
    let inputs = feed("x", f32t(&[1], &[3.]));
    let out = run(&g, &inputs).unwrap();
    assert_eq!(out.keys().collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!((fv(&out["a"]), fv(&out["c"])), (vec![9.], vec![108.]));
    // run_all also has x and b.
    let all = run_all(&g, &inputs).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["a", "b", "c", "x"]);
    assert_eq!(fv(&all["b"]), [12.]);
}

#[test]
fn values_are_freed_after_their_last_use() {
    // x -> y1 = x + c -> y2 = y1 + c -> … -> y10, all f16 [1000] (2000 bytes each).
    // With freeing, at most c, the previous y and the new y are alive: 6000 bytes;
    // keeping everything would reach 12 values = 24000 bytes.
    let t = ty(DType::F16, &[1000]);
    let mut g = Graph::new("chain");
    let mut y = g.input("x", t.clone()).unwrap();
    let c = g
        .constant("c", t.clone(), Init::Data(Data::F32(vec![1.; 1000])))
        .unwrap();
    for i in 1..=10 {
        y = g.add1(&format!("y{i}"), Op::Add, &[y, c]).unwrap();
    }
    g.set_outputs(&[y]);
    let (out, stats) = run_with_stats(&g, &feed("x", f(DType::F16, &[1000], &[0.; 1000]))).unwrap();
    assert_eq!(fv(&out["y10"]), vec![10.; 1000]);
    assert_eq!(stats.nodes, 12);
    assert_eq!(stats.peak_live, Bytes(6000));
}

#[test]
fn eval_node_checks_operands_and_declared_types() {
    let a = f32t(&[2], &[1., 2.]);
    let b = f32t(&[2], &[3., 4.]);
    let out = eval_node("n", &Op::Add, &[&a, &b], &[ty(DType::F32, &[2])]).unwrap();
    assert_eq!(fv(&out[0]), [4., 6.]);
    let e = eval_node("n", &Op::Add, &[&a, &b], &[ty(DType::F32, &[3])]).unwrap_err();
    assert!(matches!(e, Error::Declared { .. }), "{e}");
    let e = eval_node("n", &Op::Add, &[&a], &[ty(DType::F32, &[2])]).unwrap_err();
    assert!(matches!(e, Error::Arity { got: 1, .. }), "{e}");
    let h = f(DType::F16, &[2], &[1., 2.]);
    let e = eval_node("n", &Op::Add, &[&a, &h], &[ty(DType::F32, &[2])]).unwrap_err();
    assert!(matches!(e, Error::Type { .. }), "{e}");
    let e = eval_node(
        "in",
        &Op::Input {
            kind: Default::default(),
        },
        &[],
        &[ty(DType::F32, &[2])],
    )
    .unwrap_err();
    assert!(matches!(e, Error::Eval { .. }), "{e}");
    // A constant materialises its data (floats rounded to the dtype).
    let c = Op::Constant {
        init: Init::Data(Data::F32(vec![0.1, 2.])),
    };
    let out = eval_node("c", &c, &[], &[ty(DType::F16, &[2])]).unwrap();
    assert_eq!(fv(&out[0]), [0.099_975_586, 2.]);
    let e = eval_node("c", &c, &[], &[ty(DType::F16, &[3])]).unwrap_err();
    assert!(e.to_string().contains("2 values given"), "{e}");
}

#[test]
fn tensor_constructors_check_their_data() {
    assert!(Tensor::from_f32s(DType::F32, &[3], vec![1., 2.]).is_err());
    assert!(Tensor::from_i64s(DType::I4, &[1], vec![8]).is_err());
    assert!(Tensor::from_data(&ty(DType::I8, &[1]), &Data::F32(vec![1.])).is_err());
    let t = Tensor::from_f32s(DType::BF16, &[2], vec![0.1, 1.]).unwrap();
    assert_eq!(t.to_data(), Data::F32(vec![205. / 2048., 1.]));
    assert_eq!(t.ty(), ty(DType::BF16, &[2]));
    let z = Tensor::zeros(&ty(DType::Bool, &[2, 1]));
    assert_eq!((z.len(), bv(&z)), (2, vec![false, false]));
    let u = Tensor::from_f32s(DType::BF16, &[2], vec![0.1, 1.5]).unwrap();
    assert_eq!(t.max_abs_diff(&u), Some(0.5));
    assert_eq!(t.max_abs_diff(&z), None);
}

/// Two pre-norm transformer layers (hidden 64, 4 heads of 16, FFN 256, GELU) on 64
/// tokens, with causal softmax attention and RoPE, built from interpreter ops.
fn tiny_transformer() -> Graph {
    const S: usize = 64;
    const H: usize = 64;
    const HEADS: usize = 4;
    const D: usize = H / HEADS;
    let mut g = Graph::new("tiny");
    let f32ty = |s: &[usize]| ty(DType::F32, s);
    let rand = |seed| Init::Uniform {
        seed,
        low: -0.1,
        high: 0.1,
    };
    let mut x = g.input("x", f32ty(&[S, H])).unwrap();
    let pos = g.input("pos", ty(DType::I64, &[S])).unwrap();
    let scale = g
        .constant("scale", f32ty(&[]), Init::Data(Data::F32(vec![0.25])))
        .unwrap();
    for l in 0..2u64 {
        let p = |n: &str| format!("l{l}.{n}");
        let gamma = g
            .weight(&p("g"), f32ty(&[H]), Init::Data(Data::F32(vec![1.; H])))
            .unwrap();
        let beta = g
            .weight(&p("b"), f32ty(&[H]), Init::Data(Data::F32(vec![0.; H])))
            .unwrap();
        let n = g
            .add1(
                &p("ln"),
                Op::LayerNorm {
                    axis: -1,
                    eps: 1e-5,
                },
                &[x, gamma, beta],
            )
            .unwrap();
        let heads = |g: &mut Graph, name: &str, seed| {
            let w = g
                .weight(&p(&format!("w{name}")), f32ty(&[H, H]), rand(seed + 10 * l))
                .unwrap();
            let y = g.add1(&p(name), Op::MatMul, &[n, w]).unwrap();
            let y = g
                .add1(
                    &p(&format!("{name}r")),
                    Op::Reshape {
                        shape: vec![S as i64, HEADS as i64, D as i64],
                    },
                    &[y],
                )
                .unwrap();
            g.add1(
                &p(&format!("{name}t")),
                Op::Transpose {
                    perm: vec![1, 0, 2],
                },
                &[y],
            )
            .unwrap()
        };
        let q = heads(&mut g, "q", 1);
        let k = heads(&mut g, "k", 2);
        let v = heads(&mut g, "v", 3);
        let q = g
            .add1(
                &p("qrope"),
                Op::Rope {
                    theta: 10000.,
                    rotary_dim: 0,
                },
                &[q, pos],
            )
            .unwrap();
        let k = g
            .add1(
                &p("krope"),
                Op::Rope {
                    theta: 10000.,
                    rotary_dim: 0,
                },
                &[k, pos],
            )
            .unwrap();
        let kt = g
            .add1(
                &p("kT"),
                Op::Transpose {
                    perm: vec![0, 2, 1],
                },
                &[k],
            )
            .unwrap();
        let s = g.add1(&p("scores"), Op::MatMul, &[q, kt]).unwrap();
        let s = g.add1(&p("scaled"), Op::Mul, &[s, scale]).unwrap();
        let s = g.add1(&p("masked"), Op::CausalMask, &[s]).unwrap();
        let a = g.add1(&p("probs"), Op::Softmax { axis: -1 }, &[s]).unwrap();
        let o = g.add1(&p("ctx"), Op::MatMul, &[a, v]).unwrap();
        let o = g
            .add1(
                &p("ctxT"),
                Op::Transpose {
                    perm: vec![1, 0, 2],
                },
                &[o],
            )
            .unwrap();
        let o = g
            .add1(
                &p("ctxR"),
                Op::Reshape {
                    shape: vec![S as i64, H as i64],
                },
                &[o],
            )
            .unwrap();
        let wo = g
            .weight(&p("wo"), f32ty(&[H, H]), rand(4 + 10 * l))
            .unwrap();
        let o = g.add1(&p("o"), Op::MatMul, &[o, wo]).unwrap();
        x = g.add1(&p("res1"), Op::Add, &[x, o]).unwrap();
        let w1 = g
            .weight(&p("w1"), f32ty(&[H, 4 * H]), rand(5 + 10 * l))
            .unwrap();
        let w2 = g
            .weight(&p("w2"), f32ty(&[4 * H, H]), rand(6 + 10 * l))
            .unwrap();
        let h = g.add1(&p("up"), Op::MatMul, &[x, w1]).unwrap();
        let h = g
            .add1(&p("gelu"), Op::Gelu { tanh_approx: true }, &[h])
            .unwrap();
        let h = g.add1(&p("down"), Op::MatMul, &[h, w2]).unwrap();
        x = g.add1(&p("res2"), Op::Add, &[x, h]).unwrap();
    }
    g.set_outputs(&[x]);
    g
}

#[test]
fn tiny_transformer_runs_deterministically() {
    let g = tiny_transformer();
    let xs: Vec<f32> = (0..64 * 64)
        .map(|i| ((i * 37 % 101) as f32 - 50.) / 50.)
        .collect();
    let inputs = BTreeMap::from([
        ("x".to_string(), f32t(&[64, 64], &xs)),
        (
            "pos".to_string(),
            int(DType::I64, &[64], &(0..64).collect::<Vec<_>>()),
        ),
    ]);
    let start = std::time::Instant::now();
    let a = run(&g, &inputs).unwrap();
    eprintln!(
        "tiny transformer (2 layers, hidden 64, seq 64): {:?}",
        start.elapsed()
    );
    let b = run(&g, &inputs).unwrap();
    assert_eq!(a, b);
    let y = fv(&a["l1.res2"]);
    assert_eq!(y.len(), 64 * 64);
    assert!(y.iter().all(|v| v.is_finite()));
    // The first token attends only to itself: its context equals its own value row,
    // so changing the last token must not change row 0 of the output (causality).
    let mut xs2 = xs.clone();
    for v in &mut xs2[63 * 64..] {
        *v += 1.0;
    }
    let mut inputs2 = inputs.clone();
    inputs2.insert("x".into(), f32t(&[64, 64], &xs2));
    let c = run(&g, &inputs2).unwrap();
    let y2 = fv(&c["l1.res2"]);
    assert_eq!(y[..63 * 64], y2[..63 * 64]);
    assert_ne!(y[63 * 64..], y2[63 * 64..]);
}
