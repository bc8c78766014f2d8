//! Parity with DRAMsim3 on its own configs: the traces of
//! tools/dramsim3_compare/compare.py, regenerated here bit for bit, run on the
//! presets that carry the configs' values, within 5% of DRAMsim3's cycles and
//! bandwidth on every row, with the timing checker clean. DRAMsim3's figures are
//! the fixture tests/fixtures/dramsim3_parity.json, written by that script (the
//! command is in the file).

use crate::common::*;
use serde_json::Value;
use triad_isa::{Arch, Cycles, Location};
use triad_sim::{IssueRate, MemoryOptions, MemorySystem, TimedRequest, run_requests};

const FIXTURE: &str = include_str!("../fixtures/dramsim3_parity.json");
const KINDS: [&str; 6] = ["stream", "random", "conflict", "paced", "writes", "mix"];

/// splitmix64, as compare.py's `SplitMix64`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() & (n - 1)
    }
}

/// compare.py's `gen`.
fn trace(a: &Arch, kind: &str) -> Vec<TimedRequest> {
    let d = &a.dram;
    let burst = d.burst_bytes();
    let cap = d.capacity_bytes();
    let seed = KINDS.iter().position(|&k| k == kind).unwrap() as u64 + 1;
    let mut rng = SplitMix64(seed);
    match kind {
        "stream" => (0..(64 << 20) / burst)
            .map(|i| TimedRequest::read(i * burst, Cycles(0)))
            .collect(),
        "writes" => (0..(16 << 20) / burst)
            .map(|i| TimedRequest::write(i * burst, Cycles(0)))
            .collect(),
        "random" => (0..100_000)
            .map(|_| TimedRequest::read(rng.below(cap / burst) * burst, Cycles(0)))
            .collect(),
        "conflict" | "paced" => {
            let m = MemorySystem::new(a, MemoryOptions::default()).unwrap();
            let cols = u64::from(d.columns_per_row());
            (0..20_000u64)
                .map(|i| {
                    let loc = Location {
                        channel: 0,
                        rank: 0,
                        bank_group: 0,
                        bank: 0,
                        row: 1 + (i % 2) as u32,
                        column: ((i / 2) % cols) as u32,
                    };
                    let at = if kind == "paced" { 500 * i } else { 0 };
                    TimedRequest::read(m.mapper().encode(&loc), Cycles(at))
                })
                .collect()
        }
        "mix" => {
            let half = cap / 2;
            (0..60_000)
                .map(|i| {
                    let w = i % 3 == 2;
                    let x = rng.below(half / burst) * burst + if w { half } else { 0 };
                    if w {
                        TimedRequest::write(x, Cycles(0))
                    } else {
                        TimedRequest::read(x, Cycles(0))
                    }
                })
                .collect()
        }
        _ => unreachable!("unknown trace kind {kind}"),
    }
}

fn run_row(row: &Value) -> Option<String> {
    let preset_name = row["preset"].as_str().unwrap();
    let kind = row["kind"].as_str().unwrap();
    let a = preset(preset_name);
    let reqs = trace(&a, kind);
    assert_eq!(
        reqs.len() as u64,
        row["requests"].as_u64().unwrap(),
        "{preset_name} {kind}: trace length differs from the fixture's"
    );
    let rate = if kind == "paced" {
        IssueRate::Trace
    } else {
        IssueRate::Unlimited
    };
    let opts = MemoryOptions {
        record_log: true,
        pim: false,
    };
    let out = run_requests(&a, &reqs, rate, opts).unwrap();
    assert_clean(&a, out.log.as_ref().unwrap(), out.stats.total_cycles.0);
    let ds3_cycles = row["cycles"].as_f64().unwrap();
    let ds3_bw = row["gb_per_s"].as_f64().unwrap();
    let cycles = out.stats.total_cycles.0 as f64;
    let bw = out.stats.bandwidth_gb_per_s;
    let dc = (cycles - ds3_cycles) / ds3_cycles;
    let db = (bw - ds3_bw) / ds3_bw;
    (dc.abs() > 0.05 || db.abs() > 0.05).then(|| {
        format!(
            "{} {kind}: cycles {cycles} vs DRAMsim3 {ds3_cycles} ({:+.1}%), {bw:.2} vs {ds3_bw:.2} GB/s ({:+.1}%)",
            row["config"],
            100.0 * dc,
            100.0 * db
        )
    })
}

#[test]
fn every_row_within_5_percent_of_dramsim3() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let rows = fixture["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 18, "3 configs x 6 traces");
    let off: Vec<String> = rows.iter().filter_map(run_row).collect();
    assert!(off.is_empty(), "{}", off.join("\n"));
}
