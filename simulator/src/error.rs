//! The crate's one error type.
//!
//! Every fallible function in `triad-sim` returns [`Result`]. Each variant's doc says
//! whether it means bad input (the user can fix it), a limit, or a bug in the
//! simulator. Messages name the file and line, the field or the request involved and
//! what was expected. A full request queue is *not* an error: it is ordinary flow
//! control, reported by [`crate::Submit::QueueFull`].

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `triad-sim`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: a line of a memory trace is malformed. `line` is 1-based.
    #[error("{file}:{line}: {message}")]
    Trace {
        /// The trace file (or `<memory>` for text given directly).
        file: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// Bad input or environment: a file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Bad input: the arch cannot be simulated as given (a field has a value the
    /// memory model cannot use, e.g. a count that is not a power of two).
    #[error("arch `{arch}`: {field}: {message}")]
    Arch {
        /// Name of the arch.
        arch: String,
        /// Dotted field path.
        field: String,
        /// The rule the value breaks.
        message: String,
    },
    /// Bad input: a PIM request cannot run on this arch (no PIM, unsupported dtype
    /// or activation, a matrix that does not fit).
    #[error("PIM request {request}: {message}")]
    Pim {
        /// The request, as `gemv 4096x4096 bf16` or similar.
        request: String,
        /// What does not fit and why.
        message: String,
    },
    /// Bug in a caller: an event was scheduled before the current time.
    #[error("event for component {component} scheduled at {at} ps, before now ({now} ps)")]
    EventInPast {
        /// The target component's id.
        component: u32,
        /// Requested time in picoseconds.
        at: u64,
        /// The engine's current time in picoseconds.
        now: u64,
    },
    /// Limit: a run stopped because it reached its event budget (a likely livelock).
    #[error(
        "simulation stopped after {events} events without finishing (limit {limit}); pending: {pending}"
    )]
    EventLimit {
        /// Events processed.
        events: u64,
        /// The configured limit.
        limit: u64,
        /// What the world still waited for.
        pending: String,
    },
    /// Bug in the simulator: the memory system has outstanding work but nothing
    /// it could ever issue (a scheduling deadlock). The message says what is stuck.
    #[error("memory system deadlock at cycle {cycle}: {message}")]
    Deadlock {
        /// DRAM cycle at which it was detected.
        cycle: u64,
        /// What is outstanding.
        message: String,
    },
    /// Bug or bad program: the event queue ran dry while the world still had work
    /// (nothing can ever happen again).
    #[error("simulation stalled at {at} ps after {events} events with work left: {pending}")]
    Stalled {
        /// Time of the last event, picoseconds.
        at: u64,
        /// Events handled.
        events: u64,
        /// What was still pending.
        pending: String,
    },
    /// Bad input: a program cannot run as written (an operand the engine cannot use,
    /// an engine the arch lacks). The verifier catches these first; this is the
    /// simulator's own guard.
    #[error("program: {message}")]
    Program {
        /// What is wrong and where.
        message: String,
    },
    /// Bad program: every unfinished engine waits on a semaphore no one will signal.
    #[error("program deadlock at {at_ps} ps: {}", waiting.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("; "))]
    ProgramDeadlock {
        /// When the last engine blocked, picoseconds.
        at_ps: u64,
        /// Each waiting engine with its instruction and semaphore.
        waiting: Vec<crate::machine::Waiter>,
    },
    /// Bad input: functional mode cannot compute an instruction's values (an
    /// operand outside its buffer, a dtype the operation has no meaning for, an
    /// integer division by zero, a gather index out of range, PIM results read out
    /// before they were computed). Names the engine, the mnemonic and the reason.
    #[error("functional mode: {engine} `{insn}`: {message}")]
    Functional {
        /// The engine running the instruction (`npu.mx`, `pim.3`, …).
        engine: String,
        /// The instruction's mnemonic.
        insn: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// Bad input: a buffer's `.init` cannot be applied (file too short, buffer too
    /// large to describe, a dtype the generator has no values for).
    #[error("functional mode: buffer `{buffer}` .init: {message}")]
    Init {
        /// The buffer.
        buffer: String,
        /// What is wrong.
        message: String,
    },
    /// Bad input: a functional-mode read or write falls outside its memory (DRAM
    /// capacity, scratchpad size).
    #[error(
        "functional mode: {mem} access of {len} bytes at {addr:#x} is outside the memory ({capacity} bytes)"
    )]
    DataAddress {
        /// `dram` or `spm`.
        mem: String,
        /// First byte.
        addr: u64,
        /// Bytes accessed.
        len: u64,
        /// Size of the memory in bytes.
        capacity: u64,
    },
    /// An error from the machine description crate.
    #[error(transparent)]
    Isa(#[from] triad_isa::Error),
}
