//! `triad-sim`: Triad's event-driven, cycle-accurate simulator.
//!
//! This crate holds the simulator core: the discrete-event [`EventLoop`] (integer
//! picosecond time, per-component clocks, deterministic `(time, seq)` ordering) and
//! a command-level DRAM + PIM [`MemorySystem`] (per-channel FR-FCFS controllers,
//! per-bank state machines, every timing constraint of the arch, refresh, PIM
//! command families sharing the banks), an independent timing [`check`]er that
//! replays the command log, energy counters, and a DRAMsim3-compatible trace-driven
//! mode ([`run_requests`], [`parse_trace`]).
//!
//! The machine description comes from [`triad_isa::Arch`]; nothing here hard-codes a
//! hardware number.
//!
//! # Example
//! A client (here a plain loop; in a full simulation an NPU, CPU or DMA component on
//! the [`EventLoop`]) submits requests, ticks the memory system at the cycles it asks
//! for, and collects completions; the command log then goes through the checker.
//! ```
//! use triad_isa::{Arch, Cycles, DType};
//! use triad_sim::{Direction, MemoryOptions, MemorySystem, PimGemv, PimMode, PimRequest, check};
//!
//! let arch = Arch::preset("pim-gpt").unwrap();
//! let mut mem = MemorySystem::new(&arch, MemoryOptions::default()).unwrap();
//! mem.submit(Direction::Read, 0x4000, Cycles(0)).unwrap();
//! let gemv = PimGemv { rows: 1024, cols: 1024, dtype: DType::BF16, activation: None,
//!                      base_row: 64, mode: PimMode::AllBank };
//! mem.submit_pim(&PimRequest::Gemv(gemv), Cycles(0)).unwrap();
//! let (mut now, mut done) = (0, 0);
//! while done < 2 {
//!     let tick = mem.tick(Cycles(now)).unwrap();
//!     done += mem.drain_completions().count();
//!     now = tick.next.expect("work outstanding").0;
//! }
//! let stats = mem.stats();
//! assert_eq!((stats.reads, stats.pim_requests), (1, 1));
//! assert!(check(&arch, &mem.command_log().unwrap(), stats.total_cycles).is_empty());
//! ```

#![warn(missing_docs)]

mod dram;
mod error;
mod event;
mod functional;
mod memory;
mod pim;
mod trace;

pub use dram::bank::BankState;
pub use dram::checker::{Rule, Violation, check};
pub use dram::command::{Command, CommandKind, CommandLog};
pub use dram::energy::{BankCounts, ChannelCounts, EnergyBreakdown};
pub use dram::stats::{LatencyStats, MemStats};
pub use error::{Error, Result};
pub use event::{
    Clock, ComponentId, DEFAULT_EVENT_LIMIT, Event, EventLoop, EventQueue, RunSummary, World,
};
pub use functional::{DataMemory, execute};
pub use memory::{
    Completion, CompletionKind, Direction, MemTick, MemoryOptions, MemorySystem, RequestId, Submit,
};
pub use pim::{PimElementwise, PimGemv, PimLayout, PimMode, PimRequest, WeightLocation};
pub use trace::{
    IssueRate, MAX_TRACE_CYCLE, RunOutput, TimedRequest, TraceOp, parse_trace, parse_trace_until,
    read_trace, run_requests,
};
