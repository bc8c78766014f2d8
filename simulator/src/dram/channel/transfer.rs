//! Moving requests from the transaction queues (read queue, write buffer) into the
//! command queues, one per cycle: the oldest request whose command queue has room,
//! and the write drains (start, early stop, a write held back for a read of its
//! address). Per-queue counts of waiting requests let a cycle with nothing movable
//! find that out without scanning the transaction queues.

use super::Channel;

impl Channel {
    /// True when a read of `addr` waits in the read queue or in command queue `qi`
    /// (a read of an address lives in that address's bank's queue).
    fn read_pending(&self, addr: u64, qi: usize) -> bool {
        self.reads.iter().any(|r| r.addr == addr)
            || self.cmdq[qi].iter().any(|r| !r.write && r.addr == addr)
    }

    /// Moves one request from the read queue (or the write buffer while draining)
    /// into its command queue; true when one moved (a transaction slot freed).
    pub(super) fn transfer(&mut self, now: u64) -> bool {
        let was_draining = self.drain > 0;
        if self.drain == 0
            && (self.writes.len() >= self.q.drain_high
                || (self.writes.len() > self.q.drain_idle && self.cmdq_len == 0))
        {
            self.drain = self.writes.len();
        }
        if self.drain > 0 && self.writes.len() <= self.q.drain_low && !self.reads.is_empty() {
            self.drain = 0;
        }
        let draining = self.drain > 0;
        if draining != was_draining {
            self.transfer_blocked = false;
        }
        if self.transfer_blocked {
            return false;
        }
        if draining {
            match self.movable(true) {
                Some(i) if self.read_pending(self.writes[i].addr, self.writes[i].queue) => {
                    // A read of that address waits: serve reads first (DRAMsim3 would
                    // forward it from the write buffer; see simulator/README.md).
                    self.drain = 0;
                    return self.move_one(false, now);
                }
                Some(i) => {
                    self.drain -= 1;
                    self.move_at(true, i, now);
                    return true;
                }
                None => {
                    self.transfer_blocked = true;
                    return false;
                }
            }
        }
        self.move_one(false, now)
    }

    /// Index of the oldest request of the write buffer (`writes`) or the read queue
    /// whose command queue has room.
    pub(super) fn movable(&self, writes: bool) -> Option<usize> {
        let cap = self.q.command_queue;
        // First whether any command queue with waiting requests has room (one
        // test per such queue), then which request is the oldest of those.
        let waiting = &self.waiting_set[usize::from(writes)];
        let (mut pos, n) = (0, self.cmdq.len());
        loop {
            let qi = waiting.first_in(pos, n)?;
            if self.cmdq[qi].len() < cap {
                break;
            }
            pos = qi + 1;
        }
        let queue = if writes { &self.writes } else { &self.reads };
        queue.iter().position(|p| self.cmdq[p.queue].len() < cap)
    }

    /// Moves the oldest movable write (or read) into its command queue at cycle
    /// `now`.
    fn move_one(&mut self, writes: bool, now: u64) -> bool {
        let Some(i) = self.movable(writes) else {
            self.transfer_blocked = true;
            return false;
        };
        self.move_at(writes, i, now)
    }

    /// Moves entry `i` of the write buffer (or the read queue), whose command queue
    /// has room, into that queue at cycle `now`.
    fn move_at(&mut self, writes: bool, i: usize, now: u64) -> bool {
        let p = if writes {
            self.writes.remove(i)
        } else {
            self.reads.remove(i)
        };
        let Some(p) = p else {
            return false;
        };
        let qi = p.queue;
        let k = usize::from(writes);
        self.waiting[k][qi] -= 1;
        if self.waiting[k][qi] == 0 {
            self.waiting_set[k].remove(qi);
        }
        // The new entry is the queue's youngest: it can hold an older entry back
        // (a hit waiting keeps a PRE back) but never make one ready earlier, so
        // the queue's quiet bound only has to come down to the new entry's own.
        let own = self.earliest(&p);
        self.quiet[qi] = if self.cmdq[qi].is_empty() {
            own
        } else {
            self.quiet[qi].min(own)
        };
        self.quiet_at[qi] = u64::MAX;
        if self.quiet[qi] <= now {
            self.due.insert(qi);
        } else {
            self.not_due(qi);
        }
        self.cmdq[qi].push(p);
        self.occupied.insert(qi);
        self.cmdq_len += 1;
        true
    }
}
