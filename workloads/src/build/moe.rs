//! The mixture-of-experts block (Mixtral): a router picks `top_k` experts per token
//! and renormalises their softmax weights; each expert gathers its tokens
//! (`MoeDispatch`), runs its FFN, and `MoeCombine` sums the weighted results.
//!
//! Routing is dropless by default: the dispatch capacity is the step's token count, so
//! no token is ever dropped and the result equals Mixtral's for any routing; with
//! [`crate::ModelConfig::capacity_factor`] set, capacity follows the expected load
//! and overflowing tokens are dropped (GShard). The router stays
//! in the float activation dtype in every weight format (a quantised router could
//! flip expert choices).

use triad_compiler::{Op, ReduceKind, ValueRef};

use super::{Builder, init};
use crate::error::Result;

impl Builder<'_> {
    /// The MoE FFN of layer `i` on `x [B, S, hidden]`.
    pub fn moe(&mut self, i: usize, x: ValueRef) -> Result<ValueRef> {
        let (h, experts, k) = (self.cfg.hidden, self.cfg.experts, self.cfg.top_k);
        let (b, s) = (self.batch, self.new);
        let tokens = b * s;
        let capacity = self.cfg.expert_capacity(tokens);
        let p = format!("layer{i}.router");
        self.g.set_scope(format!("layer{i}/router"));
        let xt = self.reshape(&format!("{p}.flatten"), x, &[tokens, h])?;
        let w = self.weight(
            &format!("{p}.weight"),
            self.act,
            &[h, experts],
            init::linear_range(h),
        )?;
        let logits = self.op(&format!("{p}.logits"), Op::MatMul, &[xt, w])?;
        let probs = self.op(&format!("{p}.softmax"), Op::Softmax { axis: -1 }, &[logits])?;
        let top = self
            .g
            .add(&format!("{p}.topk"), Op::TopK { k, axis: -1 }, &[probs])?;
        let (vals, idx) = (top[0], top[1]);
        let sum = self.op(
            &format!("{p}.sum"),
            Op::Reduce {
                kind: ReduceKind::Sum,
                axes: vec![-1],
                keepdims: true,
            },
            &[vals],
        )?;
        let gate = self.op(&format!("{p}.weights"), Op::Div, &[vals, sum])?;
        let mut outs = Vec::with_capacity(experts + 2);
        outs.extend([idx, gate]);
        for e in 0..experts {
            let prefix = format!("layer{i}.expert{e}");
            self.g.set_scope(format!("layer{i}/expert{e}"));
            let d = self.op(
                &format!("{prefix}.dispatch"),
                Op::MoeDispatch {
                    expert: e,
                    capacity,
                },
                &[xt, idx],
            )?;
            outs.push(self.ffn(&prefix, d)?);
        }
        self.g.set_scope(format!("layer{i}/moe_combine"));
        let c = self.op(
            &format!("layer{i}.moe_combine"),
            Op::MoeCombine { experts, capacity },
            &outs,
        )?;
        self.reshape(&format!("layer{i}.moe_combine.unflatten"), c, &[b, s, h])
    }
}
