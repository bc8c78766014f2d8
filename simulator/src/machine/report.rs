//! The report of a program run: time, per-engine activity, DRAM traffic, energy by
//! component and per label. Every map is ordered and every number derives from
//! integer counters, so equal runs serialise byte-identically. JSON keys carry their
//! units (`_ps`, `_pj`, `_bytes`, `_gb_per_s`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Activity of one engine over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EngineReport {
    /// Engine name (`npu.mx`, `dma.0`, …).
    pub engine: String,
    /// Instructions executed (sync included).
    pub instructions: u64,
    /// Time spent executing instructions (including waiting for their memory).
    pub busy_ps: u64,
    /// Time blocked in `wait`.
    pub stalled_ps: u64,
    /// The rest of the run: before its first and after its last instruction.
    pub idle_ps: u64,
    /// Multiply-accumulates or element-passes computed.
    pub ops: u64,
    /// Scratchpad bytes it read and wrote.
    pub spm_bytes: u64,
    /// DRAM bytes its bursts read.
    pub dram_read_bytes: u64,
    /// DRAM bytes its bursts wrote.
    pub dram_write_bytes: u64,
}

/// DRAM traffic over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DramReport {
    /// Read bursts served.
    pub reads: u64,
    /// Write bursts served.
    pub writes: u64,
    /// Bytes served by reads and writes.
    pub bytes: u64,
    /// `bytes` over the run's time.
    pub bandwidth_gb_per_s: f64,
    /// The arch's pin bandwidth.
    pub peak_bandwidth_gb_per_s: f64,
    /// Reads and writes served without an ACT of their own.
    pub row_hit_rate: f64,
    /// PIM instructions completed (per channel).
    pub pim_requests: u64,
    /// Commands by mnemonic.
    pub commands: BTreeMap<String, u64>,
}

/// Energy by component, picojoules; the parts sum exactly to `total_pj`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyReport {
    /// CPU cores (dynamic).
    pub cpu_pj: f64,
    /// NPU systolic arrays (dynamic).
    pub npu_array_pj: f64,
    /// NPU vector unit (dynamic).
    pub npu_vector_pj: f64,
    /// Scratchpad reads and writes.
    pub sram_pj: f64,
    /// DRAM array: ACT, PRE, RD, WR, REF.
    pub dram_core_pj: f64,
    /// DRAM I/O: bursts crossing the channel's pins.
    pub dram_io_pj: f64,
    /// PIM MACs and element-wise ops.
    pub pim_pj: f64,
    /// CPU/NPU-to-DRAM links.
    pub links_pj: f64,
    /// Static power of CPU, NPU, DRAM and PIM over the whole run.
    pub static_pj: f64,
    /// Sum of the parts.
    pub total_pj: f64,
}

impl EnergyReport {
    /// Every part (and the total) times `k`, e.g. per token from per step.
    pub fn scaled(&self, k: f64) -> EnergyReport {
        EnergyReport {
            cpu_pj: self.cpu_pj * k,
            npu_array_pj: self.npu_array_pj * k,
            npu_vector_pj: self.npu_vector_pj * k,
            sram_pj: self.sram_pj * k,
            dram_core_pj: self.dram_core_pj * k,
            dram_io_pj: self.dram_io_pj * k,
            pim_pj: self.pim_pj * k,
            links_pj: self.links_pj * k,
            static_pj: self.static_pj * k,
            total_pj: self.total_pj * k,
        }
    }

    /// The parts in display order, with their names.
    pub fn parts(&self) -> [(&'static str, f64); 9] {
        [
            ("cpu", self.cpu_pj),
            ("npu_array", self.npu_array_pj),
            ("npu_vector", self.npu_vector_pj),
            ("sram", self.sram_pj),
            ("dram_core", self.dram_core_pj),
            ("dram_io", self.dram_io_pj),
            ("pim", self.pim_pj),
            ("links", self.links_pj),
            ("static", self.static_pj),
        ]
    }
}

/// What one label (a span of a stream named `layer3.attn:` …) cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LabelReport {
    /// Instructions under the label, on all engines.
    pub instructions: u64,
    /// Engine-busy time under the label, summed over engines.
    pub busy_ps: u64,
    /// Busy time under the label per engine (`npu.mx`, `dma.1`, `pim.3` …): the
    /// busiest one bounds the label's duration from below, without the double
    /// counting of `busy_ps` when engines run concurrently.
    pub engine_busy_ps: BTreeMap<String, u64>,
    /// Start of the label's first timed instruction (waits excluded).
    pub start_ps: u64,
    /// End of the label's last timed instruction.
    pub end_ps: u64,
    /// Dynamic engine energy (compute, SRAM, links) under the label.
    pub energy_pj: f64,
    /// DRAM bytes its instructions moved.
    pub dram_bytes: u64,
}

/// The whole report of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SimReport {
    /// Arch simulated.
    pub arch: String,
    /// The program's `model` meta.
    pub model: String,
    /// End of the last instruction, picoseconds.
    pub total_ps: u64,
    /// The same in seconds.
    pub seconds: f64,
    /// Events the loop handled.
    pub events: u64,
    /// Why the run stopped.
    pub stop: crate::event::StopReason,
    /// Per engine, in stream order.
    pub engines: Vec<EngineReport>,
    /// DRAM traffic.
    pub dram: DramReport,
    /// Energy by component.
    pub energy: EnergyReport,
    /// Per label (streams without labels count under `(unlabelled)`).
    pub labels: BTreeMap<String, LabelReport>,
    /// Timing-checker violations found (`None` when the check was not asked for).
    pub timing_violations: Option<u64>,
}
