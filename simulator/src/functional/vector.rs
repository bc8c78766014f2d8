//! The vector instructions (`npu.vec` or `cpu.N`): element-wise maps, row
//! statistics, conversion and data movement. Numerics are in the parent module's
//! docs: maps evaluate in f64 and round once; softmax, the norms and reduce sum /
//! mean work in f32 in index order and round once to the dtype.

use triad_isa::{
    Act, ActFn, Bcast, BinOp, CausalMask, Cmp, CmpOp, Convert, DType, Dequantize, Eltwise, Gather,
    LayerNorm, MathFn, MoeCombine, MoeDispatch, Quantize, Reduce, ReduceOp, RmsNorm, Rope, Select,
    Softmax, StridedCopy, TopK, Transpose, TreeMask, Unary,
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
        BinOp::Pow | BinOp::And | BinOp::Or => return None,
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
        BinOp::Pow => libm::pow(p, q),
        BinOp::And | BinOp::Or => f64::NAN,
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
    let bools = matches!(op, BinOp::And | BinOp::Or);
    if bools != (dtype == DType::Bool) || (op == BinOp::Pow && !dtype.is_float()) {
        return Err(x.err(format!("`{}` is not defined on {dtype}", op.name())));
    }
    match (a, b) {
        (Vals::Int(a), Vals::Int(b)) if bools => Ok(Vals::Int(
            a.iter()
                .enumerate()
                .map(|(e, &p)| {
                    let q = b[b_at(e)];
                    i64::from(if op == BinOp::And {
                        p != 0 && q != 0
                    } else {
                        p != 0 || q != 0
                    })
                })
                .collect(),
        )),
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

/// Index in an operand read with broadcast `mode` of element `e` of a tile with
/// `cols` columns.
fn at(mode: Bcast, e: usize, cols: u64) -> usize {
    let e = e as u64;
    mode.index(e / cols.max(1), e % cols.max(1), cols) as usize
}

/// `eltwise`.
pub(super) fn eltwise(x: &mut Exec<'_>, i: &Eltwise) -> Result<()> {
    let n = tile(i.rows, i.cols);
    let a = x.load(i.a, i.dtype, n)?;
    let b = x.load(i.b, i.dtype, i.bcast.elems(i.rows, i.cols))?;
    let (cols, mode) = (u64::from(i.cols), i.bcast);
    let out = binary(x, i.op, i.dtype, &a, &b, |e| at(mode, e, cols))?;
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
        ActFn::GeluTanh => gelu_tanh(v),
        ActFn::GeluErf => 0.5 * v * (1.0 + libm::erf(v * std::f64::consts::FRAC_1_SQRT_2)),
        ActFn::Silu => v * sigmoid(v),
        ActFn::Sigmoid => sigmoid(v),
        ActFn::Tanh => libm::tanh(v),
    }
}

/// Element-wise map: floats through `f` in f64, integers through `g` (`None`:
/// undefined on integers).
pub(super) fn map(
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
        MathFn::Log => (libm::log, None),
        MathFn::Erf => (libm::erf, None),
        MathFn::Not => (|p| p, None),
    };
    if (i.func == MathFn::Not) != (i.dtype == DType::Bool) {
        return Err(x.err(format!("`{}` is not defined on {}", i.func.name(), i.dtype)));
    }
    let out = match (i.func, v) {
        (MathFn::Not, Vals::Int(b)) => Vals::Int(b.iter().map(|&p| i64::from(p == 0)).collect()),
        (_, v) => map(x, i.func.name(), v, i.dtype, f, g)?,
    };
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

/// `convert` (the IR's `Cast`): v = x if scale = 1, else f32(x) · scale in f32;
/// then one conversion (floats RNE, float → int RNE saturating with NaN → 0, int →
/// int wraps, bool ↔ number 0 / 1 and `≠ 0`).
pub(super) fn convert(x: &mut Exec<'_>, i: &Convert) -> Result<()> {
    let v = x.load(i.x, i.from, tile(i.rows, i.cols))?;
    let out = match v {
        Vals::Int(v) if i.scale == 1.0 && (i.to.is_int() || i.to == DType::Bool) => {
            Vals::Int(v.iter().map(|&p| elem::wrap(i.to, p)).collect())
        }
        v if i.scale == 1.0 => elem::from_f64(i.to, v.to_f64()),
        v => {
            let s = i.scale;
            let f32s: Vec<f64> = match v {
                Vals::Float(f) => f.iter().map(|&p| f64::from(p * s)).collect(),
                Vals::Int(n) => n.iter().map(|&p| f64::from((p as f32) * s)).collect(),
            };
            elem::from_f64(i.to, f32s)
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

/// `gather`: out[r] = table[idx[r]]; an index outside [0, table_rows) is an error.
pub(super) fn gather(x: &mut Exec<'_>, i: &Gather) -> Result<()> {
    let idx = match x.load(i.idx, i.idx_dtype, u64::from(i.rows))? {
        Vals::Int(v) => v,
        Vals::Float(_) => return Err(x.err("indices must be integers")),
    };
    let rows = i64::from(i.table_rows);
    if let Some((r, &bad)) = idx
        .iter()
        .enumerate()
        .find(|&(_, &t)| t < -rows || t >= rows)
    {
        return Err(x.err(format!(
            "index {bad} at idx[{r}] is outside -{rows}..{rows} (the table's {rows} rows)"
        )));
    }
    // A negative index counts from the end (ONNX).
    let idx: Vec<i64> = idx
        .iter()
        .map(|&t| if t < 0 { t + rows } else { t })
        .collect();
    let table = raw(x, i.table, i.dtype, tile(i.table_rows, i.cols))?;
    let cols = i.cols as usize;
    let out = table.pick(
        idx.iter()
            .flat_map(|&t| (t as usize * cols)..(t as usize + 1) * cols),
    );
    put(x, i.out, i.dtype, out)
}

/// `cmp`: out = a OP b as bool; NaN compares false except `ne`; bools: eq, ne only.
pub(super) fn cmp(x: &mut Exec<'_>, i: &Cmp) -> Result<()> {
    let n = tile(i.rows, i.cols);
    let a = x.load(i.a, i.dtype, n)?.to_f64();
    let b = x
        .load(i.b, i.dtype, i.bcast.elems(i.rows, i.cols))?
        .to_f64();
    if i.dtype == DType::Bool && !matches!(i.op, CmpOp::Eq | CmpOp::Ne) {
        return Err(x.err(format!("`{}` is not defined on bool", i.op.name())));
    }
    if i.dtype == DType::I64 {
        // i64 values beyond 2^53 would compare inexactly through f64.
        let (Vals::Int(a), Vals::Int(b)) = (
            x.load(i.a, i.dtype, n)?,
            x.load(i.b, i.dtype, i.bcast.elems(i.rows, i.cols))?,
        ) else {
            return Err(x.err("internal error: i64 decoded as float"));
        };
        let cols = u64::from(i.cols);
        let out = (0..a.len())
            .map(|e| i64::from(cmp_op(i.op, a[e].cmp(&b[at(i.bcast, e, cols)]).into())))
            .collect();
        return x.store(i.out, DType::Bool, &Vals::Int(out));
    }
    let cols = u64::from(i.cols);
    let out = (0..a.len())
        .map(|e| {
            let (p, q) = (a[e], b[at(i.bcast, e, cols)]);
            i64::from(cmp_op(i.op, p.partial_cmp(&q)))
        })
        .collect();
    x.store(i.out, DType::Bool, &Vals::Int(out))
}

/// A comparison from an ordering (`None`: unordered, NaN involved).
fn cmp_op(op: CmpOp, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (op, o) {
        (CmpOp::Ne, None) => true,
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Equal,
        (CmpOp::Ne, Some(o)) => o != Equal,
        (CmpOp::Lt, Some(o)) => o == Less,
        (CmpOp::Le, Some(o)) => o != Greater,
        (CmpOp::Gt, Some(o)) => o == Greater,
        (CmpOp::Ge, Some(o)) => o != Less,
    }
}

/// `select`: out = cond ? a : b, each operand read as its broadcast mode says; bit
/// patterns are copied unchanged.
pub(super) fn select(x: &mut Exec<'_>, i: &Select) -> Result<()> {
    let (r, c) = (i.rows, i.cols);
    let cond = match x.load(i.cond, DType::Bool, i.cond_bcast.elems(r, c))? {
        Vals::Int(v) => v,
        Vals::Float(_) => return Err(x.err("internal error: bool decoded as float")),
    };
    let a = x.load(i.a, i.dtype, i.a_bcast.elems(r, c))?;
    let b = x.load(i.b, i.dtype, i.b_bcast.elems(r, c))?;
    let cols = u64::from(c);
    let n = tile(r, c) as usize;
    let pick = |e: usize| cond[at(i.cond_bcast, e, cols)] != 0;
    let out = match (a, b) {
        (Vals::Float(a), Vals::Float(b)) => Vals::Float(
            (0..n)
                .map(|e| {
                    if pick(e) {
                        a[at(i.a_bcast, e, cols)]
                    } else {
                        b[at(i.b_bcast, e, cols)]
                    }
                })
                .collect(),
        ),
        (Vals::Int(a), Vals::Int(b)) => Vals::Int(
            (0..n)
                .map(|e| {
                    if pick(e) {
                        a[at(i.a_bcast, e, cols)]
                    } else {
                        b[at(i.b_bcast, e, cols)]
                    }
                })
                .collect(),
        ),
        _ => return Err(x.err("internal error: operands decoded to different kinds")),
    };
    x.store(i.out, i.dtype, &out)
}

/// `causal_mask`: −inf where key `k_start + c` is after query `q_start + r mod seq`.
pub(super) fn causal_mask(x: &mut Exec<'_>, i: &CausalMask) -> Result<()> {
    let mut v = x.floats(i.x, i.dtype, tile(i.rows, i.cols))?;
    let (cols, seq) = (i.cols as usize, u64::from(i.seq.max(1)));
    for (e, p) in v.iter_mut().enumerate() {
        let (r, c) = ((e / cols) as u64, (e % cols) as u64);
        if u64::from(i.k_start) + c > u64::from(i.q_start) + r % seq {
            *p = f32::NEG_INFINITY;
        }
    }
    x.store(i.out, i.dtype, &Vals::Float(v))
}

/// `tree_mask`: out[r, c] = mask[r mod seq, c] ? x[r, c] : −inf.
pub(super) fn tree_mask(x: &mut Exec<'_>, i: &TreeMask) -> Result<()> {
    let mut v = x.floats(i.x, i.dtype, tile(i.rows, i.cols))?;
    let mask = match x.load(i.mask, DType::Bool, tile(i.seq, i.cols))? {
        Vals::Int(m) => m,
        Vals::Float(_) => return Err(x.err("internal error: bool decoded as float")),
    };
    let (cols, seq) = (i.cols as usize, i.seq.max(1) as usize);
    for (e, p) in v.iter_mut().enumerate() {
        let (r, c) = (e / cols, e % cols);
        if mask[(r % seq) * cols + c] == 0 {
            *p = f32::NEG_INFINITY;
        }
    }
    x.store(i.out, i.dtype, &Vals::Float(v))
}

/// `quantize` (ONNX `QuantizeLinear`): saturate(RNE(x / scale) + zero), the division
/// in f32, NaN → zero.
pub(super) fn quantize(x: &mut Exec<'_>, i: &Quantize) -> Result<()> {
    let n = tile(i.rows, i.cols);
    let v = x.floats(i.x, i.from, n)?;
    let scale = x.floats(i.scale, DType::F32, i.sbcast.elems(i.rows, i.cols))?;
    let zero = match x.load(i.zero, i.to, i.sbcast.elems(i.rows, i.cols))? {
        Vals::Int(z) => z,
        Vals::Float(_) => return Err(x.err(format!("`to` must be an integer type, not {}", i.to))),
    };
    let cols = u64::from(i.cols);
    let out = v
        .iter()
        .enumerate()
        .map(|(e, &p)| {
            let k = at(i.sbcast, e, cols);
            let q = p / scale[k];
            let r = if q.is_nan() {
                0
            } else {
                elem::float_to_int(DType::I64, f64::from(q))
            };
            elem::saturate(i.to, r.saturating_add(zero[k]))
        })
        .collect();
    x.store(i.out, i.to, &Vals::Int(out))
}

/// `dequantize` (ONNX `DequantizeLinear`): round_to((x − zero) · scale), in f64.
pub(super) fn dequantize(x: &mut Exec<'_>, i: &Dequantize) -> Result<()> {
    let n = tile(i.rows, i.cols);
    let (Vals::Int(v), Vals::Int(zero)) = (
        x.load(i.x, i.from, n)?,
        x.load(i.zero, i.from, i.sbcast.elems(i.rows, i.cols))?,
    ) else {
        return Err(x.err(format!("`from` must be an integer type, not {}", i.from)));
    };
    let scale = x.floats(i.scale, DType::F32, i.sbcast.elems(i.rows, i.cols))?;
    let cols = u64::from(i.cols);
    let out = elem::from_f64(
        i.to,
        v.iter().enumerate().map(|(e, &p)| {
            let k = at(i.sbcast, e, cols);
            (p - zero[k]) as f64 * f64::from(scale[k])
        }),
    );
    x.store(i.out, i.to, &out)
}

/// `transpose` (N-D, four axes): out has dims `dims[perm[k]]`; out[j] = x[i] with
/// i[perm[k]] = j[k]. Bit patterns are moved unchanged.
pub(super) fn transpose(x: &mut Exec<'_>, i: &Transpose) -> Result<()> {
    let d = i.dims.0.map(|v| v as usize);
    let p = i.perm.0.map(usize::from);
    if !i.perm.is_valid() {
        return Err(x.err(format!("perm {:?} is not a permutation of 0..4", i.perm.0)));
    }
    let n = d.iter().product::<usize>();
    let v = raw(x, i.x, i.dtype, n as u64)?;
    let in_stride = [d[1] * d[2] * d[3], d[2] * d[3], d[3], 1];
    let od = [d[p[0]], d[p[1]], d[p[2]], d[p[3]]];
    let order = (0..n).map(|o| {
        let j = [
            o / (od[1] * od[2] * od[3]).max(1),
            (o / (od[2] * od[3]).max(1)) % od[1].max(1),
            (o / od[3].max(1)) % od[2].max(1),
            o % od[3].max(1),
        ];
        (0..4).map(|k| j[k] * in_stride[p[k]]).sum::<usize>()
    });
    let out = v.pick(order);
    put(x, i.out, i.dtype, out)
}

/// `scopy`: for every index j < dims, out[Σ j_d·dst_strides[d]] =
/// x[Σ j_d·src_strides[d]] (strides in elements). Elements of `out` not written keep
/// their value; the source is read whole before anything is written.
pub(super) fn scopy(x: &mut Exec<'_>, i: &StridedCopy) -> Result<()> {
    let d = i.dims.0.map(u64::from);
    let n = d.iter().product::<u64>();
    if n == 0 {
        return Ok(());
    }
    let extent = |s: [u64; 4]| (0..4).map(|k| (d[k] - 1) * s[k]).sum::<u64>() + 1;
    let (se, de) = (extent(i.src_strides.0), extent(i.dst_strides.0));
    let src = raw(x, i.x, i.dtype, se)?;
    let mut dst = raw(x, i.out, i.dtype, de)?;
    let idx = |e: u64, s: [u64; 4]| -> usize {
        let j = [
            e / (d[1] * d[2] * d[3]),
            (e / (d[2] * d[3])) % d[1],
            (e / d[3]) % d[2],
            e % d[3],
        ];
        (0..4).map(|k| j[k] * s[k]).sum::<u64>() as usize
    };
    for e in 0..n {
        let (si, di) = (idx(e, i.src_strides.0), idx(e, i.dst_strides.0));
        match (&src, &mut dst) {
            (Raw::Nibbles(s), Raw::Nibbles(t)) => t[di] = s[si],
            (Raw::Bytes(s, k), Raw::Bytes(t, _)) => {
                let k = *k;
                t[di * k..(di + 1) * k].copy_from_slice(&s[si * k..(si + 1) * k]);
            }
            _ => return Err(x.err("internal error: operands decoded to different kinds")),
        }
    }
    let out = match dst {
        Raw::Nibbles(v) => Vals2::Vals(Vals::Int(v)),
        Raw::Bytes(b, _) => Vals2::Bytes(b),
    };
    put(x, i.out, i.dtype, out)
}

/// `rope` with positions (the IR's `Rope`, bit-exact): row r at p = pos[r mod seq],
/// f_i = theta^(−2i/rotary), a = p·f_i; out[i] = x[i]·cos a − x[i+h]·sin a,
/// out[i+h] = x[i+h]·cos a + x[i]·sin a (i < h = rotary/2), the rest copied; in f64
/// with libm, each rounded once.
pub(super) fn rope(x: &mut Exec<'_>, i: &Rope) -> Result<()> {
    let (rows, cols, rot) = (i.rows as usize, i.cols as usize, i.rotary as usize);
    if rot % 2 != 0 || rot > cols || i.seq == 0 {
        return Err(x.err(format!(
            "rotary {rot} must be even and at most cols {cols}, seq non-zero"
        )));
    }
    let v = x.floats(i.x, i.dtype, tile(i.rows, i.cols))?;
    let pos = match x.load(i.pos, i.pos_dtype, u64::from(i.seq))? {
        Vals::Int(p) => p,
        Vals::Float(_) => return Err(x.err("positions must be integers")),
    };
    let h = rot / 2;
    let theta = f64::from(i.theta);
    let freqs: Vec<f64> = (0..h)
        .map(|k| libm::pow(theta, -2.0 * k as f64 / rot as f64))
        .collect();
    let mut out = vec![0f64; v.len()];
    for r in 0..rows {
        let p = pos[r % i.seq as usize] as f64;
        let row = &v[r * cols..(r + 1) * cols];
        let o = &mut out[r * cols..(r + 1) * cols];
        for k in 0..h {
            let a = p * freqs[k];
            let (c, s) = (libm::cos(a), libm::sin(a));
            let (x1, x2) = (f64::from(row[k]), f64::from(row[k + h]));
            o[k] = x1 * c - x2 * s;
            o[k + h] = x2 * c + x1 * s;
        }
        for j in rot..cols {
            o[j] = f64::from(row[j]);
        }
    }
    x.store(i.out, i.dtype, &elem::from_f64(i.dtype, out))
}

/// `topk`: per row the k largest values, sorted descending, ties by lower index;
/// NaN is larger than every number, −0 equals 0, false < true. Writes values (bit
/// patterns of x) and indices (as `idx_dtype`).
pub(super) fn topk(x: &mut Exec<'_>, i: &TopK) -> Result<()> {
    let (cols, k) = (i.cols as usize, i.k as usize);
    if k == 0 || k > cols {
        return Err(x.err(format!("k = {k} must be in 1..={cols}")));
    }
    let v = x.load(i.x, i.dtype, tile(i.rows, i.cols))?;
    let keys = v.to_f64();
    let exact = match &v {
        Vals::Int(n) => Some(n.clone()),
        Vals::Float(_) => None,
    };
    let mut idx = Vec::with_capacity(i.rows as usize * k);
    for r in 0..i.rows as usize {
        let mut order: Vec<usize> = (0..cols).collect();
        order.sort_by(|&p, &q| {
            let (a, b) = (r * cols + p, r * cols + q);
            let o = match &exact {
                Some(n) => n[b].cmp(&n[a]),
                None => {
                    let (ka, kb) = (keys[a], keys[b]);
                    match (ka.is_nan(), kb.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Less,
                        (false, true) => std::cmp::Ordering::Greater,
                        _ => kb.partial_cmp(&ka).unwrap_or(std::cmp::Ordering::Equal),
                    }
                }
            };
            o.then(p.cmp(&q))
        });
        idx.extend(order[..k].iter().map(|&c| (r, c)));
    }
    let values =
        raw(x, i.x, i.dtype, tile(i.rows, i.cols))?.pick(idx.iter().map(|&(r, c)| r * cols + c));
    put(x, i.values, i.dtype, values)?;
    let ids = Vals::Int(idx.iter().map(|&(_, c)| c as i64).collect());
    x.store(i.indices, i.idx_dtype, &ids)
}

/// Expert indices of a `tokens × k` routing table as i64.
fn routing(
    x: &Exec<'_>,
    idx: triad_isa::Slice,
    dtype: DType,
    tokens: u32,
    k: u32,
) -> Result<Vec<i64>> {
    match x.load(idx, dtype, tile(tokens, k))? {
        Vals::Int(v) => Ok(v),
        Vals::Float(_) => Err(x.err("expert indices must be integers")),
    }
}

/// Slot of every token routed to expert `e` (token order; `None`: not routed).
fn slots(idx: &[i64], tokens: usize, k: usize, e: i64) -> Vec<Option<usize>> {
    let mut next = 0;
    (0..tokens)
        .map(|t| {
            if idx[t * k..(t + 1) * k].contains(&e) {
                next += 1;
                Some(next - 1)
            } else {
                None
            }
        })
        .collect()
}

/// `moe_dispatch`: tokens routed to `expert` fill its slots in token order; slots at
/// or past `capacity` are dropped; unused slots are zero. Rows move as bit patterns.
pub(super) fn moe_dispatch(x: &mut Exec<'_>, i: &MoeDispatch) -> Result<()> {
    let (tokens, k, hidden, cap) = (
        i.tokens as usize,
        i.k as usize,
        i.hidden as usize,
        i.capacity as usize,
    );
    let idx = routing(x, i.idx, i.idx_dtype, i.tokens, i.k)?;
    let (mem, addr) = x.place(i.x);
    let row_bytes = x.count(i.dtype.bytes_for(u64::from(i.hidden)))?;
    if i.dtype == DType::I4 && hidden % 2 == 1 {
        return Err(x.err("i4 rows of odd length do not start on a byte"));
    }
    let mut out = vec![0u8; row_bytes * cap];
    for (t, slot) in slots(&idx, tokens, k, i64::from(i.expert))
        .into_iter()
        .enumerate()
    {
        if let Some(s) = slot.filter(|&s| s < cap) {
            let row = x.mem.read(mem, addr + (t * row_bytes) as u64, row_bytes)?;
            out[s * row_bytes..(s + 1) * row_bytes].copy_from_slice(&row);
        }
    }
    let (omem, oaddr) = x.place(i.out);
    x.mem.write(omem, oaddr, &out)
}

/// `moe_combine`: out[t] = Σ_j gate[t, j] · experts_out[e_j, slot(t, e_j)] over the
/// choices j not dropped, in j order, in f32 (each product and sum rounded), rounded
/// once to the dtype; every choice dropped gives 0.
pub(super) fn moe_combine(x: &mut Exec<'_>, i: &MoeCombine) -> Result<()> {
    let (tokens, k, hidden) = (i.tokens as usize, i.k as usize, i.hidden as usize);
    let (experts, cap) = (i.experts as usize, i.capacity as usize);
    let idx = routing(x, i.idx, i.idx_dtype, i.tokens, i.k)?;
    if let Some(&bad) = idx.iter().find(|&&e| e < 0 || e >= experts as i64) {
        return Err(x.err(format!("expert index {bad} is outside 0..{experts}")));
    }
    let gate = x.floats(i.gate, i.dtype, tile(i.tokens, i.k))?;
    let eo = x.floats(
        i.experts_out,
        i.dtype,
        u64::from(i.experts) * u64::from(i.capacity) * u64::from(i.hidden),
    )?;
    let table: Vec<Vec<Option<usize>>> = (0..experts)
        .map(|e| slots(&idx, tokens, k, e as i64))
        .collect();
    let mut out = vec![0f32; tokens * hidden];
    for t in 0..tokens {
        let o = &mut out[t * hidden..(t + 1) * hidden];
        for j in 0..k {
            let e = idx[t * k + j] as usize;
            let Some(s) = table[e][t].filter(|&s| s < cap) else {
                continue;
            };
            let g = gate[t * k + j];
            let row = &eo[(e * cap + s) * hidden..(e * cap + s + 1) * hidden];
            for (h, v) in o.iter_mut().enumerate() {
                *v += g * row[h];
            }
        }
    }
    let out = elem::from_f64(i.dtype, out.iter().map(|&v| f64::from(v)));
    x.store(i.out, i.dtype, &out)
}
