//! Interpreter tests of the matrix products against hand-computed values: MatMul
//! (plain, batched with broadcasting, f16 single rounding, i8/i4 with i32
//! accumulation and wrap-around), Gemm and QMatMul (per tensor, per channel, i4).

mod interp_util;

use std::collections::BTreeMap;

use interp_util::*;
use triad_compiler::{DType, Data, Graph, Init, Op, TensorType, run};

#[test]
fn matmul_2x3_by_3x2() {
    let a = f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let b = f32t(&[3, 2], &[7., 8., 9., 10., 11., 12.]);
    // [1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12]
    let r = op1(Op::MatMul, &[a, b]);
    assert_eq!(r.shape(), &[2, 2]);
    assert_eq!(fv(&r), [58., 64., 139., 154.]);
}

#[test]
fn matmul_broadcasts_batch_dims() {
    // A [2,1,2] x B [1,2,2] = [[1,1],[0,1]]: [1,2] -> [1, 3]; [3,4] -> [3, 7].
    let a = f32t(&[2, 1, 2], &[1., 2., 3., 4.]);
    let b = f32t(&[1, 2, 2], &[1., 1., 0., 1.]);
    let r = op1(Op::MatMul, &[a, b]);
    assert_eq!(r.shape(), &[2, 1, 2]);
    assert_eq!(fv(&r), [1., 3., 3., 7.]);
    // A [2] rows shared by a batch of 3 B matrices (scaled identities 1, 2, 3).
    let a = f32t(&[1, 2], &[5., -1.]);
    let b = f32t(
        &[3, 2, 2],
        &[1., 0., 0., 1., 2., 0., 0., 2., 3., 0., 0., 3.],
    );
    let r = op1(Op::MatMul, &[a, b]);
    assert_eq!(r.shape(), &[3, 1, 2]);
    assert_eq!(fv(&r), [5., -1., 10., -2., 15., -3.]);
    // Activations [2, 2, 2] times a 2-D weight (the one-GEMM path).
    let a = f32t(&[2, 2, 2], &[1., 2., 3., 4., 5., 6., 7., 8.]);
    let w = f32t(&[2, 1], &[1., -1.]);
    let r = op1(Op::MatMul, &[a, w]);
    assert_eq!(
        (r.shape(), fv(&r)),
        (&[2usize, 2, 1][..], vec![-1., -1., -1., -1.])
    );
}

#[test]
fn f16_matmul_rounds_once_at_the_end() {
    // 1 + 2^-11 + 2^-11 = 1 + 2^-10 exactly, an f16 value. Accumulating in f16 would
    // round 1 + 2^-11 (a tie) down to 1 twice and give 1.
    let h = 2f32.powi(-11);
    let a = f(DType::F16, &[1, 3], &[1., h, h]);
    let b = f(DType::F16, &[3, 1], &[1., 1., 1.]);
    let r = op1(Op::MatMul, &[a, b]);
    assert_eq!((r.dtype, fv(&r)), (DType::F16, vec![1.0 + 2f32.powi(-10)]));
    // 2048 + 3 = 2051 is a tie in f16 and rounds to the even 2052.
    let r = op1(
        Op::MatMul,
        &[
            f(DType::F16, &[1, 2], &[2048., 3.]),
            f(DType::F16, &[2, 1], &[1., 1.]),
        ],
    );
    assert_eq!(fv(&r), [2052.]);
}

#[test]
fn i8_matmul_accumulates_in_i32() {
    let a = int(DType::I8, &[2, 2], &[127, -128, -128, -128]);
    let b = int(DType::I8, &[2, 2], &[127, -128, -128, 127]);
    // [127*127 + 128*128, -127*128 - 128*127; -128*127 + 128*128, 128*128 - 128*127]
    let r = op1(Op::MatMul, &[a, b]);
    assert_eq!(r.dtype, DType::I32);
    assert_eq!(iv(&r), [32513, -32512, 128, 128]);
    // 4 * (-128)^2 = 65536: beyond i16, exact in i32.
    let r = op1(
        Op::MatMul,
        &[
            int(DType::I8, &[1, 4], &[-128; 4]),
            int(DType::I8, &[4, 1], &[-128; 4]),
        ],
    );
    assert_eq!(iv(&r), [65536]);
    // i4 x i8: -8*127 + 7*(-128) = -1016 - 896 = -1912.
    let r = op1(
        Op::MatMul,
        &[
            int(DType::I4, &[1, 2], &[-8, 7]),
            int(DType::I8, &[2, 1], &[127, -128]),
        ],
    );
    assert_eq!((r.dtype, iv(&r)), (DType::I32, vec![-1912]));
}

#[test]
fn i8_matmul_wraps_on_i32_overflow() {
    // K = 131073 products of (-128)^2 = 16384 sum to 2147500032 > i32::MAX; two's
    // complement wrap gives 2147500032 - 2^32 = -2147467264.
    const K: usize = 131_073;
    let a = int(DType::I8, &[1, K], &vec![-128; K]);
    let b = int(DType::I8, &[K, 1], &vec![-128; K]);
    let r = op1(Op::MatMul, &[a, b]);
    assert_eq!(iv(&r), [2_147_500_032 - (1i64 << 32)]);
}

#[test]
fn gemm_transposes_scales_and_adds_bias() {
    let a = f32t(&[2, 2], &[1., 2., 3., 4.]);
    let b = f32t(&[2, 2], &[5., 6., 7., 8.]);
    // A x B^T = [[17, 23], [39, 53]]; 2 * that + 0.5 * [10, 20] (broadcast over rows).
    let op = Op::Gemm {
        alpha: 2.,
        beta: 0.5,
        trans_a: false,
        trans_b: true,
    };
    let r = op1(op, &[a.clone(), b.clone(), f32t(&[2], &[10., 20.])]);
    assert_eq!(fv(&r), [39., 56., 83., 116.]);
    // A^T x B = [[1*5+3*7, 1*6+3*8], [2*5+4*7, 2*6+4*8]].
    let op = Op::Gemm {
        alpha: 1.,
        beta: 1.,
        trans_a: true,
        trans_b: false,
    };
    assert_eq!(fv(&op1(op, &[a, b])), [26., 30., 38., 44.]);
}

#[test]
fn qmatmul_per_tensor_and_per_channel() {
    // W [[10, -20], [30, 40]] * 0.5 = [[5, -10], [15, 20]]; [1, 2] x that = [35, 30].
    let w = int(DType::I8, &[2, 2], &[10, -20, 30, 40]);
    let r = op1(
        Op::QMatMul,
        &[f32t(&[1, 2], &[1., 2.]), w.clone(), f32t(&[], &[0.5])],
    );
    assert_eq!(fv(&r), [35., 30.]);
    // Per channel: zero points [10, -20], scales [0.5, 0.25]:
    // column 0: ([10, 30] - 10) * 0.5 = [0, 10]; column 1: ([-20, 40] + 20) * 0.25 = [0, 15].
    // [[1, 2], [3, -1]] x [[0, 0], [10, 15]] = [[20, 30], [-10, -15]].
    let a = f32t(&[1, 2, 2], &[1., 2., 3., -1.]);
    let r = op1(
        Op::QMatMul,
        &[
            a,
            w,
            f32t(&[2], &[0.5, 0.25]),
            int(DType::I8, &[2], &[10, -20]),
        ],
    );
    assert_eq!(r.shape(), &[1, 2, 2]);
    assert_eq!(fv(&r), [20., 30., -10., -15.]);
    // i4 weights: 3 * [7, -8] * 0.5 = [10.5, -12].
    let r = op1(
        Op::QMatMul,
        &[
            f32t(&[1, 1], &[3.]),
            int(DType::I4, &[1, 2], &[7, -8]),
            f32t(&[], &[0.5]),
        ],
    );
    assert_eq!(fv(&r), [10.5, -12.]);
}

#[test]
fn qmatmul_rounds_to_the_activation_dtype() {
    // 1 * 1 * 0.1 in f16 is 0.0625 * (1 + 614/1024) = 0.0999755859375.
    let r = op1(
        Op::QMatMul,
        &[
            f(DType::F16, &[1, 1], &[1.]),
            int(DType::I8, &[1, 1], &[1]),
            f32t(&[], &[0.1]),
        ],
    );
    assert_eq!((r.dtype, fv(&r)), (DType::F16, vec![0.099_975_586]));
}

#[test]
fn matmul_with_constant_weights() {
    // x [1, 2] x W (a Constant) [[1, 2], [3, 4]] = [1*1 + 2*3, 1*2 + 2*4] = [7, 10].
    let mut g = Graph::new("mm");
    let x = g.input("x", TensorType::new(DType::F32, [1, 2])).unwrap();
    let w = g
        .constant(
            "w",
            TensorType::new(DType::F32, [2, 2]),
            Init::Data(Data::F32(vec![1., 2., 3., 4.])),
        )
        .unwrap();
    let y = g.add1("y", Op::MatMul, &[x, w]).unwrap();
    g.set_outputs(&[y]);
    let feed = BTreeMap::from([("x".to_string(), f32t(&[1, 2], &[1., 2.]))]);
    let out = run(&g, &feed).unwrap();
    assert_eq!(fv(&out["y"]), [7., 10.]);
}
