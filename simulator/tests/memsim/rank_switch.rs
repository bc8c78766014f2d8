//! Rank-to-rank switching (tRTRS): a burst from one rank after a burst from another
//! waits tRTRS on the data bus (except a write after a write), in the controller and
//! in the checker. Expected cycles are derived from the arch's fields by hand.

use crate::common::*;
use triad_isa::Cycles;
use triad_sim::{Command, CommandKind, CommandLog, IssueRate, Rule, TimedRequest, check};

/// Two reads arriving together, one per rank of lpddr4 (DRAMsim3's LPDDR4 config,
/// tRTRS = 1): each moves into its command queue one cycle after the other, both
/// banks are closed, so ACT, ACT one cycle later (different ranks: no tRRD), RD of
/// rank 0 tRCD after its ACT, RD of rank 1 no earlier than its own tRCD and no
/// earlier than the first burst's end plus tRTRS (burst + tRTRS after the first RD).
#[test]
fn read_after_other_ranks_read_waits_trtrs() {
    let a = no_refresh("lpddr4");
    let t = &a.dram.timing;
    assert_eq!(a.dram.ranks, 2);
    assert_eq!(t.trtrs, 1, "DRAMsim3's LPDDR4_8Gb_x16_2400.ini: tRTRS = 1");
    let (trcd, cl, trtrs) = (u64::from(t.trcd_rd), u64::from(t.cl), u64::from(t.trtrs));
    let b = burst(&a);
    let act0 = 1; // arrival at 0, schedulable from 1
    let act1 = act0 + 1;
    let rd0 = act0 + trcd;
    let rd1 = (act1 + trcd).max(rd0 + b + trtrs);
    let out = run_checked(
        &a,
        &[
            TimedRequest::read(addr(&a, 0, 0, 0, 0, 3, 0), Cycles(0)),
            TimedRequest::read(addr(&a, 0, 1, 0, 0, 3, 0), Cycles(0)),
        ],
        IssueRate::Unlimited,
    );
    assert_eq!(out.stats.total_cycles.0, rd1 + cl + b);
    let rds: Vec<u64> = out
        .log
        .unwrap()
        .commands
        .iter()
        .filter(|c| c.kind == CommandKind::Rd)
        .map(|c| c.cycle.0)
        .collect();
    assert_eq!(rds, vec![rd0, rd1]);
    // The same reads on one rank (two bank groups) are only tCCD_S apart.
    let one_rank = run_checked(
        &a,
        &[
            TimedRequest::read(addr(&a, 0, 0, 0, 0, 3, 0), Cycles(0)),
            TimedRequest::read(addr(&a, 0, 0, 1, 0, 3, 0), Cycles(0)),
        ],
        IssueRate::Unlimited,
    );
    let rrd = u64::from(t.trrd_s);
    let same_rank_rd1 = (act0 + rrd + trcd).max(rd0 + b.max(u64::from(t.tccd_s)));
    assert_eq!(one_rank.stats.total_cycles.0, same_rank_rd1 + cl + b);
}

fn cmd(cycle: u64, kind: CommandKind, rank: u32) -> Command {
    Command {
        cycle: Cycles(cycle),
        kind,
        channel: 0,
        rank,
        bank_group: 0,
        bank: 0,
        row: 1,
        column: 0,
    }
}

/// The checker: RD → RD, RD → WR and WR → RD across ranks one cycle short of the
/// tRTRS gap are reported (by 1), each at the earliest legal cycle is clean, and
/// WR → WR across ranks needs only the burst.
#[test]
fn checker_holds_bursts_of_different_ranks_trtrs_apart() {
    use CommandKind::*;
    let a = no_refresh("lpddr4");
    let t = &a.dram.timing;
    let (cl, cwl, trtrs) = (u64::from(t.cl), u64::from(t.cwl), u64::from(t.trtrs));
    let b = burst(&a);
    let start = 100; // both banks opened long before
    let opened = vec![cmd(0, Act, 0), cmd(1, Act, 1)];
    // Earliest second command: its burst starts tRTRS after the first one's end.
    let cases = [
        (Rd, Rd, start + cl + b + trtrs - cl),
        (Rd, Wr, start + cl + b + trtrs - cwl),
        (Wr, Rd, start + cwl + b + trtrs - cl),
        (Wr, Wr, start + cwl + b - cwl),
    ];
    for (first, second, earliest) in cases {
        let log = |at: u64| {
            let mut c = opened.clone();
            c.push(cmd(start, first, 0));
            c.push(cmd(at, second, 1));
            CommandLog { commands: c }
        };
        let end = earliest + 200;
        let ok = check(&a, &log(earliest), Cycles(end));
        assert!(
            ok.is_empty(),
            "{first:?} -> {second:?} at {earliest}: {ok:?}"
        );
        let early = check(&a, &log(earliest - 1), Cycles(end));
        let rule = if (first, second) == (Wr, Wr) {
            Rule::DataBus
        } else {
            Rule::TRtrs
        };
        assert!(
            early.iter().any(|v| v.rule == rule && v.by.0 == 1),
            "{first:?} -> {second:?} at {}: {early:?}",
            earliest - 1
        );
    }
}
