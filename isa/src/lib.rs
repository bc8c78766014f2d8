//! `triad-isa`: the contract between Triad's compiler and its simulator.
//!
//! It holds what both sides must agree on and nothing else: element types, units,
//! the machine description (`Arch`), the instruction set and `Program`. It depends
//! on no other Triad crate.

#![warn(missing_docs)]

mod arch;
mod asm;
mod binary;
mod dtype;
mod error;
mod format;
mod insn;
mod position;
mod program;
mod units;
mod verify;

pub use arch::systolic;
pub use arch::{
    AddrField, AddressMapper, AddressMapping, Arch, BadAddressMapping, ControllerConfig, Cpu,
    CpuCluster, Dataflow, Derived, Dram, DramStandard, DramTiming, Energy, Link, Links, Location,
    MAX_BANKS_PER_RANK, MAX_CHANNELS, MAX_QUEUE, MAX_RANKS, MAX_ROWS, Npu, PIM_ACTIVATIONS, Pim,
    PimPlacement, PimTiming, QueueStructure, RefreshMode, RowHitCap, StaticPower, Storage,
    VECTOR_OPS,
};
pub use binary::{MAGIC as TBIN_MAGIC, VERSION as TBIN_VERSION};
pub use dtype::{DType, UnknownDType};
pub use error::{Error, Result};
pub use format::Format;
pub use insn::*;
pub use program::{
    Buffer, InitData, Label, Memory, Meta, Program, Semaphore, Stream, is_identifier,
};
pub use units::{Bytes, Cycles, PicoJoules, Picos};
pub use verify::{MAX_PROBLEMS, Problem, Problems, VerifyReport, verify};
