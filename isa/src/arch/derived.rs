//! Peak figures derived from an [`Arch`]: NPU TOPS and CPU GOPS per dtype, external
//! DRAM bandwidth, PIM internal bandwidth and MAC throughput, and the ridge point
//! (the arithmetic intensity above which the NPU, not DRAM, limits a kernel).
//!
//! Conventions: a MAC counts as two operations; "G"/"T" are 10^9 / 10^12; a clock
//! of period `tck_ps` runs at `10^12 / tck_ps` Hz. A PIM unit issues one MAC column
//! command every `max(tccd_mac * dram.tck_ps, pim.tck_ps)` picoseconds and reads
//! one burst (`dram.burst_bytes()`) per command from its bank(s).

use crate::DType;
use crate::arch::Arch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Picoseconds per second.
const PS_PER_S: f64 = 1e12;

/// Derived peak figures of an arch. Zero / empty where the component is absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// NPU peak tera-operations per second, per supported dtype.
    pub npu_tops: BTreeMap<DType, f64>,
    /// CPU peak giga-operations per second (all clusters), per dtype.
    pub cpu_gops: BTreeMap<DType, f64>,
    /// DRAM capacity in bytes.
    pub dram_capacity_bytes: u64,
    /// Peak external DRAM bandwidth, GB/s (10^9 B/s).
    pub dram_bandwidth_gb_per_s: f64,
    /// Number of PIM units in the memory system.
    pub pim_units: u64,
    /// Peak bandwidth the PIM units see inside the DRAM, GB/s.
    pub pim_internal_bandwidth_gb_per_s: f64,
    /// PIM internal bandwidth divided by external DRAM bandwidth.
    pub pim_bandwidth_gain: f64,
    /// PIM peak MAC throughput, tera-operations per second (2 per MAC).
    pub pim_tops: f64,
    /// Ridge point per NPU dtype: NPU peak ops / DRAM peak bytes per second (Op/B).
    pub ridge_op_per_byte: BTreeMap<DType, f64>,
}

/// Frequency in Hz of a clock with period `tck_ps` (0 for a zero period).
fn hz(tck_ps: u64) -> f64 {
    if tck_ps == 0 {
        0.0
    } else {
        PS_PER_S / tck_ps as f64
    }
}

impl Derived {
    /// Computes the figures of `arch` (meaningful for a validated arch).
    pub fn of(arch: &Arch) -> Derived {
        let npu_tops: BTreeMap<DType, f64> = arch
            .npu
            .iter()
            .flat_map(|n| {
                n.dtypes
                    .iter()
                    .map(move |&d| (d, 2.0 * n.macs_per_cycle(d) as f64 * hz(n.tck_ps) / 1e12))
            })
            .collect();
        let mut cpu_gops = BTreeMap::new();
        for c in arch.cpu.iter().flat_map(|c| c.clusters.iter()) {
            for (&d, &macs) in &c.simd_ops_per_cycle {
                *cpu_gops.entry(d).or_insert(0.0) +=
                    2.0 * f64::from(c.cores) * f64::from(macs) * hz(c.tck_ps) / 1e9;
            }
        }
        let dram = &arch.dram;
        let dram_bw = dram.peak_bandwidth_bytes_per_s();
        let (pim_units, pim_bw, pim_tops) = match &arch.pim {
            Some(p) => {
                let units = p.total_units(dram);
                let cmd_ps = u64::from(p.timing.tccd_mac)
                    .saturating_mul(dram.tck_ps)
                    .max(p.tck_ps);
                let cmds_per_s = units as f64 * hz(cmd_ps);
                (
                    units,
                    cmds_per_s * dram.burst_bytes() as f64,
                    2.0 * cmds_per_s * f64::from(p.mac_lanes) / 1e12,
                )
            }
            None => (0, 0.0, 0.0),
        };
        let ridge_op_per_byte = npu_tops
            .iter()
            .filter(|_| dram_bw > 0.0)
            .map(|(&d, &tops)| (d, tops * 1e12 / dram_bw))
            .collect();
        Derived {
            npu_tops,
            cpu_gops,
            dram_capacity_bytes: dram.capacity_bytes(),
            dram_bandwidth_gb_per_s: dram_bw / 1e9,
            pim_units,
            pim_internal_bandwidth_gb_per_s: pim_bw / 1e9,
            pim_bandwidth_gain: if dram_bw > 0.0 { pim_bw / dram_bw } else { 0.0 },
            pim_tops,
            ridge_op_per_byte,
        }
    }
}
