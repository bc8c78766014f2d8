//! Interpreter tests of the element-wise ops against hand-computed values: binary
//! arithmetic with broadcasting, integer wrap-around, f16/bf16 rounding, comparisons,
//! logic, unary math, Where and Cast.

mod interp_util;

use interp_util::*;
use triad_compiler::{DType, Op};

const INF: f64 = f64::INFINITY;

#[test]
fn add_broadcasts_rows_and_columns() {
    let a = f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    // b [3] is added to every row.
    let r = op1(Op::Add, &[a.clone(), f32t(&[3], &[10., 20., 30.])]);
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(fv(&r), [11., 22., 33., 14., 25., 36.]);
    // b [2, 1] is added to every column.
    let r = op1(Op::Add, &[a, f32t(&[2, 1], &[100., 200.])]);
    assert_eq!(fv(&r), [101., 102., 103., 204., 205., 206.]);
    // [3, 1] + [1, 2] -> [3, 2] (both sides broadcast).
    let r = op1(
        Op::Add,
        &[f32t(&[3, 1], &[1., 2., 3.]), f32t(&[1, 2], &[10., 20.])],
    );
    assert_eq!(r.shape(), &[3, 2]);
    assert_eq!(fv(&r), [11., 21., 12., 22., 13., 23.]);
}

#[test]
fn float_arithmetic() {
    let (a, b) = (f32t(&[2], &[7., -3.]), f32t(&[2], &[2., 5.]));
    assert_eq!(fv(&op1(Op::Sub, &[a, b])), [5., -8.]);
    let r = op1(Op::Mul, &[f32t(&[2], &[1.5, -2.]), f32t(&[2], &[4., 0.25])]);
    assert_eq!(fv(&r), [6., -0.5]);
    let r = op1(
        Op::Div,
        &[f32t(&[3], &[1., -9., 1.]), f32t(&[3], &[4., 3., 0.])],
    );
    assert_eq!(fv(&r), [0.25, -3., f32::INFINITY]);
    // 2^10 = 1024, 9^0.5 = 3, 2^-1 = 0.5.
    let r = op1(
        Op::Pow,
        &[f32t(&[3], &[2., 9., 2.]), f32t(&[3], &[10., 0.5, -1.])],
    );
    assert_eq!(fv(&r), [1024., 3., 0.5]);
}

#[test]
fn f16_results_are_rounded_half_to_even() {
    // f16 spacing at 2048 is 2: 2048 + 1 = 2049 is a tie between 2048 (even
    // mantissa) and 2050 -> 2048; 2048 + 3 = 2051 ties between 2050 (odd) and 2052.
    let a = f(DType::F16, &[2], &[2048., 2048.]);
    let r = op1(Op::Add, &[a, f(DType::F16, &[2], &[1., 3.])]);
    assert_eq!(r.dtype, DType::F16);
    assert_eq!(fv(&r), [2048., 2052.]);
    // 1/3 in f16 is 0.25 * (1 + 341/1024) = 0.333251953125.
    let r = op1(
        Op::Div,
        &[f(DType::F16, &[1], &[1.]), f(DType::F16, &[1], &[3.])],
    );
    assert_eq!(fv(&r), [0.333_251_95]);
    // 300 * 300 = 90000 > 65504 (f16 max) overflows to infinity.
    let r = op1(
        Op::Mul,
        &[f(DType::F16, &[1], &[300.]), f(DType::F16, &[1], &[300.])],
    );
    assert_eq!(fv(&r), [f32::INFINITY]);
}

#[test]
fn bf16_results_are_rounded_half_to_even() {
    // bf16 spacing at 1 is 2^-7. 1 + 2^-8 ties -> 1 (even); 1 + 3 * 2^-8 ties between
    // 1 + 2^-7 (odd mantissa) and 1 + 2^-6 -> 1 + 2^-6 = 1.015625.
    let a = f(DType::BF16, &[2], &[1., 1.]);
    let b = f(DType::BF16, &[2], &[0.003_906_25, 0.011_718_75]);
    let r = op1(Op::Add, &[a, b]);
    assert_eq!(r.dtype, DType::BF16);
    assert_eq!(fv(&r), [1.0, 1.015_625]);
}

#[test]
fn integer_arithmetic_wraps_to_the_dtype_width() {
    let i8s = |v: &[i64]| int(DType::I8, &[v.len()], v);
    // 100 + 100 = 200 -> 200 - 256 = -56; 16 * 16 = 256 -> 0; -128 - 1 -> 127.
    assert_eq!(iv(&op1(Op::Add, &[i8s(&[100]), i8s(&[100])])), [-56]);
    assert_eq!(iv(&op1(Op::Mul, &[i8s(&[16]), i8s(&[16])])), [0]);
    assert_eq!(iv(&op1(Op::Sub, &[i8s(&[-128]), i8s(&[1])])), [127]);
    // i4: 7 + 1 = 8 -> -8.
    let r = op1(
        Op::Add,
        &[int(DType::I4, &[1], &[7]), int(DType::I4, &[1], &[1])],
    );
    assert_eq!((r.dtype, iv(&r)), (DType::I4, vec![-8]));
    let r = op1(
        Op::Add,
        &[
            int(DType::I32, &[1], &[i32::MAX as i64]),
            int(DType::I32, &[1], &[1]),
        ],
    );
    assert_eq!(iv(&r), [i32::MIN as i64]);
    // Division truncates toward zero; -128 / -1 = 128 wraps to -128.
    let r = op1(Op::Div, &[i8s(&[7, -7, -128]), i8s(&[-2, 2, -1])]);
    assert_eq!(iv(&r), [-3, -3, -128]);
    assert_eq!(iv(&op1(Op::Max, &[i8s(&[-3, 9]), i8s(&[2])])), [2, 9]);
    assert_eq!(iv(&op1(Op::Min, &[i8s(&[-3, 9]), i8s(&[2])])), [-3, 2]);
}

#[test]
fn integer_division_by_zero_is_an_eval_error() {
    let e = err_text(
        Op::Div,
        &[
            int(DType::I32, &[2], &[1, 2]),
            int(DType::I32, &[2], &[1, 0]),
        ],
    );
    assert!(e.contains("division by zero") && e.contains("`op`"), "{e}");
}

#[test]
fn max_min_propagate_nan() {
    let a = f32t(&[3], &[1., 5., f32::NAN]);
    close(
        &fv(&op1(Op::Max, &[a.clone(), f32t(&[1], &[3.])])),
        &[3., 5., f64::NAN],
        0.,
    );
    close(
        &fv(&op1(Op::Min, &[a, f32t(&[1], &[3.])])),
        &[1., 3., f64::NAN],
        0.,
    );
}

#[test]
fn comparisons_and_logic() {
    let a = f32t(&[4], &[1., 2., 3., f32::NAN]);
    let b = f32t(&[1], &[2.]);
    let r = op1(Op::Equal, &[a.clone(), b.clone()]);
    assert_eq!(r.dtype, DType::Bool);
    assert_eq!(bv(&r), [false, true, false, false]);
    assert_eq!(
        bv(&op1(Op::Less, &[a.clone(), b.clone()])),
        [true, false, false, false]
    );
    assert_eq!(bv(&op1(Op::Greater, &[a, b])), [false, false, true, false]);
    let (x, y) = (
        int(DType::I64, &[3], &[-1, 0, 1]),
        int(DType::I64, &[3], &[0, 0, 0]),
    );
    assert_eq!(bv(&op1(Op::Less, &[x, y])), [true, false, false]);
    let p = bools(&[4], &[true, true, false, false]);
    let q = bools(&[4], &[true, false, true, false]);
    assert_eq!(
        bv(&op1(Op::And, &[p.clone(), q.clone()])),
        [true, false, false, false]
    );
    assert_eq!(bv(&op1(Op::Or, &[p.clone(), q])), [true, true, true, false]);
    assert_eq!(bv(&op1(Op::Not, &[p])), [false, false, true, true]);
}

#[test]
fn integer_unary_ops_wrap() {
    let x = int(DType::I8, &[3], &[-128, -5, 4]);
    // -(-128) = 128 and |-128| = 128 both wrap to -128 in i8.
    assert_eq!(iv(&op1(Op::Neg, [x.clone()])), [-128, 5, -4]);
    assert_eq!(iv(&op1(Op::Abs, [x.clone()])), [-128, 5, 4]);
    assert_eq!(iv(&op1(Op::Relu, &[x])), [0, 0, 4]);
}

#[test]
fn float_unary_ops() {
    let x = f32t(&[3], &[-1., 0., 2.5]);
    assert_eq!(fv(&op1(Op::Relu, [x.clone()])), [0., 0., 2.5]);
    assert_eq!(fv(&op1(Op::Neg, [x.clone()])), [1., -0., -2.5]);
    assert_eq!(fv(&op1(Op::Abs, &[x])), [1., 0., 2.5]);
    // sqrt(2) = 1.41421356237…, nearest f32 is 1.4142135381698608.
    let r = op1(Op::Sqrt, &[f32t(&[3], &[4., 2., -1.])]);
    close(&fv(&r), &[2., 1.414_213_538_169_860_8, f64::NAN], 0.);
    let r = op1(Op::Reciprocal, &[f32t(&[3], &[4., -0.5, 0.])]);
    close(&fv(&r), &[0.25, -2., INF], 0.);
    // e = 2.718281828…, nearest f32 2.7182817459106445.
    let r = op1(Op::Exp, &[f32t(&[3], &[0., 1., -200.])]);
    close(&fv(&r), &[1., 2.718_281_745_910_644_5, 0.], 0.);
    let r = op1(Op::Log, &[f32t(&[4], &[1., 0., -1., 7.389_056])]);
    close(&fv(&r), &[0., -INF, f64::NAN, 2.0], 1e-7);
}

#[test]
fn transcendental_functions_match_published_values() {
    // erf from tables: erf(1) = 0.8427007929497149, erf(-0.5) = -0.5204998778130465,
    // erf(3) = 0.9999779095030014.
    let r = op1(Op::Erf, &[f32t(&[4], &[0., 1., -0.5, 3.])]);
    close(
        &fv(&r),
        &[
            0.,
            0.842_700_792_949_714_9,
            -0.520_499_877_813_046_5,
            0.999_977_909_503_001_4,
        ],
        6e-8,
    );
    // tanh(0.5) = 0.46211715726000974, tanh(-2) = -0.9640275800758169.
    let r = op1(Op::Tanh, &[f32t(&[2], &[0.5, -2.])]);
    close(
        &fv(&r),
        &[0.462_117_157_260_009_74, -0.964_027_580_075_816_9],
        6e-8,
    );
    // sigmoid(2) = 1 / (1 + e^-2) = 0.8807970779778823.
    let r = op1(Op::Sigmoid, &[f32t(&[3], &[0., 2., -2.])]);
    close(
        &fv(&r),
        &[0.5, 0.880_797_077_977_882_3, 0.119_202_922_022_117_55],
        6e-8,
    );
    // silu(x) = x * sigmoid(x): silu(2) = 1.7615941559557646, silu(-1) = -0.2689414213699951.
    let r = op1(Op::Silu, &[f32t(&[2], &[2., -1.])]);
    close(
        &fv(&r),
        &[1.761_594_155_955_764_6, -0.268_941_421_369_995_1],
        1.2e-7,
    );
}

#[test]
fn gelu_exact_and_tanh_forms() {
    // Exact: gelu(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.5 (1 + 0.6826894921370859).
    let x = f32t(&[3], &[1., -1., 0.]);
    let r = op1(Op::Gelu { tanh_approx: false }, [x.clone()]);
    close(
        &fv(&r),
        &[0.841_344_746_068_542_9, -0.158_655_253_931_457_07, 0.],
        6e-8,
    );
    // tanh form from its formula, evaluated with std's tanh.
    let g = |x: f64| {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        0.5 * x * (1.0 + (c * (x + 0.044715 * x.powi(3))).tanh())
    };
    let r = op1(Op::Gelu { tanh_approx: true }, &[x]);
    close(&fv(&r), &[g(1.), g(-1.), 0.], 6e-8);
    // The two forms differ slightly: tanh form of 1 is 0.8411919906082768.
    assert!((g(1.) - 0.841_191_990_608_276_8).abs() < 1e-12);
}

#[test]
fn where_broadcasts_all_three_operands() {
    let c = bools(&[2], &[true, false]);
    let x = f32t(&[2, 2], &[1., 2., 3., 4.]);
    let y = f32t(&[], &[0.]);
    let r = op1(Op::Where, &[c, x, y]);
    assert_eq!(r.shape(), &[2, 2]);
    assert_eq!(fv(&r), [1., 0., 3., 0.]);
    let r = op1(
        Op::Where,
        &[
            bools(&[2, 1], &[false, true]),
            int(DType::I8, &[1], &[5]),
            int(DType::I8, &[3], &[1, 2, 3]),
        ],
    );
    assert_eq!(iv(&r), [1, 2, 3, 5, 5, 5]);
}

#[test]
fn cast_float_to_int_rounds_half_even_and_saturates() {
    let x = f32t(&[7], &[2.5, 3.5, -2.5, 300., -300., f32::NAN, 1.4999]);
    let r = op1(Op::Cast { to: DType::I8 }, &[x]);
    assert_eq!(
        (r.dtype, iv(&r)),
        (DType::I8, vec![2, 4, -2, 127, -128, 0, 1])
    );
    // i4 range is [-8, 7]: 7.6 -> 8 -> 7, -9 -> -8.
    let r = op1(Op::Cast { to: DType::I4 }, &[f32t(&[2], &[7.6, -9.])]);
    assert_eq!(iv(&r), [7, -8]);
}

#[test]
fn cast_int_to_int_wraps_and_int_to_float_rounds() {
    let r = op1(
        Op::Cast { to: DType::I8 },
        &[int(DType::I64, &[3], &[200, -129, 127])],
    );
    assert_eq!(iv(&r), [-56, 127, 127]);
    // f16 spacing at 2048 is 2: 2049 -> 2048, 2051 -> 2052 (ties to even).
    let r = op1(
        Op::Cast { to: DType::F16 },
        &[int(DType::I32, &[2], &[2049, 2051])],
    );
    assert_eq!((r.dtype, fv(&r)), (DType::F16, vec![2048., 2052.]));
}

#[test]
fn cast_between_floats_and_bools() {
    // 65519 is below the f16 overflow threshold 65520 and rounds to 65504.
    let r = op1(
        Op::Cast { to: DType::F16 },
        &[f32t(&[3], &[65520., 65519., 0.1])],
    );
    assert_eq!(fv(&r), [f32::INFINITY, 65504., 0.099_975_586]);
    // bf16: 1 + 2^-8 ties to 1.0; 0.1 -> 205/128 * 2^-4 = 0.10009765625.
    let r = op1(
        Op::Cast { to: DType::BF16 },
        &[f32t(&[2], &[1. + 1. / 256., 0.1])],
    );
    assert_eq!(fv(&r), [1.0, 205. / 2048.]);
    let r = op1(
        Op::Cast { to: DType::Bool },
        &[f32t(&[4], &[0., -0., 2., f32::NAN])],
    );
    assert_eq!(bv(&r), [false, false, true, true]);
    let r = op1(Op::Cast { to: DType::F32 }, &[bools(&[2], &[true, false])]);
    assert_eq!(fv(&r), [1., 0.]);
    let r = op1(Op::Cast { to: DType::I32 }, &[bools(&[2], &[true, false])]);
    assert_eq!(iv(&r), [1, 0]);
    let r = op1(
        Op::Cast { to: DType::Bool },
        &[int(DType::I8, &[2], &[0, -3])],
    );
    assert_eq!(bv(&r), [false, true]);
    // f16 -> f32 is exact.
    let r = op1(Op::Cast { to: DType::F32 }, &[f(DType::F16, &[1], &[0.1])]);
    assert_eq!(fv(&r), [0.099_975_586]);
}
