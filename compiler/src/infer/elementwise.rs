//! Shape inference of the element-wise ops: binary (NumPy broadcasting), unary math
//! and activations, `Where` and `Cast`.

use triad_isa::DType;

use super::{Mismatch, R, bad, bcast, broadcast, float, no_rule, same_dtype};
use crate::data::TensorType;
use crate::op::Op;

/// Result type of a binary op.
pub(super) fn binary(op: &Op, ins: &[&TensorType]) -> R<TensorType> {
    let (a, b) = (ins[0], ins[1]);
    match op {
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Max | Op::Min => {
            same_dtype(a, b)?;
            if a.dtype == DType::Bool {
                return bad(format!("{} is not defined on bool", op.name()));
            }
            Ok(TensorType::new(a.dtype, bcast(a, b)?))
        }
        Op::Pow => {
            float(a, "base")?;
            same_dtype(a, b)?;
            Ok(TensorType::new(a.dtype, bcast(a, b)?))
        }
        Op::Equal | Op::Less | Op::Greater => {
            same_dtype(a, b)?;
            Ok(TensorType::new(DType::Bool, bcast(a, b)?))
        }
        Op::And | Op::Or => {
            for t in ins {
                if t.dtype != DType::Bool {
                    return bad(format!("operands must be bool, got {}", t.dtype));
                }
            }
            Ok(TensorType::new(DType::Bool, bcast(a, b)?))
        }
        _ => no_rule(op),
    }
}

/// Result type of a unary op (math or activation).
pub(super) fn unary(op: &Op, ins: &[&TensorType]) -> R<TensorType> {
    let x = ins[0];
    match op {
        Op::Not => {
            if x.dtype != DType::Bool {
                return bad(format!("operand must be bool, got {}", x.dtype));
            }
        }
        Op::Neg | Op::Abs | Op::Relu => {
            if x.dtype == DType::Bool {
                return bad(format!("{} is not defined on bool", op.name()));
            }
        }
        Op::Sqrt
        | Op::Reciprocal
        | Op::Exp
        | Op::Log
        | Op::Erf
        | Op::Tanh
        | Op::Sigmoid
        | Op::Silu
        | Op::Gelu { .. } => float(x, "operand")?,
        _ => return no_rule(op),
    }
    Ok(x.clone())
}

/// Result type of `Where` and `Cast`.
pub(super) fn other(op: &Op, ins: &[&TensorType]) -> R<TensorType> {
    match op {
        Op::Where => {
            if ins[0].dtype != DType::Bool {
                return bad(format!("condition must be bool, got {}", ins[0].dtype));
            }
            same_dtype(ins[1], ins[2])?;
            let s = bcast(ins[1], ins[2])?;
            let s = broadcast(&ins[0].shape, &s).ok_or_else(|| {
                Mismatch::Type(format!(
                    "condition {:?} does not broadcast with {:?}",
                    ins[0].shape, s
                ))
            })?;
            Ok(TensorType::new(ins[1].dtype, s))
        }
        Op::Cast { to } => Ok(TensorType::new(*to, ins[0].shape.clone())),
        _ => no_rule(op),
    }
}
