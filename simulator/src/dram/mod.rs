//! The DRAM memory model: address mapping, per-bank state, the per-channel
//! controller, commands and their log, the independent timing checker, energy
//! counters and statistics.

pub(crate) mod bank;
pub(crate) mod channel;
pub(crate) mod checker;
pub(crate) mod command;
pub(crate) mod energy;
pub(crate) mod stats;
pub(crate) mod timing;
