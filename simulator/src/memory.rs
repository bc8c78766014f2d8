//! The memory system: one controller per channel behind an address mapper, each
//! with its PIM controller running [`PimJob`]s, completion reporting, statistics
//! and the command log.
//!
//! Time here is the DRAM command clock (cycles of `dram.tck_ps`); [`MemorySystem::clock`]
//! converts to picoseconds for the event engine. A client (trace driver, DMA or NPU
//! engine) calls [`MemorySystem::submit`] / [`MemorySystem::submit_pim`], calls
//! [`MemorySystem::tick`] at the cycle it returns, and collects [`Completion`]s,
//! which are reported as soon as their last-data cycle is known (when the column
//! command issues), with that cycle in `done`. Tick from cycle 0 on and at every
//! cycle `tick` asks for, even while no request is outstanding: refresh is issued
//! on those ticks (a first tick long after cycle 0 would find refreshes overdue).
//!
//! Writes below the controller's drain thresholds wait for more traffic until the
//! client calls [`MemorySystem::finish_input`].
//!
//! Failure: bad addresses, PIM jobs on a PIM-less run or for a missing channel are
//! errors; a full queue
//! is [`Submit::QueueFull`]; a scheduling deadlock (work outstanding, nothing ever
//! issuable) is [`Error::Deadlock`], a simulator bug.

use crate::dram::bank::BankState;
use crate::dram::channel::{Channel, QueueConfig};
use crate::dram::command::{CommandKind, CommandLog};
use crate::dram::energy::energy_of;
use crate::dram::stats::{LatencyStats, MemStats};
use crate::error::{Error, Result};
use crate::event::Clock;
use crate::pim::PimJob;
use std::collections::BTreeMap;
use triad_isa::{AddressMapper, Arch, Bytes, Cycles, Location, Picos};

/// Kind of an ordinary memory access (one burst).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Read one burst.
    Read,
    /// Write one burst.
    Write,
}

/// Identifies a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Outcome of [`MemorySystem::submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submit {
    /// Queued under this id.
    Accepted(RequestId),
    /// The channel's queue is full; retry after a tick that freed a slot.
    QueueFull,
}

/// What finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    /// A read.
    Read,
    /// A write.
    Write,
    /// A PIM job (its channel's commands done).
    Pim,
}

/// A finished request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Which request.
    pub id: RequestId,
    /// What it was.
    pub kind: CompletionKind,
    /// Cycle it entered the controller.
    pub arrival: Cycles,
    /// Cycle its last data beat (or last PIM result) is done.
    pub done: Cycles,
    /// For reads and writes: served without an ACT/PRE of its own.
    pub row_hit: bool,
}

/// Options of a memory system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryOptions {
    /// Record every command for the timing checker.
    pub record_log: bool,
    /// Accept PIM requests and charge PIM static power (false = DRAM only).
    pub pim: bool,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            record_log: true,
            pim: true,
        }
    }
}

/// Result of one [`MemorySystem::tick`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemTick {
    /// A queue slot was freed: a blocked client may retry.
    pub freed: bool,
    /// Next cycle the memory system must be ticked (`None`: nothing to do until a
    /// new request arrives).
    pub next: Option<Cycles>,
}

/// The whole DRAM (+ PIM) memory system.
#[derive(Debug)]
pub struct MemorySystem {
    arch: Arch,
    opts: MemoryOptions,
    mapper: AddressMapper,
    channels: Vec<Channel>,
    wake: Vec<Option<u64>>,
    next_id: u64,
    /// Arrival cycle of each PIM job in flight.
    pim_jobs: BTreeMap<u64, u64>,
    completions: Vec<Completion>,
    reads: u64,
    writes: u64,
    pim_done: u64,
    lat_sum: u64,
    lat_min: u64,
    lat_max: u64,
    hits: u64,
    last_done: u64,
    /// Lazy wake-ups ([`MemorySystem::set_lazy_wake_ups`]).
    lazy: bool,
}

impl MemorySystem {
    /// A memory system for `arch`.
    pub fn new(arch: &Arch, opts: MemoryOptions) -> Result<MemorySystem> {
        let mapper = AddressMapper::new(&arch.name, &arch.dram)?;
        let c = &arch.dram.controller;
        let bad = |field: &str, message: String| Error::Arch {
            arch: arch.name.clone(),
            field: field.to_string(),
            message,
        };
        if c.read_queue == 0 || c.write_queue == 0 || c.command_queue == 0 {
            return Err(bad(
                "dram.controller",
                "queue depths must be at least 1".into(),
            ));
        }
        if c.row_hit_cap == triad_isa::RowHitCap::Hits(0) {
            return Err(bad(
                "dram.controller.row_hit_cap",
                "must be at least 1 or \"none\"".into(),
            ));
        }
        let q = QueueConfig {
            read_queue: c.read_queue as usize,
            write_queue: c.write_queue as usize,
            per_rank: c.queue_structure == triad_isa::QueueStructure::PerRank,
            command_queue: c.command_queue as usize,
            row_hit_cap: c.row_hit_cap,
            drain_high: (c.write_drain_high as usize).clamp(1, c.write_queue as usize),
            drain_low: c.write_drain_low as usize,
            drain_idle: c.write_drain_idle as usize,
            dual_command: c.dual_command,
        };
        let mut arch = arch.clone();
        if !opts.pim {
            arch.pim = None;
        }
        let channels = (0..arch.dram.channels)
            .map(|i| Channel::new(i, &arch, q, opts.record_log))
            .collect::<Vec<_>>();
        let first_wake = match arch.dram.refresh {
            triad_isa::RefreshMode::Off => None,
            _ => Some(0),
        };
        Ok(MemorySystem {
            wake: vec![first_wake; channels.len()],
            channels,
            opts,
            mapper,
            arch,
            next_id: 0,
            pim_jobs: BTreeMap::new(),
            completions: Vec::new(),
            reads: 0,
            writes: 0,
            pim_done: 0,
            lat_sum: 0,
            lat_min: u64::MAX,
            lat_max: 0,
            hits: 0,
            last_done: 0,
            lazy: false,
        })
    }

    /// The arch simulated (without PIM when PIM is disabled).
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// The DRAM command clock.
    pub fn clock(&self) -> Clock {
        Clock::new(Picos(self.arch.dram.tck_ps))
    }

    /// The address mapper.
    pub fn mapper(&self) -> &AddressMapper {
        &self.mapper
    }

    /// Queues a one-burst access at cycle `now` (the caller ticks at `now` next).
    pub fn submit(&mut self, access: Direction, addr: u64, now: Cycles) -> Result<Submit> {
        let loc = self.mapper.decode(addr)?;
        let ch = &mut self.channels[loc.channel as usize];
        let write = access == Direction::Write;
        if !ch.has_room(write) {
            return Ok(Submit::QueueFull);
        }
        let id = self.next_id;
        self.next_id += 1;
        ch.enqueue(id, addr, loc, now.0, write);
        let w = &mut self.wake[loc.channel as usize];
        *w = Some(w.map_or(now.0, |x| x.min(now.0)));
        Ok(Submit::Accepted(RequestId(id)))
    }

    /// Says that no request will be submitted any more, so that writes waiting
    /// below the drain thresholds are written once a channel has nothing else to
    /// do. A client that stops submitting must call it, or those writes never
    /// complete (as in DRAMsim3). Call [`MemorySystem::tick`] at the current cycle
    /// afterwards.
    pub fn finish_input(&mut self, now: Cycles) {
        for (ch, w) in self.channels.iter_mut().zip(&mut self.wake) {
            if !ch.input_done {
                ch.input_done = true;
                *w = Some(w.map_or(now.0, |x| x.min(now.0)));
            }
        }
    }

    /// Queues PIM job `job` (built for `channel` by [`PimJob::from_instruction`]) on
    /// channel `channel`'s PIM controller at cycle `now`. It completes with a
    /// [`CompletionKind::Pim`] when its last command's effect ends (a job without
    /// commands completes at `now`). Jobs of one channel run in submission order.
    pub fn submit_pim(&mut self, channel: u32, mut job: PimJob, now: Cycles) -> Result<RequestId> {
        let fail = |message: String| Error::Pim {
            request: format!("`{}` on pim.{channel}", job.mnemonic()),
            message,
        };
        if !self.opts.pim {
            return Err(fail("PIM is disabled (DRAM-only run)".into()));
        }
        if job.channel() != channel {
            return Err(fail(format!(
                "the job was built for channel {}",
                job.channel()
            )));
        }
        let Some(ch) = self.channels.get_mut(channel as usize) else {
            return Err(fail(format!(
                "channel {channel} is beyond the arch's {} channels",
                self.channels.len()
            )));
        };
        let id = self.next_id;
        self.next_id += 1;
        if job.is_empty() {
            self.pim_done += 1;
            self.completions.push(Completion {
                id: RequestId(id),
                kind: CompletionKind::Pim,
                arrival: now,
                done: now,
                row_hit: false,
            });
            return Ok(RequestId(id));
        }
        job.id = id;
        ch.pim.jobs.push_back(job);
        let w = &mut self.wake[channel as usize];
        *w = Some(w.map_or(now.0, |x| x.min(now.0)));
        self.pim_jobs.insert(id, now.0);
        Ok(RequestId(id))
    }

    /// Lets [`MemorySystem::tick`] ask for a lower bound of the next cycle anything
    /// can happen instead of that cycle exactly: fewer ticks on saturating traffic
    /// (the cycle after an issue is skipped when nothing can follow it), some ticks
    /// in which nothing happens, the same results, provided the client never
    /// submits a request (or calls [`MemorySystem::finish_input`]) in a cycle after
    /// it ticked that cycle. The trace driver at unlimited issue rate does this.
    pub fn set_lazy_wake_ups(&mut self) {
        self.lazy = true;
        for ch in &mut self.channels {
            ch.lazy = true;
        }
    }

    /// Issues what can issue at cycle `now` on every channel due.
    pub fn tick(&mut self, now: Cycles) -> Result<MemTick> {
        let now = now.0;
        let mut freed = false;
        for (i, ch) in self.channels.iter_mut().enumerate() {
            match self.wake[i] {
                Some(w) if w <= now => {}
                _ => continue,
            }
            let t = ch.tick(now);
            freed |= t.freed;
            self.last_done = self.last_done.max(ch.pim.exit_end);
            self.wake[i] = t.next;
            let waiting_writes = !ch.input_done
                && ch.reads.is_empty()
                && ch.queued_commands() == 0
                && ch.pim.jobs.is_empty();
            if t.next.is_none() && !ch.idle() && !waiting_writes {
                return Err(Error::Deadlock {
                    cycle: now,
                    message: format!(
                        "channel {i}: {} reads, {} writes, {} commands, {} PIM jobs queued, nothing issuable",
                        ch.reads.len(),
                        ch.writes.len(),
                        ch.queued_commands(),
                        ch.pim.jobs.len()
                    ),
                });
            }
            for d in ch.done.drain(..) {
                let kind = if d.write {
                    self.writes += 1;
                    CompletionKind::Write
                } else {
                    self.reads += 1;
                    let lat = d.done - d.arrival;
                    self.lat_sum += lat;
                    self.lat_min = self.lat_min.min(lat);
                    self.lat_max = self.lat_max.max(lat);
                    CompletionKind::Read
                };
                self.hits += u64::from(d.hit);
                self.last_done = self.last_done.max(d.done);
                self.completions.push(Completion {
                    id: RequestId(d.id),
                    kind,
                    arrival: Cycles(d.arrival),
                    done: Cycles(d.done),
                    row_hit: d.hit,
                });
            }
            for (id, last) in ch.pim.done.drain(..) {
                let Some(arrival) = self.pim_jobs.remove(&id) else {
                    continue;
                };
                self.pim_done += 1;
                self.last_done = self.last_done.max(last);
                self.completions.push(Completion {
                    id: RequestId(id),
                    kind: CompletionKind::Pim,
                    arrival: Cycles(arrival),
                    done: Cycles(last),
                    row_hit: false,
                });
            }
        }
        // Lazy wake-ups: a freed slot means the client submits next cycle, before
        // that cycle's tick, so tick then (the client's retry never has to wake
        // the memory earlier than it planned).
        let next = match self.wake.iter().flatten().min() {
            _ if self.lazy && freed => Some(now + 1),
            n => n.copied(),
        };
        Ok(MemTick {
            freed,
            next: next.map(Cycles),
        })
    }

    /// Drains the completions reported so far (the buffer keeps its capacity, so a
    /// steady-state run allocates nothing here).
    pub fn drain_completions(&mut self) -> std::vec::Drain<'_, Completion> {
        self.completions.drain(..)
    }

    /// End of the last PIM mode exit of any channel (0 without modes): a run that
    /// used PIM on a device with modes ends no earlier.
    pub fn pim_mode_end(&self) -> Cycles {
        Cycles(
            self.channels
                .iter()
                .map(|c| c.pim.exit_end)
                .max()
                .unwrap_or(0),
        )
    }

    /// True when nothing is queued or in flight in any channel (a channel still in
    /// PIM mode is not idle: it leaves the mode first).
    pub fn is_idle(&self) -> bool {
        self.channels.iter().all(Channel::idle)
    }

    /// State of the bank at `loc` at cycle `now`.
    pub fn bank_state(&self, loc: &Location, now: Cycles) -> Option<BankState> {
        let d = &self.arch.dram;
        let f = loc.rank * d.banks_per_rank() + loc.bank_group * d.banks_per_group + loc.bank;
        self.channels
            .get(loc.channel as usize)?
            .bank_state(f as usize, now.0)
    }

    /// The commands issued so far, ordered by cycle then channel (`None` when the
    /// log is not recorded).
    pub fn command_log(&self) -> Option<CommandLog> {
        let mut commands = Vec::new();
        for ch in &self.channels {
            commands.extend_from_slice(ch.log.as_deref()?);
        }
        commands.sort_by_key(|c| (c.cycle.0, c.channel));
        Some(CommandLog { commands })
    }

    /// Energy of everything issued so far, with background power charged up to
    /// `elapsed` (a program run charges it to the program's end, not to the last
    /// DRAM completion).
    pub fn energy_until(&self, elapsed: Picos) -> crate::EnergyBreakdown {
        let counts: Vec<_> = self.channels.iter().map(|c| c.counts.clone()).collect();
        energy_of(&self.arch, &counts, elapsed, self.opts.pim)
    }

    /// Statistics up to the last completion.
    pub fn stats(&self) -> MemStats {
        let d = &self.arch.dram;
        let total = self.last_done;
        let time = Cycles(total).at(Picos(d.tck_ps));
        let counts: Vec<_> = self.channels.iter().map(|c| c.counts.clone()).collect();
        let mut commands = BTreeMap::new();
        let mut add = |k: CommandKind, n: u64| {
            if n > 0 {
                *commands.entry(k.mnemonic().to_string()).or_insert(0) += n;
            }
        };
        for c in &counts {
            let b = c.bank_total();
            add(CommandKind::Act, c.act);
            add(CommandKind::Pre, c.pre);
            add(CommandKind::Rd, b.rd);
            add(CommandKind::Wr, b.wr);
            add(CommandKind::RefPb, b.ref_pb);
            add(CommandKind::Ref, c.ref_ab);
            add(CommandKind::ActAb, c.act_ab);
            add(CommandKind::PreAb, c.pre_ab);
            add(CommandKind::MacAb, c.mac_ab);
            add(CommandKind::MacSb, c.mac_sb);
            add(CommandKind::EwMul, c.ewmul);
            add(CommandKind::EwAdd, c.ewadd);
            add(CommandKind::EwLoad, c.ew_load);
            add(CommandKind::ActUb, c.act_ub);
            add(CommandKind::PreUb, c.pre_ub);
            add(CommandKind::EwStore, c.ew_store);
            add(CommandKind::PimEnter, c.pim_enter);
            add(CommandKind::PimExit, c.pim_exit);
            add(CommandKind::WrGb, c.wr_gb);
            add(CommandKind::WrBias, c.wr_bias);
            add(CommandKind::Af, c.af);
            add(CommandKind::RdMac, c.rd_mac);
            add(CommandKind::RdAf, c.rd_af);
        }
        let bytes = (self.reads + self.writes) * d.burst_bytes();
        let secs = time.0 as f64 * 1e-12;
        let accesses = self.reads + self.writes;
        MemStats {
            arch: self.arch.name.clone(),
            reads: self.reads,
            writes: self.writes,
            pim_requests: self.pim_done,
            total_cycles: Cycles(total),
            time_ps: time,
            bytes: Bytes(bytes),
            bandwidth_gb_per_s: if secs > 0.0 {
                bytes as f64 / secs / 1e9
            } else {
                0.0
            },
            peak_bandwidth_gb_per_s: d.peak_bandwidth_bytes_per_s() / 1e9,
            reachable_bandwidth_gb_per_s: d.reachable_bandwidth_bytes_per_s() / 1e9,
            read_latency: LatencyStats {
                avg: if self.reads > 0 {
                    self.lat_sum as f64 / self.reads as f64
                } else {
                    0.0
                },
                min: Cycles(if self.reads > 0 { self.lat_min } else { 0 }),
                max: Cycles(self.lat_max),
            },
            row_hits: self.hits,
            row_hit_rate: if accesses > 0 {
                self.hits as f64 / accesses as f64
            } else {
                0.0
            },
            commands,
            energy: energy_of(&self.arch, &counts, time, self.opts.pim),
            channels: counts,
        }
    }
}
