//! Attention helpers: rotary position embedding (`Rope`) and `CausalMask`.
//!
//! Rope is the rotate-half form of HF Llama / GPT-NeoX: with `r` rotated features
//! and `h = r / 2`, feature pair `(i, i + h)` at position `p` is rotated by the angle
//! `p * theta^(-2i / r)`:
//!
//! ```text
//! out[i]     = x[i] * cos - x[i + h] * sin        (i < h)
//! out[i + h] = x[i + h] * cos + x[i] * sin
//! out[j]     = x[j]                               (j >= r, not rotated)
//! ```
//!
//! i.e. `x * cos + rotate_half(x) * sin`. Frequencies, angles, sines and cosines are
//! computed in f64 with `libm` (HF builds them in f32, which differs by up to ~1e-4
//! radians at positions in the thousands; this is the exact value), and each output
//! is rounded once to x's dtype.
//!
//! CausalMask: on scores `[..., Sq, Sk]`, query `i` sits at absolute position
//! `Sk - Sq + i` (the queries are the last `Sq` of the `Sk` keys, as with a KV cache);
//! key `j` greater than that position is set to `-inf`, all else passes unchanged.

use ndarray::{ArrayD, Axis};

use super::no_kernel;
use super::tensor::{Array, R, Tensor, f32_of, float_tensor, i64_of, reshape_owned};
use crate::op::Op;

/// The kernel of an attention helper.
pub(super) fn kernel(op: &Op, ins: &[&Tensor]) -> R<Tensor> {
    match op {
        Op::Rope { theta, rotary_dim } => rope(ins[0], ins[1], *theta, *rotary_dim),
        Op::CausalMask => causal_mask(ins[0]),
        _ => no_kernel(op),
    }
}

/// `Rope` of x `[..., S, D]` with positions `[S]`.
pub(crate) fn rope(x: &Tensor, positions: &Tensor, theta: f32, rotary_dim: usize) -> R<Tensor> {
    let a = f32_of(x, "x")?;
    let pos = i64_of(positions, "positions")?;
    let rank = a.ndim();
    if rank < 2 {
        return Err(format!("x must have rank >= 2, got {:?}", a.shape()));
    }
    let (s, d) = (a.shape()[rank - 2], a.shape()[rank - 1]);
    if pos.shape() != [s] {
        return Err(format!(
            "positions must have shape [{s}], got {:?}",
            pos.shape()
        ));
    }
    let r = if rotary_dim == 0 { d } else { rotary_dim };
    if r % 2 != 0 || r > d {
        return Err(format!("rotary_dim {r} must be even and <= head dim {d}"));
    }
    let h = r / 2;
    let theta = f64::from(theta);
    let freqs: Vec<f64> = (0..h)
        .map(|i| libm::pow(theta, -2.0 * i as f64 / r as f64))
        .collect();
    // cos/sin tables [S, h].
    let mut cos = vec![0.0; s * h];
    let mut sin = vec![0.0; s * h];
    for (si, &p) in pos.iter().enumerate() {
        for (i, f) in freqs.iter().enumerate() {
            let angle = p as f64 * f;
            cos[si * h + i] = libm::cos(angle);
            sin[si * h + i] = libm::sin(angle);
        }
    }
    let rows = a.len() / (d.max(1));
    let mut y = reshape_owned(a.mapv(f64::from), &[rows, d])?;
    for (ri, mut row) in y.axis_iter_mut(Axis(0)).enumerate() {
        let si = ri % s.max(1);
        for i in 0..h {
            let (c, sn) = (cos[si * h + i], sin[si * h + i]);
            let (x1, x2) = (row[i], row[i + h]);
            row[i] = x1 * c - x2 * sn;
            row[i + h] = x2 * c + x1 * sn;
        }
    }
    Ok(float_tensor(x.dtype, reshape_owned(y, a.shape())?))
}

/// `CausalMask` of scores `[..., Sq, Sk]`.
pub(crate) fn causal_mask(x: &Tensor) -> R<Tensor> {
    let a = f32_of(x, "scores")?;
    let rank = a.ndim();
    if rank < 2 {
        return Err(format!("scores must have rank >= 2, got {:?}", a.shape()));
    }
    let (sq, sk) = (a.shape()[rank - 2], a.shape()[rank - 1]);
    if sq > sk {
        return Err(format!("more queries ({sq}) than keys ({sk})"));
    }
    let mut y: ArrayD<f32> = a.clone();
    for (idx, v) in y.indexed_iter_mut() {
        let (i, j) = (idx[rank - 2], idx[rank - 1]);
        if j > sk - sq + i {
            *v = f32::NEG_INFINITY;
        }
    }
    Ok(Tensor {
        dtype: x.dtype,
        array: Array::F32(y),
    })
}
