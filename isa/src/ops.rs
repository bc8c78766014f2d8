//! The small enums that name an operation: the operand of `eltwise`, `unary`, `act`,
//! `reduce`, `cmp`, `pim.af`, the broadcast modes, and [`VectorOp`], the names of the
//! vector unit's capabilities that an arch lists in `npu.vector_ops`.
//!
//! Every enum here has one lower-case text name used by the assembly, the JSON form,
//! the arch TOML and error messages, and one stable tag byte (its position in `ALL`)
//! used by the binary form. Parsing an unknown name fails with a message listing the
//! names that exist. A leaf module: the instruction table and the arch both use it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Defines a fieldless enum with text names, `ALL`, `name()`, `Display`, `FromStr`
/// and serde by name.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $s)] $v,)*
        }

        impl $name {
            /// Every value, in tag order (the binary form stores the index).
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            /// The text name.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$v => $s,)*
                }
            }

            /// Binary tag: position in [`Self::ALL`].
            pub fn tag(self) -> u8 {
                Self::ALL.iter().position(|&x| x == self).unwrap_or(0) as u8
            }

            /// The value whose tag is `t`.
            pub fn from_tag(t: u8) -> Option<Self> {
                Self::ALL.get(t as usize).copied()
            }

            /// All text names, comma separated (for error messages).
            pub(crate) fn names() -> String {
                Self::ALL.iter().map(|x| x.name()).collect::<Vec<_>>().join(", ")
            }

            /// What kind of value this is, in words.
            pub const WHAT: &'static str = $what;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|x| x.name() == s)
                    .ok_or_else(|| format!("unknown {} `{s}` (expected one of {})", $what, Self::names()))
            }
        }
    };
}

named_enum! {
    /// Element-wise binary operation of `eltwise`.
    BinOp, "binary op" {
        /// a + b (integers wrap)
        Add = "add",
        /// a - b (integers wrap)
        Sub = "sub",
        /// a * b (integers wrap)
        Mul = "mul",
        /// a / b (integer division truncates toward zero)
        Div = "div",
        /// max(a, b)
        Max = "max",
        /// min(a, b)
        Min = "min",
        /// a ^ b (floats)
        Pow = "pow",
        /// a && b (bool)
        And = "and",
        /// a || b (bool)
        Or = "or",
    }
}

named_enum! {
    /// Element-wise math function of `unary`.
    MathFn, "math function" {
        /// e^x
        Exp = "exp",
        /// -x
        Neg = "neg",
        /// |x|
        Abs = "abs",
        /// sqrt(x)
        Sqrt = "sqrt",
        /// 1 / sqrt(x)
        Rsqrt = "rsqrt",
        /// 1 / x
        Recip = "recip",
        /// x * x
        Square = "square",
        /// ln(x)
        Log = "log",
        /// the Gauss error function
        Erf = "erf",
        /// logical not (bool)
        Not = "not",
    }
}

named_enum! {
    /// Activation function of `act`.
    ActFn, "activation" {
        /// max(x, 0)
        Relu = "relu",
        /// exact GELU, x/2 (1 + erf(x / sqrt 2))
        GeluErf = "gelu_erf",
        /// tanh-approximated GELU (GPT-2's `gelu_new`)
        GeluTanh = "gelu_tanh",
        /// x * sigmoid(x)
        Silu = "silu",
        /// 1 / (1 + e^-x)
        Sigmoid = "sigmoid",
        /// tanh(x)
        Tanh = "tanh",
    }
}

named_enum! {
    /// Function of `pim.af`: the look-up tables a PIM unit may hold (the names of
    /// the arch's `pim.activation_functions`).
    PimFn, "PIM activation" {
        /// max(x, 0)
        Relu = "relu",
        /// exact GELU
        GeluErf = "gelu_erf",
        /// tanh-approximated GELU
        GeluTanh = "gelu_tanh",
        /// x * sigmoid(x)
        Silu = "silu",
        /// 1 / (1 + e^-x)
        Sigmoid = "sigmoid",
        /// tanh(x)
        Tanh = "tanh",
        /// e^x (the numerator of an in-memory softmax; the row sum and the division
        /// are not element-wise, so a softmax itself is no look-up table)
        Exp = "exp",
    }
}

named_enum! {
    /// Row reduction of `reduce`.
    ReduceOp, "reduction" {
        /// Sum of the row.
        Sum = "sum",
        /// Maximum of the row.
        Max = "max",
        /// Minimum of the row.
        Min = "min",
        /// Arithmetic mean of the row.
        Mean = "mean",
    }
}

named_enum! {
    /// Comparison of `cmp` (the result is bool).
    CmpOp, "comparison" {
        /// a == b
        Eq = "eq",
        /// a != b
        Ne = "ne",
        /// a < b
        Lt = "lt",
        /// a <= b
        Le = "le",
        /// a > b
        Gt = "gt",
        /// a >= b
        Ge = "ge",
    }
}

named_enum! {
    /// How a rows x cols operand is read: whole, or one row / column / element
    /// reused (broadcast) over the tile.
    Bcast, "broadcast mode" {
        /// rows x cols elements: element (r, c) at r*cols + c.
        None = "none",
        /// one row of cols elements reused for every row: element (r, c) at c.
        Row = "row",
        /// one column of rows elements reused for every column: element (r, c) at r.
        Col = "col",
        /// one element reused everywhere.
        Scalar = "scalar",
    }
}

impl Bcast {
    /// Elements the operand holds for a rows x cols tile.
    pub fn elems(self, rows: u32, cols: u32) -> u64 {
        match self {
            Bcast::None => u64::from(rows) * u64::from(cols),
            Bcast::Row => u64::from(cols),
            Bcast::Col => u64::from(rows),
            Bcast::Scalar => 1,
        }
    }

    /// Index of element (r, c) of the tile in the operand.
    pub fn index(self, r: u64, c: u64, cols: u64) -> u64 {
        match self {
            Bcast::None => r * cols + c,
            Bcast::Row => c,
            Bcast::Col => r,
            Bcast::Scalar => 0,
        }
    }
}

named_enum! {
    /// A capability of the NPU vector unit, as the arch lists it in `npu.vector_ops`.
    /// Every vector instruction needs exactly one ([`crate::Capability::Vector`]).
    VectorOp, "vector op" {
        /// `eltwise add`
        Add = "add",
        /// `eltwise sub`
        Sub = "sub",
        /// `eltwise mul`
        Mul = "mul",
        /// `eltwise div`
        Div = "div",
        /// `eltwise max`
        Max = "max",
        /// `eltwise min`
        Min = "min",
        /// `eltwise pow`
        Pow = "pow",
        /// `eltwise and`
        And = "and",
        /// `eltwise or`
        Or = "or",
        /// `unary exp`
        Exp = "exp",
        /// `unary neg`
        Neg = "neg",
        /// `unary abs`
        Abs = "abs",
        /// `unary sqrt`
        Sqrt = "sqrt",
        /// `unary rsqrt`
        Rsqrt = "rsqrt",
        /// `unary recip`
        Recip = "recip",
        /// `unary square`
        Square = "square",
        /// `unary log`
        Log = "log",
        /// `unary erf`
        Erf = "erf",
        /// `unary not`
        Not = "not",
        /// `act relu`
        Relu = "relu",
        /// `act gelu_erf`
        GeluErf = "gelu_erf",
        /// `act gelu_tanh`
        GeluTanh = "gelu_tanh",
        /// `act silu`
        Silu = "silu",
        /// `act sigmoid`
        Sigmoid = "sigmoid",
        /// `act tanh`
        Tanh = "tanh",
        /// `softmax`
        Softmax = "softmax",
        /// `layernorm`
        LayerNorm = "layernorm",
        /// `rmsnorm`
        RmsNorm = "rmsnorm",
        /// `reduce sum`
        ReduceSum = "reduce_sum",
        /// `reduce max`
        ReduceMax = "reduce_max",
        /// `reduce min`
        ReduceMin = "reduce_min",
        /// `reduce mean`
        ReduceMean = "reduce_mean",
        /// `convert`
        Convert = "convert",
        /// `transpose`
        Transpose = "transpose",
        /// `rope`
        Rope = "rope",
        /// `gather`
        Gather = "gather",
        /// `cmp` (every comparison)
        Compare = "compare",
        /// `select`
        Select = "select",
        /// `causal_mask`
        CausalMask = "causal_mask",
        /// `tree_mask`
        TreeMask = "tree_mask",
        /// `topk`
        TopK = "topk",
        /// `moe_dispatch`
        MoeDispatch = "moe_dispatch",
        /// `moe_combine`
        MoeCombine = "moe_combine",
        /// `quantize`
        Quantize = "quantize",
        /// `dequantize`
        Dequantize = "dequantize",
        /// `scopy`
        StridedCopy = "strided_copy",
    }
}

impl From<BinOp> for VectorOp {
    fn from(op: BinOp) -> VectorOp {
        match op {
            BinOp::Add => VectorOp::Add,
            BinOp::Sub => VectorOp::Sub,
            BinOp::Mul => VectorOp::Mul,
            BinOp::Div => VectorOp::Div,
            BinOp::Max => VectorOp::Max,
            BinOp::Min => VectorOp::Min,
            BinOp::Pow => VectorOp::Pow,
            BinOp::And => VectorOp::And,
            BinOp::Or => VectorOp::Or,
        }
    }
}

impl From<MathFn> for VectorOp {
    fn from(f: MathFn) -> VectorOp {
        match f {
            MathFn::Exp => VectorOp::Exp,
            MathFn::Neg => VectorOp::Neg,
            MathFn::Abs => VectorOp::Abs,
            MathFn::Sqrt => VectorOp::Sqrt,
            MathFn::Rsqrt => VectorOp::Rsqrt,
            MathFn::Recip => VectorOp::Recip,
            MathFn::Square => VectorOp::Square,
            MathFn::Log => VectorOp::Log,
            MathFn::Erf => VectorOp::Erf,
            MathFn::Not => VectorOp::Not,
        }
    }
}

impl From<ActFn> for VectorOp {
    fn from(f: ActFn) -> VectorOp {
        match f {
            ActFn::Relu => VectorOp::Relu,
            ActFn::GeluErf => VectorOp::GeluErf,
            ActFn::GeluTanh => VectorOp::GeluTanh,
            ActFn::Silu => VectorOp::Silu,
            ActFn::Sigmoid => VectorOp::Sigmoid,
            ActFn::Tanh => VectorOp::Tanh,
        }
    }
}

impl From<ReduceOp> for VectorOp {
    fn from(op: ReduceOp) -> VectorOp {
        match op {
            ReduceOp::Sum => VectorOp::ReduceSum,
            ReduceOp::Max => VectorOp::ReduceMax,
            ReduceOp::Min => VectorOp::ReduceMin,
            ReduceOp::Mean => VectorOp::ReduceMean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_tags_are_positions() {
        for (i, op) in BinOp::ALL.iter().enumerate() {
            assert_eq!(op.tag() as usize, i);
            assert_eq!(BinOp::from_tag(i as u8), Some(*op));
        }
        assert_eq!(ActFn::from_tag(ActFn::ALL.len() as u8), None);
        assert!("swish".parse::<ActFn>().unwrap_err().contains("gelu_tanh"));
    }

    #[test]
    fn every_instruction_op_names_its_capability() {
        // The vector capability of an op has the op's own name (reductions prefixed).
        for &f in MathFn::ALL {
            assert_eq!(VectorOp::from(f).name(), f.name());
        }
        for &f in ActFn::ALL {
            assert_eq!(VectorOp::from(f).name(), f.name());
        }
        for &op in BinOp::ALL {
            assert_eq!(VectorOp::from(op).name(), op.name());
        }
        for &op in ReduceOp::ALL {
            assert_eq!(VectorOp::from(op).name(), format!("reduce_{}", op.name()));
        }
    }

    #[test]
    fn bcast_extents_and_indices() {
        assert_eq!(Bcast::None.elems(3, 5), 15);
        assert_eq!(Bcast::Row.elems(3, 5), 5);
        assert_eq!(Bcast::Col.elems(3, 5), 3);
        assert_eq!(Bcast::Scalar.elems(3, 5), 1);
        assert_eq!(Bcast::None.index(2, 4, 5), 14);
        assert_eq!(Bcast::Row.index(2, 4, 5), 4);
        assert_eq!(Bcast::Col.index(2, 4, 5), 2);
    }
}
