//! The compiler's one error type.
//!
//! Every variant names the place the problem is (file, node, field) and what was
//! expected. Each variant's doc says whether it is bad input, a limit, or a bug.

use std::path::PathBuf;

/// Errors of the graph IR, its frontends, the interpreter and the compiler passes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: a node's operand types do not fit its op (shape or dtype mismatch).
    #[error("node `{node}` ({op}): {reason}")]
    Type {
        /// Node name.
        node: String,
        /// Op name.
        op: &'static str,
        /// What does not fit, and what was expected.
        reason: String,
    },
    /// Bad input: a node has the wrong number of inputs for its op.
    #[error("node `{node}` ({op}): expected {expected} inputs, got {got}")]
    Arity {
        /// Node name.
        node: String,
        /// Op name.
        op: &'static str,
        /// Expected count, as text (`2`, `2 or 3`, `at least 1`).
        expected: String,
        /// Given count.
        got: usize,
    },
    /// Bad input: the graph has a cycle; `node` is on it.
    #[error("graph has a cycle through node `{node}`")]
    Cycle {
        /// A node on the cycle.
        node: String,
    },
    /// Bad input: a node input names a value that no node produces.
    #[error(
        "node `{node}` input {slot} refers to `{value}`, which no node or graph input produces"
    )]
    Dangling {
        /// Consuming node.
        node: String,
        /// Input position.
        slot: usize,
        /// The unknown value name.
        value: String,
    },
    /// Bad input: unknown op, unknown attribute, or an attribute of the wrong type.
    #[error("node `{node}` (op `{op}`): bad attributes: {reason}")]
    Attribute {
        /// Node name.
        node: String,
        /// Op name as written.
        op: String,
        /// Which attribute and what was expected.
        reason: String,
    },
    /// Bad input: a node's declared output type differs from the inferred one.
    #[error("node `{node}` output {index}: declared {declared}, but the op produces {inferred}")]
    Declared {
        /// Node name.
        node: String,
        /// Output position.
        index: usize,
        /// Type written in the file.
        declared: String,
        /// Type inferred from the op and its inputs.
        inferred: String,
    },
    /// Bad input: two values or two nodes share a name.
    #[error("duplicate {what} name `{name}`")]
    Duplicate {
        /// `value` or `node`.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// Bad input: initializer data of the wrong length or carrier for its type.
    #[error("tensor `{name}`: {reason}")]
    Initializer {
        /// Tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Bad input: a graph output names an unknown value, or there are none.
    #[error("graph output `{name}`: {reason}")]
    Output {
        /// Output name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Bad input: a graph file could not be parsed.
    #[error("{file}: {reason}")]
    Format {
        /// The file (or `<memory>`).
        file: PathBuf,
        /// Where in the file and what was expected.
        reason: String,
    },
    /// Bad input: a run-time value made an op undefined (index out of range, integer
    /// division by zero, missing input).
    #[error("evaluating node `{node}` ({op}): {reason}")]
    Eval {
        /// Node name.
        node: String,
        /// Op name.
        op: &'static str,
        /// What happened.
        reason: String,
    },
    /// Environment: reading or writing a file failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Bad input: an ONNX model uses ops the frontend does not support; every
    /// unsupported op type is listed once with its count and its first node.
    #[error("{file}: unsupported ONNX ops: {list}")]
    UnsupportedOps {
        /// The model file (or `<memory>`).
        file: PathBuf,
        /// `Op x count (first node `name`)` entries, sorted by op type.
        list: String,
    },
    /// Bad input: a graph input has a symbolic dim that no `--dim name=value` binds.
    #[error("input `{input}`: dynamic dim `{dim}` is not bound (pass --dim {dim}=N)")]
    UnboundDim {
        /// The graph input.
        input: String,
        /// The symbolic dim name (or its position, for an unnamed dim).
        dim: String,
    },
    /// Bad input: an ONNX tensor's external data cannot be read (missing file,
    /// offset/length past its end, path escaping the model directory).
    #[error("tensor `{tensor}`: external data {file}: {reason}")]
    ExternalData {
        /// Tensor name.
        tensor: String,
        /// The data file, as resolved.
        file: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Bad input or a limit: a node cannot be lowered to the instruction set on any
    /// engine of the arch (an unsupported attribute, a tensor beyond the ISA's
    /// 32-bit counts, an op no engine of the arch runs, a scratchpad too small).
    #[error("lowering node `{node}` ({op}) for arch `{arch}`: {reason}")]
    Lower {
        /// Node name.
        node: String,
        /// Op name.
        op: &'static str,
        /// Arch name.
        arch: String,
        /// What is wrong, and what was expected.
        reason: String,
    },
}

/// Result with the compiler's error type.
pub type Result<T> = std::result::Result<T, Error>;
