//! The CPU: clusters of identical cores (big.LITTLE), each with its clock and SIMD
//! throughput per dtype, plus shared caches. The simulator models the CPU per
//! operation from these numbers, not per instruction.

use crate::DType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One cluster of identical cores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuCluster {
    /// Cluster name (unique within the CPU), e.g. `"x4"`.
    pub name: String,
    /// Cores in the cluster.
    pub cores: u32,
    /// Core clock period in picoseconds.
    pub tck_ps: u64,
    /// MACs one core completes per cycle with SIMD, per dtype (a MAC counts as two
    /// ops in derived GOPS figures).
    pub simd_ops_per_cycle: BTreeMap<DType, u32>,
}

/// The CPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cpu {
    /// Core clusters.
    pub clusters: Vec<CpuCluster>,
    /// L2 bytes (total).
    pub l2_bytes: u64,
    /// L3 / system-level cache bytes.
    pub l3_bytes: u64,
}

impl CpuCluster {
    /// The core clock period as a typed time.
    pub fn tck(&self) -> crate::Picos {
        crate::Picos(self.tck_ps)
    }
}

impl Cpu {
    /// Cores in all clusters.
    pub fn total_cores(&self) -> u32 {
        self.clusters.iter().map(|c| c.cores).sum()
    }

    /// The cluster of core `core` (cores are numbered across clusters, cluster 0
    /// first, as `cpu.N` engines are).
    pub fn cluster_of(&self, core: u32) -> Option<&CpuCluster> {
        let mut first = 0u32;
        for c in &self.clusters {
            if core < first.saturating_add(c.cores) {
                return Some(c);
            }
            first = first.saturating_add(c.cores);
        }
        None
    }

    /// Whether any cluster computes in `dtype`.
    pub fn supports(&self, dtype: DType) -> bool {
        self.clusters
            .iter()
            .any(|c| c.simd_ops_per_cycle.contains_key(&dtype))
    }
}
