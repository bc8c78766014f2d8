//! Shape inference of the matrix products (`MatMul`, `Gemm`, `QMatMul`).

use triad_isa::DType;

use super::{Mismatch, R, bad, broadcast, float, no_rule, rank_at_least, same_dtype, scale_check};
use crate::data::TensorType;
use crate::op::Op;

/// Result type of a matrix product.
pub(super) fn infer(op: &Op, ins: &[&TensorType]) -> R<TensorType> {
    match op {
        Op::MatMul => matmul(ins[0], ins[1]),
        Op::Gemm {
            trans_a, trans_b, ..
        } => gemm(ins, *trans_a, *trans_b),
        Op::QMatMul => qmatmul(ins),
        _ => no_rule(op),
    }
}

fn matmul(a: &TensorType, b: &TensorType) -> R<TensorType> {
    rank_at_least(a, 2, "A")?;
    rank_at_least(b, 2, "B")?;
    let dtype = matmul_dtype(a.dtype, b.dtype)?;
    let (m, k) = (a.shape[a.rank() - 2], a.shape[a.rank() - 1]);
    let (k2, n) = (b.shape[b.rank() - 2], b.shape[b.rank() - 1]);
    if k != k2 {
        return bad(format!(
            "inner dims differ: A {:?} x B {:?}",
            a.shape, b.shape
        ));
    }
    let batch = broadcast(&a.shape[..a.rank() - 2], &b.shape[..b.rank() - 2]).ok_or_else(|| {
        Mismatch::Type(format!(
            "batch dims of {:?} and {:?} do not broadcast",
            a.shape, b.shape
        ))
    })?;
    let mut shape = batch;
    shape.extend([m, n]);
    Ok(TensorType::new(dtype, shape))
}

fn gemm(ins: &[&TensorType], trans_a: bool, trans_b: bool) -> R<TensorType> {
    let (a, b) = (ins[0], ins[1]);
    for (t, w) in [(a, "A"), (b, "B")] {
        float(t, w)?;
        if t.rank() != 2 {
            return bad(format!("{w} must be 2-D, got {:?}", t.shape));
        }
    }
    same_dtype(a, b)?;
    let (m, k) = if trans_a {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let (k2, n) = if trans_b {
        (b.shape[1], b.shape[0])
    } else {
        (b.shape[0], b.shape[1])
    };
    if k != k2 {
        return bad(format!("inner dims differ: {k} vs {k2}"));
    }
    if let Some(c) = ins.get(2) {
        same_dtype(a, c)?;
        if broadcast(&c.shape, &[m, n]).as_deref() != Some(&[m, n][..]) {
            return bad(format!("C {:?} does not broadcast to [{m}, {n}]", c.shape));
        }
    }
    Ok(TensorType::new(a.dtype, [m, n]))
}

fn qmatmul(ins: &[&TensorType]) -> R<TensorType> {
    let (a, w, s) = (ins[0], ins[1], ins[2]);
    float(a, "A")?;
    rank_at_least(a, 1, "A")?;
    if !matches!(w.dtype, DType::I8 | DType::I4) || w.rank() != 2 {
        return bad(format!("W must be a 2-D i8 or i4 tensor, got {w}"));
    }
    let (k, n) = (w.shape[0], w.shape[1]);
    if a.shape[a.rank() - 1] != k {
        return bad(format!("A {:?} does not match W {:?}", a.shape, w.shape));
    }
    scale_check(s, n, "per output channel")?;
    if let Some(z) = ins.get(3)
        && (z.dtype != w.dtype || z.shape != s.shape)
    {
        return bad(format!(
            "zero point must be {} with scale's shape, got {z}",
            w.dtype
        ));
    }
    let mut shape = a.shape.clone();
    *shape.last_mut().expect("rank >= 1") = n;
    Ok(TensorType::new(a.dtype, shape))
}

/// Result dtype of a matrix product of `a` and `b`.
fn matmul_dtype(a: DType, b: DType) -> R<DType> {
    let small_int = |d: DType| matches!(d, DType::I8 | DType::I4);
    if a.is_float() && a == b {
        Ok(a)
    } else if small_int(a) && small_int(b) {
        Ok(DType::I32)
    } else {
        bad(format!(
            "operand dtypes {a} x {b}: expected equal floats or i8/i4 integers"
        ))
    }
}
