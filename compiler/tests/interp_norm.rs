//! Interpreter tests of Softmax, LayerNorm, RmsNorm and Reduce against hand-computed
//! values, including negative axes, numerical stability and f16/bf16 rounding.

mod interp_util;

use interp_util::*;
use triad_compiler::{DType, Op, ReduceKind, round_to};

#[test]
fn softmax_of_1_2_3() {
    // exp([-2, -1, 0]) / (e^-2 + e^-1 + 1): the textbook [0.0900, 0.2447, 0.6652].
    let r = op1(Op::Softmax { axis: -1 }, &[f32t(&[1, 3], &[1., 2., 3.])]);
    close(
        &fv(&r),
        &[
            0.090_030_573_170_380_46,
            0.244_728_471_054_797_64,
            0.665_240_955_774_821_9,
        ],
        6e-8,
    );
}

#[test]
fn softmax_along_a_negative_non_last_axis() {
    // Axis -2 of [[0, 2], [0, 0]]: columns [0, 0] -> [0.5, 0.5] and
    // [2, 0] -> [e^2, 1] / (e^2 + 1) = [0.8807970779778823, 0.11920292202211755].
    let x = f32t(&[2, 2], &[0., 2., 0., 0.]);
    let r = op1(Op::Softmax { axis: -2 }, [x.clone()]);
    let want = [0.5, 0.880_797_077_977_882_3, 0.5, 0.119_202_922_022_117_55];
    close(&fv(&r), &want, 6e-8);
    assert_eq!(fv(&r), fv(&op1(Op::Softmax { axis: 0 }, &[x])));
}

#[test]
fn softmax_is_stable_and_handles_minus_infinity() {
    let x = f32t(&[3, 2], &[1000., 1000., 0., f32::NEG_INFINITY, 1000., 0.]);
    let r = op1(Op::Softmax { axis: -1 }, &[x]);
    // e^-1000 underflows to exactly 0.
    assert_eq!(fv(&r), [0.5, 0.5, 1., 0., 1., 0.]);
}

#[test]
fn softmax_rounds_to_f16() {
    // 1/3 in f16 is 0.333251953125.
    let r = op1(
        Op::Softmax { axis: -1 },
        &[f(DType::F16, &[3], &[0., 0., 0.])],
    );
    assert_eq!(fv(&r), [0.333_251_95; 3]);
}

fn layer_norm(eps: f32) -> Op {
    Op::LayerNorm { axis: -1, eps }
}

#[test]
fn layer_norm_by_hand() {
    // [1, 2, 3, 4]: mean 2.5, population variance (2.25 + 0.25 + 0.25 + 2.25) / 4 =
    // 1.25, sqrt = 1.118033988749895; (x - 2.5) / 1.118… = [-1.3416, -0.4472, 0.4472, 1.3416].
    let x = f32t(&[1, 4], &[1., 2., 3., 4.]);
    let ones = f32t(&[4], &[1.; 4]);
    let zeros = f32t(&[4], &[0.; 4]);
    let n = [-1.341_640_786_499_873_8, -0.447_213_595_499_957_9];
    let r = op1(layer_norm(0.), &[x.clone(), ones, zeros]);
    close(&fv(&r), &[n[0], n[1], -n[1], -n[0]], 1.2e-7);
    // gamma [1, 2, 1, 2], beta [0, 0, 1, 1].
    let r = op1(
        layer_norm(0.),
        &[
            x.clone(),
            f32t(&[4], &[1., 2., 1., 2.]),
            f32t(&[4], &[0., 0., 1., 1.]),
        ],
    );
    close(
        &fv(&r),
        &[n[0], 2. * n[1], 1. - n[1], 1. - 2. * n[0]],
        2.4e-7,
    );
    // Without beta, with eps = 0.5: 1 / sqrt(1.25 + 0.5) scales (x - 2.5).
    let s = 1.0 / 1.75f64.sqrt();
    let r = op1(layer_norm(0.5), &[x, f32t(&[4], &[1.; 4])]);
    close(&fv(&r), &[-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s], 1.2e-7);
}

#[test]
fn layer_norm_over_the_last_two_axes() {
    // Axis -2 of [1, 2, 2]: the 4 values [1, 2, 3, 4] form one group.
    let x = f32t(&[1, 2, 2], &[1., 2., 3., 4.]);
    let g = f32t(&[2, 2], &[1.; 4]);
    let r = op1(Op::LayerNorm { axis: -2, eps: 0. }, &[x, g]);
    let n = [-1.341_640_786_499_873_8, -0.447_213_595_499_957_9];
    close(&fv(&r), &[n[0], n[1], -n[1], -n[0]], 1.2e-7);
}

#[test]
fn rms_norm_by_hand() {
    // [3, 4]: mean square 12.5, rms 3.5355339059327378 -> [0.8485, 1.1314]; gamma [2, 0.5].
    let r = op1(
        Op::RmsNorm { axis: -1, eps: 0. },
        &[f32t(&[1, 2], &[3., 4.]), f32t(&[2], &[2., 0.5])],
    );
    close(
        &fv(&r),
        &[1.697_056_274_847_714, 0.565_685_424_949_238],
        1.2e-7,
    );
    // bf16: the same numbers rounded to bf16 (0.8485… -> 0.84765625, 1.1314… -> 1.1328125).
    let r = op1(
        Op::RmsNorm { axis: -1, eps: 0. },
        &[
            f(DType::BF16, &[2], &[3., 4.]),
            f(DType::BF16, &[2], &[1., 1.]),
        ],
    );
    let want = [
        round_to(DType::BF16, (3. / 12.5f64.sqrt()) as f32),
        round_to(DType::BF16, (4. / 12.5f64.sqrt()) as f32),
    ];
    assert_eq!(fv(&r), want);
    assert_eq!(want, [0.847_656_25, 1.132_812_5]);
}

fn reduce(kind: ReduceKind, axes: &[i64], keepdims: bool) -> Op {
    Op::Reduce {
        kind,
        axes: axes.to_vec(),
        keepdims,
    }
}

#[test]
fn reductions_by_hand() {
    let x = f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let r = op1(reduce(ReduceKind::Sum, &[], false), [x.clone()]);
    assert_eq!((r.shape(), fv(&r)), (&[][..], vec![21.]));
    let r = op1(reduce(ReduceKind::Sum, &[0], false), [x.clone()]);
    assert_eq!((r.shape(), fv(&r)), (&[3usize][..], vec![5., 7., 9.]));
    let r = op1(reduce(ReduceKind::Mean, &[-1], true), [x.clone()]);
    assert_eq!((r.shape(), fv(&r)), (&[2usize, 1][..], vec![2., 5.]));
    let r = op1(reduce(ReduceKind::Max, &[1], false), [x.clone()]);
    assert_eq!(fv(&r), [3., 6.]);
    let r = op1(reduce(ReduceKind::Sum, &[0, 1], true), &[x]);
    assert_eq!((r.shape(), fv(&r)), (&[1usize, 1][..], vec![21.]));
    // [2, 2, 2] = 0..8 over axes 0 and 2: middle 0 -> 0+1+4+5, middle 1 -> 2+3+6+7.
    let x = f32t(&[2, 2, 2], &[0., 1., 2., 3., 4., 5., 6., 7.]);
    let r = op1(reduce(ReduceKind::Sum, &[0, -1], false), &[x]);
    assert_eq!(fv(&r), [10., 18.]);
    let r = op1(
        reduce(ReduceKind::Max, &[], false),
        &[f32t(&[2], &[1., f32::NAN])],
    );
    assert!(fv(&r)[0].is_nan());
}

#[test]
fn integer_and_f16_reductions() {
    // i8 sum 100 + 100 wraps to -56; max is exact.
    let r = op1(
        reduce(ReduceKind::Sum, &[], false),
        &[int(DType::I8, &[2], &[100, 100])],
    );
    assert_eq!(iv(&r), [-56]);
    let r = op1(
        reduce(ReduceKind::Max, &[], false),
        &[int(DType::I8, &[2], &[-3, 7])],
    );
    assert_eq!(iv(&r), [7]);
    // f16 [2048, 1, 1]: the exact sum 2050 is an f16 value; summing in f16 would give 2048.
    let r = op1(
        reduce(ReduceKind::Sum, &[], false),
        &[f(DType::F16, &[3], &[2048., 1., 1.])],
    );
    assert_eq!(fv(&r), [2050.]);
}
