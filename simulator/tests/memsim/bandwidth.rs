//! A long sequential read stream reaches at least 90% of the arch's peak channel
//! bandwidth (bus bytes x transfers per clock / tCK, from the arch fields): the
//! stream is every burst of channel 0 in address order. (A stream over all channels
//! in address order is limited by the trace's in-order issue: DRAMsim3's trace
//! semantics stall the whole trace on one full channel queue.)
//!
//! LPDDR5 and HBM3 in bank-group mode have tCCD_L > burst, so back-to-back bursts
//! must alternate bank groups to reach peak: their presets map the bank-group bits
//! lowest. Under a mapping that keeps a row's bursts in one bank the stream reaches
//! only burst / tCCD_L of peak, as in the hardware.

use crate::common::*;
use triad_isa::AddressMapping;
use triad_isa::Cycles;
use triad_sim::{IssueRate, MemoryOptions, MemorySystem, TimedRequest};

fn stream_efficiency(a: &triad_isa::Arch, n: u64) -> f64 {
    let bytes = a.dram.burst_bytes();
    let m = MemorySystem::new(a, MemoryOptions::default()).unwrap();
    let reqs: Vec<_> = (0..)
        .map(|i| i * bytes)
        .filter(|&x| m.mapper().decode(x).unwrap().channel == 0)
        .take(n as usize)
        .map(|x| TimedRequest::read(x, Cycles(0)))
        .collect();
    let out = run_checked(a, &reqs, IssueRate::Unlimited);
    assert_eq!(out.stats.reads, n);
    let secs = out.stats.total_cycles.0 as f64 * a.dram.tck_ps as f64 * 1e-12;
    let peak = f64::from(a.dram.bus_bits) / 8.0 * f64::from(a.dram.transfers_per_clock)
        / (a.dram.tck_ps as f64 * 1e-12);
    (n * bytes) as f64 / secs / peak
}

#[test]
fn sequential_stream_reaches_90_percent_of_peak() {
    for name in ["hbm2", "hbm3", "lpddr4", "lpddr5", "lpddr5x"] {
        let a = preset(name);
        let eff = stream_efficiency(&a, 20_000);
        // All-bank refresh takes the rank for tRFC of every tREFI.
        let t = &a.dram.timing;
        let available = 1.0 - f64::from(t.trfc) / f64::from(t.trefi);
        assert!(
            eff >= 0.90 * available,
            "{name}: {eff:.3} of peak, below 0.9 x {available:.3} (refresh)"
        );
    }
}

#[test]
fn gddr6_stream_is_paced_by_tccd_s() {
    // DRAMsim3's GDDR6 config moves a burst in BL/16 = 1 clock but spaces column
    // commands by tCCD_S = 3 clocks even across bank groups, so no stream can beat
    // burst / tCCD_S of the nominal pin bandwidth. Its mapping (kept, for comparison
    // with DRAMsim3) puts a row's bursts in one bank, paced by tCCD_L, except where
    // FR-FCFS overlaps two groups at a boundary: the stream lands between the two.
    let a = preset("gddr6");
    let upper = burst(&a) as f64 / f64::from(a.dram.timing.tccd_s);
    let lower = burst(&a) as f64 / f64::from(a.dram.timing.tccd_l);
    let eff = stream_efficiency(&a, 20_000);
    assert!(
        eff >= lower && eff <= upper + 1e-9,
        "gddr6: {eff:.3} of peak, outside [{lower:.3}, {upper:.3}]"
    );
}

#[test]
fn same_bank_group_stream_is_limited_by_tccd_l() {
    // DRAMsim3's usual mapping keeps a row's 64 bursts in one bank and walks the
    // four banks of a group before the next group: RD to RD is tCCD_L, so the stream
    // runs at burst / tCCD_L of peak, plus the overlap the queues find at group
    // boundaries: at most the transaction queue plus one command queue of the next
    // group's bursts are queued ahead of the current group's last burst, each
    // saving at most one tCCD_L of the group's `group * tCCD_L` cycles.
    let mut a = preset("lpddr5");
    a.dram.address_mapping = "rorabgbachco".parse::<AddressMapping>().unwrap();
    let eff = stream_efficiency(&a, 8_000);
    let d = &a.dram;
    let base = burst(&a) as f64 / f64::from(d.timing.tccd_l);
    let group = f64::from(d.banks_per_group) * f64::from(d.row_bytes) / d.burst_bytes() as f64;
    let ahead = f64::from(d.controller.read_queue + d.controller.command_queue);
    let bound = base * group / (group - ahead);
    assert!(
        eff >= 0.9 * base && eff <= bound,
        "{eff:.3} outside [{:.3}, {bound:.3}]",
        0.9 * base
    );
}

/// Every memory-only preset and the SoC preset, DRAM only: a stream of consecutive bursts from address 0 across
/// all channels (in address order, as a DMA engine walks a buffer) reaches at least
/// 90% of the reachable peak, one burst per `max(burst, tCCD_S)` cycles per channel
/// (`Dram::reachable_bandwidth_bytes_per_s`, here recomputed from the fields).
/// The presets a whole-address-space stream must serve well.
const STREAM_PRESETS: [&str; 7] = [
    "lpddr4",
    "lpddr5",
    "lpddr5x",
    "hbm2",
    "hbm3",
    "gddr6",
    "mobile-soc",
];

#[test]
fn address_order_stream_over_all_channels_reaches_90_percent_of_reachable_peak() {
    let mut slow = Vec::new();
    // The PIM presets keep the mappings their PIM data layouts were written for
    // (see simulator/README.md for their figures).
    for name in STREAM_PRESETS {
        let a = preset(name);
        let d = &a.dram;
        let bytes = d.burst_bytes();
        // 64 rows' worth of bursts per channel, at least 16k bursts.
        let n = (u64::from(d.channels) * 64 * u64::from(d.row_bytes) / bytes).clamp(16_384, 65_536);
        let reqs: Vec<_> = (0..n)
            .map(|i| TimedRequest::read(i * bytes, Cycles(0)))
            .collect();
        let out = triad_sim::run_requests(
            &a,
            &reqs,
            IssueRate::Unlimited,
            MemoryOptions {
                record_log: true,
                pim: false,
            },
        )
        .unwrap();
        assert_clean(&a, out.log.as_ref().unwrap(), out.stats.total_cycles.0);
        let spacing = u64::from(d.burst_length / d.transfers_per_clock)
            .max(1)
            .max(u64::from(d.timing.tccd_s));
        let ideal = n.div_ceil(u64::from(d.channels)) * spacing;
        let eff = ideal as f64 / out.stats.total_cycles.0 as f64;
        if eff < 0.90 {
            slow.push(format!(
                "{name}: {n} bursts in {} cycles, {eff:.3} of the reachable peak ({bytes} B per {spacing} cycles per channel)",
                out.stats.total_cycles.0,
            ));
        }
    }
    assert!(slow.is_empty(), "{}", slow.join("\n"));
}
