//! Operand types shared by the instructions: engines, buffer and semaphore
//! references, and which engines an instruction class runs on. The enums naming an
//! operation (`add`, `gelu_tanh`, `sum`, …) are in the leaf module `ops`.

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

/// Up to four dimensions of a dense tensor, outermost first (`[1, 1, R, C]` is an
/// R x C matrix). Text `[d0, d1, d2, d3]`; JSON an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dims(pub [u32; 4]);

impl Dims {
    /// Number of elements (product of the dims).
    pub fn elems(self) -> u64 {
        self.0.iter().map(|&d| u64::from(d)).product()
    }
}

/// Four element strides (in elements, not bytes), one per dimension of a [`Dims`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Strides(pub [u64; 4]);

/// A permutation of four axes: output axis k is input axis `perm[k]` (NumPy / ONNX
/// `transpose`). Loading rejects anything that is not a permutation of 0..4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Perm(pub [u8; 4]);

impl Perm {
    /// True if the four entries are 0, 1, 2, 3 in some order.
    pub fn is_valid(self) -> bool {
        let mut seen = [false; 4];
        self.0.iter().all(|&a| {
            let i = usize::from(a);
            i < 4 && !std::mem::replace(&mut seen[i], true)
        })
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
}
