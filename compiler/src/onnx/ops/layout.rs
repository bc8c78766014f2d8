//! Shape computation and data movement: `Shape`, `Size`, `Constant`,
//! `ConstantOfShape`, `Range` (computed at import time), `Transpose`, `Reshape`,
//! `Concat` (a `KvAppend` when its first of two operands is a KV-cache input),
//! `Flatten`/`Squeeze`/`Unsqueeze` (static `Reshape`s), `Expand` (a `Reshape` plus
//! `Concat` copies along each broadcast axis, so no IR op is needed), `Concat`,
//! `Split`, `Slice`, `Gather`, `GatherND` and `GatherElements` (a `Reshape` to 1-D
//! and a `Gather` of flat indices; indices must be constant) and `Trilu` (a `Where` on a constant mask).
//!
//! Operands that select shapes (`Reshape`'s shape, `Slice`'s starts, `Expand`'s shape,
//! …) must be computable at import time; otherwise the error names the node and says
//! to bind dynamic dims. Data movement keeps an unsigned value's shift.

use std::rc::Rc;

use triad_isa::DType;

use super::NodeIn;
use crate::data::{Data, TensorType};
use crate::error::Result;
use crate::infer::norm_axis;
use crate::onnx::fold::{Builder, Deq, Val};
use crate::onnx::tensor::decode;
use crate::op::Op;

fn axis(n: &NodeIn, a: i64, rank: usize) -> Result<usize> {
    norm_axis(a, rank).ok_or_else(|| n.err(format!("axis {a} out of range for rank {rank}")))
}

/// Emit `op` on input 0 keeping its unsigned shift.
fn keep_shift(b: &mut Builder, n: &NodeIn, op: Op, x: Val) -> Result<Val> {
    let s = x.shift();
    Ok(b.emit1(&n.name, &n.out(0), op, &[x.with_shift(0)])?
        .with_shift(s))
}

/// Static reshape of input 0 to `shape`.
fn reshape_to(b: &mut Builder, n: &NodeIn, x: Val, shape: &[usize]) -> Result<Val> {
    let shape = shape.iter().map(|&d| d as i64).collect();
    keep_shift(b, n, Op::Reshape { shape }, x)
}

/// `Transpose` (a lazy quantised weight stays lazy: its integers are transposed).
pub(super) fn transpose(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let rank = b.ty(&x).rank();
    let perm: Vec<usize> = match n.attrs().ints("perm")? {
        Some(p) => p.iter().map(|&a| axis(n, a, rank)).collect::<Result<_>>()?,
        None => (0..rank).rev().collect(),
    };
    if let Val::Deq(d) = &x {
        let name = b.tmp(&d.q.name, "T");
        let qv = Val::Const(Rc::new(d.q.clone())).with_shift(0);
        let op = Op::Transpose { perm: perm.clone() };
        let q = b.emit1(&n.name, &name, op, &[qv])?;
        let Some(q) = q.konst() else {
            return Err(n.err("transposing a constant did not fold"));
        };
        let mut q = (*q).clone();
        q.shift = d.q.shift;
        let axis = d.axis.and_then(|a| perm.iter().position(|&p| p == a));
        return Ok(vec![Val::Deq(Rc::new(Deq {
            q,
            axis,
            ..(**d).clone()
        }))]);
    }
    Ok(vec![keep_shift(b, n, Op::Transpose { perm }, x)?])
}

/// `Reshape` with a constant target (`allowzero` = 1 is not supported).
pub(super) fn reshape(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let shape = n
        .opt_ints(1, "shape")?
        .or(n.attrs().ints("shape")?)
        .ok_or_else(|| n.err("missing shape"))?;
    if n.attrs().int_or("allowzero", 0)? != 0 && shape.contains(&0) {
        return Err(n.err("allowzero = 1 with a 0 in the shape (empty tensors) is not supported"));
    }
    Ok(vec![keep_shift(b, n, Op::Reshape { shape }, x)?])
}

/// `Flatten` to 2-D at `axis`.
pub(super) fn flatten(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    let a = n.attrs().int_or("axis", 1)?;
    let a = if a < 0 { a + s.len() as i64 } else { a };
    if !(0..=s.len() as i64).contains(&a) {
        return Err(n.err(format!("axis {a} out of range for rank {}", s.len())));
    }
    let a = a as usize;
    let shape = [s[..a].iter().product(), s[a..].iter().product()];
    Ok(vec![reshape_to(b, n, x, &shape)?])
}

fn axes_of(n: &NodeIn) -> Result<Option<Vec<i64>>> {
    match n.opt_ints(1, "axes")? {
        Some(a) => Ok(Some(a)),
        None => n.attrs().ints("axes"),
    }
}

/// `Squeeze` (all size-1 dims when no axes are given).
pub(super) fn squeeze(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    let drop: Vec<usize> = match axes_of(n)? {
        Some(a) => a
            .iter()
            .map(|&a| axis(n, a, s.len()))
            .collect::<Result<_>>()?,
        None => (0..s.len()).filter(|&i| s[i] == 1).collect(),
    };
    if let Some(&i) = drop.iter().find(|&&i| s[i] != 1) {
        return Err(n.err(format!("cannot squeeze axis {i} of shape {s:?}")));
    }
    let shape: Vec<usize> = (0..s.len())
        .filter(|i| !drop.contains(i))
        .map(|i| s[i])
        .collect();
    Ok(vec![reshape_to(b, n, x, &shape)?])
}

/// `Unsqueeze`: axes index the result.
pub(super) fn unsqueeze(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    let axes = axes_of(n)?.ok_or_else(|| n.err("missing axes"))?;
    let r = s.len() + axes.len();
    let mut ins: Vec<usize> = axes.iter().map(|&a| axis(n, a, r)).collect::<Result<_>>()?;
    ins.sort_unstable();
    ins.dedup();
    if ins.len() != axes.len() {
        return Err(n.err(format!("repeated axes {axes:?}")));
    }
    let mut it = s.iter();
    let shape: Vec<usize> = (0..r)
        .map(|i| {
            if ins.contains(&i) {
                1
            } else {
                *it.next().unwrap_or(&1)
            }
        })
        .collect();
    Ok(vec![reshape_to(b, n, x, &shape)?])
}

/// `Expand`: broadcast to a constant shape.
pub(super) fn expand(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    let want = n
        .opt_ints(1, "shape")?
        .ok_or_else(|| n.err("missing shape"))?;
    let want: Vec<usize> = want.iter().map(|&d| d.max(0) as usize).collect();
    let target = crate::infer::broadcast(&s, &want)
        .ok_or_else(|| n.err(format!("shape {s:?} does not broadcast to {want:?}")))?;
    crate::onnx::tensor::check_elems(&n.name, &target)?;
    let shift = x.shift();
    let mut cur = x.with_shift(0);
    if target.len() > s.len() {
        let mut padded = vec![1usize; target.len() - s.len()];
        padded.extend(&s);
        let t = b.tmp(&n.name, "rank");
        let shape = padded.iter().map(|&d| d as i64).collect();
        cur = b.emit1(&n.name, &t, Op::Reshape { shape }, &[cur])?;
    }
    let mut shape = b.ty(&cur).shape;
    let axes: Vec<usize> = (0..target.len())
        .filter(|&i| shape[i] != target[i])
        .collect();
    if axes.is_empty() {
        return Ok(vec![cur.with_shift(shift)]);
    }
    for (k, &a) in axes.iter().enumerate() {
        let name = if k + 1 == axes.len() {
            n.out(0)
        } else {
            b.tmp(&n.name, "expand")
        };
        let copies = vec![cur.clone(); target[a]];
        cur = b.emit1(&n.name, &name, Op::Concat { axis: a as i64 }, &copies)?;
        shape[a] = target[a];
    }
    Ok(vec![cur.with_shift(shift)])
}

/// `Concat`.
pub(super) fn concat(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let a = n
        .attrs()
        .int("axis")?
        .ok_or_else(|| n.err("missing attribute `axis`"))?;
    let mut ins = Vec::new();
    for i in 0..n.ins.len() {
        let v = n.input(i)?;
        ins.push(b.plain(&n.name, &v)?);
    }
    if ins.len() == 1 {
        return Ok(ins); // a one-operand Concat is the identity
    }
    // Appending to a KV-cache input (the `past_key_values.*` of a decoder export) is
    // the cache update: a `KvAppend`, so the new entries count as KV writes.
    let op = if ins.len() == 2 && is_kv_input(b, &ins[0]) {
        Op::KvAppend { axis: a }
    } else {
        Op::Concat { axis: a }
    };
    Ok(vec![b.emit1(&n.name, &n.out(0), op, &ins)?])
}

/// True when `v` is a graph input marked as KV cache.
fn is_kv_input(b: &Builder, v: &Val) -> bool {
    let Val::Node { v, shift: 0 } = v else {
        return false;
    };
    matches!(
        b.g.node(v.node).op,
        Op::Input {
            kind: crate::op::InputKind::KvCache
        }
    )
}

/// `Split` (sizes from the `split` input or attribute, or `num_outputs`, or even).
pub(super) fn split(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    let a = axis(n, n.attrs().int_or("axis", 0)?, s.len())?;
    let len = s[a];
    let sizes: Vec<usize> = match n.opt_ints(1, "split")?.or(n.attrs().ints("split")?) {
        Some(v) => v.iter().map(|&d| d.max(0) as usize).collect(),
        None => {
            let k = match n.attrs().int("num_outputs")? {
                Some(k) => k.max(1) as usize,
                None => n.proto.output.len().max(1),
            };
            let chunk = len.div_ceil(k);
            (0..k)
                .map(|i| chunk.min(len.saturating_sub(i * chunk)))
                .collect()
        }
    };
    let outs: Vec<String> = (0..sizes.len()).map(|i| n.out(i)).collect();
    let shift = x.shift();
    let vals = b.emit(
        &n.name,
        Op::Split {
            axis: a as i64,
            sizes,
        },
        &[x.with_shift(0)],
        &outs,
    )?;
    Ok(vals.into_iter().map(|v| v.with_shift(shift)).collect())
}

/// `Slice` with constant starts/ends/axes/steps (inputs from opset 10, attributes before).
pub(super) fn slice(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let at = n.attrs();
    let (starts, ends, axes, steps) = if n.ins.len() > 1 {
        (
            n.opt_ints(1, "starts")?.unwrap_or_default(),
            n.opt_ints(2, "ends")?.unwrap_or_default(),
            n.opt_ints(3, "axes")?.unwrap_or_default(),
            n.opt_ints(4, "steps")?.unwrap_or_default(),
        )
    } else {
        (
            at.ints("starts")?.unwrap_or_default(),
            at.ints("ends")?.unwrap_or_default(),
            at.ints("axes")?.unwrap_or_default(),
            Vec::new(),
        )
    };
    let op = Op::Slice {
        starts,
        ends,
        axes,
        steps,
    };
    Ok(vec![keep_shift(b, n, op, x)?])
}

/// `Gather` (constant negative indices are wrapped).
pub(super) fn gather(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    let a = axis(n, n.attrs().int_or("axis", 0)?, s.len())?;
    let mut idx = b.plain(&n.name, &n.input(1)?)?;
    if let Some(c) = idx.konst()
        && let Some(v) = c.ints()
        && v.iter().any(|&i| i < 0)
    {
        let dim = s[a] as i64;
        let fixed = v.iter().map(|&i| if i < 0 { i + dim } else { i }).collect();
        let ty = TensorType::new(DType::I64, c.ty.shape.clone());
        let name = b.tmp(&n.name, "indices");
        idx = b.konst(&name, ty, Data::I64(fixed));
    }
    let shift = x.shift();
    let out = b.emit1(
        &n.name,
        &n.out(0),
        Op::Gather { axis: a as i64 },
        &[x.with_shift(0), idx],
    )?;
    Ok(vec![out.with_shift(shift)])
}

/// `GatherND` (batch_dims = 0): constant indices become flat row indices; run-time
/// indices of 1-tuples (`[..., 1]`, what the dynamo exporter writes for
/// `weight[expert_ids]`) are a `Gather` along axis 0 of the squeezed indices (which
/// takes negative indices from the end, as GatherND does). Run-time tuples of 2 or
/// more indices are refused (they must be computable at import time).
pub(super) fn gather_nd(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    if n.attrs().int_or("batch_dims", 0)? != 0 {
        return Err(n.err("batch_dims != 0 is not supported"));
    }
    let ind = b.plain(&n.name, &n.input(1)?)?;
    let ishape = b.ty(&ind).shape;
    if ind.konst().is_none() && ishape.last() == Some(&1) && !s.is_empty() {
        let shape = ishape[..ishape.len() - 1]
            .iter()
            .map(|&d| d as i64)
            .collect();
        let t = b.tmp(&n.name, "indices");
        let flat = b.emit1(&n.name, &t, Op::Reshape { shape }, &[ind])?;
        let shift = x.shift();
        let out = b.emit1(
            &n.name,
            &n.out(0),
            Op::Gather { axis: 0 },
            &[x.with_shift(0), flat],
        )?;
        return Ok(vec![out.with_shift(shift)]);
    }
    let c = n.konst(1, "indices")?;
    let idx = c.ints().ok_or_else(|| n.err("indices must be integers"))?;
    let ishape = &c.ty.shape;
    let k = *ishape
        .last()
        .ok_or_else(|| n.err("indices must have rank >= 1"))?;
    if k == 0 || k > s.len() {
        return Err(n.err(format!(
            "index tuples of length {k} for data of rank {}",
            s.len()
        )));
    }
    let mut flat = Vec::with_capacity(idx.len() / k);
    for tuple in idx.chunks(k) {
        let mut f = 0i64;
        for (j, &i) in tuple.iter().enumerate() {
            let d = s[j] as i64;
            let i = if i < 0 { i + d } else { i };
            if !(0..d).contains(&i) {
                return Err(n.err(format!("index {i} out of range for dim {j} of {s:?}")));
            }
            f = f * d + i;
        }
        flat.push(f);
    }
    let rows: usize = s[..k].iter().product();
    let mut shape = vec![rows as i64];
    shape.extend(s[k..].iter().map(|&d| d as i64));
    let t = b.tmp(&n.name, "rows");
    let shift = x.shift();
    let data = b.emit1(&n.name, &t, Op::Reshape { shape }, &[x.with_shift(0)])?;
    let t = b.tmp(&n.name, "flat_indices");
    let ind = b.konst(
        &t,
        TensorType::new(DType::I64, &ishape[..ishape.len() - 1]),
        Data::I64(flat),
    );
    let out = b.emit1(&n.name, &n.out(0), Op::Gather { axis: 0 }, &[data, ind])?;
    Ok(vec![out.with_shift(shift)])
}

/// `Shape` (with `start`/`end`): always known, since shapes are static.
pub(super) fn shape(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let s = b.ty(&n.input(0)?).shape;
    let r = s.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(n.attrs().int_or("start", 0)?);
    let end = clamp(n.attrs().int_or("end", r)?).max(start);
    let v: Vec<i64> = s[start..end].iter().map(|&d| d as i64).collect();
    let ty = TensorType::new(DType::I64, [v.len()]);
    Ok(vec![b.konst(&n.out(0), ty, Data::I64(v))])
}

/// `Size`: number of elements.
pub(super) fn size(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let e = b.ty(&n.input(0)?).elems() as i64;
    Ok(vec![b.konst(
        &n.out(0),
        TensorType::new(DType::I64, []),
        Data::I64(vec![e]),
    )])
}

/// `ConstantOfShape`: fill a constant shape with the `value` attribute (default f32 0).
pub(super) fn constant_of_shape(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let shape = n
        .opt_ints(0, "shape")?
        .ok_or_else(|| n.err("missing shape"))?;
    let shape: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    crate::onnx::tensor::check_elems(&n.name, &shape)?;
    let (dtype, data, shift) = match n.attrs().tensor("value")? {
        Some(t) => {
            let d = decode(t, None)?;
            if d.data.len() != 1 {
                return Err(n.err("attribute `value` must hold one element"));
            }
            (d.ty.dtype, d.data, d.shift)
        }
        None => (DType::F32, Data::F32(vec![0.0]), 0),
    };
    let count: usize = shape.iter().product();
    if count as u64 > super::super::fold::MAX_FOLD_GROWTH {
        return Err(n.err(format!(
            "a constant of {count} elements exceeds the import-time limit of {} elements",
            super::super::fold::MAX_FOLD_GROWTH
        )));
    }
    let data = match data {
        Data::F32(v) => Data::F32(vec![v[0]; count]),
        Data::I64(v) => Data::I64(vec![v[0]; count]),
        Data::Bool(v) => Data::Bool(vec![v[0]; count]),
    };
    let v = b.konst(&n.out(0), TensorType::new(dtype, shape), data);
    Ok(vec![v.with_shift(shift)])
}

/// `Constant` (`value`, `value_float(s)`, `value_int(s)`).
pub(super) fn constant(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let at = n.attrs();
    let out = n.out(0);
    if let Some(t) = at.tensor("value")? {
        let d = decode(t, None)?;
        return Ok(vec![b.konst(&out, d.ty, d.data).with_shift(d.shift)]);
    }
    if let Some(f) = at.get("value_float").and_then(|a| a.f) {
        return Ok(vec![b.konst(
            &out,
            TensorType::new(DType::F32, []),
            Data::F32(vec![f]),
        )]);
    }
    if let Some(v) = at
        .floats("value_floats")?
        .filter(|_| at.get("value_floats").is_some())
    {
        let ty = TensorType::new(DType::F32, [v.len()]);
        return Ok(vec![b.konst(&out, ty, Data::F32(v))]);
    }
    if let Some(i) = at.get("value_int").and_then(|a| a.i) {
        return Ok(vec![b.konst(
            &out,
            TensorType::new(DType::I64, []),
            Data::I64(vec![i]),
        )]);
    }
    if let Some(v) = at.ints("value_ints")? {
        let ty = TensorType::new(DType::I64, [v.len()]);
        return Ok(vec![b.konst(&out, ty, Data::I64(v))]);
    }
    Err(n.err("no supported value attribute (value, value_float(s), value_int(s))"))
}

/// Largest `Range` result accepted (elements): the import-time folding limit, so a
/// bad delta cannot make a tiny file allocate gigabytes.
const MAX_RANGE_ELEMS: f64 = super::super::fold::MAX_FOLD_GROWTH as f64;

/// `Range(start, limit, delta)` with constant operands.
pub(super) fn range(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let (s, l, d) = (
        n.konst(0, "start")?,
        n.konst(1, "limit")?,
        n.konst(2, "delta")?,
    );
    let (sv, lv, dv) = (s.f64s(), l.f64s(), d.f64s());
    if sv.len() != 1 || lv.len() != 1 || dv.len() != 1 {
        return Err(n.err("start, limit and delta must be scalars"));
    }
    let (start, limit, delta) = (sv[0], lv[0], dv[0]);
    if delta == 0.0 {
        return Err(n.err("delta must not be 0"));
    }
    let count = ((limit - start) / delta).ceil().max(0.0);
    if !count.is_finite() || count > MAX_RANGE_ELEMS {
        return Err(n.err(format!(
            "range of {count} elements exceeds the limit of {MAX_RANGE_ELEMS} elements"
        )));
    }
    let count = count as usize;
    let dtype = s.ty.dtype;
    let ty = TensorType::new(dtype, [count]);
    let data = if dtype.is_float() {
        let (st, de) = (start as f32, delta as f32);
        Data::F32((0..count).map(|i| st + i as f32 * de).collect())
    } else {
        let (st, de) = (start as i64, delta as i64);
        Data::I64((0..count).map(|i| st + i as i64 * de).collect())
    };
    Ok(vec![b.konst(&n.out(0), ty, data)])
}

/// `Trilu(x, k)`: keep the upper (or lower) triangle, zero elsewhere.
pub(super) fn trilu(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = b.plain(&n.name, &n.input(0)?)?;
    let ty = b.ty(&x);
    if ty.rank() < 2 {
        return Err(n.err("input must have rank >= 2"));
    }
    let k = match n.opt_ints(1, "k")? {
        Some(v) if v.len() == 1 => v[0],
        Some(_) => return Err(n.err("k must be a scalar")),
        None => 0,
    };
    let upper = n.attrs().int_or("upper", 1)? != 0;
    let (rows, cols) = (ty.shape[ty.rank() - 2], ty.shape[ty.rank() - 1]);
    let mask: Vec<bool> = (0..rows * cols)
        .map(|p| {
            let (i, j) = ((p / cols) as i64, (p % cols) as i64);
            if upper { j - i >= k } else { j - i <= k }
        })
        .collect();
    let t = b.tmp(&n.name, "mask");
    let m = b.konst(
        &t,
        TensorType::new(DType::Bool, [rows, cols]),
        Data::Bool(mask),
    );
    let zero = match ty.dtype {
        d if d.is_float() => Data::F32(vec![0.0]),
        DType::Bool => Data::Bool(vec![false]),
        _ => Data::I64(vec![0]),
    };
    let t = b.tmp(&n.name, "zero");
    let z = b.konst(&t, TensorType::new(ty.dtype, []), zero);
    Ok(vec![b.emit1(&n.name, &n.out(0), Op::Where, &[m, x, z])?])
}

/// `GatherElements` with constant indices: `out[i] = data[i with i[axis] = idx[i]]`,
/// as a `Gather` of flat indices from the flattened data.
pub(super) fn gather_elements(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    let ax = axis(n, n.attrs().int_or("axis", 0)?, s.len())?;
    let c = n.konst(1, "indices")?;
    let idx = c.ints().ok_or_else(|| n.err("indices must be integers"))?;
    let ishape = c.ty.shape.clone();
    if ishape.len() != s.len() {
        return Err(n.err(format!(
            "indices {ishape:?} must have the rank of data {s:?}"
        )));
    }
    if ishape
        .iter()
        .zip(&s)
        .enumerate()
        .any(|(i, (&a, &d))| i != ax && a > d)
    {
        return Err(n.err(format!("indices {ishape:?} exceed data {s:?}")));
    }
    let mut strides = vec![1usize; s.len()];
    for i in (0..s.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * s[i + 1];
    }
    let d = s[ax] as i64;
    let mut flat = Vec::with_capacity(idx.len());
    let mut coord = vec![0usize; ishape.len()];
    for &i in &idx {
        let i = if i < 0 { i + d } else { i };
        if !(0..d).contains(&i) {
            return Err(n.err(format!("index {i} out of range for axis {ax} of {s:?}")));
        }
        let f: usize = coord
            .iter()
            .enumerate()
            .map(|(j, &c)| (if j == ax { i as usize } else { c }) * strides[j])
            .sum();
        flat.push(f as i64);
        for j in (0..coord.len()).rev() {
            coord[j] += 1;
            if coord[j] < ishape[j] {
                break;
            }
            coord[j] = 0;
        }
    }
    let t = b.tmp(&n.name, "flat");
    let shift = x.shift();
    let total = s.iter().product::<usize>() as i64;
    let data = b.emit1(
        &n.name,
        &t,
        Op::Reshape { shape: vec![total] },
        &[x.with_shift(0)],
    )?;
    let t = b.tmp(&n.name, "flat_indices");
    let ind = b.konst(&t, TensorType::new(DType::I64, ishape), Data::I64(flat));
    let out = b.emit1(&n.name, &n.out(0), Op::Gather { axis: 0 }, &[data, ind])?;
    Ok(vec![out.with_shift(shift)])
}
