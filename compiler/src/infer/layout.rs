//! Shape inference of the data-movement ops (`Transpose`, `Reshape`, `Concat`,
//! `Split`, `Slice`, `Gather`) and `KvAppend` (a concatenation), with the ONNX
//! reshape and slice rules the interpreter shares.

use super::{Mismatch, R, axis_of, bad, int, no_rule, norm_axis, same_dtype};
use crate::data::TensorType;
use crate::op::Op;

/// Result types of a layout op or `KvAppend`.
pub(super) fn infer(op: &Op, ins: &[&TensorType]) -> R<Vec<TensorType>> {
    let x = ins[0];
    let one = |t: R<TensorType>| t.map(|t| vec![t]);
    match op {
        Op::Transpose { perm } => one(transpose(x, perm)),
        Op::Reshape { shape } => one(Ok(TensorType::new(x.dtype, reshape(&x.shape, shape)?))),
        Op::Concat { axis } | Op::KvAppend { axis } => one(concat(ins, *axis)),
        Op::Split { axis, sizes } => {
            let a = axis_of(*axis, x)?;
            if sizes.is_empty() || sizes.iter().sum::<usize>() != x.shape[a] {
                return bad(format!(
                    "sizes {sizes:?} must be non-empty and sum to {} (axis {a})",
                    x.shape[a]
                ));
            }
            Ok(sizes
                .iter()
                .map(|&s| {
                    let mut shape = x.shape.clone();
                    shape[a] = s;
                    TensorType::new(x.dtype, shape)
                })
                .collect())
        }
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => {
            let ranges = slice_ranges(&x.shape, starts, ends, axes, steps)?;
            let shape = ranges.iter().map(|r| r.len()).collect::<Vec<_>>();
            one(Ok(TensorType::new(x.dtype, shape)))
        }
        Op::Gather { axis } => {
            let (d, i) = (ins[0], ins[1]);
            int(i, "indices")?;
            let a = axis_of(*axis, d)?;
            let mut shape = d.shape[..a].to_vec();
            shape.extend(&i.shape);
            shape.extend(&d.shape[a + 1..]);
            one(Ok(TensorType::new(d.dtype, shape)))
        }
        _ => no_rule(op),
    }
}

fn transpose(x: &TensorType, perm: &[usize]) -> R<TensorType> {
    let perm: Vec<usize> = if perm.is_empty() {
        (0..x.rank()).rev().collect()
    } else {
        perm.to_vec()
    };
    let mut seen = vec![false; x.rank()];
    if perm.len() != x.rank()
        || perm
            .iter()
            .any(|&p| p >= x.rank() || std::mem::replace(&mut seen[p], true))
    {
        return bad(format!(
            "perm {perm:?} is not a permutation of rank {}",
            x.rank()
        ));
    }
    Ok(TensorType::new(
        x.dtype,
        perm.iter().map(|&p| x.shape[p]).collect::<Vec<_>>(),
    ))
}

fn concat(ins: &[&TensorType], axis: i64) -> R<TensorType> {
    let first = ins[0];
    let a = axis_of(axis, first)?;
    let mut shape = first.shape.clone();
    shape[a] = 0;
    for t in ins {
        same_dtype(first, t)?;
        let differs = t.rank() != first.rank()
            || (0..t.rank()).any(|i| i != a && t.shape[i] != first.shape[i]);
        if differs {
            return bad(format!(
                "shapes {:?} and {:?} differ outside axis {a}",
                first.shape, t.shape
            ));
        }
        shape[a] += t.shape[a];
    }
    Ok(TensorType::new(first.dtype, shape))
}

/// Resolve an ONNX reshape target against the input shape.
pub(crate) fn reshape(input: &[usize], target: &[i64]) -> R<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 => out.push(*input.get(i).ok_or_else(|| {
                Mismatch::Type(format!(
                    "0 at position {i} but the input has rank {}",
                    input.len()
                ))
            })?),
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(1);
            }
            t if t > 0 => out.push(t as usize),
            _ => return bad(format!("invalid reshape target {target:?}")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer_at {
        if known == 0 || !total.is_multiple_of(known) {
            return bad(format!("cannot reshape {input:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return bad(format!(
            "cannot reshape {input:?} ({total} elements) to {target:?}"
        ));
    }
    Ok(out)
}

/// A resolved slice along one axis: `len` elements starting at `start`, `step` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceRange {
    /// First index.
    pub start: i64,
    /// Stride (non-zero).
    pub step: i64,
    len: usize,
}

impl SliceRange {
    /// Number of elements taken.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing is taken.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Resolve ONNX Slice attributes to one range per axis of `shape`.
pub(crate) fn slice_ranges(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
) -> R<Vec<SliceRange>> {
    let rank = shape.len();
    let mut ranges: Vec<SliceRange> = shape
        .iter()
        .map(|&d| SliceRange {
            start: 0,
            step: 1,
            len: d,
        })
        .collect();
    let axes: Vec<i64> = if axes.is_empty() {
        (0..starts.len() as i64).collect()
    } else {
        axes.to_vec()
    };
    if starts.len() != ends.len()
        || axes.len() != starts.len()
        || (!steps.is_empty() && steps.len() != starts.len())
    {
        return bad("starts, ends, axes and steps must have equal lengths");
    }
    let mut seen = vec![false; rank];
    for (i, &ax) in axes.iter().enumerate() {
        let a = norm_axis(ax, rank)
            .ok_or_else(|| Mismatch::Type(format!("axis {ax} out of range for rank {rank}")))?;
        if std::mem::replace(&mut seen[a], true) {
            return bad(format!("axis {ax} repeated"));
        }
        let step = steps.get(i).copied().unwrap_or(1);
        if step == 0 {
            return bad("slice step must not be 0");
        }
        let dim = shape[a] as i64;
        if dim == 0 {
            ranges[a] = SliceRange {
                start: 0,
                step,
                len: 0,
            };
            continue;
        }
        let fix = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (start, end) = (fix(starts[i]), fix(ends[i]));
        let (start, end) = if step > 0 {
            (start.clamp(0, dim), end.clamp(0, dim))
        } else {
            (start.clamp(0, dim - 1), end.clamp(-1, dim - 1))
        };
        let len = if step > 0 {
            (end - start).max(0).saturating_add(step - 1) / step
        } else {
            (start - end).max(0).saturating_add(-step - 1) / -step
        };
        ranges[a] = SliceRange {
            start,
            step,
            len: len.max(0) as usize,
        };
    }
    Ok(ranges)
}
