//! `Reduce` (mean, sum, max over a set of axes).
//!
//! Floats: sums accumulate in f64 in row-major order and are rounded once; the mean
//! divides the f64 sum by the count (the mean of nothing is NaN); max propagates NaN.
//! Integers: the sum wraps to the dtype's width; max is exact. The max of an empty
//! set is an evaluation error.

use ndarray::{ArrayD, IxDyn};
use triad_isa::DType;

use super::no_kernel;
use super::tensor::{Array, R, Tensor, float_tensor, reshape_owned, wrap_int};
use crate::infer::reduce_axes;
use crate::op::Op;
use crate::op::ReduceKind;

/// The kernel of `Reduce`.
pub(super) fn kernel(op: &Op, ins: &[&Tensor]) -> R<Tensor> {
    match op {
        Op::Reduce {
            kind,
            axes,
            keepdims,
        } => reduce(ins[0], *kind, axes, *keepdims),
        _ => no_kernel(op),
    }
}

/// Move the reduced axes last and view the array as `[kept elements, reduced elements]`;
/// returns that matrix and the result shape.
fn rows<T: Clone>(
    a: &ArrayD<T>,
    axes: &[i64],
    keepdims: bool,
) -> R<(ndarray::Array2<T>, Vec<usize>)> {
    let red = reduce_axes(axes, a.ndim()).map_err(super::mismatch_text)?;
    let keep: Vec<usize> = (0..a.ndim()).filter(|i| !red.contains(i)).collect();
    let perm: Vec<usize> = keep.iter().chain(&red).copied().collect();
    let outer: usize = keep.iter().map(|&i| a.shape()[i]).product();
    let inner: usize = red.iter().map(|&i| a.shape()[i]).product();
    let moved = a.view().permuted_axes(IxDyn(&perm)).to_owned();
    let m = reshape_owned(moved, &[outer, inner])?
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| e.to_string())?;
    let shape = (0..a.ndim())
        .filter_map(|i| match (red.contains(&i), keepdims) {
            (false, _) => Some(a.shape()[i]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    Ok((m, shape))
}

/// `Reduce` of `x`.
pub(crate) fn reduce(x: &Tensor, kind: ReduceKind, axes: &[i64], keepdims: bool) -> R<Tensor> {
    let empty = || Err("max over an empty set of elements".to_string());
    match &x.array {
        Array::F32(a) => {
            let (m, shape) = rows(a, axes, keepdims)?;
            let mut out = Vec::with_capacity(m.nrows());
            for row in m.rows() {
                let v = match kind {
                    ReduceKind::Sum => row.iter().map(|&v| f64::from(v)).sum(),
                    ReduceKind::Mean => {
                        row.iter().map(|&v| f64::from(v)).sum::<f64>() / row.len() as f64
                    }
                    ReduceKind::Max => {
                        if row.is_empty() {
                            return empty();
                        }
                        row.iter().fold(f64::NEG_INFINITY, |m, &v| {
                            if m.is_nan() || v.is_nan() {
                                f64::NAN
                            } else {
                                m.max(f64::from(v))
                            }
                        })
                    }
                };
                out.push(v);
            }
            let arr = ArrayD::from_shape_vec(IxDyn(&shape), out).map_err(|e| e.to_string())?;
            Ok(float_tensor(x.dtype, arr))
        }
        Array::I64(a) => {
            let (m, shape) = rows(a, axes, keepdims)?;
            let mut out = Vec::with_capacity(m.nrows());
            for row in m.rows() {
                let v = match kind {
                    ReduceKind::Sum => row.iter().fold(0i64, |s, &v| s.wrapping_add(v)),
                    ReduceKind::Max => match row.iter().max() {
                        Some(&v) => v,
                        None => return empty(),
                    },
                    ReduceKind::Mean => return Err("mean of an integer tensor".into()),
                };
                out.push(wrap_int(x.dtype, v));
            }
            let arr = ArrayD::from_shape_vec(IxDyn(&shape), out).map_err(|e| e.to_string())?;
            Ok(Tensor {
                dtype: x.dtype,
                array: Array::I64(arr),
            })
        }
        Array::Bool(_) => Err(format!("reductions are not defined on {}", DType::Bool)),
    }
}
