//! Helpers shared by the scenarios: presets, address construction, checked runs.

use triad_isa::Cycles;
use triad_isa::{Arch, Location, RefreshMode};
use triad_sim::{
    CommandLog, IssueRate, MemoryOptions, MemorySystem, RunOutput, TimedRequest, check,
    run_requests,
};

/// A preset by name.
pub fn preset(name: &str) -> Arch {
    Arch::preset(name).unwrap_or_else(|e| panic!("preset {name}: {e}"))
}

/// A preset with refresh switched off.
pub fn no_refresh(name: &str) -> Arch {
    let mut a = preset(name);
    a.dram.refresh = RefreshMode::Off;
    a
}

/// Data-bus cycles of one burst, from the arch's fields.
pub fn burst(a: &Arch) -> u64 {
    u64::from(a.dram.burst_length / a.dram.transfers_per_clock).max(1)
}

/// Byte address of a location under the arch's mapping.
pub fn addr(
    a: &Arch,
    channel: u32,
    rank: u32,
    bank_group: u32,
    bank: u32,
    row: u32,
    column: u32,
) -> u64 {
    let m = MemorySystem::new(a, MemoryOptions::default()).unwrap();
    m.mapper().encode(&Location {
        channel,
        rank,
        bank_group,
        bank,
        row,
        column,
    })
}

/// Asserts the checker finds nothing in `log` for a run that ended at `end`.
pub fn assert_clean(a: &Arch, log: &CommandLog, end: u64) {
    let v = check(a, log, Cycles(end));
    assert!(
        v.is_empty(),
        "{} timing violations, first: {}",
        v.len(),
        v.iter()
            .take(5)
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Runs `reqs` with the log recorded and asserts the checker passes.
pub fn run_checked(a: &Arch, reqs: &[TimedRequest], rate: IssueRate) -> RunOutput {
    let out = run_requests(a, reqs, rate, MemoryOptions::default()).unwrap();
    assert_clean(
        a,
        out.log.as_ref().expect("log recorded"),
        out.stats.total_cycles.0,
    );
    out
}

/// A small deterministic generator (64-bit LCG, Knuth's constants).
pub struct Lcg(pub u64);

impl Lcg {
    /// Next value.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}
