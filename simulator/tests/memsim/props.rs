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
        rows in 1u64..700,
        cols in 1u64..3000,
        single in any::<bool>(),
        refresh in any::<bool>(),
        ops in prop::collection::vec((any::<u64>(), any::<bool>(), 0u64..30), 0..120),
    ) {
        let mut a = preset(arch);
        if !refresh {
            a.dram.refresh = triad_isa::RefreshMode::Off;
        }
        let dtype = a.pim.as_ref().unwrap().dtypes[0];
        let mode = if single { triad_sim::PimMode::SingleBank } else { triad_sim::PimMode::AllBank };
        let mut reqs = vec![TimedRequest {
            cycle: triad_isa::Cycles(0),
            op: triad_sim::TraceOp::Pim(triad_sim::PimRequest::Gemv(triad_sim::PimGemv {
                rows,
                cols,
                dtype,
                activation: None,
                base_row: 0,
                mode,
            })),
        }];
        let mut t = 0;
        for &(x, wr, dt) in &ops {
            t += dt;
            let addr = x % a.dram.capacity_bytes();
            reqs.push(if wr { TimedRequest::write(addr, Cycles(t)) } else { TimedRequest::read(addr, Cycles(t)) });
        }
        let out = run_checked(&a, &reqs, IssueRate::Trace);
        prop_assert_eq!(out.stats.pim_requests, 1);
        prop_assert_eq!(out.stats.reads + out.stats.writes, ops.len() as u64);
    }
}
