//! PIM and ordinary traffic share banks, bus and timing: both complete, the checker
//! passes, and each costs the other time.

use crate::common::*;
use crate::pim_ref::{at, gemv, pim};
use triad_isa::Cycles;
use triad_isa::DType;
use triad_sim::{
    CompletionKind, IssueRate, MemoryOptions, MemorySystem, PimChannels, PimJob, PimOwned,
    TimedRequest, TraceOp, trace_program,
};

fn pim_done(a: &triad_isa::Arch, reqs: &[TimedRequest]) -> (u64, u64) {
    let mut mem = MemorySystem::new(a, MemoryOptions::default()).unwrap();
    let program = trace_program(a);
    let mut owned = vec![PimOwned::new(); a.dram.channels as usize];
    let mut pending: Vec<&TimedRequest> = reqs.iter().collect();
    pending.sort_by_key(|r| r.cycle.0);
    let mut now = 0;
    let mut i = 0;
    let (mut pim, mut last) = (0, 0);
    let mut left = reqs.len();
    while left > 0 {
        while i < pending.len() && pending[i].cycle.0 <= now {
            match &pending[i].op {
                TraceOp::Burst(acc, addr) => {
                    if mem.submit(*acc, *addr, Cycles(now)).unwrap() == triad_sim::Submit::QueueFull
                    {
                        break;
                    }
                }
                TraceOp::Pim { channels, insn } => {
                    assert_eq!(*channels, PimChannels::One(0));
                    let job =
                        PimJob::from_instruction(insn, &program, a, mem.mapper(), 0, &mut owned[0])
                            .unwrap();
                    mem.submit_pim(0, job, Cycles(now)).unwrap();
                }
            }
            i += 1;
        }
        if i == pending.len() {
            // Nothing more will come: let the controllers flush their writes.
            mem.finish_input(Cycles(now));
        }
        let t = mem.tick(Cycles(now)).unwrap();
        for c in mem.drain_completions().collect::<Vec<_>>() {
            left -= 1;
            last = last.max(c.done.0);
            if c.kind == CompletionKind::Pim {
                pim = c.done.0;
            }
        }
        let next_arrival = pending.get(i).map(|r| r.cycle.0.max(now + 1));
        now = match (t.next, next_arrival) {
            (Some(a), Some(b)) => a.0.min(b),
            (Some(a), None) => a.0,
            (None, Some(b)) => b,
            (None, None) => break,
        };
    }
    assert_clean(a, &mem.command_log().unwrap(), last);
    (pim, last)
}

#[test]
fn gemv_and_random_traffic_share_the_banks() {
    let a = preset("mobile-soc-pim");
    let g = pim(
        0,
        PimChannels::One(0),
        gemv(0, 100 << 20, 4096, 2048, 2048, DType::F16),
    );
    let mut rng = Lcg(7);
    let cap = a.dram.capacity_bytes();
    let mut reqs = vec![g.clone()];
    for i in 0..4000u64 {
        let addr = rng.next() % cap;
        reqs.push(if i.is_multiple_of(4) {
            TimedRequest::write(addr, Cycles(i * 4))
        } else {
            TimedRequest::read(addr, Cycles(i * 4))
        });
    }
    let (alone, _) = pim_done(&a, std::slice::from_ref(&g));
    let (mixed, _) = pim_done(&a, &reqs);
    assert!(mixed > alone, "PIM alone {alone}, mixed {mixed}");
    // The same mix through the event-driven driver also passes the checker.
    let out = run_checked(&a, &reqs, IssueRate::Trace);
    assert_eq!(out.stats.pim_requests, 1);
    assert_eq!(out.stats.reads + out.stats.writes, 4000);
    assert!(out.stats.commands["MAC_AB"] > 0);
    // Per-bank counters add up to the request totals.
    let (rd, wr): (u64, u64) = out
        .stats
        .channels
        .iter()
        .map(|c| (c.bank_total().rd, c.bank_total().wr))
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    assert_eq!((rd, wr), (out.stats.reads, out.stats.writes));
}

#[test]
fn elementwise_ops_and_reads_share_a_channel() {
    // EWADD over 1 Mi bf16 on every channel of pim-gpt, a read arriving during it.
    // `a` at 0, `b` and `out` whole 2 MiB further: the same channel and bank burst
    // for burst (the mapping repeats every DRAM row of 16 channels x 16 banks).
    let a = preset("pim-gpt");
    let len = 1u32 << 20;
    let ew = pim(
        5,
        PimChannels::All,
        triad_isa::PimEwAdd {
            out: at(4 << 20),
            a: at(0),
            b: at(2 << 20),
            len,
            dtype: DType::BF16,
        },
    );
    let out = run_checked(
        &a,
        &[ew, TimedRequest::read(0x1000, Cycles(6))],
        IssueRate::Trace,
    );
    // 2 MiB of `a` in 32-byte bursts; 16 banks of a channel share each EWADD.
    let burst = u64::from(a.dram.bus_bits / 8 * a.dram.burst_length);
    let expect = (2u64 << 20) / burst / u64::from(a.dram.banks_per_channel());
    assert_eq!(out.stats.commands["EWADD"], expect);
    assert_eq!(out.stats.reads, 1);
    assert_eq!(out.stats.pim_requests, u64::from(a.dram.channels));
}
