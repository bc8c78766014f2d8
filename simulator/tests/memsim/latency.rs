//! Single-request latencies, each derived from the arch's timing fields.

use crate::common::*;
use triad_isa::Arch;
use triad_isa::Cycles;
use triad_sim::{
    CompletionKind, Direction, IssueRate, MemoryOptions, MemorySystem, Submit, TimedRequest,
};

const DRAM_PRESETS: [&str; 6] = ["lpddr4", "lpddr5", "lpddr5x", "hbm2", "hbm3", "gddr6"];

/// A request that arrives at cycle `c` moves into its command queue at the end of
/// cycle `c` and can issue from `c + 1` (DRAMsim3's controller, see channel.rs).
const FRONTEND: u64 = 1;

#[test]
fn closed_bank_read_is_trcd_plus_cl_plus_burst() {
    for name in DRAM_PRESETS {
        let a = no_refresh(name);
        let t = &a.dram.timing;
        let expect = FRONTEND + u64::from(t.trcd_rd) + u64::from(t.cl) + burst(&a);
        let at = 7;
        let out = run_checked(
            &a,
            &[TimedRequest::read(addr(&a, 0, 0, 1, 1, 3, 2), Cycles(at))],
            IssueRate::Trace,
        );
        assert_eq!(out.stats.read_latency.min.0, expect, "{name}");
        assert_eq!(out.stats.read_latency.max.0, expect, "{name}");
        assert_eq!(out.stats.total_cycles.0, at + expect, "{name}");
    }
}

#[test]
fn row_miss_on_open_bank_pays_trp_trcd_cl_burst() {
    for name in DRAM_PRESETS {
        let a = no_refresh(name);
        let t = &a.dram.timing;
        let first = addr(&a, 0, 0, 0, 1, 10, 0);
        let second = addr(&a, 0, 0, 0, 1, 11, 0);
        // Late enough that tRAS and tRTP of the first access have long passed.
        let later = 10 * u64::from(t.trc);
        let out = run_checked(
            &a,
            &[
                TimedRequest::read(first, Cycles(0)),
                TimedRequest::read(second, Cycles(later)),
            ],
            IssueRate::Trace,
        );
        let miss = FRONTEND + u64::from(t.trp + t.trcd_rd + t.cl) + burst(&a);
        assert_eq!(out.stats.read_latency.max.0, miss, "{name}");
        assert_eq!(out.stats.total_cycles.0, later + miss, "{name}");
        assert_eq!(out.stats.row_hits, 0, "{name}");
    }
}

#[test]
fn row_hit_pays_cl_plus_burst() {
    let a = no_refresh("hbm2");
    let t = &a.dram.timing;
    let later = 1000;
    let out = run_checked(
        &a,
        &[
            TimedRequest::read(addr(&a, 0, 0, 0, 0, 5, 0), Cycles(0)),
            TimedRequest::read(addr(&a, 0, 0, 0, 0, 5, 3), Cycles(later)),
        ],
        IssueRate::Trace,
    );
    assert_eq!(
        out.stats.read_latency.min.0,
        FRONTEND + u64::from(t.cl) + burst(&a)
    );
    assert_eq!(out.stats.row_hits, 1);
}

/// Closed loop on one bank, two rows alternating: each request enters when the
/// previous one's data is done. The ACT-to-ACT period is then
/// `max(tRC, tRAS + tRP, tRCD + tRTP + tRP, tRCD + CL + burst + 1 + tRP)` (the 1:
/// the next request's cycle in the transaction queue), never below tRC.
fn ping_pong_period(a: &Arch) -> u64 {
    let t = &a.dram.timing;
    let w = u64::from;
    [
        w(t.trc),
        w(t.tras + t.trp),
        w(t.trcd_rd + t.trtp + t.trp),
        w(t.trcd_rd + t.cl + t.trp) + burst(a) + FRONTEND,
    ]
    .into_iter()
    .max()
    .unwrap()
}

#[test]
fn paced_row_ping_pong_is_bounded_by_trc() {
    for name in DRAM_PRESETS {
        let a = no_refresh(name);
        let rows = [addr(&a, 0, 0, 0, 0, 1, 0), addr(&a, 0, 0, 0, 0, 2, 0)];
        let mut mem = MemorySystem::new(&a, MemoryOptions::default()).unwrap();
        let mut now = 0;
        let n = 40;
        for i in 0..n {
            assert!(matches!(
                mem.submit(Direction::Read, rows[i % 2], Cycles(now))
                    .unwrap(),
                Submit::Accepted(_)
            ));
            let done = loop {
                let tick = mem.tick(Cycles(now)).unwrap();
                let c: Vec<_> = mem.drain_completions().collect();
                if let Some(c) = c.first() {
                    assert_eq!(c.kind, CompletionKind::Read);
                    break c.done.0;
                }
                now = tick.next.expect("work pending").0;
            };
            now = done;
        }
        let log = mem.command_log().unwrap();
        assert_clean(&a, &log, now);
        let acts: Vec<u64> = log
            .commands
            .iter()
            .filter(|c| c.kind == triad_sim::CommandKind::Act)
            .map(|c| c.cycle.0)
            .collect();
        assert_eq!(acts.len(), n);
        let period = ping_pong_period(&a);
        assert!(period >= u64::from(a.dram.timing.trc));
        for w in acts.windows(2) {
            assert_eq!(w[1] - w[0], period, "{name}: ACT period");
        }
    }
}

#[test]
fn bank_state_machine_follows_the_commands() {
    use triad_isa::Location;
    use triad_sim::BankState;
    let a = no_refresh("hbm2");
    let t = &a.dram.timing;
    let loc = Location {
        channel: 0,
        rank: 0,
        bank_group: 1,
        bank: 2,
        row: 7,
        column: 0,
    };
    let mut mem = MemorySystem::new(&a, MemoryOptions::default()).unwrap();
    let x = mem.mapper().encode(&loc);
    assert_eq!(mem.bank_state(&loc, Cycles(0)), Some(BankState::Idle));
    mem.submit(Direction::Read, x, Cycles(0)).unwrap();
    let mut now = 0;
    while let Some(n) = mem.tick(Cycles(now)).unwrap().next {
        now = n.0;
        if mem.is_idle() {
            break;
        }
    }
    // ACT at cycle FRONTEND.
    let rcd = FRONTEND + u64::from(t.trcd_rd);
    assert_eq!(
        mem.bank_state(&loc, Cycles(rcd - 1)),
        Some(BankState::Activating { row: 7 })
    );
    assert_eq!(
        mem.bank_state(&loc, Cycles(rcd)),
        Some(BankState::Active { row: 7 })
    );
    // A conflicting request precharges (once tRAS has passed) and re-activates.
    let other = mem.mapper().encode(&Location { row: 8, ..loc });
    let at = 100;
    mem.submit(Direction::Read, other, Cycles(at)).unwrap();
    mem.tick(Cycles(at)).unwrap();
    mem.tick(Cycles(at + FRONTEND)).unwrap();
    let pre = at + FRONTEND;
    assert_eq!(
        mem.bank_state(&loc, Cycles(pre)),
        Some(BankState::Precharging)
    );
    assert_eq!(
        mem.bank_state(&loc, Cycles(pre + u64::from(t.trp))),
        Some(BankState::Idle)
    );
}
