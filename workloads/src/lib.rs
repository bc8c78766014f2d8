//! `triad-workloads`: Triad's model zoo and the graphs of its inference steps.
//!
//! - [`ModelConfig`]: the shape hyperparameters of a transformer, with its parameter
//!   count from the closed-form formula ([`ModelConfig::param_count`]).
//! - [`models`] / [`model`]: the named zoo (GPT-2, GPT-3 shapes, OPT, Qwen1.5,
//!   Llama 2/3, Mixtral, BERT, MiniLM and tiny test models).
//! - [`Phase`]: prefill, chunked prefill, decode with a KV cache, speculative
//!   verification of a token tree; parsed from `prefill:N`, `decode:KV`, ….
//! - [`build`]: one model step as a validated `triad_compiler::Graph`; the graph
//!   conventions (inputs, outputs, scopes, KV cache, GQA layout) are documented there.
//!
//! ```
//! use triad_workloads::{build, model, BuildOptions};
//! let cfg = model("tiny-llama")?;
//! let graph = build(&cfg, &BuildOptions::new("decode:16".parse()?))?;
//! assert_eq!(graph.meta["phase"], "decode:16");
//! # Ok::<(), triad_workloads::Error>(())
//! ```

#![warn(missing_docs)]

mod build;
mod config;
mod error;
mod format;
mod phase;
mod zoo;

pub use build::{BuildOptions, MAX_BATCH, build, check_options, init};
pub use config::{Activation, Family, Head, ModelConfig, Norm, Position};
pub use error::{Error, PhaseIssue, Result};
pub use format::WeightFormat;
pub use phase::{MAX_PHASE_TOKENS, MAX_TREE_TOKENS, Phase, tree_depth, tree_parent};
pub use zoo::{model, models};
