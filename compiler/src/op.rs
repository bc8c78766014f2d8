//! The operator set of the graph IR.
//!
//! One flat enum, named as ONNX names its operators where ONNX has one, so that the
//! JSON format, the ONNX frontend and the e-graph language can share names. Ops carry
//! their attributes; tensors flow through the graph's edges. Element-wise ops broadcast
//! NumPy-style. The exact semantics of every op is its implementation in the reference
//! interpreter; this file documents the contract (operands, attributes, result type).

use serde::{Deserialize, Serialize};
use triad_isa::DType;

use crate::data::Init;

/// What kind of graph input an `Input` node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Ordinary activation input (token ids, hidden states, …).
    #[default]
    Data,
    /// A KV-cache tensor that lives in memory across steps; reading it is KV traffic.
    KvCache,
}

/// Reduction kinds of [`Op::Reduce`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReduceKind {
    /// Arithmetic mean.
    Mean,
    /// Sum.
    Sum,
    /// Maximum.
    Max,
}

/// A tensor operator with its attributes.
///
/// Axes are signed: negative values count from the end, as in ONNX. Unless stated,
/// all float inputs of an op share one dtype and the result has that dtype.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "attrs", deny_unknown_fields)]
pub enum Op {
    // ---- sources -------------------------------------------------------------
    /// A graph input; its type is the node's declared output type.
    Input {
        /// Data or KV cache.
        #[serde(default)]
        kind: InputKind,
    },
    /// A parameter (weight) tensor; counted as weight bytes.
    Weight {
        /// Where the values come from.
        init: Init,
    },
    /// A small constant (positions, masks, shapes); not a weight.
    Constant {
        /// Where the values come from.
        init: Init,
    },

    // ---- linear algebra ------------------------------------------------------
    /// `A[..., M, K] x B[..., K, N]`; batch dims broadcast. Floats: same dtype in and out.
    /// Integers (i8/i4 operands): exact product accumulated in i32.
    MatMul,
    /// `alpha * op(A) x op(B) + beta * C` on 2-D operands, `op` = optional transpose.
    Gemm {
        /// Scale of the product.
        #[serde(default = "one")]
        alpha: f32,
        /// Scale of C.
        #[serde(default = "one")]
        beta: f32,
        /// Transpose A first.
        #[serde(default)]
        trans_a: bool,
        /// Transpose B first.
        #[serde(default)]
        trans_b: bool,
    },
    /// Weight-quantised matmul `A x ((W - zero_point) * scale)`: A float `[..., K]`,
    /// W integer (i8 or i4) `[K, N]`, scale f32 `[]` (per tensor) or `[N]` (per output
    /// channel), optional zero point of W's dtype with scale's shape. Result: A's dtype.
    QMatMul,

    // ---- element-wise --------------------------------------------------------
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b` (integers: truncating toward zero; division by zero is an evaluation error).
    Div,
    /// `a ^ b` (floats).
    Pow,
    /// Element-wise maximum.
    Max,
    /// Element-wise minimum.
    Min,
    /// `a == b`, result bool.
    Equal,
    /// `a < b`, result bool.
    Less,
    /// `a > b`, result bool.
    Greater,
    /// Logical and of bools.
    And,
    /// Logical or of bools.
    Or,
    /// Logical not of a bool.
    Not,
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// Square root (floats).
    Sqrt,
    /// `1 / x` (floats).
    Reciprocal,
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Log,
    /// Gauss error function.
    Erf,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid `1 / (1 + e^-x)`.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
    /// `x * sigmoid(x)` (SiLU / swish).
    Silu,
    /// GELU: exact `x/2 (1 + erf(x/sqrt 2))`, or the tanh approximation.
    Gelu {
        /// Use `0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))` (GPT-2's `gelu_new`).
        #[serde(default)]
        tanh_approx: bool,
    },
    /// `cond ? x : y`, broadcasting all three; cond is bool.
    Where,
    /// Convert to another dtype (float->int rounds half to even and saturates).
    Cast {
        /// Target dtype.
        to: DType,
    },

    // ---- normalisation and attention helpers ----------------------------------
    /// Softmax along `axis`.
    Softmax {
        /// Axis.
        #[serde(default = "minus_one")]
        axis: i64,
    },
    /// LayerNorm over the last dims from `axis`: inputs x, gamma, optional beta.
    LayerNorm {
        /// First normalised axis.
        #[serde(default = "minus_one")]
        axis: i64,
        /// Epsilon added to the variance.
        #[serde(default = "default_eps")]
        eps: f32,
    },
    /// RMSNorm over the last dims from `axis`: inputs x, gamma.
    RmsNorm {
        /// First normalised axis.
        #[serde(default = "minus_one")]
        axis: i64,
        /// Epsilon added to the mean square.
        #[serde(default = "default_eps")]
        eps: f32,
    },
    /// Rotary position embedding (rotate-half form, as Llama/GPT-NeoX): inputs x
    /// `[..., S, D]` and positions i64 `[S]`; rotates the first `rotary_dim` features
    /// (all if 0) with frequencies `theta^(-2i/rotary_dim)`.
    Rope {
        /// Base of the frequencies (10000 for Llama-2, 500000 for Llama-3).
        #[serde(default = "default_theta")]
        theta: f32,
        /// Number of rotated features (even); 0 means all.
        #[serde(default)]
        rotary_dim: usize,
    },
    /// Causal mask on attention scores `[..., Sq, Sk]`: query `i` sits at position
    /// `Sk - Sq + i` and key `j > that` gets -infinity.
    CausalMask,

    // ---- layout ----------------------------------------------------------------
    /// Permute axes (`perm` empty reverses them).
    Transpose {
        /// Permutation.
        #[serde(default)]
        perm: Vec<usize>,
    },
    /// Reshape; `0` copies the input dim, `-1` is inferred (ONNX rules).
    Reshape {
        /// Target shape.
        shape: Vec<i64>,
    },
    /// Concatenate along `axis`.
    Concat {
        /// Axis.
        axis: i64,
    },
    /// Split along `axis` into pieces of the given sizes (one output each).
    Split {
        /// Axis.
        axis: i64,
        /// Sizes, summing to the axis length.
        sizes: Vec<usize>,
    },
    /// Slice `[starts, ends)` with `steps` along `axes` (ONNX clamping rules).
    Slice {
        /// Start per axis.
        starts: Vec<i64>,
        /// End per axis (exclusive).
        ends: Vec<i64>,
        /// Axes (default: 0..n).
        #[serde(default)]
        axes: Vec<i64>,
        /// Steps (default: 1).
        #[serde(default)]
        steps: Vec<i64>,
    },
    /// `data.take(indices, axis)`: inputs data, integer indices; result shape
    /// `data[..axis] ++ indices ++ data[axis+1..]`. Embedding lookup.
    Gather {
        /// Axis.
        #[serde(default)]
        axis: i64,
    },
    /// Reduce over `axes` (all if empty).
    Reduce {
        /// Mean, sum or max.
        kind: ReduceKind,
        /// Axes.
        #[serde(default)]
        axes: Vec<i64>,
        /// Keep reduced axes as size 1.
        #[serde(default)]
        keepdims: bool,
    },

    // ---- quantisation ----------------------------------------------------------
    /// `saturate(round_half_even(x / scale) + zero_point)` to `to`: inputs x (float),
    /// scale f32 (`[]` per tensor or 1-D along `axis` per channel), optional zero point.
    Quantize {
        /// Integer target dtype (i8, i4, i32).
        to: DType,
        /// Channel axis for 1-D scales.
        #[serde(default = "minus_one")]
        axis: i64,
    },
    /// `(q - zero_point) * scale` to float `to`: inputs q (integer), scale, optional zero point.
    Dequantize {
        /// Float target dtype.
        to: DType,
        /// Channel axis for 1-D scales.
        #[serde(default = "minus_one")]
        axis: i64,
    },

    // ---- mixture of experts ------------------------------------------------------
    /// Top-k along `axis`: outputs values and i64 indices, sorted descending (ties:
    /// lower index first).
    TopK {
        /// Number of elements kept.
        k: usize,
        /// Axis.
        #[serde(default = "minus_one")]
        axis: i64,
    },
    /// Gather the tokens routed to one expert: inputs x `[T, H]` and top-k expert
    /// indices `[T, k]`; result `[capacity, H]`, the routed tokens in token order,
    /// zero rows after them; tokens beyond capacity are dropped (GShard semantics).
    MoeDispatch {
        /// Which expert.
        expert: usize,
        /// Rows of the result.
        capacity: usize,
    },
    /// Scatter expert results back: inputs top-k indices `[T, k]`, gate weights
    /// `[T, k]`, then one `[capacity, H]` result per expert in expert order; token t
    /// gets `sum_j weight[t, j] * out[e_j][slot(t, e_j)]` over its non-dropped choices.
    MoeCombine {
        /// Number of experts (= number of expert inputs).
        experts: usize,
        /// Rows of each expert's result.
        capacity: usize,
    },

    // ---- KV cache ------------------------------------------------------------------
    /// Append new entries to a KV cache: inputs past `[..., L, D]` (a KvCache input)
    /// and new `[..., S, D]` along `axis`; result is the whole cache `[..., L+S, D]`.
    /// Reading `past` is KV-read traffic, storing `new` is KV-write traffic.
    KvAppend {
        /// Sequence axis.
        #[serde(default = "minus_two")]
        axis: i64,
    },
}

fn one() -> f32 {
    1.0
}
fn minus_one() -> i64 {
    -1
}
fn minus_two() -> i64 {
    -2
}
fn default_eps() -> f32 {
    1e-5
}
fn default_theta() -> f32 {
    10000.0
}

impl Op {
    /// The op's name as written in graph JSON (`MatMul`, `LayerNorm`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "Input",
            Op::Weight { .. } => "Weight",
            Op::Constant { .. } => "Constant",
            Op::MatMul => "MatMul",
            Op::Gemm { .. } => "Gemm",
            Op::QMatMul => "QMatMul",
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Mul => "Mul",
            Op::Div => "Div",
            Op::Pow => "Pow",
            Op::Max => "Max",
            Op::Min => "Min",
            Op::Equal => "Equal",
            Op::Less => "Less",
            Op::Greater => "Greater",
            Op::And => "And",
            Op::Or => "Or",
            Op::Not => "Not",
            Op::Neg => "Neg",
            Op::Abs => "Abs",
            Op::Sqrt => "Sqrt",
            Op::Reciprocal => "Reciprocal",
            Op::Exp => "Exp",
            Op::Log => "Log",
            Op::Erf => "Erf",
            Op::Tanh => "Tanh",
            Op::Sigmoid => "Sigmoid",
            Op::Relu => "Relu",
            Op::Silu => "Silu",
            Op::Gelu { .. } => "Gelu",
            Op::Where => "Where",
            Op::Cast { .. } => "Cast",
            Op::Softmax { .. } => "Softmax",
            Op::LayerNorm { .. } => "LayerNorm",
            Op::RmsNorm { .. } => "RmsNorm",
            Op::Rope { .. } => "Rope",
            Op::CausalMask => "CausalMask",
            Op::Transpose { .. } => "Transpose",
            Op::Reshape { .. } => "Reshape",
            Op::Concat { .. } => "Concat",
            Op::Split { .. } => "Split",
            Op::Slice { .. } => "Slice",
            Op::Gather { .. } => "Gather",
            Op::Reduce { .. } => "Reduce",
            Op::Quantize { .. } => "Quantize",
            Op::Dequantize { .. } => "Dequantize",
            Op::TopK { .. } => "TopK",
            Op::MoeDispatch { .. } => "MoeDispatch",
            Op::MoeCombine { .. } => "MoeCombine",
            Op::KvAppend { .. } => "KvAppend",
        }
    }

    /// True for the source ops (`Input`, `Weight`, `Constant`), which have no inputs.
    pub fn is_source(&self) -> bool {
        matches!(
            self,
            Op::Input { .. } | Op::Weight { .. } | Op::Constant { .. }
        )
    }

    /// True for element-wise ops of two operands (broadcasting).
    pub fn is_binary(&self) -> bool {
        matches!(
            self,
            Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::Pow
                | Op::Max
                | Op::Min
                | Op::Equal
                | Op::Less
                | Op::Greater
                | Op::And
                | Op::Or
        )
    }

    /// True for element-wise ops of one operand.
    pub fn is_unary(&self) -> bool {
        matches!(
            self,
            Op::Not
                | Op::Neg
                | Op::Abs
                | Op::Sqrt
                | Op::Reciprocal
                | Op::Exp
                | Op::Log
                | Op::Erf
                | Op::Tanh
                | Op::Sigmoid
                | Op::Relu
                | Op::Silu
                | Op::Gelu { .. }
        )
    }
}
