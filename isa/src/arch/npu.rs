//! The NPU: one or more systolic arrays (rows x cols PEs, a dataflow), a banked
//! scratchpad, and a vector unit for element-wise work, softmax, norms and
//! activations. Peak rates derived from it are in [`crate::Derived`].

use super::systolic::{self, GemmShape};
use crate::ops::VectorOp;
use crate::{Cycles, DType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::num::NonZeroU32;

/// Systolic-array dataflow (SCALE-Sim's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataflow {
    /// Output stationary.
    Os,
    /// Weight stationary.
    Ws,
    /// Input stationary.
    Is,
}

/// The NPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Npu {
    /// Independent systolic arrays.
    pub arrays: u32,
    /// PE rows per array.
    pub rows: u32,
    /// PE columns per array.
    pub cols: u32,
    /// Dataflow of every array.
    pub dataflow: Dataflow,
    /// NPU clock period in picoseconds.
    pub tck_ps: u64,
    /// Scratchpad bytes (all banks).
    pub spm_bytes: u64,
    /// Scratchpad banks.
    pub spm_banks: u32,
    /// Dtypes the arrays compute in.
    pub dtypes: Vec<DType>,
    /// MACs one PE completes per cycle for a dtype (sub-word parallelism); a dtype
    /// in `dtypes` but not here does 1. Keys must be in `dtypes`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub macs_per_pe: BTreeMap<DType, u32>,
    /// Vector-unit lanes (elements per cycle).
    pub vector_lanes: u32,
    /// Vector-unit capabilities (TOML: their names, e.g. `"softmax"`).
    pub vector_ops: Vec<VectorOp>,
    /// DMA engines moving data between DRAM and the scratchpad (`dma.0` …), each an
    /// independent instruction stream; 1 if absent.
    #[serde(default = "one_dma_engine")]
    pub dma_engines: u32,
}

fn one_dma_engine() -> u32 {
    1
}

impl Npu {
    /// MACs per PE per cycle in `dtype`: 0 if unsupported, else the `macs_per_pe`
    /// entry or 1.
    pub fn pe_macs(&self, dtype: DType) -> u32 {
        if !self.dtypes.contains(&dtype) {
            return 0;
        }
        self.macs_per_pe.get(&dtype).copied().unwrap_or(1)
    }

    /// MACs per cycle of all arrays in `dtype` (0 if unsupported; saturating).
    pub fn macs_per_cycle(&self, dtype: DType) -> u64 {
        [self.arrays, self.rows, self.cols, self.pe_macs(dtype)]
            .into_iter()
            .fold(1u64, |acc, x| acc.saturating_mul(u64::from(x)))
    }

    /// Whether the arrays compute in `dtype`.
    pub fn supports(&self, dtype: DType) -> bool {
        self.dtypes.contains(&dtype)
    }

    /// NPU clock cycles (at [`Npu::tck`]) the matrix unit takes for one
    /// `gemm` `C[m x n] = A[m x k] * B[k x n]` in `dtype`, by the SCALE-Sim count of
    /// [`systolic`](crate::systolic), extended two ways that SCALE-Sim does not model:
    ///
    /// - **Sub-word rates.** A PE doing `p = pe_macs(dtype)` MACs per cycle is a
    ///   `p`-wide dot-product unit: each step it multiplies `p` consecutive
    ///   elements of the reduction dimension and adds them into one accumulator (as
    ///   packed i8 / i4 dot-product PEs do). So K shrinks to `ceil(k / p)` in every
    ///   dataflow: the temporal extent T for os, the spatial rows Sr for ws and is.
    ///   With `p = 1` the count is SCALE-Sim's.
    /// - **Several arrays.** The one `npu.mx` instruction stream drives all
    ///   `arrays` arrays at once: they split the column folds (N for os and ws, M for
    ///   is) and the instruction ends with the busiest one
    ///   ([`systolic::split_gemm_cycles`]).
    ///
    /// `Some(Cycles(0))` when `m`, `n` or `k` is 0 (nothing to compute). `None` when
    /// the arrays cannot run it: `dtype` is not in `dtypes`, or `rows`, `cols` or
    /// `arrays` is 0 (which [`crate::Arch::validate`] rejects). Saturates at
    /// `u64::MAX`; never panics.
    pub fn gemm_cycles(&self, m: u64, n: u64, k: u64, dtype: DType) -> Option<Cycles> {
        let p = NonZeroU32::new(self.pe_macs(dtype))?;
        let rows = NonZeroU32::new(self.rows)?;
        let cols = NonZeroU32::new(self.cols)?;
        let arrays = NonZeroU32::new(self.arrays)?;
        let gemm = GemmShape::new(m, n, k.div_ceil(u64::from(p.get())));
        Some(systolic::split_gemm_cycles(
            rows,
            cols,
            arrays,
            self.dataflow,
            gemm,
        ))
    }

    /// The NPU clock period as a typed time.
    pub fn tck(&self) -> crate::Picos {
        crate::Picos(self.tck_ps)
    }
}
