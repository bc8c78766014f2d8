//! Interpreter tests of the mixture-of-experts ops against hand-computed values:
//! TopK (ties, NaN, other axes), MoeDispatch with capacity drops and MoeCombine.

mod interp_util;

use std::collections::BTreeMap;

use interp_util::*;
use triad_compiler::{DType, Data, Graph, Init, Op, TensorType, run};

#[test]
fn topk_sorted_descending_ties_lower_index_first() {
    let outs = try_op(
        Op::TopK { k: 3, axis: -1 },
        &[f32t(&[1, 5], &[1., 3., 3., 2., 5.])],
    )
    .unwrap();
    assert_eq!(fv(&outs[0]), [5., 3., 3.]);
    assert_eq!((outs[1].dtype, iv(&outs[1])), (DType::I64, vec![4, 1, 2]));
    // Axis 0 of [[1, 6], [4, 2], [4, 9]], k = 2: column 0 -> 4 (row 1), 4 (row 2);
    // column 1 -> 9 (row 2), 6 (row 0).
    let x = f32t(&[3, 2], &[1., 6., 4., 2., 4., 9.]);
    let outs = try_op(Op::TopK { k: 2, axis: 0 }, &[x]).unwrap();
    assert_eq!(fv(&outs[0]), [4., 9., 4., 6.]);
    assert_eq!(iv(&outs[1]), [1, 2, 2, 0]);
}

#[test]
fn topk_nan_is_largest_and_integers_work() {
    let outs = try_op(
        Op::TopK { k: 2, axis: -1 },
        &[f32t(&[3], &[1., f32::NAN, 2.])],
    )
    .unwrap();
    assert!(fv(&outs[0])[0].is_nan());
    assert_eq!(fv(&outs[0])[1], 2.);
    assert_eq!(iv(&outs[1]), [1, 2]);
    let outs = try_op(
        Op::TopK { k: 1, axis: -1 },
        &[int(DType::I8, &[2, 2], &[-5, -7, 3, 3])],
    )
    .unwrap();
    assert_eq!(iv(&outs[0]), [-5, 3]);
    assert_eq!(iv(&outs[1]), [0, 0]);
}

/// 4 tokens, H = 2, top-2 of 3 experts, capacity 2.
/// Choices: t0 -> (0, 1), t1 -> (1, 2), t2 -> (0, 1), t3 -> (1, 0).
/// Expert 0 gets t0 (slot 0), t2 (slot 1), t3 (slot 2 >= capacity: dropped).
/// Expert 1 gets t0 (slot 0), t1 (slot 1); t2 and t3 are dropped.
/// Expert 2 gets t1 (slot 0).
fn routing() -> (triad_compiler::Tensor, triad_compiler::Tensor) {
    let x = f32t(&[4, 2], &[1., 1., 2., 2., 3., 3., 4., 4.]);
    let idx = int(DType::I64, &[4, 2], &[0, 1, 1, 2, 0, 1, 1, 0]);
    (x, idx)
}

#[test]
fn dispatch_fills_slots_in_token_order_and_drops_overflow() {
    let (x, idx) = routing();
    let d = |e| {
        fv(&op1(
            Op::MoeDispatch {
                expert: e,
                capacity: 2,
            },
            &[x.clone(), idx.clone()],
        ))
    };
    assert_eq!(d(0), [1., 1., 3., 3.]);
    assert_eq!(d(1), [1., 1., 2., 2.]);
    assert_eq!(d(2), [2., 2., 0., 0.]);
}

#[test]
fn dispatch_expert_ffn_combine_round_trip() {
    // Each "expert" multiplies by 10: E0 = [[10,10],[30,30]], E1 = [[10,10],[20,20]],
    // E2 = [[20,20],[0,0]]. Gate weights w = [[.6,.4],[.5,.5],[.3,.7],[.9,.1]]:
    // t0 = .6*10 + .4*10 = 10; t1 = .5*20 (E1 slot 1) + .5*20 (E2 slot 0) = 20;
    // t2 = .3*30 (E0 slot 1), its E1 choice was dropped = 9; t3: both dropped = 0.
    let mut g = Graph::new("moe");
    let x = g.input("x", TensorType::new(DType::F32, [4, 2])).unwrap();
    let idx = g.input("idx", TensorType::new(DType::I64, [4, 2])).unwrap();
    let w = g.input("w", TensorType::new(DType::F32, [4, 2])).unwrap();
    let ten = g
        .constant(
            "ten",
            TensorType::new(DType::F32, []),
            Init::Data(Data::F32(vec![10.])),
        )
        .unwrap();
    let mut outs = vec![idx, w];
    for e in 0..3 {
        let d = g
            .add1(
                &format!("d{e}"),
                Op::MoeDispatch {
                    expert: e,
                    capacity: 2,
                },
                &[x, idx],
            )
            .unwrap();
        outs.push(g.add1(&format!("ffn{e}"), Op::Mul, &[d, ten]).unwrap());
    }
    let y = g
        .add1(
            "y",
            Op::MoeCombine {
                experts: 3,
                capacity: 2,
            },
            &outs,
        )
        .unwrap();
    g.set_outputs(&[y]);
    let (xt, it) = routing();
    let feed = BTreeMap::from([
        ("x".to_string(), xt),
        ("idx".to_string(), it),
        (
            "w".to_string(),
            f32t(&[4, 2], &[0.6, 0.4, 0.5, 0.5, 0.3, 0.7, 0.9, 0.1]),
        ),
    ]);
    let out = run(&g, &feed).unwrap();
    close(&fv(&out["y"]), &[10., 10., 20., 20., 9., 9., 0., 0.], 1e-6);
}

#[test]
fn combine_rejects_expert_indices_out_of_range() {
    let e = err_text(
        Op::MoeCombine {
            experts: 2,
            capacity: 1,
        },
        &[
            int(DType::I64, &[1, 1], &[2]),
            f32t(&[1, 1], &[1.]),
            f32t(&[1, 2], &[1., 1.]),
            f32t(&[1, 2], &[1., 1.]),
        ],
    );
    assert!(e.contains("expert index 2 out of range 0..2"), "{e}");
}
