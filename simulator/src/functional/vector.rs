//! The vector instructions (`npu.vec` or `cpu.N`): element-wise maps, row
//! statistics, conversion and data movement. Numerics are in the parent module's
//! docs: maps evaluate in f64 and round once; softmax, the norms and reduce sum /
//! mean work in f32 in index order and round once to the dtype.

use triad_isa::{
    Act, ActFn, BinOp, Convert, DType, Eltwise, Gather, LayerNorm, MathFn, Reduce, ReduceOp,
    RmsNorm, Rope, Softmax, Transpose, Unary,
};

use super::Exec;
use super::elem::{self, Vals};
use crate::Result;

/// Elements of a rows × cols tile.
fn tile(rows: u32, cols: u32) -> u64 {
    u64::from(rows) * u64::from(cols)
}

/// NaN-propagating max / min.
fn fmax(p: f64, q: f64) -> f64 {
    if p.is_nan() || q.is_nan() {
        f64::NAN
    } else {
        p.max(q)
    }
}
fn fmin(p: f64, q: f64) -> f64 {
    if p.is_nan() || q.is_nan() {
        f64::NAN
    } else {
        p.min(q)
    }
}
fn fmax32(p: f32, q: f32) -> f32 {
    if p.is_nan() || q.is_nan() {
        f32::NAN
    } else {
        p.max(q)
    }
}
fn fmin32(p: f32, q: f32) -> f32 {
    if p.is_nan() || q.is_nan() {
        f32::NAN
    } else {
        p.min(q)
    }
}

/// Applies `op` to one pair of integers of `dtype` (wrapping); `None` for a division
/// by zero.
pub(super) fn int_binop(op: BinOp, dtype: DType, p: i64, q: i64) -> Option<i64> {
    let v = match op {
        BinOp::Add => p.wrapping_add(q),
        BinOp::Sub => p.wrapping_sub(q),
        BinOp::Mul => p.wrapping_mul(q),
        BinOp::Div => {
            if q == 0 {
                return None;
            }
            p.wrapping_div(q)
        }
        BinOp::Max => p.max(q),
        BinOp::Min => p.min(q),
    };
    Some(elem::wrap(dtype, v))
}

/// Applies `op` to one pair of floats, exactly in f64 (rounded once by the caller).
pub(super) fn float_binop(op: BinOp, p: f64, q: f64) -> f64 {
    match op {
        BinOp::Add => p + q,
        BinOp::Sub => p - q,
        BinOp::Mul => p * q,
        BinOp::Div => p / q,
        BinOp::Max => fmax(p, q),
        BinOp::Min => fmin(p, q),
    }
}

/// `out = a op b` over `n` elements of `dtype`; `b_at(e)` picks b's element for e.
pub(super) fn binary(
    x: &Exec<'_>,
    op: BinOp,
    dtype: DType,
    a: &Vals,
    b: &Vals,
    b_at: impl Fn(usize) -> usize,
) -> Result<Vals> {
    match (a, b) {
        (Vals::Float(a), Vals::Float(b)) => Ok(elem::from_f64(
            dtype,
            a.iter()
                .enumerate()
                .map(|(e, &p)| float_binop(op, p.into(), b[b_at(e)].into())),
        )),
        (Vals::Int(a), Vals::Int(b)) if dtype != DType::Bool => a
            .iter()
            .enumerate()
            .map(|(e, &p)| {
                int_binop(op, dtype, p, b[b_at(e)])
                    .ok_or_else(|| x.err(format!("integer division by zero at element {e}")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Vals::Int),
        _ => Err(x.err(format!("`{}` is not defined on {dtype}", op.name()))),
    }
}

/// `eltwise`.
pub(super) fn eltwise(x: &mut Exec<'_>, i: &Eltwise) -> Result<()> {
    let n = tile(i.rows, i.cols);
    let a = x.load(i.a, i.dtype, n)?;
    let b = x.load(i.b, i.dtype, if i.bcast { u64::from(i.cols) } else { n })?;
    let cols = i.cols as usize;
    let out = if i.bcast {
        binary(x, i.op, i.dtype, &a, &b, |e| e % cols)?
    } else {
        binary(x, i.op, i.dtype, &a, &b, |e| e)?
    };
    x.store(i.out, i.dtype, &out)
}

/// A float function evaluated in f64.
type FloatFn = fn(f64) -> f64;
/// An integer function (wrapped to the dtype afterwards).
type IntFn = fn(i64) -> i64;

/// `1 / (1 + e^-v)`.
fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-v))
}

/// GELU, tanh approximation (GPT-2's `gelu_new`; the ISA's `gelu`).
pub(super) fn gelu_tanh(v: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * v * (1.0 + libm::tanh(c * (v + 0.044715 * v * v * v)))
}

/// An activation in f64.
pub(super) fn activation(f: ActFn, v: f64) -> f64 {
    match f {
        // NaN passes through (`NaN <= 0` is false).
        ActFn::Relu => {
            if v <= 0.0 {
                0.0
            } else {
                v
            }
        }
        ActFn::Gelu => gelu_tanh(v),
        ActFn::Silu => v * sigmoid(v),
        ActFn::Sigmoid => sigmoid(v),
        ActFn::Tanh => libm::tanh(v),
    }
}

/// Element-wise map: floats through `f` in f64, integers through `g` (`None`:
/// undefined on integers).
fn map(
    x: &mut Exec<'_>,
    what: &str,
    v: Vals,
    dtype: DType,
    f: impl Fn(f64) -> f64,
    g: Option<fn(i64) -> i64>,
) -> Result<Vals> {
    match (v, g) {
        (Vals::Float(v), _) => Ok(elem::from_f64(dtype, v.iter().map(|&p| f(p.into())))),
        (Vals::Int(v), Some(g)) if dtype != DType::Bool => Ok(Vals::Int(
            v.iter().map(|&p| elem::wrap(dtype, g(p))).collect(),
        )),
        _ => Err(x.err(format!("`{what}` is not defined on {dtype}"))),
    }
}

/// `unary`.
pub(super) fn unary(x: &mut Exec<'_>, i: &Unary) -> Result<()> {
    let v = x.load(i.x, i.dtype, tile(i.rows, i.cols))?;
    let (f, g): (FloatFn, Option<IntFn>) = match i.func {
        MathFn::Exp => (libm::exp, None),
        MathFn::Neg => (|p| -p, Some(i64::wrapping_neg)),
        MathFn::Abs => (f64::abs, Some(i64::wrapping_abs)),
        MathFn::Sqrt => (f64::sqrt, None),
        MathFn::Rsqrt => (|p| 1.0 / p.sqrt(), None),
        MathFn::Recip => (|p| 1.0 / p, None),
        MathFn::Square => (|p| p * p, Some(|p| p.wrapping_mul(p))),
    };
    let out = map(x, i.func.name(), v, i.dtype, f, g)?;
    x.store(i.out, i.dtype, &out)
}

/// `act`.
pub(super) fn act(x: &mut Exec<'_>, i: &Act) -> Result<()> {
    let v = x.load(i.x, i.dtype, tile(i.rows, i.cols))?;
    let g: Option<fn(i64) -> i64> = match i.func {
        ActFn::Relu => Some(|p| p.max(0)),
        _ => None,
    };
    let func = i.func;
    let out = map(x, func.name(), v, i.dtype, |p| activation(func, p), g)?;
    x.store(i.out, i.dtype, &out)
}

/// `softmax` in f32: max, exp(x − max), index-order sum, divide.
pub(super) fn softmax(x: &mut Exec<'_>, i: &Softmax) -> Result<()> {
    let v = x.floats(i.x, i.dtype, tile(i.rows, i.cols))?;
    let mut out = Vec::with_capacity(v.len());
    for row in v.chunks((i.cols as usize).max(1)) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, fmax32);
        let e: Vec<f32> = row
            .iter()
            .map(|&p| libm::exp(f64::from(p - m)) as f32)
            .collect();
        let mut s = 0f32;
        for &t in &e {
            s += t;
        }
        out.extend(e.iter().map(|&t| f64::from(t / s)));
    }
    x.store(i.out, i.dtype, &elem::from_f64(i.dtype, out))
}

/// Shared body of layernorm (`centre`) and rmsnorm, in f32.
fn normalise(
    v: &[f32],
    cols: usize,
    gamma: &[f32],
    beta: Option<&[f32]>,
    eps: f32,
    centre: bool,
) -> Vec<f64> {
    let n = cols as f32;
    let mut out = Vec::with_capacity(v.len());
    for row in v.chunks(cols.max(1)) {
        let mean = if centre {
            let mut s = 0f32;
            for &p in row {
                s += p;
            }
            s / n
        } else {
            0.0
        };
        let mut ss = 0f32;
        for &p in row {
            let d = p - mean;
            ss += d * d;
        }
        let inv = 1.0 / (ss / n + eps).sqrt();
        for (j, &p) in row.iter().enumerate() {
            let y = (p - mean) * inv * gamma[j] + beta.map_or(0.0, |b| b[j]);
            out.push(f64::from(y));
        }
    }
    out
}

/// `layernorm`: (x − mean) / √(var + eps) · gamma + beta, population variance.
pub(super) fn layernorm(x: &mut Exec<'_>, i: &LayerNorm) -> Result<()> {
    let v = x.floats(i.x, i.dtype, tile(i.rows, i.cols))?;
    let g = x.floats(i.gamma, i.dtype, u64::from(i.cols))?;
    let b = x.floats(i.beta, i.dtype, u64::from(i.cols))?;
    let out = normalise(&v, i.cols as usize, &g, Some(&b), i.eps, true);
    x.store(i.out, i.dtype, &elem::from_f64(i.dtype, out))
}

/// `rmsnorm`: x / √(mean(x²) + eps) · gamma.
pub(super) fn rmsnorm(x: &mut Exec<'_>, i: &RmsNorm) -> Result<()> {
    let v = x.floats(i.x, i.dtype, tile(i.rows, i.cols))?;
    let g = x.floats(i.gamma, i.dtype, u64::from(i.cols))?;
    let out = normalise(&v, i.cols as usize, &g, None, i.eps, false);
    x.store(i.out, i.dtype, &elem::from_f64(i.dtype, out))
}

/// `reduce`: floats in f32 (sum and mean in index order), integers exactly (sum
/// wraps; mean is undefined).
pub(super) fn reduce(x: &mut Exec<'_>, i: &Reduce) -> Result<()> {
    let cols = i.cols as usize;
    let out = match x.load(i.x, i.dtype, tile(i.rows, i.cols))? {
        Vals::Float(v) => elem::from_f64(
            i.dtype,
            v.chunks(cols.max(1)).map(|row| {
                let r = match i.op {
                    ReduceOp::Sum | ReduceOp::Mean => {
                        let mut s = 0f32;
                        for &p in row {
                            s += p;
                        }
                        if i.op == ReduceOp::Mean {
                            s / cols as f32
                        } else {
                            s
                        }
                    }
                    ReduceOp::Max => row.iter().copied().fold(f32::NEG_INFINITY, fmax32),
                    ReduceOp::Min => row.iter().copied().fold(f32::INFINITY, fmin32),
                };
                f64::from(r)
            }),
        ),
        Vals::Int(v) if i.dtype != DType::Bool && i.op != ReduceOp::Mean => Vals::Int(
            v.chunks(cols.max(1))
                .map(|row| match i.op {
                    ReduceOp::Max => row.iter().copied().max().unwrap_or(0),
                    ReduceOp::Min => row.iter().copied().min().unwrap_or(0),
                    _ => elem::wrap(i.dtype, row.iter().fold(0i64, |s, &p| s.wrapping_add(p))),
                })
                .collect(),
        ),
        Vals::Int(_) => {
            return Err(x.err(format!("`{}` is not defined on {}", i.op.name(), i.dtype)));
        }
    };
    x.store(i.out, i.dtype, &out)
}

/// `convert`: out = to(x · scale), one rounding (nearest even; integers saturate;
/// bool is `≠ 0`). Integer to integer with `scale = 1` saturates exactly.
pub(super) fn convert(x: &mut Exec<'_>, i: &Convert) -> Result<()> {
    let v = x.load(i.x, i.from, tile(i.rows, i.cols))?;
    let out = match v {
        Vals::Int(v) if i.scale == 1.0 && (i.to.is_int() || i.to == DType::Bool) => {
            Vals::Int(v.iter().map(|&p| elem::saturate(i.to, p)).collect())
        }
        v => {
            let s = f64::from(i.scale);
            elem::from_f64(i.to, v.to_f64().into_iter().map(|p| p * s))
        }
    };
    x.store(i.out, i.to, &out)
}

/// Reads `n` raw elements of `dtype` at `s`: bytes per element, or i4 nibbles.
fn raw(x: &Exec<'_>, s: triad_isa::Slice, dtype: DType, n: u64) -> Result<Raw> {
    if dtype == DType::I4 {
        match x.load(s, dtype, n)? {
            Vals::Int(v) => Ok(Raw::Nibbles(v)),
            Vals::Float(_) => Err(x.err("internal error: i4 decoded as float")),
        }
    } else {
        let (mem, addr) = x.place(s);
        let len = x.count(dtype.bytes_for(n))?;
        Ok(Raw::Bytes(
            x.mem.read(mem, addr, len)?,
            (dtype.bits() / 8) as usize,
        ))
    }
}

/// Element bit patterns for data movement.
enum Raw {
    /// i4 values.
    Nibbles(Vec<i64>),
    /// Bytes and the element size in bytes.
    Bytes(Vec<u8>, usize),
}

impl Raw {
    /// The elements at `order`, in that order, as bytes to write (i4 packed).
    fn pick(&self, order: impl Iterator<Item = usize>) -> Vals2 {
        match self {
            Raw::Nibbles(v) => Vals2::Vals(Vals::Int(order.map(|e| v[e]).collect())),
            Raw::Bytes(b, k) => {
                let mut out = Vec::new();
                for e in order {
                    out.extend_from_slice(&b[e * k..(e + 1) * k]);
                }
                Vals2::Bytes(out)
            }
        }
    }
}

/// What [`Raw::pick`] yields.
enum Vals2 {
    Vals(Vals),
    Bytes(Vec<u8>),
}

fn put(x: &mut Exec<'_>, s: triad_isa::Slice, dtype: DType, v: Vals2) -> Result<()> {
    match v {
        Vals2::Vals(v) => x.store(s, dtype, &v),
        Vals2::Bytes(b) => {
            let (mem, addr) = x.place(s);
            x.mem.write(mem, addr, &b)
        }
    }
}

/// `transpose`: out[c, r] = x[r, c], bit patterns moved unchanged.
pub(super) fn transpose(x: &mut Exec<'_>, i: &Transpose) -> Result<()> {
    let (rows, cols) = (i.rows as usize, i.cols as usize);
    let v = raw(x, i.x, i.dtype, tile(i.rows, i.cols))?;
    let out = v.pick((0..rows * cols).map(|o| (o % rows) * cols + o / rows));
    put(x, i.out, i.dtype, out)
}

/// `rope`: out = x·cos + rotate_half(x)·sin per row, rotate_half([x₁, x₂]) =
/// [−x₂, x₁], each element in f64 rounded once.
pub(super) fn rope(x: &mut Exec<'_>, i: &Rope) -> Result<()> {
    let n = tile(i.rows, i.cols);
    if !i.cols.is_multiple_of(2) {
        return Err(x.err(format!("cols must be even, got {}", i.cols)));
    }
    let v = x.floats(i.x, i.dtype, n)?;
    let cos = x.floats(i.cos, i.dtype, n)?;
    let sin = x.floats(i.sin, i.dtype, n)?;
    let (cols, h) = (i.cols as usize, i.cols as usize / 2);
    let out = (0..v.len()).map(|e| {
        let (r, j) = (e / cols, e % cols);
        let rot = if j < h {
            -f64::from(v[r * cols + j + h])
        } else {
            f64::from(v[r * cols + j - h])
        };
        f64::from(v[e]) * f64::from(cos[e]) + rot * f64::from(sin[e])
    });
    let out = elem::from_f64(i.dtype, out);
    x.store(i.out, i.dtype, &out)
}

/// `gather`: out[r] = table[idx[r]]; an index outside [0, table_rows) is an error.
pub(super) fn gather(x: &mut Exec<'_>, i: &Gather) -> Result<()> {
    let idx = match x.load(i.idx, DType::I32, u64::from(i.rows))? {
        Vals::Int(v) => v,
        Vals::Float(_) => return Err(x.err("internal error: i32 decoded as float")),
    };
    if let Some((r, &bad)) = idx
        .iter()
        .enumerate()
        .find(|&(_, &t)| t < 0 || t >= i64::from(i.table_rows))
    {
        return Err(x.err(format!(
            "index {bad} at idx[{r}] is outside the table's {} rows",
            i.table_rows
        )));
    }
    let table = raw(x, i.table, i.dtype, tile(i.table_rows, i.cols))?;
    let cols = i.cols as usize;
    let out = table.pick(
        idx.iter()
            .flat_map(|&t| (t as usize * cols)..(t as usize + 1) * cols),
    );
    put(x, i.out, i.dtype, out)
}
