//! Matrix products, normalisation, softmax and reductions.
//!
//! `MatMul` with 1-D operands is reshaped around (ONNX/NumPy rules); a `MatMul` or
//! `Gemm` whose weight is a lazy dequantised integer weight becomes a `QMatMul`
//! (see `quant`). `LayerNormalization` maps to `LayerNorm`,
//! `SimplifiedLayerNormalization`/`RMSNormalization` to `RmsNorm`; their optional
//! statistics outputs (mean, inverse std-dev) are not provided. Softmax before
//! opset 13 flattens to 2-D at `axis` (its old semantics). `ReduceMean/Sum/Max` take
//! axes from the attribute or (newer opsets) the constant second input. `TopK`
//! (largest only) maps to the IR's sorted `TopK` (ties: lower index first).

use triad_isa::DType;

use super::NodeIn;
use crate::error::Result;
use crate::infer::norm_axis;
use crate::onnx::fold::{Builder, Val};
use crate::op::{Op, ReduceKind};

/// `Softmax`.
pub(super) fn softmax(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let s = b.ty(&x).shape;
    if n.opset >= 13 {
        let axis = n.attrs().int_or("axis", -1)?;
        return Ok(vec![b.emit1(
            &n.name,
            &n.out(0),
            Op::Softmax { axis },
            &[x],
        )?]);
    }
    let a = n.attrs().int_or("axis", 1)?;
    let a = if a < 0 { a + s.len() as i64 } else { a }.clamp(0, s.len() as i64) as usize;
    let flat = vec![
        s[..a].iter().product::<usize>() as i64,
        s[a..].iter().product::<usize>() as i64,
    ];
    let t = b.tmp(&n.name, "2d");
    let x2 = b.emit1(&n.name, &t, Op::Reshape { shape: flat }, &[x])?;
    let t = b.tmp(&n.name, "softmax");
    let y = b.emit1(&n.name, &t, Op::Softmax { axis: -1 }, &[x2])?;
    let shape = s.iter().map(|&d| d as i64).collect();
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Reshape { shape },
        &[y],
    )?])
}

/// `MatMul`.
pub(super) fn matmul(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let (a, w) = (n.input(0)?, n.input(1)?);
    let out = n.out(0);
    if let (Val::Deq(d), false) = (&w, matches!(a, Val::Const(_) | Val::Deq(_)))
        && let Some(v) = super::quant::qmatmul(b, n, &a, d, &out)?
    {
        return Ok(vec![v]);
    }
    let (a, w) = (b.plain(&n.name, &a)?, b.plain(&n.name, &w)?);
    let (ta, tw) = (b.ty(&a), b.ty(&w));
    if ta.rank() >= 2 && tw.rank() >= 2 {
        return Ok(vec![b.emit1(&n.name, &out, Op::MatMul, &[a, w])?]);
    }
    // 1-D operands: promote, multiply, drop the added dim.
    let mut a2 = a;
    let mut w2 = w;
    if ta.rank() == 1 {
        let t = b.tmp(&n.name, "a2d");
        a2 = b.emit1(
            &n.name,
            &t,
            Op::Reshape {
                shape: vec![1, ta.shape[0] as i64],
            },
            &[a2],
        )?;
    }
    if tw.rank() == 1 {
        let t = b.tmp(&n.name, "b2d");
        w2 = b.emit1(
            &n.name,
            &t,
            Op::Reshape {
                shape: vec![tw.shape[0] as i64, 1],
            },
            &[w2],
        )?;
    }
    let t = b.tmp(&n.name, "mm");
    let y = b.emit1(&n.name, &t, Op::MatMul, &[a2, w2])?;
    let mut shape: Vec<i64> = b.ty(&y).shape.iter().map(|&d| d as i64).collect();
    let r = shape.len();
    if tw.rank() == 1 {
        shape.remove(r - 1);
    }
    if ta.rank() == 1 {
        shape.remove(shape.len() - if tw.rank() == 1 { 1 } else { 2 });
    }
    Ok(vec![b.emit1(&n.name, &out, Op::Reshape { shape }, &[y])?])
}

/// `Gemm`.
pub(super) fn gemm(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let at = n.attrs();
    let alpha = at.float_or("alpha", 1.0)?;
    let beta = at.float_or("beta", 1.0)?;
    let trans_a = at.int_or("transA", 0)? != 0;
    let trans_b = at.int_or("transB", 0)? != 0;
    let (a, w) = (n.input(0)?, n.input(1)?);
    let c = n.opt(2);
    if let Val::Deq(d) = &w
        && !matches!(a, Val::Const(_) | Val::Deq(_))
        && let Some(v) = super::quant::qgemm(
            b,
            n,
            (a.clone(), d),
            c.clone(),
            (alpha, beta, trans_a, trans_b),
        )?
    {
        return Ok(vec![v]);
    }
    let mut ins = vec![b.plain(&n.name, &a)?, b.plain(&n.name, &w)?];
    if let Some(c) = c {
        ins.push(b.plain(&n.name, &c)?);
    }
    let op = Op::Gemm {
        alpha,
        beta,
        trans_a,
        trans_b,
    };
    Ok(vec![b.emit1(&n.name, &n.out(0), op, &ins)?])
}

/// `LayerNormalization` -> `LayerNorm`.
pub(super) fn layer_norm(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let axis = n.attrs().int_or("axis", -1)?;
    let eps = n.attrs().float_or("epsilon", 1e-5)?;
    let mut ins = vec![n.input(0)?, n.input(1)?];
    if let Some(bias) = n.opt(2) {
        ins.push(bias);
    }
    let ins = fit_params(b, n, ins, axis)?;
    let x = ins[0].clone();
    let y = b.emit1(&n.name, &n.out(0), Op::LayerNorm { axis, eps }, &ins)?;
    let wanted = |i: usize| n.proto.output.get(i).is_some_and(|o| !o.is_empty());
    if !wanted(1) && !wanted(2) {
        return Ok(vec![y]);
    }
    // Mean and 1/sqrt(var + eps) over the normalised axes, kept as size-1 dims.
    let rank = b.ty(&x).rank() as i64;
    let a = if axis < 0 { axis + rank } else { axis };
    let axes: Vec<i64> = (a..rank).collect();
    let mean_op = Op::Reduce {
        kind: ReduceKind::Mean,
        axes,
        keepdims: true,
    };
    let mean = b.emit1(
        &n.name,
        &n.out(1),
        mean_op.clone(),
        std::slice::from_ref(&x),
    )?;
    let t = b.tmp(&n.name, "centered");
    let d = b.emit1(&n.name, &t, Op::Sub, &[x, mean.clone()])?;
    let t = b.tmp(&n.name, "sq");
    let sq = b.emit1(&n.name, &t, Op::Mul, &[d.clone(), d])?;
    let t = b.tmp(&n.name, "var");
    let var = b.emit1(&n.name, &t, mean_op, &[sq])?;
    let e = b.scalar_f32(&n.name, eps);
    let dtype = b.ty(&var).dtype;
    let e = if dtype == DType::F32 {
        e
    } else {
        let t = b.tmp(&n.name, "eps");
        b.emit1(&n.name, &t, Op::Cast { to: dtype }, &[e])?
    };
    let t = b.tmp(&n.name, "var_eps");
    let ve = b.emit1(&n.name, &t, Op::Add, &[var, e])?;
    let t = b.tmp(&n.name, "std");
    let sd = b.emit1(&n.name, &t, Op::Sqrt, &[ve])?;
    let inv = b.emit1(&n.name, &n.out(2), Op::Reciprocal, &[sd])?;
    Ok(vec![y, mean, inv])
}

/// `SimplifiedLayerNormalization` / `RMSNormalization` -> `RmsNorm`.
pub(super) fn rms_norm(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let axis = n.attrs().int_or("axis", -1)?;
    let eps = n.attrs().float_or("epsilon", 1e-5)?;
    let ins = fit_params(b, n, vec![n.input(0)?, n.input(1)?], axis)?;
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::RmsNorm { axis, eps },
        &ins,
    )?])
}

/// Reshape norm parameters to exactly the normalised dims of x (ONNX lets them be
/// broadcastable, e.g. with leading 1s).
pub(super) fn fit_params(
    b: &mut Builder,
    n: &NodeIn,
    mut ins: Vec<Val>,
    axis: i64,
) -> Result<Vec<Val>> {
    let xs = b.ty(&ins[0]).shape;
    let a = norm_axis(axis, xs.len()).ok_or_else(|| n.err(format!("axis {axis} out of range")))?;
    let want = &xs[a..];
    for p in ins.iter_mut().skip(1) {
        let t = b.ty(p);
        if t.shape != want && t.elems() == want.iter().product::<usize>() as u64 {
            let name = b.tmp(&n.name, "param");
            let shape = want.iter().map(|&d| d as i64).collect();
            *p = b.emit1(
                &n.name,
                &name,
                Op::Reshape { shape },
                std::slice::from_ref(p),
            )?;
        }
    }
    Ok(ins)
}

/// `ReduceMean`, `ReduceSum`, `ReduceMax`.
pub(super) fn reduce(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = b.plain(&n.name, &n.input(0)?)?;
    let kind = match n.op() {
        "ReduceMean" => ReduceKind::Mean,
        "ReduceSum" => ReduceKind::Sum,
        _ => ReduceKind::Max,
    };
    let keepdims = n.attrs().int_or("keepdims", 1)? != 0;
    let axes = match n.opt_ints(1, "axes")? {
        Some(a) => a,
        None => n.attrs().ints("axes")?.unwrap_or_default(),
    };
    if axes.is_empty() && n.attrs().int_or("noop_with_empty_axes", 0)? != 0 {
        return Ok(vec![x]);
    }
    let ty = b.ty(&x);
    let x = if kind == ReduceKind::Mean && !ty.dtype.is_float() {
        return Err(n.err(format!("ReduceMean of {} is not supported", ty.dtype)));
    } else if ty.dtype == DType::Bool {
        return Err(n.err("reductions of bool are not supported"));
    } else {
        x
    };
    let op = Op::Reduce {
        kind,
        axes,
        keepdims,
    };
    Ok(vec![b.emit1(&n.name, &n.out(0), op, &[x])?])
}

/// `TopK` (largest, sorted): values and i64 indices; `K` must be a constant.
pub(super) fn top_k(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = b.plain(&n.name, &n.input(0)?)?;
    if n.attrs().int_or("largest", 1)? != 1 {
        return Err(n.err("largest = 0 (smallest-k) is not supported"));
    }
    let k = match n.opt_ints(1, "K")?.or(n.attrs().int("k")?.map(|k| vec![k])) {
        Some(v) if v.len() == 1 && v[0] > 0 => v[0] as usize,
        other => return Err(n.err(format!("K must be one positive integer, got {other:?}"))),
    };
    let axis = n.attrs().int_or("axis", -1)?;
    b.emit(&n.name, Op::TopK { k, axis }, &[x], &[n.out(0), n.out(1)])
}
