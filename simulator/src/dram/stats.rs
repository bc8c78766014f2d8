//! Statistics of a memory-system run: what the trace-driven mode prints and what
//! tests compare for determinism. Everything is integer counts except the derived
//! rates and energies, and every map is ordered, so equal runs serialise
//! byte-identically.

use super::energy::{ChannelCounts, EnergyBreakdown};
use serde::Serialize;
use std::collections::BTreeMap;
use triad_isa::{Bytes, Cycles, Picos};

/// Read latency summary in DRAM cycles (arrival in the queue to last data beat);
/// JSON keys end in `_cycles`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Mean (0 when no read completed).
    #[serde(rename = "avg_cycles")]
    pub avg: f64,
    /// Minimum.
    #[serde(rename = "min_cycles")]
    pub min: Cycles,
    /// Maximum.
    #[serde(rename = "max_cycles")]
    pub max: Cycles,
}

/// Statistics of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemStats {
    /// Arch name.
    pub arch: String,
    /// Reads completed.
    pub reads: u64,
    /// Writes completed.
    pub writes: u64,
    /// PIM requests completed.
    pub pim_requests: u64,
    /// Cycle of the last completion (DRAM clock), i.e. the run's length.
    pub total_cycles: Cycles,
    /// `total_cycles` as time.
    pub time_ps: Picos,
    /// Bytes moved by reads and writes.
    pub bytes: Bytes,
    /// Achieved bandwidth of reads and writes, GB/s (10^9 B/s).
    pub bandwidth_gb_per_s: f64,
    /// The arch's peak external bandwidth, GB/s.
    pub peak_bandwidth_gb_per_s: f64,
    /// Peak the command spacing allows: one burst per `max(burst, tCCD_S)` cycles
    /// per channel (below the pin peak when tCCD_S exceeds the burst, e.g. gddr6).
    pub reachable_bandwidth_gb_per_s: f64,
    /// Read latency.
    pub read_latency: LatencyStats,
    /// Reads and writes served without an ACT or PRE of their own.
    pub row_hits: u64,
    /// `row_hits / (reads + writes)`.
    pub row_hit_rate: f64,
    /// Commands issued, by mnemonic.
    pub commands: BTreeMap<String, u64>,
    /// Energy by category.
    pub energy: EnergyBreakdown,
    /// Command counters per channel and bank.
    pub channels: Vec<ChannelCounts>,
}
