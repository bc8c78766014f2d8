//! The checker catches each planted violation, naming the rule and by how much.
//! Every log below is legal except for its last command; each expected shortfall
//! is computed from the arch's timing fields.

use crate::common::*;
use triad_isa::Arch;
use triad_isa::Cycles;
use triad_sim::{Command, CommandKind, CommandLog, Rule, check};

use CommandKind::*;

fn c(cycle: u64, kind: CommandKind, rank: u32, bg: u32, bank: u32, row: u32) -> Command {
    Command {
        cycle: Cycles(cycle),
        kind,
        channel: 0,
        rank,
        bank_group: bg,
        bank,
        row,
        column: 0,
    }
}

fn expect(a: &Arch, cmds: Vec<Command>, rule: Rule, by: u64) {
    let log = CommandLog { commands: cmds };
    // The prefix without the planted command is clean.
    let prefix = CommandLog {
        commands: log.commands[..log.commands.len() - 1].to_vec(),
    };
    let end = log.commands.last().unwrap().cycle.0;
    assert!(
        check(a, &prefix, Cycles(end)).is_empty(),
        "{rule:?}: prefix not clean: {:?}",
        check(a, &prefix, Cycles(end))
    );
    let v = check(a, &log, Cycles(end));
    assert!(
        v.iter()
            .any(|x| x.rule == rule && x.by.0 == by && x.index == log.commands.len() - 1),
        "{rule:?} by {by} not reported; got {v:?}"
    );
    let text = v.iter().find(|x| x.rule == rule).unwrap().to_string();
    assert!(
        text.contains(log.commands.last().unwrap().kind.mnemonic()),
        "{text}"
    );
}

#[test]
fn catches_each_ordinary_rule() {
    let a = no_refresh("hbm2");
    let t = a.dram.timing.clone();
    let w = u64::from;
    let b = burst(&a);
    let (cwl, rcd, rcdw) = (w(t.cwl), w(t.trcd_rd), w(t.trcd_wr));
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(rcd - 3, Rd, 0, 0, 0, 1)],
        Rule::TRcdRd,
        3,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(rcdw - 2, Wr, 0, 0, 0, 1)],
        Rule::TRcdWr,
        2,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(w(t.tras) - 5, Pre, 0, 0, 0, 0)],
        Rule::TRas,
        5,
    );
    let pre = w(t.tras);
    let again = pre + w(t.trp) - 1;
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(pre, Pre, 0, 0, 0, 0),
            c(again, Act, 0, 0, 0, 2),
        ],
        Rule::TRp,
        1,
    );
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(pre, Pre, 0, 0, 0, 0),
            c(again, Act, 0, 0, 0, 2),
        ],
        Rule::TRc,
        w(t.trc) - again,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(w(t.trrd_s) - 1, Act, 0, 1, 0, 1)],
        Rule::TRrdS,
        1,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(w(t.trrd_l) - 1, Act, 0, 0, 1, 1)],
        Rule::TRrdL,
        1,
    );
    let g = w(t.trrd_l);
    let faw = vec![
        c(0, Act, 0, 0, 0, 1),
        c(g, Act, 0, 1, 0, 1),
        c(2 * g, Act, 0, 2, 0, 1),
        c(3 * g, Act, 0, 3, 0, 1),
        c(4 * g, Act, 0, 0, 1, 1),
    ];
    expect(&a, faw, Rule::TFaw, w(t.tfaw) - 4 * g);
    let rd2 = 30 + w(t.tccd_l) - 1;
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(g, Act, 0, 0, 1, 1),
            c(30, Rd, 0, 0, 0, 1),
            c(rd2, Rd, 0, 0, 1, 1),
        ],
        Rule::TCcdL,
        1,
    );
    let wr_at = rcdw;
    let pre_at = wr_at + cwl + b + w(t.twr) - 2;
    assert!(pre_at >= w(t.tras));
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(wr_at, Wr, 0, 0, 0, 1),
            c(pre_at, Pre, 0, 0, 0, 0),
        ],
        Rule::TWr,
        2,
    );
    let s = w(t.trrd_s);
    let rd_s = 20 + cwl + b + w(t.twtr_s) - 1;
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(s, Act, 0, 1, 0, 1),
            c(20, Wr, 0, 0, 0, 1),
            c(rd_s, Rd, 0, 1, 0, 1),
        ],
        Rule::TWtrS,
        1,
    );
    let rd_l = 20 + cwl + b + w(t.twtr_l) - 1;
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(g, Act, 0, 0, 1, 1),
            c(20, Wr, 0, 0, 0, 1),
            c(rd_l, Rd, 0, 0, 1, 1),
        ],
        Rule::TWtrL,
        1,
    );
    let rtp = 30 + w(t.trtp) - 1;
    assert!(rtp >= w(t.tras));
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(30, Rd, 0, 0, 0, 1),
            c(rtp, Pre, 0, 0, 0, 0),
        ],
        Rule::TRtp,
        1,
    );
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(rcd, Rd, 0, 0, 0, 1),
            c(rcd + w(t.trtw) - 1, Wr, 0, 0, 0, 1),
        ],
        Rule::TRtw,
        1,
    );
    expect(
        &a,
        vec![
            c(100, Ref, 0, 0, 0, 0),
            c(100 + w(t.trfc) - 4, Act, 0, 0, 0, 1),
        ],
        Rule::TRfc,
        4,
    );
    expect(
        &a,
        vec![
            c(100, RefPb, 0, 0, 0, 0),
            c(100 + w(t.trfc_pb) - 1, Act, 0, 0, 0, 1),
        ],
        Rule::TRfcPb,
        1,
    );
    // Another rank's burst overlapping on the data bus (the hbm2 preset has one
    // rank per channel; this log needs a second).
    let mut two_ranks = a.clone();
    two_ranks.dram.ranks = 2;
    expect(
        &two_ranks,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(4, Act, 1, 0, 0, 1),
            c(30, Rd, 0, 0, 0, 1),
            c(31, Rd, 1, 0, 0, 1),
        ],
        Rule::DataBus,
        b - 1,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(0, Act, 0, 2, 0, 1)],
        Rule::CommandBus,
        1,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(40, Rd, 0, 0, 1, 1)],
        Rule::BankState,
        0,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(40, Rd, 0, 0, 0, 2)],
        Rule::BankState,
        0,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(100, Act, 0, 0, 0, 2)],
        Rule::BankState,
        0,
    );
}

#[test]
fn catches_tccd_s_where_it_exceeds_one_cycle() {
    let a = no_refresh("lpddr5");
    let t = a.dram.timing.clone();
    let s = u64::from(t.trrd_s);
    let at = 40 + u64::from(t.tccd_s) - 1;
    expect(
        &a,
        vec![
            c(0, Act, 0, 0, 0, 1),
            c(s, Act, 0, 1, 0, 1),
            c(40, Rd, 0, 0, 0, 1),
            c(at, Rd, 0, 1, 0, 1),
        ],
        Rule::TCcdS,
        1,
    );
}

#[test]
fn catches_late_and_missing_refresh() {
    let a = preset("hbm2");
    let trefi = u64::from(a.dram.timing.trefi);
    let late = CommandLog {
        commands: vec![
            c(0, Act, 0, 0, 0, 1),
            c(2 * trefi + 5, Pre, 0, 0, 0, 0),
            c(2 * trefi + 20, Ref, 0, 0, 0, 0),
        ],
    };
    let v = check(&a, &late, Cycles(0));
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].rule, v[0].by.0, v[0].index), (Rule::TRefi, 20, 2));
    let v = check(&a, &CommandLog::default(), Cycles(3 * trefi));
    let ranks = (a.dram.channels * a.dram.ranks) as usize;
    assert_eq!(
        v.iter()
            .filter(|x| x.rule == Rule::TRefi && x.command.is_none())
            .count(),
        ranks
    );
    assert!(v[0].to_string().contains("end of run"));
    let a = preset("lpddr5");
    let pb = u64::from(a.dram.timing.trefi_pb);
    let late = CommandLog {
        commands: vec![c(0, Act, 0, 2, 0, 1), c(2 * pb + 1, RefPb, 0, 0, 0, 0)],
    };
    let v = check(&a, &late, Cycles(0));
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].rule, v[0].by.0, v[0].index), (Rule::TRefiPb, 1, 1));
}

#[test]
fn catches_each_pim_rule() {
    let a = no_refresh("mobile-soc-pim");
    let p = a.pim.as_ref().unwrap().timing.clone();
    let t = a.dram.timing.clone();
    let w = u64::from;
    let b = burst(&a);
    let rcd = w(t.trcd_rd);
    let mac = |at| c(at, MacAb, 0, 0, 0, 1);
    let act_ab = c(0, ActAb, 0, 0, 0, 1);
    expect(&a, vec![act_ab, mac(rcd - 1)], Rule::TRcdRd, 1);
    expect(
        &a,
        vec![act_ab, mac(rcd), mac(rcd + w(p.tccd_mac) - 1)],
        Rule::TCcdMac,
        1,
    );
    expect(
        &a,
        vec![c(0, WrGb, 0, 0, 0, 0), c(w(p.twr_gb) - 1, WrGb, 0, 0, 0, 0)],
        Rule::TWrGb,
        1,
    );
    expect(
        &a,
        vec![act_ab, c(rcd - 2, WrGb, 0, 0, 0, 0), mac(rcd)],
        Rule::GbToMac,
        w(t.cwl) + b - 2,
    );
    let rd = rcd + w(p.tccd_mac);
    let next = rd + w(p.tccd_mac);
    expect(
        &a,
        vec![act_ab, mac(rcd), c(rd, RdMac, 0, 0, 0, 0), mac(next)],
        Rule::AccToMac,
        rd + w(p.trd_mac) - next,
    );
    expect(
        &a,
        vec![
            act_ab,
            mac(rcd),
            c(rcd + w(p.tccd_mac) - 1, RdAf, 0, 0, 0, 0),
        ],
        Rule::MacToRead,
        1,
    );
    // AF: tccd_mac after the last MAC, taf to the next AF and to the read-out,
    // and the accumulators are busy for taf.
    let af = rcd + w(p.tccd_mac);
    expect(
        &a,
        vec![act_ab, mac(rcd), c(af - 1, Af, 0, 0, 0, 0)],
        Rule::MacToRead,
        1,
    );
    expect(
        &a,
        vec![
            act_ab,
            mac(rcd),
            c(af, Af, 0, 0, 0, 0),
            c(af + w(p.taf) - 1, RdAf, 0, 0, 0, 0),
        ],
        Rule::TAf,
        1,
    );
    expect(
        &a,
        vec![c(0, Af, 0, 0, 0, 0), c(w(p.taf) - 1, Af, 0, 0, 0, 0)],
        Rule::TAf,
        1,
    );
    expect(
        &a,
        vec![act_ab, c(rcd - w(p.taf) + 1, Af, 0, 0, 0, 0), mac(rcd)],
        Rule::AccToMac,
        1,
    );
    // WR_BIAS shares the buffer-write spacing with WR_GB.
    expect(
        &a,
        vec![
            c(0, WrGb, 0, 0, 0, 0),
            c(w(p.twr_gb) - 1, WrBias, 0, 0, 0, 0),
        ],
        Rule::TWrGb,
        1,
    );
    let ew = |at| c(at, EwAdd, 0, 0, 0, 1);
    let ewm = |at| c(at, EwMul, 0, 0, 0, 1);
    expect(
        &a,
        vec![act_ab, ew(rcd), ewm(rcd + w(p.tewop) - 1)],
        Rule::TEwop,
        1,
    );
    let pre_at = (rcd + w(p.tewop) + w(t.twr) - 3).max(w(t.tras));
    expect(
        &a,
        vec![act_ab, ew(rcd), c(pre_at, PreAb, 0, 0, 0, 0)],
        Rule::TEwop,
        rcd + w(p.tewop) + w(t.twr) - pre_at,
    );
    expect(
        &a,
        vec![act_ab, c(w(t.tras) - 7, PreAb, 0, 0, 0, 0)],
        Rule::TRas,
        7,
    );
    expect(
        &a,
        vec![act_ab, mac(rcd), c(rcd + 1, Rd, 0, 1, 2, 1)],
        Rule::TCcdL,
        w(t.tccd_l) - 1,
    );
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), c(50, ActAb, 0, 0, 0, 2)],
        Rule::BankState,
        0,
    );
    let sb = |at, bank| c(at, MacSb, 0, 0, bank, 1);
    let two = vec![c(0, Act, 0, 0, 0, 1), c(w(t.trrd_l), Act, 0, 0, 1, 1)];
    let first = w(t.trrd_l) + rcd;
    let mut v = two.clone();
    v.extend([sb(first, 0), sb(first + w(p.tccd_mac) - 1, 0)]);
    expect(&a, v, Rule::TCcdMac, 1);
    let mut v = two;
    v.extend([sb(first, 0), sb(first + w(t.tccd_l) - 1, 1)]);
    expect(&a, v, Rule::TCcdL, 1);
    expect(
        &a,
        vec![c(0, Act, 0, 0, 0, 1), sb(rcd - 2, 0)],
        Rule::TRcdRd,
        2,
    );
}

#[test]
fn commands_naming_missing_hardware_are_reported_not_panics() {
    let a = no_refresh("hbm2");
    let d = &a.dram;
    for bad in [
        Command {
            channel: d.channels,
            ..c(0, Act, 0, 0, 0, 1)
        },
        c(0, Act, d.ranks, 0, 0, 1),
        c(0, Rd, 0, d.bank_groups, 0, 1),
        c(0, Pre, 0, 0, d.banks_per_group, 0),
        c(0, MacSb, 0, 0, d.banks_per_group + 3, 0),
    ] {
        let v = check(
            &a,
            &CommandLog {
                commands: vec![bad],
            },
            Cycles(0),
        );
        assert_eq!(v.len(), 1, "{bad}: {v:?}");
        assert_eq!(v[0].rule, Rule::BankState);
    }
    let v = check(
        &a,
        &CommandLog {
            commands: vec![c(5, PreAb, 0, 0, 0, 0)],
        },
        Cycles(0),
    );
    assert_eq!(v[0].rule, Rule::BankState, "PRE_AB with no open bank");
}

/// PIM mode on a device with modes (hbm-pim-samsung: `tmode_enter`, `tmode_exit`
/// from its preset): a command during the switch, a RD in PIM mode, a PIM command
/// outside it, and a run ending in PIM mode are each reported.
#[test]
fn catches_pim_mode_rules() {
    let a = preset("hbm-pim-samsung");
    let pt = a.pim.as_ref().unwrap().timing.clone();
    let (enter, exit) = (u64::from(pt.tmode_enter), u64::from(pt.tmode_exit));
    let rules = |cmds: Vec<Command>, end: u64| -> Vec<(Rule, u64)> {
        check(&a, &CommandLog { commands: cmds }, Cycles(end))
            .iter()
            .map(|v| (v.rule, v.by.0))
            .collect()
    };
    // Clean: enter, exit after the entry time, a RD cycle after the exit time.
    let clean = vec![
        c(0, PimEnter, 0, 0, 0, 0),
        c(enter, PimExit, 0, 0, 0, 0),
        c(enter + exit, Act, 0, 0, 0, 1),
    ];
    assert_eq!(rules(clean, enter + exit + 1), vec![]);
    // ACT 10 cycles into the entry.
    let v = rules(
        vec![c(0, PimEnter, 0, 0, 0, 0), c(10, ActAb, 0, 0, 0, 1)],
        20,
    );
    assert!(v.contains(&(Rule::TMode, enter - 10)), "{v:?}");
    assert!(v.contains(&(Rule::PimMode, 0)), "ends in PIM mode: {v:?}");
    // A PIM command outside PIM mode.
    let v = rules(vec![c(0, ActAb, 0, 0, 0, 1)], 1);
    assert_eq!(v, vec![(Rule::PimMode, 0)]);
}
