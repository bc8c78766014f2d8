//! ONNX Runtime's fused attention ops (`com.microsoft`), decomposed at import time
//! into IR ops (no attention op in the IR): projections as `MatMul`/`Add`, heads by
//! `Reshape`/`Transpose`, scores `MatMul(Q, K^T) * scale`, additive masks, the causal
//! mask as `CausalMask`, `Softmax`, `MatMul(P, V)`. Grouped-query heads are handled
//! by folding the query groups into the row dimension (`[B, Nkv, g*S, D]`), so K and
//! V are never copied per group.
//!
//! - `Attention(input, weights, bias, mask_index, past, attention_bias)`: packed QKV
//!   projection (`qkv_hidden_sizes` or three equal parts), `unidirectional` causal,
//!   a `[B]` key-length mask_index or a 2-D `[B, total]` 0/1 mask (masked keys get `mask_filter_value`, default
//!   -10000), `past` `[2, B, N, P, D]` concatenated in front, output 1 `present`.
//! - `MultiHeadAttention(query, key, value, bias, key_padding_mask, attention_bias,
//!   past_key, past_value)`: separate 3-D Q/K/V (or 4-D `[B, N, L, D]` K/V used as
//!   they are), outputs 1-2 `present_key`/`present_value`.
//! - `GroupQueryAttention(query, key, value, past_key, past_value, seqlens_k,
//!   total_sequence_length, cos_cache, sin_cache)`: always causal, `kv_num_heads`
//!   groups, optional rotary embedding (`do_rotary`, non-interleaved) at positions
//!   `P..P+S` where `P` is the past length, packed QKV when `key` is absent.
//!
//! Limits (each an error naming the node and the attribute or input): `[2B]` and
//! 3-D `mask_index` forms, `past_sequence_length`, `do_rotary` on `Attention`, packed
//! `MultiHeadAttention` inputs, interleaved rotary, `local_window_size`, `softcap`,
//! `smooth_softmax`, GQA `position_ids`/`attention_bias`/`head_sink`. GQA's
//! `seqlens_k` is assumed to be `total - 1` for every row (no left padding): when it
//! is known at import time a different value is an error; when it is a run-time input
//! it is not read.

use triad_isa::DType;

use super::NodeIn;
use crate::error::Result;
use crate::onnx::fold::{Builder, Val};
use crate::op::Op;

/// Default `mask_filter_value` of ONNX Runtime's attention ops.
const MASK_FILTER: f32 = -10000.0;

/// Emits the temporaries of one node under `{node}/{suffix}` names.
struct Steps<'a> {
    nm: &'a str,
}

impl Steps<'_> {
    fn op(&self, b: &mut Builder, s: &str, op: Op, ins: &[Val]) -> Result<Val> {
        let t = b.tmp(self.nm, s);
        b.emit1(self.nm, &t, op, ins)
    }

    fn reshape(&self, b: &mut Builder, s: &str, x: Val, shape: &[usize]) -> Result<Val> {
        let shape = shape.iter().map(|&d| d as i64).collect();
        self.op(b, s, Op::Reshape { shape }, &[x])
    }

    fn transpose(&self, b: &mut Builder, s: &str, x: Val, perm: &[usize]) -> Result<Val> {
        self.op(
            b,
            s,
            Op::Transpose {
                perm: perm.to_vec(),
            },
            &[x],
        )
    }

    /// A float scalar in `dtype`.
    fn scalar(&self, b: &mut Builder, s: &str, x: f32, dtype: DType) -> Result<Val> {
        let c = b.scalar_f32(self.nm, x);
        if dtype == DType::F32 {
            return Ok(c);
        }
        self.op(b, s, Op::Cast { to: dtype }, &[c])
    }

    /// `[B, S, N*D]` -> `[B, N, S, D]`.
    fn heads(&self, b: &mut Builder, s: &str, x: Val, heads: usize) -> Result<Val> {
        let sh = b.ty(&x).shape;
        let r = self.reshape(
            b,
            &format!("{s}_split"),
            x,
            &[sh[0], sh[1], heads, sh[2] / heads],
        )?;
        self.transpose(b, &format!("{s}_heads"), r, &[0, 2, 1, 3])
    }

    /// A 0/1 key mask `[B, L]` as an additive bias `[B, 1, 1, L]`: `(1 - m) * filter`.
    fn key_mask(&self, b: &mut Builder, m: Val, filter: f32, dtype: DType) -> Result<Val> {
        let sh = b.ty(&m).shape;
        let mf = self.op(b, "mask_f", Op::Cast { to: dtype }, &[m])?;
        let one = self.scalar(b, "one", 1.0, dtype)?;
        let inv = self.op(b, "mask_inv", Op::Sub, &[one, mf])?;
        let f = self.scalar(b, "filter", filter, dtype)?;
        let add = self.op(b, "mask_add", Op::Mul, &[inv, f])?;
        self.reshape(b, "mask_4d", add, &[sh[0], 1, 1, sh[1]])
    }
}

/// Scaled dot-product attention of `q` `[B, N, S, D]` over `k`/`v` `[B, Nkv, L, D]`
/// with an optional additive `bias` (broadcast to `[B, N, S, L]`) and causal mask;
/// the result is `[B, S, N*Dv]`, named `out`.
#[allow(clippy::too_many_arguments)]
fn sdpa(
    b: &mut Builder,
    n: &NodeIn,
    q: Val,
    k: Val,
    v: Val,
    scale: Option<f32>,
    bias: Option<Val>,
    causal: bool,
    out: &str,
) -> Result<Val> {
    let st = Steps { nm: &n.name };
    let (qs, ks, vs) = (b.ty(&q).shape, b.ty(&k).shape, b.ty(&v).shape);
    let dtype = b.ty(&q).dtype;
    if qs.len() != 4 || ks.len() != 4 || vs.len() != 4 {
        return Err(n.err(format!(
            "attention operands must be 4-D, got Q {qs:?}, K {ks:?}, V {vs:?}"
        )));
    }
    let (bsz, heads, s, d) = (qs[0], qs[1], qs[2], qs[3]);
    let (kv, l) = (ks[1], ks[2]);
    if kv == 0 || !heads.is_multiple_of(kv) || ks[3] != d || vs[1] != kv || vs[2] != l {
        return Err(n.err(format!(
            "Q {qs:?}, K {ks:?} and V {vs:?} do not fit (heads must be a multiple of KV heads)"
        )));
    }
    let g = heads / kv;
    let qg = if g > 1 {
        st.reshape(b, "q_groups", q, &[bsz, kv, g * s, d])?
    } else {
        q
    };
    let kt = st.transpose(b, "k_t", k, &[0, 1, 3, 2])?;
    let scores = st.op(b, "scores", Op::MatMul, &[qg, kt])?;
    let sc = scale.unwrap_or(1.0 / (d as f32).sqrt());
    let scv = st.scalar(b, "scale", sc, dtype)?;
    let mut x = st.op(b, "scaled", Op::Mul, &[scores, scv])?;
    if g > 1 {
        x = st.reshape(b, "scores_heads", x, &[bsz, heads, s, l])?;
    }
    if let Some(bias) = bias {
        x = st.op(b, "biased", Op::Add, &[x, bias])?;
    }
    if causal {
        x = st.op(b, "causal", Op::CausalMask, &[x])?;
    }
    let mut p = st.op(b, "probs", Op::Softmax { axis: -1 }, &[x])?;
    if g > 1 {
        p = st.reshape(b, "probs_groups", p, &[bsz, kv, g * s, l])?;
    }
    let mut o = st.op(b, "context", Op::MatMul, &[p, v])?;
    let dv = vs[3];
    if g > 1 {
        o = st.reshape(b, "context_heads", o, &[bsz, heads, s, dv])?;
    }
    let o = st.transpose(b, "context_t", o, &[0, 2, 1, 3])?;
    let shape = vec![bsz as i64, s as i64, (heads * dv) as i64];
    b.emit1(&n.name, out, Op::Reshape { shape }, &[o])
}

/// The `num_heads` attribute (required, positive).
fn num_heads(n: &NodeIn, name: &str) -> Result<usize> {
    match n.attrs().int(name)? {
        Some(h) if h > 0 => Ok(h as usize),
        other => Err(n.err(format!(
            "attribute `{name}` must be positive, got {other:?}"
        ))),
    }
}

/// The optional `scale` attribute (0 or absent means `1/sqrt(head_size)`).
fn scale_attr(n: &NodeIn) -> Result<Option<f32>> {
    let s = n.attrs().float_or("scale", 0.0)?;
    Ok((s != 0.0).then_some(s))
}

/// Reject a present optional input the decomposition does not implement.
fn refuse_input(n: &NodeIn, i: usize, what: &str) -> Result<()> {
    if n.opt(i).is_some() {
        return Err(n.err(format!("input {i} ({what}) is not supported")));
    }
    Ok(())
}

/// True when ONNX output `i` is requested.
fn wants(n: &NodeIn, i: usize) -> bool {
    n.proto.output.get(i).is_some_and(|o| !o.is_empty())
}

/// `Attention` (packed QKV projection).
pub(super) fn attention(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let at = n.attrs();
    let heads = num_heads(n, "num_heads")?;
    if at.int_or("do_rotary", 0)? != 0 {
        return Err(n.err("attribute `do_rotary` is not supported"));
    }
    refuse_input(n, 6, "past_sequence_length")?;
    let causal = at.int_or("unidirectional", 0)? != 0;
    let filter = at.float_or("mask_filter_value", MASK_FILTER)?;
    let st = Steps { nm: &n.name };
    let (x, w) = (n.input(0)?, n.input(1)?);
    let xs = b.ty(&x).shape;
    let ws = b.ty(&w).shape;
    if xs.len() != 3 || ws.len() != 2 {
        return Err(n.err(format!(
            "input must be [B, S, H] and weights 2-D, got {xs:?} and {ws:?}"
        )));
    }
    let sizes = match at.ints("qkv_hidden_sizes")? {
        Some(v) if v.len() == 3 && v.iter().all(|&x| x > 0) => {
            v.iter().map(|&x| x as usize).collect::<Vec<_>>()
        }
        Some(v) => return Err(n.err(format!("qkv_hidden_sizes = {v:?}: expected 3 sizes"))),
        None => vec![ws[1] / 3; 3],
    };
    if sizes.iter().sum::<usize>() != ws[1] || sizes[0] != sizes[1] || sizes[0] % heads != 0 {
        return Err(n.err(format!(
            "weights {ws:?} do not split into Q/K/V sizes {sizes:?} of {heads} heads"
        )));
    }
    let mut qkv = st.op(b, "qkv", Op::MatMul, &[x, w])?;
    if let Some(bias) = n.opt(2) {
        qkv = st.op(b, "qkv_bias", Op::Add, &[qkv, bias])?;
    }
    let t = [
        b.tmp(&n.name, "q"),
        b.tmp(&n.name, "k"),
        b.tmp(&n.name, "v"),
    ];
    let parts = b.emit(
        &n.name,
        Op::Split {
            axis: -1,
            sizes: sizes.clone(),
        },
        &[qkv],
        &t,
    )?;
    let q = st.heads(b, "q", parts[0].clone(), heads)?;
    let mut k = st.heads(b, "k", parts[1].clone(), heads)?;
    let mut v = st.heads(b, "v", parts[2].clone(), heads)?;
    if let Some(past) = n.opt(4) {
        let ps = b.ty(&past).shape;
        let ks = b.ty(&k).shape;
        if ps.len() != 5 || ps[0] != 2 || ps[1] != ks[0] || ps[2] != ks[1] || ps[4] != ks[3] {
            return Err(n.err(format!(
                "past must be [2, B, N, P, D] matching K {ks:?}, got {ps:?}"
            )));
        }
        let t = [b.tmp(&n.name, "past_k"), b.tmp(&n.name, "past_v")];
        let pk = b.emit(
            &n.name,
            Op::Split {
                axis: 0,
                sizes: vec![1, 1],
            },
            &[past],
            &t,
        )?;
        let four = [ps[1], ps[2], ps[3], ps[4]];
        let pk0 = st.reshape(b, "past_k4", pk[0].clone(), &four)?;
        let pv0 = st.reshape(b, "past_v4", pk[1].clone(), &four)?;
        k = st.op(b, "k_all", Op::Concat { axis: 2 }, &[pk0, k])?;
        v = st.op(b, "v_all", Op::Concat { axis: 2 }, &[pv0, v])?;
    }
    let mut bias = match n.opt(3) {
        None => None,
        Some(m) => {
            let ms = b.ty(&m).shape;
            let l = b.ty(&k).shape[2];
            let dtype = b.ty(&q).dtype;
            if ms == [xs[0]] {
                // Key lengths (right padding): key j of row b is kept when j < len[b].
                let pos = b.ints(&n.name, DType::I32, &[1, l], (0..l as i64).collect());
                let len = st.op(b, "len_i32", Op::Cast { to: DType::I32 }, &[m])?;
                let len = st.reshape(b, "len_col", len, &[xs[0], 1])?;
                let keep = st.op(b, "keep", Op::Less, &[pos, len])?;
                Some(st.key_mask(b, keep, filter, dtype)?)
            } else if ms == [xs[0], l] {
                Some(st.key_mask(b, m, filter, dtype)?)
            } else {
                return Err(n.err(format!(
                    "mask_index {ms:?}: only the [batch] (key lengths) and 2-D [batch, \
                     total_sequence] = [{}, {l}] forms are supported",
                    xs[0]
                )));
            }
        }
    };
    if let Some(ab) = n.opt(5) {
        bias = Some(match bias {
            None => ab,
            Some(m) => st.op(b, "bias_all", Op::Add, &[m, ab])?,
        });
    }
    let y = sdpa(
        b,
        n,
        q,
        k.clone(),
        v.clone(),
        scale_attr(n)?,
        bias,
        causal,
        &n.out(0),
    )?;
    let mut outs = vec![y];
    if wants(n, 1) {
        let ks = b.ty(&k).shape;
        let five = [1, ks[0], ks[1], ks[2], ks[3]];
        let k5 = st.reshape(b, "present_k", k, &five)?;
        let v5 = st.reshape(b, "present_v", v, &five)?;
        outs.push(b.emit1(&n.name, &n.out(1), Op::Concat { axis: 0 }, &[k5, v5])?);
    }
    Ok(outs)
}

/// `MultiHeadAttention` (separate Q, K, V).
pub(super) fn multi_head_attention(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let at = n.attrs();
    let heads = num_heads(n, "num_heads")?;
    let causal = at.int_or("unidirectional", 0)? != 0;
    let filter = at.float_or("mask_filter_value", MASK_FILTER)?;
    refuse_input(n, 8, "past_sequence_length")?;
    refuse_input(n, 9, "cache_indirection")?;
    let st = Steps { nm: &n.name };
    let q = n.input(0)?;
    let (Some(k), Some(v)) = (n.opt(1), n.opt(2)) else {
        return Err(n.err("packed QKV / KV inputs (no key or value) are not supported"));
    };
    let qs = b.ty(&q).shape;
    if qs.len() != 3 {
        return Err(n.err(format!("query must be [B, S, H], got {qs:?}")));
    }
    let (mut q, mut k, mut v) = (q, k, v);
    let k4 = b.ty(&k).rank() == 4;
    if let Some(bias) = n.opt(3) {
        let h = qs[2];
        let (hk, hv) = (b.ty(&k).shape[2], b.ty(&v).shape[2]);
        if k4 {
            return Err(n.err("bias with 4-D key/value is not supported"));
        }
        let t = [
            b.tmp(&n.name, "bq"),
            b.tmp(&n.name, "bk"),
            b.tmp(&n.name, "bv"),
        ];
        let bs = b.emit(
            &n.name,
            Op::Split {
                axis: 0,
                sizes: vec![h, hk, hv],
            },
            &[bias],
            &t,
        )?;
        q = st.op(b, "q_b", Op::Add, &[q, bs[0].clone()])?;
        k = st.op(b, "k_b", Op::Add, &[k, bs[1].clone()])?;
        v = st.op(b, "v_b", Op::Add, &[v, bs[2].clone()])?;
    }
    let q = st.heads(b, "q", q, heads)?;
    if !k4 {
        k = st.heads(b, "k", k, heads)?;
        v = st.heads(b, "v", v, heads)?;
    }
    if let (Some(pk), Some(pv)) = (n.opt(6), n.opt(7)) {
        k = st.op(b, "k_all", Op::Concat { axis: 2 }, &[pk, k])?;
        v = st.op(b, "v_all", Op::Concat { axis: 2 }, &[pv, v])?;
    } else if n.opt(6).is_some() || n.opt(7).is_some() {
        return Err(n.err("past_key and past_value must be given together"));
    }
    let mut bias = match n.opt(4) {
        None => None,
        Some(m) => {
            let ms = b.ty(&m).shape;
            let l = b.ty(&k).shape[2];
            if ms != [qs[0], l] {
                return Err(n.err(format!(
                    "key_padding_mask {ms:?}: only the 2-D [batch, total_sequence] = [{}, {l}] \
                     form is supported",
                    qs[0]
                )));
            }
            let dtype = b.ty(&q).dtype;
            Some(st.key_mask(b, m, filter, dtype)?)
        }
    };
    if let Some(ab) = n.opt(5) {
        bias = Some(match bias {
            None => ab,
            Some(m) => st.op(b, "bias_all", Op::Add, &[m, ab])?,
        });
    }
    let y = sdpa(
        b,
        n,
        q,
        k.clone(),
        v.clone(),
        scale_attr(n)?,
        bias,
        causal,
        &n.out(0),
    )?;
    let pk = b.emit1(&n.name, &n.out(1), Op::Reshape { shape: dims(b, &k) }, &[k])?;
    let pv = b.emit1(&n.name, &n.out(2), Op::Reshape { shape: dims(b, &v) }, &[v])?;
    Ok(vec![y, pk, pv])
}

/// The shape of `v` as Reshape dims (an identity reshape gives an output its name).
fn dims(b: &Builder, v: &Val) -> Vec<i64> {
    b.ty(v).shape.iter().map(|&d| d as i64).collect()
}

/// `GroupQueryAttention`.
pub(super) fn group_query_attention(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let at = n.attrs();
    let heads = num_heads(n, "num_heads")?;
    let kv = num_heads(n, "kv_num_heads")?;
    if at.int_or("local_window_size", -1)? != -1 {
        return Err(n.err("attribute `local_window_size` is not supported"));
    }
    if at.float_or("softcap", 0.0)? != 0.0 {
        return Err(n.err("attribute `softcap` is not supported"));
    }
    if at.int_or("smooth_softmax", 0)? != 0 {
        return Err(n.err("attribute `smooth_softmax` is not supported"));
    }
    if at.int_or("rotary_interleaved", 0)? != 0 {
        return Err(n.err("interleaved rotary embedding is not supported"));
    }
    refuse_input(n, 9, "position_ids")?;
    refuse_input(n, 10, "attention_bias")?;
    refuse_input(n, 11, "head_sink")?;
    let st = Steps { nm: &n.name };
    let q = n.input(0)?;
    let qs = b.ty(&q).shape;
    if qs.len() != 3 || heads % kv != 0 {
        return Err(n.err(format!(
            "query must be [B, S, H] and num_heads a multiple of kv_num_heads, got {qs:?}, \
             {heads}/{kv}"
        )));
    }
    let (q, k, v) = match (n.opt(1), n.opt(2)) {
        (Some(k), Some(v)) => (q, k, v),
        (None, None) => {
            let d = qs[2] / (heads + 2 * kv);
            let t = [
                b.tmp(&n.name, "q"),
                b.tmp(&n.name, "k"),
                b.tmp(&n.name, "v"),
            ];
            let p = b.emit(
                &n.name,
                Op::Split {
                    axis: -1,
                    sizes: vec![heads * d, kv * d, kv * d],
                },
                &[q],
                &t,
            )?;
            (p[0].clone(), p[1].clone(), p[2].clone())
        }
        _ => return Err(n.err("key and value must be given together")),
    };
    let s = qs[1];
    let mut q = st.heads(b, "q", q, heads)?;
    let mut k = st.heads(b, "k", k, kv)?;
    let v = st.heads(b, "v", v, kv)?;
    let past = match (n.opt(3), n.opt(4)) {
        (Some(pk), Some(pv)) => Some((pk, pv)),
        (None, None) => None,
        _ => return Err(n.err("past_key and past_value must be given together")),
    };
    let p = past.as_ref().map_or(0, |(pk, _)| b.ty(pk).shape[2]);
    let total = p + s;
    if let Some(c) = n.opt(5).and_then(|v| v.konst()) {
        let want = total as i64 - 1;
        if c.ints().is_some_and(|v| v.iter().any(|&x| x != want)) {
            return Err(n.err(format!(
                "seqlens_k must be total_sequence_length - 1 = {want} for every row (padded \
                 batches are not supported)"
            )));
        }
    }
    if at.int_or("do_rotary", 0)? != 0 {
        let (cos, sin) = (n.input(7)?, n.input(8)?);
        let pos = b.ints(
            &n.name,
            DType::I64,
            &[1, s],
            (p as i64..total as i64).collect(),
        );
        q = super::contrib::rotate_4d(b, n, "q_rot", q, &cos, &sin, &pos)?;
        k = super::contrib::rotate_4d(b, n, "k_rot", k, &cos, &sin, &pos)?;
    }
    let (k, v) = match past {
        Some((pk, pv)) => (
            st.op(b, "k_all", Op::Concat { axis: 2 }, &[pk, k])?,
            st.op(b, "v_all", Op::Concat { axis: 2 }, &[pv, v])?,
        ),
        None => (k, v),
    };
    let y = sdpa(
        b,
        n,
        q,
        k.clone(),
        v.clone(),
        scale_attr(n)?,
        None,
        true,
        &n.out(0),
    )?;
    let pk = b.emit1(&n.name, &n.out(1), Op::Reshape { shape: dims(b, &k) }, &[k])?;
    let pv = b.emit1(&n.name, &n.out(2), Op::Reshape { shape: dims(b, &v) }, &[v])?;
    Ok(vec![y, pk, pv])
}
