//! The workloads crate's one error type.
//!
//! Every variant names what was given (model name, phase text, config field) and what
//! was expected. Each variant's doc says whether it is bad input or a bug.

/// Why a phase string did not parse (see [`crate::Phase`] for the grammar).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhaseIssue {
    /// The text before the first `:` is not `prefill`, `decode` or `verify`.
    #[error("unknown phase kind `{0}` (expected prefill, decode or verify)")]
    UnknownKind(String),
    /// A `key:value` part is missing.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// A part is not of the form `key:value` or has an unexpected key.
    #[error("unexpected part `{0}`")]
    Unexpected(String),
    /// A value is not a decimal integer.
    #[error("`{field}` must be a decimal integer, got `{value}`")]
    NotANumber {
        /// The field (`tokens`, `chunk`, `kv`, `tree`).
        field: &'static str,
        /// The text given.
        value: String,
    },
    /// A value is zero or above the limit.
    #[error("`{field}` must be in 1..={max}, got {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: usize,
        /// The largest value accepted.
        max: usize,
    },
    /// The chunk is not smaller than the prompt.
    #[error(
        "chunk {chunk} must be smaller than the prompt of {tokens} tokens (use `prefill:{tokens}` for one chunk)"
    )]
    ChunkTooLarge {
        /// Chunk size.
        chunk: usize,
        /// Prompt length.
        tokens: usize,
    },
}

/// Errors of the model zoo and the graph generators.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: no zoo model has this name.
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The zoo's names, comma-separated.
        known: String,
    },
    /// Bad input: a phase string did not parse.
    #[error(
        "phase `{text}`: {issue} (expected prefill:N, prefill:N/chunk:C, decode:KV or verify:K/kv:KV)"
    )]
    Phase {
        /// The text given.
        text: String,
        /// What is wrong with it.
        issue: PhaseIssue,
    },
    /// Bad input: a weight-format name is unknown.
    #[error("unknown weight format `{0}` (expected f32, f16, bf16, w8a8, w8a16 or w4a16)")]
    WeightFormat(String),
    /// Bad input: a model configuration field is inconsistent.
    #[error("model `{model}`: field `{field}`: {reason}")]
    Config {
        /// Model name.
        model: String,
        /// The offending field.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
    /// Bad input: the build options do not fit the model (batch 0, context too long).
    #[error("model `{model}`: option `{field}`: {reason}")]
    Options {
        /// Model name.
        model: String,
        /// The offending option.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
    /// Bug: the generator produced a node the IR rejected.
    #[error("building the graph: {0}")]
    Graph(#[from] triad_compiler::Error),
}

/// Result with the workloads error type.
pub type Result<T> = std::result::Result<T, Error>;
