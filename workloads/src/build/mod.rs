//! Graph generators: one [`ModelConfig`] plus [`BuildOptions`] to a validated
//! [`Graph`] of one model step.
//!
//! # Graph conventions
//!
//! - **Inputs**: `input_ids` i64 `[B, S]` (BERT also `token_type_ids`), and for steps
//!   that read a KV cache, per layer `layer{i}.past_k` / `layer{i}.past_v`
//!   (`kv_input`, `[B, kv_heads, L, head_dim]`, activation dtype).
//! - **Outputs**, in order: `logits` `[B, R, vocab]` in the activation dtype (R = 1
//!   for prefill, chunked prefill and decode: only the last token's logits are
//!   computed, as serving engines do; R = k for verify: every tree token), or
//!   `pooled` `[B, hidden]` for BERT; then `layer{i}.present_k`, `layer{i}.present_v`
//!   for every layer: the whole cache after this step, `[B, kv_heads, L + S, head_dim]`.
//!   Plain prefill has no past: K/V are built directly and output as present (no
//!   `KvAppend`). Encoders (non-causal) keep no cache in plain prefill, so they have
//!   no present outputs there.
//! - **Phases**: S new tokens after L cached ones (see [`Phase::new_tokens`] and
//!   [`Phase::past_tokens`]); chunked prefill is the last chunk's step. Positions are
//!   i64 `Constant`s (`positions` for RoPE, `position_ids` = position + offset for
//!   learned tables). Verify uses the binary token tree of [`crate::tree_parent`]:
//!   token i sits at position L + depth(i) and attends to the whole cache, its
//!   ancestors and itself (`tree_mask` `[k, L + k]`: an all-true `[k, L]` bool
//!   `Constant` concatenated with the `[k, k]` branch `Constant`; then `Where`);
//!   all k tokens are appended to the cache.
//! - **Attention**: scores are `Q K^T * 1/sqrt(head_dim)`, masked (`CausalMask` when
//!   S > 1, the tree mask for verify, nothing for encoders and decode), softmax, `P V`.
//!   GQA uses the 5-D form: Q `[B, kv, group, S, D]` against K^T `[B, kv, 1, D, L+S]`
//!   and V `[B, kv, 1, L+S, D]`, broadcasting the batch dims, so K/V are never copied
//!   per query head. MHA uses plain 4-D `[B, heads, S, D]`.
//! - **Scopes**: `embed`, `layer{i}/{attn_norm, qkv, attn, o_proj, residual, ffn_norm,
//!   ffn}`, MoE `layer{i}/{router, expert{e}, moe_combine}`, `final_norm`, `head`.
//! - **Weights**: `Init::Uniform` with seeds derived from (options seed, tensor name);
//!   ranges in [`init`]. Weight formats: see [`WeightFormat`]. Quantisation scales are
//!   `Weight`s named `*.scale` (per-model data read with the weights); they are not
//!   counted by [`ModelConfig::param_count`].
//! - **MoE**: every expert of a layer is in the graph. Dropless by default: each
//!   `MoeDispatch` has capacity T = B*S, so routing equals Mixtral's exactly, and the
//!   expert FLOPs are an upper bound (on average an expert gets T*top_k/experts
//!   tokens); `ModelConfig::capacity_factor` sizes capacity to the expected load.

mod attention;
mod ffn;
pub mod init;
mod layers;
mod moe;
mod transformer;

use serde::{Deserialize, Serialize};
use triad_compiler::{DType, Data, Graph, Init, Op, TensorType, ValueRef};

use crate::config::{ModelConfig, Position};
use crate::error::{Error, Result};
use crate::format::WeightFormat;
use crate::phase::{Phase, tree_parent};

/// Largest batch size accepted.
pub const MAX_BATCH: usize = 4096;

/// What to build: phase, batch, weight format and the seed of the random weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildOptions {
    /// The model step.
    pub phase: Phase,
    /// Sequences processed together (leading dim of every activation).
    pub batch: usize,
    /// Weight storage / compute format.
    pub weights: WeightFormat,
    /// Base seed of the weights' `Init::Uniform` recipes.
    pub seed: u64,
}

impl BuildOptions {
    /// Options for `phase` with batch 1, f16 weights and seed 0.
    pub fn new(phase: Phase) -> Self {
        BuildOptions {
            phase,
            batch: 1,
            weights: WeightFormat::F16,
            seed: 0,
        }
    }
}

/// The checks [`build`] makes before building: a valid config and phase, a batch in
/// `1..=MAX_BATCH`, and a step that fits the model's positions. Cheap, so that a
/// sweep can refuse a bad point before running any.
pub fn check_options(cfg: &ModelConfig, opts: &BuildOptions) -> Result<()> {
    cfg.validate()?;
    opts.phase.validate()?;
    let option = |field: &'static str, reason: String| Error::Options {
        model: cfg.name.clone(),
        field,
        reason,
    };
    if opts.batch == 0 || opts.batch > MAX_BATCH {
        return Err(option(
            "batch",
            format!("must be in 1..={MAX_BATCH}, got {}", opts.batch),
        ));
    }
    let positions = opts.phase.positions();
    let last = positions.iter().copied().max().unwrap_or(0);
    let cache_len = opts.phase.past_tokens() + opts.phase.new_tokens();
    if last >= cfg.max_positions || cache_len > cfg.max_positions {
        return Err(option(
            "phase",
            format!(
                "{} needs {} positions, the model supports {}",
                opts.phase,
                cache_len.max(last + 1),
                cfg.max_positions
            ),
        ));
    }
    Ok(())
}

/// Build the graph of one step of `cfg` as `opts` says; the graph is validated.
pub fn build(cfg: &ModelConfig, opts: &BuildOptions) -> Result<Graph> {
    check_options(cfg, opts)?;
    let mut b = Builder::new(cfg, opts);
    transformer::build_model(&mut b)?;
    let mut g = b.g;
    for (key, value) in [
        ("model", cfg.name.clone()),
        ("family", format!("{:?}", cfg.family).to_lowercase()),
        ("phase", opts.phase.to_string()),
        ("batch", opts.batch.to_string()),
        ("weights", opts.weights.to_string()),
        ("seed", opts.seed.to_string()),
    ] {
        g.meta.insert(key.to_string(), value);
    }
    if let Phase::Verify { .. } = opts.phase {
        g.meta.insert(
            "tree".into(),
            "binary, breadth-first: parent(i) = (i-1)/2".into(),
        );
    }
    g.validate()?;
    Ok(g)
}

/// Shared state while one graph is generated.
pub(crate) struct Builder<'a> {
    pub g: Graph,
    pub cfg: &'a ModelConfig,
    pub opts: &'a BuildOptions,
    /// Activation dtype.
    pub act: DType,
    /// Batch B.
    pub batch: usize,
    /// New tokens S.
    pub new: usize,
    /// Cached tokens L.
    pub past: usize,
    /// RoPE positions constant, `[S]` i64 (RoPE models only).
    pub rope_positions: Option<ValueRef>,
    /// Verify-phase tree mask, `[S, L + S]` bool, and its fill value (causal verify only).
    pub tree_mask: Option<(ValueRef, ValueRef)>,
}

impl<'a> Builder<'a> {
    fn new(cfg: &'a ModelConfig, opts: &'a BuildOptions) -> Self {
        Builder {
            g: Graph::new(cfg.name.clone()),
            cfg,
            opts,
            act: opts.weights.act_dtype(),
            batch: opts.batch,
            new: opts.phase.new_tokens(),
            past: opts.phase.past_tokens(),
            rope_positions: None,
            tree_mask: None,
        }
    }

    /// The graph-wide constants: RoPE positions and the verify tree mask.
    pub fn shared_constants(&mut self) -> Result<()> {
        if let Position::Rope { .. } = self.cfg.position {
            let pos = self
                .opts
                .phase
                .positions()
                .iter()
                .map(|&p| p as i64)
                .collect();
            self.rope_positions =
                Some(self.constant("positions", DType::I64, &[self.new], Data::I64(pos))?);
        }
        if let (Phase::Verify { .. }, true) = (self.opts.phase, self.cfg.causal) {
            // Every tree token sees the whole cache (an all-true constant drawn with
            // probability 1, so no [k, L] data is stored) and its own branch.
            let (s, l) = (self.new, self.past);
            let mut allowed = vec![false; s * s];
            for i in 0..s {
                let mut node = Some(i);
                while let Some(j) = node {
                    allowed[i * s + j] = true;
                    node = tree_parent(j);
                }
            }
            let branch = self.constant(
                "tree_mask.branch",
                DType::Bool,
                &[s, s],
                Data::Bool(allowed),
            )?;
            let all = Init::Uniform {
                seed: 0,
                low: 1.0,
                high: 1.0,
            };
            let cached =
                self.g
                    .constant("tree_mask.cache", TensorType::new(DType::Bool, [s, l]), all)?;
            let mask = self.op("tree_mask", Op::Concat { axis: -1 }, &[cached, branch])?;
            let fill = self.scalar("tree_mask.fill", init::MASK_FILL)?;
            self.tree_mask = Some((mask, fill));
        }
        Ok(())
    }

    /// A weight of `dtype` and `shape`, uniform in `[low, high]`.
    pub fn weight(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[usize],
        range: (f64, f64),
    ) -> Result<ValueRef> {
        let init = Init::Uniform {
            seed: init::derive_seed(self.opts.seed, name),
            low: range.0,
            high: range.1,
        };
        Ok(self.g.weight(name, TensorType::new(dtype, shape), init)?)
    }

    /// A constant with explicit data.
    pub fn constant(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[usize],
        data: Data,
    ) -> Result<ValueRef> {
        Ok(self
            .g
            .constant(name, TensorType::new(dtype, shape), Init::Data(data))?)
    }

    /// A scalar constant in the activation dtype (rounded to it).
    pub fn scalar(&mut self, name: &str, value: f32) -> Result<ValueRef> {
        let v = triad_compiler::round_to(self.act, value);
        self.constant(name, self.act, &[], Data::F32(vec![v]))
    }

    /// Add a one-output op node.
    pub fn op(&mut self, name: &str, op: Op, inputs: &[ValueRef]) -> Result<ValueRef> {
        Ok(self.g.add1(name, op, inputs)?)
    }

    /// Reshape `x` to `shape`.
    pub fn reshape(&mut self, name: &str, x: ValueRef, shape: &[usize]) -> Result<ValueRef> {
        let shape = shape.iter().map(|&d| d as i64).collect();
        self.op(name, Op::Reshape { shape }, &[x])
    }

    /// Permute the axes of `x`.
    pub fn transpose(&mut self, name: &str, x: ValueRef, perm: &[usize]) -> Result<ValueRef> {
        self.op(
            name,
            Op::Transpose {
                perm: perm.to_vec(),
            },
            &[x],
        )
    }
}
