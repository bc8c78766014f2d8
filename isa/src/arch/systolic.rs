//! Compute cycles of one GEMM on one systolic array, exactly as SCALE-Sim 3.0 counts
//! them ([`gemm_cycles`]), and on several identical arrays driven by one instruction
//! ([`split_gemm_cycles`], which SCALE-Sim does not model). Both the compiler's cost model and the simulator's NPU use this one
//! definition, so a schedule the compiler costs is the schedule the simulator runs.
//!
//! A GEMM `C[M x N] = A[M x K] * B[K x N]` is mapped by the dataflow onto the array's
//! `R` rows and `C` columns as a spatial `Sr x Sc` grid run for `T` steps
//! (SCALE-Sim's `calc_spatio_temporal_params`):
//!
//! | dataflow | Sr | Sc | T |
//! |---|---|---|---|
//! | os (output stationary) | M | N | K |
//! | ws (weight stationary) | K | N | M |
//! | is (input stationary)  | K | M | N |
//!
//! The grid is cut into `ceil(Sr/R) * ceil(Sc/C)` folds, each costing the same
//! whether full or not:
//!
//! - os: `T + R + C - 2` cycles (operands skewed in over `R - 1` / `C - 1` cycles,
//!   `T` accumulation steps, then the outputs drained),
//! - ws / is: `T + 2R + C - 2` cycles (the same plus `R` cycles to preload the
//!   stationary operand).
//!
//! This is the number of rows of SCALE-Sim's demand matrices, i.e. the cycles the
//! array is busy. SCALE-Sim's report ("Compute cycles", the "Total Cycles" column of
//! COMPUTE_REPORT.csv) prints the index of the last of those cycles, one less; the
//! fixture `isa/tests/fixtures/scalesim.csv` holds its printed figures and the test
//! `isa/tests/systolic.rs` checks `gemm_cycles == printed + 1` on every row. The
//! count assumes no memory stalls (SCALE-Sim's "Stall Cycles" 0): scratchpad and
//! DRAM timing are the caller's business.
//!
//! Limits: a GEMM with a zero dimension does no work and costs 0 cycles; array
//! dimensions are [`NonZeroU32`] so an array that cannot exist cannot be asked;
//! all arithmetic saturates at `u64::MAX` instead of overflowing. Nothing panics.

use super::npu::Dataflow;
use crate::Cycles;
use std::num::NonZeroU32;

/// The sizes of one GEMM `C[m x n] = A[m x k] * B[k x n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmShape {
    /// Rows of `A` and `C`.
    pub m: u64,
    /// Columns of `B` and `C`.
    pub n: u64,
    /// The reduction dimension: columns of `A`, rows of `B`.
    pub k: u64,
}

impl GemmShape {
    /// The shape `m x n x k`.
    pub fn new(m: u64, n: u64, k: u64) -> GemmShape {
        GemmShape { m, n, k }
    }

    /// `(Sr, Sc, T)`: the spatial rows, spatial columns and temporal steps this GEMM
    /// maps to under `dataflow` (table in the module doc).
    pub fn spatio_temporal(self, dataflow: Dataflow) -> (u64, u64, u64) {
        let GemmShape { m, n, k } = self;
        match dataflow {
            Dataflow::Os => (m, n, k),
            Dataflow::Ws => (k, n, m),
            Dataflow::Is => (k, m, n),
        }
    }
}

/// Cycles one fold takes on a `rows x cols` array under `dataflow` for a GEMM whose
/// temporal extent is `t` (see the module doc; saturating).
pub fn fold_cycles(rows: NonZeroU32, cols: NonZeroU32, dataflow: Dataflow, t: u64) -> u64 {
    let (r, c) = (u64::from(rows.get()), u64::from(cols.get()));
    // r, c >= 1, so r + c - 2 and 2r + c - 2 are exact in u64 (< 2^35).
    let fill_drain = match dataflow {
        Dataflow::Os => r + c - 2,
        Dataflow::Ws | Dataflow::Is => 2 * r + c - 2,
    };
    t.saturating_add(fill_drain)
}

/// Cycles the `rows x cols` array is busy computing `gemm` under `dataflow`:
/// `folds * fold_cycles` (SCALE-Sim's printed "Compute cycles" plus one). 0 if any
/// of `m`, `n`, `k` is 0; saturates at `u64::MAX`.
pub fn gemm_cycles(
    rows: NonZeroU32,
    cols: NonZeroU32,
    dataflow: Dataflow,
    gemm: GemmShape,
) -> Cycles {
    split_gemm_cycles(rows, cols, NonZeroU32::MIN, dataflow, gemm)
}

/// Cycles `arrays` identical `rows x cols` arrays, driven by one instruction, take
/// for `gemm` when they split its column folds: the `ceil(Sc/C)` column folds (`Sc`
/// is N for os and ws, M for is; never the reduction dimension K, so no array needs
/// another's partial sums) are dealt out as evenly as possible, each array runs its
/// share with all `ceil(Sr/R)` row folds, and the instruction ends when the busiest
/// array ends: `ceil(Sr/R) * ceil(ceil(Sc/C) / arrays) * fold_cycles`. The streamed
/// operand is broadcast to every array; each holds its own stationary slice. With
/// `arrays = 1` this is [`gemm_cycles`]. 0 for an empty GEMM; saturating.
pub fn split_gemm_cycles(
    rows: NonZeroU32,
    cols: NonZeroU32,
    arrays: NonZeroU32,
    dataflow: Dataflow,
    gemm: GemmShape,
) -> Cycles {
    if gemm.m == 0 || gemm.n == 0 || gemm.k == 0 {
        return Cycles(0);
    }
    let (sr, sc, t) = gemm.spatio_temporal(dataflow);
    let row_folds = sr.div_ceil(u64::from(rows.get()));
    let col_folds = sc
        .div_ceil(u64::from(cols.get()))
        .div_ceil(u64::from(arrays.get()));
    Cycles(
        row_folds
            .saturating_mul(col_folds)
            .saturating_mul(fold_cycles(rows, cols, dataflow, t)),
    )
}
