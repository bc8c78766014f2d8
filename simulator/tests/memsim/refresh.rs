//! Refresh: all-bank REF every tREFI blocking the rank for tRFC; per-bank REFpb
//! every tREFIpb blocking one bank for tRFCpb.

use crate::common::*;
use triad_isa::Cycles;
use triad_sim::{CommandKind, IssueRate, TimedRequest};

#[test]
fn all_bank_refresh_every_trefi_blocks_for_trfc() {
    let a = preset("hbm2");
    let t = &a.dram.timing;
    let (trefi, trfc) = (u64::from(t.trefi), u64::from(t.trfc));
    let x = addr(&a, 0, 0, 0, 0, 9, 0);
    let late = 5 * trefi + 10;
    let out = run_checked(
        &a,
        &[
            TimedRequest::read(x, Cycles(0)),
            TimedRequest::read(x, Cycles(late)),
        ],
        IssueRate::Trace,
    );
    let log = out.log.unwrap();
    let refs: Vec<u64> = log
        .commands
        .iter()
        .filter(|c| c.kind == CommandKind::Ref && c.channel == 0 && c.rank == 0)
        .map(|c| c.cycle.0)
        .collect();
    // The first REF must close the row the first read left open: PRE at tREFI, REF tRP later.
    let mut expect = vec![trefi + u64::from(t.trp)];
    expect.extend((2..=5).map(|k| k * trefi));
    assert_eq!(refs, expect);
    // The read arriving 10 cycles after the 5th REF waits for tRFC, then opens the row.
    let miss = u64::from(t.trcd_rd + t.cl) + burst(&a);
    assert_eq!(out.stats.read_latency.max.0, 5 * trefi + trfc + miss - late);
}

#[test]
fn per_bank_refresh_blocks_one_bank_for_trfc_pb() {
    let a = preset("lpddr5");
    let t = &a.dram.timing;
    let (trefi_pb, trfc_pb) = (u64::from(t.trefi_pb), u64::from(t.trfc_pb));
    // REFpb rotates over the banks of the rank starting at bank 0 at tREFIpb.
    let bank0 = addr(&a, 0, 0, 0, 0, 4, 0);
    let bank1 = addr(&a, 0, 0, 0, 1, 4, 0);
    let out = run_checked(
        &a,
        &[
            TimedRequest::read(bank0, Cycles(trefi_pb)),
            TimedRequest::read(bank1, Cycles(trefi_pb)),
        ],
        IssueRate::Trace,
    );
    let miss = u64::from(t.trcd_rd + t.cl) + burst(&a);
    assert_eq!(out.stats.read_latency.max.0, trfc_pb + miss, "blocked bank");
    // Both arrive at tREFIpb; one request per cycle moves into a command queue, so
    // bank 1's enters at tREFIpb + 1 and activates a cycle later.
    assert_eq!(
        out.stats.read_latency.min.0,
        miss + 2,
        "other bank: second into the command queues"
    );
    let log = out.log.unwrap();
    let refpb: Vec<_> = log
        .commands
        .iter()
        .filter(|c| c.kind == CommandKind::RefPb && c.channel == 0)
        .collect();
    assert_eq!(refpb[0].cycle.0, trefi_pb);
    assert_eq!((refpb[0].bank_group, refpb[0].bank), (0, 0));
}

#[test]
fn refresh_count_matches_elapsed_intervals() {
    let a = preset("lpddr4");
    let trefi = u64::from(a.dram.timing.trefi);
    let reqs: Vec<_> = (0..40u64)
        .map(|i| {
            TimedRequest::read(
                addr(&a, 0, (i % 2) as u32, 0, (i % 4) as u32, i as u32, 0),
                Cycles(i * trefi / 4),
            )
        })
        .collect();
    let out = run_checked(&a, &reqs, IssueRate::Trace);
    let refs = out.stats.commands.get("REF").copied().unwrap_or(0);
    let ranks = u64::from(a.dram.ranks);
    // Ranks are staggered (DRAMsim3's RANK_LEVEL_STAGGERED): rank r is due at
    // (r + 1) * tREFI / ranks, then every tREFI; each due REF is issued (the last
    // of each rank may still be pending when the run ends).
    let end = out.stats.total_cycles.0;
    let due: u64 = (0..ranks)
        .map(|r| {
            let first = (r + 1) * (trefi / ranks);
            if end >= first {
                (end - first) / trefi + 1
            } else {
                0
            }
        })
        .sum();
    assert!(
        refs + ranks >= due && refs <= due,
        "{refs} REF, {due} due by cycle {end}"
    );
}

#[test]
fn refresh_runs_before_a_late_first_request() {
    for name in ["hbm2", "lpddr5"] {
        let a = preset(name);
        let late = 7 * u64::from(a.dram.timing.trefi) + 3;
        let out = run_checked(&a, &[TimedRequest::read(0, Cycles(late))], IssueRate::Trace);
        let refs: u64 = ["REF", "REFpb"]
            .iter()
            .filter_map(|k| out.stats.commands.get(*k))
            .sum();
        assert!(refs >= 6, "{name}: {refs} refreshes before cycle {late}");
    }
}

/// `dram.controller.first_refresh_ck` moves the refresh phase: on hbm2 with it set
/// to tREFI / 2, REFs fall at tREFI / 2 + k * tREFI (no row open, so no PRE first).
#[test]
fn first_refresh_ck_sets_the_refresh_phase() {
    let mut a = preset("hbm2");
    let trefi = u64::from(a.dram.timing.trefi);
    a.dram.controller.first_refresh_ck = Some((trefi / 2) as u32);
    a.validate().unwrap();
    let x = addr(&a, 0, 0, 0, 0, 9, 0);
    let late = 3 * trefi;
    let out = run_checked(&a, &[TimedRequest::read(x, Cycles(late))], IssueRate::Trace);
    let refs: Vec<u64> = out
        .log
        .unwrap()
        .commands
        .iter()
        .filter(|c| c.kind == CommandKind::Ref && c.channel == 0 && c.rank == 0)
        .map(|c| c.cycle.0)
        .collect();
    let expect: Vec<u64> = (0..3).map(|k| trefi / 2 + k * trefi).collect();
    assert_eq!(refs, expect);
    // Out of range: 0 and more than one interval are rejected.
    for bad in [0, trefi as u32 + 1] {
        a.dram.controller.first_refresh_ck = Some(bad);
        assert!(a.validate().is_err(), "first_refresh_ck = {bad}");
    }
}
