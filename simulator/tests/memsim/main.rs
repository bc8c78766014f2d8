//! Integration tests of the memory system: one binary, one module per scenario.
//! Every simulation here goes through [`common::run_checked`] (or checks its log
//! explicitly), so the independent timing checker sees every run.

mod bandwidth;
mod checker_catches;
mod common;
mod determinism;
mod dramsim3_parity;
mod dramsim3_presets;
mod engine;
mod latency;
mod mapping;
mod mixed;
mod pim_gemv;
mod pim_ref;
mod pimsim;
mod props;
mod rank_switch;
mod refresh;
mod trace_format;
