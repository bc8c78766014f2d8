//! Interpreter tests of the layout ops against hand-computed values: Transpose,
//! Reshape, Concat, Split, Slice (ONNX clamping, negative steps), Gather (negative
//! and out-of-range indices) and KvAppend.

mod interp_util;

use std::collections::BTreeMap;

use interp_util::*;
use triad_compiler::{DType, Graph, Op, TensorType, run};

fn iota(shape: &[usize]) -> triad_compiler::Tensor {
    let n: usize = shape.iter().product();
    f32t(shape, &(0..n).map(|v| v as f32).collect::<Vec<_>>())
}

#[test]
fn transpose() {
    // [[0, 1, 2], [3, 4, 5]]^T = [[0, 3], [1, 4], [2, 5]].
    let r = op1(Op::Transpose { perm: vec![] }, &[iota(&[2, 3])]);
    assert_eq!(
        (r.shape(), fv(&r)),
        (&[3usize, 2][..], vec![0., 3., 1., 4., 2., 5.])
    );
    // perm [1, 0, 2]: out[i][j][k] = x[j][i][k].
    let r = op1(
        Op::Transpose {
            perm: vec![1, 0, 2],
        },
        &[iota(&[2, 2, 2])],
    );
    assert_eq!(fv(&r), [0., 1., 4., 5., 2., 3., 6., 7.]);
    let r = op1(
        Op::Transpose { perm: vec![1, 0] },
        &[bools(&[1, 2], &[true, false])],
    );
    assert_eq!((r.shape(), bv(&r)), (&[2usize, 1][..], vec![true, false]));
}

#[test]
fn reshape_keeps_row_major_order() {
    let r = op1(Op::Reshape { shape: vec![3, -1] }, &[iota(&[2, 3])]);
    assert_eq!(
        (r.shape(), fv(&r)),
        (&[3usize, 2][..], vec![0., 1., 2., 3., 4., 5.])
    );
    let r = op1(
        Op::Reshape {
            shape: vec![0, 1, -1],
        },
        &[int(DType::I8, &[2, 2], &[1, 2, 3, 4])],
    );
    assert_eq!((r.shape(), iv(&r)), (&[2usize, 1, 2][..], vec![1, 2, 3, 4]));
}

#[test]
fn concat_and_split() {
    let r = op1(
        Op::Concat { axis: -1 },
        &[f32t(&[1, 2], &[1., 2.]), f32t(&[1, 1], &[3.])],
    );
    assert_eq!((r.shape(), fv(&r)), (&[1usize, 3][..], vec![1., 2., 3.]));
    let r = op1(
        Op::Concat { axis: 0 },
        &[
            int(DType::I32, &[1], &[1]),
            int(DType::I32, &[2], &[2, 3]),
            int(DType::I32, &[1], &[4]),
        ],
    );
    assert_eq!(iv(&r), [1, 2, 3, 4]);
    let parts = try_op(
        Op::Split {
            axis: 0,
            sizes: vec![2, 3],
        },
        &[iota(&[5])],
    )
    .unwrap();
    assert_eq!(fv(&parts[0]), [0., 1.]);
    assert_eq!(fv(&parts[1]), [2., 3., 4.]);
    // Axis -1 of [[0, 1, 2], [3, 4, 5]] into [1, 2].
    let parts = try_op(
        Op::Split {
            axis: -1,
            sizes: vec![1, 2],
        },
        &[iota(&[2, 3])],
    )
    .unwrap();
    assert_eq!(
        (parts[0].shape(), fv(&parts[0])),
        (&[2usize, 1][..], vec![0., 3.])
    );
    assert_eq!(fv(&parts[1]), [1., 2., 4., 5.]);
}

fn slice(starts: &[i64], ends: &[i64], axes: &[i64], steps: &[i64]) -> Op {
    Op::Slice {
        starts: starts.to_vec(),
        ends: ends.to_vec(),
        axes: axes.to_vec(),
        steps: steps.to_vec(),
    }
}

#[test]
fn slice_follows_onnx_rules() {
    let x = iota(&[5]);
    // x[1:-1] = [1, 2, 3].
    assert_eq!(
        fv(&op1(slice(&[1], &[-1], &[], &[]), [x.clone()])),
        [1., 2., 3.]
    );
    // x[-1::-2] = [4, 2, 0].
    let r = op1(slice(&[-1], &[i64::MIN], &[0], &[-2]), [x.clone()]);
    assert_eq!(fv(&r), [4., 2., 0.]);
    // x[3:0:-1] = [3, 2, 1].
    assert_eq!(
        fv(&op1(slice(&[3], &[0], &[0], &[-1]), [x.clone()])),
        [3., 2., 1.]
    );
    // Out-of-range bounds clamp: x[10:20] is empty.
    let r = op1(slice(&[10], &[20], &[0], &[1]), &[x]);
    assert_eq!(r.shape(), &[0]);
    // Axis 1 of [[0, 1, 2], [3, 4, 5]] with step 2: [[0, 2], [3, 5]].
    let r = op1(slice(&[0], &[10], &[-1], &[2]), &[iota(&[2, 3])]);
    assert_eq!(
        (r.shape(), fv(&r)),
        (&[2usize, 2][..], vec![0., 2., 3., 5.])
    );
}

#[test]
fn gather_rows_with_negative_indices() {
    let data = f32t(&[3, 2], &[1., 2., 3., 4., 5., 6.]);
    // Rows 2 and -3 (= 0).
    let r = op1(
        Op::Gather { axis: 0 },
        &[data.clone(), int(DType::I64, &[2], &[2, -3])],
    );
    assert_eq!(
        (r.shape(), fv(&r)),
        (&[2usize, 2][..], vec![5., 6., 1., 2.])
    );
    // Indices [2, 2] give [2, 2, 2].
    let r = op1(
        Op::Gather { axis: 0 },
        &[data.clone(), int(DType::I32, &[2, 2], &[0, 1, 1, 0])],
    );
    assert_eq!(r.shape(), &[2, 2, 2]);
    assert_eq!(fv(&r), [1., 2., 3., 4., 3., 4., 1., 2.]);
    // Column 1 via axis 1: [[2], [4], [6]].
    let r = op1(
        Op::Gather { axis: 1 },
        &[data.clone(), int(DType::I64, &[1], &[1])],
    );
    assert_eq!((r.shape(), fv(&r)), (&[3usize, 1][..], vec![2., 4., 6.]));
    // No indices: an empty [0, 2] result.
    let r = op1(
        Op::Gather { axis: 0 },
        [data.clone(), int(DType::I64, &[0], &[])],
    );
    assert_eq!(r.shape(), &[0, 2]);
    // A scalar index drops the axis: row -1 = [5, 6].
    let r = op1(Op::Gather { axis: 0 }, &[data, int(DType::I64, &[], &[-1])]);
    assert_eq!((r.shape(), fv(&r)), (&[2usize][..], vec![5., 6.]));
}

#[test]
fn gather_out_of_range_is_an_eval_error() {
    let data = f32t(&[3, 2], &[1., 2., 3., 4., 5., 6.]);
    for bad in [3, -4] {
        let e = err_text(
            Op::Gather { axis: 0 },
            &[data.clone(), int(DType::I64, &[1], &[bad])],
        );
        assert!(e.contains(&format!("index {bad} out of range")), "{e}");
    }
}

#[test]
fn kv_append_concatenates_along_the_sequence_axis() {
    // past [1, L=2, D=2] = [[1, 2], [3, 4]], new [1, S=1, D=2] = [[5, 6]].
    let mut g = Graph::new("kv");
    let past = g
        .kv_input("past", TensorType::new(DType::F16, [1, 2, 2]))
        .unwrap();
    let new = g
        .input("new", TensorType::new(DType::F16, [1, 1, 2]))
        .unwrap();
    let all = g
        .add1("cache", Op::KvAppend { axis: -2 }, &[past, new])
        .unwrap();
    g.set_outputs(&[all]);
    let feed = BTreeMap::from([
        (
            "past".to_string(),
            f(DType::F16, &[1, 2, 2], &[1., 2., 3., 4.]),
        ),
        ("new".to_string(), f(DType::F16, &[1, 1, 2], &[5., 6.])),
    ]);
    let out = run(&g, &feed).unwrap();
    assert_eq!(out["cache"].shape(), &[1, 3, 2]);
    assert_eq!(fv(&out["cache"]), [1., 2., 3., 4., 5., 6.]);
}
