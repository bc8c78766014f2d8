//! Shape and dtype inference: the result types of every op from its operand types.
//!
//! `infer` is the single place that decides whether an op accepts its operands; the
//! graph builder, graph validation, the JSON and ONNX frontends all go through it.
//! Source ops (`Input`, `Weight`, `Constant`) have declared types and are not
//! inferred here.
//!
//! The operand count comes from the op table ([`Op::operand_range`]); the rest is
//! one rule per op, in a module per category (`linalg`, `elementwise`, `norm`,
//! `layout`, `reduce`, `quant`, `moe`), reached through the op's [`Category`].

mod elementwise;
mod layout;
mod linalg;
mod moe;
mod norm;
mod quant;
mod reduce;

use triad_isa::DType;

pub use layout::SliceRange;
pub(crate) use layout::{reshape, slice_ranges};
pub(crate) use reduce::reduce_axes;

use crate::data::TensorType;
use crate::op::{Category, Op};

/// Why an op rejected its operands; the graph turns this into an [`crate::Error`]
/// naming the node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mismatch {
    /// Wrong number of operands.
    Arity { expected: String, got: usize },
    /// Operand shapes, dtypes or attributes do not fit.
    Type(String),
}

type R<T> = std::result::Result<T, Mismatch>;

fn bad<T>(msg: impl Into<String>) -> R<T> {
    Err(Mismatch::Type(msg.into()))
}

fn arity(ins: &[&TensorType], lo: usize, hi: usize) -> R<()> {
    if ins.len() < lo || ins.len() > hi {
        let expected = if lo == hi {
            lo.to_string()
        } else if hi == usize::MAX {
            format!("at least {lo}")
        } else {
            format!("{lo} to {hi}")
        };
        return Err(Mismatch::Arity {
            expected,
            got: ins.len(),
        });
    }
    Ok(())
}

/// Normalise a signed axis against `rank` (ONNX: negative counts from the end).
pub fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

fn axis_of(axis: i64, t: &TensorType) -> R<usize> {
    norm_axis(axis, t.rank())
        .ok_or_else(|| Mismatch::Type(format!("axis {axis} out of range for rank {}", t.rank())))
}

/// NumPy broadcast of two shapes, `None` if they are incompatible.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn bcast(a: &TensorType, b: &TensorType) -> R<Vec<usize>> {
    broadcast(&a.shape, &b.shape).ok_or_else(|| {
        Mismatch::Type(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape, b.shape
        ))
    })
}

fn same_dtype(a: &TensorType, b: &TensorType) -> R<()> {
    if a.dtype != b.dtype {
        return bad(format!(
            "operand dtypes differ: {} and {}",
            a.dtype, b.dtype
        ));
    }
    Ok(())
}

fn float(t: &TensorType, what: &str) -> R<()> {
    if !t.dtype.is_float() {
        return bad(format!("{what} must be a float tensor, got {}", t.dtype));
    }
    Ok(())
}

fn int(t: &TensorType, what: &str) -> R<()> {
    if !t.dtype.is_int() {
        return bad(format!("{what} must be an integer tensor, got {}", t.dtype));
    }
    Ok(())
}

fn rank_at_least(t: &TensorType, r: usize, what: &str) -> R<()> {
    if t.rank() < r {
        return bad(format!("{what} must have rank >= {r}, got {:?}", t.shape));
    }
    Ok(())
}

/// Result types of `op` applied to operands of types `ins`.
///
/// The operand count is checked against the op table's arity first, so each
/// category's rule may index the operands it requires.
pub(crate) fn infer(op: &Op, ins: &[&TensorType]) -> R<Vec<TensorType>> {
    let (lo, hi) = op.operand_range();
    arity(ins, lo, hi)?;
    let one = |t: R<TensorType>| t.map(|t| vec![t]);
    match op.category() {
        Category::Source => bad("source ops have declared types"),
        Category::LinearAlgebra => one(linalg::infer(op, ins)),
        Category::Binary => one(elementwise::binary(op, ins)),
        Category::Unary | Category::Activation => one(elementwise::unary(op, ins)),
        Category::Elementwise => one(elementwise::other(op, ins)),
        Category::Norm | Category::Attention => one(norm::infer(op, ins)),
        Category::Layout | Category::KvCache => layout::infer(op, ins),
        Category::Reduction => one(reduce::infer(op, ins)),
        Category::Quant => one(quant::infer(op, ins)),
        Category::Moe => moe::infer(op, ins),
    }
}

/// The error of a category rule handed an op it has no rule for: the op table puts
/// the op in a category whose inference module lacks it (a bug the `op_table` test
/// catches).
fn no_rule<T>(op: &Op) -> R<T> {
    bad(format!(
        "internal error: no inference rule for {} in category {:?}",
        op.name(),
        op.category()
    ))
}

fn scale_check(s: &TensorType, n: usize, per: &str) -> R<()> {
    if s.dtype != DType::F32 {
        return bad(format!("scale must be f32, got {}", s.dtype));
    }
    if !(s.shape.is_empty() || s.shape == [n]) {
        return bad(format!(
            "scale must be [] (per tensor) or [{n}] ({per}), got {:?}",
            s.shape
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(d: DType, s: &[usize]) -> TensorType {
        TensorType::new(d, s.to_vec())
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast(&[4, 1, 3], &[5, 1]), Some(vec![4, 5, 3]));
        assert_eq!(broadcast(&[], &[2]), Some(vec![2]));
        assert_eq!(broadcast(&[2, 3], &[4]), None);
    }

    #[test]
    fn matmul_types() {
        let out = infer(
            &Op::MatMul,
            &[&t(DType::I8, &[2, 4, 8]), &t(DType::I4, &[8, 3])],
        );
        assert_eq!(out, Ok(vec![t(DType::I32, &[2, 4, 3])]));
        assert!(matches!(
            infer(
                &Op::MatMul,
                &[&t(DType::F16, &[4, 8]), &t(DType::F32, &[8, 3])]
            ),
            Err(Mismatch::Type(_))
        ));
        assert!(matches!(
            infer(&Op::MatMul, &[&t(DType::F16, &[4, 8])]),
            Err(Mismatch::Arity { got: 1, .. })
        ));
    }

    #[test]
    fn reshape_rules() {
        assert_eq!(reshape(&[2, 3, 4], &[0, -1]), Ok(vec![2, 12]));
        assert!(reshape(&[2, 3], &[4, -1]).is_err());
        assert!(reshape(&[2, 3], &[-1, -1]).is_err());
    }

    #[test]
    fn slice_rules() {
        // x[1:-1], x[::-2] on length 5: ONNX clamping.
        let r = slice_ranges(&[5], &[1], &[-1], &[], &[]).unwrap();
        assert_eq!((r[0].start, r[0].len()), (1, 3));
        let r = slice_ranges(&[5], &[-1], &[i64::MIN], &[0], &[-2]).unwrap();
        assert_eq!((r[0].start, r[0].step, r[0].len()), (4, -2, 3));
        let r = slice_ranges(&[5], &[10], &[20], &[0], &[1]).unwrap();
        assert_eq!(r[0].len(), 0);
        // An empty axis with a negative step is empty, not a panic.
        let r = slice_ranges(&[0], &[-1], &[i64::MIN], &[0], &[-1]).unwrap();
        assert_eq!(r[0].len(), 0);
    }
}
