//! Interpreter tests of Quantize and Dequantize against hand-computed values: per
//! tensor and per channel, with and without zero points, i8 and i4 saturation, f16
//! and bf16 targets, and bad scales.

mod interp_util;

use interp_util::*;
use triad_compiler::{DType, Op};

fn q(to: DType, axis: i64) -> Op {
    Op::Quantize { to, axis }
}

fn dq(to: DType, axis: i64) -> Op {
    Op::Dequantize { to, axis }
}

#[test]
fn quantize_per_tensor_rounds_half_even_and_saturates() {
    // x / 0.5 = [0, 0.5, 1.5, -2.5, 200, -200, 2] -> half-even [0, 0, 2, -2, 200, -200, 2].
    let x = f32t(&[7], &[0., 0.25, 0.75, -1.25, 100., -100., 1.]);
    let s = f32t(&[], &[0.5]);
    let r = op1(q(DType::I8, -1), &[x.clone(), s.clone()]);
    assert_eq!(
        (r.dtype, iv(&r)),
        (DType::I8, vec![0, 0, 2, -2, 127, -128, 2])
    );
    // With zero point 3: [3, 3, 5, 1, 203 -> 127, -197 -> -128, 5].
    let r = op1(q(DType::I8, -1), &[x, s, int(DType::I8, &[], &[3])]);
    assert_eq!(iv(&r), [3, 3, 5, 1, 127, -128, 5]);
}

#[test]
fn quantize_to_i4_saturates_to_minus_8_7() {
    let x = f32t(&[6], &[1., -1., 7.4, -9., 3.5, 2.5]);
    let r = op1(q(DType::I4, -1), &[x, f32t(&[], &[1.])]);
    assert_eq!((r.dtype, iv(&r)), (DType::I4, vec![1, -1, 7, -8, 4, 2]));
}

#[test]
fn quantize_per_channel_along_either_axis() {
    let x = f32t(&[2, 2], &[1., 2., 3., 4.]);
    let s = f32t(&[2], &[1., 0.5]);
    // Axis 0: row 0 / 1, row 1 / 0.5.
    let r = op1(q(DType::I8, 0), &[x.clone(), s.clone()]);
    assert_eq!(iv(&r), [1, 2, 6, 8]);
    // Axis -1: column 0 / 1, column 1 / 0.5.
    let r = op1(q(DType::I8, -1), &[x, s]);
    assert_eq!(iv(&r), [1, 4, 3, 8]);
}

#[test]
fn dequantize_per_tensor_and_per_channel() {
    // (q - (-1)) * 0.5 for q = [-128, 0, 127]: [-63.5, 0.5, 64].
    let r = op1(
        dq(DType::F32, -1),
        &[
            int(DType::I8, &[3], &[-128, 0, 127]),
            f32t(&[], &[0.5]),
            int(DType::I8, &[], &[-1]),
        ],
    );
    assert_eq!(fv(&r), [-63.5, 0.5, 64.]);
    // Per channel on axis -1: scales [2, 0.25], zero points [0, 4]:
    // [[1*2, (2-4)*0.25], [3*2, (4-4)*0.25]] = [[2, -0.5], [6, 0]].
    let r = op1(
        dq(DType::F32, -1),
        &[
            int(DType::I8, &[2, 2], &[1, 2, 3, 4]),
            f32t(&[2], &[2., 0.25]),
            int(DType::I8, &[2], &[0, 4]),
        ],
    );
    assert_eq!(fv(&r), [2., -0.5, 6., 0.]);
    // i4 per channel on axis 0: rows scaled by [1, 3]: [[-8, 7], [-24, 21]].
    let r = op1(
        dq(DType::F32, 0),
        &[
            int(DType::I4, &[2, 2], &[-8, 7, -8, 7]),
            f32t(&[2], &[1., 3.]),
        ],
    );
    assert_eq!(fv(&r), [-8., 7., -24., 21.]);
}

#[test]
fn dequantize_rounds_to_half_precision_targets() {
    let one = || int(DType::I8, &[1], &[1]);
    // 0.1 in f16 = 0.0625 * (1 + 614/1024) = 0.0999755859375;
    // in bf16 = 2^-4 * 205/128 = 0.10009765625.
    let r = op1(dq(DType::F16, -1), &[one(), f32t(&[], &[0.1])]);
    assert_eq!((r.dtype, fv(&r)), (DType::F16, vec![0.099_975_586]));
    let r = op1(dq(DType::BF16, -1), &[one(), f32t(&[], &[0.1])]);
    assert_eq!((r.dtype, fv(&r)), (DType::BF16, vec![205. / 2048.]));
}

#[test]
fn non_positive_scales_are_eval_errors() {
    for bad in [0., -1., f32::INFINITY] {
        let e = err_text(q(DType::I8, -1), &[f32t(&[1], &[1.]), f32t(&[], &[bad])]);
        assert!(e.contains("must be positive and finite"), "{e}");
    }
}
