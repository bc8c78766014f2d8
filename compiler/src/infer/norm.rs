//! Shape inference of the normalisations (`Softmax`, `LayerNorm`, `RmsNorm`) and the
//! attention helpers (`Rope`, `CausalMask`).

use super::{R, axis_of, bad, float, int, no_rule, rank_at_least, same_dtype};
use crate::data::TensorType;
use crate::op::Op;

/// Result type of a normalisation or attention helper.
pub(super) fn infer(op: &Op, ins: &[&TensorType]) -> R<TensorType> {
    match op {
        Op::Softmax { axis } => {
            float(ins[0], "operand")?;
            axis_of(*axis, ins[0])?;
            Ok(ins[0].clone())
        }
        Op::LayerNorm { axis, .. } | Op::RmsNorm { axis, .. } => norm(ins, *axis),
        Op::Rope { rotary_dim, .. } => rope(ins[0], ins[1], *rotary_dim),
        Op::CausalMask => {
            let x = ins[0];
            float(x, "scores")?;
            rank_at_least(x, 2, "scores")?;
            if x.shape[x.rank() - 2] > x.shape[x.rank() - 1] {
                return bad(format!("more queries than keys in {:?}", x.shape));
            }
            Ok(x.clone())
        }
        _ => no_rule(op),
    }
}

/// LayerNorm / RmsNorm: x, then gamma (and beta) shaped as x's dims from `axis`.
fn norm(ins: &[&TensorType], axis: i64) -> R<TensorType> {
    let x = ins[0];
    float(x, "x")?;
    let a = axis_of(axis, x)?;
    for (t, w) in ins[1..].iter().zip(["gamma", "beta"]) {
        same_dtype(x, t)?;
        if t.shape != x.shape[a..] {
            return bad(format!(
                "{w} must have shape {:?} (x's dims from axis {a}), got {:?}",
                &x.shape[a..],
                t.shape
            ));
        }
    }
    Ok(x.clone())
}

fn rope(x: &TensorType, p: &TensorType, rotary_dim: usize) -> R<TensorType> {
    float(x, "x")?;
    rank_at_least(x, 2, "x")?;
    int(p, "positions")?;
    let (s, d) = (x.shape[x.rank() - 2], x.shape[x.rank() - 1]);
    if p.shape != [s] {
        return bad(format!(
            "positions must have shape [{s}], got {:?}",
            p.shape
        ));
    }
    let r = if rotary_dim == 0 { d } else { rotary_dim };
    if r % 2 != 0 || r > d {
        return bad(format!("rotary_dim {r} must be even and <= head dim {d}"));
    }
    Ok(x.clone())
}
