//! One bank as the controller sees it: its state machine (idle, activating, active
//! with an open row, precharging, refreshing) and the earliest cycle at which each
//! command kind may next be issued to it.
//!
//! The `next_*` fields are the controller's scheduling state: every issued command
//! raises the bounds it implies (its own bank's and its neighbours'). They are never
//! read by the timing checker, which recomputes every rule from the command log.

use serde::Serialize;

/// The state of a bank at some cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BankState {
    /// Precharged, nothing in flight.
    Idle,
    /// ACT issued, `tRCD` not yet elapsed.
    Activating {
        /// The row being opened.
        row: u32,
    },
    /// A row is open and readable.
    Active {
        /// The open row.
        row: u32,
    },
    /// PRE issued, `tRP` not yet elapsed.
    Precharging,
    /// REF or REFpb in progress (`tRFC` / `tRFCpb`).
    Refreshing,
}

/// Controller-side state of one bank.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bank {
    /// The open row, if any.
    pub open: Option<u32>,
    /// Earliest cycle for ACT, as far as commands to this bank itself (and the
    /// ACTs of its rank on archs where tRC < tRRD_L) set it; the channel adds its
    /// group's tRRD bound (`Channel::group_act`).
    pub next_act: u64,
    /// Earliest cycle for PRE.
    pub next_pre: u64,
    /// Index of the bank's bank group in the channel (flat bank / banks per group):
    /// the bound of the column commands of its group and rank lives there
    /// (`Channel::group_rd`, `Channel::group_wr`).
    pub group: usize,
    /// Index of the bank's rank in the channel.
    pub rank: usize,
    /// Earliest cycle for RD (and MAC / EWMUL / EWADD column commands), as far as
    /// commands to this bank itself set it (the channel adds its group's bound).
    pub next_rd: u64,
    /// Earliest cycle for WR, as far as commands to this bank itself set it.
    pub next_wr: u64,
    /// Earliest cycle for REF / REFpb (precharge done, previous refresh done).
    pub next_ref: u64,
    /// Earliest cycle for the next single-bank MAC (`tccd_mac` after the last).
    pub next_mac_sb: u64,
    /// Column commands served since the row was opened (FR-FCFS hit cap).
    pub hit_streak: u32,
    /// Cycle at which the open row becomes readable (ACT + tRCD_RD).
    pub active_from: u64,
    /// Cycle at which the last precharge completes.
    pub precharged_at: u64,
    /// Cycle at which the last refresh completes.
    pub refreshed_at: u64,
}

impl Bank {
    /// The bank's state at cycle `now`.
    pub(crate) fn state_at(&self, now: u64) -> BankState {
        if now < self.refreshed_at {
            return BankState::Refreshing;
        }
        match self.open {
            Some(row) if now < self.active_from => BankState::Activating { row },
            Some(row) => BankState::Active { row },
            None if now < self.precharged_at => BankState::Precharging,
            None => BankState::Idle,
        }
    }

    /// Raises the earliest-ACT bound.
    pub(crate) fn act_after(&mut self, c: u64) {
        self.next_act = self.next_act.max(c);
    }

    /// Raises the earliest-RD bound.
    pub(crate) fn rd_after(&mut self, c: u64) {
        self.next_rd = self.next_rd.max(c);
    }

    /// Raises the earliest-WR bound.
    pub(crate) fn wr_after(&mut self, c: u64) {
        self.next_wr = self.next_wr.max(c);
    }

    /// Raises the earliest-PRE bound.
    pub(crate) fn pre_after(&mut self, c: u64) {
        self.next_pre = self.next_pre.max(c);
    }

    /// Opens `row` at `now` (ACT): bounds of the bank itself.
    pub(crate) fn activate(
        &mut self,
        now: u64,
        row: u32,
        rcd_rd: u64,
        rcd_wr: u64,
        ras: u64,
        rc: u64,
    ) {
        self.open = Some(row);
        self.hit_streak = 0;
        self.active_from = now + rcd_rd;
        self.rd_after(now + rcd_rd);
        self.wr_after(now + rcd_wr);
        self.pre_after(now + ras);
        self.act_after(now + rc);
    }

    /// Closes the row at `now` (PRE).
    pub(crate) fn precharge(&mut self, now: u64, rp: u64) {
        self.open = None;
        self.precharged_at = now + rp;
        self.act_after(now + rp);
        self.next_ref = self.next_ref.max(now + rp);
    }

    /// Refreshes at `now` for `rfc` cycles.
    pub(crate) fn refresh(&mut self, now: u64, rfc: u64) {
        self.refreshed_at = now + rfc;
        self.act_after(now + rfc);
        self.next_ref = self.next_ref.max(now + rfc);
    }
}
