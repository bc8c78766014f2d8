//! Runs a whole [`Program`] on the engines of an [`Arch`]: the NPU matrix and vector
//! units, CPU cores, DMA engines and PIM controllers, each walking its instruction
//! stream in order on its own clock, all sharing one memory system on the DRAM
//! clock, synchronised only by the program's semaphores.
//!
//! # Shape
//! Every engine is a [`unit::Unit`]: the same stream walker (fetch, sync, issue
//! memory bursts, wait for completions, account time and energy) around a cost
//! model per engine kind ([`cost`]). The [`Machine`] is the event-loop world: it
//! routes `Step` / `Issue` events to units and `Tick` events to the memory system,
//! and hands memory completions back to the unit that issued the request. A new
//! engine kind is a cost function; nothing else changes.
//!
//! # Semantics
//! An instruction starts when its engine reaches it; it ends when its compute
//! cycles have elapsed and its last DRAM read has completed (plus the link's
//! latency), whichever is later, rounded up to the engine's clock edge. Writes are
//! posted: done for the engine once the controller accepts them (plus the link's
//! latency); the program ends when its last engine is done and its last write has
//! reached DRAM (the controller is told when no more requests will come, so writes
//! held below its drain threshold are flushed). `signal`
//! costs one engine cycle; a satisfied `wait` costs nothing; an unsatisfied one
//! blocks the engine until a `signal` covers it (blocked engines wake in stream
//! order). A run in which every unfinished engine is blocked is
//! [`Error::ProgramDeadlock`], naming each engine, instruction and semaphore.
//!
//! `npu.arrays > 1`: the single `npu.mx` stream drives every array; a `gemm`'s folds
//! are dealt over the arrays, which run in lock step (see [`cost`]).
//!
//! # Functional mode
//! With [`SimOptions::functional`] every instruction also computes its values
//! ([`crate::execute`]) on real DRAM and scratchpad contents when it starts; the
//! timing path never reads them, so cycles are identical with or without it.
//!
//! # Scale
//! Timing mode holds instruction descriptors and counters only: DRAM traffic is a
//! few strided descriptors per instruction walked lazily, the command log is kept
//! only for `check` or `trace`, so a program for a 7B model runs without
//! materialising a weight.

mod bursts;
mod chrome;
mod cost;
mod pim;
mod report;
mod unit;

pub use chrome::write_chrome_trace;
pub use cost::SPM_PORT_BYTES;
pub use report::{DramReport, EnergyReport, EngineReport, LabelReport, SimReport};

use crate::error::{Error, Result};
use crate::event::{Clock, ComponentId, Event, EventLoop, EventQueue, World};
use crate::memory::{CompletionKind, MemoryOptions, MemorySystem, Submit};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use triad_isa::{Arch, Cycles, Engine, Instruction, Picos, Program};
use unit::{Span, State, Unit};

/// How to run a program.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Record the DRAM command log and run the timing checker over it.
    pub check: bool,
    /// Record spans and counters for a Chrome / Perfetto trace.
    pub trace: bool,
    /// Event budget (0: [`crate::DEFAULT_EVENT_LIMIT`]).
    pub event_limit: u64,
    /// Functional mode: also move real bytes and compute real values (buffers
    /// initialised from their `.init`, files resolved against this folder). Timing
    /// is identical with or without it.
    pub functional: Option<std::path::PathBuf>,
}

/// One engine waiting on a semaphore, for deadlock reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The engine.
    pub engine: Engine,
    /// Index of its `wait` in the stream.
    pub index: usize,
    /// The semaphore's name.
    pub sem: String,
    /// Its count when the run stopped.
    pub count: u64,
    /// The value the `wait` needs.
    pub needs: u32,
}

impl fmt::Display for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} #{} `wait {}, value={}` (count {})",
            self.engine, self.index, self.sem, self.needs, self.count
        )
    }
}

/// Everything a run produces.
#[derive(Debug)]
pub struct SimOutput {
    /// The report.
    pub report: SimReport,
    /// Chrome trace events, when asked for.
    pub trace: Option<chrome::Trace>,
    /// Final memory contents, in functional mode.
    pub data: Option<crate::DataMemory>,
}

/// What an event asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    /// A unit finishes its current instruction or continues its stream.
    Step,
    /// A unit may issue its next DRAM burst (link pacing).
    Issue,
    /// The memory system is due at this DRAM cycle.
    Tick(u64),
    /// A PIM unit's host reads are done: submit its job (or, after the job, write
    /// its results back).
    Phase,
}

/// The world of a program run.
struct Machine<'a> {
    program: &'a Program,
    arch: &'a Arch,
    units: Vec<Unit>,
    mem: MemorySystem,
    dram: Clock,
    burst: u64,
    mem_at: Option<u64>,
    owner: HashMap<u64, usize>,
    sems: Vec<u64>,
    /// Per DRAM channel, the rows its PIM accumulators hold (PIM semantics).
    owned: Vec<crate::PimOwned>,
    retry: BTreeSet<usize>,
    done: usize,
    /// Posted writes not yet written to DRAM.
    pending_writes: u64,
    /// When the last posted write reached DRAM.
    drained: Picos,
    labels: BTreeMap<String, LabelReport>,
    spans: Option<Vec<Span>>,
    completions: Option<Vec<(Picos, u64)>>,
    /// Real memory contents (functional mode only).
    data: Option<crate::DataMemory>,
}

impl Machine<'_> {
    fn memory_id(&self) -> ComponentId {
        ComponentId(self.units.len() as u32)
    }

    fn wake_memory(&mut self, cycle: u64, q: &mut EventQueue<Wake>) -> Result<()> {
        if self.mem_at.is_none_or(|s| cycle < s) {
            q.schedule(
                self.dram.time_of(Cycles(cycle)),
                self.memory_id(),
                Wake::Tick(cycle),
            )?;
            self.mem_at = Some(cycle);
        }
        Ok(())
    }

    /// Finishes the running instruction of unit `u` (if any) and walks its stream
    /// until it starts a timed instruction, blocks, or ends.
    fn step(&mut self, u: usize, now: Picos, q: &mut EventQueue<Wake>) -> Result<()> {
        if self.units[u].state == State::Running {
            let start = self.units[u].start.0;
            let label = self.units[u].finish(now, self.spans.as_mut(), self.program, u);
            let engine = self.units[u].engine.to_string();
            let l = self.labels.entry(label.0).or_insert_with(|| LabelReport {
                start_ps: start,
                ..LabelReport::default()
            });
            l.start_ps = l.start_ps.min(start);
            l.end_ps = l.end_ps.max(now.0);
            *l.engine_busy_ps.entry(engine).or_default() += label.1;
            l.instructions += 1;
            l.busy_ps += label.1;
            l.energy_pj += label.2;
            l.dram_bytes += label.3;
        }
        let stream = &self.program.streams[self.units[u].stream];
        loop {
            let pc = self.units[u].pc;
            let Some(insn) = stream.insns.get(pc) else {
                self.units[u].state = State::Done;
                self.units[u].end = now;
                self.done += 1;
                if self.done == self.units.len() {
                    // Nothing more will be submitted: flush the posted writes.
                    let cycle = self.dram.next_cycle_at_or_after(now);
                    self.mem.finish_input(cycle);
                    self.wake_memory(cycle.0, q)?;
                }
                return self.check_deadlock(now);
            };
            match insn {
                Instruction::Wait(w) => {
                    let s = w.sem.0 as usize;
                    if self.sems[s] >= u64::from(w.value) {
                        self.sems[s] -= u64::from(w.value);
                        self.units[u].pc += 1;
                        self.units[u].instructions += 1;
                        self.units[u].sync_label(self.program);
                        continue;
                    }
                    self.units[u].state = State::Blocked {
                        sem: w.sem.0,
                        value: w.value,
                        since: now,
                    };
                    return self.check_deadlock(now);
                }
                Instruction::Signal(s) => {
                    self.sems[s.sem.0 as usize] += u64::from(s.value);
                    let unit = &mut self.units[u];
                    unit.begin(
                        now,
                        cost::Cost {
                            compute: Cycles(1),
                            ..cost::Cost::default()
                        },
                    );
                    let at = unit.compute_end;
                    unit.finish_at = Some(at);
                    q.schedule(at, ComponentId(u as u32), Wake::Step)?;
                    return self.wake_waiters(s.sem.0, now, q);
                }
                _ => {
                    if let Some(data) = self.data.as_mut() {
                        // Values at the instruction's start: semaphores order every
                        // conflicting access of a race-free program.
                        crate::execute(self.units[u].engine, insn, self.program, data, self.arch)?;
                    }
                    let c = match self.units[u].engine {
                        Engine::Pim(n) => {
                            let owned = self.owned.get_mut(usize::from(n)).ok_or_else(|| {
                                Error::Program {
                                    message: format!("pim.{n}: the arch has no channel {n}"),
                                }
                            })?;
                            let (c, plan) = pim::plan(
                                self.arch,
                                self.program,
                                self.mem.mapper(),
                                u32::from(n),
                                owned,
                                insn,
                            )?;
                            self.units[u].pim = Some(plan);
                            c
                        }
                        engine => cost::cost(self.arch, self.program, engine, insn)?,
                    };
                    self.units[u].begin(now, c);
                    self.issue(u, now, q)?;
                    return self.maybe_finish(u, now, q);
                }
            }
        }
    }

    /// Wakes, in stream order, the units blocked on `sem` that its count now covers.
    fn wake_waiters(&mut self, sem: u32, now: Picos, q: &mut EventQueue<Wake>) -> Result<()> {
        for u in 0..self.units.len() {
            if let State::Blocked {
                sem: s,
                value,
                since,
            } = self.units[u].state
                && s == sem
                && self.sems[s as usize] >= u64::from(value)
            {
                self.sems[s as usize] -= u64::from(value);
                let unit = &mut self.units[u];
                unit.stalled += now.0 - since.0;
                unit.pc += 1;
                unit.instructions += 1;
                unit.sync_label(self.program);
                unit.state = State::Ready;
                let at = unit.clock.edge_at_or_after(now);
                q.schedule(at, ComponentId(u as u32), Wake::Step)?;
            }
        }
        Ok(())
    }

    fn check_deadlock(&self, now: Picos) -> Result<()> {
        let stuck = self
            .units
            .iter()
            .all(|u| matches!(u.state, State::Blocked { .. } | State::Done));
        if !stuck || self.done == self.units.len() {
            return Ok(());
        }
        let waiting = self
            .units
            .iter()
            .filter_map(|u| match u.state {
                State::Blocked { sem, value, .. } => Some(Waiter {
                    engine: u.engine,
                    index: u.pc,
                    sem: self.program.sems[sem as usize].name.clone(),
                    count: self.sems[sem as usize],
                    needs: value,
                }),
                _ => None,
            })
            .collect();
        Err(Error::ProgramDeadlock {
            at_ps: now.0,
            waiting,
        })
    }

    /// Issues unit `u`'s pending bursts as its link and the controller's queues allow.
    fn issue(&mut self, u: usize, now: Picos, q: &mut EventQueue<Wake>) -> Result<()> {
        let burst = self.burst;
        loop {
            let unit = &mut self.units[u];
            let Some((dir, addr)) = unit.bursts.peek(burst) else {
                return Ok(());
            };
            if unit.next_issue > now {
                let at = unit.next_issue;
                if !unit.issue_scheduled {
                    unit.issue_scheduled = true;
                    q.schedule(at, ComponentId(u as u32), Wake::Issue)?;
                }
                return Ok(());
            }
            let cycle = self.dram.next_cycle_at_or_after(now);
            match self.mem.submit(dir, addr, cycle)? {
                Submit::Accepted(id) => {
                    let at = self.dram.time_of(cycle);
                    let unit = &mut self.units[u];
                    unit.bursts.advance(burst);
                    match dir {
                        crate::Direction::Read => {
                            unit.read_bytes += burst;
                            unit.outstanding += 1;
                            self.owner.insert(id.0, u);
                        }
                        crate::Direction::Write => {
                            // Posted: done for the engine once the controller holds it.
                            unit.write_bytes += burst;
                            unit.mem_done = Picos(unit.mem_done.0.max(at.0 + unit.link_latency.0));
                            self.pending_writes += 1;
                        }
                    }
                    unit.insn_bytes += burst;
                    unit.next_issue = Picos(now.0.max(unit.next_issue.0) + unit.link_ps_per_burst);
                    self.wake_memory(cycle.0, q)?;
                }
                Submit::QueueFull => {
                    self.retry.insert(u);
                    self.wake_memory(cycle.0, q)?;
                    return Ok(());
                }
            }
        }
    }

    /// Schedules the end of unit `u`'s instruction once its memory work is done.
    fn maybe_finish(&mut self, u: usize, now: Picos, q: &mut EventQueue<Wake>) -> Result<()> {
        let unit = &mut self.units[u];
        if unit.state != State::Running
            || unit.finish_at.is_some()
            || unit.phase_at
            || !unit.bursts.is_empty()
            || unit.outstanding > 0
        {
            return Ok(());
        }
        if unit
            .pim
            .as_ref()
            .is_some_and(|p| p.job.is_some() || !p.post.is_empty())
        {
            unit.phase_at = true;
            let at = Picos(unit.mem_done.0.max(now.0));
            return q.schedule(at, ComponentId(u as u32), Wake::Phase);
        }
        let at = unit
            .clock
            .edge_at_or_after(Picos(unit.compute_end.0.max(unit.mem_done.0).max(now.0)));
        unit.finish_at = Some(at);
        q.schedule(at, ComponentId(u as u32), Wake::Step)
    }

    /// Moves a PIM unit to its next phase: submit the job, or write results back.
    fn phase(&mut self, u: usize, now: Picos, q: &mut EventQueue<Wake>) -> Result<()> {
        let unit = &mut self.units[u];
        unit.phase_at = false;
        let Engine::Pim(ch) = unit.engine else {
            return Ok(());
        };
        let Some(plan) = unit.pim.as_mut() else {
            return Ok(());
        };
        if let Some(job) = plan.job.take() {
            let cycle = self.dram.next_cycle_at_or_after(now);
            let id = self.mem.submit_pim(u32::from(ch), job, cycle)?;
            unit.outstanding += 1;
            self.owner.insert(id.0, u);
            return self.wake_memory(cycle.0, q);
        }
        for t in std::mem::take(&mut plan.post) {
            unit.bursts.push(t);
        }
        unit.pim = None;
        self.issue(u, now, q)?;
        self.maybe_finish(u, now, q)
    }

    fn tick(&mut self, cycle: u64, now: Picos, q: &mut EventQueue<Wake>) -> Result<()> {
        if self.mem_at != Some(cycle) {
            return Ok(());
        }
        self.mem_at = None;
        let t = self.mem.tick(Cycles(cycle))?;
        let done: Vec<_> = self.mem.drain_completions().collect();
        for c in done {
            let at = self.dram.time_of(c.done);
            if c.kind != CompletionKind::Pim
                && let Some(v) = self.completions.as_mut()
            {
                v.push((at, self.burst));
            }
            if c.kind == CompletionKind::Write {
                self.pending_writes -= 1;
                self.drained = Picos(self.drained.0.max(at.0));
                continue;
            }
            let Some(u) = self.owner.remove(&c.id.0) else {
                continue;
            };
            let unit = &mut self.units[u];
            unit.outstanding -= 1;
            unit.mem_done = Picos(unit.mem_done.0.max(at.0 + unit.link_latency.0));
            self.maybe_finish(u, now, q)?;
        }
        if t.freed && !self.retry.is_empty() {
            let waiting: Vec<_> = std::mem::take(&mut self.retry).into_iter().collect();
            for u in waiting {
                self.issue(u, now, q)?;
                self.maybe_finish(u, now, q)?;
            }
        }
        if let Some(n) = t.next {
            self.wake_memory(n.0, q)?;
        }
        Ok(())
    }
}

impl World<Wake> for Machine<'_> {
    fn handle(&mut self, e: Event<Wake>, q: &mut EventQueue<Wake>) -> Result<()> {
        match e.payload {
            Wake::Tick(c) => self.tick(c, e.time, q),
            Wake::Step => self.step(e.target.0 as usize, e.time, q),
            Wake::Phase => self.phase(e.target.0 as usize, e.time, q),
            Wake::Issue => {
                let u = e.target.0 as usize;
                self.units[u].issue_scheduled = false;
                self.issue(u, e.time, q)?;
                self.maybe_finish(u, e.time, q)
            }
        }
    }

    fn finished(&self) -> bool {
        // `is_idle`: a channel still in PIM mode leaves it before the run ends.
        self.done == self.units.len() && self.pending_writes == 0 && self.mem.is_idle()
    }

    fn pending(&self) -> String {
        let mut parts: Vec<_> = self
            .units
            .iter()
            .filter(|u| u.state != State::Done)
            .map(|u| {
                format!(
                    "{} at #{} ({:?}, {} reads outstanding)",
                    u.engine, u.pc, u.state, u.outstanding
                )
            })
            .collect();
        if self.pending_writes > 0 {
            parts.push(format!(
                "{} posted writes not yet in DRAM",
                self.pending_writes
            ));
        }
        parts.join(", ")
    }
}

/// Verifies `program` against `arch`, runs it, and reports.
pub fn simulate(program: &Program, arch: &Arch, opts: &SimOptions) -> Result<SimOutput> {
    triad_isa::verify(program, arch)?;
    let mem_opts = MemoryOptions {
        record_log: opts.check || opts.trace,
        pim: arch.pim.is_some(),
    };
    let mem = MemorySystem::new(arch, mem_opts)?;
    let units = program
        .streams
        .iter()
        .enumerate()
        .map(|(i, s)| Unit::new(arch, program, i, s.engine))
        .collect::<Result<Vec<_>>>()?;
    let mut m = Machine {
        program,
        arch,
        dram: mem.clock(),
        burst: arch.dram.burst_bytes(),
        mem,
        units,
        mem_at: None,
        owner: HashMap::new(),
        sems: program.sems.iter().map(|s| u64::from(s.init)).collect(),
        owned: vec![crate::PimOwned::new(); arch.dram.channels as usize],
        retry: BTreeSet::new(),
        done: 0,
        pending_writes: 0,
        drained: Picos(0),
        labels: BTreeMap::new(),
        spans: opts.trace.then(Vec::new),
        completions: opts.trace.then(Vec::new),
        data: match &opts.functional {
            Some(dir) => {
                let mut d = crate::DataMemory::new(arch);
                d.load_inits(program, dir)?;
                Some(d)
            }
            None => None,
        },
    };
    let mut lp: EventLoop<Wake> = EventLoop::new();
    if opts.event_limit > 0 {
        lp.event_limit = opts.event_limit;
    }
    for u in 0..m.units.len() {
        lp.queue
            .schedule(Picos(0), ComponentId(u as u32), Wake::Step)?;
    }
    if arch.dram.refresh != triad_isa::RefreshMode::Off {
        m.wake_memory(0, &mut lp.queue)?;
    }
    let summary = lp.run(&mut m)?;
    // The program ends when its last engine finishes, its last write is in DRAM and
    // every channel has left PIM mode.
    let total = m
        .units
        .iter()
        .map(|u| u.end)
        .chain([m.drained, m.dram.time_of(m.mem.pim_mode_end())])
        .max()
        .unwrap_or(Picos(0));
    let report = m.report(total, summary, opts);
    let trace = match (m.spans.take(), m.completions.take()) {
        (Some(spans), Some(done)) => Some(chrome::Trace::build(
            program,
            arch,
            &m.units,
            spans,
            &done,
            m.mem.command_log().as_ref(),
            total,
        )),
        _ => None,
    };
    Ok(SimOutput {
        report,
        trace,
        data: m.data.take(),
    })
}

impl Machine<'_> {
    fn report(&self, total: Picos, summary: crate::RunSummary, opts: &SimOptions) -> SimReport {
        let engines = self
            .units
            .iter()
            .map(|u| EngineReport {
                engine: u.engine.to_string(),
                instructions: u.instructions,
                busy_ps: u.busy,
                stalled_ps: u.stalled,
                idle_ps: total.0.saturating_sub(u.busy + u.stalled),
                ops: u.ops,
                spm_bytes: u.spm_bytes,
                dram_read_bytes: u.read_bytes,
                dram_write_bytes: u.write_bytes,
            })
            .collect();
        let stats = self.mem.stats();
        let secs = total.0 as f64 * 1e-12;
        let dram = DramReport {
            reads: stats.reads,
            writes: stats.writes,
            bytes: stats.bytes.0,
            bandwidth_gb_per_s: if secs > 0.0 {
                stats.bytes.0 as f64 / secs / 1e9
            } else {
                0.0
            },
            peak_bandwidth_gb_per_s: stats.peak_bandwidth_gb_per_s,
            row_hit_rate: stats.row_hit_rate,
            pim_requests: stats.pim_requests,
            commands: stats.commands.clone(),
        };
        let mut dynamic = cost::EngineEnergy::default();
        for u in &self.units {
            dynamic += u.energy;
        }
        let d = self.mem.energy_until(total);
        let e = &self.arch.energy.static_mw;
        let ps = total.0 as f64;
        // static_mw * ps * 1e-3 = pJ (mW x ps = 1e-15 J = 1e-3 pJ).
        let cpu_static = if self.arch.cpu.is_some() { e.cpu } else { 0.0 };
        let npu_static = if self.arch.npu.is_some() { e.npu } else { 0.0 };
        let static_pj =
            (cpu_static + npu_static) * ps * 1e-3 + d.background_dram.0 + d.background_pim.0;
        let mut energy = EnergyReport {
            cpu_pj: dynamic.cpu.0,
            npu_array_pj: dynamic.npu_array.0,
            npu_vector_pj: dynamic.npu_vector.0,
            sram_pj: dynamic.sram.0,
            dram_core_pj: (d.act + d.pre + d.rd + d.wr + d.refresh).0,
            dram_io_pj: d.io.0,
            pim_pj: (d.pim_mac + d.pim_ewop).0,
            links_pj: dynamic.links.0,
            static_pj,
            total_pj: 0.0,
        };
        energy.total_pj = energy.parts().iter().map(|p| p.1).sum();
        let timing_violations = opts.check.then(|| {
            self.mem.command_log().map_or(0, |log| {
                crate::check(
                    self.arch,
                    &log,
                    Cycles(self.dram.next_cycle_at_or_after(total).0),
                )
                .len() as u64
            })
        });
        SimReport {
            arch: self.arch.name.clone(),
            model: self.program.meta.model.clone(),
            total_ps: total.0,
            seconds: secs,
            events: summary.events,
            stop: summary.stop,
            engines,
            dram,
            energy,
            labels: self.labels.clone(),
            timing_violations,
        }
    }
}
