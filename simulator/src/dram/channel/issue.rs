//! The effects of each issued command on the channel's bank, bus and PIM timing
//! bounds, its energy counters and the command log. Scheduling decisions are made
//! in the parent module; this file only applies them.

use super::{Channel, Done, Pending};
use crate::dram::command::{Command, CommandKind};
use crate::pim::PimOp;

impl Channel {
    pub(super) fn emit(&mut self, now: u64, kind: CommandKind, f: usize, row: u32, column: u32) {
        if let Some(log) = &mut self.log {
            let (rank, bank_group, bank) = match kind {
                CommandKind::ActAb
                | CommandKind::PreAb
                | CommandKind::WrGb
                | CommandKind::RdMac
                | CommandKind::RdAf => (0, 0, 0),
                CommandKind::MacAb | CommandKind::Ewop => (0, 0, f as u32),
                CommandKind::Ref => (self.g.split(f).0, 0, 0),
                _ => self.g.split(f),
            };
            log.push(Command {
                cycle: triad_isa::Cycles(now),
                kind,
                channel: self.id,
                rank,
                bank_group,
                bank,
                row,
                column,
            });
        }
    }

    pub(super) fn issue_act(&mut self, now: u64, f: usize, row: u32) {
        let t = self.t;
        self.banks[f].activate(now, row, t.rcd_rd, t.rcd_wr, t.ras, t.rc);
        let r = f / self.g.banks_per_rank;
        let bg = (f % self.g.banks_per_rank) / self.g.banks_per_group;
        for o in self.rank_banks(r) {
            if o != f {
                let same = (o % self.g.banks_per_rank) / self.g.banks_per_group == bg;
                self.banks[o].act_after(now + if same { t.rrd_l } else { t.rrd_s });
            }
        }
        let rank = &mut self.ranks[r];
        rank.faw.push_back(now);
        if rank.faw.len() > 4 {
            rank.faw.pop_front();
        }
        if t.aw32 > 0 {
            rank.aw32.push_back(now);
            if rank.aw32.len() > 32 {
                rank.aw32.pop_front();
            }
        }
        self.counts.banks[f].act += 1;
        self.counts.act += 1;
        self.emit(now, CommandKind::Act, f, row, 0);
    }

    pub(super) fn issue_pre(&mut self, now: u64, f: usize) {
        self.banks[f].precharge(now, self.t.rp);
        self.counts.banks[f].pre += 1;
        self.counts.pre += 1;
        self.emit(now, CommandKind::Pre, f, 0, 0);
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

    pub(super) fn issue_column(&mut self, now: u64, p: &Pending) {
        let t = self.t;
        let f = p.flat;
        let r = f / self.g.banks_per_rank;
        let bg = (f % self.g.banks_per_rank) / self.g.banks_per_group;
        let done;
        if p.write {
            let data_end = now + t.cwl + t.burst;
            self.banks[f].pre_after(data_end + t.wr);
            for o in self.rank_banks(r) {
                let same = (o % self.g.banks_per_rank) / self.g.banks_per_group == bg;
                let b = &mut self.banks[o];
                b.wr_after(now + if same { t.ccd_l } else { t.ccd_s });
                b.rd_after(data_end + if same { t.wtr_l } else { t.wtr_s });
            }
            self.bus_free = data_end;
            self.counts.banks[f].wr += 1;
            done = data_end;
        } else {
            let data_end = now + t.cl + t.burst;
            self.banks[f].pre_after(now + t.rtp);
            for o in self.rank_banks(r) {
                let same = (o % self.g.banks_per_rank) / self.g.banks_per_group == bg;
                let b = &mut self.banks[o];
                b.rd_after(now + if same { t.ccd_l } else { t.ccd_s });
                b.wr_after(now + t.rtw);
            }
            self.bus_free = data_end;
            self.last_rd = Some(now);
            self.counts.banks[f].rd += 1;
            done = data_end;
        }
        // A row hit as DRAMsim3 counts it: not the first column command after the ACT.
        let hit = self.banks[f].hit_streak > 0;
        self.banks[f].hit_streak += 1;
        self.done.push(Done {
            id: p.id,
            arrival: p.arrival,
            done,
            write: p.write,
            hit,
        });
        let kind = if p.write {
            CommandKind::Wr
        } else {
            CommandKind::Rd
        };
        self.emit(now, kind, f, p.loc.row, p.loc.column);
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
}
