//! Element-wise ONNX ops: arithmetic, comparisons, logic, activations, `Where`,
//! `Cast`/`CastLike`, `IsNaN`, and `Identity`/`Dropout` (removed: the output is the
//! input).
//!
//! `GreaterOrEqual`/`LessOrEqual` become `Not(Less)`/`Not(Greater)`; variadic
//! `Max`/`Min` fold left; `IsNaN(x)` is `Not(Equal(x, x))`. `Pow` casts its exponent
//! to the base's dtype. `Cast` from float to integer truncates toward zero (ONNX),
//! which the IR's rounding cast plus a correction reproduces exactly. The weight-only
//! quantisation idiom (`Cast(int weight)` then `Sub(zero point)` then `Mul(scale)`)
//! stays a lazy dequantised weight here; see `quant`. `Sin`/`Cos` exist only at
//! import time (folded RoPE tables); on a run-time value they are an error.

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
    let c = n.konst(0, "x")?;
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
