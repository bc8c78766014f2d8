//! The effects of each issued ordinary command on the channel's bank and bus
//! timing bounds, its energy counters and the command log (PIM commands: `pim.rs`).
//! Scheduling decisions are made in the parent module; this file only applies them.

use super::{Channel, Done, Pending};
use crate::dram::command::{Command, CommandKind};

impl Channel {
    pub(super) fn emit(&mut self, now: u64, kind: CommandKind, f: usize, row: u32, column: u32) {
        if let Some(log) = &mut self.log {
            let (rank, bank_group, bank) = match kind {
                CommandKind::ActAb
                | CommandKind::PreAb
                | CommandKind::WrGb
                | CommandKind::WrBias
                | CommandKind::Af
                | CommandKind::RdMac
                | CommandKind::RdAf
                | CommandKind::PimEnter
                | CommandKind::PimExit => (0, 0, 0),
                k if k.is_unit_indexed() => (0, 0, f as u32),
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
        let r = self.banks[f].rank;
        if t.rc >= t.rrd_l {
            // tRRD per bank group: the ACT's own bank waits tRC >= tRRD_L anyway.
            let own = self.banks[f].group;
            for gi in self.rank_groups(r) {
                let next = now + if gi == own { t.rrd_l } else { t.rrd_s };
                self.group_act[gi] = self.group_act[gi].max(next);
            }
        } else {
            let group = self.group_banks(f);
            for o in self.rank_banks(r) {
                if o != f {
                    let same = group.contains(&o);
                    self.banks[o].act_after(now + if same { t.rrd_l } else { t.rrd_s });
                }
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
        // The next ACT waits for the fourth-last ACT + tFAW (and the 32nd-last +
        // t32AW).
        let w = &rank.faw;
        rank.window_ready = if w.len() >= 4 {
            w[w.len() - 4] + t.faw
        } else {
            0
        };
        if t.aw32 > 0 && rank.aw32.len() >= 32 {
            let w32 = rank.aw32[rank.aw32.len() - 32] + t.aw32;
            rank.window_ready = rank.window_ready.max(w32);
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

    /// Raises the RD and WR bounds of every bank group outside rank `r` to `rd`
    /// and `wr` (the rank-switch time, tRTRS); nothing to do without one or with
    /// one rank, where the data-bus bound alone applies.
    fn other_ranks_after(&mut self, r: usize, rd: u64, wr: u64) {
        if self.t.rtrs == 0 || self.g.ranks == 1 {
            return;
        }
        let own = self.rank_groups(r);
        for gi in 0..self.group_rd.len() {
            if !own.contains(&gi) {
                self.group_rd[gi] = self.group_rd[gi].max(rd);
                self.group_wr[gi] = self.group_wr[gi].max(wr);
            }
        }
    }

    pub(super) fn issue_column(&mut self, now: u64, p: &Pending) {
        let t = self.t;
        let f = p.flat;
        let r = self.banks[f].rank;
        // The bank groups of rank `r`, and `f`'s own.
        let groups = self.rank_groups(r);
        let own = self.banks[f].group;
        let done;
        if p.write {
            let data_end = now + t.cwl + t.burst;
            self.banks[f].pre_after(data_end + t.wr);
            for gi in groups {
                let same = gi == own;
                let wr = now + if same { t.ccd_l } else { t.ccd_s };
                let rd = data_end + if same { t.wtr_l } else { t.wtr_s };
                self.group_wr[gi] = self.group_wr[gi].max(wr);
                self.group_rd[gi] = self.group_rd[gi].max(rd);
            }
            self.bus_free = data_end;
            // Another rank's read data starts tRTRS after this burst (its writes
            // only after the burst: no switch time between two writes).
            self.other_ranks_after(r, (data_end + t.rtrs).saturating_sub(t.cl), 0);
            self.counts.banks[f].wr += 1;
            done = data_end;
        } else {
            let data_end = now + t.cl + t.burst;
            self.banks[f].pre_after(now + t.rtp);
            for gi in groups {
                let same = gi == own;
                let rd = now + if same { t.ccd_l } else { t.ccd_s };
                self.group_rd[gi] = self.group_rd[gi].max(rd);
                self.group_wr[gi] = self.group_wr[gi].max(now + t.rtw);
            }
            self.bus_free = data_end;
            // Another rank's data, read or written, starts tRTRS after this burst.
            self.other_ranks_after(
                r,
                (data_end + t.rtrs).saturating_sub(t.cl),
                (data_end + t.rtrs).saturating_sub(t.cwl),
            );
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
}
