//! Matrix products: `MatMul` (batched, broadcasting), `Gemm` and the weight-quantised
//! `QMatMul`.
//!
//! Floats: operands are widened to f64 (exactly; every product of two f32 values is
//! then exact too) and every output element is the f64 sum of its products **in
//! increasing `k`**, rounded once to the result dtype. The order is fixed, no fused
//! multiply-add is used, and nothing depends on the machine or on the other dims: a
//! row computed alone (decode) is bit-identical to the same row inside a bigger
//! product (prefill). With 53-bit accumulation the result is, in all but
//! astronomically rare near-tie cases, the correctly rounded exact dot product.
//!
//! Integers (i8/i4 operands): every product is exact and is accumulated in i32 with
//! two's complement wrap-around on overflow (computed as exact i64 sums reduced mod
//! 2^32, which is the same thing). `K * 128 * 128` only exceeds `i32::MAX` for
//! `K > 131071`, so in practice the sum is exact.
//!
//! Speed: the float products run through one register-tiled kernel (`gemm_rows`)
//! that keeps the per-element order above, so it is bit-identical to the plain triple
//! loop (a proptest checks this); no BLAS or `matrixmultiply`, whose k-blocking and
//! run-time FMA selection would change the sums. A 128-token pass of a MiniLM-sized
//! int8 model (72 384 x 384 `QMatMul`s) takes about a quarter of a second (README).
//!
//! `QMatMul`: computed as `scale[n] * sum_k A[.., k] * (W[k, n] - zp[n])`, which is
//! `A x ((W - zp) * scale)` regrouped: the products (an f32 times a 9-bit integer)
//! are exact in f64 and summed in increasing `k` as above, the scale is applied to
//! the f64 sum, and only the final result is rounded, to A's dtype.

use ndarray::{Array2, ArrayD, ArrayView2, Axis, Ix2, IxDyn, s};
use triad_isa::DType;

use super::no_kernel;
use super::tensor::{
    Array, R, Tensor, f32_of, float_tensor, i64_of, reshape_owned, round_f64, wrap_int,
};
use crate::infer::broadcast;
use crate::op::Op;

/// The kernel of a matrix product.
pub(super) fn kernel(op: &Op, ins: &[&Tensor]) -> R<Tensor> {
    match op {
        Op::MatMul => matmul(ins[0], ins[1]),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => gemm(ins, *alpha, *beta, *trans_a, *trans_b),
        Op::QMatMul => qmatmul(ins),
        _ => no_kernel(op),
    }
}

/// Split `[..., M, K] x [..., K, N]` into batch shape and matrix dims.
struct Dims {
    batch: Vec<usize>,
    m: usize,
    k: usize,
    n: usize,
}

fn dims(a: &[usize], b: &[usize]) -> R<Dims> {
    if a.len() < 2 || b.len() < 2 {
        return Err(format!(
            "matmul operands must have rank >= 2, got {a:?} and {b:?}"
        ));
    }
    let (ra, rb) = (a.len(), b.len());
    let (m, k, k2, n) = (a[ra - 2], a[ra - 1], b[rb - 2], b[rb - 1]);
    if k != k2 {
        return Err(format!("inner dims differ: A {a:?} x B {b:?}"));
    }
    let batch = broadcast(&a[..ra - 2], &b[..rb - 2])
        .ok_or_else(|| format!("batch dims of {a:?} and {b:?} do not broadcast"))?;
    Ok(Dims { batch, m, k, n })
}

/// Broadcast `x` to `batch ++ [r, c]` and flatten it to `[B, r, c]` (copies).
fn batched<T: Clone>(x: &ArrayD<T>, batch: &[usize], r: usize, c: usize) -> R<ArrayD<T>> {
    let mut full = batch.to_vec();
    full.extend([r, c]);
    let view = x
        .broadcast(IxDyn(&full))
        .ok_or_else(|| format!("cannot broadcast {:?} to {full:?}", x.shape()))?;
    let b: usize = batch.iter().product();
    reshape_owned(view.to_owned(), &[b, r, c])
}

/// Rows of the register tile of [`gemm_rows`].
const TILE_ROWS: usize = 4;
/// Columns of the register tile of [`gemm_rows`] (with `TILE_ROWS`, sixteen f64
/// accumulators: eight SSE2 registers, so the tile stays in registers on every x86-64).
const TILE_COLS: usize = 4;

/// `a [M, K] x b [K, N]` in f64 with the fixed summation order of the module docs.
fn gemm_f64(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> R<Array2<f64>> {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    // `iter` walks in logical (row-major) order whatever the strides.
    let a: Vec<f64> = a.iter().copied().collect();
    let b: Vec<f64> = b.iter().copied().collect();
    Array2::from_shape_vec((m, n), gemm_rows(&a, &b, m, k, n)).map_err(|e| e.to_string())
}

/// Row-major `a [m, k] x b [k, n]` in f64: every output element is `0.0` plus its
/// products `a[i, p] * b[p, j]` added one at a time in increasing `p` (no fused
/// multiply-add), exactly the order of the plain triple loop ([`tests`] check this bit
/// for bit). The speed comes only from the loop nest: the output is cut into
/// `TILE_ROWS x TILE_COLS` tiles whose accumulators stay in registers while `p` runs,
/// so each loaded `b` value serves `TILE_ROWS` rows and each `a` value `TILE_COLS`
/// columns; the tiles' independent lanes vectorise without reordering any sum.
fn gemm_rows(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; m * n];
    for i0 in (0..m).step_by(TILE_ROWS) {
        let rows = TILE_ROWS.min(m - i0);
        for j0 in (0..n).step_by(TILE_COLS) {
            let cols = TILE_COLS.min(n - j0);
            let at = Tile { i0, j0, k, n };
            if rows == TILE_ROWS && cols == TILE_COLS {
                // Constant bounds: the inlined loop nest is fully unrolled.
                tile(a, b, at, TILE_ROWS, TILE_COLS, &mut out);
            } else {
                tile(a, b, at, rows, cols, &mut out);
            }
        }
    }
    out
}

/// Where one output tile of [`gemm_rows`] sits: first row and column, and the inner
/// and output widths.
#[derive(Clone, Copy)]
struct Tile {
    i0: usize,
    j0: usize,
    k: usize,
    n: usize,
}

/// One `rows x cols` output tile (`rows <= TILE_ROWS`, `cols <= TILE_COLS`) of
/// [`gemm_rows`], accumulated in increasing `p`.
#[inline(always)]
fn tile(a: &[f64], b: &[f64], at: Tile, rows: usize, cols: usize, out: &mut [f64]) {
    let Tile { i0, j0, k, n } = at;
    let mut acc = [[0.0f64; TILE_COLS]; TILE_ROWS];
    for p in 0..k {
        let brow = &b[p * n + j0..][..cols];
        for (r, accr) in acc.iter_mut().enumerate().take(rows) {
            let x = a[(i0 + r) * k + p];
            for (c, &y) in accr.iter_mut().zip(brow) {
                *c += x * y;
            }
        }
    }
    for (r, accr) in acc.iter().enumerate().take(rows) {
        out[(i0 + r) * n + j0..][..cols].copy_from_slice(&accr[..cols]);
    }
}

fn as2<T>(x: ndarray::ArrayViewD<'_, T>) -> R<ArrayView2<'_, T>> {
    x.into_dimensionality::<Ix2>().map_err(|e| e.to_string())
}

/// f64 product of broadcast-batched operands; result shape `batch ++ [M, N]`.
fn matmul_f64(a: &ArrayD<f64>, b: &ArrayD<f64>) -> R<ArrayD<f64>> {
    let d = dims(a.shape(), b.shape())?;
    let mut out_shape = d.batch.clone();
    out_shape.extend([d.m, d.n]);
    if b.ndim() == 2 && a.shape()[..a.ndim() - 2] == d.batch[..] {
        // Common case (activations x weight): one GEMM over all batch rows.
        let rows: usize = a.shape()[..a.ndim() - 1].iter().product();
        let a2 = reshape_owned(a.clone(), &[rows, d.k])?;
        let prod = gemm_f64(as2(a2.view())?, as2(b.view())?)?;
        return reshape_owned(prod.into_dyn(), &out_shape);
    }
    let ab = batched(a, &d.batch, d.m, d.k)?;
    let bb = batched(b, &d.batch, d.k, d.n)?;
    let nb: usize = d.batch.iter().product();
    let mut out = ndarray::Array3::<f64>::zeros((nb, d.m, d.n));
    for i in 0..nb {
        let x = as2(ab.index_axis(Axis(0), i))?;
        let y = as2(bb.index_axis(Axis(0), i))?;
        out.slice_mut(s![i, .., ..]).assign(&gemm_f64(x, y)?);
    }
    reshape_owned(out.into_dyn(), &out_shape)
}

/// Exact integer product accumulated in i32 with wrap-around (see module docs).
fn matmul_int(a: &ArrayD<i64>, b: &ArrayD<i64>) -> R<ArrayD<i64>> {
    let d = dims(a.shape(), b.shape())?;
    let ab = batched(a, &d.batch, d.m, d.k)?;
    let bb = batched(b, &d.batch, d.k, d.n)?;
    let nb: usize = d.batch.iter().product();
    let mut out = ndarray::Array3::<i64>::zeros((nb, d.m, d.n));
    for bi in 0..nb {
        let x = as2(ab.index_axis(Axis(0), bi))?;
        let y = as2(bb.index_axis(Axis(0), bi))?;
        for i in 0..d.m {
            let mut acc = vec![0i64; d.n];
            for kk in 0..d.k {
                let p = x[[i, kk]];
                if p == 0 {
                    continue;
                }
                for (j, q) in y.row(kk).iter().enumerate() {
                    // |p * q| <= 2^14 and K < 2^49 keep the i64 sum exact.
                    acc[j] = acc[j].wrapping_add(p * q);
                }
            }
            for (j, v) in acc.into_iter().enumerate() {
                out[[bi, i, j]] = wrap_int(DType::I32, v);
            }
        }
    }
    let mut out_shape = d.batch;
    out_shape.extend([d.m, d.n]);
    reshape_owned(out.into_dyn(), &out_shape)
}

/// `MatMul`: floats of one dtype, or i8/i4 operands giving i32.
pub(crate) fn matmul(a: &Tensor, b: &Tensor) -> R<Tensor> {
    match (&a.array, &b.array) {
        (Array::F32(x), Array::F32(y)) => {
            if a.dtype != b.dtype {
                return Err(format!(
                    "operand dtypes differ: {} and {}",
                    a.dtype, b.dtype
                ));
            }
            let r = matmul_f64(&x.mapv(f64::from), &y.mapv(f64::from))?;
            Ok(float_tensor(a.dtype, r))
        }
        (Array::I64(x), Array::I64(y)) => {
            let small = |d: DType| matches!(d, DType::I8 | DType::I4);
            if !small(a.dtype) || !small(b.dtype) {
                return Err(format!(
                    "integer matmul needs i8/i4 operands, got {} and {}",
                    a.dtype, b.dtype
                ));
            }
            Ok(Tensor {
                dtype: DType::I32,
                array: Array::I64(matmul_int(x, y)?),
            })
        }
        _ => Err(format!(
            "operand dtypes {} x {}: expected equal floats or i8/i4 integers",
            a.dtype, b.dtype
        )),
    }
}

fn matrix(t: &Tensor, what: &str, trans: bool) -> R<Array2<f64>> {
    let a = f32_of(t, what)?;
    let a = a
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| format!("{what} must be 2-D, got {:?}", a.shape()))?;
    let a = a.mapv(f64::from);
    Ok(if trans { a.reversed_axes() } else { a })
}

/// `Gemm`: `alpha * op(A) x op(B) + beta * C`, computed in f64, rounded once.
pub(crate) fn gemm(
    ins: &[&Tensor],
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
) -> R<Tensor> {
    let (a, b) = (matrix(ins[0], "A", trans_a)?, matrix(ins[1], "B", trans_b)?);
    if a.ncols() != b.nrows() {
        return Err(format!("inner dims differ: {} vs {}", a.ncols(), b.nrows()));
    }
    let mut r = gemm_f64(a.view(), b.view())? * f64::from(alpha);
    if let Some(c) = ins.get(2) {
        let c = f32_of(c, "C")?;
        let cv = c
            .broadcast(IxDyn(r.shape()))
            .ok_or_else(|| format!("C {:?} does not broadcast to {:?}", c.shape(), r.shape()))?;
        let beta = f64::from(beta);
        r.zip_mut_with(&cv, |o, &cc| *o += beta * f64::from(cc));
    }
    Ok(float_tensor(ins[0].dtype, r.into_dyn()))
}

/// `QMatMul`: `A x ((W - zp) * scale)` with per-tensor or per-output-channel scale.
pub(crate) fn qmatmul(ins: &[&Tensor]) -> R<Tensor> {
    let a = f32_of(ins[0], "A")?;
    let w = i64_of(ins[1], "W")?;
    let scale = f32_of(ins[2], "scale")?;
    if w.ndim() != 2 || a.ndim() < 1 || a.shape()[a.ndim() - 1] != w.shape()[0] {
        return Err(format!(
            "A {:?} does not match W {:?}",
            a.shape(),
            w.shape()
        ));
    }
    let (k, n) = (w.shape()[0], w.shape()[1]);
    let per_col = |v: &ArrayD<f32>| -> R<Vec<f64>> {
        match v.shape() {
            [] => Ok(vec![f64::from(v.iter().next().copied().unwrap_or(0.0)); n]),
            [c] if *c == n => Ok(v.iter().map(|&x| f64::from(x)).collect()),
            s => Err(format!("scale must be [] or [{n}], got {s:?}")),
        }
    };
    let sc = per_col(scale)?;
    let zp: Vec<f64> = match ins.get(3) {
        None => vec![0.0; n],
        Some(z) => {
            let z = i64_of(z, "zero point")?;
            per_col(&z.mapv(|v| v as f32))?
        }
    };
    // Row-major `(W - zp)` and A as f64 (all exact), then the in-order product.
    let wd: Vec<f64> = w
        .iter()
        .zip(zp.iter().cycle())
        .map(|(&q, z)| q as f64 - z)
        .collect();
    let mut out_shape = a.shape().to_vec();
    *out_shape.last_mut().unwrap_or(&mut 0) = n;
    let rows: usize = a.shape()[..a.ndim() - 1].iter().product();
    let a2: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
    let prod = gemm_rows(&a2, &wd, rows, k, n);
    let dtype = ins[0].dtype;
    let out: Vec<f32> = prod
        .iter()
        .zip(sc.iter().cycle())
        .map(|(v, s)| round_f64(dtype, v * s))
        .collect();
    let out = ArrayD::from_shape_vec(IxDyn(&out_shape), out).map_err(|e| e.to_string())?;
    Ok(Tensor {
        dtype,
        array: Array::F32(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain triple loop the tiled kernel must equal bit for bit: `0.0` plus the
    /// products in increasing `p`.
    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    s += a[i * k + p] * b[p * n + j];
                }
                out[i * n + j] = s;
            }
        }
        out
    }

    /// f32 values (as f64) spanning many binades, signed zeros included, so that
    /// partial sums round and a reordered sum would show.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-1.0e4f32..1.0e4).prop_map(f64::from),
            (-1.0f32..1.0, -30i32..30).prop_map(|(x, e)| f64::from(x) * 2f64.powi(e)),
            Just(0.0),
            Just(-0.0),
        ]
    }

    /// Dims that cross the tile edges (partial row and column tiles), `k` from 0.
    fn problem() -> impl Strategy<Value = (usize, usize, usize, Vec<f64>, Vec<f64>)> {
        (1usize..11, 0usize..20, 1usize..11).prop_flat_map(|(m, k, n)| {
            (
                Just(m),
                Just(k),
                Just(n),
                prop::collection::vec(value(), m * k),
                prop::collection::vec(value(), k * n),
            )
        })
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn tiled_kernel_equals_the_plain_loop_bit_for_bit((m, k, n, a, b) in problem()) {
            prop_assert_eq!(bits(&gemm_rows(&a, &b, m, k, n)), bits(&naive(&a, &b, m, k, n)));
        }

        #[test]
        fn qmatmul_equals_the_plain_formula(
            (m, k, n) in (1usize..7, 1usize..12, 1usize..7),
            seed in prop::collection::vec(-1000.0f32..1000.0, 1..40),
            q in prop::collection::vec(-128i64..=127, 1..40),
            zp in -3i64..=3,
        ) {
            let a: Vec<f32> = seed.iter().cycle().take(m * k).copied().collect();
            let w: Vec<i64> = q.iter().cycle().take(k * n).copied().collect();
            let sc: Vec<f32> = (0..n).map(|j| 0.01 + j as f32 * 0.37).collect();
            let r = qmatmul(&[
                &Tensor::from_f32s(DType::F32, &[1, m, k], a.clone()).expect("A"),
                &Tensor::from_i64s(DType::I8, &[k, n], w.clone()).expect("W"),
                &Tensor::from_f32s(DType::F32, &[n], sc.clone()).expect("scale"),
                &Tensor::from_i64s(DType::I8, &[], vec![zp]).expect("zp"),
            ])
            .expect("qmatmul");
            let got = r.f32s().expect("float result");
            for i in 0..m {
                for j in 0..n {
                    let mut s = 0.0f64;
                    for p in 0..k {
                        s += f64::from(a[i * k + p]) * (w[p * n + j] - zp) as f64;
                    }
                    let want = round_f64(DType::F32, s * f64::from(sc[j]));
                    prop_assert_eq!(got[i * n + j].to_bits(), want.to_bits());
                }
            }
        }
    }
}
