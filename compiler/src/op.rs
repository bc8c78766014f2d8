//! The operator set of the graph IR.
//!
//! One flat enum, named as ONNX names its operators where ONNX has one, so that the
//! JSON format, the ONNX frontend and the e-graph language can share names. Ops carry
//! their attributes; tensors flow through the graph's edges. Element-wise ops broadcast
//! NumPy-style. The exact semantics of every op is its implementation in the reference
//! interpreter; this file documents the contract (operands, attributes, result type).
//!
//! The ops are one table, the `op_table!` invocation below: each row is an op's
//! variant with its attributes, its [`Category`], its [`Arity`] and how ONNX export
//! writes it ([`Export`]). Adding an op is one row here plus its semantics in each
//! hook's module (`op/table.rs` lists them).

use serde::{Deserialize, Serialize};
use triad_isa::DType;

use crate::data::Init;

mod table;

use table::op_table;
pub use table::{Arity, Category, Export, OpInfo};

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

op_table! {
    // ---- sources -------------------------------------------------------------
    /// A graph input; its type is the node's declared output type.
    Input {
        /// Data or KV cache.
        #[serde(default)]
        kind: InputKind,
    } => Source, Arity::Fixed(0), Rule;
    /// A parameter (weight) tensor; counted as weight bytes.
    Weight {
        /// Where the values come from.
        init: Init,
    } => Source, Arity::Fixed(0), Rule;
    /// A small constant (positions, masks, shapes); not a weight.
    Constant {
        /// Where the values come from.
        init: Init,
    } => Source, Arity::Fixed(0), Rule;

    // ---- linear algebra ------------------------------------------------------
    /// `A[..., M, K] x B[..., K, N]`; batch dims broadcast. Floats: same dtype in and out.
    /// Integers (i8/i4 operands): exact product accumulated in i32.
    MatMul => LinearAlgebra, Arity::Fixed(2), Rule;
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
    } => LinearAlgebra, Arity::Optional { min: 2, max: 3 }, Rule;
    /// Weight-quantised matmul `A x ((W - zero_point) * scale)`: A float `[..., K]`,
    /// W integer (i8 or i4) `[K, N]`, scale f32 `[]` (per tensor) or `[N]` (per output
    /// channel), optional zero point of W's dtype with scale's shape. Result: A's dtype.
    QMatMul => LinearAlgebra, Arity::Optional { min: 3, max: 4 }, Rule;

    // ---- element-wise --------------------------------------------------------
    /// `a + b`.
    Add => Binary, Arity::Fixed(2), Direct;
    /// `a - b`.
    Sub => Binary, Arity::Fixed(2), Direct;
    /// `a * b`.
    Mul => Binary, Arity::Fixed(2), Direct;
    /// `a / b` (integers: truncating toward zero; division by zero is an evaluation error).
    Div => Binary, Arity::Fixed(2), Direct;
    /// `a ^ b` (floats).
    Pow => Binary, Arity::Fixed(2), Direct;
    /// Element-wise maximum.
    Max => Binary, Arity::Fixed(2), Direct;
    /// Element-wise minimum.
    Min => Binary, Arity::Fixed(2), Direct;
    /// `a == b`, result bool.
    Equal => Binary, Arity::Fixed(2), Direct;
    /// `a < b`, result bool.
    Less => Binary, Arity::Fixed(2), Direct;
    /// `a > b`, result bool.
    Greater => Binary, Arity::Fixed(2), Direct;
    /// Logical and of bools.
    And => Binary, Arity::Fixed(2), Direct;
    /// Logical or of bools.
    Or => Binary, Arity::Fixed(2), Direct;
    /// Logical not of a bool.
    Not => Unary, Arity::Fixed(1), Direct;
    /// `-x`.
    Neg => Unary, Arity::Fixed(1), Direct;
    /// `|x|`.
    Abs => Unary, Arity::Fixed(1), Direct;
    /// Square root (floats).
    Sqrt => Unary, Arity::Fixed(1), Direct;
    /// `1 / x` (floats).
    Reciprocal => Unary, Arity::Fixed(1), Direct;
    /// `e^x`.
    Exp => Unary, Arity::Fixed(1), Direct;
    /// Natural logarithm.
    Log => Unary, Arity::Fixed(1), Direct;
    /// Gauss error function.
    Erf => Unary, Arity::Fixed(1), Direct;
    /// Hyperbolic tangent.
    Tanh => Activation, Arity::Fixed(1), Direct;
    /// Logistic sigmoid `1 / (1 + e^-x)`.
    Sigmoid => Activation, Arity::Fixed(1), Direct;
    /// `max(x, 0)`.
    Relu => Activation, Arity::Fixed(1), Direct;
    /// `x * sigmoid(x)` (SiLU / swish).
    Silu => Activation, Arity::Fixed(1), Rule;
    /// GELU: exact `x/2 (1 + erf(x/sqrt 2))`, or the tanh approximation.
    Gelu {
        /// Use `0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))` (GPT-2's `gelu_new`).
        #[serde(default)]
        tanh_approx: bool,
    } => Activation, Arity::Fixed(1), Rule;
    /// `cond ? x : y`, broadcasting all three; cond is bool.
    Where => Elementwise, Arity::Fixed(3), Direct;
    /// Convert to another dtype (float->int rounds half to even and saturates).
    Cast {
        /// Target dtype.
        to: DType,
    } => Elementwise, Arity::Fixed(1), Rule;

    // ---- normalisation and attention helpers ----------------------------------
    /// Softmax along `axis`.
    Softmax {
        /// Axis.
        #[serde(default = "minus_one")]
        axis: i64,
    } => Norm, Arity::Fixed(1), Rule;
    /// LayerNorm over the last dims from `axis`: inputs x, gamma, optional beta.
    LayerNorm {
        /// First normalised axis.
        #[serde(default = "minus_one")]
        axis: i64,
        /// Epsilon added to the variance.
        #[serde(default = "default_eps")]
        eps: f32,
    } => Norm, Arity::Optional { min: 2, max: 3 }, Rule;
    /// RMSNorm over the last dims from `axis`: inputs x, gamma.
    RmsNorm {
        /// First normalised axis.
        #[serde(default = "minus_one")]
        axis: i64,
        /// Epsilon added to the mean square.
        #[serde(default = "default_eps")]
        eps: f32,
    } => Norm, Arity::Fixed(2), Rule;
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
    } => Attention, Arity::Fixed(2), Rule;
    /// Causal mask on attention scores `[..., Sq, Sk]`: query `i` sits at position
    /// `Sk - Sq + i` and key `j > that` gets -infinity.
    CausalMask => Attention, Arity::Fixed(1), Rule;

    // ---- layout ----------------------------------------------------------------
    /// Permute axes (`perm` empty reverses them).
    Transpose {
        /// Permutation.
        #[serde(default)]
        perm: Vec<usize>,
    } => Layout, Arity::Fixed(1), Rule;
    /// Reshape; `0` copies the input dim, `-1` is inferred (ONNX rules).
    Reshape {
        /// Target shape.
        shape: Vec<i64>,
    } => Layout, Arity::Fixed(1), Rule;
    /// Concatenate along `axis`.
    Concat {
        /// Axis.
        axis: i64,
    } => Layout, Arity::Variadic { min: 1 }, Rule;
    /// Split along `axis` into pieces of the given sizes (one output each).
    Split {
        /// Axis.
        axis: i64,
        /// Sizes, summing to the axis length.
        sizes: Vec<usize>,
    } => Layout, Arity::Fixed(1), Rule;
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
    } => Layout, Arity::Fixed(1), Rule;
    /// `data.take(indices, axis)`: inputs data, integer indices; result shape
    /// `data[..axis] ++ indices ++ data[axis+1..]`. Embedding lookup.
    Gather {
        /// Axis.
        #[serde(default)]
        axis: i64,
    } => Layout, Arity::Fixed(2), Rule;
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
    } => Reduction, Arity::Fixed(1), Rule;

    // ---- quantisation ----------------------------------------------------------
    /// `saturate(round_half_even(x / scale) + zero_point)` to `to`: inputs x (float),
    /// scale f32 (`[]` per tensor or 1-D along `axis` per channel), optional zero point.
    Quantize {
        /// Integer target dtype (i8, i4, i32).
        to: DType,
        /// Channel axis for 1-D scales.
        #[serde(default = "minus_one")]
        axis: i64,
    } => Quant, Arity::Optional { min: 2, max: 3 }, Rule;
    /// `(q - zero_point) * scale` to float `to`: inputs q (integer), scale, optional zero point.
    Dequantize {
        /// Float target dtype.
        to: DType,
        /// Channel axis for 1-D scales.
        #[serde(default = "minus_one")]
        axis: i64,
    } => Quant, Arity::Optional { min: 2, max: 3 }, Rule;

    // ---- mixture of experts ------------------------------------------------------
    /// Top-k along `axis`: outputs values and i64 indices, sorted descending (ties:
    /// lower index first).
    TopK {
        /// Number of elements kept.
        k: usize,
        /// Axis.
        #[serde(default = "minus_one")]
        axis: i64,
    } => Moe, Arity::Fixed(1), Rule;
    /// Gather the tokens routed to one expert: inputs x `[T, H]` and top-k expert
    /// indices `[T, k]`; result `[capacity, H]`, the routed tokens in token order,
    /// zero rows after them; tokens beyond capacity are dropped (GShard semantics).
    MoeDispatch {
        /// Which expert.
        expert: usize,
        /// Rows of the result.
        capacity: usize,
    } => Moe, Arity::Fixed(2), Rule;
    /// Scatter expert results back: inputs top-k indices `[T, k]`, gate weights
    /// `[T, k]`, then one `[capacity, H]` result per expert in expert order; token t
    /// gets `sum_j weight[t, j] * out[e_j][slot(t, e_j)]` over its non-dropped choices.
    MoeCombine {
        /// Number of experts (= number of expert inputs).
        experts: usize,
        /// Rows of each expert's result.
        capacity: usize,
    } => Moe, Arity::PerExpert { base: 2 }, Rule;

    // ---- KV cache ------------------------------------------------------------------
    /// Append new entries to a KV cache: inputs past `[..., L, D]` (a KvCache input)
    /// and new `[..., S, D]` along `axis`; result is the whole cache `[..., L+S, D]`.
    /// Reading `past` is KV-read traffic, storing `new` is KV-write traffic.
    KvAppend {
        /// Sequence axis.
        #[serde(default = "minus_two")]
        axis: i64,
    } => KvCache, Arity::Fixed(2), Rule;
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
        self.info().name
    }

    /// What the op table records about this op's kind.
    pub fn info(&self) -> &'static OpInfo {
        self.kind().info()
    }

    /// The op's category.
    pub fn category(&self) -> Category {
        self.info().category
    }

    /// The fewest and the most operands this op (with its attributes) takes;
    /// `usize::MAX` when variadic.
    pub fn operand_range(&self) -> (usize, usize) {
        match self.info().arity {
            Arity::Fixed(n) => (n, n),
            Arity::Optional { min, max } => (min, max),
            Arity::Variadic { min } => (min, usize::MAX),
            Arity::PerExpert { base } => {
                let experts = match self {
                    Op::MoeCombine { experts, .. } => *experts,
                    _ => 0,
                };
                let n = base.saturating_add(experts);
                (n, n)
            }
        }
    }

    /// True for the source ops (`Input`, `Weight`, `Constant`), which have no inputs.
    pub fn is_source(&self) -> bool {
        self.category() == Category::Source
    }

    /// True for element-wise ops of two operands (broadcasting).
    pub fn is_binary(&self) -> bool {
        self.category() == Category::Binary
    }

    /// True for element-wise ops of one operand (math and activations).
    pub fn is_unary(&self) -> bool {
        matches!(self.category(), Category::Unary | Category::Activation)
    }
}
