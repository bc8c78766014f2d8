//! The feed-forward block: `down(act(up x))`, or gated `down(act(gate x) * up x)`.
//! Used for dense layers (scope `layer{i}/ffn`) and for each MoE expert.

use triad_compiler::{Op, ValueRef};

use super::Builder;
use crate::error::Result;

impl Builder<'_> {
    /// The FFN of width `cfg.ffn` on `x [..., hidden]`; nodes and weights named
    /// `{prefix}.up_proj`, `{prefix}.gate_proj`, `{prefix}.act`, `{prefix}.down_proj`.
    pub fn ffn(&mut self, prefix: &str, x: ValueRef) -> Result<ValueRef> {
        let (h, f, bias) = (self.cfg.hidden, self.cfg.ffn, self.cfg.bias);
        let up = self.linear(&format!("{prefix}.up_proj"), x, (h, f), bias)?;
        let inner = if self.cfg.gated_ffn {
            let gate = self.linear(&format!("{prefix}.gate_proj"), x, (h, f), bias)?;
            let a = self.activation(&format!("{prefix}.act"), gate)?;
            self.op(&format!("{prefix}.gated"), Op::Mul, &[a, up])?
        } else {
            self.activation(&format!("{prefix}.act"), up)?
        };
        self.linear(&format!("{prefix}.down_proj"), inner, (f, h), bias)
    }
}
