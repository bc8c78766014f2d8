//! Shape inference of `Reduce`.

use triad_isa::DType;

use super::{Mismatch, R, bad, float, no_rule, norm_axis};
use crate::data::TensorType;
use crate::op::{Op, ReduceKind};

/// Result type of a reduction.
pub(super) fn infer(op: &Op, ins: &[&TensorType]) -> R<TensorType> {
    let Op::Reduce {
        kind,
        axes,
        keepdims,
    } = op
    else {
        return no_rule(op);
    };
    let x = ins[0];
    if *kind == ReduceKind::Mean {
        float(x, "operand")?;
    } else if x.dtype == DType::Bool {
        return bad("reductions are not defined on bool");
    }
    let red = reduce_axes(axes, x.rank())?;
    let shape = (0..x.rank())
        .filter_map(|i| match (red.contains(&i), keepdims) {
            (false, _) => Some(x.shape[i]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect::<Vec<_>>();
    Ok(TensorType::new(x.dtype, shape))
}

/// The normalised, de-duplicated axes of a reduction (all axes if `axes` is empty).
pub(crate) fn reduce_axes(axes: &[i64], rank: usize) -> R<Vec<usize>> {
    if axes.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut out = Vec::new();
    for &a in axes {
        let n = norm_axis(a, rank)
            .ok_or_else(|| Mismatch::Type(format!("axis {a} out of range for rank {rank}")))?;
        if out.contains(&n) {
            return bad(format!("axis {a} repeated"));
        }
        out.push(n);
    }
    out.sort_unstable();
    Ok(out)
}
