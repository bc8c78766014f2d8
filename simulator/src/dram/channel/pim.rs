//! The PIM command stream of one channel: which command of the head [`PimJob`]
//! issues next and when (ACT_AB / PRE_AB or ACT / PRE around MAC and element-wise
//! column commands, global-buffer and bias writes, AF, result read-outs), and the
//! effect of each issued PIM command on the banks, the bus, the PIM timing bounds
//! and the counters. Kept apart from the request scheduler in the parent module.
//!
//! Jobs run in submission order, one command per cycle at most, each as early as
//! the rules allow; while the head command needs open rows (MAC, EWMUL, EWADD) the
//! job holds the banks: ordinary requests may still hit open rows but may not
//! activate or precharge. Refresh goes first. While a staged element-wise stage
//! waits for its next command, a free cycle precharges the bank set that one of
//! the next few stages needs in another row.

use super::{Channel, Wake};
use crate::dram::command::CommandKind;
use crate::pim::{PimColumn, PimJob, PimOp};
use std::collections::VecDeque;

/// The PIM controller state of one channel.
#[derive(Debug, Default)]
pub(crate) struct PimState {
    /// Queued jobs, head first.
    pub jobs: VecDeque<PimJob>,
    /// Finished jobs: (id, cycle their last command's effect ends).
    pub done: Vec<(u64, u64)>,
    next_mac: u64,
    next_gb: u64,
    gb_done: u64,
    acc_free: u64,
    next_ewop: u64,
    next_af: u64,
    last_done: u64,
    /// In PIM mode (devices with modes only).
    pub mode: bool,
    /// Nothing issues before this cycle (a mode switch in progress).
    pub busy_until: u64,
    /// End of the last PIM mode exit (the run cannot end before it).
    pub exit_end: u64,
}

impl Channel {
    /// True when the head PIM op needs the banks' rows (ordinary ACT/PRE blocked).
    pub(super) fn pim_holds_banks(&self) -> bool {
        matches!(
            self.pim.jobs.front().and_then(PimJob::peek),
            Some(PimOp::Column { .. })
        )
    }

    fn any_refresh_pending(&self) -> bool {
        self.ranks.iter().any(|r| r.ref_pending)
    }

    /// Mode switching (devices with modes): enters PIM mode before the head job's
    /// first command, leaves it when the queue is empty. Each switch first closes
    /// every open bank (PRE outside PIM mode, PRE_AB inside), waits out tRP, then
    /// issues PIM_ENTER / PIM_EXIT and blocks the channel for the switch time.
    fn mode_step(&mut self, now: u64, wake: &mut Wake) -> Option<bool> {
        if !self.t.has_modes() || self.pim.mode != self.pim.jobs.is_empty() {
            return None;
        }
        if self.any_refresh_pending() {
            return None;
        }
        let open: Vec<usize> = (0..self.banks.len())
            .filter(|&f| self.banks[f].open.is_some())
            .collect();
        if !open.is_empty() {
            let ready = open.iter().map(|&f| self.banks[f].next_pre).max()?;
            if ready > now {
                wake.at(ready);
                return None;
            }
            if self.pim.mode {
                self.issue_pre_ab(now);
            } else {
                self.issue_pre(now, open[0]);
            }
            return Some(false);
        }
        let ready = self
            .banks
            .iter()
            .map(|b| self.act_bound(b))
            .max()
            .unwrap_or(0)
            .max(self.bus_free);
        if ready > now {
            wake.at(ready);
            return None;
        }
        let (kind, len) = if self.pim.mode {
            self.counts.pim_exit += 1;
            (CommandKind::PimExit, self.t.mode_exit)
        } else {
            self.counts.pim_enter += 1;
            (CommandKind::PimEnter, self.t.mode_enter)
        };
        self.pim.mode = !self.pim.mode;
        self.pim.busy_until = now + len;
        for b in &mut self.banks {
            b.next_act = b.next_act.max(now + len);
        }
        if kind == CommandKind::PimExit {
            self.pim.exit_end = now + len;
        }
        self.emit(now, kind, 0, 0, 0);
        Some(false)
    }

    pub(super) fn pim_step(&mut self, now: u64, wake: &mut Wake) -> Option<bool> {
        if let Some(r) = self.mode_step(now, wake) {
            return Some(r);
        }
        if self.t.has_modes() && !self.pim.mode {
            return None;
        }
        let op = self.pim.jobs.front()?.peek()?;
        let t = self.t;
        let p = &self.pim;
        let ready = match op {
            PimOp::WrGb | PimOp::WrBias => p
                .next_gb
                .max(self.bus_free.saturating_sub(t.cwl))
                .max(self.last_rd.map_or(0, |r| r + t.rtw)),
            PimOp::Af => p.next_mac.max(p.next_af),
            PimOp::RdMac | PimOp::RdAf => p
                .next_mac
                .max(p.next_af)
                .max(self.bus_free.saturating_sub(t.rd_mac)),
            PimOp::Column {
                kind: PimColumn::MacSb,
                row,
                bank,
                ..
            } => {
                if self.any_refresh_pending() {
                    return None;
                }
                let f = bank as usize;
                let b = &self.banks[f];
                match b.open {
                    Some(r) if r == row => self
                        .rd_bound(b)
                        .max(b.next_mac_sb)
                        .max(p.gb_done)
                        .max(p.acc_free),
                    Some(_) => {
                        if b.next_pre <= now {
                            self.issue_pre(now, f);
                            return Some(false);
                        }
                        wake.at(b.next_pre);
                        return None;
                    }
                    None => {
                        let ready = self.act_bound(b).max(self.faw_ready(b.rank));
                        if ready <= now {
                            self.issue_act(now, f, row);
                            return Some(false);
                        }
                        wake.at(ready);
                        return None;
                    }
                }
            }
            PimOp::Column {
                kind, row, bank, ..
            } if kind.is_staged() => {
                if self.any_refresh_pending() {
                    return None;
                }
                let set = (bank as usize..self.g.banks).step_by(self.g.sub_banks);
                if set.clone().all(|f| self.banks[f].open == Some(row)) {
                    let mut r = p.next_ewop.max(p.gb_done);
                    for f in set {
                        let b = &self.banks[f];
                        r = r.max(if kind == PimColumn::EwStore {
                            self.wr_bound(b)
                        } else {
                            self.rd_bound(b)
                        });
                    }
                    if r > now {
                        // A free command slot: close the bank set a coming stage
                        // needs in another row, while this one runs.
                        let next = self.pim.jobs.front().and_then(|j| j.next_other_bank(bank));
                        if let Some((row2, bank2)) = next {
                            let other: Vec<usize> = (bank2 as usize..self.g.banks)
                                .step_by(self.g.sub_banks)
                                .filter(|&f| self.banks[f].open.is_some_and(|o| o != row2))
                                .collect();
                            if !other.is_empty() {
                                let pre = other.iter().map(|&f| self.banks[f].next_pre).max();
                                let pre = pre.unwrap_or(0);
                                if pre <= now {
                                    self.issue_pre_ub(now, bank2 as usize);
                                    return Some(false);
                                }
                                wake.at(pre);
                            }
                        }
                    }
                    r
                } else if set.clone().any(|f| self.banks[f].open.is_some()) {
                    let r = set
                        .filter(|&f| self.banks[f].open.is_some())
                        .map(|f| self.banks[f].next_pre)
                        .max()
                        .unwrap_or(0);
                    if r <= now {
                        self.issue_pre_ub(now, bank as usize);
                        return Some(false);
                    }
                    wake.at(r);
                    return None;
                } else {
                    let r = set
                        .map(|f| self.act_bound(&self.banks[f]))
                        .max()
                        .unwrap_or(0);
                    if r <= now {
                        self.issue_act_ub(now, bank as usize, row);
                        return Some(false);
                    }
                    wake.at(r);
                    return None;
                }
            }
            PimOp::Column {
                kind, row, bank, ..
            } => {
                if self.any_refresh_pending() {
                    return None;
                }
                if self.banks.iter().all(|b| b.open == Some(row)) {
                    let mut r = match kind {
                        PimColumn::MacAb => p.next_mac.max(p.acc_free),
                        _ => p.next_ewop,
                    }
                    .max(p.gb_done);
                    for f in (bank as usize..self.g.banks).step_by(self.g.sub_banks) {
                        let b = &self.banks[f];
                        r = r.max(self.rd_bound(b));
                    }
                    r
                } else if self.banks.iter().any(|b| b.open.is_some()) {
                    let r = self
                        .banks
                        .iter()
                        .filter(|b| b.open.is_some())
                        .map(|b| b.next_pre)
                        .max()
                        .unwrap_or(0);
                    if r <= now {
                        self.issue_pre_ab(now);
                        return Some(false);
                    }
                    wake.at(r);
                    return None;
                } else {
                    let r = self
                        .banks
                        .iter()
                        .map(|b| self.act_bound(b))
                        .max()
                        .unwrap_or(0);
                    if r <= now {
                        self.issue_act_ab(now, row);
                        return Some(false);
                    }
                    wake.at(r);
                    return None;
                }
            }
        };
        if ready > now {
            wake.at(ready);
            return None;
        }
        let job = self.pim.jobs.front()?;
        let (macs, results) = match op {
            PimOp::Column { kind, .. } => (job.macs_per(kind), 0),
            PimOp::Af => (0, job.results_per_burst()),
            _ => (0, 0),
        };
        self.issue_pim(now, op, macs, results);
        let job = self.pim.jobs.front_mut()?;
        job.advance();
        if job.peek().is_none() {
            let id = job.id;
            self.pim.jobs.pop_front();
            self.pim.done.push((id, self.pim.last_done));
        }
        Some(false)
    }

    /// Applies PIM command `op` at `now`; `ops` is the MACs or element-wise ops a
    /// column command performs, `results` the results an AF transforms.
    pub(super) fn issue_pim(&mut self, now: u64, op: PimOp, ops: u64, results: u64) {
        let t = self.t;
        let end = match op {
            PimOp::WrGb | PimOp::WrBias => {
                self.pim.next_gb = now + t.wr_gb;
                self.bus_free = now + t.cwl + t.burst;
                self.pim.gb_done = self.bus_free;
                let kind = if op == PimOp::WrGb {
                    self.counts.wr_gb += 1;
                    CommandKind::WrGb
                } else {
                    self.counts.wr_bias += 1;
                    CommandKind::WrBias
                };
                self.emit(now, kind, 0, 0, 0);
                self.bus_free
            }
            PimOp::Af => {
                self.pim.next_af = now + t.af;
                self.pim.acc_free = self.pim.acc_free.max(now + t.af);
                self.counts.af += 1;
                self.counts.pim_af_results += results;
                self.emit(now, CommandKind::Af, 0, 0, 0);
                now + t.af
            }
            PimOp::RdMac | PimOp::RdAf => {
                self.bus_free = now + t.rd_mac + t.burst;
                self.pim.acc_free = self.pim.acc_free.max(now + t.rd_mac);
                let kind = if op == PimOp::RdAf {
                    self.counts.rd_af += 1;
                    CommandKind::RdAf
                } else {
                    self.counts.rd_mac += 1;
                    CommandKind::RdMac
                };
                self.emit(now, kind, 0, 0, 0);
                self.bus_free
            }
            PimOp::Column {
                kind: PimColumn::MacAb,
                row,
                bank,
                column,
            } => {
                self.pim.next_mac = now + t.mac;
                self.col_after_pim = self.col_after_pim.max(now + t.ccd_l);
                for f in (bank as usize..self.g.banks).step_by(self.g.sub_banks) {
                    self.banks[f].pre_after(now + t.rtp);
                    self.counts.banks[f].mac += 1;
                }
                self.counts.mac_ab += 1;
                self.counts.pim_macs += ops;
                self.emit(now, CommandKind::MacAb, bank as usize, row, column);
                now + t.mac
            }
            PimOp::Column {
                kind: PimColumn::MacSb,
                row,
                bank,
                column,
            } => {
                let f = bank as usize;
                let r = f / self.g.banks_per_rank;
                let group = self.group_banks(f);
                for o in self.rank_banks(r) {
                    let same = group.contains(&o);
                    self.banks[o].rd_after(now + if same { t.ccd_l } else { t.ccd_s });
                }
                let b = &mut self.banks[f];
                b.pre_after(now + t.rtp);
                b.next_mac_sb = now + t.mac;
                self.pim.next_mac = self.pim.next_mac.max(now + t.mac);
                self.col_after_pim = self.col_after_pim.max(now + t.ccd_l);
                self.counts.banks[f].mac += 1;
                self.counts.mac_sb += 1;
                self.counts.pim_macs += ops;
                self.emit(now, CommandKind::MacSb, f, row, column);
                now + t.mac
            }
            PimOp::Column {
                kind,
                row,
                bank,
                column,
            } if kind.is_staged() => {
                self.pim.next_ewop = now + t.ewop;
                self.col_after_pim = self.col_after_pim.max(now + t.ccd_l);
                // A load or op reads the bank (tRTP to PRE), a store writes it (tWR
                // after its data).
                let pre = if kind == PimColumn::EwStore {
                    now + t.cwl + t.burst + t.wr
                } else {
                    now + t.rtp
                };
                for f in (bank as usize..self.g.banks).step_by(self.g.sub_banks) {
                    self.banks[f].pre_after(pre);
                    self.counts.banks[f].ewop += 1;
                }
                let cmd = match kind {
                    PimColumn::EwLoad => {
                        self.counts.ew_load += 1;
                        CommandKind::EwLoad
                    }
                    PimColumn::EwLoadAct => {
                        self.counts.ew_load += 1;
                        self.counts.pim_af_results += ops;
                        CommandKind::EwLoad
                    }
                    PimColumn::EwStore => {
                        self.counts.ew_store += 1;
                        CommandKind::EwStore
                    }
                    PimColumn::EwMulStaged => {
                        self.counts.ewmul += 1;
                        self.counts.ew_staged += 1;
                        self.counts.pim_ew_ops += ops;
                        CommandKind::EwMul
                    }
                    _ => {
                        self.counts.ewadd += 1;
                        self.counts.ew_staged += 1;
                        self.counts.pim_ew_ops += ops;
                        CommandKind::EwAdd
                    }
                };
                self.emit(now, cmd, bank as usize, row, column);
                now + t.ewop
            }
            PimOp::Column {
                kind,
                row,
                bank,
                column,
            } => {
                self.pim.next_ewop = now + t.ewop;
                self.col_after_pim = self.col_after_pim.max(now + t.ccd_l);
                for f in (bank as usize..self.g.banks).step_by(self.g.sub_banks) {
                    self.banks[f].pre_after(now + t.ewop + t.wr);
                    self.counts.banks[f].ewop += 1;
                }
                let cmd = if kind == PimColumn::EwMul {
                    self.counts.ewmul += 1;
                    CommandKind::EwMul
                } else {
                    self.counts.ewadd += 1;
                    CommandKind::EwAdd
                };
                self.counts.pim_ew_ops += ops;
                self.emit(now, cmd, bank as usize, row, column);
                now + t.ewop
            }
        };
        self.pim.last_done = self.pim.last_done.max(end);
    }

    pub(super) fn issue_act_ab(&mut self, now: u64, row: u32) {
        let t = self.t;
        for (f, b) in self.banks.iter_mut().enumerate() {
            b.activate(now, row, t.rcd_rd, t.rcd_wr, t.ras, t.rc);
            self.counts.banks[f].act += 1;
        }
        self.counts.act_ab += 1;
        self.emit(now, CommandKind::ActAb, 0, row, 0);
    }

    pub(super) fn issue_act_ub(&mut self, now: u64, sub: usize, row: u32) {
        let t = self.t;
        for f in (sub..self.g.banks).step_by(self.g.sub_banks) {
            self.banks[f].activate(now, row, t.rcd_rd, t.rcd_wr, t.ras, t.rc);
            self.counts.banks[f].act += 1;
        }
        self.counts.act_ub += 1;
        self.emit(now, CommandKind::ActUb, sub, row, 0);
    }

    pub(super) fn issue_pre_ub(&mut self, now: u64, sub: usize) {
        for f in (sub..self.g.banks).step_by(self.g.sub_banks) {
            if self.banks[f].open.is_some() {
                self.banks[f].precharge(now, self.t.rp);
                self.counts.banks[f].pre += 1;
            }
        }
        self.counts.pre_ub += 1;
        self.emit(now, CommandKind::PreUb, sub, 0, 0);
    }

    pub(super) fn issue_pre_ab(&mut self, now: u64) {
        for (f, b) in self.banks.iter_mut().enumerate() {
            if b.open.is_some() {
                b.precharge(now, self.t.rp);
                self.counts.banks[f].pre += 1;
            }
        }
        self.counts.pre_ab += 1;
        self.emit(now, CommandKind::PreAb, 0, 0, 0);
    }
}
