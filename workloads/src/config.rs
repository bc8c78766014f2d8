//! Model configurations: the shape hyperparameters of one transformer, and its
//! parameter count from the closed-form formula.
//!
//! One struct covers every family of the zoo (decoder-only GPT/OPT/Llama/Qwen/Mixtral
//! and encoder-only BERT): the differences are fields (norm kind and placement,
//! positional encoding, gated FFN, experts, biases, tied embeddings, head kind).
//! [`ModelConfig::validate`] rejects inconsistent shapes before any graph is built.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The model family a configuration follows (its Hugging Face architecture).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// GPT-2 (`GPT2LMHeadModel`).
    Gpt2,
    /// GPT-3 shapes (GPT-2 architecture, dense attention, 2048 context).
    Gpt3,
    /// OPT (`OPTForCausalLM`).
    Opt,
    /// Qwen1.5 (`Qwen2ForCausalLM`).
    Qwen,
    /// Llama 2 and 3 (`LlamaForCausalLM`).
    Llama,
    /// Mixtral (`MixtralForCausalLM`).
    Mixtral,
    /// BERT-style encoders, incl. MiniLM (`BertModel`).
    Bert,
}

/// The FFN non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact erf GELU (BERT).
    Gelu,
    /// tanh-approximated GELU (GPT-2 `gelu_new`).
    GeluTanh,
    /// ReLU (OPT).
    Relu,
    /// SiLU, used gated (SwiGLU) by Llama, Qwen and Mixtral.
    Silu,
}

/// The normalisation layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// LayerNorm with gamma and beta.
    LayerNorm,
    /// RMSNorm with gamma only.
    RmsNorm,
}

/// The positional encoding.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// A learned table of `max_positions + position_offset` rows added to the
    /// token embeddings.
    Learned,
    /// Rotary embeddings on Q and K (rotate-half form) with base `theta`.
    Rope {
        /// Frequency base.
        theta: f32,
    },
}

/// What sits on top of the last layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// Language-model head: logits over the vocabulary.
    Lm,
    /// BERT pooler: `tanh(dense(h[:, 0]))`.
    Pooler,
}

/// The shape hyperparameters of one transformer (Hugging Face `config.json` values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Zoo name, lower-case and hyphenated (`llama3-8b`).
    pub name: String,
    /// Architecture family.
    pub family: Family,
    /// Where the values come from (config file or paper table).
    pub source: String,
    /// Model (residual stream) width.
    pub hidden: usize,
    /// Number of transformer layers.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (< `heads` for grouped-query attention).
    pub kv_heads: usize,
    /// Features per head.
    pub head_dim: usize,
    /// FFN inner width (per expert for MoE).
    pub ffn: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Longest context the model supports (positions `0..max_positions`).
    pub max_positions: usize,
    /// FFN non-linearity.
    pub activation: Activation,
    /// Normalisation kind.
    pub norm: Norm,
    /// Epsilon of every norm.
    pub norm_eps: f32,
    /// Positional encoding.
    pub position: Position,
    /// Rows of the learned position table before position 0 (OPT: 2).
    pub position_offset: usize,
    /// Experts per MoE layer (1: dense FFN).
    pub experts: usize,
    /// Experts each token is routed to.
    pub top_k: usize,
    /// MoE dispatch capacity: `None` is dropless (each expert can take all T tokens of
    /// the step, exactly Mixtral's semantics; the zoo default); `Some(f)` gives each
    /// expert `min(T, ceil(T * top_k / experts * f))` rows (GShard), so the graph's
    /// expert FLOPs follow the expected load, and tokens beyond it are dropped.
    pub capacity_factor: Option<f32>,
    /// Gated FFN (`down(act(gate x) * up x)`) instead of `down(act(up x))`.
    pub gated_ffn: bool,
    /// LM head shares the token-embedding table.
    pub tied_embeddings: bool,
    /// Biases on every linear layer.
    pub bias: bool,
    /// Biases on the Q/K/V projections only (Qwen); implied by `bias`.
    pub qkv_bias: bool,
    /// Causal (decoder) attention; false for BERT-style encoders.
    pub causal: bool,
    /// Norm before each sub-block (GPT-2, Llama) or after the residual add (BERT, OPT-350m).
    pub pre_norm: bool,
    /// Width of the token-embedding table; differs from `hidden` only for OPT-350m,
    /// whose 512-wide embeddings are projected to and from the 1024-wide stream.
    pub embed_dim: usize,
    /// Token-type (segment) vocabulary; 0 without token types.
    pub type_vocab: usize,
    /// A norm right after the embeddings (BERT).
    pub embed_norm: bool,
    /// LM head or pooler.
    pub head: Head,
}

impl ModelConfig {
    /// Rows of each expert's dispatch for a step of `tokens` tokens (see
    /// [`ModelConfig::capacity_factor`]).
    pub fn expert_capacity(&self, tokens: usize) -> usize {
        match self.capacity_factor {
            None => tokens,
            Some(f) => {
                let expected = tokens as f64 * self.top_k as f64 / self.experts as f64;
                ((expected * f64::from(f)).ceil() as usize).clamp(1, tokens)
            }
        }
    }

    /// Query heads per KV head.
    pub fn group(&self) -> usize {
        self.heads / self.kv_heads.max(1)
    }

    /// Parameter count from the closed-form formula (all experts counted).
    pub fn param_count(&self) -> u64 {
        self.count(self.experts as u64)
    }

    /// Parameters touched per token: only `top_k` experts of each MoE layer (equal to
    /// [`ModelConfig::param_count`] for dense models).
    pub fn active_param_count(&self) -> u64 {
        if self.experts > 1 {
            self.count(self.top_k as u64)
        } else {
            self.param_count()
        }
    }

    fn count(&self, experts: u64) -> u64 {
        let u = |x: usize| x as u64;
        let (h, v) = (u(self.hidden), u(self.vocab));
        let norm = match self.norm {
            Norm::LayerNorm => 2 * h,
            Norm::RmsNorm => h,
        };
        // Embeddings: tokens, learned positions, token types, projections, norm.
        let mut total = v * u(self.embed_dim);
        if self.position == Position::Learned {
            total += u(self.max_positions + self.position_offset) * h;
        }
        total += u(self.type_vocab) * h;
        if self.embed_dim != self.hidden {
            total += 2 * u(self.embed_dim) * h;
        }
        if self.embed_norm {
            total += norm;
        }
        // One layer: attention, two norms, FFN or experts plus router.
        let (q, kv) = (
            u(self.heads * self.head_dim),
            u(self.kv_heads * self.head_dim),
        );
        let mut attn = h * q + 2 * h * kv + q * h;
        if self.bias || self.qkv_bias {
            attn += q + 2 * kv;
        }
        if self.bias {
            attn += h;
        }
        let f = u(self.ffn);
        let mats = if self.gated_ffn { 3 } else { 2 };
        let mut expert = mats * h * f;
        if self.bias {
            expert += (mats - 1) * f + h;
        }
        let ffn = if self.experts > 1 {
            experts * expert + h * u(self.experts)
        } else {
            expert
        };
        total += u(self.layers) * (attn + 2 * norm + ffn);
        if self.pre_norm {
            total += norm;
        }
        total += match self.head {
            Head::Lm if self.tied_embeddings => 0,
            Head::Lm => u(self.embed_dim) * v,
            Head::Pooler => h * h + h,
        };
        total
    }

    /// Whether `phase` is a step this model takes: an encoder (non-causal attention)
    /// reads its whole input in one pass and generates nothing, so it has no decode
    /// or verify step and no chunked prefill (a chunk would attend to later tokens it
    /// cannot see). The error names the model and the phase. [`crate::build`] still
    /// builds such graphs (they are valid graphs, used to study attention shapes);
    /// front ends that promise a meaningful step call this first.
    pub fn check_phase(&self, phase: crate::Phase) -> Result<()> {
        // Decode, verify and a chunked prefill's last chunk all read a KV cache.
        if !self.causal && phase.has_past() {
            return Err(Error::Options {
                model: self.name.clone(),
                field: "phase",
                reason: format!(
                    "{phase} makes no sense for an encoder (bidirectional attention, no KV cache, nothing generated): use prefill:N (the whole input in one pass)"
                ),
            });
        }
        Ok(())
    }

    /// Check the configuration for consistency (positive sizes, heads divisible by
    /// KV heads, `top_k <= experts`, even head dim for RoPE, GELU-family or gated SiLU).
    pub fn validate(&self) -> Result<()> {
        let err = |field: &'static str, reason: String| {
            Err(Error::Config {
                model: self.name.clone(),
                field,
                reason,
            })
        };
        let sizes = [
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("head_dim", self.head_dim),
            ("ffn", self.ffn),
            ("vocab", self.vocab),
            ("max_positions", self.max_positions),
            ("experts", self.experts),
            ("top_k", self.top_k),
            ("embed_dim", self.embed_dim),
        ];
        for (field, value) in sizes {
            if value == 0 {
                return err(field, "must be at least 1".into());
            }
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return err(
                "kv_heads",
                format!(
                    "{} query heads are not a multiple of {} KV heads",
                    self.heads, self.kv_heads
                ),
            );
        }
        if self.top_k > self.experts {
            return err(
                "top_k",
                format!(
                    "routes to {} experts but there are {}",
                    self.top_k, self.experts
                ),
            );
        }
        if matches!(self.position, Position::Rope { .. }) && !self.head_dim.is_multiple_of(2) {
            return err(
                "head_dim",
                format!("RoPE needs an even head dim, got {}", self.head_dim),
            );
        }
        if self.causal != (self.head == Head::Lm) {
            return err(
                "causal",
                "decoders (causal) have an LM head, encoders a pooler".into(),
            );
        }
        if let Some(f) = self.capacity_factor
            && !(f.is_finite() && f > 0.0)
        {
            return err(
                "capacity_factor",
                format!("must be a positive number, got {f}"),
            );
        }
        if self.tied_embeddings && self.head != Head::Lm {
            return err("tied_embeddings", "only an LM head can be tied".into());
        }
        Ok(())
    }
}
