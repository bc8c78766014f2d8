//! One module per `triad` subcommand.

pub mod archs;
pub mod asm;
pub mod compile;
pub mod disasm;
pub mod eval;
pub mod explore;
pub mod graph;
pub mod memsim;
pub mod models;
pub mod plot;
pub mod run;
pub mod sim;
pub mod source;
pub mod verify;
