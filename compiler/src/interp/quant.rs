//! Linear quantisation: `Quantize` and `Dequantize`, per tensor (scale `[]`) or per
//! channel (scale `[C]` along `axis`), with an optional zero point of the scale's shape.
//!
//! - Quantize: `q = saturate(round_half_even(x / scale) + zp)` to the target's range
//!   (i4: [-8, 7], i8: [-128, 127], i32). The division is done in f32, as ONNX's
//!   `QuantizeLinear` specifies; NaN quantises to the zero point; +-inf saturate.
//! - Dequantize: `(q - zp) * scale` in f64 (exact for i4/i8, whose differences have
//!   at most 9 bits; for i32 the product may be rounded to f64 first), then rounded
//!   once to the float target.
//!
//! Scales must be positive and finite; anything else is an evaluation error (a zero
//! scale makes quantisation meaningless rather than merely lossy).

use ndarray::{ArrayD, IxDyn, Zip};
use triad_isa::DType;

use super::no_kernel;
use super::tensor::{Array, R, Tensor, f32_of, float_tensor, float_to_int, i64_of, saturate_int};
use crate::infer::norm_axis;
use crate::op::Op;

/// The kernel of a quantisation op.
pub(super) fn kernel(op: &Op, ins: &[&Tensor]) -> R<Tensor> {
    match op {
        Op::Quantize { to, axis } => quantize(ins, *to, *axis),
        Op::Dequantize { to, axis } => dequantize(ins, *to, *axis),
        _ => no_kernel(op),
    }
}

/// The scale and zero point as arrays shaped to broadcast against `x` (`[]` stays a
/// scalar; `[C]` becomes `[1, .., C, .., 1]` with C at `axis`).
fn params(x_shape: &[usize], ins: &[&Tensor], axis: i64) -> R<(ArrayD<f32>, Option<ArrayD<i64>>)> {
    let scale = f32_of(ins[1], "scale")?;
    if let Some(bad) = scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(format!("scale {bad} must be positive and finite"));
    }
    let zp = match ins.get(2) {
        Some(z) => Some(i64_of(z, "zero point")?),
        None => None,
    };
    if let Some(z) = zp
        && z.shape() != scale.shape()
    {
        return Err(format!(
            "zero point {:?} must have the scale's shape {:?}",
            z.shape(),
            scale.shape()
        ));
    }
    let shaped = match scale.shape() {
        [] => vec![1; x_shape.len()],
        [c] => {
            let a = norm_axis(axis, x_shape.len())
                .ok_or_else(|| format!("axis {axis} out of range for rank {}", x_shape.len()))?;
            if x_shape[a] != *c {
                return Err(format!(
                    "per-channel scale has {c} entries, axis {a} of {x_shape:?} has {}",
                    x_shape[a]
                ));
            }
            let mut s = vec![1; x_shape.len()];
            s[a] = *c;
            s
        }
        s => return Err(format!("scale must be [] or 1-D, got {s:?}")),
    };
    let reshape = |v: Vec<_>| ArrayD::from_shape_vec(IxDyn(&shaped), v);
    let s = reshape(scale.iter().copied().collect()).map_err(|e| e.to_string())?;
    let z = match zp {
        Some(z) => Some(
            ArrayD::from_shape_vec(IxDyn(&shaped), z.iter().copied().collect())
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    Ok((s, z))
}

fn zeros_like(s: &ArrayD<f32>) -> ArrayD<i64> {
    ArrayD::zeros(s.raw_dim())
}

/// `Quantize` x to integer dtype `to`.
pub(crate) fn quantize(ins: &[&Tensor], to: DType, axis: i64) -> R<Tensor> {
    let x = f32_of(ins[0], "x")?;
    let (s, z) = params(x.shape(), ins, axis)?;
    let z = z.unwrap_or_else(|| zeros_like(&s));
    let dim = x.raw_dim();
    let (sb, zb) = match (s.broadcast(dim.clone()), z.broadcast(dim)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err("scale does not broadcast to x".into()),
    };
    let q = Zip::from(x).and(&sb).and(&zb).map_collect(|&v, &sc, &zp| {
        // Divide in f32 (ONNX), round half to even, add the zero point, saturate.
        let r = float_to_int(DType::I64, f64::from(v / sc));
        saturate_int(to, r.saturating_add(zp))
    });
    Ok(Tensor {
        dtype: to,
        array: Array::I64(q),
    })
}

/// `Dequantize` integer q to float dtype `to`.
pub(crate) fn dequantize(ins: &[&Tensor], to: DType, axis: i64) -> R<Tensor> {
    let q = i64_of(ins[0], "q")?;
    let (s, z) = params(q.shape(), ins, axis)?;
    let z = z.unwrap_or_else(|| zeros_like(&s));
    let dim = q.raw_dim();
    let (sb, zb) = match (s.broadcast(dim.clone()), z.broadcast(dim)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err("scale does not broadcast to q".into()),
    };
    let x = Zip::from(q)
        .and(&sb)
        .and(&zb)
        .map_collect(|&v, &sc, &zp| (v as f64 - zp as f64) * f64::from(sc));
    Ok(float_tensor(to, x))
}
