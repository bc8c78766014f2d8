//! `triad-sim`: Triad's event-driven, cycle-accurate simulator.
//!
//! This crate holds the simulator core: the discrete-event [`EventLoop`] (integer
//! picosecond time, per-component clocks, deterministic `(time, seq)` ordering) and
//! a command-level DRAM + PIM [`MemorySystem`] (per-channel FR-FCFS controllers,
//! per-bank state machines, every timing constraint of the arch, refresh, PIM
//! jobs built from PIM instructions sharing the banks), an independent timing [`check`]er that
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
//! use triad_isa::{Arch, BufId, Bytes, Cycles, DType, Instruction, PimGemv, Slice};
//! use triad_sim::{Direction, MemoryOptions, MemorySystem, PimJob, PimOwned, check, trace_program};
//!
//! let arch = Arch::preset("pim-gpt").unwrap();
//! let mut mem = MemorySystem::new(&arch, MemoryOptions::default()).unwrap();
//! mem.submit(Direction::Read, 0x4000, Cycles(0)).unwrap();
//! // y = W x on pim.0, operands in the one-buffer `dram` program: W (256 x 1024 bf16)
//! // at 1 MiB, x at 0, y at 64 KiB. Channel 0 owns the rows whose bytes it holds.
//! let program = trace_program(&arch);
//! let at = |b| Slice { buf: BufId(0), offset: Bytes(b) };
//! let gemv = Instruction::from(PimGemv {
//!     out: at(65536), w: at(1 << 20), x: at(0), rows: 256, cols: 1024, ld: 1024,
//!     dtype: DType::BF16,
//! });
//! let mut owned = PimOwned::new();
//! let job = PimJob::from_instruction(&gemv, &program, &arch, mem.mapper(), 0, &mut owned).unwrap();
//! mem.submit_pim(0, job, Cycles(0)).unwrap();
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
mod machine;
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
    Clock, ComponentId, DEFAULT_EVENT_LIMIT, Event, EventLoop, EventQueue, RunSummary, StopReason,
    World,
};
pub use functional::{DataMemory, execute};
pub use machine::{
    DramReport, EnergyReport, EngineReport, LabelReport, SPM_PORT_BYTES, SimOptions, SimOutput,
    SimReport, Waiter, simulate, write_chrome_trace,
};
pub use memory::{
    Completion, CompletionKind, Direction, MemTick, MemoryOptions, MemorySystem, RequestId, Submit,
};
pub use pim::{PimColumn, PimJob, PimOwned, PimRun, PimStep};
pub use trace::{
    IssueRate, MAX_TRACE_CYCLE, PimChannels, RunOutput, TimedRequest, TraceOp, parse_trace,
    parse_trace_for, parse_trace_until, read_trace, read_trace_for, run_requests, trace_program,
};
