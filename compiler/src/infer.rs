//! Shape and dtype inference: the result types of every op from its operand types.
//!
//! `infer` is the single place that decides whether an op accepts its operands; the
//! graph builder, graph validation, the JSON and ONNX frontends all go through it.
//! Source ops (`Input`, `Weight`, `Constant`) have declared types and are not
//! inferred here.

use triad_isa::DType;

use crate::data::TensorType;
use crate::op::{Op, ReduceKind};

/// Why an op rejected its operands; the graph turns this into an [`crate::Error`]
/// naming the node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mismatch {
    /// Wrong number of operands.
    Arity { expected: String, got: usize },
    /// Operand shapes, dtypes or attributes do not fit.
    Type(String),
}

type R<T> = std::result::Result<T, Mismatch>;

fn bad<T>(msg: impl Into<String>) -> R<T> {
    Err(Mismatch::Type(msg.into()))
}

fn arity(ins: &[&TensorType], lo: usize, hi: usize) -> R<()> {
    if ins.len() < lo || ins.len() > hi {
        let expected = if lo == hi {
            lo.to_string()
        } else if hi == usize::MAX {
            format!("at least {lo}")
        } else {
            format!("{lo} to {hi}")
        };
        return Err(Mismatch::Arity {
            expected,
            got: ins.len(),
        });
    }
    Ok(())
}

/// Normalise a signed axis against `rank` (ONNX: negative counts from the end).
pub fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

fn axis_of(axis: i64, t: &TensorType) -> R<usize> {
    norm_axis(axis, t.rank())
        .ok_or_else(|| Mismatch::Type(format!("axis {axis} out of range for rank {}", t.rank())))
}

/// NumPy broadcast of two shapes, `None` if they are incompatible.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn bcast(a: &TensorType, b: &TensorType) -> R<Vec<usize>> {
    broadcast(&a.shape, &b.shape).ok_or_else(|| {
        Mismatch::Type(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape, b.shape
        ))
    })
}

fn same_dtype(a: &TensorType, b: &TensorType) -> R<()> {
    if a.dtype != b.dtype {
        return bad(format!(
            "operand dtypes differ: {} and {}",
            a.dtype, b.dtype
        ));
    }
    Ok(())
}

fn float(t: &TensorType, what: &str) -> R<()> {
    if !t.dtype.is_float() {
        return bad(format!("{what} must be a float tensor, got {}", t.dtype));
    }
    Ok(())
}

fn int(t: &TensorType, what: &str) -> R<()> {
    if !t.dtype.is_int() {
        return bad(format!("{what} must be an integer tensor, got {}", t.dtype));
    }
    Ok(())
}

fn rank_at_least(t: &TensorType, r: usize, what: &str) -> R<()> {
    if t.rank() < r {
        return bad(format!("{what} must have rank >= {r}, got {:?}", t.shape));
    }
    Ok(())
}

/// Result types of `op` applied to operands of types `ins`.
pub(crate) fn infer(op: &Op, ins: &[&TensorType]) -> R<Vec<TensorType>> {
    let one = |t: TensorType| Ok(vec![t]);
    match op {
        Op::Input { .. } | Op::Weight { .. } | Op::Constant { .. } => {
            arity(ins, 0, 0)?;
            bad("source ops have declared types")
        }
        Op::MatMul => {
            arity(ins, 2, 2)?;
            let (a, b) = (ins[0], ins[1]);
            rank_at_least(a, 2, "A")?;
            rank_at_least(b, 2, "B")?;
            let dtype = matmul_dtype(a.dtype, b.dtype)?;
            let (m, k) = (a.shape[a.rank() - 2], a.shape[a.rank() - 1]);
            let (k2, n) = (b.shape[b.rank() - 2], b.shape[b.rank() - 1]);
            if k != k2 {
                return bad(format!(
                    "inner dims differ: A {:?} x B {:?}",
                    a.shape, b.shape
                ));
            }
            let batch =
                broadcast(&a.shape[..a.rank() - 2], &b.shape[..b.rank() - 2]).ok_or_else(|| {
                    Mismatch::Type(format!(
                        "batch dims of {:?} and {:?} do not broadcast",
                        a.shape, b.shape
                    ))
                })?;
            let mut shape = batch;
            shape.extend([m, n]);
            one(TensorType::new(dtype, shape))
        }
        Op::Gemm {
            trans_a, trans_b, ..
        } => {
            arity(ins, 2, 3)?;
            let (a, b) = (ins[0], ins[1]);
            for (t, w) in [(a, "A"), (b, "B")] {
                float(t, w)?;
                if t.rank() != 2 {
                    return bad(format!("{w} must be 2-D, got {:?}", t.shape));
                }
            }
            same_dtype(a, b)?;
            let (m, k) = if *trans_a {
                (a.shape[1], a.shape[0])
            } else {
                (a.shape[0], a.shape[1])
            };
            let (k2, n) = if *trans_b {
                (b.shape[1], b.shape[0])
            } else {
                (b.shape[0], b.shape[1])
            };
            if k != k2 {
                return bad(format!("inner dims differ: {k} vs {k2}"));
            }
            if let Some(c) = ins.get(2) {
                same_dtype(a, c)?;
                if broadcast(&c.shape, &[m, n]).as_deref() != Some(&[m, n][..]) {
                    return bad(format!("C {:?} does not broadcast to [{m}, {n}]", c.shape));
                }
            }
            one(TensorType::new(a.dtype, [m, n]))
        }
        Op::QMatMul => {
            arity(ins, 3, 4)?;
            let (a, w, s) = (ins[0], ins[1], ins[2]);
            float(a, "A")?;
            rank_at_least(a, 1, "A")?;
            if !matches!(w.dtype, DType::I8 | DType::I4) || w.rank() != 2 {
                return bad(format!("W must be a 2-D i8 or i4 tensor, got {w}"));
            }
            let (k, n) = (w.shape[0], w.shape[1]);
            if a.shape[a.rank() - 1] != k {
                return bad(format!("A {:?} does not match W {:?}", a.shape, w.shape));
            }
            scale_check(s, n, "per output channel")?;
            if let Some(z) = ins.get(3)
                && (z.dtype != w.dtype || z.shape != s.shape)
            {
                return bad(format!(
                    "zero point must be {} with scale's shape, got {z}",
                    w.dtype
                ));
            }
            let mut shape = a.shape.clone();
            *shape.last_mut().expect("rank >= 1") = n;
            one(TensorType::new(a.dtype, shape))
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Max | Op::Min => {
            arity(ins, 2, 2)?;
            same_dtype(ins[0], ins[1])?;
            if ins[0].dtype == DType::Bool {
                return bad(format!("{} is not defined on bool", op.name()));
            }
            one(TensorType::new(ins[0].dtype, bcast(ins[0], ins[1])?))
        }
        Op::Pow => {
            arity(ins, 2, 2)?;
            float(ins[0], "base")?;
            same_dtype(ins[0], ins[1])?;
            one(TensorType::new(ins[0].dtype, bcast(ins[0], ins[1])?))
        }
        Op::Equal | Op::Less | Op::Greater => {
            arity(ins, 2, 2)?;
            same_dtype(ins[0], ins[1])?;
            one(TensorType::new(DType::Bool, bcast(ins[0], ins[1])?))
        }
        Op::And | Op::Or => {
            arity(ins, 2, 2)?;
            for t in ins {
                if t.dtype != DType::Bool {
                    return bad(format!("operands must be bool, got {}", t.dtype));
                }
            }
            one(TensorType::new(DType::Bool, bcast(ins[0], ins[1])?))
        }
        Op::Not => {
            arity(ins, 1, 1)?;
            if ins[0].dtype != DType::Bool {
                return bad(format!("operand must be bool, got {}", ins[0].dtype));
            }
            one(ins[0].clone())
        }
        Op::Neg | Op::Abs | Op::Relu => {
            arity(ins, 1, 1)?;
            if ins[0].dtype == DType::Bool {
                return bad(format!("{} is not defined on bool", op.name()));
            }
            one(ins[0].clone())
        }
        Op::Sqrt
        | Op::Reciprocal
        | Op::Exp
        | Op::Log
        | Op::Erf
        | Op::Tanh
        | Op::Sigmoid
        | Op::Silu
        | Op::Gelu { .. } => {
            arity(ins, 1, 1)?;
            float(ins[0], "operand")?;
            one(ins[0].clone())
        }
        Op::Where => {
            arity(ins, 3, 3)?;
            if ins[0].dtype != DType::Bool {
                return bad(format!("condition must be bool, got {}", ins[0].dtype));
            }
            same_dtype(ins[1], ins[2])?;
            let s = bcast(ins[1], ins[2])?;
            let s = broadcast(&ins[0].shape, &s).ok_or_else(|| {
                Mismatch::Type(format!(
                    "condition {:?} does not broadcast with {:?}",
                    ins[0].shape, s
                ))
            })?;
            one(TensorType::new(ins[1].dtype, s))
        }
        Op::Cast { to } => {
            arity(ins, 1, 1)?;
            one(TensorType::new(*to, ins[0].shape.clone()))
        }
        Op::Softmax { axis } => {
            arity(ins, 1, 1)?;
            float(ins[0], "operand")?;
            axis_of(*axis, ins[0])?;
            one(ins[0].clone())
        }
        Op::LayerNorm { axis, .. } | Op::RmsNorm { axis, .. } => {
            let max = if matches!(op, Op::LayerNorm { .. }) {
                3
            } else {
                2
            };
            arity(ins, 2, max)?;
            let x = ins[0];
            float(x, "x")?;
            let a = axis_of(*axis, x)?;
            for (t, w) in ins[1..].iter().zip(["gamma", "beta"]) {
                same_dtype(x, t)?;
                if t.shape != x.shape[a..] {
                    return bad(format!(
                        "{w} must have shape {:?} (x's dims from axis {a}), got {:?}",
                        &x.shape[a..],
                        t.shape
                    ));
                }
            }
            one(x.clone())
        }
        Op::Rope { rotary_dim, .. } => {
            arity(ins, 2, 2)?;
            let (x, p) = (ins[0], ins[1]);
            float(x, "x")?;
            rank_at_least(x, 2, "x")?;
            int(p, "positions")?;
            let (s, d) = (x.shape[x.rank() - 2], x.shape[x.rank() - 1]);
            if p.shape != [s] {
                return bad(format!(
                    "positions must have shape [{s}], got {:?}",
                    p.shape
                ));
            }
            let r = if *rotary_dim == 0 { d } else { *rotary_dim };
            if r % 2 != 0 || r > d {
                return bad(format!("rotary_dim {r} must be even and <= head dim {d}"));
            }
            one(x.clone())
        }
        Op::CausalMask => {
            arity(ins, 1, 1)?;
            let x = ins[0];
            float(x, "scores")?;
            rank_at_least(x, 2, "scores")?;
            if x.shape[x.rank() - 2] > x.shape[x.rank() - 1] {
                return bad(format!("more queries than keys in {:?}", x.shape));
            }
            one(x.clone())
        }
        Op::Transpose { perm } => {
            arity(ins, 1, 1)?;
            let x = ins[0];
            let perm = if perm.is_empty() {
                (0..x.rank()).rev().collect()
            } else {
                perm.clone()
            };
            let mut seen = vec![false; x.rank()];
            if perm.len() != x.rank()
                || perm
                    .iter()
                    .any(|&p| p >= x.rank() || std::mem::replace(&mut seen[p], true))
            {
                return bad(format!(
                    "perm {perm:?} is not a permutation of rank {}",
                    x.rank()
                ));
            }
            one(TensorType::new(
                x.dtype,
                perm.iter().map(|&p| x.shape[p]).collect::<Vec<_>>(),
            ))
        }
        Op::Reshape { shape } => {
            arity(ins, 1, 1)?;
            one(TensorType::new(
                ins[0].dtype,
                reshape(&ins[0].shape, shape)?,
            ))
        }
        Op::Concat { axis } | Op::KvAppend { axis } => {
            let lo = if matches!(op, Op::KvAppend { .. }) {
                2
            } else {
                1
            };
            arity(ins, lo, if lo == 2 { 2 } else { usize::MAX })?;
            let first = ins[0];
            let a = axis_of(*axis, first)?;
            let mut shape = first.shape.clone();
            shape[a] = 0;
            for t in ins {
                same_dtype(first, t)?;
                let differs = t.rank() != first.rank()
                    || (0..t.rank()).any(|i| i != a && t.shape[i] != first.shape[i]);
                if differs {
                    return bad(format!(
                        "shapes {:?} and {:?} differ outside axis {a}",
                        first.shape, t.shape
                    ));
                }
                shape[a] += t.shape[a];
            }
            one(TensorType::new(first.dtype, shape))
        }
        Op::Split { axis, sizes } => {
            arity(ins, 1, 1)?;
            let x = ins[0];
            let a = axis_of(*axis, x)?;
            if sizes.is_empty() || sizes.iter().sum::<usize>() != x.shape[a] {
                return bad(format!(
                    "sizes {sizes:?} must be non-empty and sum to {} (axis {a})",
                    x.shape[a]
                ));
            }
            Ok(sizes
                .iter()
                .map(|&s| {
                    let mut shape = x.shape.clone();
                    shape[a] = s;
                    TensorType::new(x.dtype, shape)
                })
                .collect())
        }
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => {
            arity(ins, 1, 1)?;
            let x = ins[0];
            let ranges = slice_ranges(&x.shape, starts, ends, axes, steps)?;
            let shape = ranges.iter().map(|r| r.len()).collect::<Vec<_>>();
            one(TensorType::new(x.dtype, shape))
        }
        Op::Gather { axis } => {
            arity(ins, 2, 2)?;
            let (d, i) = (ins[0], ins[1]);
            int(i, "indices")?;
            let a = axis_of(*axis, d)?;
            let mut shape = d.shape[..a].to_vec();
            shape.extend(&i.shape);
            shape.extend(&d.shape[a + 1..]);
            one(TensorType::new(d.dtype, shape))
        }
        Op::Reduce {
            kind,
            axes,
            keepdims,
        } => {
            arity(ins, 1, 1)?;
            let x = ins[0];
            if *kind == ReduceKind::Mean {
                float(x, "operand")?;
            } else if x.dtype == DType::Bool {
                return bad("reductions are not defined on bool");
            }
            let red = reduce_axes(axes, x.rank())?;
            let shape = (0..x.rank())
                .filter_map(|i| match (red.contains(&i), keepdims) {
                    (false, _) => Some(x.shape[i]),
                    (true, true) => Some(1),
                    (true, false) => None,
                })
                .collect::<Vec<_>>();
            one(TensorType::new(x.dtype, shape))
        }
        Op::Quantize { to, axis } => {
            arity(ins, 2, 3)?;
            float(ins[0], "x")?;
            if !matches!(to, DType::I8 | DType::I4 | DType::I32) {
                return bad(format!("quantised dtype must be i8, i4 or i32, got {to}"));
            }
            qparams(ins, *axis, *to)?;
            one(TensorType::new(*to, ins[0].shape.clone()))
        }
        Op::Dequantize { to, axis } => {
            arity(ins, 2, 3)?;
            int(ins[0], "q")?;
            if !to.is_float() {
                return bad(format!("dequantised dtype must be a float, got {to}"));
            }
            qparams(ins, *axis, ins[0].dtype)?;
            one(TensorType::new(*to, ins[0].shape.clone()))
        }
        Op::TopK { k, axis } => {
            arity(ins, 1, 1)?;
            let x = ins[0];
            let a = axis_of(*axis, x)?;
            if *k == 0 || *k > x.shape[a] {
                return bad(format!("k = {k} must be in 1..={}", x.shape[a]));
            }
            let mut shape = x.shape.clone();
            shape[a] = *k;
            Ok(vec![
                TensorType::new(x.dtype, shape.clone()),
                TensorType::new(DType::I64, shape),
            ])
        }
        Op::MoeDispatch { capacity, .. } => {
            arity(ins, 2, 2)?;
            let (x, idx) = (ins[0], ins[1]);
            if x.rank() != 2 || idx.rank() != 2 || idx.shape[0] != x.shape[0] {
                return bad(format!(
                    "expected x [T, H] and indices [T, k], got {:?} and {:?}",
                    x.shape, idx.shape
                ));
            }
            int(idx, "indices")?;
            one(TensorType::new(x.dtype, [*capacity, x.shape[1]]))
        }
        Op::MoeCombine { experts, capacity } => {
            arity(ins, 2 + experts, 2 + experts)?;
            let (idx, w) = (ins[0], ins[1]);
            int(idx, "indices")?;
            float(w, "gate weights")?;
            if idx.rank() != 2 || w.shape != idx.shape {
                return bad(format!(
                    "indices and weights must both be [T, k], got {:?} and {:?}",
                    idx.shape, w.shape
                ));
            }
            let first = ins
                .get(2)
                .ok_or_else(|| Mismatch::Type("no experts".into()))?;
            for e in &ins[2..] {
                same_dtype(first, e)?;
                if e.rank() != 2 || e.shape[0] != *capacity || e.shape != first.shape {
                    return bad(format!(
                        "expert results must all be [{capacity}, H], got {:?}",
                        e.shape
                    ));
                }
            }
            one(TensorType::new(first.dtype, [idx.shape[0], first.shape[1]]))
        }
    }
}

/// Result dtype of a matrix product of `a` and `b`.
fn matmul_dtype(a: DType, b: DType) -> R<DType> {
    let small_int = |d: DType| matches!(d, DType::I8 | DType::I4);
    if a.is_float() && a == b {
        Ok(a)
    } else if small_int(a) && small_int(b) {
        Ok(DType::I32)
    } else {
        bad(format!(
            "operand dtypes {a} x {b}: expected equal floats or i8/i4 integers"
        ))
    }
}

fn scale_check(s: &TensorType, n: usize, per: &str) -> R<()> {
    if s.dtype != DType::F32 {
        return bad(format!("scale must be f32, got {}", s.dtype));
    }
    if !(s.shape.is_empty() || s.shape == [n]) {
        return bad(format!(
            "scale must be [] (per tensor) or [{n}] ({per}), got {:?}",
            s.shape
        ));
    }
    Ok(())
}

fn qparams(ins: &[&TensorType], axis: i64, zp_dtype: DType) -> R<()> {
    let x = ins[0];
    let n = if ins[1].rank() == 1 {
        x.shape[axis_of(axis, x)?]
    } else {
        1
    };
    scale_check(ins[1], n, "per channel along axis")?;
    if let Some(z) = ins.get(2)
        && (z.dtype != zp_dtype || z.shape != ins[1].shape)
    {
        return bad(format!(
            "zero point must be {zp_dtype} with the scale's shape, got {z}"
        ));
    }
    Ok(())
}

/// Resolve an ONNX reshape target against the input shape.
pub(crate) fn reshape(input: &[usize], target: &[i64]) -> R<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 => out.push(*input.get(i).ok_or_else(|| {
                Mismatch::Type(format!(
                    "0 at position {i} but the input has rank {}",
                    input.len()
                ))
            })?),
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(1);
            }
            t if t > 0 => out.push(t as usize),
            _ => return bad(format!("invalid reshape target {target:?}")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer_at {
        if known == 0 || !total.is_multiple_of(known) {
            return bad(format!("cannot reshape {input:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return bad(format!(
            "cannot reshape {input:?} ({total} elements) to {target:?}"
        ));
    }
    Ok(out)
}

/// The normalised, de-duplicated axes of a reduction (all axes if `axes` is empty).
pub(crate) fn reduce_axes(axes: &[i64], rank: usize) -> R<Vec<usize>> {
    if axes.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut out = Vec::new();
    for &a in axes {
        let n = norm_axis(a, rank)
            .ok_or_else(|| Mismatch::Type(format!("axis {a} out of range for rank {rank}")))?;
        if out.contains(&n) {
            return bad(format!("axis {a} repeated"));
        }
        out.push(n);
    }
    out.sort_unstable();
    Ok(out)
}

/// A resolved slice along one axis: `len` elements starting at `start`, `step` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceRange {
    /// First index.
    pub start: i64,
    /// Stride (non-zero).
    pub step: i64,
    len: usize,
}

impl SliceRange {
    /// Number of elements taken.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing is taken.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Resolve ONNX Slice attributes to one range per axis of `shape`.
pub(crate) fn slice_ranges(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
) -> R<Vec<SliceRange>> {
    let rank = shape.len();
    let mut ranges: Vec<SliceRange> = shape
        .iter()
        .map(|&d| SliceRange {
            start: 0,
            step: 1,
            len: d,
        })
        .collect();
    let axes: Vec<i64> = if axes.is_empty() {
        (0..starts.len() as i64).collect()
    } else {
        axes.to_vec()
    };
    if starts.len() != ends.len()
        || axes.len() != starts.len()
        || (!steps.is_empty() && steps.len() != starts.len())
    {
        return bad("starts, ends, axes and steps must have equal lengths");
    }
    let mut seen = vec![false; rank];
    for (i, &ax) in axes.iter().enumerate() {
        let a = norm_axis(ax, rank)
            .ok_or_else(|| Mismatch::Type(format!("axis {ax} out of range for rank {rank}")))?;
        if std::mem::replace(&mut seen[a], true) {
            return bad(format!("axis {ax} repeated"));
        }
        let step = steps.get(i).copied().unwrap_or(1);
        if step == 0 {
            return bad("slice step must not be 0");
        }
        let dim = shape[a] as i64;
        if dim == 0 {
            ranges[a] = SliceRange {
                start: 0,
                step,
                len: 0,
            };
            continue;
        }
        let fix = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (start, end) = (fix(starts[i]), fix(ends[i]));
        let (start, end) = if step > 0 {
            (start.clamp(0, dim), end.clamp(0, dim))
        } else {
            (start.clamp(0, dim - 1), end.clamp(-1, dim - 1))
        };
        let len = if step > 0 {
            (end - start).max(0).saturating_add(step - 1) / step
        } else {
            (start - end).max(0).saturating_add(-step - 1) / -step
        };
        ranges[a] = SliceRange {
            start,
            step,
            len: len.max(0) as usize,
        };
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(d: DType, s: &[usize]) -> TensorType {
        TensorType::new(d, s.to_vec())
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast(&[4, 1, 3], &[5, 1]), Some(vec![4, 5, 3]));
        assert_eq!(broadcast(&[], &[2]), Some(vec![2]));
        assert_eq!(broadcast(&[2, 3], &[4]), None);
    }

    #[test]
    fn matmul_types() {
        let out = infer(
            &Op::MatMul,
            &[&t(DType::I8, &[2, 4, 8]), &t(DType::I4, &[8, 3])],
        );
        assert_eq!(out, Ok(vec![t(DType::I32, &[2, 4, 3])]));
        assert!(matches!(
            infer(
                &Op::MatMul,
                &[&t(DType::F16, &[4, 8]), &t(DType::F32, &[8, 3])]
            ),
            Err(Mismatch::Type(_))
        ));
        assert!(matches!(
            infer(&Op::MatMul, &[&t(DType::F16, &[4, 8])]),
            Err(Mismatch::Arity { got: 1, .. })
        ));
    }

    #[test]
    fn reshape_rules() {
        assert_eq!(reshape(&[2, 3, 4], &[0, -1]), Ok(vec![2, 12]));
        assert!(reshape(&[2, 3], &[4, -1]).is_err());
        assert!(reshape(&[2, 3], &[-1, -1]).is_err());
    }

    #[test]
    fn slice_rules() {
        // x[1:-1], x[::-2] on length 5: ONNX clamping.
        let r = slice_ranges(&[5], &[1], &[-1], &[], &[]).unwrap();
        assert_eq!((r[0].start, r[0].len()), (1, 3));
        let r = slice_ranges(&[5], &[-1], &[i64::MIN], &[0], &[-2]).unwrap();
        assert_eq!((r[0].start, r[0].step, r[0].len()), (4, -2, 3));
        let r = slice_ranges(&[5], &[10], &[20], &[0], &[1]).unwrap();
        assert_eq!(r[0].len(), 0);
        // An empty axis with a negative step is empty, not a panic.
        let r = slice_ranges(&[0], &[-1], &[i64::MIN], &[0], &[-1]).unwrap();
        assert_eq!(r[0].len(), 0);
    }
}
