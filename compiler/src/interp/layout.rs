//! Layout ops, which move values without changing them: `Transpose`, `Reshape`,
//! `Concat` (and `KvAppend`, which is a concat), `Split`, `Slice`, `Gather`.
//!
//! All work on every carrier. `Gather` indices may be negative (counting from the end
//! of the axis, ONNX); an index outside `[-dim, dim)` is an evaluation error.
//! `Slice` follows ONNX clamping, resolved by the same code shape inference uses.

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use super::mismatch_text;
use super::no_kernel;
use super::tensor::{Array, R, Tensor, each_carrier, i64_of, reshape_owned};
use crate::infer::{norm_axis, reshape, slice_ranges};
use crate::op::Op;

/// The kernel of a layout op or `KvAppend` (a concatenation).
pub(super) fn kernel(op: &Op, ins: &[&Tensor]) -> R<Vec<Tensor>> {
    let one = |t: R<Tensor>| t.map(|t| vec![t]);
    match op {
        Op::Transpose { perm } => one(transpose(ins[0], perm)),
        Op::Reshape { shape } => one(reshape_op(ins[0], shape)),
        Op::Concat { axis } | Op::KvAppend { axis } => one(concat(ins, *axis)),
        Op::Split { axis, sizes } => split(ins[0], *axis, sizes),
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => one(slice(ins[0], starts, ends, axes, steps)),
        Op::Gather { axis } => one(gather(ins[0], ins[1], *axis)),
        _ => no_kernel(op),
    }
}

fn axis(axis: i64, rank: usize) -> R<usize> {
    norm_axis(axis, rank).ok_or_else(|| format!("axis {axis} out of range for rank {rank}"))
}

fn same(dtype: triad_isa::DType, array: Array) -> Tensor {
    Tensor { dtype, array }
}

/// `Transpose` by `perm` (empty: reverse the axes).
pub(crate) fn transpose(x: &Tensor, perm: &[usize]) -> R<Tensor> {
    let rank = x.shape().len();
    let perm: Vec<usize> = if perm.is_empty() {
        (0..rank).rev().collect()
    } else {
        perm.to_vec()
    };
    let mut seen = vec![false; rank];
    if perm.len() != rank
        || perm
            .iter()
            .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
    {
        return Err(format!("perm {perm:?} is not a permutation of rank {rank}"));
    }
    let array = each_carrier!(&x.array, a => a
        .view()
        .permuted_axes(IxDyn(&perm))
        .as_standard_layout()
        .into_owned());
    Ok(same(x.dtype, array))
}

/// `Reshape` to `target` (ONNX `0` and `-1` rules).
pub(crate) fn reshape_op(x: &Tensor, target: &[i64]) -> R<Tensor> {
    let shape = reshape(x.shape(), target).map_err(mismatch_text)?;
    let array = each_carrier!(&x.array, a => reshape_owned(a.clone(), &shape)?);
    Ok(same(x.dtype, array))
}

/// All operands' arrays of one carrier, or an error.
fn all<'a, T>(
    ins: &[&'a Tensor],
    get: fn(&'a Tensor) -> Option<&'a ArrayD<T>>,
) -> R<Vec<&'a ArrayD<T>>> {
    ins.iter()
        .map(|t| get(t).ok_or_else(|| format!("operands mix dtypes ({})", t.dtype)))
        .collect()
}

fn concat_t<T: Clone>(arrs: &[&ArrayD<T>], ax: usize) -> R<ArrayD<T>> {
    let views: Vec<_> = arrs.iter().map(|a| a.view()).collect();
    ndarray::concatenate(Axis(ax), &views).map_err(|e| {
        let shapes: Vec<_> = arrs.iter().map(|a| a.shape().to_vec()).collect();
        format!("cannot concatenate {shapes:?} along axis {ax}: {e}")
    })
}

/// `Concat` / `KvAppend` along `axis`.
pub(crate) fn concat(ins: &[&Tensor], ax: i64) -> R<Tensor> {
    let first = ins.first().ok_or("concat of nothing")?;
    if let Some(t) = ins.iter().find(|t| t.dtype != first.dtype) {
        return Err(format!(
            "operand dtypes differ: {} and {}",
            first.dtype, t.dtype
        ));
    }
    let ax = axis(ax, first.shape().len())?;
    let array = match &first.array {
        Array::F32(_) => Array::F32(concat_t(&all(ins, Tensor::as_f32)?, ax)?),
        Array::I64(_) => Array::I64(concat_t(&all(ins, Tensor::as_i64)?, ax)?),
        Array::Bool(_) => Array::Bool(concat_t(&all(ins, Tensor::as_bool)?, ax)?),
    };
    Ok(same(first.dtype, array))
}

/// `Split` along `axis` into pieces of `sizes`.
pub(crate) fn split(x: &Tensor, ax: i64, sizes: &[usize]) -> R<Vec<Tensor>> {
    let ax = axis(ax, x.shape().len())?;
    let dim = x.shape()[ax];
    if sizes.iter().sum::<usize>() != dim {
        return Err(format!("sizes {sizes:?} do not sum to {dim}"));
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(sizes.len());
    for &s in sizes {
        let sl = Slice::from(start..start + s);
        let array = each_carrier!(&x.array, a => a.slice_axis(Axis(ax), sl).to_owned());
        out.push(same(x.dtype, array));
        start += s;
    }
    Ok(out)
}

/// `Slice` with ONNX semantics.
pub(crate) fn slice(
    x: &Tensor,
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
) -> R<Tensor> {
    let ranges = slice_ranges(x.shape(), starts, ends, axes, steps).map_err(mismatch_text)?;
    // An ndarray slice with a negative step walks `[lo, hi)` from its end, so give
    // it the range spanned by the selected elements.
    let sl: Vec<Slice> = ranges
        .iter()
        .map(|r| {
            let len = r.len() as isize;
            let (start, step) = (r.start as isize, r.step as isize);
            if len == 0 {
                Slice::new(0, Some(0), 1)
            } else if step > 0 {
                Slice::new(start, Some(start + (len - 1) * step + 1), step)
            } else {
                Slice::new(start + (len - 1) * step, Some(start + 1), step)
            }
        })
        .collect();
    let array = each_carrier!(&x.array, a => a
        .slice_each_axis(|d| sl[d.axis.index()])
        .to_owned());
    Ok(same(x.dtype, array))
}

/// `Gather` along `axis` (embedding lookup); negative indices count from the end.
pub(crate) fn gather(data: &Tensor, indices: &Tensor, ax: i64) -> R<Tensor> {
    let idx = i64_of(indices, "indices")?;
    let ax = axis(ax, data.shape().len())?;
    let dim = data.shape()[ax];
    let flat = idx
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim as i64 } else { i };
            if (0..dim as i64).contains(&j) {
                Ok(j as usize)
            } else if dim == 0 {
                Err(format!("index {i} into axis {ax}, which is empty"))
            } else {
                Err(format!(
                    "index {i} out of range for axis {ax} of size {dim} (valid: -{dim}..{dim})"
                ))
            }
        })
        .collect::<R<Vec<usize>>>()?;
    let mut shape = data.shape()[..ax].to_vec();
    shape.extend(idx.shape());
    shape.extend(&data.shape()[ax + 1..]);
    let array = each_carrier!(&data.array, a => reshape_owned(a.select(Axis(ax), &flat), &shape)?);
    Ok(same(data.dtype, array))
}
