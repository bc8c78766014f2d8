//! Multi-head and grouped-query attention with a KV cache.
//!
//! Scope `layer{i}/qkv`: the Q/K/V projections. Scope `layer{i}/attn`: head split
//! (reshape + transpose), RoPE, `KvAppend` onto the past cache, `Q K^T`, scaling,
//! masking, softmax, `P V` and the head merge. Scope `layer{i}/o_proj`: the output
//! projection. For GQA the query heads of one KV head form a group axis (5-D form,
//! see the module docs of `build`), so K and V are read once per KV head.

use triad_compiler::{Op, ValueRef};

use super::Builder;
use crate::config::Position;
use crate::error::Result;
use crate::phase::Phase;

impl Builder<'_> {
    /// Attention of layer `i` on the normed input `x [B, S, hidden]`; returns the
    /// output projection `[B, S, hidden]` and the present K and V `[B, kv, L+S, D]`.
    pub fn attention(&mut self, i: usize, x: ValueRef) -> Result<(ValueRef, ValueRef, ValueRef)> {
        let cfg = self.cfg;
        let (h, nh, nkv, d) = (cfg.hidden, cfg.heads, cfg.kv_heads, cfg.head_dim);
        let group = cfg.group();
        let (b, s, l) = (self.batch, self.new, self.past);
        let total = l + s;
        let qkv_bias = cfg.bias || cfg.qkv_bias;
        let p = format!("layer{i}");

        self.g.set_scope(format!("{p}/qkv"));
        let q = self.linear(&format!("{p}.q_proj"), x, (h, nh * d), qkv_bias)?;
        let k = self.linear(&format!("{p}.k_proj"), x, (h, nkv * d), qkv_bias)?;
        let v = self.linear(&format!("{p}.v_proj"), x, (h, nkv * d), qkv_bias)?;

        self.g.set_scope(format!("{p}/attn"));
        let q = self.heads(&format!("{p}.q"), q, nh, true, None)?;
        let k = self.heads(
            &format!("{p}.k"),
            k,
            nkv,
            true,
            Some(format!("{p}.present_k")),
        )?;
        let v = self.heads(
            &format!("{p}.v"),
            v,
            nkv,
            false,
            Some(format!("{p}.present_v")),
        )?;
        let (k, v) = if l > 0 {
            let ty = triad_compiler::TensorType::new(self.act, [b, nkv, l, d]);
            let past_k = self.g.kv_input(&format!("{p}.past_k"), ty.clone())?;
            let past_v = self.g.kv_input(&format!("{p}.past_v"), ty)?;
            let append = Op::KvAppend { axis: -2 };
            (
                self.op(&format!("{p}.present_k"), append.clone(), &[past_k, k])?,
                self.op(&format!("{p}.present_v"), append, &[past_v, v])?,
            )
        } else {
            (k, v)
        };

        let kt = self.transpose(&format!("{p}.k_t"), k, &[0, 1, 3, 2])?;
        let (q5, kt5, v5) = if group > 1 {
            (
                self.reshape(&format!("{p}.q_group"), q, &[b, nkv, group, s, d])?,
                self.reshape(&format!("{p}.k_group"), kt, &[b, nkv, 1, d, total])?,
                self.reshape(&format!("{p}.v_group"), v, &[b, nkv, 1, total, d])?,
            )
        } else {
            (q, kt, v)
        };
        let scores = self.op(&format!("{p}.scores"), Op::MatMul, &[q5, kt5])?;
        let scale = self.scalar(&format!("{p}.scale"), 1.0 / (d as f32).sqrt())?;
        let mut scores = self.op(&format!("{p}.scaled"), Op::Mul, &[scores, scale])?;
        if cfg.causal {
            if let (Phase::Verify { .. }, Some((mask, fill))) = (self.opts.phase, self.tree_mask) {
                scores = self.op(&format!("{p}.tree_mask"), Op::Where, &[mask, scores, fill])?;
            } else if s > 1 {
                scores = self.op(&format!("{p}.causal_mask"), Op::CausalMask, &[scores])?;
            }
        }
        let probs = self.op(&format!("{p}.softmax"), Op::Softmax { axis: -1 }, &[scores])?;
        let mut o = self.op(&format!("{p}.context"), Op::MatMul, &[probs, v5])?;
        if group > 1 {
            o = self.reshape(&format!("{p}.ungroup"), o, &[b, nh, s, d])?;
        }
        let o = self.transpose(&format!("{p}.merge_t"), o, &[0, 2, 1, 3])?;
        let o = self.reshape(&format!("{p}.merge"), o, &[b, s, nh * d])?;

        self.g.set_scope(format!("{p}/o_proj"));
        let out = self.linear(&format!("{p}.o_proj"), o, (nh * d, h), cfg.bias)?;
        Ok((out, k, v))
    }

    /// Split `[B, S, n*D]` into heads `[B, n, S, D]` and, if `rotate`, apply RoPE
    /// (RoPE models only). Without a past cache, K and V's last node is named
    /// `present` (they are the cache as written).
    fn heads(
        &mut self,
        p: &str,
        x: ValueRef,
        n: usize,
        rotate: bool,
        present: Option<String>,
    ) -> Result<ValueRef> {
        let (b, s, d) = (self.batch, self.new, self.cfg.head_dim);
        let rope = match (self.cfg.position, self.rope_positions) {
            (Position::Rope { theta }, Some(pos)) if rotate => Some((theta, pos)),
            _ => None,
        };
        let past = self.past;
        let last = |fallback: String| match &present {
            Some(name) if past == 0 => name.clone(),
            _ => fallback,
        };
        let split = self.reshape(&format!("{p}_split"), x, &[b, s, n, d])?;
        let t_name = if rope.is_some() {
            format!("{p}_heads")
        } else {
            last(format!("{p}_heads"))
        };
        let t = self.transpose(&t_name, split, &[0, 2, 1, 3])?;
        match rope {
            Some((theta, pos)) => self.op(
                &last(format!("{p}_rope")),
                Op::Rope {
                    theta,
                    rotary_dim: 0,
                },
                &[t, pos],
            ),
            None => Ok(t),
        }
    }
}
