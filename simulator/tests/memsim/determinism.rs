//! The same trace gives bit-identical statistics and command logs every run.

use crate::common::*;
use triad_isa::Cycles;
use triad_sim::{IssueRate, TimedRequest};

#[test]
fn same_trace_same_stats() {
    for name in ["lpddr5", "hbm2"] {
        let a = preset(name);
        let cap = a.dram.capacity_bytes();
        let mut g = Lcg(42);
        let reqs: Vec<_> = (0..3000u64)
            .map(|i| {
                let addr = g.next() % cap;
                if g.next().is_multiple_of(3) {
                    TimedRequest::write(addr, Cycles(i * 3))
                } else {
                    TimedRequest::read(addr, Cycles(i * 3))
                }
            })
            .collect();
        let a1 = run_checked(&a, &reqs, IssueRate::Trace);
        let a2 = run_checked(&a, &reqs, IssueRate::Trace);
        assert_eq!(
            serde_json::to_string(&a1.stats).unwrap(),
            serde_json::to_string(&a2.stats).unwrap()
        );
        assert_eq!(a1.log, a2.log);
        assert_eq!(a1.stats.reads + a1.stats.writes, 3000);
    }
}
