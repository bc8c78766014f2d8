//! Shape inference of `Quantize` and `Dequantize`.

use triad_isa::DType;

use super::{R, axis_of, bad, float, int, no_rule, scale_check};
use crate::data::TensorType;
use crate::op::Op;

/// Result type of a quantisation op.
pub(super) fn infer(op: &Op, ins: &[&TensorType]) -> R<TensorType> {
    match op {
        Op::Quantize { to, axis } => {
            float(ins[0], "x")?;
            if !matches!(to, DType::I8 | DType::I4 | DType::I32) {
                return bad(format!("quantised dtype must be i8, i4 or i32, got {to}"));
            }
            qparams(ins, *axis, *to)?;
            Ok(TensorType::new(*to, ins[0].shape.clone()))
        }
        Op::Dequantize { to, axis } => {
            int(ins[0], "q")?;
            if !to.is_float() {
                return bad(format!("dequantised dtype must be a float, got {to}"));
            }
            qparams(ins, *axis, ins[0].dtype)?;
            Ok(TensorType::new(*to, ins[0].shape.clone()))
        }
        _ => no_rule(op),
    }
}

fn qparams(ins: &[&TensorType], axis: i64, zp_dtype: DType) -> R<()> {
    let x = ins[0];
    let n = if ins[1].rank() == 1 {
        x.shape[axis_of(axis, x)?]
    } else {
        1
    };
    scale_check(ins[1], n, "per channel along axis")?;
    if let Some(z) = ins.get(2)
        && (z.dtype != zp_dtype || z.shape != ins[1].shape)
    {
        return bad(format!(
            "zero point must be {zp_dtype} with the scale's shape, got {z}"
        ));
    }
    Ok(())
}
