//! Mixture-of-experts routing: `TopK`, `MoeDispatch`, `MoeCombine`.
//!
//! - TopK: the `k` largest along the axis, sorted descending; ties keep the lower
//!   index first. NaN counts as larger than every number (as in PyTorch); `-0.0` and
//!   `0.0` tie. Bools order `false < true`.
//! - Routing: token `t` is *routed* to expert `e` when any of its `k` choices is `e`
//!   (a repeated choice still takes one slot). Tokens routed to `e` take the slots
//!   `0, 1, …` of `e` in token order; those whose slot would be `>= capacity` are
//!   dropped for that expert.
//! - MoeDispatch(expert e): row `slot` of the result is the row of the token in that
//!   slot; unused slots are zero.
//! - MoeCombine: token `t` gets `sum_j weight[t, j] * out[e_j][slot(t, e_j)]` over its
//!   choices `j` that were not dropped (a repeated choice adds its weight again), in
//!   choice order, accumulated in f64 and rounded once to the experts' dtype; a token
//!   with every choice dropped gets zeros. An expert index outside `0..experts` is
//!   an evaluation error.

use std::cmp::Ordering;

use ndarray::{Array2, ArrayD, ArrayView2, Axis, Ix2};

use super::no_kernel;
use super::tensor::{Array, R, Tensor, each_carrier, f32_of, float_tensor, i64_of, reshape_owned};
use crate::infer::norm_axis;
use crate::op::Op;

/// The kernel of a mixture-of-experts op.
pub(super) fn kernel(op: &Op, ins: &[&Tensor]) -> R<Vec<Tensor>> {
    let one = |t: R<Tensor>| t.map(|t| vec![t]);
    match op {
        Op::TopK { k, axis } => topk(ins[0], *k, *axis),
        Op::MoeDispatch { expert, capacity } => one(dispatch(ins[0], ins[1], *expert, *capacity)),
        Op::MoeCombine { experts, capacity } => one(combine(ins, *experts, *capacity)),
        _ => no_kernel(op),
    }
}

/// Order of two TopK candidates `(value, index)`: larger value first, then lower index.
fn rank<T>(cmp: fn(&T, &T) -> Ordering) -> impl Fn(&(T, usize), &(T, usize)) -> Ordering {
    move |a, b| cmp(&b.0, &a.0).then(a.1.cmp(&b.1))
}

/// Total order on floats for TopK: NaN largest, `-0.0 == 0.0`.
fn float_order(a: &f32, b: &f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// TopK of every lane of `a` along `ax`: values and indices, each `[.., k, ..]`.
fn topk_t<T: Clone + Default>(
    a: &ArrayD<T>,
    k: usize,
    ax: usize,
    cmp: fn(&T, &T) -> Ordering,
) -> R<(ArrayD<T>, ArrayD<i64>)> {
    let n = a.shape()[ax];
    if k == 0 || k > n {
        return Err(format!("k = {k} must be in 1..={n}"));
    }
    let mut shape = a.shape().to_vec();
    shape[ax] = k;
    let mut vals = ArrayD::<T>::default(shape.clone());
    let mut idxs = ArrayD::<i64>::zeros(shape);
    let lanes = a.lanes(Axis(ax)).into_iter();
    let out_v = vals.lanes_mut(Axis(ax)).into_iter();
    let out_i = idxs.lanes_mut(Axis(ax)).into_iter();
    for ((lane, mut v), mut ix) in lanes.zip(out_v).zip(out_i) {
        let mut cand: Vec<(T, usize)> = lane.iter().cloned().zip(0..).collect();
        cand.sort_by(rank(cmp));
        for (j, (val, i)) in cand.into_iter().take(k).enumerate() {
            v[j] = val;
            ix[j] = i as i64;
        }
    }
    Ok((vals, idxs))
}

/// `TopK`: outputs values and i64 indices.
pub(crate) fn topk(x: &Tensor, k: usize, axis: i64) -> R<Vec<Tensor>> {
    let rank_x = x.shape().len();
    let ax = norm_axis(axis, rank_x)
        .ok_or_else(|| format!("axis {axis} out of range for rank {rank_x}"))?;
    let (vals, idx) = match &x.array {
        Array::F32(a) => {
            let (v, i) = topk_t(a, k, ax, float_order)?;
            (Array::F32(v), i)
        }
        Array::I64(a) => {
            let (v, i) = topk_t(a, k, ax, i64::cmp)?;
            (Array::I64(v), i)
        }
        Array::Bool(a) => {
            let (v, i) = topk_t(a, k, ax, bool::cmp)?;
            (Array::Bool(v), i)
        }
    };
    Ok(vec![
        Tensor {
            dtype: x.dtype,
            array: vals,
        },
        Tensor {
            dtype: triad_isa::DType::I64,
            array: Array::I64(idx),
        },
    ])
}

fn matrix<'a, T>(a: &'a ArrayD<T>, what: &str) -> R<ArrayView2<'a, T>> {
    a.view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| format!("{what} must be 2-D, got {:?}", a.shape()))
}

/// For every token and choice, the slot it occupies in its expert (or `None` when it
/// is dropped); the routing rule of the module docs.
fn slots(idx: ArrayView2<'_, i64>, capacity: usize) -> Vec<Vec<Option<usize>>> {
    let mut fill: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    let mut out = Vec::with_capacity(idx.nrows());
    for row in idx.rows() {
        let mut taken: Vec<(i64, Option<usize>)> = Vec::new();
        let mut mine = Vec::with_capacity(row.len());
        for &e in row {
            let slot = match taken.iter().find(|(te, _)| *te == e) {
                Some(&(_, s)) => s,
                None => {
                    let next = fill.entry(e).or_insert(0);
                    let s = (*next < capacity).then_some(*next);
                    *next += 1;
                    taken.push((e, s));
                    s
                }
            };
            mine.push(slot);
        }
        out.push(mine);
    }
    out
}

fn dispatch_t<T: Clone + Default>(
    x: &ArrayD<T>,
    idx: ArrayView2<'_, i64>,
    expert: usize,
    capacity: usize,
) -> R<ArrayD<T>> {
    let xs = matrix(x, "x")?;
    if xs.nrows() != idx.nrows() {
        return Err(format!(
            "x has {} tokens, indices {}",
            xs.nrows(),
            idx.nrows()
        ));
    }
    let mut out = Array2::<T>::default((capacity, xs.ncols()));
    for (t, choice) in slots(idx, capacity).iter().enumerate() {
        let row = idx.row(t);
        let hit = row.iter().zip(choice).find(|(e, _)| **e == expert as i64);
        if let Some((_, Some(slot))) = hit {
            out.row_mut(*slot).assign(&xs.row(t));
        }
    }
    Ok(out.into_dyn())
}

/// `MoeDispatch`: the `[capacity, H]` block of tokens routed to `expert`.
pub(crate) fn dispatch(x: &Tensor, indices: &Tensor, expert: usize, capacity: usize) -> R<Tensor> {
    let idx = matrix(i64_of(indices, "indices")?, "indices")?;
    let array = each_carrier!(&x.array, a => dispatch_t(a, idx, expert, capacity)?);
    Ok(Tensor {
        dtype: x.dtype,
        array,
    })
}

/// `MoeCombine`: inputs indices `[T, k]`, weights `[T, k]`, then `experts` results.
pub(crate) fn combine(ins: &[&Tensor], experts: usize, capacity: usize) -> R<Tensor> {
    let idx = matrix(i64_of(ins[0], "indices")?, "indices")?;
    let w = matrix(f32_of(ins[1], "gate weights")?, "gate weights")?;
    if w.shape() != idx.shape() {
        return Err(format!(
            "weights {:?} must match indices {:?}",
            w.shape(),
            idx.shape()
        ));
    }
    let outs: Vec<ArrayView2<'_, f32>> = ins[2..]
        .iter()
        .map(|t| matrix(f32_of(t, "expert result")?, "expert result"))
        .collect::<R<_>>()?;
    if outs.len() != experts {
        return Err(format!(
            "{experts} expert results expected, got {}",
            outs.len()
        ));
    }
    let h = outs.first().map_or(0, |o| o.ncols());
    if let Some(o) = outs.iter().find(|o| o.dim() != (capacity, h)) {
        return Err(format!(
            "expert results must be [{capacity}, {h}], got {:?}",
            o.shape()
        ));
    }
    if let Some(&e) = idx.iter().find(|&&e| e < 0 || e >= experts as i64) {
        return Err(format!("expert index {e} out of range 0..{experts}"));
    }
    let mut acc = Array2::<f64>::zeros((idx.nrows(), h));
    for (t, choice) in slots(idx, capacity).iter().enumerate() {
        for (j, slot) in choice.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let e = idx[[t, j]] as usize;
            let g = f64::from(w[[t, j]]);
            let src = outs[e].row(*slot);
            acc.row_mut(t)
                .zip_mut_with(&src, |a, &v| *a += g * f64::from(v));
        }
    }
    let dtype = ins.get(2).map_or(ins[1].dtype, |t| t.dtype);
    Ok(float_tensor(
        dtype,
        reshape_owned(acc.into_dyn(), &[idx.nrows(), h])?,
    ))
}
