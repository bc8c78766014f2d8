//! Operand types shared by the instructions: engines, buffer and semaphore
//! references, and the small enums naming an operation (`add`, `gelu`, `sum`, …).
//!
//! Every enum here has one lower-case text name used by the assembly, the JSON form
//! and error messages, and one stable tag byte used by the binary form. Parsing an
//! unknown name fails with a message listing the names that exist.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Index of a buffer in [`crate::Program::buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BufId(pub u32);

/// Index of a semaphore in [`crate::Program::sems`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SemId(pub u32);

/// A byte position inside a declared buffer: the way every instruction names memory.
/// In assembly `x` is `x` at offset 0 and `x+128` is 128 bytes into `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slice {
    /// The buffer.
    pub buf: BufId,
    /// Byte offset from the buffer's start.
    pub offset: crate::Bytes,
}

impl Slice {
    /// The start of buffer `buf`.
    pub fn at(buf: BufId) -> Slice {
        Slice {
            buf,
            offset: crate::Bytes(0),
        }
    }
}

/// An engine: a unit that executes one instruction stream in order.
///
/// Text names: `cpu.N` (CPU core N), `npu.mx` (the NPU's matrix unit), `npu.vec` (the
/// NPU's vector unit), `dma.N` (DMA engine N), `pim.N` (the PIM controller of DRAM
/// channel N).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Engine {
    /// CPU core N (cores are numbered across clusters, cluster 0 first).
    Cpu(u16),
    /// The NPU's systolic matrix unit.
    NpuMx,
    /// The NPU's vector unit.
    NpuVec,
    /// DMA engine N, moving data between DRAM and the scratchpad.
    Dma(u16),
    /// The PIM controller of DRAM channel N.
    Pim(u16),
}

impl Engine {
    /// Binary tag of the engine kind.
    pub(crate) fn kind_tag(self) -> (u8, u16) {
        match self {
            Engine::Cpu(n) => (0, n),
            Engine::NpuMx => (1, 0),
            Engine::NpuVec => (2, 0),
            Engine::Dma(n) => (3, n),
            Engine::Pim(n) => (4, n),
        }
    }

    /// Inverse of [`Engine::kind_tag`]; `None` for an unknown tag or a non-zero index
    /// on an engine that has none.
    pub(crate) fn from_kind_tag(kind: u8, n: u16) -> Option<Engine> {
        match (kind, n) {
            (0, n) => Some(Engine::Cpu(n)),
            (1, 0) => Some(Engine::NpuMx),
            (2, 0) => Some(Engine::NpuVec),
            (3, n) => Some(Engine::Dma(n)),
            (4, n) => Some(Engine::Pim(n)),
            _ => None,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Cpu(n) => write!(f, "cpu.{n}"),
            Engine::NpuMx => f.write_str("npu.mx"),
            Engine::NpuVec => f.write_str("npu.vec"),
            Engine::Dma(n) => write!(f, "dma.{n}"),
            Engine::Pim(n) => write!(f, "pim.{n}"),
        }
    }
}

/// The text was not an engine name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine `{0}` (expected cpu.N, npu.mx, npu.vec, dma.N or pim.N, N < 65536)")]
pub struct UnknownEngine(pub String);

impl FromStr for Engine {
    type Err = UnknownEngine;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UnknownEngine(s.to_string());
        match s {
            "npu.mx" => return Ok(Engine::NpuMx),
            "npu.vec" => return Ok(Engine::NpuVec),
            _ => {}
        }
        let (kind, n) = s.split_once('.').ok_or_else(bad)?;
        // Canonical decimal only: no sign, no leading zeros, so names round-trip.
        if n.is_empty()
            || !n.bytes().all(|b| b.is_ascii_digit())
            || (n.len() > 1 && n.starts_with('0'))
        {
            return Err(bad());
        }
        let n: u16 = n.parse().map_err(|_| bad())?;
        match kind {
            "cpu" => Ok(Engine::Cpu(n)),
            "dma" => Ok(Engine::Dma(n)),
            "pim" => Ok(Engine::Pim(n)),
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for Engine {
    type Error = UnknownEngine;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Engine> for String {
    fn from(e: Engine) -> String {
        e.to_string()
    }
}

/// Which engines an instruction may run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsnClass {
    /// Semaphore operations: any engine.
    Sync,
    /// Data movement: `dma.N`.
    Dma,
    /// Matrix operations: `npu.mx` (scratchpad operands) or `cpu.N` (DRAM operands).
    Matrix,
    /// Vector operations: `npu.vec` (scratchpad operands) or `cpu.N` (DRAM operands).
    Vector,
    /// In-DRAM operations: `pim.N`.
    Pim,
}

impl InsnClass {
    /// True if an instruction of this class may appear in `engine`'s stream.
    pub fn runs_on(self, engine: Engine) -> bool {
        match self {
            InsnClass::Sync => true,
            InsnClass::Dma => matches!(engine, Engine::Dma(_)),
            InsnClass::Matrix => matches!(engine, Engine::NpuMx | Engine::Cpu(_)),
            InsnClass::Vector => matches!(engine, Engine::NpuVec | Engine::Cpu(_)),
            InsnClass::Pim => matches!(engine, Engine::Pim(_)),
        }
    }

    /// The engines this class runs on, in words (for error messages).
    pub fn engines(self) -> &'static str {
        match self {
            InsnClass::Sync => "any engine",
            InsnClass::Dma => "dma.N",
            InsnClass::Matrix => "npu.mx or cpu.N",
            InsnClass::Vector => "npu.vec or cpu.N",
            InsnClass::Pim => "pim.N",
        }
    }
}

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
            pub(crate) fn tag(self) -> u8 {
                Self::ALL.iter().position(|&x| x == self).unwrap_or(0) as u8
            }

            /// The value whose tag is `t`.
            pub(crate) fn from_tag(t: u8) -> Option<Self> {
                Self::ALL.get(t as usize).copied()
            }

            /// All text names, comma separated (for error messages).
            pub(crate) fn names() -> String {
                Self::ALL.iter().map(|x| x.name()).collect::<Vec<_>>().join(", ")
            }

            /// What kind of value this is, in words.
            pub(crate) const WHAT: &'static str = $what;
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
        /// a + b
        Add = "add",
        /// a - b
        Sub = "sub",
        /// a * b
        Mul = "mul",
        /// a / b (integer division truncates toward zero)
        Div = "div",
        /// max(a, b)
        Max = "max",
        /// min(a, b)
        Min = "min",
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
    }
}

named_enum! {
    /// Activation function of `act`.
    ActFn, "activation" {
        /// max(x, 0)
        Relu = "relu",
        /// x * Phi(x), tanh approximation
        Gelu = "gelu",
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
        /// x * Phi(x)
        Gelu = "gelu",
        /// x * sigmoid(x)
        Silu = "silu",
        /// 1 / (1 + e^-x)
        Sigmoid = "sigmoid",
        /// tanh(x)
        Tanh = "tanh",
        /// e^x (the numerator of an in-memory softmax)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_round_trip_and_reject_non_canonical() {
        for e in [
            Engine::Cpu(7),
            Engine::NpuMx,
            Engine::NpuVec,
            Engine::Dma(0),
            Engine::Pim(65535),
        ] {
            assert_eq!(e.to_string().parse::<Engine>().unwrap(), e);
            let (k, n) = e.kind_tag();
            assert_eq!(Engine::from_kind_tag(k, n), Some(e));
        }
        for bad in [
            "cpu.01",
            "cpu.",
            "cpu.-1",
            "npu.0",
            "pim.65536",
            "gpu.0",
            "dma",
        ] {
            assert!(bad.parse::<Engine>().is_err(), "{bad}");
        }
        assert_eq!(Engine::from_kind_tag(1, 3), None);
    }

    #[test]
    fn class_engines() {
        assert!(InsnClass::Matrix.runs_on(Engine::Cpu(3)));
        assert!(!InsnClass::Matrix.runs_on(Engine::NpuVec));
        assert!(InsnClass::Sync.runs_on(Engine::Pim(1)));
        assert!(!InsnClass::Pim.runs_on(Engine::Dma(1)));
    }

    #[test]
    fn enum_tags_are_positions() {
        for (i, op) in BinOp::ALL.iter().enumerate() {
            assert_eq!(op.tag() as usize, i);
            assert_eq!(BinOp::from_tag(i as u8), Some(*op));
        }
        assert_eq!(ActFn::from_tag(ActFn::ALL.len() as u8), None);
        assert!("swish".parse::<ActFn>().unwrap_err().contains("gelu"));
    }
}
