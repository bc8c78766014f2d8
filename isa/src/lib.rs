//! `triad-isa`: the contract between Triad's compiler and its simulator.
//!
//! It holds what both sides must agree on and nothing else: element types, units,
//! the machine description (`Arch`), the instruction set and `Program`. It depends
//! on no other Triad crate.

#![warn(missing_docs)]

mod arch;
mod asm;
mod binary;
mod codec;
mod dtype;
mod error;
mod format;
mod init;
mod insn;
mod ops;
mod position;
mod problem;
mod program;
mod units;
mod verify;

pub use arch::systolic;
pub use arch::{
    AddrField, AddressMapper, AddressMapping, Arch, BadAddressMapping, Capability,
    ControllerConfig, Cpu, CpuCluster, Dataflow, Derived, Dram, DramStandard, DramTiming, Energy,
    Link, Links, Location, MAX_BANKS_PER_RANK, MAX_CHANNELS, MAX_QUEUE, MAX_RANKS, MAX_ROWS, Npu,
    Pim, PimPlacement, PimTiming, QueueStructure, RefreshMode, RowHitCap, StaticPower, Storage,
    Unit, Unsupported,
};
pub use binary::{MAGIC as TBIN_MAGIC, VERSION as TBIN_VERSION};
pub use dtype::{DType, UnknownDType};
pub use error::{Error, Result};
pub use format::Format;
pub use init::{Values, round_to, uniform};
pub use insn::*;
pub use ops::VectorOp;
pub use program::{
    Buffer, InitData, Label, Memory, Meta, Port, Program, Semaphore, Stream, is_identifier,
};
pub use units::{Bytes, Cycles, PicoJoules, Picos};
pub use verify::{MAX_PROBLEMS, Problem, Problems, VerifyReport, verify};
