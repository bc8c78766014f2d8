//! One channel's memory controller and its devices: read and write queues, FR-FCFS
//! scheduling with a row-hit cap and write draining, refresh, the PIM command
//! stream, and the effect of every issued command on the banks' timing bounds.
//!
//! # Scheduling, per DRAM cycle (at most one command: one command bus)
//! 1. Refresh: a rank whose REF is due stops taking new work, its open banks are
//!    precharged, then REF (REFpb for one bank at a time in per-bank mode).
//! 2. PIM: the head op of the oldest PIM job issues if its timing allows. While the
//!    head op needs open rows (MAC, EWMUL, EWADD) the PIM job holds the banks: ordinary
//!    requests may still hit open rows but may not activate or precharge. On a
//!    device with PIM modes (`tmode_enter` / `tmode_exit`, see `crate::pim`) the
//!    channel first enters PIM mode, serves no ordinary command while in it, and
//!    leaves it when its PIM queue is empty; nothing issues during a switch.
//! 3. Ordinary requests from the active queue (reads, or writes while draining):
//!    the oldest ready row hit first, unless its bank has served `row_hit_cap` hits
//!    in a row and a miss waits for it; otherwise the oldest ready ACT or PRE. A bank
//!    is not precharged while a queued request still hits its row.
//!
//! Write draining: writes are served when the write queue reaches
//! `write_drain_high` or no read waits; draining stops at `write_drain_low` when
//! reads wait, or when the write queue is empty.
//!
//! When nothing can issue, [`Channel::tick`] returns the earliest cycle at which
//! something could, so the event loop skips the cycles in between. Reads are not
//! forwarded from queued writes (a difference from DRAMsim3).

use super::bank::{Bank, BankState};
use super::command::{Command, CommandKind};
use super::energy::ChannelCounts;
use super::timing::Timing;
use std::collections::VecDeque;
use triad_isa::Location;
use triad_isa::{Arch, RefreshMode};

/// Channel geometry in the controller's terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub ranks: usize,
    pub banks_per_group: usize,
    pub banks_per_rank: usize,
    pub banks: usize,
    /// Banks per PIM unit (MAC_AB `sub` selects `flat % sub_banks == sub`).
    pub sub_banks: usize,
}

impl Geometry {
    pub(crate) fn of(arch: &Arch) -> Geometry {
        let d = &arch.dram;
        let banks = d.banks_per_channel() as usize;
        let units = arch
            .pim
            .as_ref()
            .map_or(1, |p| p.units_per_channel(d).max(1)) as usize;
        Geometry {
            ranks: d.ranks as usize,
            banks_per_group: d.banks_per_group as usize,
            banks_per_rank: d.banks_per_rank() as usize,
            banks,
            sub_banks: (banks / units).max(1),
        }
    }

    fn flat(&self, l: &Location) -> usize {
        l.rank as usize * self.banks_per_rank
            + l.bank_group as usize * self.banks_per_group
            + l.bank as usize
    }

    /// (rank, bank group, bank) of a flat bank index.
    fn split(&self, f: usize) -> (u32, u32, u32) {
        let r = f / self.banks_per_rank;
        let w = f % self.banks_per_rank;
        (
            r as u32,
            (w / self.banks_per_group) as u32,
            (w % self.banks_per_group) as u32,
        )
    }
}

/// Queue limits and scheduling caps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueueConfig {
    pub read_queue: usize,
    pub write_queue: usize,
    pub row_hit_cap: u32,
    pub drain_high: usize,
    pub drain_low: usize,
}

/// A queued ordinary request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub id: u64,
    pub loc: Location,
    pub flat: usize,
    pub arrival: u64,
    pub write: bool,
    /// False once an ACT or PRE was issued on its behalf.
    pub hit: bool,
}

/// A finished request, reported by the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Done {
    pub id: u64,
    pub arrival: u64,
    pub done: u64,
    pub write: bool,
    pub hit: bool,
}

#[derive(Clone, Debug, Default)]
struct Rank {
    /// Cycles of the last four ACTs (tFAW), oldest first once full.
    faw: VecDeque<u64>,
    ref_due: u64,
    ref_pending: bool,
    refpb_bank: usize,
}

/// What one call of [`Channel::tick`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChannelTick {
    /// A queue entry was freed (a column command issued).
    pub freed: bool,
    /// Earliest cycle the channel wants to be ticked again, `None` when idle.
    pub next: Option<u64>,
}

/// Earliest-cycle tracker.
struct Wake(Option<u64>);

impl Wake {
    fn at(&mut self, c: u64) {
        self.0 = Some(self.0.map_or(c, |w| w.min(c)));
    }
}

/// One channel: controller state plus device (bank) state.
#[derive(Debug)]
pub(crate) struct Channel {
    id: u32,
    t: Timing,
    g: Geometry,
    q: QueueConfig,
    refresh: RefreshMode,
    banks: Vec<Bank>,
    ranks: Vec<Rank>,
    bus_free: u64,
    last_rd: Option<u64>,
    col_after_pim: u64,
    pub reads: Vec<Pending>,
    pub writes: Vec<Pending>,
    write_mode: bool,
    pub pim: PimState,
    last_issue: Option<u64>,
    hit_scratch: Vec<bool>,
    miss_scratch: Vec<bool>,
    pub counts: ChannelCounts,
    pub log: Option<Vec<Command>>,
    pub done: Vec<Done>,
}

impl Channel {
    pub(crate) fn new(id: u32, arch: &Arch, q: QueueConfig, record: bool) -> Channel {
        let t = Timing::of(arch);
        let g = Geometry::of(arch);
        let first_refresh = match arch.dram.controller.first_refresh_ck {
            Some(c) => u64::from(c),
            None if arch.dram.refresh == RefreshMode::PerBank => t.refi_pb,
            None => t.refi,
        };
        let ranks = (0..g.ranks)
            .map(|_| Rank {
                ref_due: first_refresh,
                ..Rank::default()
            })
            .collect();
        Channel {
            id,
            t,
            g,
            q,
            refresh: arch.dram.refresh,
            banks: vec![Bank::default(); g.banks],
            ranks,
            bus_free: 0,
            last_rd: None,
            col_after_pim: 0,
            reads: Vec::with_capacity(q.read_queue),
            writes: Vec::with_capacity(q.write_queue),
            write_mode: false,
            pim: PimState::default(),
            last_issue: None,
            hit_scratch: vec![false; g.banks],
            miss_scratch: vec![false; g.banks],
            counts: ChannelCounts::new(g.banks),
            log: record.then(Vec::new),
            done: Vec::new(),
        }
    }

    /// True when the queue for this kind of access has room.
    pub(crate) fn has_room(&self, write: bool) -> bool {
        if write {
            self.writes.len() < self.q.write_queue
        } else {
            self.reads.len() < self.q.read_queue
        }
    }

    /// Queues a request (the caller checked [`Channel::has_room`]).
    pub(crate) fn enqueue(&mut self, id: u64, loc: Location, now: u64, write: bool) {
        let p = Pending {
            id,
            loc,
            flat: self.g.flat(&loc),
            arrival: now,
            write,
            hit: true,
        };
        if write {
            self.writes.push(p);
        } else {
            self.reads.push(p);
        }
    }

    /// True when no request or PIM job is outstanding.
    pub(crate) fn idle(&self) -> bool {
        self.reads.is_empty()
            && self.writes.is_empty()
            && self.pim.jobs.is_empty()
            && !self.pim.mode
    }

    /// State of flat bank `f` at `now`.
    pub(crate) fn bank_state(&self, f: usize, now: u64) -> Option<BankState> {
        self.banks.get(f).map(|b| b.state_at(now))
    }

    /// Issues at most one command at cycle `now`.
    pub(crate) fn tick(&mut self, now: u64) -> ChannelTick {
        if self.last_issue == Some(now) {
            return ChannelTick {
                freed: false,
                next: Some(now + 1),
            };
        }
        if now < self.pim.busy_until {
            return ChannelTick {
                freed: false,
                next: Some(self.pim.busy_until),
            };
        }
        let mut wake = Wake(None);
        if let Some(freed) = self
            .refresh_step(now, &mut wake)
            .or_else(|| self.pim_step(now, &mut wake))
            .or_else(|| self.request_step(now, &mut wake))
        {
            self.last_issue = Some(now);
            return ChannelTick {
                freed,
                next: Some(now + 1),
            };
        }
        let mut next = wake.0;
        if self.refresh != RefreshMode::Off {
            for r in &self.ranks {
                if !r.ref_pending {
                    next = Some(next.map_or(r.ref_due, |n| n.min(r.ref_due)));
                }
            }
        }
        ChannelTick {
            freed: false,
            next: next.map(|n| n.max(now + 1)),
        }
    }

    fn rank_banks(&self, r: usize) -> std::ops::Range<usize> {
        r * self.g.banks_per_rank..(r + 1) * self.g.banks_per_rank
    }

    /// True when an ordinary command may not touch flat bank `f` (refresh pending).
    fn refresh_blocks(&self, f: usize) -> bool {
        let r = f / self.g.banks_per_rank;
        let rank = &self.ranks[r];
        match self.refresh {
            RefreshMode::Off => false,
            RefreshMode::AllBank => rank.ref_pending,
            RefreshMode::PerBank => {
                rank.ref_pending && rank.refpb_bank + r * self.g.banks_per_rank == f
            }
        }
    }

    fn refresh_step(&mut self, now: u64, wake: &mut Wake) -> Option<bool> {
        if self.refresh == RefreshMode::Off {
            return None;
        }
        for r in 0..self.g.ranks {
            if !self.ranks[r].ref_pending {
                if now < self.ranks[r].ref_due {
                    continue;
                }
                self.ranks[r].ref_pending = true;
            }
            let targets = match self.refresh {
                RefreshMode::PerBank => {
                    let f = r * self.g.banks_per_rank + self.ranks[r].refpb_bank;
                    f..f + 1
                }
                _ => self.rank_banks(r),
            };
            let mut all_closed = true;
            let mut ready = 0;
            for f in targets.clone() {
                let b = &self.banks[f];
                if b.open.is_some() {
                    all_closed = false;
                    if b.next_pre <= now {
                        self.issue_pre(now, f);
                        return Some(false);
                    }
                    wake.at(b.next_pre);
                } else {
                    ready = ready.max(b.next_ref);
                }
            }
            if !all_closed {
                continue;
            }
            if ready > now {
                wake.at(ready);
                continue;
            }
            let rank = &mut self.ranks[r];
            rank.ref_pending = false;
            if self.refresh == RefreshMode::PerBank {
                rank.ref_due += self.t.refi_pb;
                rank.refpb_bank = (rank.refpb_bank + 1) % self.g.banks_per_rank;
                let f = targets.start;
                self.banks[f].refresh(now, self.t.rfc_pb);
                self.counts.banks[f].ref_pb += 1;
                self.emit(now, CommandKind::RefPb, f, 0, 0);
            } else {
                rank.ref_due += self.t.refi;
                for f in targets.clone() {
                    self.banks[f].refresh(now, self.t.rfc);
                }
                self.counts.ref_ab += 1;
                self.emit(now, CommandKind::Ref, targets.start, 0, 0);
            }
            return Some(false);
        }
        None
    }

    fn faw_ready(&self, r: usize) -> u64 {
        let w = &self.ranks[r].faw;
        if w.len() >= 4 {
            w[w.len() - 4] + self.t.faw
        } else {
            0
        }
    }

    fn col_ready(&self, write: bool, b: &Bank) -> u64 {
        let (bank, lat) = if write {
            (b.next_wr, self.t.cwl)
        } else {
            (b.next_rd, self.t.cl)
        };
        bank.max(self.bus_free.saturating_sub(lat))
            .max(self.col_after_pim)
    }

    fn request_step(&mut self, now: u64, wake: &mut Wake) -> Option<bool> {
        if self.write_mode {
            if self.writes.is_empty()
                || (self.writes.len() <= self.q.drain_low && !self.reads.is_empty())
            {
                self.write_mode = false;
            }
        } else if !self.writes.is_empty()
            && (self.writes.len() >= self.q.drain_high || self.reads.is_empty())
        {
            self.write_mode = true;
        }
        if self.pim.mode {
            // No ordinary command in PIM mode; the PIM controller leaves it once its
            // queue is empty.
            return None;
        }
        let write = self.write_mode;
        let holds = self.pim_holds_banks();
        let cap = self.q.row_hit_cap;
        let queue = if write { &self.writes } else { &self.reads };
        if queue.is_empty() {
            return None;
        }
        self.hit_scratch.fill(false);
        self.miss_scratch.fill(false);
        for p in queue {
            if self.banks[p.flat].open == Some(p.loc.row) {
                self.hit_scratch[p.flat] = true;
            } else {
                self.miss_scratch[p.flat] = true;
            }
        }
        let mut col: Option<usize> = None;
        let mut row_cmd: Option<(usize, bool)> = None;
        for (i, p) in queue.iter().enumerate() {
            if self.refresh_blocks(p.flat) {
                continue;
            }
            let b = &self.banks[p.flat];
            match b.open {
                Some(row) if row == p.loc.row => {
                    if b.hit_streak >= cap && self.miss_scratch[p.flat] {
                        continue;
                    }
                    let ready = self.col_ready(write, b);
                    if ready <= now {
                        col = Some(i);
                        break;
                    }
                    wake.at(ready);
                }
                Some(_) => {
                    if holds
                        || (self.hit_scratch[p.flat] && b.hit_streak < cap)
                        || row_cmd.is_some()
                    {
                        continue;
                    }
                    if b.next_pre <= now {
                        row_cmd = Some((i, false));
                    } else {
                        wake.at(b.next_pre);
                    }
                }
                None => {
                    if holds || row_cmd.is_some() {
                        continue;
                    }
                    let ready = b.next_act.max(self.faw_ready(p.loc.rank as usize));
                    if ready <= now {
                        row_cmd = Some((i, true));
                    } else {
                        wake.at(ready);
                    }
                }
            }
        }
        if let Some(i) = col {
            let p = if write {
                self.writes.remove(i)
            } else {
                self.reads.remove(i)
            };
            self.issue_column(now, &p);
            return Some(true);
        }
        let (i, act) = row_cmd?;
        let p = if write {
            &mut self.writes[i]
        } else {
            &mut self.reads[i]
        };
        p.hit = false;
        let (f, row) = (p.flat, p.loc.row);
        if act {
            self.issue_act(now, f, row);
        } else {
            self.issue_pre(now, f);
        }
        Some(false)
    }
}

mod issue;
mod pim;

pub(crate) use pim::PimState;
