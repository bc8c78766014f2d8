//! One engine's stream walker: where it is in its stream, what its running
//! instruction still waits for, and what it has spent (time, energy, bytes).
//! The [`super::Machine`] drives it; the cost of each instruction comes from
//! [`super::cost`].

use super::bursts::BurstQueue;
use super::cost::{Cost, EngineEnergy};
use crate::error::{Error, Result};
use crate::event::Clock;
use triad_isa::{Arch, Engine, Picos, Program};

/// Name of the label of instructions before a stream's first label.
pub(crate) const UNLABELLED: &str = "(unlabelled)";

/// Where a unit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// About to fetch (a `Step` is scheduled).
    Ready,
    /// Executing the instruction at `pc`.
    Running,
    /// Blocked in `wait` since `since`.
    Blocked {
        /// Semaphore index.
        sem: u32,
        /// Value the wait needs.
        value: u32,
        /// When it blocked.
        since: Picos,
    },
    /// Past its last instruction.
    Done,
}

/// One executed instruction, for the trace.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    /// Unit index.
    pub unit: usize,
    /// Instruction mnemonic.
    pub name: &'static str,
    /// Its label.
    pub label: String,
    /// Start.
    pub start: Picos,
    /// End.
    pub end: Picos,
    /// Dynamic energy.
    pub energy_pj: f64,
}

/// One engine.
#[derive(Debug)]
pub(crate) struct Unit {
    pub engine: Engine,
    pub stream: usize,
    pub clock: Clock,
    pub pc: usize,
    pub state: State,
    /// Link pacing: picoseconds between bursts (0 = no link limit) and latency.
    pub link_ps_per_burst: u64,
    pub link_latency: Picos,
    pub next_issue: Picos,
    pub issue_scheduled: bool,
    pub bursts: BurstQueue,
    pub outstanding: u64,
    /// When the running instruction's last burst completes (plus link latency).
    pub mem_done: Picos,
    pub start: Picos,
    pub compute_end: Picos,
    pub finish_at: Option<Picos>,
    /// A PIM phase event is scheduled.
    pub phase_at: bool,
    /// The rest of a running PIM instruction.
    pub pim: Option<super::pim::PimPlan>,
    pending_energy: EngineEnergy,
    pub insn_bytes: u64,
    /// Totals.
    pub instructions: u64,
    pub busy: u64,
    pub stalled: u64,
    pub ops: u64,
    pub spm_bytes: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub energy: EngineEnergy,
    pub end: Picos,
    /// Label cursor: index into the stream's labels of the next label to pass.
    next_label: usize,
    label: String,
}

impl Unit {
    /// The unit running stream `stream` of `program` on `engine`.
    pub fn new(arch: &Arch, program: &Program, stream: usize, engine: Engine) -> Result<Unit> {
        let missing = || Error::Program {
            message: format!("{engine}: the arch `{}` has no such engine", arch.name),
        };
        let burst = arch.dram.burst_bytes();
        let (tck, link) = match engine {
            Engine::Cpu(n) => {
                let cpu = arch.cpu.as_ref().ok_or_else(missing)?;
                let c = cpu.cluster_of(u32::from(n)).ok_or_else(missing)?;
                (c.tck_ps, Some(&arch.links.cpu_dram))
            }
            Engine::NpuMx | Engine::NpuVec => (arch.npu.as_ref().ok_or_else(missing)?.tck_ps, None),
            Engine::Dma(_) => (
                arch.npu.as_ref().ok_or_else(missing)?.tck_ps,
                Some(&arch.links.npu_dram),
            ),
            Engine::Pim(_) => (arch.pim.as_ref().ok_or_else(missing)?.tck_ps, None),
        };
        let (ps_per_burst, latency) = match link {
            Some(l) if l.bandwidth_gb_per_s > 0.0 => (
                // bytes / (GB/s) = ns; x1000 = ps. Rounded up to whole picoseconds.
                (burst as f64 * 1000.0 / l.bandwidth_gb_per_s).ceil() as u64,
                l.latency(),
            ),
            Some(l) => (0, l.latency()),
            None => (0, Picos(0)),
        };
        Ok(Unit {
            engine,
            stream,
            clock: Clock::new(Picos(tck)),
            pc: 0,
            state: State::Ready,
            link_ps_per_burst: ps_per_burst,
            link_latency: latency,
            next_issue: Picos(0),
            issue_scheduled: false,
            bursts: BurstQueue::default(),
            outstanding: 0,
            mem_done: Picos(0),
            start: Picos(0),
            compute_end: Picos(0),
            finish_at: None,
            phase_at: false,
            pim: None,
            pending_energy: EngineEnergy::default(),
            insn_bytes: 0,
            instructions: 0,
            busy: 0,
            stalled: 0,
            ops: 0,
            spm_bytes: 0,
            read_bytes: 0,
            write_bytes: 0,
            energy: EngineEnergy::default(),
            end: Picos(0),
            next_label: 0,
            label: UNLABELLED.to_string(),
        })
        .map(|mut u| {
            u.advance_label(program);
            u
        })
    }

    fn advance_label(&mut self, program: &Program) {
        let labels = &program.streams[self.stream].labels;
        while let Some(l) = labels.get(self.next_label) {
            if l.at as usize > self.pc {
                break;
            }
            self.label = l.name.clone();
            self.next_label += 1;
        }
    }

    /// Starts the instruction at `pc` at `now` with cost `c`.
    pub fn begin(&mut self, now: Picos, c: Cost) {
        self.state = State::Running;
        self.start = now;
        self.compute_end = Picos(now.0 + self.clock.time_of(c.compute).0);
        self.mem_done = now;
        self.finish_at = None;
        self.insn_bytes = 0;
        self.ops += c.ops;
        self.spm_bytes += c.spm_bytes;
        self.pending_energy = c.energy;
        for t in c.traffic {
            self.bursts.push(t);
        }
    }

    /// Ends the running instruction at `now`; returns its label, busy time, dynamic
    /// energy and DRAM bytes for attribution.
    pub fn finish(
        &mut self,
        now: Picos,
        spans: Option<&mut Vec<super::unit::Span>>,
        program: &Program,
        unit: usize,
    ) -> (String, u64, f64, u64) {
        let busy = now.0 - self.start.0;
        self.busy += busy;
        self.energy += self.pending_energy;
        let e = self.pending_energy.total().0;
        if let Some(spans) = spans {
            spans.push(Span {
                unit,
                name: program.streams[self.stream].insns[self.pc].mnemonic(),
                label: self.label.clone(),
                start: self.start,
                end: now,
                energy_pj: e,
            });
        }
        let out = (self.label.clone(), busy, e, self.insn_bytes);
        self.instructions += 1;
        self.pc += 1;
        self.state = State::Ready;
        self.advance_label(program);
        out
    }

    /// Moves the label cursor after `pc` changed outside [`Unit::finish`].
    pub fn sync_label(&mut self, program: &Program) {
        self.advance_label(program);
    }
}
