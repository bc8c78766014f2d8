//! `gemm`: out[m×n] = convert_O(scale · a[m×k]·b[k×n] + (accumulate ? out : 0)).
//!
//! Accumulation (index order, k ascending): i32 for i4 / i8 / i32 inputs, wrapping
//! on overflow like an i32 accumulator; i64 for i64; f32 for float inputs, every
//! product and partial sum rounded to f32 (no fused multiply-add; f16 and bf16
//! products are exact in f32). Epilogue: float inputs form `scale · acc` in f32,
//! integer inputs in f64 (exact for `scale = 1` or |acc| < 2^29); the old `out`
//! value is added and the sum is rounded once to `out_dtype` (nearest even;
//! integers saturate). An integer result with `scale = 1` is computed exactly in
//! i128 and saturated. `bool` operands are an error.

use triad_isa::{DType, Gemm, QGemm};

use super::Exec;
use super::elem::{self, Vals};
use crate::Result;

/// Runs one `gemm`.
pub(super) fn gemm(x: &mut Exec<'_>, i: &Gemm) -> Result<()> {
    let (m, n, k) = (i.m as usize, i.n as usize, i.k as usize);
    if i.dtype == DType::Bool || i.out_dtype == DType::Bool {
        return Err(x.err("is not defined on bool"));
    }
    let a = x.load(i.a, i.dtype, (m * k) as u64)?;
    let b = x.load(i.b, i.dtype, (k * n) as u64)?;
    let old = if i.accumulate {
        Some(x.load(i.out, i.out_dtype, (m * n) as u64)?)
    } else {
        None
    };
    let out = match (a, b) {
        (Vals::Float(a), Vals::Float(b)) => {
            let acc = float_product(&a, &b, m, n, k);
            let scaled = acc.iter().map(|&v| f64::from(i.scale * v));
            epilogue_f64(i.out_dtype, scaled, old.as_ref())
        }
        (Vals::Int(a), Vals::Int(b)) => {
            let acc = int_product(&a, &b, m, n, k, i.dtype == DType::I64);
            if i.scale == 1.0 && i.out_dtype.is_int() {
                let old: Vec<i64> = match &old {
                    Some(Vals::Int(o)) => o.clone(),
                    _ => vec![0; m * n],
                };
                Vals::Int(
                    acc.iter()
                        .zip(&old)
                        .map(|(&p, &q)| {
                            let s = i128::from(p) + i128::from(q);
                            let s = s.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
                            elem::saturate(i.out_dtype, s)
                        })
                        .collect(),
                )
            } else {
                let scale = f64::from(i.scale);
                epilogue_f64(
                    i.out_dtype,
                    acc.iter().map(|&p| scale * p as f64),
                    old.as_ref(),
                )
            }
        }
        _ => return Err(x.err("internal error: operands decoded to different kinds")),
    };
    x.store(i.out, i.out_dtype, &out)
}

/// `acc + old` rounded once to `dtype`.
fn epilogue_f64(dtype: DType, acc: impl Iterator<Item = f64>, old: Option<&Vals>) -> Vals {
    match old {
        None => elem::from_f64(dtype, acc),
        Some(o) => {
            let o = o.to_f64();
            elem::from_f64(dtype, acc.zip(o).map(|(p, q)| p + q))
        }
    }
}

/// Row-major m×n f32 products, k ascending.
fn float_product(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let bt = transpose(b, k, n);
    let mut out = vec![0f32; m * n];
    for r in 0..m {
        let row = &a[r * k..(r + 1) * k];
        for c in 0..n {
            let col = &bt[c * k..(c + 1) * k];
            let mut s = 0f32;
            for t in 0..k {
                s += row[t] * col[t];
            }
            out[r * n + c] = s;
        }
    }
    out
}

/// Row-major m×n integer products: an i32 accumulator (wrapping) unless `wide`.
fn int_product(a: &[i64], b: &[i64], m: usize, n: usize, k: usize, wide: bool) -> Vec<i64> {
    let bt = transpose(b, k, n);
    let mut out = vec![0i64; m * n];
    for r in 0..m {
        let row = &a[r * k..(r + 1) * k];
        for c in 0..n {
            let col = &bt[c * k..(c + 1) * k];
            out[r * n + c] = if wide {
                row.iter()
                    .zip(col)
                    .fold(0i64, |s, (&p, &q)| s.wrapping_add(p.wrapping_mul(q)))
            } else {
                i64::from(row.iter().zip(col).fold(0i32, |s, (&p, &q)| {
                    s.wrapping_add((p as i32).wrapping_mul(q as i32))
                }))
            };
        }
    }
    out
}

/// The n×k transpose of a row-major k×n matrix.
fn transpose<T: Copy + Default>(b: &[T], k: usize, n: usize) -> Vec<T> {
    let mut t = vec![T::default(); k * n];
    for r in 0..k {
        for c in 0..n {
            t[c * k + r] = b[r * n + c];
        }
    }
    t
}

/// `qgemm` (W8A16 / W4A16): out[i, j] = round_D(scale[j] · Σ_k a[i, k] · (w[k, j] −
/// zero[j])), each product exact in f32, summed in f32 in increasing k, times the
/// scale in f32, rounded once to D.
pub(super) fn qgemm(x: &mut Exec<'_>, i: &QGemm) -> Result<()> {
    let (m, n, k) = (i.m as usize, i.n as usize, i.k as usize);
    if !matches!(i.wdtype, DType::I8 | DType::I4) || !i.dtype.is_float() {
        return Err(x.err(format!(
            "needs float activations and i8 / i4 weights, not {} and {}",
            i.dtype, i.wdtype
        )));
    }
    let a = x.floats(i.a, i.dtype, (m * k) as u64)?;
    let (Vals::Int(w), Vals::Int(zero)) = (
        x.load(i.w, i.wdtype, (k * n) as u64)?,
        x.load(i.zero, i.wdtype, n as u64)?,
    ) else {
        return Err(x.err("internal error: integer weights decoded as float"));
    };
    let scale = x.floats(i.scale, DType::F32, n as u64)?;
    let mut out = Vec::with_capacity(m * n);
    for r in 0..m {
        for c in 0..n {
            let mut s = 0f32;
            for t in 0..k {
                s += a[r * k + t] * (w[t * n + c] - zero[c]) as f32;
            }
            out.push(f64::from(scale[c] * s));
        }
    }
    x.store(i.out, i.dtype, &elem::from_f64(i.dtype, out))
}
