//! Element-wise ONNX ops: arithmetic, comparisons, logic, activations, `Where`,
//! `Cast`/`CastLike` (a cast of a run-time value to its own type is dropped), `IsNaN`,
//! `Clip` (as `Max`/`Min`), and `Identity`/`Dropout` (removed: the output is the
//! input).
//!
//! `GreaterOrEqual`/`LessOrEqual` become `Not(Less)`/`Not(Greater)`; variadic
//! `Max`/`Min` fold left; `IsNaN(x)` is `Not(Equal(x, x))`. `Pow` casts its exponent
//! to the base's dtype. `Cast` from float to integer truncates toward zero (ONNX),
//! which the IR's rounding cast plus a correction reproduces exactly. The weight-only
//! quantisation idiom (`Cast(int weight)` then `Sub(zero point)` then `Mul(scale)`)
//! stays a lazy dequantised weight here; see `quant`. `Sin`/`Cos` fold exactly at
//! import time (RoPE tables); on a run-time value (RoPE of run-time positions) they
//! are a range reduction and a polynomial in IR ops (max abs error 5.2e-7).

use std::rc::Rc;

use triad_isa::DType;

use super::NodeIn;
use crate::data::Data;
use crate::error::Result;
use crate::onnx::fold::{Builder, Deq, Val};
use crate::onnx::tensor::elem_of;
use crate::op::Op;

/// Two-operand ops (and variadic `Max`/`Min`).
pub(super) fn binary(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let out = n.out(0);
    let mut ins = Vec::new();
    for i in 0..n.ins.len() {
        ins.push(n.input(i)?);
    }
    if ins.len() == 2
        && let Some(v) = super::quant::deq_idiom(b, n.op(), &ins[0], &ins[1])
    {
        return Ok(vec![v]);
    }
    let mut ins = ins
        .iter()
        .map(|v| b.plain(&n.name, v))
        .collect::<Result<Vec<_>>>()?;
    if ins.len() < 2 && !(matches!(n.op(), "Max" | "Min") && ins.len() == 1) {
        return Err(n.err(format!("expected 2 inputs, got {}", ins.len())));
    }
    let op = match n.op() {
        "Add" => Op::Add,
        "Sub" => Op::Sub,
        "Mul" => Op::Mul,
        "Div" => Op::Div,
        "Pow" => {
            let (tb, te) = (b.ty(&ins[0]), b.ty(&ins[1]));
            if tb.dtype.is_int() {
                // Integer powers: computed in f32 and converted back (exact while the
                // result has at most 24 significant bits).
                let mut f = Vec::new();
                for (i, v) in ins.iter().enumerate() {
                    let t = b.tmp(&n.name, &format!("pow_f{i}"));
                    f.push(b.emit1(
                        &n.name,
                        &t,
                        Op::Cast { to: DType::F32 },
                        std::slice::from_ref(v),
                    )?);
                }
                let t = b.tmp(&n.name, "pow");
                let p = b.emit1(&n.name, &t, Op::Pow, &f)?;
                return Ok(vec![b.emit1(
                    &n.name,
                    &out,
                    Op::Cast { to: tb.dtype },
                    &[p],
                )?]);
            }
            if tb.dtype != te.dtype {
                let t = b.tmp(&n.name, "exponent");
                ins[1] = b.emit1(&n.name, &t, Op::Cast { to: tb.dtype }, &[ins[1].clone()])?;
            }
            Op::Pow
        }
        "Max" => Op::Max,
        "Min" => Op::Min,
        "Equal" => Op::Equal,
        "Less" | "GreaterOrEqual" => Op::Less,
        "Greater" | "LessOrEqual" => Op::Greater,
        "And" => Op::And,
        "Or" => Op::Or,
        other => return Err(n.err(format!("`{other}` is not a binary op"))),
    };
    if ins.len() == 1 {
        return Ok(vec![ins.remove(0)]);
    }
    let negate = matches!(n.op(), "GreaterOrEqual" | "LessOrEqual");
    let mut acc = ins[0].clone();
    for (k, x) in ins.iter().enumerate().skip(1) {
        let last = k + 1 == ins.len() && !negate;
        let name = if last {
            out.clone()
        } else {
            b.tmp(&n.name, "acc")
        };
        acc = b.emit1(&n.name, &name, op.clone(), &[acc, x.clone()])?;
    }
    if negate {
        acc = b.emit1(&n.name, &out, Op::Not, &[acc])?;
    }
    Ok(vec![acc])
}

/// `Clip(x, min, max)`: `Min(Max(x, min), max)` with each bound optional (inputs
/// from opset 11, the `min`/`max` attributes before).
pub(super) fn clip(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = b.plain(&n.name, &n.input(0)?)?;
    let dtype = b.ty(&x).dtype;
    let bound = |b: &mut Builder, i: usize, attr: &str| -> Result<Option<Val>> {
        if n.opset >= 11 {
            return n.opt(i).map(|v| b.plain(&n.name, &v)).transpose();
        }
        match n.attrs().get(attr) {
            None => Ok(None),
            Some(_) => {
                let v = n.attrs().float_or(attr, 0.0)?;
                let c = b.scalar_f32(&n.name, v);
                let t = b.tmp(&n.name, attr);
                b.emit1(&n.name, &t, Op::Cast { to: dtype }, &[c]).map(Some)
            }
        }
    };
    let (lo, hi) = (bound(b, 1, "min")?, bound(b, 2, "max")?);
    let out = n.out(0);
    let y = match lo {
        None => x,
        Some(lo) => {
            let t = if hi.is_some() {
                b.tmp(&n.name, "lower")
            } else {
                out.clone()
            };
            b.emit1(&n.name, &t, Op::Max, &[x, lo])?
        }
    };
    match hi {
        None if n.opt(1).is_none() && n.attrs().get("min").is_none() => {
            // No bound at all: Clip is the identity; give the output its own name.
            let shape = b.ty(&y).shape.iter().map(|&d| d as i64).collect();
            Ok(vec![b.emit1(&n.name, &out, Op::Reshape { shape }, &[y])?])
        }
        None => Ok(vec![y]),
        Some(hi) => Ok(vec![b.emit1(&n.name, &out, Op::Min, &[y, hi])?]),
    }
}

/// One-operand ops.
pub(super) fn unary(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let x = b.plain(&n.name, &x)?;
    let op = match n.op() {
        "Not" => Op::Not,
        "Neg" => Op::Neg,
        "Abs" => Op::Abs,
        "Sqrt" => Op::Sqrt,
        "Reciprocal" => Op::Reciprocal,
        "Exp" => Op::Exp,
        "Log" => Op::Log,
        "Erf" => Op::Erf,
        "Tanh" => Op::Tanh,
        "Sigmoid" => Op::Sigmoid,
        "Relu" => Op::Relu,
        "Gelu" => {
            let a = n
                .attrs()
                .string("approximate")?
                .unwrap_or_else(|| "none".into());
            let tanh_approx = match a.as_str() {
                "none" => false,
                "tanh" => true,
                other => {
                    return Err(n.err(format!("approximate = `{other}`: expected none or tanh")));
                }
            };
            Op::Gelu { tanh_approx }
        }
        other => return Err(n.err(format!("`{other}` is not a unary op"))),
    };
    Ok(vec![b.emit1(&n.name, &n.out(0), op, &[x])?])
}

/// `Round(x)` (half to even) = the IR's rounding cast to i64 and back (saturating
/// outside the i64 range; NaN becomes 0).
pub(super) fn round(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let dtype = b.ty(&x).dtype;
    let t = b.tmp(&n.name, "rounded");
    let r = b.emit1(&n.name, &t, Op::Cast { to: DType::I64 }, &[x])?;
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Cast { to: dtype },
        &[r],
    )?])
}

/// `Sin`/`Cos`, at import time only: the IR has no trigonometric op, but exporters
/// compute RoPE tables with them from positions that fold (`Range` of a bound
/// sequence length); each value is computed in f64 and rounded once to the dtype.
pub(super) fn trig(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let Some(c) = n.input(0)?.konst() else {
        return trig_runtime(b, n);
    };
    let Data::F32(v) = &*c.data else {
        return Err(n.err(format!(
            "{} needs a float input, got {}",
            n.op(),
            c.ty.dtype
        )));
    };
    let f: fn(f64) -> f64 = if n.op() == "Sin" {
        libm::sin
    } else {
        libm::cos
    };
    let vals = v
        .iter()
        .map(|&x| crate::data::round_to(c.ty.dtype, f(f64::from(x)) as f32))
        .collect();
    Ok(vec![b.konst(&n.out(0), c.ty.clone(), Data::F32(vals))])
}

/// `IsNaN(x) = Not(Equal(x, x))`.
pub(super) fn is_nan(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let t = b.tmp(&n.name, "eq");
    let eq = b.emit1(&n.name, &t, Op::Equal, &[x.clone(), x])?;
    Ok(vec![b.emit1(&n.name, &n.out(0), Op::Not, &[eq])?])
}

/// `Where(cond, x, y)`.
pub(super) fn where_(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let mut ins = Vec::new();
    for i in 0..3 {
        let v = n.input(i)?;
        ins.push(b.plain(&n.name, &v)?);
    }
    Ok(vec![b.emit1(&n.name, &n.out(0), Op::Where, &ins)?])
}

/// `Identity` and inference-mode `Dropout`: the output is the input.
pub(super) fn identity(_b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    Ok(vec![n.input(0)?])
}

/// `Dropout`: the identity at inference. A constant-true `training_mode` with a
/// non-zero ratio drops at random, which no static graph reproduces: an error.
pub(super) fn dropout(_b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let training = match n.opt(2) {
        None => false,
        Some(t) => match t.konst() {
            Some(c) => c.f64s().iter().any(|&x| x != 0.0),
            None => return Err(n.err("input 2 (training_mode) must be known at import time")),
        },
    };
    let ratio = match n.opt(1).map(|r| r.konst()) {
        None => n.attrs().float_or("ratio", 0.5)? as f64,
        Some(Some(c)) => c.f64s().first().copied().unwrap_or(0.5),
        Some(None) => 0.5,
    };
    if training && ratio != 0.0 {
        return Err(n.err(format!(
            "training-mode Dropout (ratio {ratio}) is random; export the model in eval mode"
        )));
    }
    Ok(vec![n.input(0)?])
}

/// Cody-Waite split of 2*pi: `C1` has few significant bits (so `k * C1` is exact in
/// f32 for |k| < 2^15) and `C2 = 2*pi - C1`.
const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = (std::f64::consts::TAU - 6.28125) as f32;
/// Taylor terms of sin (odd powers) and cos (even powers) on [-pi, pi]: the
/// truncation error is below 3e-8 there.
const SIN_TERMS: usize = 9;
const COS_TERMS: usize = 10;

/// `Sin`/`Cos` of a run-time value (RoPE angles of run-time positions) in IR ops:
/// `r = x - k*2pi` with `k = round(x / 2pi)` (two-constant reduction), then a Horner
/// polynomial in `r^2`. Max abs error vs. the exact function, measured over
/// |x| <= 5000 in f32: 5.2e-7.
fn trig_runtime(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let dtype = b.ty(&x).dtype;
    if !dtype.is_float() {
        return Err(n.err(format!("{} needs a float input, got {dtype}", n.op())));
    }
    let nm = n.name.clone();
    let step = |b: &mut Builder, s: &str, op: Op, ins: &[Val]| -> Result<Val> {
        let t = b.tmp(&nm, s);
        b.emit1(&nm, &t, op, ins)
    };
    let x = if dtype == DType::F32 {
        x
    } else {
        step(b, "x_f32", Op::Cast { to: DType::F32 }, &[x])?
    };
    let inv = b.scalar_f32(&n.name, (1.0 / std::f64::consts::TAU) as f32);
    let turns = step(b, "turns", Op::Mul, &[x.clone(), inv])?;
    let k = step(b, "k_int", Op::Cast { to: DType::I64 }, &[turns])?;
    let k = step(b, "k", Op::Cast { to: DType::F32 }, &[k])?;
    let hi = b.scalar_f32(&n.name, TWO_PI_HI);
    let lo = b.scalar_f32(&n.name, TWO_PI_LO);
    let khi = step(b, "k_hi", Op::Mul, &[k.clone(), hi])?;
    let klo = step(b, "k_lo", Op::Mul, &[k, lo])?;
    let r = step(b, "r_hi", Op::Sub, &[x, khi])?;
    let r = step(b, "r", Op::Sub, &[r, klo])?;
    let r2 = step(b, "r2", Op::Mul, &[r.clone(), r.clone()])?;
    let sin = n.op() == "Sin";
    let (terms, first) = if sin { (SIN_TERMS, 1) } else { (COS_TERMS, 0) };
    let fact = |p: usize| (1..=p).map(|i| i as f64).product::<f64>();
    let coef = |i: usize| {
        let p = 2 * i + first;
        let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        (sign / fact(p)) as f32
    };
    let mut acc = b.scalar_f32(&n.name, coef(terms - 1));
    for i in (0..terms - 1).rev() {
        let m = step(b, &format!("h{i}_mul"), Op::Mul, &[acc, r2.clone()])?;
        let c = b.scalar_f32(&n.name, coef(i));
        acc = step(b, &format!("h{i}"), Op::Add, &[m, c])?;
    }
    let y = if sin {
        step(b, "sin_r", Op::Mul, &[acc, r])?
    } else {
        acc
    };
    if dtype == DType::F32 {
        return Ok(vec![y]);
    }
    let op = Op::Cast { to: dtype };
    Ok(vec![b.emit1(&n.name, &n.out(0), op, &[y])?])
}

/// `Cast` (target from `to`) and `CastLike` (target from input 1's dtype).
pub(super) fn cast(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let to = if n.op() == "CastLike" {
        b.ty(&n.input(1)?).dtype
    } else {
        let code = n
            .attrs()
            .int("to")?
            .ok_or_else(|| n.err("missing attribute `to`"))?;
        let e = elem_of(code as i32).map_err(|r| n.err(format!("to: {r}")))?;
        if e.shift != 0 {
            return Err(n.err("casts to unsigned 8/4-bit types are not supported"));
        }
        e.dtype
    };
    // A lazy weight cast to another float type stays lazy (its scale is kept exact).
    if let (Val::Deq(d), true) = (&x, to.is_float()) {
        return Ok(vec![Val::Deq(Rc::new(Deq {
            to,
            ..(**d).clone()
        }))]);
    }
    // Weight-only idiom: Cast(integer initializer) to float stays a lazy weight.
    if let Val::Const(c) = &x
        && c.param
        && matches!(c.ty.dtype, DType::I8 | DType::I4)
        && to.is_float()
    {
        return Ok(vec![Val::Deq(Rc::new(Deq {
            q: (**c).clone(),
            scale: None,
            zp: None,
            axis: None,
            to,
        }))]);
    }
    let x = b.plain(&n.name, &x)?;
    let from = b.ty(&x).dtype;
    if from == to && matches!(x, Val::Node { .. }) {
        // A cast to the value's own type (TorchScript's `aten::to`) moves nothing.
        return Ok(vec![x]);
    }
    let out = n.out(0);
    if !(from.is_float() && to.is_int()) {
        return Ok(vec![b.emit1(&n.name, &out, Op::Cast { to }, &[x])?]);
    }
    // Float -> int truncates toward zero in ONNX; the IR cast rounds half to even.
    if let Some(c) = x.konst() {
        let Data::F32(v) = &*c.data else {
            return Err(n.err("float constant without float data"));
        };
        let (lo, hi) = to.int_range().unwrap_or((i64::MIN, i64::MAX));
        let vals = v
            .iter()
            .map(|&f| {
                if f.is_nan() {
                    0
                } else {
                    (f.trunc() as i64).clamp(lo, hi)
                }
            })
            .collect();
        let mut ty = c.ty.clone();
        ty.dtype = to;
        return Ok(vec![b.konst(&out, ty, Data::I64(vals))]);
    }
    let t = |b: &mut Builder, s: &str| b.tmp(&n.name, s);
    let name = t(b, "round");
    let r = b.emit1(&n.name, &name, Op::Cast { to }, std::slice::from_ref(&x))?;
    let name = t(b, "round_f");
    let rf = b.emit1(
        &n.name,
        &name,
        Op::Cast { to: from },
        std::slice::from_ref(&r),
    )?;
    let (n1, n2, n3) = (t(b, "abs_r"), t(b, "abs_x"), t(b, "over"));
    let ar = b.emit1(&n.name, &n1, Op::Abs, &[rf])?;
    let ax = b.emit1(&n.name, &n2, Op::Abs, std::slice::from_ref(&x))?;
    let over = b.emit1(&n.name, &n3, Op::Greater, &[ar, ax])?;
    let zname = t(b, "zero");
    let zero = b.konst(
        &zname,
        crate::data::TensorType::new(from, []),
        Data::F32(vec![0.0]),
    );
    let (n4, n5, n6, n7, n8, n9) = (
        t(b, "pos"),
        t(b, "neg"),
        t(b, "pos_i"),
        t(b, "neg_i"),
        t(b, "sign"),
        t(b, "toward0"),
    );
    let pos = b.emit1(&n.name, &n4, Op::Greater, &[x.clone(), zero.clone()])?;
    let neg = b.emit1(&n.name, &n5, Op::Less, &[x, zero])?;
    let pos = b.emit1(&n.name, &n6, Op::Cast { to }, &[pos])?;
    let neg = b.emit1(&n.name, &n7, Op::Cast { to }, &[neg])?;
    let sign = b.emit1(&n.name, &n8, Op::Sub, &[pos, neg])?;
    let fixed = b.emit1(&n.name, &n9, Op::Sub, &[r.clone(), sign])?;
    Ok(vec![b.emit1(
        &n.name,
        &out,
        Op::Where,
        &[over, fixed, r],
    )?])
}
