//! Normalisations: `Softmax`, `LayerNorm`, `RmsNorm`.
//!
//! All statistics are computed in f64 in index order and each result is rounded once
//! to the input dtype.
//!
//! - Softmax: `exp(x - max) / sum(exp(x - max))` along the axis (numerically stable;
//!   `-inf` entries give exactly 0). A lane that is entirely `-inf` gives NaN, as in
//!   PyTorch; a causal mask never produces one because query `i` always sees key 0.
//! - LayerNorm over the dims from `axis` on: `(x - mean) / sqrt(var + eps) * gamma + beta`
//!   with the population variance (divide by the count), computed in two passes.
//! - RmsNorm: `x / sqrt(mean(x^2) + eps) * gamma`.

use ndarray::{ArrayD, Axis};

use super::no_kernel;
use super::tensor::{R, Tensor, f32_of, float_tensor, reshape_owned};
use crate::infer::norm_axis;
use crate::op::Op;

/// The kernel of a normalisation.
pub(super) fn kernel(op: &Op, ins: &[&Tensor]) -> R<Tensor> {
    match op {
        Op::Softmax { axis } => softmax(ins[0], *axis),
        Op::LayerNorm { axis, eps } => layer_norm(ins, *axis, *eps),
        Op::RmsNorm { axis, eps } => rms_norm(ins, *axis, *eps),
        _ => no_kernel(op),
    }
}

fn axis(axis: i64, rank: usize) -> R<usize> {
    norm_axis(axis, rank).ok_or_else(|| format!("axis {axis} out of range for rank {rank}"))
}

/// `Softmax` along `axis`.
pub(crate) fn softmax(x: &Tensor, ax: i64) -> R<Tensor> {
    let a = f32_of(x, "operand")?;
    let ax = axis(ax, a.ndim())?;
    let mut y: ArrayD<f64> = a.mapv(f64::from);
    for mut lane in y.lanes_mut(Axis(ax)) {
        let m = lane.iter().copied().fold(f64::NEG_INFINITY, |m, v| {
            if v.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(v)
            }
        });
        lane.mapv_inplace(|v| libm::exp(v - m));
        let sum: f64 = lane.iter().sum();
        lane.mapv_inplace(|v| v / sum);
    }
    Ok(float_tensor(x.dtype, y))
}

/// Shared body of LayerNorm and RmsNorm: `x` viewed as `[outer, inner]` rows.
fn normalise(ins: &[&Tensor], ax: i64, eps: f32, centre: bool) -> R<Tensor> {
    let x = f32_of(ins[0], "x")?;
    let a = axis(ax, x.ndim())?;
    let inner: usize = x.shape()[a..].iter().product();
    let outer: usize = x.shape()[..a].iter().product();
    let flat = |t: &Tensor, what: &str| -> R<Vec<f64>> {
        let v = f32_of(t, what)?;
        if v.shape() != &x.shape()[a..] {
            return Err(format!(
                "{what} must have shape {:?}, got {:?}",
                &x.shape()[a..],
                v.shape()
            ));
        }
        Ok(v.iter().map(|&g| f64::from(g)).collect())
    };
    let gamma = flat(ins[1], "gamma")?;
    let beta = match ins.get(2) {
        Some(b) => Some(flat(b, "beta")?),
        None => None,
    };
    let mut y = reshape_owned(x.mapv(f64::from), &[outer, inner])?;
    let n = inner as f64;
    let eps = f64::from(eps);
    for mut row in y.rows_mut() {
        let mean = if centre { row.sum() / n } else { 0.0 };
        let ms = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let inv = 1.0 / (ms + eps).sqrt();
        for (j, v) in row.iter_mut().enumerate() {
            let b = beta.as_ref().map_or(0.0, |b| b[j]);
            *v = (*v - mean) * inv * gamma[j] + b;
        }
    }
    Ok(float_tensor(ins[0].dtype, reshape_owned(y, x.shape())?))
}

/// `LayerNorm`: inputs x, gamma, optional beta.
pub(crate) fn layer_norm(ins: &[&Tensor], ax: i64, eps: f32) -> R<Tensor> {
    normalise(ins, ax, eps, true)
}

/// `RmsNorm`: inputs x, gamma.
pub(crate) fn rms_norm(ins: &[&Tensor], ax: i64, eps: f32) -> R<Tensor> {
    normalise(ins, ax, eps, false)
}
