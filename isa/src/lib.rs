//! `triad-isa`: the contract between Triad's compiler and its simulator.
//!
//! It holds what both sides must agree on and nothing else: element types, units,
//! the machine description (`Arch`), the instruction set and `Program`. It depends
//! on no other Triad crate.

#![warn(missing_docs)]

mod dtype;
mod units;

pub use dtype::{DType, UnknownDType};
pub use units::{Bytes, Cycles, PicoJoules, Picos};
