//! Interconnect between the compute engines and DRAM, and the storage tier (flash)
//! below DRAM that expert offloading reads from. Bandwidths are in GB/s (10^9
//! bytes per second, key suffix `_gb_per_s`), latencies in nanoseconds (`_ns`).

use serde::{Deserialize, Serialize};

/// One link: a bandwidth and a fixed latency per transfer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Peak bandwidth in GB/s (10^9 bytes per second). 0 means "no link".
    pub bandwidth_gb_per_s: f64,
    /// Latency added to every transfer, in nanoseconds.
    pub latency_ns: u64,
}

impl Link {
    /// Peak bandwidth in bytes per second.
    pub fn bandwidth_bytes_per_s(&self) -> f64 {
        self.bandwidth_gb_per_s * 1e9
    }

    /// Latency as a typed time.
    pub fn latency(&self) -> crate::Picos {
        crate::Picos(self.latency_ns.saturating_mul(1000))
    }
}

/// The links of the SoC. A link absent from the TOML is zero (no link); validation
/// requires a non-zero link for each engine that exists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    /// CPU cluster(s) to the DRAM controllers (zero when absent).
    #[serde(default)]
    pub cpu_dram: Link,
    /// NPU DMA engine to the DRAM controllers (zero when absent).
    #[serde(default)]
    pub npu_dram: Link,
}

/// The storage tier below DRAM (UFS flash on a phone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Device kind, for reports (e.g. `"ufs4.0"`).
    pub kind: String,
    /// Sequential read bandwidth in GB/s.
    pub read_gb_per_s: f64,
    /// Sequential write bandwidth in GB/s.
    pub write_gb_per_s: f64,
    /// Latency of one read request in nanoseconds.
    pub latency_ns: u64,
}

impl Storage {
    /// Read bandwidth in bytes per second.
    pub fn bandwidth_bytes_per_s(&self) -> f64 {
        self.read_gb_per_s * 1e9
    }

    /// Read latency as a typed time.
    pub fn latency(&self) -> crate::Picos {
        crate::Picos(self.latency_ns.saturating_mul(1000))
    }
}
