//! Element-wise ops: binary arithmetic and comparisons (NumPy broadcasting), unary
//! math, `Where` and `Cast`.
//!
//! Floats: each result is computed in f64 from the (exact) operand values and rounded
//! once to the result dtype. For `+ - * /` this equals the IEEE-754 correctly rounded
//! result in f32, f16 and bf16 (f64 has more than twice the bits of each, so the
//! double rounding is innocuous). Transcendental functions use the pure-Rust `libm`
//! crate in f64 (identical on every platform) and are then rounded once.
//! Max/Min propagate NaN. Comparisons with NaN are false.
//!
//! Integers: `+ - *` and `Neg`/`Abs` wrap to the dtype's two's complement width
//! (i4: 4 bits, …), as integer hardware does; `Div` truncates toward zero, division
//! by zero is an evaluation error and `MIN / -1` wraps to `MIN`.
//!
//! Cast: float -> float rounds to nearest even; float -> int rounds half to even and
//! saturates (NaN -> 0); int -> int wraps (ONNX/NumPy `astype`); int -> float rounds
//! to nearest; bool -> number is 0/1; number -> bool is `x != 0` (NaN -> true).

use ndarray::{ArrayD, IxDyn, Zip};
use triad_isa::DType;

use super::no_kernel;
use super::tensor::{
    Array, R, Tensor, bool_of, float_tensor, float_to_int, int_to_float, round_f64, wrap_int,
};
use crate::infer::broadcast;
use crate::op::Op;

/// Broadcast two arrays to their common shape and combine them element by element.
fn zip2<A: Clone, B: Clone, C>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    f: impl Fn(A, B) -> C,
) -> R<ArrayD<C>> {
    let shape = broadcast(a.shape(), b.shape()).ok_or_else(|| {
        format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape(),
            b.shape()
        )
    })?;
    let dim = IxDyn(&shape);
    let (av, bv) = match (a.broadcast(dim.clone()), b.broadcast(dim)) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(format!("cannot broadcast to {shape:?}")),
    };
    Ok(Zip::from(&av)
        .and(&bv)
        .map_collect(|x, y| f(x.clone(), y.clone())))
}

/// `Add`, `Sub`, `Mul`, `Div`, `Pow`, `Max`, `Min`, `Equal`, `Less`, `Greater`, `And`, `Or`.
pub(crate) fn binary(op: &Op, a: &Tensor, b: &Tensor) -> R<Tensor> {
    let dt = a.dtype;
    let bools = |arr: ArrayD<bool>| Tensor {
        dtype: DType::Bool,
        array: Array::Bool(arr),
    };
    match (&a.array, &b.array) {
        (Array::F32(x), Array::F32(y)) => {
            let cmp = |f: fn(f32, f32) -> bool| zip2(x, y, f).map(bools);
            let arith = |f: fn(f64, f64) -> f64| {
                zip2(x, y, |p: f32, q: f32| f(p.into(), q.into())).map(|r| float_tensor(dt, r))
            };
            match op {
                Op::Add => arith(|p, q| p + q),
                Op::Sub => arith(|p, q| p - q),
                Op::Mul => arith(|p, q| p * q),
                Op::Div => arith(|p, q| p / q),
                Op::Pow => arith(libm::pow),
                Op::Max => arith(|p, q| {
                    if p.is_nan() || q.is_nan() {
                        f64::NAN
                    } else {
                        p.max(q)
                    }
                }),
                Op::Min => arith(|p, q| {
                    if p.is_nan() || q.is_nan() {
                        f64::NAN
                    } else {
                        p.min(q)
                    }
                }),
                Op::Equal => cmp(|p, q| p == q),
                Op::Less => cmp(|p, q| p < q),
                Op::Greater => cmp(|p, q| p > q),
                _ => Err(format!("{} is not defined on float tensors", op.name())),
            }
        }
        (Array::I64(x), Array::I64(y)) => {
            let cmp = |f: fn(i64, i64) -> bool| zip2(x, y, f).map(bools);
            let ints = |r: ArrayD<i64>| Tensor {
                dtype: dt,
                array: Array::I64(r.mapv(|v| wrap_int(dt, v))),
            };
            let arith = |f: fn(i64, i64) -> i64| zip2(x, y, f).map(ints);
            match op {
                Op::Add => arith(i64::wrapping_add),
                Op::Sub => arith(i64::wrapping_sub),
                Op::Mul => arith(i64::wrapping_mul),
                Op::Max => arith(i64::max),
                Op::Min => arith(i64::min),
                Op::Div => {
                    if y.iter().any(|&q| q == 0) {
                        return Err("integer division by zero".into());
                    }
                    arith(i64::wrapping_div)
                }
                Op::Equal => cmp(|p, q| p == q),
                Op::Less => cmp(|p, q| p < q),
                Op::Greater => cmp(|p, q| p > q),
                _ => Err(format!("{} is not defined on integer tensors", op.name())),
            }
        }
        (Array::Bool(x), Array::Bool(y)) => {
            let f: fn(bool, bool) -> bool = match op {
                Op::And => |p, q| p && q,
                Op::Or => |p, q| p || q,
                Op::Equal => |p, q| p == q,
                Op::Less => |p, q| !p & q,
                Op::Greater => |p, q| p & !q,
                _ => return Err(format!("{} is not defined on bool tensors", op.name())),
            };
            zip2(x, y, f).map(bools)
        }
        _ => Err(format!(
            "operand dtypes differ: {} and {}",
            a.dtype, b.dtype
        )),
    }
}

/// `0.5 x (1 + erf(x / sqrt 2))`.
fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

/// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (GPT-2's `gelu_new`).
fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + libm::tanh(c * (x + 0.044715 * x * x * x)))
}

/// `1 / (1 + e^-x)`.
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-x))
}

/// `Not`, `Neg`, `Abs`, `Relu` and the float functions (`Sqrt` … `Gelu`).
pub(crate) fn unary(op: &Op, x: &Tensor) -> R<Tensor> {
    let dt = x.dtype;
    match &x.array {
        Array::F32(a) => {
            let f: fn(f64) -> f64 = match op {
                Op::Neg => |v| -v,
                Op::Abs => f64::abs,
                // NaN passes through (`NaN > 0` is false, so test for <= 0).
                Op::Relu => |v| if v <= 0.0 { 0.0 } else { v },
                Op::Sqrt => f64::sqrt,
                Op::Reciprocal => |v| 1.0 / v,
                Op::Exp => libm::exp,
                Op::Log => libm::log,
                Op::Erf => libm::erf,
                Op::Tanh => libm::tanh,
                Op::Sigmoid => sigmoid,
                Op::Silu => |v| v * sigmoid(v),
                Op::Gelu { tanh_approx: false } => gelu_erf,
                Op::Gelu { tanh_approx: true } => gelu_tanh,
                _ => return Err(format!("{} is not defined on float tensors", op.name())),
            };
            Ok(float_tensor(dt, a.mapv(|v| f(v.into()))))
        }
        Array::I64(a) => {
            let f: fn(i64) -> i64 = match op {
                Op::Neg => i64::wrapping_neg,
                Op::Abs => i64::wrapping_abs,
                Op::Relu => |v| v.max(0),
                _ => return Err(format!("{} is not defined on integer tensors", op.name())),
            };
            Ok(Tensor {
                dtype: dt,
                array: Array::I64(a.mapv(|v| wrap_int(dt, f(v)))),
            })
        }
        Array::Bool(a) => match op {
            Op::Not => Ok(Tensor {
                dtype: DType::Bool,
                array: Array::Bool(a.mapv(|v| !v)),
            }),
            _ => Err(format!("{} is not defined on bool tensors", op.name())),
        },
    }
}

/// The kernel of `Where` and `Cast`.
pub(super) fn other(op: &Op, ins: &[&Tensor]) -> R<Tensor> {
    match op {
        Op::Where => where_(ins[0], ins[1], ins[2]),
        Op::Cast { to } => Ok(cast(ins[0], *to)),
        _ => no_kernel(op),
    }
}

/// `cond ? x : y` with all three broadcast together.
pub(crate) fn where_(cond: &Tensor, x: &Tensor, y: &Tensor) -> R<Tensor> {
    let c = bool_of(cond, "condition")?;
    let shape = broadcast(x.shape(), y.shape())
        .and_then(|s| broadcast(c.shape(), &s))
        .ok_or_else(|| {
            format!(
                "shapes {:?}, {:?} and {:?} do not broadcast",
                c.shape(),
                x.shape(),
                y.shape()
            )
        })?;
    fn pick<T: Clone>(c: &ArrayD<bool>, x: &ArrayD<T>, y: &ArrayD<T>, s: &[usize]) -> R<ArrayD<T>> {
        let dim = IxDyn(s);
        match (
            c.broadcast(dim.clone()),
            x.broadcast(dim.clone()),
            y.broadcast(dim),
        ) {
            (Some(c), Some(x), Some(y)) => Ok(Zip::from(&c)
                .and(&x)
                .and(&y)
                .map_collect(|&c, p, q| if c { p.clone() } else { q.clone() })),
            _ => Err(format!("cannot broadcast to {s:?}")),
        }
    }
    let array = match (&x.array, &y.array) {
        (Array::F32(p), Array::F32(q)) => Array::F32(pick(c, p, q, &shape)?),
        (Array::I64(p), Array::I64(q)) => Array::I64(pick(c, p, q, &shape)?),
        (Array::Bool(p), Array::Bool(q)) => Array::Bool(pick(c, p, q, &shape)?),
        _ => {
            return Err(format!(
                "x and y dtypes differ: {} and {}",
                x.dtype, y.dtype
            ));
        }
    };
    Ok(Tensor {
        dtype: x.dtype,
        array,
    })
}

/// Convert `x` to dtype `to` (rules in the module docs).
pub(crate) fn cast(x: &Tensor, to: DType) -> Tensor {
    let array = match &x.array {
        Array::F32(a) if to.is_float() => Array::F32(a.mapv(|v| round_f64(to, v.into()))),
        Array::F32(a) if to.is_int() => Array::I64(a.mapv(|v| float_to_int(to, v.into()))),
        Array::F32(a) => Array::Bool(a.mapv(|v| v != 0.0)),
        Array::I64(a) if to.is_float() => Array::F32(a.mapv(|v| int_to_float(to, v))),
        Array::I64(a) if to.is_int() => Array::I64(a.mapv(|v| wrap_int(to, v))),
        Array::I64(a) => Array::Bool(a.mapv(|v| v != 0)),
        Array::Bool(a) if to.is_float() => Array::F32(a.mapv(|v| f32::from(u8::from(v)))),
        Array::Bool(a) if to.is_int() => Array::I64(a.mapv(i64::from)),
        Array::Bool(a) => Array::Bool(a.clone()),
    };
    Tensor { dtype: to, array }
}
