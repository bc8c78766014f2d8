//! Trace-driven mode: DRAMsim3's trace format extended with PIM instructions, and a
//! driver that feeds timed requests (reads, writes, PIM jobs) into a
//! [`MemorySystem`] on the event engine.
//!
//! # Format
//! One request per line: `<address> <READ|WRITE> <cycle>`, the address in hex (with
//! or without `0x`), the cycle the earliest issue cycle in the DRAM command clock.
//! A PIM line is `PIM <cycle> <channel|*> <instruction>`: a `pim.*` instruction in
//! the ISA's text syntax whose operands name the buffer `dram`, the whole DRAM from
//! byte 0 ([`trace_program`]), with byte offsets: `dram+4096` is DRAM byte 4096. It
//! runs on `pim.<channel>`, or on every channel for `*` (one job per channel; a
//! channel that owns nothing of it finishes at once). Example:
//! `PIM 0 * pim.gemv dram, dram+1048576, dram+4096, rows=4096, cols=1024, ld=1024, dtype=f16`.
//! Blank lines and lines starting with `#` are skipped; the command word is matched
//! case-insensitively. Anything else is an error naming `file:line` and what was
//! expected.
//!
//! # Driving
//! Requests enter in file order, each no earlier than its cycle (or as fast as the
//! queues take them with [`IssueRate::Unlimited`]); when a channel's queue is full,
//! the trace stalls until the controller frees a slot, as in DRAMsim3.

use crate::dram::command::CommandLog;
use crate::dram::stats::MemStats;
use crate::error::{Error, Result};
use crate::event::{Clock, ComponentId, Event, EventLoop, EventQueue, World};
use crate::memory::{Direction, MemoryOptions, MemorySystem, Submit};
use crate::pim::{PimJob, PimOwned};
use std::path::Path;
use triad_isa::{
    Arch, Buffer, Bytes, Cycles, DType, Engine, InsnClass, Instruction, Memory, Program,
};

/// Which PIM controllers a PIM trace line runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PimChannels {
    /// `pim.N` only.
    One(u32),
    /// Every channel's controller, each on the part of the operands it owns.
    All,
}

/// What a timed request does.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceOp {
    /// A one-burst read or write at a byte address.
    Burst(Direction, u64),
    /// A PIM instruction over [`trace_program`]'s `dram` buffer.
    Pim {
        /// Where it runs.
        channels: PimChannels,
        /// The instruction (boxed: a trace holds millions of bursts, which stay
        /// small).
        insn: Box<Instruction>,
    },
}

/// The program PIM trace lines refer to: one DRAM buffer `dram` (i8 elements) from
/// byte 0 over the whole capacity of `arch`'s DRAM.
pub fn trace_program(arch: &Arch) -> Program {
    let mut p = Program::default();
    p.push_buffer(Buffer {
        name: TRACE_BUFFER.into(),
        mem: Memory::Dram,
        addr: Bytes(0),
        shape: vec![arch.dram.capacity_bytes()],
        dtype: DType::I8,
        alias: None,
        init: None,
    });
    p
}

/// The buffer name PIM trace lines use for DRAM.
const TRACE_BUFFER: &str = "dram";

/// A request with its earliest issue cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedRequest {
    /// Earliest DRAM cycle at which it may enter the controller.
    pub cycle: Cycles,
    /// The request.
    pub op: TraceOp,
}

impl TimedRequest {
    /// A read of `addr` at `cycle`.
    pub fn read(addr: u64, cycle: Cycles) -> TimedRequest {
        TimedRequest {
            cycle,
            op: TraceOp::Burst(Direction::Read, addr),
        }
    }

    /// A write of `addr` at `cycle`.
    pub fn write(addr: u64, cycle: Cycles) -> TimedRequest {
        TimedRequest {
            cycle,
            op: TraceOp::Burst(Direction::Write, addr),
        }
    }
}

/// How fast requests enter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueRate {
    /// At the cycle each request names.
    Trace,
    /// As fast as the queues take them (cycles ignored).
    Unlimited,
}

/// Parses trace text; `file` names it in errors.
pub fn parse_trace(text: &str, file: &str) -> Result<Vec<TimedRequest>> {
    parse_trace_until(text, file, MAX_TRACE_CYCLE)
}

/// The latest issue cycle a trace line may name: 2^32 DRAM clocks (4.3 s at 1 GHz).
/// Refresh runs through idle time, so a far-future line would make the run simulate
/// billions of refreshes; a trace that long is almost surely a unit mix-up (ps or ns
/// for cycles). [`parse_trace_until`] takes another limit.
pub const MAX_TRACE_CYCLE: u64 = 1 << 32;

/// [`parse_trace`] with the latest allowed issue cycle given.
pub fn parse_trace_until(text: &str, file: &str, max_cycle: u64) -> Result<Vec<TimedRequest>> {
    parse(text, file, max_cycle, None)
}

/// [`parse_trace`] for a run on `arch`: a burst address beyond the arch's DRAM
/// capacity is an error naming its line (a run would otherwise fail later,
/// without the line).
pub fn parse_trace_for(text: &str, file: &str, arch: &Arch) -> Result<Vec<TimedRequest>> {
    parse(
        text,
        file,
        MAX_TRACE_CYCLE,
        Some((arch.name.as_str(), arch.dram.capacity_bytes())),
    )
}

/// Parses trace text; with `capacity` (arch name, bytes) set, burst addresses must
/// lie below it.
fn parse(
    text: &str,
    file: &str,
    max_cycle: u64,
    capacity: Option<(&str, u64)>,
) -> Result<Vec<TimedRequest>> {
    // Room for one request per 11 bytes (`0x0 READ 0` and its newline) up front,
    // so that a long trace is not copied over and over as it grows.
    let mut out = Vec::with_capacity(text.len() / 11);
    let bytes = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while start < bytes.len() {
        // Lines as `str::lines` splits them: at `\n`, without a `\r` before it.
        i += 1;
        // Most lines are plain bursts: read them byte by byte, and leave everything
        // else (comments, PIM lines, bad lines and their messages, limits) to the
        // general path below.
        if let Some((addr, access, cycle, next)) = burst_at(bytes, start)
            && cycle <= max_cycle
            && capacity.is_none_or(|(_, cap)| addr < cap)
        {
            out.push(TimedRequest {
                cycle: Cycles(cycle),
                op: TraceOp::Burst(access, addr),
            });
            start = next;
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(bytes.len(), |e| start + e);
        let raw = &text[start..end];
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        start = end + 1;
        let i = i - 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| Error::Trace {
            file: file.to_string(),
            line: i + 1,
            message,
        };
        let mut parts = line.split_whitespace();
        if parts
            .clone()
            .next()
            .is_some_and(|p| p.eq_ignore_ascii_case("PIM"))
        {
            out.push(parse_pim_line(line, max_cycle).map_err(err)?);
            continue;
        }
        let (Some(addr), Some(cmd), Some(cycle), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err(format!(
                "expected `<hex address> <READ|WRITE> <cycle>`, found {} fields in `{line}`",
                line.split_whitespace().count()
            )));
        };
        let hex = addr
            .strip_prefix("0x")
            .or_else(|| addr.strip_prefix("0X"))
            .unwrap_or(addr);
        let addr = u64::from_str_radix(hex, 16)
            .map_err(|e| err(format!("address `{addr}` is not a 64-bit hex number ({e})")))?;
        if let Some((arch, cap)) = capacity
            && addr >= cap
        {
            return Err(err(format!(
                "address {addr:#x} is beyond the DRAM capacity of {cap} bytes ({cap:#x}) of arch `{arch}`"
            )));
        }
        let access = if cmd.eq_ignore_ascii_case("READ") {
            Direction::Read
        } else if cmd.eq_ignore_ascii_case("WRITE") {
            Direction::Write
        } else {
            return Err(err(format!("command `{cmd}` is neither READ nor WRITE")));
        };
        let cycle = cycle.parse::<u64>().map_err(|e| {
            err(format!(
                "cycle `{cycle}` is not a non-negative integer ({e})"
            ))
        })?;
        if cycle > max_cycle {
            return Err(err(format!(
                "cycle {cycle} is beyond the limit of {max_cycle} DRAM clocks (is it in ps or ns?)"
            )));
        }
        out.push(TimedRequest {
            cycle: Cycles(cycle),
            op: TraceOp::Burst(access, addr),
        });
    }
    Ok(out)
}

/// The burst line starting at byte `i` of `text`: `<hex address> <READ|WRITE>
/// <cycle>` (optional `0x` / `0X`, fields separated by spaces or tabs, nothing but
/// spaces, tabs or `\r` after them on the line), with where the next line starts;
/// `None` for anything else, including numbers that overflow: the general parser
/// then reads the line (and words its error). Gives what the general parser gives
/// for such a line.
fn burst_at(text: &[u8], mut i: usize) -> Option<(u64, Direction, u64, usize)> {
    if text.get(i) == Some(&b'0') && text.get(i + 1).is_some_and(|&c| c | 0x20 == b'x') {
        i += 2;
    }
    let digits = i;
    let mut addr = 0u64;
    while let Some(&c) = text.get(i) {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => break,
        };
        if addr >> 60 != 0 {
            return None;
        }
        addr = addr << 4 | u64::from(d);
        i += 1;
    }
    if i == digits {
        return None;
    }
    let gap = |i: &mut usize| {
        let from = *i;
        while text.get(*i).is_some_and(|&c| c == b' ' || c == b'\t') {
            *i += 1;
        }
        *i > from
    };
    if !gap(&mut i) {
        return None;
    }
    let word = i;
    while text.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    let access = match &text[word..i] {
        w if w.eq_ignore_ascii_case(b"READ") => Direction::Read,
        w if w.eq_ignore_ascii_case(b"WRITE") => Direction::Write,
        _ => return None,
    };
    if !gap(&mut i) {
        return None;
    }
    let digits = i;
    let mut cycle = 0u64;
    while let Some(&c) = text.get(i).filter(|c| c.is_ascii_digit()) {
        cycle = cycle.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        i += 1;
    }
    if i == digits {
        return None;
    }
    while text
        .get(i)
        .is_some_and(|&c| c == b' ' || c == b'\t' || c == b'\r')
    {
        i += 1;
    }
    match text.get(i) {
        None => Some((addr, access, cycle, i)),
        Some(b'\n') => Some((addr, access, cycle, i + 1)),
        Some(_) => None,
    }
}

/// Parses `PIM <cycle> <channel|*> <instruction>`.
fn parse_pim_line(line: &str, max_cycle: u64) -> std::result::Result<TimedRequest, String> {
    let mut rest = line.splitn(4, char::is_whitespace).skip(1);
    let usage = "expected `PIM <cycle> <channel|*> <pim.* instruction>`";
    let (Some(cycle), Some(channel), Some(text)) = (rest.next(), rest.next(), rest.next()) else {
        return Err(format!("{usage}, found `{line}`"));
    };
    let cycle = cycle
        .parse::<u64>()
        .map_err(|e| format!("cycle `{cycle}` is not a non-negative integer ({e})"))?;
    if cycle > max_cycle {
        return Err(format!(
            "cycle {cycle} is beyond the limit of {max_cycle} DRAM clocks (is it in ps or ns?)"
        ));
    }
    let channels = if channel == "*" {
        PimChannels::All
    } else {
        PimChannels::One(channel.parse::<u32>().map_err(|e| {
            format!("channel `{channel}` is neither `*` nor a channel number ({e})")
        })?)
    };
    // The instruction goes through the ISA's own parser, inside a program that
    // declares the `dram` buffer (its size does not matter to the parser).
    let text = text.trim();
    let program = format!(
        ".buffer {TRACE_BUFFER}, dram, addr=0, shape=[{}], dtype=i8\n.stream pim.0\n{text}\n",
        1u64 << 56
    );
    let p = Program::from_text(&program).map_err(|e| format!("instruction `{text}`: {e}"))?;
    let insn = p
        .stream(Engine::Pim(0))
        .and_then(|s| s.insns.first())
        .ok_or_else(|| format!("{usage}, found no instruction"))?;
    if insn.class() != InsnClass::Pim {
        return Err(format!(
            "`{}` is not a PIM instruction (expected a pim.* mnemonic)",
            insn.mnemonic()
        ));
    }
    Ok(TimedRequest {
        cycle: Cycles(cycle),
        op: TraceOp::Pim {
            channels,
            insn: Box::new(insn.clone()),
        },
    })
}

/// Reads and parses a trace file.
pub fn read_trace(path: &Path) -> Result<Vec<TimedRequest>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_trace(&text, &path.display().to_string())
}

/// Reads and parses a trace file for a run on `arch` ([`parse_trace_for`]: burst
/// addresses beyond its capacity are errors naming the line).
pub fn read_trace_for(path: &Path, arch: &Arch) -> Result<Vec<TimedRequest>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_trace_for(&text, &path.display().to_string(), arch)
}

/// Result of a driven run.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// Statistics.
    pub stats: MemStats,
    /// The command log, when recorded.
    pub log: Option<CommandLog>,
    /// Events the engine handled.
    pub events: u64,
}

const FEEDER: ComponentId = ComponentId(0);
const MEMORY: ComponentId = ComponentId(1);

struct Driver<'a> {
    mem: MemorySystem,
    arch: Arch,
    program: Program,
    owned: Vec<PimOwned>,
    clock: Clock,
    reqs: &'a [TimedRequest],
    next: usize,
    blocked: bool,
    outstanding: u64,
    mem_at: Option<u64>,
    unlimited: bool,
    input_done: bool,
}

impl Driver<'_> {
    fn wake_memory(&mut self, cycle: u64, q: &mut EventQueue) -> Result<()> {
        if self.mem_at.is_none_or(|s| cycle < s) {
            q.schedule(self.clock.time_of(Cycles(cycle)), MEMORY, cycle)?;
            self.mem_at = Some(cycle);
        }
        Ok(())
    }

    fn feed(&mut self, now: u64, q: &mut EventQueue) -> Result<()> {
        while let Some(r) = self.reqs.get(self.next) {
            if !self.unlimited && r.cycle.0 > now {
                q.schedule(self.clock.time_of(r.cycle), FEEDER, r.cycle.0)?;
                break;
            }
            match &r.op {
                TraceOp::Burst(a, addr) => match self.mem.submit(*a, *addr, Cycles(now))? {
                    Submit::Accepted(_) => {}
                    Submit::QueueFull => {
                        self.blocked = true;
                        break;
                    }
                },
                TraceOp::Pim { channels, insn } => {
                    let list = match *channels {
                        PimChannels::One(c) => c..c + 1,
                        PimChannels::All => 0..self.arch.dram.channels,
                    };
                    for c in list {
                        let owned = self.owned.get_mut(c as usize).ok_or_else(|| Error::Pim {
                            request: format!("`{}` on pim.{c}", insn.mnemonic()),
                            message: format!(
                                "channel {c} is beyond the arch's {} channels",
                                self.arch.dram.channels
                            ),
                        })?;
                        let job = PimJob::from_instruction(
                            insn,
                            &self.program,
                            &self.arch,
                            self.mem.mapper(),
                            c,
                            owned,
                        )?;
                        self.mem.submit_pim(c, job, Cycles(now))?;
                        self.outstanding += 1;
                    }
                    self.next += 1;
                    continue;
                }
            }
            self.outstanding += 1;
            self.next += 1;
        }
        if self.next == self.reqs.len() && !self.input_done {
            self.input_done = true;
            self.mem.finish_input(Cycles(now));
        }
        self.wake_memory(now, q)
    }
}

impl World for Driver<'_> {
    fn handle(&mut self, e: Event, q: &mut EventQueue) -> Result<()> {
        if e.target == FEEDER {
            return self.feed(e.payload, q);
        }
        if self.mem_at != Some(e.payload) {
            return Ok(());
        }
        self.mem_at = None;
        let t = self.mem.tick(Cycles(e.payload))?;
        self.outstanding -= self.mem.drain_completions().len() as u64;
        if t.freed && self.blocked {
            self.blocked = false;
            q.schedule(
                self.clock.time_of(Cycles(e.payload + 1)),
                FEEDER,
                e.payload + 1,
            )?;
        }
        if let Some(n) = t.next {
            self.wake_memory(n.0, q)?;
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        // `is_idle`: a channel still in PIM mode leaves it before the run ends.
        self.next == self.reqs.len() && self.outstanding == 0 && self.mem.is_idle()
    }
}

/// Runs `reqs` on a fresh memory system for `arch` and returns its statistics.
pub fn run_requests(
    arch: &Arch,
    reqs: &[TimedRequest],
    rate: IssueRate,
    opts: MemoryOptions,
) -> Result<RunOutput> {
    let mut mem = MemorySystem::new(arch, opts)?;
    if rate == IssueRate::Unlimited {
        // Every request of a cycle is submitted before the memory ticks in it
        // (the feeder runs at the cycle after a freed slot, ahead of the memory).
        mem.set_lazy_wake_ups();
    }
    let mut d = Driver {
        clock: mem.clock(),
        arch: mem.arch().clone(),
        program: trace_program(arch),
        owned: vec![PimOwned::new(); arch.dram.channels as usize],
        mem,
        reqs,
        next: 0,
        blocked: false,
        outstanding: 0,
        mem_at: None,
        unlimited: rate == IssueRate::Unlimited,
        input_done: false,
    };
    let mut engine = EventLoop::new();
    let first = match rate {
        IssueRate::Unlimited => 0,
        IssueRate::Trace => reqs.first().map_or(0, |r| r.cycle.0),
    };
    engine
        .queue
        .schedule(d.clock.time_of(Cycles(first)), FEEDER, first)?;
    // Refresh runs from cycle 0 even if the trace starts late.
    d.wake_memory(0, &mut engine.queue)?;
    let summary = engine.run(&mut d)?;
    Ok(RunOutput {
        stats: d.mem.stats(),
        log: d.mem.command_log(),
        events: summary.events,
    })
}
