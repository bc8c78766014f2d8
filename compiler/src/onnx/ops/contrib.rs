//! ONNX Runtime contrib ops (`com.microsoft`) that optimised transformer exports use.
//!
//! - `FastGelu(x[, bias])`: tanh-approximated GELU of `x + bias`.
//! - `Gelu(x)`, `BiasGelu(x, bias)`: exact GELU (of `x + bias`).
//! - `QuickGelu(x)`: `x * sigmoid(alpha * x)` (alpha default 1.702).
//! - `SkipLayerNormalization(x, skip, gamma[, beta[, bias]])` and
//!   `SkipSimplifiedLayerNormalization(x, skip, gamma[, bias])`: `s = x + skip (+ bias)`,
//!   output 0 = LayerNorm/RmsNorm(s), output 3 = s; outputs 1-2 (mean, inverse
//!   std-dev) are not provided.
//! - `RotaryEmbedding(x, position_ids, cos_cache, sin_cache)` (non-interleaved):
//!   slices, gathered cos/sin rows and `Concat` (exact for any cache); the same
//!   rotation serves `GroupQueryAttention`'s `do_rotary` (see `attention`).
//! - `EmbedLayerNormalization(input_ids, segment_ids, word, position, segment, gamma,
//!   beta[, mask[, position_ids]])`: the three embedding `Gather`s summed, then
//!   `LayerNorm`; output 1 (`mask_index`) is the number of ones per mask row (int32),
//!   output 2 the embedding sum. Positions default to `0..S`.
//! - `SimplifiedLayerNormalization` is mapped with the standard norms (`nn`),
//!   `MatMulNBits` with the quantisation ops (`quant`).

use super::NodeIn;
use crate::error::Result;
use crate::onnx::fold::{Builder, Val};
use crate::op::Op;

/// `x + bias` when input 1 is given.
fn with_bias(b: &mut Builder, n: &NodeIn) -> Result<Val> {
    let x = n.input(0)?;
    match n.opt(1) {
        None => Ok(x),
        Some(bias) => {
            let t = b.tmp(&n.name, "biased");
            b.emit1(&n.name, &t, Op::Add, &[x, bias])
        }
    }
}

/// `FastGelu`.
pub(super) fn fast_gelu(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = with_bias(b, n)?;
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Gelu { tanh_approx: true },
        &[x],
    )?])
}

/// `Gelu` / `BiasGelu`.
pub(super) fn gelu(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = with_bias(b, n)?;
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Gelu { tanh_approx: false },
        &[x],
    )?])
}

/// `QuickGelu`.
pub(super) fn quick_gelu(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let alpha = n.attrs().float_or("alpha", 1.702)?;
    let dtype = b.ty(&x).dtype;
    let a = b.scalar_f32(&n.name, alpha);
    let a = if dtype == triad_isa::DType::F32 {
        a
    } else {
        let t = b.tmp(&n.name, "alpha");
        b.emit1(&n.name, &t, Op::Cast { to: dtype }, &[a])?
    };
    let t = b.tmp(&n.name, "ax");
    let ax = b.emit1(&n.name, &t, Op::Mul, &[x.clone(), a])?;
    let t = b.tmp(&n.name, "sigmoid");
    let s = b.emit1(&n.name, &t, Op::Sigmoid, &[ax])?;
    Ok(vec![b.emit1(&n.name, &n.out(0), Op::Mul, &[x, s])?])
}

/// `SkipLayerNormalization` / `SkipSimplifiedLayerNormalization`.
pub(super) fn skip_norm(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let simplified = n.op() == "SkipSimplifiedLayerNormalization";
    let eps = n.attrs().float_or("epsilon", 1e-12)?;
    let (x, skip, gamma) = (n.input(0)?, n.input(1)?, n.input(2)?);
    let (beta, bias) = if simplified {
        (None, n.opt(3))
    } else {
        (n.opt(3), n.opt(4))
    };
    let wants_sum = n.proto.output.get(3).is_some_and(|o| !o.is_empty());
    let sum_name = if wants_sum && bias.is_none() {
        n.out(3)
    } else {
        b.tmp(&n.name, "sum")
    };
    let mut s = b.emit1(&n.name, &sum_name, Op::Add, &[x, skip])?;
    if let Some(bias) = bias {
        let t = if wants_sum {
            n.out(3)
        } else {
            b.tmp(&n.name, "sum_bias")
        };
        s = b.emit1(&n.name, &t, Op::Add, &[s, bias])?;
    }
    let mut ins = vec![s.clone(), gamma];
    ins.extend(beta);
    let ins = super::nn::fit_params(b, n, ins, -1)?;
    let op = if simplified {
        Op::RmsNorm { axis: -1, eps }
    } else {
        Op::LayerNorm { axis: -1, eps }
    };
    let y = b.emit1(&n.name, &n.out(0), op, &ins)?;
    // Outputs 1 and 2 (mean, inverse std-dev) are not provided; output 3 is the sum.
    let missing = |i: usize| n.proto.output.get(i).is_some_and(|o| !o.is_empty());
    if missing(1) || missing(2) {
        return Err(n.err("the mean / inverse std-dev outputs are not supported"));
    }
    Ok(vec![y.clone(), y.clone(), y, s])
}

/// `RotaryEmbedding(x, position_ids, cos_cache, sin_cache)`, non-interleaved
/// (rotate-half) form: `cos`/`sin` rows are gathered by position, so any cache
/// (any theta or scaling) is reproduced exactly. `x` is `[B, S, N*D]` (heads from
/// `num_heads`, else the rotary width) or `[B, N, S, D]`; a single-element
/// `position_ids` is a start offset (positions offset..offset+S).
pub(super) fn rotary_embedding(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let at = n.attrs();
    if at.int_or("interleaved", 0)? != 0 {
        return Err(n.err("interleaved rotary embedding is not supported"));
    }
    if at.float_or("scale", 1.0)? != 1.0 {
        return Err(n.err("scale != 1 is not supported"));
    }
    let (x, pos, cos, sin) = (n.input(0)?, n.input(1)?, n.input(2)?, n.input(3)?);
    let xs = b.ty(&x).shape;
    let ct = b.ty(&cos);
    if ct.rank() != 2 {
        return Err(n.err(format!("cos_cache must be 2-D, got {:?}", ct.shape)));
    }
    let half = ct.shape[1];
    let r = 2 * half;
    let (seq, head, four_d) = match xs.len() {
        4 => (xs[2], xs[3], true),
        3 => {
            let heads = at.int_or("num_heads", 0)?;
            let head = if heads > 0 { xs[2] / heads as usize } else { r };
            (xs[1], head, false)
        }
        _ => return Err(n.err(format!("input must be 3-D or 4-D, got {xs:?}"))),
    };
    if head == 0 || r > head || (!four_d && !xs[2].is_multiple_of(head)) {
        return Err(n.err(format!(
            "rotary width {r} does not fit head size {head} of {xs:?}"
        )));
    }
    let pt = b.ty(&pos);
    let pos = if pt.elems() == 1 && pt.shape != [xs[0], seq] {
        let off = n
            .konst(1, "position_ids")?
            .ints()
            .ok_or_else(|| n.err("position_ids must be integers"))?[0];
        b.ints(
            &n.name,
            triad_isa::DType::I64,
            &[1, seq],
            (off..off + seq as i64).collect(),
        )
    } else {
        pos
    };
    let xv = if four_d {
        x
    } else {
        let shape = vec![xs[0] as i64, seq as i64, (xs[2] / head) as i64, head as i64];
        let t = b.tmp(&n.name, "heads");
        b.emit1(&n.name, &t, Op::Reshape { shape }, &[x])?
    };
    let tag = if four_d { "rotated4" } else { "rotated" };
    let rot = rotate(b, n, tag, xv, (&cos, &sin), &pos, four_d, (half, head))?;
    let shape = xs.iter().map(|&d| d as i64).collect();
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Reshape { shape },
        &[rot],
    )?])
}

/// Rotate `x` `[B, N, S, D]` (`bnsd`) or `[B, S, N, D]` by the cos/sin rows at
/// positions `pos` (`[rows, S]` integers): the first `2*half` features are rotated in
/// rotate-half form, the rest of the `head` features pass through.
#[allow(clippy::too_many_arguments)]
pub(super) fn rotate(
    b: &mut Builder,
    n: &NodeIn,
    tag: &str,
    xv: Val,
    (cos, sin): (&Val, &Val),
    pos: &Val,
    bnsd: bool,
    (half, head): (usize, usize),
) -> Result<Val> {
    let nm = format!("{}/{tag}", n.name);
    let step = |b: &mut Builder, s: &str, op: Op, ins: &[Val]| -> Result<Val> {
        let t = b.tmp(&nm, s);
        b.emit1(&nm, &t, op, ins)
    };
    let r = 2 * half;
    let seq = b.ty(pos).shape.last().copied().unwrap_or(1);
    let cg = step(
        b,
        "cos",
        Op::Gather { axis: 0 },
        &[cos.clone(), pos.clone()],
    )?;
    let sg = step(
        b,
        "sin",
        Op::Gather { axis: 0 },
        &[sin.clone(), pos.clone()],
    )?;
    let rows = b.ty(&cg).shape[0] as i64;
    let cshape = if bnsd {
        vec![rows, 1, seq as i64, half as i64]
    } else {
        vec![rows, seq as i64, 1, half as i64]
    };
    let c = step(
        b,
        "cos4",
        Op::Reshape {
            shape: cshape.clone(),
        },
        &[cg],
    )?;
    let s = step(b, "sin4", Op::Reshape { shape: cshape }, &[sg])?;
    let slice = |lo: usize, hi: usize| Op::Slice {
        starts: vec![lo as i64],
        ends: vec![hi as i64],
        axes: vec![-1],
        steps: vec![],
    };
    let x1 = step(b, "x1", slice(0, half), std::slice::from_ref(&xv))?;
    let x2 = step(b, "x2", slice(half, r), std::slice::from_ref(&xv))?;
    let x1c = step(b, "x1c", Op::Mul, &[x1.clone(), c.clone()])?;
    let x2s = step(b, "x2s", Op::Mul, &[x2.clone(), s.clone()])?;
    let o1 = step(b, "o1", Op::Sub, &[x1c, x2s])?;
    let x2c = step(b, "x2c", Op::Mul, &[x2, c])?;
    let x1s = step(b, "x1s", Op::Mul, &[x1, s])?;
    let o2 = step(b, "o2", Op::Add, &[x2c, x1s])?;
    let mut parts = vec![o1, o2];
    if r < head {
        parts.push(step(b, "pass", slice(r, head), &[xv])?);
    }
    step(b, "rotated", Op::Concat { axis: -1 }, &parts)
}

/// [`rotate`] of a `[B, N, S, D]` tensor with a `[max_positions, D/2]` cos/sin cache.
pub(super) fn rotate_4d(
    b: &mut Builder,
    n: &NodeIn,
    tag: &str,
    x: Val,
    cos: &Val,
    sin: &Val,
    pos: &Val,
) -> Result<Val> {
    let (xs, ct) = (b.ty(&x).shape, b.ty(cos));
    if ct.rank() != 2 || xs.len() != 4 || 2 * ct.shape[1] > xs[3] {
        return Err(n.err(format!(
            "cos_cache {:?} does not fit heads of shape {xs:?}",
            ct.shape
        )));
    }
    rotate(b, n, tag, x, (cos, sin), pos, true, (ct.shape[1], xs[3]))
}

/// `EmbedLayerNormalization`.
pub(super) fn embed_layer_norm(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    use triad_isa::DType;
    let eps = n.attrs().float_or("epsilon", 1e-12)?;
    let nm = n.name.clone();
    let step = |b: &mut Builder, s: &str, op: Op, ins: &[Val]| -> Result<Val> {
        let t = b.tmp(&nm, s);
        b.emit1(&nm, &t, op, ins)
    };
    let ids = n.input(0)?;
    let shape = b.ty(&ids).shape;
    if shape.len() != 2 {
        return Err(n.err(format!(
            "input_ids must be [batch, sequence], got {shape:?}"
        )));
    }
    let (bsz, seq) = (shape[0], shape[1]);
    let gather = Op::Gather { axis: 0 };
    let mut sum = step(b, "word", gather.clone(), &[n.input(2)?, ids])?;
    let pos = match n.opt(8) {
        Some(p) => p,
        None => b.ints(&n.name, DType::I64, &[1, seq], (0..seq as i64).collect()),
    };
    let pe = step(b, "position", gather.clone(), &[n.input(3)?, pos])?;
    sum = step(b, "word_position", Op::Add, &[sum, pe])?;
    if let (Some(seg), Some(table)) = (n.opt(1), n.opt(4)) {
        let se = step(b, "segment", gather, &[table, seg])?;
        sum = step(b, "with_segment", Op::Add, &[sum, se])?;
    }
    let sum_name = if n.proto.output.get(2).is_some_and(|o| !o.is_empty()) {
        n.out(2)
    } else {
        b.tmp(&n.name, "sum")
    };
    let shape3: Vec<i64> = b.ty(&sum).shape.iter().map(|&d| d as i64).collect();
    let sum = b.emit1(&n.name, &sum_name, Op::Reshape { shape: shape3 }, &[sum])?;
    let ins = vec![sum.clone(), n.input(5)?, n.input(6)?];
    let ins = super::nn::fit_params(b, n, ins, -1)?;
    let y = b.emit1(&n.name, &n.out(0), Op::LayerNorm { axis: -1, eps }, &ins)?;
    let mask_index = match n.opt(7) {
        Some(m) => {
            let mi = step(b, "mask_i32", Op::Cast { to: DType::I32 }, &[m])?;
            let r = Op::Reduce {
                kind: crate::op::ReduceKind::Sum,
                axes: vec![1],
                keepdims: false,
            };
            b.emit1(&n.name, &n.out(1), r, &[mi])?
        }
        None => b.ints(&n.name, DType::I32, &[bsz], vec![seq as i64; bsz]),
    };
    Ok(vec![y, mask_index, sum])
}
