//! `gemm`: integer paths exact, float paths bit-exact against an f64 reference on
//! values whose sums are exact, RNE ties, saturation, i4 packing, and a proptest
//! against a naive reference on random small shapes and dtypes.

use proptest::prelude::*;
use triad_isa::DType;
use triad_sim::Error;

use super::{Run, assert_same, dec, enc, round_to};

/// A one-gemm program on `npu.mx` with scratchpad operands.
fn program(m: u32, n: u32, k: u32, d: DType, o: DType, acc: bool, scale: f32) -> String {
    format!(
        ".buffer a, spm, addr=0, shape=[{m}, {k}], dtype={d}\n\
         .buffer b, spm, addr=4096, shape=[{k}, {n}], dtype={d}\n\
         .buffer out, spm, addr=8192, shape=[{m}, {n}], dtype={o}\n\
         .stream npu.mx\n\
         gemm out, a, b, m={m}, n={n}, k={k}, dtype={d}, out_dtype={o}, accumulate={acc}, scale={scale:?}\n"
    )
}

/// Exact product of row-major matrices in f64 (small integers / dyadic values).
fn matmul(a: &[f64], b: &[f64], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for t in 0..k {
                out[i * n + j] += a[i * k + t] * b[t * n + j];
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn run_gemm(
    (m, n, k): (usize, usize, usize),
    d: DType,
    o: DType,
    acc: bool,
    scale: f32,
    a: &[f64],
    b: &[f64],
    old: &[f64],
) -> Vec<f64> {
    let mut r = Run::new(&program(m as u32, n as u32, k as u32, d, o, acc, scale));
    r.set("a", &enc(d, a));
    r.set("b", &enc(d, b));
    r.set("out", &enc(o, old));
    r.run();
    dec(o, &r.get("out"), m * n)
}

#[test]
fn i8_to_i32_is_exact_and_accumulates() {
    let a: Vec<f64> = [1, -2, 3, 4, 127, -128, 5, 6, -7, 8, 9, -10]
        .map(f64::from)
        .to_vec(); // 3x4
    let b: Vec<f64> = [2, 0, -1, 1, 3, -128, 127, 4].map(f64::from).to_vec(); // 4x2
    let old = [10.0, -20.0, 30.0, -40.0, 50.0, -60.0];
    let p = matmul(&a, &b, 3, 2, 4);
    // Row 0: [1·2 − 2·(−1) + 3·3 + 4·127, 0 − 2 − 384 + 16] = [521, −370].
    assert_eq!(&p[..2], &[521.0, -370.0]);
    let got = run_gemm((3, 2, 4), DType::I8, DType::I32, false, 1.0, &a, &b, &old);
    assert_eq!(got, p);
    let got = run_gemm((3, 2, 4), DType::I8, DType::I32, true, 1.0, &a, &b, &old);
    let want: Vec<f64> = p.iter().zip(&old).map(|(x, y)| x + y).collect();
    assert_eq!(got, want);
}

#[test]
fn requantise_to_i8_rounds_half_even_and_saturates() {
    // 1x1 results 320, 448, −320, 20000, −20000 through scale 1/128:
    // 2.5 → 2, 3.5 → 4, −2.5 → −2, 156.25 → 127, −156.25 → −128.
    let a = [1.0];
    for (prod, want) in [
        (320.0, 2.0),
        (448.0, 4.0),
        (-320.0, -2.0),
        (20000.0, 127.0),
        (-20000.0, -128.0),
    ] {
        let got = run_gemm(
            (1, 1, 1),
            DType::I32,
            DType::I8,
            false,
            0.0078125,
            &a,
            &[prod],
            &[0.0],
        );
        assert_eq!(got, [want], "{prod}");
    }
}

#[test]
fn i32_accumulator_wraps() {
    // 2^30·2 + 2^30·2 = 2^32 wraps to 0 in an i32 accumulator.
    let x = f64::from(1u32 << 30);
    let got = run_gemm(
        (1, 1, 2),
        DType::I32,
        DType::I32,
        false,
        1.0,
        &[x, x],
        &[2.0, 2.0],
        &[0.0],
    );
    assert_eq!(got, [0.0]);
    // Saturating add of the old value with scale 1: i32::MAX − 1 + 5 → i32::MAX.
    let big = f64::from(i32::MAX - 1);
    let got = run_gemm(
        (1, 1, 1),
        DType::I8,
        DType::I32,
        true,
        1.0,
        &[1.0],
        &[5.0],
        &[big],
    );
    assert_eq!(got, [f64::from(i32::MAX)]);
}

#[test]
fn i4_operands_are_packed_low_nibble_first() {
    // 3x3 · 3x1 with odd element counts (9 and 3 nibbles).
    let a = [-8.0, 7.0, 1.0, -1.0, 2.0, -3.0, 4.0, -5.0, 6.0];
    let b = [7.0, -8.0, 3.0];
    let got = run_gemm(
        (3, 1, 3),
        DType::I4,
        DType::I32,
        false,
        1.0,
        &a,
        &b,
        &[0.0; 3],
    );
    assert_eq!(
        got,
        [-56.0 - 56.0 + 3.0, -7.0 - 16.0 - 9.0, 28.0 + 40.0 + 18.0]
    );
}

#[test]
fn f16_and_bf16_results_round_ties_to_even() {
    let t = 2f64.powi(-11);
    // f16: 1 + 2^-11 is half-way between 1 and 1 + 2^-10: even is 1. 1 + 3·2^-11 is
    // half-way between 1 + 2^-10 and 1 + 2^-9: even is 1 + 2^-9.
    for (x, want_bits) in [(t, 0x3c00u16), (3.0 * t, 0x3c02)] {
        let got = run_gemm(
            (1, 1, 2),
            DType::F16,
            DType::F16,
            false,
            1.0,
            &[1.0, x],
            &[1.0, 1.0],
            &[0.0],
        );
        assert_eq!(
            half::f16::from_f64(got[0]).to_bits(),
            want_bits,
            "1 + {x:e}"
        );
    }
    let t = 2f64.powi(-8);
    for (x, want_bits) in [(t, 0x3f80u16), (3.0 * t, 0x3f82)] {
        let got = run_gemm(
            (1, 1, 2),
            DType::BF16,
            DType::BF16,
            false,
            1.0,
            &[1.0, x],
            &[1.0, 1.0],
            &[0.0],
        );
        assert_eq!(
            half::bf16::from_f64(got[0]).to_bits(),
            want_bits,
            "1 + {x:e}"
        );
    }
    // f16 overflow gives infinity: 256 · 256 = 65536 > 65504 (max f16).
    let got = run_gemm(
        (1, 1, 1),
        DType::F16,
        DType::F16,
        false,
        1.0,
        &[256.0],
        &[256.0],
        &[0.0],
    );
    assert_eq!(got, [f64::INFINITY]);
}

#[test]
fn float_epilogue_scales_then_adds_the_old_value() {
    // out = 0.5 · (a·b) + old, f16 in, f16 out.
    let a = [1.5, -2.0, 0.25, 4.0];
    let b = [2.0, 1.0, -3.0, 0.5];
    let old = [100.0, -1.0, 0.125, 7.0];
    let got = run_gemm((2, 2, 2), DType::F16, DType::F16, true, 0.5, &a, &b, &old);
    let p = matmul(&a, &b, 2, 2, 2);
    let want: Vec<f64> = p
        .iter()
        .zip(&old)
        .map(|(x, y)| round_to(DType::F16, 0.5 * x + y))
        .collect();
    assert_same(&got, &want, "gemm f16");
}

#[test]
fn cpu_gemm_on_dram_buffers() {
    let mut r = Run::new(
        ".buffer a, dram, addr=0, shape=[2, 3], dtype=f32\n\
         .buffer b, dram, addr=64, shape=[3, 2], dtype=f32\n\
         .buffer y, dram, addr=128, shape=[2, 2], dtype=bf16\n\
         .stream cpu.2\n\
         gemm y, a, b, m=2, n=2, k=3, dtype=f32, out_dtype=bf16, accumulate=false, scale=1.0\n",
    );
    let a = [0.1, 0.2, 0.3, -1.0, 2.0, 1e-3];
    let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    r.set("a", &enc(DType::F32, &a));
    r.set("b", &enc(DType::F32, &b));
    r.run();
    let got = dec(DType::BF16, &r.get("y"), 4);
    // f32 inputs: the f32 accumulation is far more precise than bf16, so the result
    // is the correctly rounded bf16 of the f64 product (no value here is near a tie).
    let a32: Vec<f64> = a.iter().map(|&x| f64::from(x as f32)).collect();
    let want: Vec<f64> = matmul(&a32, &b, 2, 2, 3)
        .iter()
        .map(|&x| round_to(DType::BF16, x))
        .collect();
    assert_same(&got, &want, "cpu gemm");
}

#[test]
fn bool_gemm_is_an_error() {
    let mut r = Run::new(&program(1, 1, 1, DType::Bool, DType::Bool, false, 1.0));
    assert!(matches!(r.try_run(), Err(Error::Functional { insn, .. }) if insn == "gemm"));
}

fn dtype_pair() -> impl Strategy<Value = (DType, DType)> {
    prop_oneof![
        Just((DType::I8, DType::I32)),
        Just((DType::I8, DType::I8)),
        Just((DType::I4, DType::I32)),
        Just((DType::I4, DType::F16)),
        Just((DType::I32, DType::I32)),
        Just((DType::I8, DType::F32)),
        Just((DType::F16, DType::F16)),
        Just((DType::F16, DType::F32)),
        Just((DType::BF16, DType::BF16)),
        Just((DType::BF16, DType::I8)),
        Just((DType::F32, DType::F32)),
        Just((DType::F32, DType::F16)),
    ]
}

/// A value of `d`: integers over a small range (i4 / i8 their whole range), floats
/// multiples of 1/16 in [−4, 4] so that every product and sum is exact.
fn value(d: DType, raw: i64) -> f64 {
    match d {
        DType::I4 => (raw.rem_euclid(16) - 8) as f64,
        DType::I8 => (raw.rem_euclid(256) - 128) as f64,
        DType::I32 => (raw.rem_euclid(2001) - 1000) as f64,
        _ => (raw.rem_euclid(129) - 64) as f64 / 16.0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// gemm equals a naive reference: exact integer (or exactly representable
    /// float) products summed in f64, `scale · acc + old` rounded once to
    /// `out_dtype` by this file's own rounding.
    #[test]
    fn gemm_matches_a_naive_reference(
        m in 1usize..6, n in 1usize..6, k in 1usize..7,
        (d, o) in dtype_pair(),
        scale in prop_oneof![Just(1.0f32), Just(0.5), Just(0.0625), Just(3.0)],
        acc in any::<bool>(),
        raws in prop::collection::vec(any::<i64>(), 3 * 36 + 36),
    ) {
        let a: Vec<f64> = (0..m * k).map(|i| value(d, raws[i])).collect();
        let b: Vec<f64> = (0..k * n).map(|i| value(d, raws[36 + i])).collect();
        let old: Vec<f64> = (0..m * n).map(|i| round_to(o, value(o, raws[72 + i]))).collect();
        let got = run_gemm((m, n, k), d, o, acc, scale, &a, &b, &old);
        let p = matmul(&a, &b, m, n, k);
        let want: Vec<f64> = p
            .iter()
            .zip(&old)
            .map(|(&x, &y)| round_to(o, f64::from(scale) * x + if acc { y } else { 0.0 }))
            .collect();
        assert_same(&got, &want, &format!("{m}x{n}x{k} {d}->{o} scale {scale} acc {acc}"));
    }
}

#[test]
fn qgemm_dequantises_weights_per_column() {
    // a: 2x3 f16; w: 3x2 i4; per-column scale and zero.
    let mut r = Run::new(
        ".buffer a, spm, addr=0, shape=[2, 3], dtype=f16\n.buffer w, spm, addr=64, shape=[3, 2], dtype=i4\n\
         .buffer s, spm, addr=128, shape=[2], dtype=f32\n.buffer z, spm, addr=192, shape=[2], dtype=i4\n\
         .buffer o, spm, addr=256, shape=[2, 2], dtype=f16\n.stream npu.mx\n\
         qgemm o, a, w, s, z, m=2, n=2, k=3, dtype=f16, wdtype=i4\n",
    );
    let a = [1.0, -2.0, 0.5, 3.0, 0.25, -1.0];
    let w = [7.0, -8.0, 1.0, 2.0, -3.0, 0.0];
    let (scale, zero) = ([0.5, 0.125], [1.0, -2.0]);
    r.set("a", &enc(DType::F16, &a));
    r.set("w", &enc(DType::I4, &w));
    r.set("s", &enc(DType::F32, &scale));
    r.set("z", &enc(DType::I4, &zero));
    r.run();
    let mut want = Vec::new();
    for i in 0..2 {
        for j in 0..2 {
            let acc: f64 = (0..3)
                .map(|t| a[i * 3 + t] * (w[t * 2 + j] - zero[j]))
                .sum();
            want.push(round_to(DType::F16, scale[j] * acc));
        }
    }
    assert_same(&dec(DType::F16, &r.get("o"), 4), &want, "qgemm");
}
