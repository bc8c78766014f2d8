//! Interpreter tests of the attention helpers against hand-computed values: Rope
//! (rotate-half pairing, partial rotary dims, several positions) and CausalMask
//! (square and Sq < Sk).

mod interp_util;

use interp_util::*;
use triad_compiler::{DType, Op};

fn rope(theta: f32, rotary_dim: usize) -> Op {
    Op::Rope { theta, rotary_dim }
}

#[test]
fn rope_rotates_first_half_with_second_half() {
    // D = 4, h = 2, theta 10000: frequencies 10000^0 = 1 and 10000^(-2/4) = 0.01.
    // At position 1 the angles are 1 and 0.01; pairs are (x0, x2) and (x1, x3):
    // out0 = x0 cos 1 - x2 sin 1, out2 = x2 cos 1 + x0 sin 1, and likewise with 0.01.
    let x = f32t(&[1, 4], &[1., 2., 3., 4.]);
    let r = op1(rope(10000., 0), &[x, int(DType::I64, &[1], &[1])]);
    let (c1, s1, c2, s2) = (1f64.cos(), 1f64.sin(), 0.01f64.cos(), 0.01f64.sin());
    let want = [
        c1 - 3. * s1,
        2. * c2 - 4. * s2,
        3. * c1 + s1,
        4. * c2 + 2. * s2,
    ];
    close(&fv(&r), &want, 3e-7);
}

#[test]
fn rope_at_position_zero_is_identity_and_partial_dims_pass_through() {
    // Two heads, positions [0, 2], rotary_dim 2 of D = 4: only (x0, x1) rotate, with
    // frequency 1 and angle = position; x2, x3 pass through.
    let x = f32t(
        &[2, 2, 4],
        &[
            1., 2., 3., 4., //
            5., 6., 7., 8., //
            -1., 0., 9., 9., //
            0., -1., 9., 9.,
        ],
    );
    let r = op1(rope(500000., 2), &[x, int(DType::I64, &[2], &[0, 2])]);
    let (c, s) = (2f64.cos(), 2f64.sin());
    let want = [
        1.,
        2.,
        3.,
        4., // position 0: unchanged
        5. * c - 6. * s,
        6. * c + 5. * s,
        7.,
        8., // position 2
        -1.,
        0.,
        9.,
        9., // position 0
        s,  // 0*c - (-1)*s
        -c, // -1*c + 0*s
        9.,
        9.,
    ];
    close(&fv(&r), &want, 1e-6);
}

#[test]
fn rope_rounds_to_f16() {
    // [1, 0] at position 1 with D = 2: (cos 1, sin 1) = (0.5403023, 0.8414710); the f16
    // spacing in [0.5, 1) is 2^-11: 1106.54 -> 1107 / 2048 = 0.54052734375 and
    // 1723.33 -> 1723 / 2048 = 0.84130859375.
    let r = op1(
        rope(10000., 0),
        &[
            f(DType::F16, &[1, 2], &[1., 0.]),
            int(DType::I64, &[1], &[1]),
        ],
    );
    let want = [
        triad_compiler::round_to(DType::F16, 1f32.cos()),
        triad_compiler::round_to(DType::F16, 1f32.sin()),
    ];
    assert_eq!(fv(&r), want);
    assert_eq!(want, [1107. / 2048., 1723. / 2048.]);
}

#[test]
fn causal_mask_square() {
    let r = op1(Op::CausalMask, &[f32t(&[3, 3], &[1.; 9])]);
    let n = f32::NEG_INFINITY;
    assert_eq!(fv(&r), [1., n, n, 1., 1., n, 1., 1., 1.]);
}

#[test]
fn causal_mask_with_fewer_queries_than_keys() {
    // Sq = 2, Sk = 3: query 0 sits at position 1 (sees keys 0, 1), query 1 at 2.
    let r = op1(Op::CausalMask, &[f(DType::F16, &[2, 1, 2, 3], &[2.; 12])]);
    let n = f32::NEG_INFINITY;
    let one = [2., 2., n, 2., 2., 2.];
    assert_eq!(r.dtype, DType::F16);
    assert_eq!(fv(&r), [one, one].concat());
    // Decode: one query sees every key.
    let r = op1(Op::CausalMask, &[f32t(&[1, 4], &[0.; 4])]);
    assert_eq!(fv(&r), [0.; 4]);
}
