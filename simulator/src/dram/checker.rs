//! The timing checker: replays a command log and reports every violated timing
//! constraint or illegal bank state.
//!
//! It is deliberately independent of the controller: it shares no scheduling code
//! and no timing state with it, reads every parameter straight from the arch's
//! fields, and keeps its own history (last ACT, PRE, RD, WR, refresh per bank; last
//! ACTs per bank group and the tFAW window per rank; recent data-bus windows per
//! channel). Each [`Violation`] names the command, its bank, the rule and by how many
//! cycles the command was early (or, for refresh intervals, late).
//!
//! Rules checked (all in DRAM command-clock cycles):
//! - ordinary: tRCD_RD, tRCD_WR, tRP, tRAS, tRC, tCCD_S/L (RD→RD, WR→WR), tRRD_S/L,
//!   tFAW (four ACTs per rank), t32AW (32 ACTs per rank, when the arch has one), tWR (end of write data → PRE), tWTR_S/L (end of write
//!   data → RD), tRTP, tRTW (RD → WR, same rank), tRTRS (a burst after another
//!   rank's, except WR after WR), tRFC / tRFCpb (refresh → ACT),
//!   tREFI / tREFIpb (the k-th refresh of a rank is issued before the (k+1)-th is
//!   due, and none is missing at the end of the run), one command per cycle per
//!   channel (a row and a column command with `dual_command`), no overlapping
//!   data-bus bursts, and bank state (ACT to a closed bank, column commands to the
//!   open row, PRE to an open bank, REF to a closed rank);
//! - PIM: ACT_AB / PRE_AB obey the per-bank rules of ACT / PRE (not tRRD / tFAW);
//!   MAC_SB is read-like (tRCD_RD, tCCD_S/L, tWTR, tRTP) and one bank's MAC_SBs are
//!   `tccd_mac` apart; MAC_AB every `tccd_mac`, after tRCD_RD, tCCD after RD, tWTR after WR, after the
//!   last WR_GB / WR_BIAS data (CWL + burst) and after the accumulators were read
//!   out or transformed (`trd_mac` after RD_MAC / RD_AF, `taf` after AF); RD / WR
//!   wait tCCD_L after MAC_AB or EWMUL / EWADD; PRE waits tRTP after MAC_AB and
//!   `tewop + tWR` after EWMUL / EWADD; WR_GB and WR_BIAS every `twr_gb` and tRTW
//!   after a RD; AF, RD_MAC and RD_AF `tccd_mac` after the last MAC; AF every `taf`,
//!   RD_MAC / RD_AF `taf` after an AF; EWMUL / EWADD every `tewop`; EW_LD / EW_ST
//!   every `tewop` as well, EW_LD read-like (tRCD_RD, tRTP to PRE), EW_ST
//!   write-like (tRCD_WR, tWR after its data to PRE), an EWMUL / EWADD between an
//!   EW_LD and an EW_ST of its bank-within-unit (staged) read-like; ACT_UB / PRE_UB
//!   obey the per-bank rules of ACT / PRE on bank `bank` of every unit;
//! - PIM mode (arch with `tmode_enter` / `tmode_exit`): no command within the switch
//!   time after PIM_ENTER / PIM_EXIT; PIM_ENTER only outside PIM mode and PIM_EXIT
//!   only inside it, each with every bank closed and tRP after its PRE; RD / WR only
//!   outside PIM mode, PIM commands only inside it; no channel still in PIM mode at
//!   the end of the run.

use super::command::{Command, CommandKind, CommandLog};
use serde::Serialize;
use std::collections::VecDeque;
use std::fmt;
use triad_isa::{Arch, Cycles, RefreshMode};

/// A timing or state rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Rule {
    /// ACT → RD (and MAC) on one bank.
    TRcdRd,
    /// ACT → WR on one bank.
    TRcdWr,
    /// PRE → ACT / REF on one bank.
    TRp,
    /// ACT → PRE on one bank.
    TRas,
    /// ACT → ACT on one bank.
    TRc,
    /// Column → column of the same kind, different bank groups.
    TCcdS,
    /// Column → column of the same kind, same bank group; RD / WR after a PIM column op.
    TCcdL,
    /// ACT → ACT, different bank groups of one rank.
    TRrdS,
    /// ACT → ACT, same bank group.
    TRrdL,
    /// A fifth ACT within tFAW of the fourth-last in one rank.
    TFaw,
    /// At most 32 ACTs per rank in t32AW (GDDR6).
    T32aw,
    /// End of write data → PRE.
    TWr,
    /// End of write data → RD, different bank groups.
    TWtrS,
    /// End of write data → RD, same bank group.
    TWtrL,
    /// RD (or MAC) → PRE.
    TRtp,
    /// RD → WR in one rank; RD → WR_GB in one channel.
    TRtw,
    /// A burst less than tRTRS after the end of another rank's burst on the data
    /// bus (not checked between two writes).
    TRtrs,
    /// REF → ACT / REF.
    TRfc,
    /// REFpb → ACT / REF on its bank.
    TRfcPb,
    /// An all-bank refresh later than one interval past its due time, or missing.
    TRefi,
    /// A per-bank refresh later than one interval past its due time, or missing.
    TRefiPb,
    /// Two bursts overlap on a channel's data bus.
    DataBus,
    /// Two commands in one cycle on one channel, or cycles going backwards.
    CommandBus,
    /// A command illegal in the bank's state (closed bank, wrong row, open bank) or
    /// naming hardware the arch does not have.
    BankState,
    /// MAC_AB → MAC_AB in a channel; MAC_SB → MAC_SB on a bank.
    TCcdMac,
    /// WR_GB / WR_BIAS → WR_GB / WR_BIAS.
    TWrGb,
    /// WR_GB / WR_BIAS data → MAC_AB / MAC_SB / EWMUL / EWADD.
    GbToMac,
    /// RD_MAC / RD_AF / AF → MAC (accumulators read out before they are reused).
    AccToMac,
    /// MAC → AF / RD_MAC / RD_AF.
    MacToRead,
    /// EWMUL / EWADD → EWMUL / EWADD, → PRE.
    TEwop,
    /// AF → AF, AF → RD_MAC / RD_AF.
    TAf,
    /// A command in the wrong mode (RD / WR in PIM mode, a PIM command outside it,
    /// a switch with open banks or into the mode the channel is in, a run ending
    /// in PIM mode).
    PimMode,
    /// A command during a mode switch (`tmode_enter` / `tmode_exit`).
    TMode,
}

/// One violated rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Index of the command in the log (`log.len()` for end-of-run checks).
    pub index: usize,
    /// The offending command (`None` for a refresh missing at the end of the run).
    pub command: Option<Command>,
    /// Flat bank index in the channel the rule was evaluated for.
    pub bank: u32,
    /// The rule.
    pub rule: Rule,
    /// The bound: earliest legal cycle, or the deadline for tREFI rules.
    pub bound: Cycles,
    /// Cycles early (or late for tREFI rules).
    pub by: Cycles,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.command {
            Some(c) => write!(
                f,
                "#{} {c} (bank {}): {:?} needs cycle {} ({} cycles {})",
                self.index,
                self.bank,
                self.rule,
                self.bound.0,
                self.by.0,
                if matches!(self.rule, Rule::TRefi | Rule::TRefiPb) {
                    "late"
                } else {
                    "short"
                }
            ),
            None => write!(
                f,
                "end of run: {:?} refresh of bank {} was due by cycle {} ({} cycles late)",
                self.rule, self.bank, self.bound, self.by
            ),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct BankHist {
    open: Option<u32>,
    act: Option<u64>,
    pre: Option<u64>,
    rd: Option<u64>,
    wr: Option<u64>,
    mac: Option<u64>,
    ewop: Option<u64>,
    refresh_end: Option<(u64, Rule)>,
}

#[derive(Clone, Debug, Default)]
struct RankHist {
    /// End of the rank's last read burst and last write burst on the data bus.
    rd_end: Option<u64>,
    wr_end: Option<u64>,
    acts: VecDeque<u64>,
    act_bg: Vec<Option<u64>>,
    rd_bg: Vec<Option<u64>>,
    wr_bg: Vec<Option<u64>>,
    rd_any: Option<u64>,
    refs: u64,
    refs_pb: u64,
}

#[derive(Clone, Debug, Default)]
struct ChanHist {
    banks: Vec<BankHist>,
    ranks: Vec<RankHist>,
    last: Option<u64>,
    /// Last column command (RD / WR) when row and column commands have their own
    /// buses (`dual_command`).
    last_col: Option<u64>,
    bus: VecDeque<(u64, u64)>,
    mac: Option<u64>,
    ewop: Option<u64>,
    gb: Option<u64>,
    readout: Option<u64>,
    af: Option<u64>,
    rd_any: Option<u64>,
    pim_mode: bool,
    switch_end: Option<u64>,
    /// Banks-within-unit whose register files hold a staged op's operand (EW_LD
    /// seen, EW_ST not yet): their EWMUL / EWADD are the staged, read-only kind.
    loaded: Vec<bool>,
}

/// Windows of past bursts kept per channel for the overlap check.
const BUS_HISTORY: usize = 8;

/// Params read from the arch (u64 cycles).
struct P {
    cl: u64,
    cwl: u64,
    burst: u64,
    bpr: usize,
    bpg: usize,
    bgs: usize,
    sub: usize,
    t: triad_isa::DramTiming,
    pim: Option<triad_isa::PimTiming>,
    refresh: RefreshMode,
    dual: bool,
    aw32: u64,
}

struct Checker<'a> {
    p: P,
    ch: Vec<ChanHist>,
    out: Vec<Violation>,
    cmd: Option<(usize, &'a Command)>,
}

/// Replays `log` under `arch`'s timing and returns every violation (empty when the
/// log is legal). `end` is the cycle the run ended at, for the missing-refresh check.
pub fn check(arch: &Arch, log: &CommandLog, end: Cycles) -> Vec<Violation> {
    let d = &arch.dram;
    let banks = d.banks_per_channel() as usize;
    let units = arch
        .pim
        .as_ref()
        .map_or(banks as u32, |p| p.units_per_channel(d).max(1)) as usize;
    let p = P {
        cl: u64::from(d.timing.cl),
        cwl: u64::from(d.timing.cwl),
        burst: u64::from(d.burst_cycles()),
        bpr: d.banks_per_rank().max(1) as usize,
        bpg: d.banks_per_group.max(1) as usize,
        bgs: d.bank_groups.max(1) as usize,
        sub: (banks / units).max(1),
        t: d.effective_timing(),
        pim: arch.pim.as_ref().map(|p| p.timing.clone()),
        refresh: d.refresh,
        dual: d.controller.dual_command,
        aw32: u64::from(d.timing.t32aw),
    };
    let rank = RankHist {
        act_bg: vec![None; p.bgs],
        rd_bg: vec![None; p.bgs],
        wr_bg: vec![None; p.bgs],
        ..RankHist::default()
    };
    let chan = ChanHist {
        banks: vec![BankHist::default(); banks],
        ranks: vec![rank; d.ranks as usize],
        ..ChanHist::default()
    };
    let mut c = Checker {
        p,
        ch: vec![chan; d.channels as usize],
        out: Vec::new(),
        cmd: None,
    };
    for (i, cmd) in log.commands.iter().enumerate() {
        c.cmd = Some((i, cmd));
        // MAC_AB / EWMUL / EWADD carry a bank-within-unit index; everything else a bank.
        let unit_indexed = cmd.kind.is_unit_indexed();
        if cmd.channel >= d.channels
            || cmd.rank >= d.ranks
            || cmd.bank_group >= d.bank_groups
            || (!unit_indexed && cmd.bank >= d.banks_per_group)
        {
            // A command naming hardware the arch does not have.
            c.fail(0, Rule::BankState, cmd.cycle.0, 0);
            continue;
        }
        c.command(cmd);
    }
    c.cmd = None;
    c.end_of_run(end.0, log.commands.len());
    c.out
}

fn w(x: u32) -> u64 {
    u64::from(x)
}

impl Checker<'_> {
    fn fail(&mut self, bank: usize, rule: Rule, bound: u64, by: u64) {
        let (index, command) = match self.cmd {
            Some((i, c)) => (i, Some(*c)),
            None => (0, None),
        };
        self.out.push(Violation {
            index,
            command,
            bank: bank as u32,
            rule,
            bound: Cycles(bound),
            by: Cycles(by),
        });
    }

    /// Requires `now >= prev + gap`.
    fn need(&mut self, now: u64, bank: usize, rule: Rule, prev: Option<u64>, gap: u64) {
        if let Some(p) = prev
            && now < p + gap
        {
            self.fail(bank, rule, p + gap, p + gap - now);
        }
    }

    fn bus(&mut self, ch: usize, start: u64) {
        let end = start + self.p.burst;
        let conflict = self.ch[ch]
            .bus
            .iter()
            .find(|&&(s, e)| start < e && s < end)
            .copied();
        if let Some((_, e)) = conflict {
            let shift = e - start;
            let now = self.cmd.map_or(0, |(_, c)| c.cycle.0);
            self.fail(0, Rule::DataBus, now + shift, shift);
        }
        let b = &mut self.ch[ch].bus;
        b.push_back((start, end));
        if b.len() > BUS_HISTORY {
            b.pop_front();
        }
    }

    fn flat(&self, c: &Command) -> usize {
        c.rank as usize * self.p.bpr + c.bank_group as usize * self.p.bpg + c.bank as usize
    }

    fn bg_of(&self, f: usize) -> usize {
        (f % self.p.bpr) / self.p.bpg
    }

    fn command(&mut self, c: &Command) {
        let ch = c.channel as usize;
        let now = c.cycle.0;
        let column = matches!(c.kind, CommandKind::Rd | CommandKind::Wr);
        let slot = if self.p.dual && column {
            &mut self.ch[ch].last_col
        } else {
            &mut self.ch[ch].last
        };
        let last = slot.replace(now);
        if let Some(last) = last
            && now <= last
        {
            self.fail(0, Rule::CommandBus, last + 1, last + 1 - now);
        }
        self.mode(ch, c);
        match c.kind {
            CommandKind::Act => self.act(ch, c),
            CommandKind::Pre => {
                let f = self.flat(c);
                self.pre(ch, f, now, true);
            }
            CommandKind::Rd | CommandKind::Wr => self.column(ch, c),
            CommandKind::Ref => self.refresh_all(ch, c),
            CommandKind::RefPb => self.refresh_pb(ch, c),
            CommandKind::ActAb => {
                for f in 0..self.ch[ch].banks.len() {
                    self.open(ch, f, now, c.row);
                }
            }
            CommandKind::PreAb => {
                let open: Vec<usize> = (0..self.ch[ch].banks.len())
                    .filter(|&f| self.ch[ch].banks[f].open.is_some())
                    .collect();
                if open.is_empty() {
                    self.fail(0, Rule::BankState, now, 0);
                }
                for f in open {
                    self.pre(ch, f, now, false);
                }
            }
            CommandKind::MacAb
            | CommandKind::EwMul
            | CommandKind::EwAdd
            | CommandKind::EwLoad
            | CommandKind::EwStore => self.pim_column(ch, c),
            CommandKind::PimEnter | CommandKind::PimExit => {}
            CommandKind::ActUb => {
                for f in (c.bank as usize..self.ch[ch].banks.len()).step_by(self.p.sub) {
                    self.open(ch, f, now, c.row);
                }
            }
            CommandKind::PreUb => {
                let open: Vec<usize> = (c.bank as usize..self.ch[ch].banks.len())
                    .step_by(self.p.sub)
                    .filter(|&f| self.ch[ch].banks[f].open.is_some())
                    .collect();
                if open.is_empty() {
                    self.fail(0, Rule::BankState, now, 0);
                }
                for f in open {
                    self.pre(ch, f, now, false);
                }
            }
            CommandKind::MacSb => self.mac_single(ch, c),
            CommandKind::Af => {
                let pt = self.p.pim.clone().unwrap_or(zero_pim());
                let (mac, af) = (self.ch[ch].mac, self.ch[ch].af);
                self.need(now, 0, Rule::MacToRead, mac, w(pt.tccd_mac));
                self.need(now, 0, Rule::TAf, af, w(pt.taf));
                self.ch[ch].af = Some(now);
                let r = self.ch[ch].readout.max(Some(now + w(pt.taf)));
                self.ch[ch].readout = r;
            }
            CommandKind::WrGb | CommandKind::WrBias => {
                let pt = self.p.pim.clone().unwrap_or(zero_pim());
                let (gb, rd) = (self.ch[ch].gb, self.ch[ch].rd_any);
                self.need(now, 0, Rule::TWrGb, gb, w(pt.twr_gb));
                self.need(now, 0, Rule::TRtw, rd, w(self.p.t.trtw));
                self.bus(ch, now + self.p.cwl);
                self.ch[ch].gb = Some(now);
            }
            CommandKind::RdMac | CommandKind::RdAf => {
                let pt = self.p.pim.clone().unwrap_or(zero_pim());
                let (mac, af) = (self.ch[ch].mac, self.ch[ch].af);
                self.need(now, 0, Rule::MacToRead, mac, w(pt.tccd_mac));
                self.need(now, 0, Rule::TAf, af, w(pt.taf));
                let lat = w(pt.trd_mac);
                self.bus(ch, now + lat);
                let r = self.ch[ch].readout.max(Some(now + lat));
                self.ch[ch].readout = r;
            }
        }
    }

    /// PIM mode rules (devices with modes): nothing during a switch; RD / WR only
    /// outside PIM mode, PIM commands only inside it; a switch needs every bank
    /// closed and tRP since its PRE.
    fn mode(&mut self, ch: usize, c: &Command) {
        let Some(pt) = self.p.pim.clone().filter(|p| p.has_modes()) else {
            if matches!(c.kind, CommandKind::PimEnter | CommandKind::PimExit) {
                self.fail(0, Rule::PimMode, c.cycle.0, 0);
            }
            return;
        };
        let now = c.cycle.0;
        let end = self.ch[ch].switch_end;
        self.need(now, 0, Rule::TMode, end, 0);
        let in_pim = self.ch[ch].pim_mode;
        let ok = match c.kind {
            CommandKind::Rd | CommandKind::Wr => !in_pim,
            CommandKind::PimEnter => !in_pim,
            CommandKind::PimExit => in_pim,
            k if k.is_pim() => in_pim,
            _ => true,
        };
        if !ok {
            self.fail(0, Rule::PimMode, now, 0);
        }
        if matches!(c.kind, CommandKind::PimEnter | CommandKind::PimExit) {
            for f in 0..self.ch[ch].banks.len() {
                let b = self.ch[ch].banks[f].clone();
                if b.open.is_some() {
                    self.fail(f, Rule::PimMode, now, 0);
                }
                self.need(now, f, Rule::TRp, b.pre, w(self.p.t.trp));
            }
            let (enter, len) = if c.kind == CommandKind::PimEnter {
                (true, pt.tmode_enter)
            } else {
                (false, pt.tmode_exit)
            };
            self.ch[ch].pim_mode = enter;
            self.ch[ch].switch_end = Some(now + w(len));
        }
    }

    /// ACT-like per-bank checks and state update (ACT and each bank of ACT_AB).
    fn open(&mut self, ch: usize, f: usize, now: u64, row: u32) {
        let b = self.ch[ch].banks[f].clone();
        if b.open.is_some() {
            self.fail(f, Rule::BankState, now, 0);
        }
        self.need(now, f, Rule::TRp, b.pre, w(self.p.t.trp));
        self.need(now, f, Rule::TRc, b.act, w(self.p.t.trc));
        if let Some((end, rule)) = b.refresh_end {
            self.need(now, f, rule, Some(end), 0);
        }
        let bk = &mut self.ch[ch].banks[f];
        bk.open = Some(row);
        bk.act = Some(now);
    }

    fn act(&mut self, ch: usize, c: &Command) {
        let f = self.flat(c);
        let now = c.cycle.0;
        self.open(ch, f, now, c.row);
        let r = c.rank as usize;
        let bg = c.bank_group as usize;
        let rank = self.ch[ch].ranks[r].clone();
        for (g, last) in rank.act_bg.iter().enumerate() {
            let (rule, gap) = if g == bg {
                (Rule::TRrdL, self.p.t.trrd_l)
            } else {
                (Rule::TRrdS, self.p.t.trrd_s)
            };
            self.need(now, f, rule, *last, w(gap));
        }
        if rank.acts.len() >= 4 {
            self.need(
                now,
                f,
                Rule::TFaw,
                Some(rank.acts[rank.acts.len() - 4]),
                w(self.p.t.tfaw),
            );
        }
        if self.p.aw32 > 0 && rank.acts.len() >= 32 {
            self.need(
                now,
                f,
                Rule::T32aw,
                Some(rank.acts[rank.acts.len() - 32]),
                self.p.aw32,
            );
        }
        let keep = if self.p.aw32 > 0 { 32 } else { 4 };
        let rk = &mut self.ch[ch].ranks[r];
        rk.act_bg[bg] = Some(now);
        rk.acts.push_back(now);
        if rk.acts.len() > keep {
            rk.acts.pop_front();
        }
    }

    fn pre(&mut self, ch: usize, f: usize, now: u64, single: bool) {
        let b = self.ch[ch].banks[f].clone();
        if single && b.open.is_none() {
            self.fail(f, Rule::BankState, now, 0);
        }
        let t = &self.p.t;
        let (tras, trtp, twr) = (w(t.tras), w(t.trtp), w(t.twr));
        let write_done = self.p.cwl + self.p.burst + twr;
        self.need(now, f, Rule::TRas, b.act, tras);
        self.need(now, f, Rule::TRtp, b.rd, trtp);
        self.need(now, f, Rule::TRtp, b.mac, trtp);
        self.need(now, f, Rule::TWr, b.wr, write_done);
        let ew = self.p.pim.as_ref().map_or(0, |p| w(p.tewop));
        self.need(now, f, Rule::TEwop, b.ewop, ew + twr);
        let bk = &mut self.ch[ch].banks[f];
        bk.open = None;
        bk.pre = Some(now);
    }

    fn column(&mut self, ch: usize, c: &Command) {
        let f = self.flat(c);
        let now = c.cycle.0;
        let b = self.ch[ch].banks[f].clone();
        if b.open != Some(c.row) {
            self.fail(f, Rule::BankState, now, 0);
        }
        let t = self.p.t.clone();
        let r = c.rank as usize;
        let bg = c.bank_group as usize;
        let rank = self.ch[ch].ranks[r].clone();
        let pim_col = self.ch[ch].mac.max(self.ch[ch].ewop);
        self.need(now, f, Rule::TCcdL, pim_col, w(t.tccd_l));
        let write = c.kind == CommandKind::Wr;
        self.rank_switch(ch, f, r, now, write);
        if write {
            self.need(now, f, Rule::TRcdWr, b.act, w(t.trcd_wr));
            self.need(now, f, Rule::TRtw, rank.rd_any, w(t.trtw));
            for (g, last) in rank.wr_bg.iter().enumerate() {
                let (rule, gap) = if g == bg {
                    (Rule::TCcdL, t.tccd_l)
                } else {
                    (Rule::TCcdS, t.tccd_s)
                };
                self.need(now, f, rule, *last, w(gap));
            }
            self.bus(ch, now + self.p.cwl);
            let rk = &mut self.ch[ch].ranks[r];
            rk.wr_bg[bg] = Some(now);
            rk.wr_end = Some(now + self.p.cwl + self.p.burst);
            self.ch[ch].banks[f].wr = Some(now);
        } else {
            self.need(now, f, Rule::TRcdRd, b.act, w(t.trcd_rd));
            self.read_after(f, now, &rank);
            self.bus(ch, now + self.p.cl);
            let rk = &mut self.ch[ch].ranks[r];
            rk.rd_bg[bg] = Some(now);
            rk.rd_end = Some(now + self.p.cl + self.p.burst);
            rk.rd_any = Some(now);
            self.ch[ch].rd_any = Some(now);
            self.ch[ch].banks[f].rd = Some(now);
        }
    }

    /// tRTRS: the burst of a RD / WR at `now` on rank `r` starts at least tRTRS after
    /// the end of every other rank's last read burst and, for a read, last write
    /// burst.
    fn rank_switch(&mut self, ch: usize, f: usize, r: usize, now: u64, write: bool) {
        let rtrs = w(self.p.t.trtrs);
        if rtrs == 0 {
            return;
        }
        let lat = if write { self.p.cwl } else { self.p.cl };
        let start = now + lat;
        let mut bound = None;
        for (o, rk) in self.ch[ch].ranks.iter().enumerate() {
            if o == r {
                continue;
            }
            let ends = [rk.rd_end, if write { None } else { rk.wr_end }];
            for end in ends.into_iter().flatten() {
                bound = bound.max(Some(end + rtrs));
            }
        }
        if let Some(b) = bound
            && start < b
        {
            self.fail(f, Rule::TRtrs, b.saturating_sub(lat), b - start);
        }
    }

    /// tCCD after reads and tWTR after writes, for a read-like access of bank `f`.
    fn read_after(&mut self, f: usize, now: u64, rank: &RankHist) {
        let t = self.p.t.clone();
        let bg = self.bg_of(f);
        let wdone = self.p.cwl + self.p.burst;
        for g in 0..self.p.bgs {
            let same = g == bg;
            let (rule, gap) = if same {
                (Rule::TCcdL, t.tccd_l)
            } else {
                (Rule::TCcdS, t.tccd_s)
            };
            self.need(now, f, rule, rank.rd_bg[g], w(gap));
            let (rule, gap) = if same {
                (Rule::TWtrL, t.twtr_l)
            } else {
                (Rule::TWtrS, t.twtr_s)
            };
            self.need(now, f, rule, rank.wr_bg[g], wdone + w(gap));
        }
    }

    fn pim_column(&mut self, ch: usize, c: &Command) {
        let now = c.cycle.0;
        let pt = self.p.pim.clone().unwrap_or(zero_pim());
        let mac = c.kind == CommandKind::MacAb;
        let (last_mac, last_ewop, gb, readout) = (
            self.ch[ch].mac,
            self.ch[ch].ewop,
            self.ch[ch].gb,
            self.ch[ch].readout,
        );
        if mac {
            self.need(now, 0, Rule::TCcdMac, last_mac, w(pt.tccd_mac));
            self.need(now, 0, Rule::AccToMac, readout, 0);
        } else {
            self.need(now, 0, Rule::TEwop, last_ewop, w(pt.tewop));
        }
        self.need(now, 0, Rule::GbToMac, gb, self.p.cwl + self.p.burst);
        let sub = c.bank as usize;
        if self.ch[ch].loaded.len() <= sub {
            self.ch[ch].loaded.resize(sub + 1, false);
        }
        let staged = self.ch[ch].loaded[sub];
        match c.kind {
            CommandKind::EwLoad => self.ch[ch].loaded[sub] = true,
            CommandKind::EwStore => self.ch[ch].loaded[sub] = false,
            _ => {}
        }
        let banks = self.ch[ch].banks.len();
        for f in (c.bank as usize..banks).step_by(self.p.sub) {
            let b = self.ch[ch].banks[f].clone();
            if b.open != Some(c.row) {
                self.fail(f, Rule::BankState, now, 0);
            }
            if c.kind == CommandKind::EwStore {
                // Register file -> bank: write-like (tRCD_WR; tWR to PRE).
                self.need(now, f, Rule::TRcdWr, b.act, w(self.p.t.trcd_wr));
                self.ch[ch].banks[f].wr = Some(now);
                continue;
            }
            let bk = &mut self.ch[ch].banks[f];
            match c.kind {
                CommandKind::EwLoad => bk.rd = Some(now),
                // A staged op reads `b` into the registers: read-like.
                CommandKind::EwMul | CommandKind::EwAdd if staged => bk.rd = Some(now),
                CommandKind::MacAb => bk.mac = Some(now),
                _ => bk.ewop = Some(now),
            }
            self.need(now, f, Rule::TRcdRd, b.act, w(self.p.t.trcd_rd));
            let rank = self.ch[ch].ranks[f / self.p.bpr].clone();
            self.read_after(f, now, &rank);
        }
        if mac {
            self.ch[ch].mac = Some(now);
        } else {
            self.ch[ch].ewop = Some(now);
        }
    }

    /// MAC_SB: a read-like column command to one bank, `tccd_mac` after that bank's
    /// previous MAC_SB.
    fn mac_single(&mut self, ch: usize, c: &Command) {
        let now = c.cycle.0;
        let pt = self.p.pim.clone().unwrap_or(zero_pim());
        let f = self.flat(c);
        let b = self.ch[ch].banks[f].clone();
        if b.open != Some(c.row) {
            self.fail(f, Rule::BankState, now, 0);
        }
        self.need(now, f, Rule::TRcdRd, b.act, w(self.p.t.trcd_rd));
        self.need(now, f, Rule::TCcdMac, b.mac, w(pt.tccd_mac));
        let (gb, readout) = (self.ch[ch].gb, self.ch[ch].readout);
        self.need(now, f, Rule::GbToMac, gb, self.p.cwl + self.p.burst);
        self.need(now, f, Rule::AccToMac, readout, 0);
        let rank = self.ch[ch].ranks[c.rank as usize].clone();
        self.read_after(f, now, &rank);
        self.ch[ch].ranks[c.rank as usize].rd_bg[c.bank_group as usize] = Some(now);
        self.ch[ch].banks[f].mac = Some(now);
        self.ch[ch].mac = Some(now);
    }

    fn refresh_all(&mut self, ch: usize, c: &Command) {
        let now = c.cycle.0;
        let r = c.rank as usize;
        let trefi = w(self.p.t.trefi);
        for f in r * self.p.bpr..(r + 1) * self.p.bpr {
            self.refresh_bank(ch, f, now, w(self.p.t.trfc), Rule::TRfc);
        }
        let rk = &mut self.ch[ch].ranks[r];
        rk.refs += 1;
        let deadline = (rk.refs + 1) * trefi;
        if now > deadline {
            self.fail(r * self.p.bpr, Rule::TRefi, deadline, now - deadline);
        }
    }

    fn refresh_pb(&mut self, ch: usize, c: &Command) {
        let now = c.cycle.0;
        let f = self.flat(c);
        self.refresh_bank(ch, f, now, w(self.p.t.trfc_pb), Rule::TRfcPb);
        let trefi = w(self.p.t.trefi_pb);
        let rk = &mut self.ch[ch].ranks[c.rank as usize];
        rk.refs_pb += 1;
        let deadline = (rk.refs_pb + 1) * trefi;
        if now > deadline {
            self.fail(f, Rule::TRefiPb, deadline, now - deadline);
        }
    }

    fn refresh_bank(&mut self, ch: usize, f: usize, now: u64, trfc: u64, rule: Rule) {
        let b = self.ch[ch].banks[f].clone();
        if b.open.is_some() {
            self.fail(f, Rule::BankState, now, 0);
        }
        self.need(now, f, Rule::TRp, b.pre, w(self.p.t.trp));
        if let Some((end, r)) = b.refresh_end {
            self.need(now, f, r, Some(end), 0);
        }
        self.ch[ch].banks[f].refresh_end = Some((now + trfc, rule));
    }

    fn end_of_run(&mut self, end: u64, len: usize) {
        for c in 0..self.ch.len() {
            if self.ch[c].pim_mode {
                // A run's end counts as an exit: the log must contain it.
                self.out.push(Violation {
                    index: len,
                    command: None,
                    bank: 0,
                    rule: Rule::PimMode,
                    bound: Cycles(end),
                    by: Cycles(0),
                });
            }
        }
        let (interval, rule) = match self.p.refresh {
            RefreshMode::Off => return,
            RefreshMode::AllBank => (w(self.p.t.trefi), Rule::TRefi),
            RefreshMode::PerBank => (w(self.p.t.trefi_pb), Rule::TRefiPb),
        };
        let bpr = self.p.bpr;
        for c in 0..self.ch.len() {
            for r in 0..self.ch[c].ranks.len() {
                let rk = &self.ch[c].ranks[r];
                let done = if rule == Rule::TRefi {
                    rk.refs
                } else {
                    rk.refs_pb
                };
                let deadline = (done + 2) * interval;
                if end > deadline {
                    self.out.push(Violation {
                        index: len,
                        command: None,
                        bank: (r * bpr) as u32,
                        rule,
                        bound: Cycles(deadline),
                        by: Cycles(end - deadline),
                    });
                }
            }
        }
    }
}

fn zero_pim() -> triad_isa::PimTiming {
    triad_isa::PimTiming {
        tccd_mac: 0,
        twr_gb: 0,
        trd_mac: 0,
        taf: 0,
        tewop: 0,
        tmode_enter: 0,
        tmode_exit: 0,
    }
}
