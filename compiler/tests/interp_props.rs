//! Property tests of interpreter invariants: softmax rows sum to 1, transposing by a
//! permutation and its inverse is the identity, quantise-then-dequantise is within
//! half a step, matmuls equal naive reference loops, and a matmul row does not depend
//! on the other rows.

mod interp_util;

use interp_util::*;
use proptest::prelude::*;
use triad_compiler::{DType, Op};

fn cfg() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

/// A shape of rank `1..=3` with dims in `1..=4`, and values for it.
fn shaped(lo: f32, hi: f32) -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    prop::collection::vec(1usize..=4, 1..=3).prop_flat_map(move |shape| {
        let n: usize = shape.iter().product();
        (Just(shape), prop::collection::vec(lo..hi, n))
    })
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn softmax_rows_sum_to_one((shape, v) in shaped(-30., 30.), ax in 0usize..3) {
        let ax = ax % shape.len();
        let r = op1(Op::Softmax { axis: ax as i64 }, &[f32t(&shape, &v)]);
        let sum = op1(
            Op::Reduce { kind: triad_compiler::ReduceKind::Sum, axes: vec![ax as i64], keepdims: false },
            [r.clone()],
        );
        for s in fv(&sum) {
            prop_assert!((s - 1.0).abs() <= 1e-6, "sum {s}");
        }
        prop_assert!(fv(&r).iter().all(|p| (0.0..=1.0).contains(p)));
    }

    #[test]
    fn transpose_then_inverse_is_identity(
        (shape, v) in shaped(-5., 5.),
        perm in Just(()).prop_perturb(|_, mut rng| {
            let mut p: Vec<usize> = (0..3).collect();
            for i in (1..3).rev() {
                p.swap(i, rng.random_range(0..=i));
            }
            p
        }),
    ) {
        let perm: Vec<usize> = perm.into_iter().filter(|&p| p < shape.len()).collect();
        let mut inv = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        let x = f32t(&shape, &v);
        let t = op1(Op::Transpose { perm: perm.clone() }, [x.clone()]);
        let expect: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        prop_assert_eq!(t.shape(), &expect[..]);
        let back = op1(Op::Transpose { perm: inv }, &[t]);
        prop_assert_eq!(back, x);
    }

    #[test]
    fn quantize_dequantize_error_is_at_most_half_a_step(
        scale in 0.01f32..2.0,
        unit in prop::collection::vec(-1.0f32..1.0, 1..16),
    ) {
        // Inputs inside the representable range [-127 s, 127 s].
        let x: Vec<f32> = unit.iter().map(|u| u * 127.0 * scale).collect();
        let n = x.len();
        let s = f32t(&[], &[scale]);
        let q = op1(Op::Quantize { to: DType::I8, axis: -1 }, &[f32t(&[n], &x), s.clone()]);
        let y = op1(Op::Dequantize { to: DType::F32, axis: -1 }, &[q, s]);
        for (a, b) in x.iter().zip(fv(&y)) {
            let err = (f64::from(*a) - f64::from(b)).abs();
            prop_assert!(err <= f64::from(scale) / 2.0 * (1.0 + 1e-6), "x {a} -> {b}, scale {scale}");
        }
    }

    #[test]
    fn i8_matmul_equals_a_naive_loop(
        (m, k, n) in (1usize..6, 1usize..6, 1usize..6),
        seed in prop::collection::vec(-128i64..=127, 72),
    ) {
        let a: Vec<i64> = seed.iter().cycle().take(m * k).copied().collect();
        let b: Vec<i64> = seed.iter().rev().cycle().take(k * n).copied().collect();
        let r = op1(Op::MatMul, &[int(DType::I8, &[m, k], &a), int(DType::I8, &[k, n], &b)]);
        for i in 0..m {
            for j in 0..n {
                let want: i64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                prop_assert_eq!(iv(&r)[i * n + j], want);
            }
        }
    }

    #[test]
    fn f32_matmul_equals_a_naive_f64_loop(
        (m, k, n) in (1usize..6, 1usize..9, 1usize..6),
        seed in prop::collection::vec(-4.0f32..4.0, 72),
    ) {
        let a: Vec<f32> = seed.iter().cycle().take(m * k).copied().collect();
        let b: Vec<f32> = seed.iter().rev().cycle().take(k * n).copied().collect();
        let r = op1(Op::MatMul, &[f32t(&[1, m, k], &a), f32t(&[k, n], &b)]);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j])).sum();
                // One rounding of the f64 result to f32.
                prop_assert_eq!(fv(&r)[i * n + j], want as f32);
            }
        }
    }

    #[test]
    fn a_row_alone_equals_the_row_in_a_bigger_product(
        (m, k, n) in (2usize..6, 1usize..12, 1usize..6),
        seed in prop::collection::vec(-4.0f32..4.0, 72),
        pick in 0usize..6,
    ) {
        // Decode computes one query row; prefill computes all rows at once. The fixed
        // summation order makes the two bit-identical.
        let a: Vec<f32> = seed.iter().cycle().take(m * k).copied().collect();
        let b: Vec<f32> = seed.iter().rev().cycle().take(k * n).copied().collect();
        let i = pick % m;
        let all = op1(Op::MatMul, [f32t(&[m, k], &a), f32t(&[k, n], &b)]);
        let one = op1(Op::MatMul, [f32t(&[1, k], &a[i * k..(i + 1) * k]), f32t(&[k, n], &b)]);
        let row: Vec<u32> = fv(&all)[i * n..(i + 1) * n].iter().map(|v| v.to_bits()).collect();
        let alone: Vec<u32> = fv(&one).iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(row, alone);
    }
}
