//! Shape inference of the mixture-of-experts ops (`TopK`, `MoeDispatch`,
//! `MoeCombine`).

use triad_isa::DType;

use super::{Mismatch, R, axis_of, bad, float, int, no_rule, same_dtype};
use crate::data::TensorType;
use crate::op::Op;

/// Result types of a mixture-of-experts op.
pub(super) fn infer(op: &Op, ins: &[&TensorType]) -> R<Vec<TensorType>> {
    match op {
        Op::TopK { k, axis } => {
            let x = ins[0];
            let a = axis_of(*axis, x)?;
            if *k == 0 || *k > x.shape[a] {
                return bad(format!("k = {k} must be in 1..={}", x.shape[a]));
            }
            let mut shape = x.shape.clone();
            shape[a] = *k;
            Ok(vec![
                TensorType::new(x.dtype, shape.clone()),
                TensorType::new(DType::I64, shape),
            ])
        }
        Op::MoeDispatch { capacity, .. } => {
            let (x, idx) = (ins[0], ins[1]);
            if x.rank() != 2 || idx.rank() != 2 || idx.shape[0] != x.shape[0] {
                return bad(format!(
                    "expected x [T, H] and indices [T, k], got {:?} and {:?}",
                    x.shape, idx.shape
                ));
            }
            int(idx, "indices")?;
            Ok(vec![TensorType::new(x.dtype, [*capacity, x.shape[1]])])
        }
        Op::MoeCombine { capacity, .. } => combine(ins, *capacity).map(|t| vec![t]),
        _ => no_rule(op),
    }
}

fn combine(ins: &[&TensorType], capacity: usize) -> R<TensorType> {
    let (idx, w) = (ins[0], ins[1]);
    int(idx, "indices")?;
    float(w, "gate weights")?;
    if idx.rank() != 2 || w.shape != idx.shape {
        return bad(format!(
            "indices and weights must both be [T, k], got {:?} and {:?}",
            idx.shape, w.shape
        ));
    }
    let first = ins
        .get(2)
        .ok_or_else(|| Mismatch::Type("no experts".into()))?;
    for e in &ins[2..] {
        same_dtype(first, e)?;
        if e.rank() != 2 || e.shape[0] != capacity || e.shape != first.shape {
            return bad(format!(
                "expert results must all be [{capacity}, H], got {:?}",
                e.shape
            ));
        }
    }
    Ok(TensorType::new(first.dtype, [idx.shape[0], first.shape[1]]))
}
