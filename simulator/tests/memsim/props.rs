//! Property: any small random mix of reads and writes at random times completes,
//! passes the checker, and every read takes at least CL + burst.

use crate::common::*;
use proptest::prelude::*;
use triad_isa::Cycles;
use triad_sim::{IssueRate, TimedRequest};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_traffic_is_legal(
        arch in prop::sample::select(vec!["lpddr5", "hbm2", "lpddr4", "gddr6", "mobile-soc-pim"]),
        ops in prop::collection::vec((any::<u64>(), any::<bool>(), 0u64..40), 1..300),
        hot in any::<bool>(),
    ) {
        let a = preset(arch);
        // `hot` confines addresses to 4 MiB so rows collide and refresh interleaves.
        let span = if hot { 4 << 20 } else { a.dram.capacity_bytes() };
        let mut t = 0;
        let reqs: Vec<_> = ops
            .iter()
            .map(|&(x, wr, dt)| {
                t += dt;
                if wr { TimedRequest::write(x % span, Cycles(t)) } else { TimedRequest::read(x % span, Cycles(t)) }
            })
            .collect();
        let out = run_checked(&a, &reqs, IssueRate::Trace);
        prop_assert_eq!(out.stats.reads + out.stats.writes, reqs.len() as u64);
        if out.stats.reads > 0 {
            prop_assert!(out.stats.read_latency.min.0 >= u64::from(a.dram.timing.cl) + burst(&a));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_pim_and_traffic_mix_is_legal(
        arch in prop::sample::select(vec!["pim-gpt", "hbm-pim", "mobile-soc-pim", "neupims", "duplex"]),
        rows in 1u32..700,
        shrink in 0u32..4,
        row_at in 0u64..1 << 16,
        refresh in any::<bool>(),
        ops in prop::collection::vec((any::<u64>(), any::<bool>(), 0u64..30), 0..120),
    ) {
        let mut a = preset(arch);
        if !refresh {
            a.dram.refresh = triad_isa::RefreshMode::Off;
        }
        let dtype = a.pim.as_ref().unwrap().dtypes[0];
        // Rows of 1/2^shrink of the span below the channel bits stay in one channel;
        // the matrix starts at a random multiple of that span.
        let stripe = crate::pim_ref::channel_stripe(&a);
        let row_bytes = stripe >> shrink;
        let cols = (row_bytes * 8 / dtype.bits()) as u32;
        let w = row_at * stripe % (a.dram.capacity_bytes() / 2);
        let insn = crate::pim_ref::gemv(0, w, 0, rows, cols, dtype);
        let mut reqs = vec![crate::pim_ref::pim(0, triad_sim::PimChannels::All, insn)];
        let mut t = 0;
        for &(x, wr, dt) in &ops {
            t += dt;
            let addr = x % a.dram.capacity_bytes();
            reqs.push(if wr { TimedRequest::write(addr, Cycles(t)) } else { TimedRequest::read(addr, Cycles(t)) });
        }
        let out = run_checked(&a, &reqs, IssueRate::Trace);
        prop_assert_eq!(out.stats.pim_requests, u64::from(a.dram.channels));
        prop_assert_eq!(out.stats.reads + out.stats.writes, ops.len() as u64);
        // Every MAC_AB the derivation expects, and no other MAC.
        let macs: usize = (0..a.dram.channels)
            .map(|c| {
                crate::pim_ref::gemv_cmds(&a, c, w, rows, cols, dtype)
                    .iter()
                    .filter(|c| matches!(c, crate::pim_ref::Cmd::MacAb(..)))
                    .count()
            })
            .sum();
        prop_assert_eq!(out.stats.commands.get("MAC_AB").copied().unwrap_or(0) as usize, macs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Random valid controllers and geometries (queue structure and depths, row-hit
    /// cap or none, dual command issue, ranks and their switch time, bank groups),
    /// exact or lazy wake-ups (this client submits before it ticks): every request
    /// completes exactly once and the checker finds nothing.
    #[test]
    fn random_controllers_complete_every_request_once(
        arch in prop::sample::select(vec!["lpddr5", "hbm2", "lpddr4", "gddr6"]),
        per_rank in any::<bool>(),
        command_queue in 1u32..12,
        trans in 2u32..40,
        cap in prop::option::of(1u32..8),
        dual in any::<bool>(),
        ranks in prop::sample::select(vec![1u32, 2]),
        trtrs in 0u32..4,
        lazy in any::<bool>(),
        ops in prop::collection::vec((any::<u64>(), any::<bool>(), 0u64..20), 1..250),
    ) {
        use std::collections::BTreeSet;
        use triad_sim::{Direction, MemoryOptions, MemorySystem, Submit};
        let mut a = preset(arch);
        a.dram.ranks = ranks;
        a.dram.timing.trtrs = trtrs;
        let c = &mut a.dram.controller;
        c.queue_structure = if per_rank { triad_isa::QueueStructure::PerRank } else { triad_isa::QueueStructure::PerBank };
        c.command_queue = command_queue;
        c.read_queue = trans;
        c.write_queue = trans;
        c.write_drain_high = trans;
        c.write_drain_low = 0;
        c.row_hit_cap = cap.map_or(triad_isa::RowHitCap::None, triad_isa::RowHitCap::Hits);
        c.dual_command = dual;
        prop_assert!(a.validate().is_ok());
        let span = 8u64 << 20;
        let mut mem = MemorySystem::new(&a, MemoryOptions::default()).unwrap();
        if lazy {
            mem.set_lazy_wake_ups();
        }
        let (mut now, mut i, mut t) = (0u64, 0usize, 0u64);
        let times: Vec<u64> = ops.iter().map(|&(_, _, dt)| { t += dt; t }).collect();
        let (mut ids, mut done) = (BTreeSet::new(), BTreeSet::new());
        let mut last = 0;
        loop {
            while i < ops.len() && times[i] <= now {
                let (x, wr, _) = ops[i];
                let dir = if wr { Direction::Write } else { Direction::Read };
                match mem.submit(dir, x % span, Cycles(now)).unwrap() {
                    Submit::Accepted(id) => { ids.insert(id); i += 1; }
                    Submit::QueueFull => break,
                }
            }
            if i == ops.len() {
                mem.finish_input(Cycles(now));
            }
            let tick = mem.tick(Cycles(now)).unwrap();
            for c in mem.drain_completions() {
                prop_assert!(done.insert(c.id), "completed twice");
                last = last.max(c.done.0);
            }
            if i == ops.len() && mem.is_idle() {
                break;
            }
            let arrival = (i < ops.len()).then(|| times[i].max(now + 1));
            now = match (tick.next, arrival) {
                (Some(n), Some(b)) => n.0.min(b),
                (Some(n), None) => n.0,
                (None, Some(b)) => b,
                (None, None) => break,
            };
        }
        prop_assert_eq!(&ids, &done);
        assert_clean(&a, &mem.command_log().unwrap(), last.max(now));
    }
}
