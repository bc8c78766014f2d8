//! One channel's memory controller and its devices, after DRAMsim3's controller:
//! a read queue and a write buffer (transaction queues), command queues per bank
//! or per rank, refresh, the PIM command stream, and the effect of every issued
//! command on the banks' timing bounds.
//!
//! # Scheduling, per DRAM cycle
//! 1. Refresh: a rank whose REF is due (ranks staggered `tREFI / ranks` apart)
//!    stops issuing from its command queues; its open banks are precharged, then
//!    REF (REFpb for one bank at a time in per-bank mode).
//! 2. PIM: the head op of the oldest PIM job issues if its timing allows. While the
//!    head op needs open rows (MAC, EWMUL, EWADD) the PIM job holds the banks: ordinary
//!    requests may still hit open rows but may not activate or precharge. On a
//!    device with PIM modes (`tmode_enter` / `tmode_exit`, see `crate::pim`) the
//!    channel first enters PIM mode, serves no ordinary command while in it, and
//!    leaves it when its PIM queue is empty; nothing issues during a switch.
//! 3. Ordinary requests: the command queues are visited round robin, starting
//!    after the one that issued last; the first queue holding a ready command
//!    issues its oldest ready one (RD/WR to the open row, else PRE or ACT). A PRE
//!    is issued only for the oldest entry of its bank, and only when no queued
//!    entry still hits the open row or the bank has served `row_hit_cap` column
//!    commands since its ACT. A WR waits for an older RD of the same address.
//!    With `dual_command`, a second command of the other kind (row vs column) may
//!    issue in the same cycle.
//! 4. One request moves from the read queue (or, while draining, the write buffer)
//!    into its command queue, the oldest whose command queue has room. A drain
//!    starts when the write buffer is full, or holds more than `write_drain_idle`
//!    entries while every command queue is empty; it moves the writes present when
//!    it started (stopping early at `write_drain_low` when reads wait, or at a
//!    write whose address a queued read still has to read).
//!
//! Writes below the drain thresholds wait for more traffic (as in DRAMsim3, where
//! they wait for ever); once the client says no request will arrive any more
//! ([`crate::MemorySystem::finish_input`]), a channel with nothing else to do
//! drains its write buffer.
//!
//! A request that arrives at cycle `c` is schedulable from `c + 1` (step 4 runs
//! after step 3), as in DRAMsim3.
//!
//! When nothing can issue, [`Channel::tick`] returns the earliest cycle at which
//! something could, so the event loop skips the cycles in between; a skipped cycle
//! leaves the round-robin position where it was, as a cycle without an issue does
//! in DRAMsim3 (with lazy wake-ups a lower bound of that cycle, and the cycle after
//! an issue only when something can follow; `wake.rs`). Queues with nothing ready
//! are skipped without a look by their quiet bounds ([`Channel::request_step`]).
//! Reads are not forwarded from queued writes, and duplicate addresses
//! are not merged (differences from DRAMsim3, see simulator/README.md).

use super::bank::{Bank, BankState};
use super::command::{Command, CommandKind};
use super::energy::ChannelCounts;
use super::timing::Timing;
use std::collections::VecDeque;
use triad_isa::Location;
use triad_isa::{Arch, RefreshMode, RowHitCap};

/// Channel geometry in the controller's terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub ranks: usize,
    pub banks_per_group: usize,
    pub banks_per_rank: usize,
    pub banks: usize,
    /// Bank groups per rank.
    pub groups_per_rank: usize,
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
            groups_per_rank: d.bank_groups as usize,
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
    pub per_rank: bool,
    pub command_queue: usize,
    pub row_hit_cap: RowHitCap,
    pub drain_high: usize,
    pub drain_low: usize,
    pub drain_idle: usize,
    pub dual_command: bool,
}

/// A queued ordinary request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub id: u64,
    pub addr: u64,
    pub loc: Location,
    pub flat: usize,
    /// Index of its command queue.
    pub queue: usize,
    pub arrival: u64,
    pub write: bool,
}

/// What a queued entry needs next, and whether it may have it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Column,
    Pre,
    Act,
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
    /// Cycles of the last 32 ACTs (t32AW), kept only when the arch has one.
    aw32: VecDeque<u64>,
    /// Earliest next ACT the two windows allow (updated at each ACT).
    window_ready: u64,
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
    /// Per bank group: the earliest RD / WR that the column commands issued in its
    /// rank allow (tCCD_L / tCCD_S, tWTR_L / tWTR_S, tRTW). A bank's bound is the
    /// greater of its own and its group's: one update per group instead of one per
    /// bank of the rank at every column command.
    group_rd: Vec<u64>,
    group_wr: Vec<u64>,
    /// Per bank group: the earliest ACT that the ACTs of its rank allow (tRRD_L /
    /// tRRD_S), when tRC >= tRRD_L makes that exact for the ACT's own bank too.
    group_act: Vec<u64>,
    ranks: Vec<Rank>,
    bus_free: u64,
    last_rd: Option<u64>,
    col_after_pim: u64,
    /// Read transaction queue, oldest first.
    pub reads: VecDeque<Pending>,
    /// Write buffer, oldest first.
    pub writes: VecDeque<Pending>,
    /// Command queues (one per bank or per rank), oldest first.
    cmdq: Vec<Vec<Pending>>,
    /// Entries in all command queues.
    cmdq_len: usize,
    /// Round-robin position: the queue visited (and issued from) last.
    rr: usize,
    /// Per command queue: no command of it can issue before this cycle (a lower
    /// bound found by the last scan that issued nothing from it). See
    /// [`Channel::request_step`] for why it stays valid and when it is reset.
    quiet: Vec<u64>,
    /// Per command queue: the cycle whose full scan computed `quiet` (`u64::MAX`
    /// once reset); a bound computed in the current cycle is exact.
    quiet_at: Vec<u64>,
    /// The non-empty command queues.
    occupied: Occupied,
    /// Queues the scan must look at: every non-empty queue whose `quiet` bound is
    /// at most the current cycle is in it (others may be, and are dropped when
    /// looked at). A queue leaves it when a scan raises its bound; `next_due` is at
    /// most the bound of every non-empty queue outside it.
    due: Occupied,
    next_due: u64,
    /// Per command queue: requests of the read queue ([0]) and of the write buffer
    /// ([1]) that will move into it, and the queues where that count is not 0.
    waiting: [Vec<u32>; 2],
    waiting_set: [Occupied; 2],
    /// Writes left to move in the current drain (0: not draining).
    drain: usize,
    /// The last transfer scan found no request whose command queue had room, and
    /// nothing that could change that has happened since.
    transfer_blocked: bool,
    last_tick: Option<u64>,
    /// A request moved into a command queue in the `last_tick` cycle.
    moved: bool,
    /// The client said no request will arrive any more (see `finish_input`).
    pub input_done: bool,
    /// Lazy wake-ups (see `wake.rs`).
    pub lazy: bool,
    pub pim: PimState,
    pub counts: ChannelCounts,
    pub log: Option<Vec<Command>>,
    pub done: Vec<Done>,
}

impl Channel {
    pub(crate) fn new(id: u32, arch: &Arch, q: QueueConfig, record: bool) -> Channel {
        let t = Timing::of(arch);
        let g = Geometry::of(arch);
        let stagger = match arch.dram.refresh {
            RefreshMode::PerBank => t.refi_pb,
            _ => t.refi,
        } / g.ranks as u64;
        // Rank r's first refresh: `first_refresh_ck` (the refresh phase) or one
        // stagger, then r staggers later.
        let first = arch
            .dram
            .controller
            .first_refresh_ck
            .map_or(stagger.max(1), u64::from);
        let ranks = (0..g.ranks)
            .map(|r| Rank {
                ref_due: first + stagger.max(1) * r as u64,
                ..Rank::default()
            })
            .collect();
        let queues = if q.per_rank { g.ranks } else { g.banks };
        Channel {
            id,
            t,
            g,
            q,
            refresh: arch.dram.refresh,
            banks: (0..g.banks)
                .map(|f| Bank {
                    group: f / g.banks_per_group,
                    rank: f / g.banks_per_rank,
                    ..Bank::default()
                })
                .collect(),
            group_act: vec![0; g.banks / g.banks_per_group],
            group_rd: vec![0; g.banks / g.banks_per_group],
            group_wr: vec![0; g.banks / g.banks_per_group],
            ranks,
            bus_free: 0,
            last_rd: None,
            col_after_pim: 0,
            reads: VecDeque::with_capacity(q.read_queue),
            writes: VecDeque::with_capacity(q.write_queue),
            cmdq: (0..queues)
                .map(|_| Vec::with_capacity(q.command_queue))
                .collect(),
            cmdq_len: 0,
            rr: 0,
            quiet: vec![0; queues],
            quiet_at: vec![u64::MAX; queues],
            occupied: Occupied::new(queues),
            due: Occupied::new(queues),
            next_due: u64::MAX,
            waiting: [vec![0; queues], vec![0; queues]],
            waiting_set: [Occupied::new(queues), Occupied::new(queues)],
            drain: 0,
            transfer_blocked: false,
            last_tick: None,
            moved: false,
            input_done: false,
            lazy: false,
            pim: PimState::default(),
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
    pub(crate) fn enqueue(&mut self, id: u64, addr: u64, loc: Location, now: u64, write: bool) {
        let flat = self.g.flat(&loc);
        let queue = if self.q.per_rank {
            flat / self.g.banks_per_rank
        } else {
            flat
        };
        let p = Pending {
            id,
            addr,
            loc,
            flat,
            queue,
            arrival: now,
            write,
        };
        if write {
            self.writes.push_back(p);
        } else {
            self.reads.push_back(p);
        }
        let k = usize::from(write);
        self.waiting[k][queue] += 1;
        self.waiting_set[k].insert(queue);
        self.transfer_blocked = false;
    }

    /// True when no request or PIM job is outstanding.
    pub(crate) fn idle(&self) -> bool {
        self.reads.is_empty()
            && self.writes.is_empty()
            && self.cmdq_len == 0
            && self.pim.jobs.is_empty()
            && !self.pim.mode
    }

    /// Requests waiting in the command queues.
    pub(crate) fn queued_commands(&self) -> usize {
        self.cmdq_len
    }

    /// State of flat bank `f` at `now`.
    pub(crate) fn bank_state(&self, f: usize, now: u64) -> Option<BankState> {
        self.banks.get(f).map(|b| b.state_at(now))
    }

    /// Issues what can issue at cycle `now` (one command, or a row and a column
    /// command with `dual_command`) and moves one request into a command queue.
    pub(crate) fn tick(&mut self, now: u64) -> ChannelTick {
        if self.last_tick == Some(now) {
            // Ticked again in the same cycle (a request arrived after the first
            // tick): commands were chosen already; the request may still move into
            // its command queue if none moved this cycle.
            let freed = !self.moved && self.transfer(now);
            self.moved |= freed;
            return ChannelTick {
                freed,
                next: Some(now + 1),
            };
        }
        if now < self.pim.busy_until {
            // A PIM mode switch is in progress: nothing issues.
            return ChannelTick {
                freed: false,
                next: Some(self.pim.busy_until),
            };
        }
        self.last_tick = Some(now);
        if self.input_done
            && self.drain == 0
            && self.reads.is_empty()
            && self.cmdq_len == 0
            && !self.writes.is_empty()
        {
            // No request will arrive any more: flush the write buffer.
            self.drain = self.writes.len();
            self.transfer_blocked = false;
        }
        let mut wake = Wake(None);
        let first = match self.refresh_step(now, &mut wake) {
            Some(i) => Some(i),
            None => self.pim_step(now, &mut wake).map(|_| Issued::Pim),
        };
        if first.is_some() {
            // Refresh and PIM commands open and close rows outside the request
            // scheduler: every queue's quiet bound is void.
            self.quiet.fill(0);
            self.quiet_at.fill(u64::MAX);
            self.due.fill();
        }
        let first = first.or_else(|| self.request_step(now, &mut wake, None));
        if self.q.dual_command
            && let Some(kind @ (Issued::Row | Issued::Column)) = first
        {
            self.request_step(now, &mut wake, Some(kind));
        }
        let freed = self.transfer(now);
        self.moved = freed;
        if self.lazy {
            return ChannelTick {
                freed,
                next: self.lazy_next(now, freed, &wake),
            };
        }
        if first.is_some() || freed {
            return ChannelTick {
                freed,
                next: Some(now + 1),
            };
        }
        self.exact_wake(now, &mut wake);
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

    /// The bank groups of rank `r` (indices of `group_rd`, `group_wr`, `group_act`).
    fn rank_groups(&self, r: usize) -> std::ops::Range<usize> {
        r * self.g.groups_per_rank..(r + 1) * self.g.groups_per_rank
    }

    /// The flat banks of flat bank `f`'s bank group (the loops over a rank's banks
    /// test membership in this range rather than dividing per bank).
    fn group_banks(&self, f: usize) -> std::ops::Range<usize> {
        let start = f - (f % self.g.banks_per_rank) % self.g.banks_per_group;
        start..start + self.g.banks_per_group
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

    fn refresh_step(&mut self, now: u64, wake: &mut Wake) -> Option<Issued> {
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
                        return Some(Issued::Row);
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
            return Some(Issued::Row);
        }
        None
    }

    fn faw_ready(&self, r: usize) -> u64 {
        self.ranks[r].window_ready
    }

    /// Earliest ACT to bank `b` (without the rank's tFAW / t32AW window).
    fn act_bound(&self, b: &Bank) -> u64 {
        b.next_act.max(self.group_act[b.group])
    }

    /// Earliest RD (and PIM column command reading the bank) to bank `b`.
    fn rd_bound(&self, b: &Bank) -> u64 {
        b.next_rd.max(self.group_rd[b.group])
    }

    /// Earliest WR to bank `b`.
    fn wr_bound(&self, b: &Bank) -> u64 {
        b.next_wr.max(self.group_wr[b.group])
    }

    fn col_ready(&self, write: bool, b: &Bank) -> u64 {
        let (bank, lat) = if write {
            (self.wr_bound(b), self.t.cwl)
        } else {
            (self.rd_bound(b), self.t.cl)
        };
        bank.max(self.bus_free.saturating_sub(lat))
            .max(self.col_after_pim)
    }

    /// True when some rank waits for its refresh (only then may
    /// [`Channel::queue_blocked`] hold a queue back).
    fn refresh_pending(&self) -> bool {
        self.refresh != RefreshMode::Off && self.ranks.iter().any(|r| r.ref_pending)
    }

    /// True when refresh keeps command queue `qi` from issuing.
    fn queue_blocked(&self, qi: usize) -> bool {
        if self.q.per_rank {
            let rank = &self.ranks[qi];
            self.refresh != RefreshMode::Off && rank.ref_pending
        } else {
            self.refresh_blocks(qi)
        }
    }

    /// The first ready command of command queue `qi` (the entry's index and what it
    /// needs), noting in `wake` when blocked entries become ready.
    fn first_ready(
        &self,
        qi: usize,
        now: u64,
        holds: bool,
        wake: &mut Wake,
    ) -> Option<(usize, Next)> {
        let queue = &self.cmdq[qi];
        // Column readiness of the last bank looked at: (bank, RD ready, WR ready).
        let mut col: Option<(usize, u64, u64)> = None;
        for (i, p) in queue.iter().enumerate() {
            let b = &self.banks[p.flat];
            match b.open {
                Some(row) if row == p.loc.row => {
                    let (rd, wr) = match col {
                        Some((f, rd, wr)) if f == p.flat => (rd, wr),
                        _ => {
                            let (rd, wr) = (self.col_ready(false, b), self.col_ready(true, b));
                            col = Some((p.flat, rd, wr));
                            (rd, wr)
                        }
                    };
                    let ready = if p.write { wr } else { rd };
                    if ready > now {
                        wake.at(ready);
                        continue;
                    }
                    // A write waits for an older read of the same address.
                    if p.write && queue[..i].iter().any(|o| !o.write && o.addr == p.addr) {
                        continue;
                    }
                    return Some((i, Next::Column));
                }
                Some(open) => {
                    if holds {
                        continue;
                    }
                    if b.next_pre > now {
                        wake.at(b.next_pre);
                        continue;
                    }
                    // Only the bank's oldest entry may precharge it, and only when
                    // no queued entry still hits the open row or the cap is reached
                    // (a per-bank queue holds only that bank's entries).
                    let older = if self.q.per_rank {
                        queue[..i].iter().any(|o| o.flat == p.flat)
                    } else {
                        i > 0
                    };
                    if older {
                        continue;
                    }
                    let hits_wait = queue[i + 1..]
                        .iter()
                        .any(|o| o.flat == p.flat && o.loc.row == open);
                    if hits_wait && !self.q.row_hit_cap.reached(b.hit_streak) {
                        continue;
                    }
                    return Some((i, Next::Pre));
                }
                None => {
                    if holds {
                        continue;
                    }
                    let ready = self.act_bound(b).max(self.faw_ready(p.loc.rank as usize));
                    if ready > now {
                        wake.at(ready);
                        continue;
                    }
                    return Some((i, Next::Act));
                }
            }
        }
        None
    }

    /// Visits the command queues round robin and issues the first ready command;
    /// with `not` set (the second command of a dual-issue cycle) a command of that
    /// kind is found but not issued, as DRAMsim3 does.
    ///
    /// A queue whose last scan found nothing ready keeps, in `quiet`, the earliest
    /// cycle one of its entries could become ready; until then the scan skips it.
    /// That bound stays valid because a command from another queue only raises
    /// timing bounds (bus, tCCD, tRRD, tFAW, tWTR, ...: never lowers one) and
    /// touches no bank of this queue (every bank belongs to one queue), so it cannot
    /// make an entry of this queue ready earlier or change what it needs next. What
    /// can is reset explicitly: an entry moving into the queue, a command issued
    /// from it (its scan found something, so its bound is at most `now`), refresh
    /// and PIM commands (all bounds reset), and a PIM job holding the banks (no
    /// bounds used then). The bound may be early (another queue raised a bound
    /// since): the scan then looks again, which [`Channel::exact_wake`] relies on.
    fn request_step(&mut self, now: u64, wake: &mut Wake, not: Option<Issued>) -> Option<Issued> {
        if self.cmdq_len == 0 || self.pim.mode {
            // No ordinary command in PIM mode; the PIM controller leaves it once its
            // queue is empty.
            return None;
        }
        let holds = self.pim_holds_banks();
        let refreshing = self.refresh_pending();
        let n = self.cmdq.len();
        // Round robin from the queue after the last one visited: rr + 1 .. n, then
        // 0 ..= rr; only non-empty queues are visited, and a full round without an
        // issue leaves `rr` where it was.
        if !holds && now >= self.next_due {
            self.gather_due(now);
        }
        let last = self.rr;
        let start = if last + 1 == n { 0 } else { last + 1 };
        let ranges = [(start, n), (0, start)];
        for (lo, hi) in ranges.into_iter().take(if start == 0 { 1 } else { 2 }) {
            // Members of `lo..hi`, one word of the set at a time (holding PIM job:
            // every non-empty queue; else the due ones).
            let mut w = lo / 64;
            let mut bits = self.to_visit(holds, w) & (!0u64 << (lo % 64));
            loop {
                while bits == 0 {
                    w += 1;
                    if w * 64 >= hi {
                        break;
                    }
                    bits = self.to_visit(holds, w);
                }
                if bits == 0 {
                    break;
                }
                let qi = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if qi >= hi {
                    break;
                }
                self.rr = qi;
                if refreshing && self.queue_blocked(qi) {
                    continue;
                }
                if !holds && now < self.quiet[qi] {
                    self.not_due(qi);
                    continue;
                }
                let mut w = Wake(None);
                let found = self.first_ready(qi, now, holds, &mut w);
                if let Some(c) = w.0 {
                    wake.at(c);
                }
                let Some((i, next)) = found else {
                    if !holds {
                        self.quiet[qi] = w.0.unwrap_or(u64::MAX);
                        self.quiet_at[qi] = now;
                        self.not_due(qi);
                    }
                    continue;
                };
                let kind = if next == Next::Column {
                    Issued::Column
                } else {
                    Issued::Row
                };
                if not == Some(kind) {
                    return None;
                }
                match next {
                    Next::Column => {
                        let p = self.cmdq[qi].remove(i);
                        if self.cmdq[qi].is_empty() {
                            self.occupied.remove(qi);
                        }
                        self.cmdq_len -= 1;
                        self.transfer_blocked = false;
                        self.issue_column(now, &p);
                    }
                    Next::Pre => {
                        let f = self.cmdq[qi][i].flat;
                        self.issue_pre(now, f);
                    }
                    Next::Act => {
                        let (f, row) = (self.cmdq[qi][i].flat, self.cmdq[qi][i].loc.row);
                        self.issue_act(now, f, row);
                        if !holds {
                            self.after_act(f, now);
                        }
                    }
                }
                if self.lazy && !holds {
                    self.after_issue(qi, now);
                }
                return Some(kind);
            }
        }
        self.rr = last;
        None
    }

    /// Word `w` of the queues the round robin visits: the non-empty ones while a
    /// PIM job holds the banks, else the non-empty due ones.
    fn to_visit(&self, holds: bool, w: usize) -> u64 {
        if holds {
            self.occupied.word(w)
        } else {
            self.occupied.word(w) & self.due.word(w)
        }
    }
}

/// What a scheduling step issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Issued {
    /// ACT, PRE or REF.
    Row,
    /// RD or WR.
    Column,
    /// A PIM command.
    Pim,
}

mod issue;
mod occupied;
mod pim;
mod transfer;
mod wake;

use occupied::Occupied;

pub(crate) use pim::PimState;
