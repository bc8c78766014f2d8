//! `Program`: what the compiler emits and the simulator runs — buffers, semaphores,
//! one instruction stream per engine, initial data references and metadata.
//!
//! A program has three forms with exact round trips: text assembly (`.tasm`,
//! [`Program::from_text`] / [`Program::to_text`]), compact binary (`.tbin`,
//! [`Program::from_bytes`] / [`Program::to_bytes`]) and JSON ([`Program::from_json`] /
//! [`Program::to_json`]). Every loader ends with [`Program::validate`], the structural
//! check that needs no machine description (ids in range, names unique, instructions
//! on engines that can run them). The checks that need an [`crate::Arch`] are in
//! [`crate::verify()`].

use crate::insn::{BufId, Engine, Instruction, Names, SemId};
use crate::{Bytes, DType, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Where a buffer lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Memory {
    /// Main memory; the address is a physical DRAM byte address. PIM operands are
    /// DRAM buffers.
    Dram,
    /// The NPU scratchpad; the address is a byte offset into it.
    Spm,
}

impl Memory {
    /// Text name (`dram`, `spm`).
    pub fn name(self) -> &'static str {
        match self {
            Memory::Dram => "dram",
            Memory::Spm => "spm",
        }
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a buffer's initial contents come from (used by functional simulation; the
/// timing model ignores it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum InitData {
    /// Raw little-endian elements read from `path` starting at byte `offset`.
    File {
        /// The file, relative to the program file's directory.
        path: String,
        /// First byte read.
        offset: Bytes,
    },
    /// Independent uniform draws in `[low, high]` from the generator seeded with
    /// `seed`: exactly the graph IR's `Init::Uniform` ([`crate::uniform`]).
    Uniform {
        /// Generator seed.
        seed: u64,
        /// Lower bound (finite).
        low: f64,
        /// Upper bound (finite); for bool, the probability of `true`.
        high: f64,
    },
}

/// A graph tensor that a program reads (an input) or produces (an output), by the
/// graph's name for it, and the buffer that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// The graph's name of the tensor (any non-empty string, e.g. `input_ids`).
    pub name: String,
    /// The buffer holding it (row-major, the tensor's shape and dtype).
    pub buf: BufId,
}

/// A named region of memory with a shape and element type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    /// Unique name, an identifier (`[A-Za-z_][A-Za-z0-9_.]*`).
    pub name: String,
    /// The memory it lives in.
    pub mem: Memory,
    /// DRAM byte address or scratchpad byte offset of its first byte.
    pub addr: Bytes,
    /// Dimensions, outermost first (empty = one element).
    pub shape: Vec<u64>,
    /// Element type.
    pub dtype: DType,
    /// If set, this buffer deliberately reuses the memory of an earlier buffer whose
    /// lifetime is disjoint from its own (the compiler's memory plan); the verifier
    /// then allows the two to overlap.
    pub alias: Option<BufId>,
    /// Initial contents, if any.
    pub init: Option<InitData>,
}

impl Buffer {
    /// Number of elements, `None` on overflow.
    pub fn elems(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Size in bytes, `None` on overflow.
    pub fn size(&self) -> Option<Bytes> {
        let bits = self.elems()?.checked_mul(self.dtype.bits())?;
        Some(Bytes(bits.div_ceil(8)))
    }
}

/// A counting semaphore: `signal` adds to its count, `wait` blocks until the count
/// covers its value and then subtracts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Semaphore {
    /// Unique name, an identifier.
    pub name: String,
    /// Count at program start.
    pub init: u32,
}

/// A named position in a stream (before instruction `at`; `at == len` is the end).
/// Labels name spans in traces and reports; streams are straight-line code, so labels
/// are not branch targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Name, unique within the stream.
    pub name: String,
    /// Index of the instruction it precedes.
    pub at: u32,
}

/// The in-order instruction stream of one engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// The engine that runs it.
    pub engine: Engine,
    /// Labels, ordered by position.
    pub labels: Vec<Label>,
    /// The instructions, in issue order.
    pub insns: Vec<Instruction>,
}

impl Stream {
    /// Append an instruction.
    pub fn push(&mut self, insn: impl Into<Instruction>) {
        self.insns.push(insn.into());
    }

    /// Name the position after the last instruction pushed so far.
    pub fn label(&mut self, name: impl Into<String>) {
        self.labels.push(Label {
            name: name.into(),
            at: self.insns.len() as u32,
        });
    }
}

/// Where a program came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Source model (e.g. `gpt2-small decode:512`), empty if unknown.
    pub model: String,
    /// Name of the arch it was compiled for, empty if unknown.
    pub arch: String,
    /// Compiler name and version, empty if unknown.
    pub compiler: String,
}

/// A complete program: see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Provenance.
    pub meta: Meta,
    /// Buffers, indexed by [`BufId`].
    pub buffers: Vec<Buffer>,
    /// The graph's inputs: which buffers the caller fills before the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Port>,
    /// The graph's outputs: which buffers hold the results after the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Port>,
    /// Semaphores, indexed by [`SemId`].
    pub sems: Vec<Semaphore>,
    /// One stream per engine, at most one per engine.
    pub streams: Vec<Stream>,
}

/// True if `s` is a valid buffer, semaphore or label name.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn invalid(msg: String) -> Error {
    Error::InvalidProgram { msg }
}

impl Program {
    /// The id of the buffer called `name`.
    pub fn buffer_id(&self, name: &str) -> Option<BufId> {
        self.buffers
            .iter()
            .position(|b| b.name == name)
            .map(|i| BufId(i as u32))
    }

    /// The buffer with id `id`.
    pub fn buffer(&self, id: BufId) -> Option<&Buffer> {
        self.buffers.get(id.0 as usize)
    }

    /// Declare the graph input `name` held in buffer `buf`.
    pub fn push_input(&mut self, name: impl Into<String>, buf: BufId) {
        self.inputs.push(Port {
            name: name.into(),
            buf,
        });
    }

    /// Declare the graph output `name` held in buffer `buf`.
    pub fn push_output(&mut self, name: impl Into<String>, buf: BufId) {
        self.outputs.push(Port {
            name: name.into(),
            buf,
        });
    }

    /// The buffer holding graph input `name`.
    pub fn input(&self, name: &str) -> Option<BufId> {
        self.inputs.iter().find(|p| p.name == name).map(|p| p.buf)
    }

    /// The buffer holding graph output `name`.
    pub fn output(&self, name: &str) -> Option<BufId> {
        self.outputs.iter().find(|p| p.name == name).map(|p| p.buf)
    }

    /// The id of the semaphore called `name`.
    pub fn sem_id(&self, name: &str) -> Option<SemId> {
        self.sems
            .iter()
            .position(|s| s.name == name)
            .map(|i| SemId(i as u32))
    }

    /// The stream of `engine`, if it has one.
    pub fn stream(&self, engine: Engine) -> Option<&Stream> {
        self.streams.iter().find(|s| s.engine == engine)
    }

    /// Total number of instructions over all streams.
    pub fn insn_count(&self) -> usize {
        self.streams.iter().map(|s| s.insns.len()).sum()
    }

    /// Append a buffer and return its id (for compilers building a program; the
    /// result is checked by [`Program::validate`] / [`crate::verify()`]).
    pub fn push_buffer(&mut self, buffer: Buffer) -> BufId {
        self.buffers.push(buffer);
        BufId(self.buffers.len() as u32 - 1)
    }

    /// Append a semaphore with initial count `init` and return its id.
    pub fn push_sem(&mut self, name: impl Into<String>, init: u32) -> SemId {
        self.sems.push(Semaphore {
            name: name.into(),
            init,
        });
        SemId(self.sems.len() as u32 - 1)
    }

    /// The stream of `engine`, created empty (at the end) if it has none yet.
    pub fn stream_mut(&mut self, engine: Engine) -> &mut Stream {
        let i = match self.streams.iter().position(|s| s.engine == engine) {
            Some(i) => i,
            None => {
                self.streams.push(Stream {
                    engine,
                    labels: Vec::new(),
                    insns: Vec::new(),
                });
                self.streams.len() - 1
            }
        };
        &mut self.streams[i]
    }

    pub(crate) fn names(&self) -> Names<'_> {
        Names {
            buffers: self.buffers.iter().map(|b| b.name.as_str()).collect(),
            sems: self.sems.iter().map(|s| s.name.as_str()).collect(),
        }
    }

    /// Structural well-formedness, independent of any arch: names are identifiers and
    /// unique, aliases name earlier buffers in the same memory, each engine has at most
    /// one stream, labels are ordered and in range, every instruction runs on its
    /// stream's engine and its operand ids are in range and floats finite. Fails with
    /// [`Error::InvalidProgram`] naming the offending item.
    pub fn validate(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for (i, b) in self.buffers.iter().enumerate() {
            if !is_identifier(&b.name) {
                return Err(invalid(format!(
                    "buffer #{i}: name `{}` is not an identifier",
                    b.name
                )));
            }
            if !seen.insert(b.name.as_str()) {
                return Err(invalid(format!("buffer `{}` declared twice", b.name)));
            }
            if let Some(a) = b.alias {
                let Some(target) = self
                    .buffers
                    .get(a.0 as usize)
                    .filter(|_| (a.0 as usize) < i)
                else {
                    return Err(invalid(format!(
                        "buffer `{}`: alias #{} must name an earlier buffer",
                        b.name, a.0
                    )));
                };
                if target.mem != b.mem {
                    return Err(invalid(format!(
                        "buffer `{}` ({}) aliases `{}` in another memory ({})",
                        b.name, b.mem, target.name, target.mem
                    )));
                }
            }
        }
        for b in &self.buffers {
            if let Some(InitData::Uniform { low, high, .. }) = &b.init
                && !(low.is_finite() && high.is_finite())
            {
                return Err(invalid(format!(
                    "buffer `{}`: init bounds must be finite, found [{low}, {high}]",
                    b.name
                )));
            }
        }
        for (what, ports) in [("input", &self.inputs), ("output", &self.outputs)] {
            let mut seen = BTreeSet::new();
            for (i, port) in ports.iter().enumerate() {
                if port.name.is_empty() {
                    return Err(invalid(format!("{what} #{i}: empty name")));
                }
                if !seen.insert(port.name.as_str()) {
                    return Err(invalid(format!("{what} `{}` declared twice", port.name)));
                }
                if self.buffer(port.buf).is_none() {
                    return Err(invalid(format!(
                        "{what} `{}`: buffer index {} out of range ({} buffers)",
                        port.name,
                        port.buf.0,
                        self.buffers.len()
                    )));
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.sems.iter().enumerate() {
            if !is_identifier(&s.name) {
                return Err(invalid(format!(
                    "semaphore #{i}: name `{}` is not an identifier",
                    s.name
                )));
            }
            if !seen.insert(s.name.as_str()) {
                return Err(invalid(format!("semaphore `{}` declared twice", s.name)));
            }
        }
        let names = self.names();
        let mut engines = BTreeSet::new();
        for s in &self.streams {
            if !engines.insert(s.engine) {
                return Err(invalid(format!("engine {} has two streams", s.engine)));
            }
            let mut labels = BTreeSet::new();
            let mut last = 0;
            for l in &s.labels {
                if !is_identifier(&l.name) {
                    return Err(invalid(format!(
                        "{}: label `{}` is not an identifier",
                        s.engine, l.name
                    )));
                }
                if !labels.insert(l.name.as_str()) {
                    return Err(invalid(format!(
                        "{}: label `{}` defined twice",
                        s.engine, l.name
                    )));
                }
                if l.at < last || l.at as usize > s.insns.len() {
                    return Err(invalid(format!(
                        "{}: label `{}` at {} is out of order or past the end ({} instructions)",
                        s.engine,
                        l.name,
                        l.at,
                        s.insns.len()
                    )));
                }
                last = l.at;
            }
            for (i, insn) in s.insns.iter().enumerate() {
                if !insn.class().runs_on(s.engine) {
                    return Err(invalid(format!(
                        "{} #{i}: `{}` cannot run on {} (runs on {})",
                        s.engine,
                        insn.mnemonic(),
                        s.engine,
                        insn.class().engines()
                    )));
                }
                insn.check_fields(&names).map_err(|e| {
                    invalid(format!("{} #{i} `{}`: {e}", s.engine, insn.mnemonic()))
                })?;
            }
        }
        Ok(())
    }

    /// Parse the JSON form and validate it.
    pub fn from_json(text: &str) -> Result<Program> {
        let p: Program = serde_json::from_str(text).map_err(|e| Error::ProgramJson {
            line: e.line(),
            column: e.column(),
            msg: e.to_string(),
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Pretty-printed JSON form: `from_json(p.to_json()?) == p`. Fails only for a
    /// program that [`Program::validate`] rejects (a non-finite float).
    pub fn to_json(&self) -> Result<String> {
        self.validate()?;
        serde_json::to_string_pretty(self).map_err(|e| Error::ProgramJson {
            line: 0,
            column: 0,
            msg: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["x", "_t0", "layer0.attn.q", "dma.0"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "0x", ".a", "a-b", "a b", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn builder_helpers_make_a_valid_program() {
        let mut p = Program::default();
        let x = p.push_buffer(Buffer {
            name: "x".into(),
            mem: Memory::Spm,
            addr: Bytes(0),
            shape: vec![4],
            dtype: DType::F16,
            alias: None,
            init: None,
        });
        let s = p.push_sem("s", 0);
        let st = p.stream_mut(Engine::NpuVec);
        st.label("start");
        st.push(crate::Act {
            func: crate::ActFn::Relu,
            out: crate::Slice::at(x),
            x: crate::Slice::at(x),
            rows: 1,
            cols: 4,
            dtype: DType::F16,
        });
        st.push(crate::Signal { sem: s, value: 1 });
        p.stream_mut(Engine::NpuVec).label("end");
        assert_eq!(p.streams.len(), 1);
        assert_eq!(p.streams[0].labels[1].at, 2);
        p.validate().unwrap();
        assert_eq!(Program::from_text(&p.to_text()).unwrap(), p);
    }

    #[test]
    fn buffer_size_counts_bits() {
        let b = Buffer {
            name: "w".into(),
            mem: Memory::Dram,
            addr: Bytes(0),
            shape: vec![3, 5],
            dtype: DType::I4,
            alias: None,
            init: None,
        };
        assert_eq!(b.elems(), Some(15));
        assert_eq!(b.size(), Some(Bytes(8))); // 60 bits round up to 8 bytes
        let big = Buffer {
            shape: vec![u64::MAX, 2],
            ..b
        };
        assert_eq!(big.size(), None);
    }
}
