//! The PIM command stream of one channel: which PIM command issues next and when
//! (ACT_AB / PRE_AB or ACT / PRE around MAC and EWOP column commands, global-buffer
//! writes, result read-outs), and the effect of each issued PIM command on the
//! banks, the bus, the PIM timing bounds and the counters. Kept apart from the
//! request scheduler in the parent module.

use super::{Channel, Wake};
use crate::dram::command::CommandKind;
use crate::pim::PimOp;

impl Channel {
    /// True when the head PIM op needs the banks' rows (ordinary ACT/PRE blocked).
    pub(super) fn pim_holds_banks(&self) -> bool {
        matches!(
            self.pim.front().and_then(|j| j.peek()),
            Some(PimOp::Mac { .. } | PimOp::MacSb { .. } | PimOp::Ewop { .. })
        )
    }

    fn any_refresh_pending(&self) -> bool {
        self.ranks.iter().any(|r| r.ref_pending)
    }

    pub(super) fn pim_step(&mut self, now: u64, wake: &mut Wake) -> Option<bool> {
        let op = self.pim.front()?.peek()?;
        let t = self.t;
        let ready = match op {
            PimOp::WrGb => self
                .next_gb
                .max(self.bus_free.saturating_sub(t.cwl))
                .max(self.last_rd.map_or(0, |r| r + t.rtw)),
            PimOp::Read { af } => {
                let lat = if af { t.af } else { t.rd_mac };
                self.next_mac.max(self.bus_free.saturating_sub(lat))
            }
            PimOp::MacSb { row, sub, unit, .. } => {
                if self.any_refresh_pending() {
                    return None;
                }
                let f = unit as usize * self.g.sub_banks + sub as usize;
                let b = &self.banks[f];
                match b.open {
                    Some(r) if r == row => b
                        .next_rd
                        .max(b.next_mac_sb)
                        .max(self.gb_done)
                        .max(self.acc_free),
                    Some(_) => {
                        if b.next_pre <= now {
                            self.issue_pre(now, f);
                            return Some(false);
                        }
                        wake.at(b.next_pre);
                        return None;
                    }
                    None => {
                        let ready = b.next_act.max(self.faw_ready(f / self.g.banks_per_rank));
                        if ready <= now {
                            self.issue_act(now, f, row);
                            return Some(false);
                        }
                        wake.at(ready);
                        return None;
                    }
                }
            }
            PimOp::Mac { row, sub, .. } | PimOp::Ewop { row, sub, .. } => {
                if self.any_refresh_pending() {
                    return None;
                }
                if self.banks.iter().all(|b| b.open == Some(row)) {
                    let mut r = match op {
                        PimOp::Mac { .. } => self.next_mac.max(self.acc_free),
                        _ => self.next_ewop,
                    }
                    .max(self.gb_done);
                    for f in (sub as usize..self.g.banks).step_by(self.g.sub_banks) {
                        r = r.max(self.banks[f].next_rd);
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
                    let r = self.banks.iter().map(|b| b.next_act).max().unwrap_or(0);
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
        self.issue_pim(now, op);
        let job = self.pim.front_mut()?;
        if let PimOp::Mac { .. } | PimOp::MacSb { .. } = op {
            self.counts.pim_macs += job.macs_per_command();
        }
        job.advance();
        if job.peek().is_none() {
            let id = job.id;
            self.pim.pop_front();
            self.pim_done.push((id, self.pim_last_data));
        }
        Some(false)
    }

    pub(super) fn issue_pim(&mut self, now: u64, op: PimOp) {
        let t = self.t;
        match op {
            PimOp::WrGb => {
                self.next_gb = now + t.wr_gb;
                self.bus_free = now + t.cwl + t.burst;
                self.gb_done = self.bus_free;
                self.counts.wr_gb += 1;
                self.emit(now, CommandKind::WrGb, 0, 0, 0);
            }
            PimOp::Read { af } => {
                let lat = if af { t.af } else { t.rd_mac };
                self.bus_free = now + lat + t.burst;
                self.acc_free = now + lat;
                self.pim_last_data = self.bus_free;
                let kind = if af {
                    self.counts.rd_af += 1;
                    CommandKind::RdAf
                } else {
                    self.counts.rd_mac += 1;
                    CommandKind::RdMac
                };
                self.emit(now, kind, 0, 0, 0);
            }
            PimOp::Mac { row, sub, column } => {
                self.next_mac = now + t.mac;
                self.col_after_pim = self.col_after_pim.max(now + t.ccd_l);
                for f in (sub as usize..self.g.banks).step_by(self.g.sub_banks) {
                    self.banks[f].pre_after(now + t.rtp);
                    self.counts.banks[f].mac += 1;
                }
                self.counts.mac_ab += 1;
                self.emit(now, CommandKind::MacAb, sub as usize, row, column);
            }
            PimOp::MacSb {
                row,
                sub,
                column,
                unit,
            } => {
                let f = unit as usize * self.g.sub_banks + sub as usize;
                let r = f / self.g.banks_per_rank;
                let bg = (f % self.g.banks_per_rank) / self.g.banks_per_group;
                for o in self.rank_banks(r) {
                    let same = (o % self.g.banks_per_rank) / self.g.banks_per_group == bg;
                    self.banks[o].rd_after(now + if same { t.ccd_l } else { t.ccd_s });
                }
                let b = &mut self.banks[f];
                b.pre_after(now + t.rtp);
                b.next_mac_sb = now + t.mac;
                self.next_mac = self.next_mac.max(now + t.mac);
                self.col_after_pim = self.col_after_pim.max(now + t.ccd_l);
                self.counts.banks[f].mac += 1;
                self.counts.mac_sb += 1;
                self.emit(now, CommandKind::MacSb, f, row, column);
            }
            PimOp::Ewop { row, sub, column } => {
                self.next_ewop = now + t.ewop;
                self.col_after_pim = self.col_after_pim.max(now + t.ccd_l);
                for f in (sub as usize..self.g.banks).step_by(self.g.sub_banks) {
                    self.banks[f].pre_after(now + t.ewop + t.wr);
                    self.counts.banks[f].ewop += 1;
                }
                self.counts.ewop += 1;
                self.pim_last_data = now + t.ewop;
                self.emit(now, CommandKind::Ewop, sub as usize, row, column);
            }
        }
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
