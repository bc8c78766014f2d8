//! The e-graph language: the IR's ops, placement, transfers and output projections.
//!
//! An IR op is one e-node kind, [`TensorLang::Op`], whose [`OpCode`] indexes an
//! [`OpTable`] holding the op with its attributes (so the language needs no copy of
//! the op list: a new IR op is a new language op for free). Sources (`Input`,
//! `Weight`, `Constant`) are ops with no children, one table entry per graph node.
//!
//! The e-graph is two-sorted:
//! - an **abstract** class holds op e-nodes `(MatMul#3 x w)`: a computation not yet
//!   given a target; its children are value classes;
//! - a **value** class holds the ways a tensor can be had: `(on npu a)` (abstract
//!   class `a` computed on the NPU), `(out 1 v)` (output 1 of a multi-output value),
//!   or a source op. Placement rules only ever union value classes with value
//!   classes, so the sorts never mix.
//!
//! `(xfer dram banks v)` moves a value between memories; extraction writes it into the
//! placed term wherever a consumer sits in another memory than the producer.
//!
//! Two value forms come from rewrites: `(inl a)`, an operand computed inside its
//! consumer's kernel (fusion, see `rules::fusion`), and `(par spec a)`, a matrix
//! product split into two concurrent parts (see `rules::split`).
//!
//! Parsing (`FromOp`, used by rule patterns) never panics: an unknown operator is a
//! parse error. Op names are the op table's ([`OpKind::from_name`]), so the language
//! has no op list of its own.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use egg::{Id, Symbol, define_language};
use serde::{Deserialize, Serialize};

use crate::data::TensorType;
use crate::graph::NodeId;
use crate::op::{Op, OpKind};

/// A compute engine an op can be placed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The CPU clusters.
    Cpu,
    /// The NPU (systolic arrays, vector unit, DMA).
    Npu,
    /// The processing-in-memory units inside the DRAM.
    Pim,
}

impl Target {
    /// All targets, in a fixed order (the order extraction breaks ties in).
    pub const ALL: [Target; 3] = [Target::Cpu, Target::Npu, Target::Pim];

    /// The lower-case name used in terms (`cpu`, `npu`, `pim`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Cpu => "cpu",
            Target::Npu => "npu",
            Target::Pim => "pim",
        }
    }

    /// The memory a result computed on this target is left in.
    pub fn home(self) -> Memory {
        match self {
            Target::Cpu | Target::Npu => Memory::Dram,
            Target::Pim => Memory::Banks,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("`{s}` is not a target (cpu, npu, pim)"))
    }
}

/// Where a tensor lives between ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Memory {
    /// Ordinary DRAM in the host layout, read and written by the CPU and the NPU's DMA.
    Dram,
    /// Inside the DRAM banks in the PIM layout: PIM results, and PIM operands written
    /// into the banks and the global buffers.
    Banks,
}

impl Memory {
    /// The name used in terms (`dram`, `banks`).
    pub fn name(self) -> &'static str {
        match self {
            Memory::Dram => "dram",
            Memory::Banks => "banks",
        }
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Memory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Memory::Dram, Memory::Banks]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("`{s}` is not a memory (dram, banks)"))
    }
}

/// An op e-node's operator: the op's name (for reading) and its index in the
/// [`OpTable`] (which decides equality). Written `Name#index`, e.g. `MatMul#3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpCode {
    /// Index into the op table.
    pub index: u32,
    /// The op's name (`MatMul`, …).
    pub name: Symbol,
}

impl OpCode {
    /// The kind of op this code names (`None` only for a code built by hand with a
    /// name outside the op table).
    pub fn kind(&self) -> Option<OpKind> {
        OpKind::from_name(self.name.as_str())
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.name, self.index)
    }
}

impl FromStr for OpCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, index) = s
            .split_once('#')
            .ok_or_else(|| format!("`{s}` is not an op code (Name#index)"))?;
        let index = index
            .parse()
            .map_err(|_| format!("`{s}`: op index `{index}` is not a number"))?;
        if OpKind::from_name(name).is_none() {
            return Err(format!("`{s}`: `{name}` is not an op of the IR"));
        }
        Ok(OpCode {
            index,
            name: Symbol::from(name),
        })
    }
}

/// Which dimension of a matrix product a split cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitAxis {
    /// Rows of the left operand (tokens): each part computes some rows of the result.
    Rows,
    /// Columns of the weight (output features): each part computes some columns.
    Cols,
}

/// How a `(par spec a)` node splits a matrix product into two concurrent parts:
/// the first `num / den` of the cut dimension on `first`, the rest on `second`.
/// Written `cols:1/4:npu+pim`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SplitSpec {
    /// The dimension cut.
    pub axis: SplitAxis,
    /// Numerator of the first part's share.
    pub num: u32,
    /// Denominator of the share (the ratio step count).
    pub den: u32,
    /// Target of the first part.
    pub first: Target,
    /// Target of the second part.
    pub second: Target,
}

impl SplitSpec {
    /// Length of the first part of a dimension of length `len` (the rest is the second).
    pub fn first_len(&self, len: usize) -> usize {
        (len as u64 * u64::from(self.num) / u64::from(self.den.max(1))) as usize
    }
}

impl fmt::Display for SplitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let axis = match self.axis {
            SplitAxis::Rows => "rows",
            SplitAxis::Cols => "cols",
        };
        write!(
            f,
            "{axis}:{}/{}:{}+{}",
            self.num, self.den, self.first, self.second
        )
    }
}

impl FromStr for SplitSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a split (e.g. cols:1/4:npu+pim)");
        let mut it = s.split(':');
        let (Some(axis), Some(ratio), Some(targets), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(bad());
        };
        let axis = match axis {
            "rows" => SplitAxis::Rows,
            "cols" => SplitAxis::Cols,
            _ => return Err(bad()),
        };
        let (num, den) = ratio.split_once('/').ok_or_else(bad)?;
        let (first, second) = targets.split_once('+').ok_or_else(bad)?;
        let num: u32 = num.parse().map_err(|_| bad())?;
        let den: u32 = den.parse().map_err(|_| bad())?;
        if num == 0 || num >= den {
            return Err(bad());
        }
        Ok(SplitSpec {
            axis,
            num,
            den,
            first: first.parse()?,
            second: second.parse()?,
        })
    }
}

define_language! {
    /// The e-graph language (see the module doc for the two sorts). Variants:
    /// - `On`: `(on target abstract)`, the abstract class computed on a target; a value;
    /// - `Xfer`: `(xfer from to value)`, a value moved between memories; a value;
    /// - `Out`: `(out port value)`, one output of a multi-output op; a value;
    /// - `Inl`: `(inl abstract)`, the abstract class computed inside the kernel of the
    ///   op that reads it (a fusion; never written to memory); a value only an op
    ///   operand may be;
    /// - `Par`: `(par split abstract)`, a matrix product computed as two concurrent
    ///   parts on two targets, written into one result; a value;
    /// - `Target`, `Memory`, `Port`, `Split`: leaves (`cpu`, `dram`, `1`,
    ///   `cols:1/4:npu+pim`);
    /// - `Op`: an IR op over its operand classes (abstract), or a source (a value).
    #[allow(missing_docs)]
    pub enum TensorLang {
        "on" = On([Id; 2]),
        "xfer" = Xfer([Id; 3]),
        "out" = Out([Id; 2]),
        "inl" = Inl(Id),
        "par" = Par([Id; 2]),
        Target(Target),
        Memory(Memory),
        Port(u32),
        Split(SplitSpec),
        Op(OpCode, Vec<Id>),
    }
}

/// One row of the op table: the op and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct OpEntry {
    /// The op with its attributes.
    pub op: Op,
    /// For sources: the graph node it stands for, its name, scope and declared type.
    pub source: Option<SourceInfo>,
}

/// A source node of the input graph (sources are not interned: one row each).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Node in the input graph (`None` for a constant folded by a rule).
    pub node: Option<NodeId>,
    /// Its name.
    pub name: String,
    /// Its scope.
    pub scope: String,
    /// Its declared type.
    pub ty: TensorType,
}

/// The ops e-nodes refer to. Non-source ops are interned by value (two equal ops
/// share a row, so hash-consing merges equal computations on equal operands).
#[derive(Clone, Debug, Default)]
pub struct OpTable {
    rows: Vec<OpEntry>,
    interned: BTreeMap<String, u32>,
}

impl OpTable {
    /// The row of `code`.
    ///
    /// # Panics
    /// If `code` was not made by this table (codes only come from [`OpTable::intern`]
    /// and [`OpTable::source`] of the same table).
    pub fn get(&self, code: OpCode) -> &OpEntry {
        &self.rows[code.index as usize]
    }

    /// The code of a non-source op, adding a row the first time it is seen.
    pub fn intern(&mut self, op: &Op) -> OpCode {
        // The JSON form is canonical (fields in declaration order) and total over ops.
        let key = serde_json::to_string(op).unwrap_or_else(|_| format!("{op:?}"));
        let index = match self.interned.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.rows.len() as u32;
                self.rows.push(OpEntry {
                    op: op.clone(),
                    source: None,
                });
                self.interned.insert(key, i);
                i
            }
        };
        OpCode {
            index,
            name: Symbol::from(op.name()),
        }
    }

    /// A fresh row for a source node.
    pub fn source(&mut self, op: &Op, info: SourceInfo) -> OpCode {
        let index = self.rows.len() as u32;
        self.rows.push(OpEntry {
            op: op.clone(),
            source: Some(info),
        });
        OpCode {
            index,
            name: Symbol::from(op.name()),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
