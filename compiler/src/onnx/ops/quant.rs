//! Quantisation: QDQ ops, integer matmuls and the weight-only idioms.
//!
//! Weight-only idioms (recognised, never a float matmul on a dequantised copy):
//! - `DequantizeLinear(int8/int4 initializer, scale, zp)` -> `MatMul`/`Gemm`;
//! - `Cast(int8/int4 initializer)` [-> `Sub(zero point)`] -> `Mul(scale)` -> `MatMul`/`Gemm`;
//! - `MatMulNBits` (ONNX Runtime, 4-bit block-quantised weights).
//!
//! Each becomes `QMatMul(A, W, scale[, zp])` when the scale is per tensor or per
//! output column; `MatMulNBits` with several blocks along K becomes one `QMatMul` per
//! block on a `Slice` of A, summed (exact: the blocks partition K). A lazy weight
//! consumed by anything else (or with per-row scales) is dequantised at import time.
//!
//! Activations: `QuantizeLinear`/`DequantizeLinear` map to `Quantize`/`Dequantize`;
//! `DynamicQuantizeLinear` to its min/max formula in IR ops; `MatMulInteger` to an
//! integer `MatMul` plus zero-point corrections
//! `(A-a)(B-b) = AB - a*colsum(B) - rowsum(A)*b + K*a*b`; `QLinearMatMul` to that
//! product rescaled by `a_scale*b_scale` and re-quantised (ONNX Runtime rescales with
//! one float multiplier, so results may differ by one quantisation step).
//! Unsigned (`uint8`/`uint4`) values are carried shifted (see `tensor`).

use std::rc::Rc;

use triad_isa::DType;

use super::NodeIn;
use crate::data::{Data, TensorType};
use crate::error::Result;
use crate::infer::norm_axis;
use crate::onnx::fold::{Builder, Const, Deq, Val};
use crate::onnx::tensor::elem_of;
use crate::op::{Op, ReduceKind};

/// Most K-blocks of a `MatMulNBits` weight lowered as one `QMatMul` each; beyond
/// that the weight is dequantised (a float matmul), to bound graph size.
pub const MAX_NBITS_BLOCKS: usize = 64;

/// How a scale or zero point of shape `c` applies to a weight of shape `q`:
/// `Some(None)` per tensor, `Some(Some(axis))` along one axis, `None` otherwise.
fn per_axis(c: &[usize], q: &[usize]) -> Option<Option<usize>> {
    if c.len() > q.len() {
        return None;
    }
    let off = q.len() - c.len();
    let mut axis = None;
    for (i, &d) in c.iter().enumerate() {
        if d == 1 {
            continue;
        }
        if d != q[off + i] || axis.is_some() {
            return None;
        }
        axis = Some(off + i);
    }
    Some(axis)
}

/// A constant flattened to `[]` (per tensor) or `[n]` (per axis).
fn flat(c: &Const, axis: Option<usize>, shift: i64) -> Const {
    let shape: Vec<usize> = if axis.is_some() {
        vec![c.ty.elems() as usize]
    } else {
        vec![]
    };
    Const {
        ty: TensorType::new(c.ty.dtype, shape),
        shift,
        param: true,
        ..c.clone()
    }
}

/// `Mul(lazy weight, scale)` or `Sub(lazy weight, zero point)` of the Cast idiom.
pub(super) fn deq_idiom(b: &mut Builder, op: &str, x: &Val, y: &Val) -> Option<Val> {
    let (d, c) = match (op, x, y) {
        ("Mul", Val::Deq(d), Val::Const(c)) | ("Mul", Val::Const(c), Val::Deq(d)) => (d, c),
        ("Sub", Val::Deq(d), Val::Const(c)) => (d, c),
        _ => return None,
    };
    let axis = per_axis(&c.ty.shape, &d.q.ty.shape)?;
    if axis.is_some() && d.axis.is_some() && axis != d.axis {
        return None;
    }
    let axis = axis.or(d.axis);
    let _ = b;
    if op == "Mul" {
        if d.scale.is_some() || c.ty.dtype != d.to {
            return None;
        }
        return Some(Val::Deq(Rc::new(Deq {
            scale: Some(flat(c, axis.filter(|_| c.ty.elems() > 1), 0)),
            axis,
            ..(**d).clone()
        })));
    }
    // Sub: an integral zero point, before any scale.
    if d.scale.is_some() || d.zp.is_some() {
        return None;
    }
    let (lo, hi) = d.q.ty.dtype.int_range()?;
    let vals = c.f64s();
    let stored: Option<Vec<i64>> = vals
        .iter()
        .map(|&v| {
            let s = v as i64 - d.q.shift;
            (v.fract() == 0.0 && (lo..=hi).contains(&s)).then_some(s)
        })
        .collect();
    let zp = Const {
        name: format!("{}/zero_point", d.q.name),
        ty: TensorType::new(d.q.ty.dtype, c.ty.shape.clone()),
        data: Rc::new(Data::I64(stored?)),
        shift: d.q.shift,
        param: true,
    };
    Some(Val::Deq(Rc::new(Deq {
        zp: Some(flat(&zp, axis.filter(|_| c.ty.elems() > 1), d.q.shift)),
        axis,
        ..(**d).clone()
    })))
}

/// `A x W` for a lazy weight `d` as a `QMatMul`, or `None` when the weight's layout
/// does not fit one (the caller then uses a float matmul).
pub(super) fn qmatmul(
    b: &mut Builder,
    n: &NodeIn,
    a: &Val,
    d: &Deq,
    out: &str,
) -> Result<Option<Val>> {
    let a = b.plain(&n.name, a)?;
    let ta = b.ty(&a);
    let q = &d.q;
    let ok = q.ty.rank() == 2
        && matches!(q.ty.dtype, DType::I8 | DType::I4)
        && matches!(d.axis, None | Some(1))
        && ta.dtype == d.to
        && ta.rank() >= 1;
    if !ok {
        return Ok(None);
    }
    let cols = q.ty.shape[1];
    let mut scale = match &d.scale {
        Some(s) => s.clone(),
        None => Const {
            name: format!("{}/scale", q.name),
            ty: TensorType::new(DType::F32, []),
            data: Rc::new(Data::F32(vec![1.0])),
            shift: 0,
            param: true,
        },
    };
    scale.ty.dtype = DType::F32;
    let zp = match &d.zp {
        Some(z) => Some(z.clone()),
        None if q.shift != 0 => Some(Const {
            name: format!("{}/zero_point", q.name),
            ty: TensorType::new(q.ty.dtype, []),
            data: Rc::new(Data::I64(vec![-q.shift])),
            shift: q.shift,
            param: true,
        }),
        None => None,
    };
    let widen = |c: &Const| -> Const {
        if c.ty.rank() == 1 {
            return c.clone();
        }
        let data = match &*c.data {
            Data::F32(v) => Data::F32(vec![v[0]; cols]),
            Data::I64(v) => Data::I64(vec![v[0]; cols]),
            Data::Bool(v) => Data::Bool(vec![v[0]; cols]),
        };
        Const {
            ty: TensorType::new(c.ty.dtype, [cols]),
            data: Rc::new(data),
            name: format!("{}/per_column", c.name),
            ..c.clone()
        }
    };
    let zp = zp.filter(|z| z.ints().is_none_or(|v| v.iter().any(|&x| x - z.shift != 0)));
    let (scale, zp) = match zp {
        Some(z) if z.ty.rank() != scale.ty.rank() => (widen(&scale), Some(widen(&z))),
        other => (scale, other),
    };
    let mut ins = vec![
        a,
        Val::Const(Rc::new(Const {
            shift: 0,
            ..q.clone()
        })),
        Val::Const(Rc::new(scale)),
    ];
    if let Some(z) = zp {
        ins.push(Val::Const(Rc::new(Const { shift: 0, ..z })));
    }
    b.stats.qmatmuls += 1;
    Ok(Some(b.emit1(&n.name, out, Op::QMatMul, &ins)?))
}

/// Transpose a 2-D lazy weight (`Gemm` with `transB`).
fn transpose_deq(d: &Deq) -> Option<Deq> {
    if d.q.ty.rank() != 2 {
        return None;
    }
    let (r, c) = (d.q.ty.shape[0], d.q.ty.shape[1]);
    let Data::I64(v) = &*d.q.data else {
        return None;
    };
    let t: Vec<i64> = (0..r * c).map(|p| v[(p % r) * c + p / r]).collect();
    Some(Deq {
        q: Const {
            name: format!("{}/T", d.q.name),
            ty: TensorType::new(d.q.ty.dtype, [c, r]),
            data: Rc::new(Data::I64(t)),
            ..d.q.clone()
        },
        axis: d.axis.map(|a| 1 - a),
        ..d.clone()
    })
}

/// `Gemm` with a lazy weight: transposes, alpha folded into the scale, `beta * C` added.
pub(super) fn qgemm(
    b: &mut Builder,
    n: &NodeIn,
    (a, d): (Val, &Deq),
    c: Option<Val>,
    (alpha, beta, trans_a, trans_b): (f32, f32, bool, bool),
) -> Result<Option<Val>> {
    let mut d = if trans_b {
        match transpose_deq(d) {
            Some(t) => t,
            None => return Ok(None),
        }
    } else {
        d.clone()
    };
    if alpha != 1.0 {
        let s = d.scale.clone().unwrap_or_else(|| Const {
            name: format!("{}/scale", d.q.name),
            ty: TensorType::new(DType::F32, []),
            data: Rc::new(Data::F32(vec![1.0])),
            shift: 0,
            param: true,
        });
        let Data::F32(v) = &*s.data else {
            return Ok(None);
        };
        let scaled = v.iter().map(|x| x * alpha).collect();
        d.scale = Some(Const {
            data: Rc::new(Data::F32(scaled)),
            ..s
        });
    }
    let mut a = a;
    if trans_a {
        let t = b.tmp(&n.name, "aT");
        a = b.emit1(&n.name, &t, Op::Transpose { perm: vec![1, 0] }, &[a])?;
    }
    let out = n.out(0);
    let Some(c) = c else {
        return qmatmul(b, n, &a, &d, &out);
    };
    let t = b.tmp(&n.name, "qmm");
    let Some(y) = qmatmul(b, n, &a, &d, &t)? else {
        return Ok(None);
    };
    let mut c = b.plain(&n.name, &c)?;
    if beta != 1.0 {
        let k = b.scalar_f32(&n.name, beta);
        let t = b.tmp(&n.name, "betaC");
        c = b.emit1(&n.name, &t, Op::Mul, &[c, k])?;
    }
    Ok(Some(b.emit1(&n.name, &out, Op::Add, &[y, c])?))
}

/// A scale or zero point of shape `[1]` (or all-1 dims) as a scalar.
fn scalarise(b: &mut Builder, n: &NodeIn, v: Val) -> Result<Val> {
    let t = b.ty(&v);
    if t.rank() == 0 || t.elems() != 1 {
        return Ok(v);
    }
    let s = v.shift();
    let name = b.tmp(&n.name, "scalar");
    Ok(b.emit1(
        &n.name,
        &name,
        Op::Reshape { shape: vec![] },
        &[v.with_shift(0)],
    )?
    .with_shift(s))
}

/// An f32 scale (casting an f16/bf16 one), as a scalar when it has one element.
fn f32_scale(b: &mut Builder, n: &NodeIn, v: Val) -> Result<Val> {
    let v = scalarise(b, n, v)?;
    if b.ty(&v).dtype == DType::F32 {
        return Ok(v);
    }
    let name = b.tmp(&n.name, "scale_f32");
    b.emit1(&n.name, &name, Op::Cast { to: DType::F32 }, &[v])
}

/// The stored zero point for a value with `shift`: the given one, or `-shift`.
fn stored_zp(
    b: &mut Builder,
    n: &NodeIn,
    zp: Option<Val>,
    dtype: DType,
    shift: i64,
) -> Result<Option<Val>> {
    match zp {
        Some(z) => Ok(Some(scalarise(b, n, z)?.with_shift(0))),
        None if shift != 0 => Ok(Some(b.ints(&n.name, dtype, &[], vec![-shift]))),
        None => Ok(None),
    }
}

/// The value name for ONNX output `i`: its own name, or a generated one when the
/// value is stored shifted (the ONNX name is then left for the real-valued i32
/// conversion, should the value be a graph output).
fn shifted_name(b: &mut Builder, n: &NodeIn, i: usize, shift: i64) -> String {
    if shift == 0 {
        n.out(i)
    } else {
        b.tmp(&n.out(i), "stored")
    }
}

/// `QuantizeLinear`.
pub(super) fn quantize_linear(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    if n.attrs().int_or("block_size", 0)? != 0 {
        return Err(n.err("blocked quantisation (block_size) is not supported"));
    }
    let x = b.plain(&n.name, &n.input(0)?)?;
    let scale = f32_scale(b, n, n.input(1)?)?;
    let zp = n.opt(2).map(|z| narrow_u8(b, n, z)).transpose()?;
    let (to, shift) = match (&zp, n.attrs().int("output_dtype")?) {
        (Some(z), _) => (b.ty(z).dtype, z.shift()),
        (None, Some(code)) if code != 0 => {
            let e = elem_of(code as i32).map_err(|r| n.err(r))?;
            (e.dtype, e.shift)
        }
        _ => (DType::I8, 128),
    };
    let zp = stored_zp(b, n, zp, to, shift)?;
    let axis = n.attrs().int_or("axis", 1)?;
    let mut ins = vec![x, scale];
    ins.extend(zp);
    let name = shifted_name(b, n, 0, shift);
    let y = b.emit1(&n.name, &name, Op::Quantize { to, axis }, &ins)?;
    Ok(vec![y.with_shift(shift)])
}

/// `DequantizeLinear` (an integer initializer stays a lazy weight).
pub(super) fn dequantize_linear(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    if n.attrs().int_or("block_size", 0)? != 0 {
        return Err(n.err("blocked quantisation (block_size) is not supported"));
    }
    let x = n.input(0)?;
    let axis = n.attrs().int_or("axis", 1)?;
    let scale_v = n.input(1)?;
    let to = b.ty(&scale_v).dtype;
    if let (Val::Const(q), Some(s)) = (&x, scale_v.konst()) {
        let zc = match n.opt(2) {
            Some(z) => z.konst().map(Some),
            None => Some(None),
        };
        let lazy = q.param && matches!(q.ty.dtype, DType::I8 | DType::I4) && to.is_float();
        if let (true, Some(zc)) = (lazy, zc) {
            let ax = if s.ty.elems() > 1 {
                norm_axis(axis, q.ty.rank())
            } else {
                None
            };
            // Per-axis parameters must have one value per channel (else the graph's
            // Dequantize reports the mismatch).
            let fits = |c: &Const| match ax {
                None => c.ty.elems() == 1,
                Some(a) => c.ty.elems() == q.ty.shape[a] as u64,
            };
            let zp_fits = zc.as_ref().is_none_or(|z| fits(z));
            if (s.ty.elems() == 1 || ax.is_some()) && fits(&s) && zp_fits {
                return Ok(vec![Val::Deq(Rc::new(Deq {
                    q: (**q).clone(),
                    scale: Some(flat(&s, ax, 0)),
                    zp: zc.map(|z| flat(&z, ax, z.shift)),
                    axis: ax,
                    to,
                }))]);
            }
        }
    }
    let shift = x.shift();
    let dtype = b.ty(&x).dtype;
    let scale = f32_scale(b, n, scale_v)?;
    let zp = match n.opt(2) {
        // Real uint8 values in an i32 input: use the zero point's real value too.
        Some(z) if z.shift() != 0 && shift == 0 => {
            let z = b.plain(&n.name, &z)?;
            Some(scalarise(b, n, z)?)
        }
        other => stored_zp(b, n, other, dtype, shift)?,
    };
    let mut ins = vec![x.with_shift(0), scale];
    ins.extend(zp);
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Dequantize { to, axis },
        &ins,
    )?])
}

/// `DynamicQuantizeLinear`: uint8 with scale `(max(x,0) - min(x,0)) / 255` and zero
/// point `round(-min/scale)` clamped to [0, 255].
pub(super) fn dynamic_quantize_linear(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = b.plain(&n.name, &n.input(0)?)?;
    let nm = n.name.clone();
    let step = |b: &mut Builder, s: &str, op: Op, ins: &[Val]| -> Result<Val> {
        let t = b.tmp(&nm, s);
        b.emit1(&nm, &t, op, ins)
    };
    let max = |axes| Op::Reduce {
        kind: ReduceKind::Max,
        axes,
        keepdims: false,
    };
    let zero = b.scalar_f32(&n.name, 0.0);
    let mx = step(b, "max", max(vec![]), std::slice::from_ref(&x))?;
    let negx = step(b, "neg", Op::Neg, std::slice::from_ref(&x))?;
    let mn = step(b, "negmin", max(vec![]), &[negx])?;
    let mn = step(b, "min", Op::Neg, &[mn])?;
    let mx = step(b, "max0", Op::Max, &[mx, zero.clone()])?;
    let mn = step(b, "min0", Op::Min, &[mn, zero])?;
    let range = step(b, "range", Op::Sub, &[mx, mn.clone()])?;
    let q255 = b.scalar_f32(&n.name, 255.0);
    let scale = b.emit1(&n.name, &n.out(1), Op::Div, &[range, q255])?;
    let negmn = step(b, "negmin0", Op::Neg, &[mn])?;
    let zf = step(b, "zp_f", Op::Div, &[negmn, scale.clone()])?;
    let zi = step(b, "zp_i", Op::Cast { to: DType::I32 }, &[zf])?;
    let (lo, hi, off) = (
        b.ints(&n.name, DType::I32, &[], vec![0]),
        b.ints(&n.name, DType::I32, &[], vec![255]),
        b.ints(&n.name, DType::I32, &[], vec![128]),
    );
    let zi = step(b, "zp_lo", Op::Max, &[zi, lo])?;
    let zi = step(b, "zp_hi", Op::Min, &[zi, hi])?;
    let zi = step(b, "zp_shift", Op::Sub, &[zi, off])?;
    let name = shifted_name(b, n, 2, 128);
    let zp = b.emit1(&n.name, &name, Op::Cast { to: DType::I8 }, &[zi])?;
    let name = shifted_name(b, n, 0, 128);
    let y = b.emit1(
        &n.name,
        &name,
        Op::Quantize {
            to: DType::I8,
            axis: -1,
        },
        &[x, scale.clone(), zp.clone()],
    )?;
    Ok(vec![y.with_shift(128), scale, zp.with_shift(128)])
}

/// The exact i32 product `(A - a_zp) x (B - b_zp)` of stored (shifted) operands.
fn int_product(
    b: &mut Builder,
    n: &NodeIn,
    a: Val,
    bm: Val,
    azp: Option<Val>,
    bzp: Option<Val>,
    out: &str,
) -> Result<Val> {
    let (a, bm) = (narrow_u8(b, n, a)?, narrow_u8(b, n, bm)?);
    let azp = azp.map(|z| narrow_u8(b, n, z)).transpose()?;
    let bzp = bzp.map(|z| narrow_u8(b, n, z)).transpose()?;
    let (ta, tb) = (b.ty(&a), b.ty(&bm));
    let azp = stored_zp(b, n, azp, ta.dtype, a.shift())?;
    let bzp = stored_zp(b, n, bzp, tb.dtype, bm.shift())?;
    let is_zero = |v: &Option<Val>| {
        v.as_ref().is_none_or(|v| {
            v.konst()
                .and_then(|c| c.ints())
                .is_some_and(|x| x.iter().all(|&e| e == 0))
        })
    };
    let (a, bm) = (a.with_shift(0), bm.with_shift(0));
    if is_zero(&azp) && is_zero(&bzp) {
        return b.emit1(&n.name, out, Op::MatMul, &[a, bm]);
    }
    let nm = n.name.clone();
    let step = |b: &mut Builder, s: &str, op: Op, ins: &[Val]| -> Result<Val> {
        let t = b.tmp(&nm, s);
        b.emit1(&nm, &t, op, ins)
    };
    let i32c = Op::Cast { to: DType::I32 };
    let mm = step(b, "mm", Op::MatMul, &[a.clone(), bm.clone()])?;
    let k = ta.shape[ta.rank() - 1] as i64;
    let az = match azp {
        Some(z) => {
            let z = step(b, "a_zp", i32c.clone(), &[z])?;
            let zt = b.ty(&z);
            if zt.rank() == 1 && zt.shape[0] > 1 {
                step(
                    b,
                    "a_zp_col",
                    Op::Reshape {
                        shape: vec![zt.shape[0] as i64, 1],
                    },
                    &[z],
                )?
            } else {
                z
            }
        }
        None => b.ints(&n.name, DType::I32, &[], vec![0]),
    };
    let bz = match bzp {
        Some(z) => step(b, "b_zp", i32c.clone(), &[z])?,
        None => b.ints(&n.name, DType::I32, &[], vec![0]),
    };
    let ai = step(b, "a_i32", i32c.clone(), &[a])?;
    let bi = step(b, "b_i32", i32c, &[bm])?;
    let sum = |axis: i64| Op::Reduce {
        kind: ReduceKind::Sum,
        axes: vec![axis],
        keepdims: true,
    };
    let rows = step(b, "rowsum_a", sum(-1), &[ai])?;
    let cols = step(b, "colsum_b", sum(-2), &[bi])?;
    let t1 = step(b, "a_zp_colsum", Op::Mul, &[az.clone(), cols])?;
    let t2 = step(b, "rowsum_b_zp", Op::Mul, &[rows, bz.clone()])?;
    let kc = b.ints(&n.name, DType::I32, &[], vec![k]);
    let t3 = step(b, "zz", Op::Mul, &[az, bz])?;
    let t3 = step(b, "k_zz", Op::Mul, &[t3, kc])?;
    let y = step(b, "minus_a", Op::Sub, &[mm, t1])?;
    let y = step(b, "minus_b", Op::Sub, &[y, t2])?;
    b.emit1(&n.name, out, Op::Add, &[y, t3])
}

/// An i32 operand of an 8-bit integer op holds real uint8 values (an unsigned graph
/// input): store it shifted as i8.
fn narrow_u8(b: &mut Builder, n: &NodeIn, v: Val) -> Result<Val> {
    if v.shift() != 0 || b.ty(&v).dtype != DType::I32 {
        return Ok(v);
    }
    let off = b.ints(&n.name, DType::I32, &[], vec![128]);
    let t = b.tmp(&n.name, "u8_shift");
    let s = b.emit1(&n.name, &t, Op::Sub, &[v, off])?;
    let t = b.tmp(&n.name, "u8_stored");
    Ok(b.emit1(&n.name, &t, Op::Cast { to: DType::I8 }, &[s])?
        .with_shift(128))
}

/// `MatMulInteger`.
pub(super) fn matmul_integer(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let y = int_product(
        b,
        n,
        n.input(0)?,
        n.input(1)?,
        n.opt(2),
        n.opt(3),
        &n.out(0),
    )?;
    Ok(vec![y])
}

/// `QLinearMatMul`.
pub(super) fn qlinear_matmul(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let t = b.tmp(&n.name, "int_product");
    let p = int_product(b, n, n.input(0)?, n.input(3)?, n.opt(2), n.opt(5), &t)?;
    let t = b.tmp(&n.name, "product_f32");
    let pf = b.emit1(&n.name, &t, Op::Cast { to: DType::F32 }, &[p])?;
    let (sa, sb) = (f32_scale(b, n, n.input(1)?)?, f32_scale(b, n, n.input(4)?)?);
    let t = b.tmp(&n.name, "ab_scale");
    let s = b.emit1(&n.name, &t, Op::Mul, &[sa, sb])?;
    let t = b.tmp(&n.name, "real");
    let x = b.emit1(&n.name, &t, Op::Mul, &[pf, s])?;
    let ys = f32_scale(b, n, n.input(6)?)?;
    let yz = narrow_u8(b, n, n.input(7)?)?;
    let (to, shift) = (b.ty(&yz).dtype, yz.shift());
    let yz = stored_zp(b, n, Some(yz), to, shift)?;
    let mut ins = vec![x, ys];
    ins.extend(yz);
    let name = shifted_name(b, n, 0, shift);
    let y = b.emit1(&n.name, &name, Op::Quantize { to, axis: -1 }, &ins)?;
    Ok(vec![y.with_shift(shift)])
}

/// `MatMulNBits` (com.microsoft, 4-bit, per-block scales and zero points).
pub(super) fn matmul_nbits(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let at = n.attrs();
    let k = at.int("K")?.ok_or_else(|| n.err("missing attribute K"))? as usize;
    let cols = at.int("N")?.ok_or_else(|| n.err("missing attribute N"))? as usize;
    let bits = at.int_or("bits", 4)?;
    let bs = at
        .int("block_size")?
        .ok_or_else(|| n.err("missing attribute block_size"))? as usize;
    if bits != 4 || bs == 0 {
        return Err(n.err(format!(
            "bits = {bits}, block_size = {bs}: only 4-bit weights are supported"
        )));
    }
    let limit = 1usize << 24;
    if k == 0 || cols == 0 || k > limit || cols > limit || bs > limit {
        return Err(n.err(format!(
            "K = {k}, N = {cols}, block_size = {bs}: out of range"
        )));
    }
    let blocks = k.div_ceil(bs);
    let w = n.konst(1, "B")?;
    let sc = n.konst(2, "scales")?;
    let bytes = w.ints().ok_or_else(|| n.err("B must be uint8"))?;
    if bytes.len() != cols * blocks * bs.div_ceil(2) || sc.ty.elems() as usize != cols * blocks {
        return Err(n.err(format!(
            "B/scales sizes do not match N={cols}, K={k}, block_size={bs}"
        )));
    }
    let scales = sc.f64s();
    let zps: Vec<i64> = match n.opt(3) {
        None => vec![8; cols * blocks],
        Some(z) => {
            let z = z
                .konst()
                .ok_or_else(|| n.err("zero_points must be constant"))?;
            if !z.ty.dtype.is_int() {
                return Err(n.err("float zero points are not supported"));
            }
            let zb = z.ints().unwrap_or_default();
            let per_row = blocks.div_ceil(2);
            (0..cols * blocks)
                .map(|i| {
                    let (c, blk) = (i / blocks, i % blocks);
                    let byte = zb.get(c * per_row + blk / 2).copied().unwrap_or(8);
                    (byte >> (4 * (blk % 2))) & 0xF
                })
                .collect()
        }
    };
    let blob = bs.div_ceil(2);
    let nib = |c: usize, kk: usize| {
        let (blk, j) = (kk / bs, kk % bs);
        (bytes[(c * blocks + blk) * blob + j / 2] >> (4 * (j % 2))) & 0xF
    };
    let a = b.plain(&n.name, &n.input(0)?)?;
    let out = n.out(0);
    let has_bias = n.opt(5).is_some();
    let mut acc: Option<Val> = None;
    if blocks > MAX_NBITS_BLOCKS {
        let vals = (0..k * cols)
            .map(|p| {
                let (kk, c) = (p / cols, p % cols);
                let i = c * blocks + kk / bs;
                ((nib(c, kk) - zps[i]) as f64 * scales[i]) as f32
            })
            .collect();
        let t = b.tmp(&n.name, "weight");
        let wv = b.konst(
            &t,
            TensorType::new(b.ty(&a).dtype, [k, cols]),
            Data::F32(vals),
        );
        let name = if has_bias {
            b.tmp(&n.name, "mm")
        } else {
            out.clone()
        };
        acc = Some(b.emit1(&n.name, &name, Op::MatMul, &[a.clone(), wv])?);
    }
    for blk in 0..blocks * usize::from(acc.is_none()) {
        let (k0, k1) = (blk * bs, ((blk + 1) * bs).min(k));
        let rows = k1 - k0;
        let q: Vec<i64> = (0..rows * cols)
            .map(|p| nib(p % cols, k0 + p / cols) - 8)
            .collect();
        let s: Vec<f32> = (0..cols).map(|c| scales[c * blocks + blk] as f32).collect();
        let z: Vec<i64> = (0..cols).map(|c| zps[c * blocks + blk] - 8).collect();
        let mk = |b: &mut Builder, s: &str, ty: TensorType, d: Data| {
            let t = b.tmp(&n.name, s);
            let v = b.konst(&t, ty, d);
            match v {
                Val::Const(c) => Val::Const(Rc::new(Const {
                    param: true,
                    ..(*c).clone()
                })),
                o => o,
            }
        };
        let qv = mk(
            b,
            &format!("w{blk}"),
            TensorType::new(DType::I4, [rows, cols]),
            Data::I64(q),
        );
        let sv = mk(
            b,
            &format!("scale{blk}"),
            TensorType::new(DType::F32, [cols]),
            Data::F32(s),
        );
        let zv = mk(
            b,
            &format!("zp{blk}"),
            TensorType::new(DType::I4, [cols]),
            Data::I64(z),
        );
        let ablk = if blocks == 1 {
            a.clone()
        } else {
            let t = b.tmp(&n.name, &format!("a{blk}"));
            let op = Op::Slice {
                starts: vec![k0 as i64],
                ends: vec![k1 as i64],
                axes: vec![-1],
                steps: vec![],
            };
            b.emit1(&n.name, &t, op, std::slice::from_ref(&a))?
        };
        let last = blk + 1 == blocks && !has_bias;
        let t = if last && blocks == 1 {
            out.clone()
        } else {
            b.tmp(&n.name, &format!("qmm{blk}"))
        };
        b.stats.qmatmuls += 1;
        let y = b.emit1(&n.name, &t, Op::QMatMul, &[ablk, qv, sv, zv])?;
        acc = Some(match acc {
            None => y,
            Some(prev) => {
                let t = if last {
                    out.clone()
                } else {
                    b.tmp(&n.name, &format!("sum{blk}"))
                };
                b.emit1(&n.name, &t, Op::Add, &[prev, y])?
            }
        });
    }
    let mut y = acc.ok_or_else(|| n.err("K = 0"))?;
    if let Some(bias) = n.opt(5) {
        y = b.emit1(&n.name, &out, Op::Add, &[y, bias])?;
    }
    Ok(vec![y])
}
