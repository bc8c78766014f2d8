//! When a channel must be looked at again: the per-queue quiet bounds that let the
//! scheduler skip command queues with nothing ready (see
//! [`Channel::request_step`]), the exact wake-up cycle after a cycle in which
//! nothing happened, and the lazy wake-ups of a memory system whose client always
//! submits before it ticks ([`crate::MemorySystem::set_lazy_wake_ups`]).
//!
//! Exact wake-ups (the default) keep the tick schedule the same whatever the
//! bounds: a tick after an issue at the next cycle, else at the first cycle a full
//! scan finds something. Lazy wake-ups are lower bounds of the next cycle anything
//! can happen (a refresh, a ready command, a transfer, a drain, PIM work): the
//! channel may be ticked in cycles where nothing happens, which changes nothing
//! but the bounds, and is not ticked in the cycle after an issue when nothing can
//! follow it. Their one requirement: no request may arrive in a cycle after the
//! channel's tick in that cycle (a second tick in one cycle only transfers).

use super::{Channel, Pending, Wake};

impl Channel {
    /// Takes queue `qi`, whose bound lies after the current cycle, out of `due`.
    pub(super) fn not_due(&mut self, qi: usize) {
        self.due.remove(qi);
        self.next_due = self.next_due.min(self.quiet[qi]);
    }

    /// Puts every non-empty queue whose bound has passed into `due`, and sets
    /// `next_due` to the lowest bound of the others.
    pub(super) fn gather_due(&mut self, now: u64) {
        self.next_due = u64::MAX;
        for qi in self.occupied.members(0, self.cmdq.len()) {
            if self.quiet[qi] <= now {
                self.due.insert(qi);
            } else {
                self.next_due = self.next_due.min(self.quiet[qi]);
            }
        }
    }

    /// After a cycle that issued and moved nothing: notes in `wake` the earliest
    /// cycle a queue that [`Channel::request_step`] skipped as quiet becomes ready,
    /// so the channel sleeps until exactly the cycle a full scan of every queue
    /// would have found. Stored bounds are lower bounds, so only the queue with the
    /// lowest one needs a fresh scan; if its fresh bound is still the lowest, it is
    /// the answer, else the next lowest is scanned.
    pub(super) fn exact_wake(&mut self, now: u64, wake: &mut Wake) {
        if self.cmdq_len == 0 || self.pim.mode || self.pim_holds_banks() {
            return;
        }
        let refreshing = self.refresh_pending();
        loop {
            let mut low: Option<usize> = None;
            for qi in self.occupied.members(0, self.cmdq.len()) {
                if self.quiet[qi] <= now || (refreshing && self.queue_blocked(qi)) {
                    continue;
                }
                if low.is_none_or(|l| self.quiet[qi] < self.quiet[l]) {
                    low = Some(qi);
                }
            }
            let Some(qi) = low else {
                return;
            };
            if self.quiet_at[qi] == now {
                if self.quiet[qi] != u64::MAX {
                    wake.at(self.quiet[qi]);
                }
                return;
            }
            let mut w = Wake(None);
            let found = self.first_ready(qi, now, false, &mut w);
            debug_assert!(
                found.is_none(),
                "queue {qi} was quiet but is ready at {now}"
            );
            self.quiet[qi] = w.0.unwrap_or(u64::MAX);
            self.quiet_at[qi] = now;
            self.not_due(qi);
        }
    }

    /// A lower bound on the cycle the first command `p` needs can issue: its
    /// column command to the open row, else the PRE of the bank's other row, else
    /// its ACT.
    pub(super) fn earliest(&self, p: &Pending) -> u64 {
        let b = &self.banks[p.flat];
        match b.open {
            Some(row) if row == p.loc.row => self.col_ready(p.write, b),
            Some(_) => b.next_pre,
            None => self.act_bound(b).max(self.faw_ready(p.loc.rank as usize)),
        }
    }

    /// A lower bound on the cycle any entry of queue `qi` can issue its next
    /// command (each entry's [`Channel::earliest`]). A per-bank queue holds one
    /// bank's entries: its bound is that bank's ACT bound when closed, else the
    /// least of the RD / WR bounds (if a queued read / write hits the open row) and
    /// the PRE bound (if one misses).
    fn queue_bound(&self, qi: usize) -> u64 {
        let queue = &self.cmdq[qi];
        let Some(first) = queue.first() else {
            return u64::MAX;
        };
        if self.q.per_rank {
            return queue
                .iter()
                .map(|p| self.earliest(p))
                .min()
                .unwrap_or(u64::MAX);
        }
        let b = &self.banks[first.flat];
        let Some(open) = b.open else {
            return self.earliest(first);
        };
        let (mut rd, mut wr, mut miss) = (false, false, false);
        for p in queue {
            if p.loc.row != open {
                miss = true;
            } else if p.write {
                wr = true;
            } else {
                rd = true;
            }
        }
        let mut bound = u64::MAX;
        if rd {
            bound = bound.min(self.col_ready(false, b));
        }
        if wr {
            bound = bound.min(self.col_ready(true, b));
        }
        if miss {
            bound = bound.min(b.next_pre);
        }
        bound
    }

    /// Lazy wake-ups, after issuing from queue `qi`: its bound becomes the lower
    /// bound of its remaining entries, so that a cycle in which it cannot issue
    /// again is not scanned.
    pub(super) fn after_issue(&mut self, qi: usize, now: u64) {
        let b = self.queue_bound(qi);
        self.quiet[qi] = b;
        self.quiet_at[qi] = u64::MAX;
        if b > now {
            self.not_due(qi);
        }
    }

    /// After an ACT to flat bank `f` at `now`: every other per-bank queue of its
    /// rank whose bank is closed can only issue an ACT, at the bank's ACT bound
    /// or the rank's tFAW / t32AW window, both of which this ACT raised. Their
    /// quiet bounds become that cycle, so the scan does not look again at queues
    /// that only wait for the window (on random traffic, most of them).
    pub(super) fn after_act(&mut self, f: usize, now: u64) {
        if self.q.per_rank {
            return;
        }
        let r = self.banks[f].rank;
        let window = self.faw_ready(r);
        for qi in self.rank_banks(r) {
            if qi == f || self.cmdq[qi].is_empty() || self.banks[qi].open.is_some() {
                continue;
            }
            let bound = self.act_bound(&self.banks[qi]).max(window);
            if bound > self.quiet[qi] {
                self.quiet[qi] = bound;
                self.quiet_at[qi] = u64::MAX;
            }
            if self.quiet[qi] > now {
                self.not_due(qi);
            }
        }
    }

    /// Lazy wake-ups: the next cycle to tick after the cycle `now` (`freed`: a
    /// request moved into a command queue in it; `wake`: what the refresh, PIM and
    /// request steps noted). `now + 1` whenever the next cycle may do something
    /// this one's state allows (PIM work, a pending refresh, a drain, a write
    /// flush, another transfer, a queue whose bound has passed); else the lowest
    /// queue bound or refresh due time.
    pub(super) fn lazy_next(&mut self, now: u64, freed: bool, wake: &Wake) -> Option<u64> {
        let soon = Some(now + 1);
        if !self.pim.jobs.is_empty()
            || self.pim.mode
            || self.refresh_pending()
            || (freed && self.drain > 0)
        {
            return soon;
        }
        if self.input_done && self.reads.is_empty() && self.cmdq_len == 0 && !self.writes.is_empty()
        {
            return soon;
        }
        if freed && self.movable(false).is_some() {
            return soon;
        }
        let n = self.cmdq.len();
        if self.occupied.first_in_both(&self.due, 0, n).is_some() {
            return soon;
        }
        let mut next = wake.0;
        if self.cmdq_len > 0 && self.next_due != u64::MAX {
            next = Some(next.map_or(self.next_due, |x| x.min(self.next_due)));
        }
        if self.refresh != triad_isa::RefreshMode::Off {
            for r in &self.ranks {
                next = Some(next.map_or(r.ref_due, |x| x.min(r.ref_due)));
            }
        }
        next.map(|x| x.max(now + 1))
    }
}
