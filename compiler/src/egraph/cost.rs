//! The cost model: time and energy of one op on one target, and of moving a tensor
//! between memories, from the [`Arch`] alone (no simulation).
//!
//! Per op on target `t`: `time = max(compute, memory) + latency` (NPU: pipelined
//! steps, below), where
//! - **NPU** matrix ops: `compute = batch x Npu::gemm_cycles(M, N, K) x tCK` (the
//!   SCALE-Sim count the simulator's NPU engine uses, so tile utilisation is the
//!   array's); vector ops: `ceil(elems x passes / vector_lanes) x tCK`; layout ops are
//!   DMA copies (no compute). Memory: bytes in + out over `min(npu link, DRAM peak)`.
//!   The op runs as the lowering's double-buffered scratchpad steps: `S = ceil(bytes /
//!   (spm / 2))` steps of load `l`, compute `c`, store `s` (1/S shares), taking
//!   `l + c + s + (S - 1) x max(l + s, c)` (a small op pays load, compute and store
//!   one after another), plus the link latency twice (first load, last store).
//! - **CPU**: `compute = ops / max over clusters(simd_ops_per_cycle[dtype] / tCK)`:
//!   the lowering runs an op on one core (independent ops run on different cores
//!   concurrently), the fastest one here (a dtype a cluster lacks runs at its slowest
//!   listed rate); memory: bytes in + out over `min(cpu link, DRAM peak)`.
//! - The CPU's bandwidth is also bounded by what one in-order stream of bursts gets
//!   (a core; not the NPU, whose several DMA engines can cover the channels): the peak when the controller's queue
//!   covers the address mapping's channel granule, else about one channel's
//!   bandwidth (PIM presets map channels above the column bits; see
//!   [`stream_bandwidth`]).
//! - Bytes in: all operands, except that `Gather` reads only the rows it selects (plus
//!   the indices) and `Slice` only the slice.
//! - **PIM** matrix-vector products (`MatMul` / `Gemm` / `QMatMul` with a 2-D matrix,
//!   each row of the left operand one pass over the matrix) and element-wise
//!   `Add` / `Mul`: `compute = ceil(ops / (units x mac_lanes)) x cmd`, with
//!   `cmd = max(tccd_mac x DRAM tCK, PIM tCK)` (`tewop` for element-wise); memory: the
//!   matrix bytes per pass over the internal bandwidth `units x burst / cmd`. Each
//!   pass of a matrix product also pays, per channel (in parallel): the vector into
//!   the global buffer (`ceil(K x elem / burst)` WR_GB x `twr_gb`), opening each DRAM
//!   row of the channel's share in all its banks (`trcd_rd + trp` per row) and reading
//!   the results out (`ceil(rows x elem / burst)` RD_MAC x `trd_mac`).
//! - `latency`: the link latency of the engine (none for PIM).
//!
//! Fused kernels ([`CostModel::kernel_cost`]): the ops' compute times add up, only the
//! kernel's external operands and its final result cross the memory interface (the
//! intermediates stay on chip), and the link latency is paid once.
//!
//! Transfers (a value read in another memory than it was left in): DRAM -> banks
//! writes the tensor into every channel's global buffer (`bytes x channels` over the
//! DRAM peak); banks -> DRAM reads results out (`bytes` over the DRAM peak); plus the
//! fastest link's latency. Sources (weights, inputs, KV cache) are laid out at load
//! time in whichever memory their consumers need and cost nothing here.
//!
//! Energy: MACs / ALU ops x the table's per-op energy, DRAM bytes x (array + I/O
//! energy per bit) + link energy, scratchpad bytes on the NPU, one ACT per DRAM row of
//! matrix a PIM pass opens, and the engine's static power over the op's time.
//!
//! Limits: ops run one after another in this estimate (the scheduler overlaps them
//! later; only the two parts of a split are valued as concurrent, by extraction); CPU caches are not modelled; a softmax / norm is a fixed number of passes
//! over its input ([`vector_passes`]). Nothing here fails: an op a target cannot run
//! has no cost (`None`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use triad_isa::{AddrField, AddressMapper, Arch, Capability, DType, PicoJoules, Unit, VectorOp};

use crate::data::TensorType;
use crate::egraph::lang::{Memory, Target};
use crate::op::{Category, Op, ReduceKind};

/// Picojoules per milliwatt-picosecond (1 mW x 1 ps = 1e-15 J = 1e-3 pJ).
const PJ_PER_MW_PS: f64 = 1e-3;
/// Bits per byte.
const BITS: f64 = 8.0;

/// What extraction minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Total time of the ops and transfers, run one after another.
    #[default]
    Latency,
    /// Total energy.
    Energy,
    /// Energy-delay product (total energy x total time).
    Edp,
}

/// A time and energy estimate. Time is in picoseconds as `f64` (sums of fractional
/// cycle times stay exact enough to compare; nothing here is a simulated instant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Time in picoseconds.
    pub time_ps: f64,
    /// Energy.
    pub energy: PicoJoules,
}

impl Estimate {
    /// The sum of two estimates (one after the other).
    pub fn plus(self, o: Estimate) -> Estimate {
        Estimate {
            time_ps: self.time_ps + o.time_ps,
            energy: self.energy + o.energy,
        }
    }

    /// The scalar `objective` minimises.
    pub fn score(&self, objective: Objective) -> f64 {
        match objective {
            Objective::Latency => self.time_ps,
            Objective::Energy => self.energy.0,
            Objective::Edp => self.time_ps * self.energy.0,
        }
    }
}

/// Passes a vector unit or CPU makes over each element of an op's largest operand.
pub fn vector_passes(op: &Op) -> u64 {
    match op {
        // max, exp-and-sum, scale
        Op::Softmax { .. } => 3,
        // mean, variance, normalise-scale-and-shift (the simulator's count)
        Op::LayerNorm { .. } => 3,
        // mean square, normalise-and-scale
        Op::RmsNorm { .. } => 2,
        _ => 1,
    }
}

/// The NPU vector-unit operation (a name of `npu.vector_ops`) an op needs, if any.
fn npu_vector_op(op: &Op) -> Option<VectorOp> {
    Some(match op {
        Op::Add => VectorOp::Add,
        Op::Sub => VectorOp::Sub,
        Op::Mul => VectorOp::Mul,
        Op::Div => VectorOp::Div,
        Op::Max => VectorOp::Max,
        Op::Min => VectorOp::Min,
        Op::Pow => VectorOp::Pow,
        Op::Exp => VectorOp::Exp,
        Op::Log => VectorOp::Log,
        Op::Erf => VectorOp::Erf,
        Op::Neg => VectorOp::Neg,
        Op::Abs => VectorOp::Abs,
        Op::Sqrt => VectorOp::Sqrt,
        Op::Reciprocal => VectorOp::Recip,
        Op::Softmax { .. } => VectorOp::Softmax,
        Op::LayerNorm { .. } => VectorOp::LayerNorm,
        Op::RmsNorm { .. } => VectorOp::RmsNorm,
        Op::Gelu { tanh_approx: true } => VectorOp::GeluTanh,
        Op::Gelu { tanh_approx: false } => VectorOp::GeluErf,
        Op::Silu => VectorOp::Silu,
        Op::Relu => VectorOp::Relu,
        Op::Sigmoid => VectorOp::Sigmoid,
        Op::Tanh => VectorOp::Tanh,
        Op::Reduce {
            kind: ReduceKind::Sum,
            ..
        } => VectorOp::ReduceSum,
        Op::Reduce {
            kind: ReduceKind::Mean,
            ..
        } => VectorOp::ReduceMean,
        Op::Reduce {
            kind: ReduceKind::Max,
            ..
        } => VectorOp::ReduceMax,
        Op::Quantize { .. } => VectorOp::Quantize,
        Op::Dequantize { .. } => VectorOp::Dequantize,
        Op::Rope { .. } => VectorOp::Rope,
        Op::CausalMask => VectorOp::CausalMask,
        Op::TopK { .. } => VectorOp::TopK,
        Op::MoeDispatch { .. } => VectorOp::MoeDispatch,
        Op::MoeCombine { .. } => VectorOp::MoeCombine,
        Op::Where => VectorOp::Select,
        Op::Cast { .. } => VectorOp::Convert,
        Op::Equal | Op::Less | Op::Greater => VectorOp::Compare,
        Op::Not => VectorOp::Not,
        Op::And => VectorOp::And,
        Op::Or => VectorOp::Or,
        _ => return None,
    })
}

/// Ops that only move bytes (a DMA engine can run them): the op table's layout and
/// KV-cache categories.
pub(crate) fn is_layout(op: &Op) -> bool {
    matches!(op.category(), Category::Layout | Category::KvCache)
}

/// A matrix product's shape: `batch` independent `[m x k] x [k x n]` products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatShape {
    /// Independent products (broadcast batch dims).
    pub batch: u64,
    /// Rows of the left operand.
    pub m: u64,
    /// Reduction length.
    pub k: u64,
    /// Columns of the right operand.
    pub n: u64,
}

impl MatShape {
    /// Multiply-accumulates.
    pub fn macs(&self) -> u64 {
        self.batch
            .saturating_mul(self.m)
            .saturating_mul(self.k)
            .saturating_mul(self.n)
    }
}

/// The product shape of a `MatMul`, `Gemm` or `QMatMul` with these operand and result
/// types, `None` for other ops.
pub fn mat_shape(op: &Op, ins: &[&TensorType], out: &TensorType) -> Option<MatShape> {
    let a = ins.first()?;
    let k = match op {
        Op::MatMul | Op::QMatMul => *a.shape.last()? as u64,
        Op::Gemm { trans_a, .. } => {
            let r = a.rank();
            if r < 2 {
                return None;
            }
            (if *trans_a {
                a.shape[r - 2]
            } else {
                a.shape[r - 1]
            }) as u64
        }
        _ => return None,
    };
    let n = if out.rank() == 0 {
        1
    } else {
        *out.shape.last()? as u64
    };
    let m = if out.rank() >= 2 && ins.get(1).is_some_and(|b| b.rank() >= 2) && a.rank() >= 2 {
        out.shape[out.rank() - 2] as u64
    } else {
        1
    };
    let per = m.saturating_mul(n).max(1);
    let batch = (out.elems() / per).max(1);
    Some(MatShape { batch, m, k, n })
}

/// The cost model of one arch.
///
/// Cheap to clone (the arch is shared), so rule conditions can hold one.
#[derive(Clone, Debug)]
pub struct CostModel {
    arch: Arc<Arch>,
    dram_bw: f64,
    /// Bytes/s one in-order stream of bursts (a CPU core, a DMA engine) gets from
    /// DRAM (see [`stream_bandwidth`]).
    stream_bw: f64,
}

impl CostModel {
    /// The model of `arch` (meaningful for a validated arch).
    pub fn new(arch: &Arch) -> Self {
        let dram_bw = arch.dram.peak_bandwidth_bytes_per_s();
        CostModel {
            arch: Arc::new(arch.clone()),
            dram_bw,
            stream_bw: stream_bandwidth(arch, dram_bw),
        }
    }

    /// The arch.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// Whether `target` exists in the arch and can run `op` on operands `ins`: the
    /// CPU runs everything; the NPU runs matrix ops in `npu.dtypes`, vector ops listed
    /// in `npu.vector_ops` in `npu.dtypes`, and layout ops (DMA copies); PIM runs
    /// matrix-vector products with a 2-D matrix and element-wise `Add` / `Mul` of two
    /// operands of one shape and dtype (no broadcasting), all operands in `pim.dtypes`.
    pub fn supports(&self, target: Target, op: &Op, ins: &[&TensorType]) -> bool {
        if op.is_source() {
            return false;
        }
        match target {
            Target::Cpu => self.arch.cpu.is_some(),
            Target::Npu => {
                let Some(npu) = &self.arch.npu else {
                    return false;
                };
                let dtypes_ok = || ins.iter().all(|t| npu.supports(t.dtype));
                match op {
                    Op::MatMul | Op::Gemm { .. } => dtypes_ok(),
                    // W is dequantised on the fly: the array computes in A's dtype.
                    Op::QMatMul => ins.first().is_some_and(|a| npu.supports(a.dtype)),
                    _ if is_layout(op) => true,
                    // The arch's one capability query (the verifier and the engines
                    // ask the same).
                    _ => match (npu_vector_op(op), ins.first()) {
                        (Some(v), Some(a)) => self
                            .arch
                            .supports(Unit::NpuVector, Capability::Vector(v), Some(a.dtype))
                            .is_ok(),
                        _ => false,
                    },
                }
            }
            Target::Pim => {
                let Some(pim) = &self.arch.pim else {
                    return false;
                };
                let dtypes_ok = ins.iter().take(2).all(|t| pim.supports(t.dtype));
                match op {
                    Op::MatMul | Op::QMatMul => {
                        dtypes_ok && ins.get(1).is_some_and(|b| b.rank() == 2)
                    }
                    Op::Gemm { .. } => dtypes_ok && ins.len() == 2,
                    // In-bank element-wise ops pair equal offsets of equal
                    // operands: no broadcasting (a bias row, a scalar).
                    Op::Add | Op::Mul => {
                        dtypes_ok
                            && matches!(ins, [a, b] if a.shape == b.shape && a.dtype == b.dtype)
                    }
                    _ => false,
                }
            }
        }
    }

    /// Time and energy of `op` on `target` with operands `ins` and results `outs`;
    /// `None` if the target cannot run it.
    pub fn op_cost(
        &self,
        target: Target,
        op: &Op,
        ins: &[&TensorType],
        outs: &[TensorType],
    ) -> Option<Estimate> {
        let w = self.work(target, op, ins, outs, &[], false)?;
        Some(self.finish(target, &[w]))
    }

    /// Time and energy of a fused kernel on `target`: `parts` are its ops, each with
    /// its operand and result types, which operands are computed inside the kernel
    /// (not read from memory) and whether its result is consumed inside the kernel
    /// (not written). Compute times add up; only the kernel's external operands and
    /// its final result cross the memory interface, and the link latency is paid
    /// once. `None` if the target cannot run one of the ops.
    pub fn kernel_cost(&self, target: Target, parts: &[KernelPart<'_>]) -> Option<Estimate> {
        let works = parts
            .iter()
            .map(|p| self.work(target, p.op, p.ins, p.outs, p.inner, p.out_inner))
            .collect::<Option<Vec<_>>>()?;
        Some(self.finish(target, &works))
    }

    /// One op's share of a kernel on `target`: its compute, ALU energy and memory
    /// traffic, leaving out operands marked in `inner` and the result if `out_inner`.
    fn work(
        &self,
        target: Target,
        op: &Op,
        ins: &[&TensorType],
        outs: &[TensorType],
        inner: &[bool],
        out_inner: bool,
    ) -> Option<Work> {
        if !self.supports(target, op, ins) {
            return None;
        }
        let is_inner = |i: usize| inner.get(i).copied().unwrap_or(false);
        let out_bytes: u64 = outs.iter().map(|t| t.bytes()).sum();
        let in_bytes: u64 = match op {
            // Only the selected rows / elements are read, not the whole table.
            Op::Gather { .. } => out_bytes.saturating_add(ins.get(1).map_or(0, |t| t.bytes())),
            Op::Slice { .. } => out_bytes,
            _ => ins
                .iter()
                .enumerate()
                .filter(|(i, _)| !is_inner(*i))
                .map(|(_, t)| t.bytes())
                .sum(),
        };
        let written = if out_inner { 0 } else { out_bytes };
        let bytes = in_bytes.saturating_add(written) as f64;
        let out = outs.first()?;
        let dtype = ins.first().map_or(out.dtype, |t| t.dtype);
        let mat = mat_shape(op, ins, out);
        let biggest = ins
            .iter()
            .map(|t| t.elems())
            .chain([out.elems()])
            .max()
            .unwrap_or(0);
        let alu_ops = match (&mat, is_layout(op) || matches!(op, Op::Reshape { .. })) {
            (Some(m), _) => m.macs(),
            (None, true) => 0,
            (None, false) => biggest.saturating_mul(vector_passes(op)),
        };
        let e = &self.arch.energy;
        match target {
            Target::Cpu => {
                let cpu = self.arch.cpu.as_ref()?;
                // Lowering runs an op on one core (the scheduler spreads
                // independent ops over the cores): the fastest core's rate.
                let macs_per_ps: f64 = cpu
                    .clusters
                    .iter()
                    .map(|c| {
                        let rate = c
                            .simd_ops_per_cycle
                            .get(&dtype)
                            .or_else(|| c.simd_ops_per_cycle.values().min())
                            .copied()
                            .unwrap_or(0);
                        f64::from(rate) / c.tck_ps.max(1) as f64
                    })
                    .fold(0.0, f64::max);
                let compute_ps = if alu_ops == 0 || macs_per_ps <= 0.0 {
                    0.0
                } else {
                    alu_ops as f64 / macs_per_ps
                };
                Some(Work {
                    compute_ps,
                    alu_pj: alu_ops as f64 * per_dtype(&e.cpu_op_pj, dtype),
                    bytes,
                    out_bytes: written as f64,
                    rows: 0.0,
                })
            }
            Target::Npu => {
                let npu = self.arch.npu.as_ref()?;
                let tck = npu.tck_ps as f64;
                let compute_ps = match &mat {
                    Some(m) => {
                        let cycles = npu.gemm_cycles(m.m, m.n, m.k, dtype)?;
                        cycles.0 as f64 * m.batch as f64 * tck
                    }
                    None if alu_ops == 0 => 0.0,
                    None => alu_ops.div_ceil(u64::from(npu.vector_lanes.max(1))) as f64 * tck,
                };
                Some(Work {
                    compute_ps,
                    alu_pj: alu_ops as f64 * per_dtype(&e.mac_pj, dtype),
                    bytes,
                    out_bytes: written as f64,
                    rows: 0.0,
                })
            }
            Target::Pim => {
                let pim = self.arch.pim.as_ref()?;
                let dram = &self.arch.dram;
                let units = pim.total_units(dram).max(1) as f64;
                let lanes = f64::from(pim.mac_lanes.max(1));
                let (cmd_ck, passes, matrix_bytes) = match &mat {
                    Some(m) => (
                        pim.timing.tccd_mac,
                        m.batch.saturating_mul(m.m),
                        ins.get(1).map_or(0, |b| b.bytes()),
                    ),
                    None => (pim.timing.tewop, 1, in_bytes),
                };
                let cmd_ps = self.pim_cmd_ps(cmd_ck);
                let mut compute_ps = (alu_ops as f64 / (units * lanes)).ceil() * cmd_ps;
                if let Some(m) = &mat {
                    compute_ps += passes as f64 * self.pim_gemv_overhead_ps(m, dtype);
                }
                // Streamed bytes, scaled to the MAC command period the internal
                // bandwidth is quoted for.
                let streamed = matrix_bytes as f64 * passes as f64;
                let at_mac_rate = streamed * self.pim_cmd_ps(pim.timing.tccd_mac).recip() * cmd_ps;
                Some(Work {
                    compute_ps,
                    alu_pj: alu_ops as f64 * e.pim_mac_pj,
                    bytes: at_mac_rate,
                    out_bytes: 0.0,
                    rows: (streamed / dram.row_bytes.max(1) as f64).ceil(),
                })
            }
        }
    }

    /// What one pass of a PIM matrix-vector product `m` costs besides its MACs, per
    /// channel (the channels run in parallel, each on its share of the rows), as the
    /// PIM command set runs it: the vector is written into the channel's global
    /// buffer (`ceil(k x elem / burst)` WR_GB of `twr_gb`), every DRAM row of the
    /// channel's share of the matrix is opened in all its banks at once (ACT and PRE:
    /// `trcd_rd + trp` per row), and the results are read out (`ceil(rows x elem /
    /// burst)` RD_MAC of `trd_mac`).
    fn pim_gemv_overhead_ps(&self, m: &MatShape, dtype: DType) -> f64 {
        let (Some(pim), dram) = (&self.arch.pim, &self.arch.dram) else {
            return 0.0;
        };
        let tck = dram.tck_ps as f64;
        let burst = dram.burst_bytes().max(1) as f64;
        let elem = dtype.bits() as f64 / BITS;
        let channels = f64::from(dram.channels.max(1));
        let rows_per_channel = (m.n as f64 / channels).ceil();
        let matrix_per_channel = rows_per_channel * m.k as f64 * elem;
        let dram_rows = (matrix_per_channel
            / (f64::from(dram.banks_per_channel().max(1)) * dram.row_bytes.max(1) as f64))
            .ceil();
        let t = &pim.timing;
        let x_in = (m.k as f64 * elem / burst).ceil() * f64::from(t.twr_gb) * tck;
        let rows = dram_rows * f64::from(dram.timing.trcd_rd + dram.timing.trp) * tck;
        let out = (rows_per_channel * elem / burst).ceil() * f64::from(t.trd_mac) * tck;
        x_in + rows + out
    }

    /// Picoseconds of one PIM command of `ck` DRAM clocks (at least one PIM clock).
    fn pim_cmd_ps(&self, ck: u32) -> f64 {
        let (Some(pim), dram) = (&self.arch.pim, &self.arch.dram) else {
            return 1.0;
        };
        (u64::from(ck).saturating_mul(dram.tck_ps)).max(pim.tck_ps) as f64
    }

    /// Bytes per second an op on `target` streams at: the engine's link capped by the
    /// DRAM peak (CPU, NPU; the DRAM peak alone without a link; for the CPU also by
    /// one in-order stream's bandwidth, [`stream_bandwidth`]), or the PIM units'
    /// internal bandwidth `units x burst / max(tccd_mac x DRAM tCK, PIM tCK)`. The
    /// slope of the target's roofline.
    pub fn bandwidth_bytes_per_s(&self, target: Target) -> f64 {
        self.bytes_per_ps(target) * 1e12
    }

    /// [`Self::bandwidth_bytes_per_s`] per picosecond (never zero).
    fn bytes_per_ps(&self, target: Target) -> f64 {
        match target {
            Target::Cpu => self.stream_bw_ps(self.arch.links.cpu_dram.bandwidth_bytes_per_s()),
            Target::Npu => self.bw_ps(self.arch.links.npu_dram.bandwidth_bytes_per_s()),
            Target::Pim => {
                let dram = &self.arch.dram;
                let Some(p) = &self.arch.pim else {
                    return 1.0;
                };
                let units = p.total_units(dram).max(1) as f64;
                let cmd_ps = self.pim_cmd_ps(p.timing.tccd_mac);
                units * dram.burst_bytes() as f64 / cmd_ps
            }
        }
    }

    /// The estimate of the ops `works` run as one kernel on `target`.
    fn finish(&self, target: Target, works: &[Work]) -> Estimate {
        let e = &self.arch.energy;
        let compute: f64 = works.iter().map(|w| w.compute_ps).sum();
        let bytes: f64 = works.iter().map(|w| w.bytes).sum();
        let alu_pj: f64 = works.iter().map(|w| w.alu_pj).sum();
        let dram_byte_pj = BITS * (e.dram_rd_bit_pj + e.dram_io_bit_pj) + e.link_byte_pj;
        match target {
            Target::Cpu => {
                let link = &self.arch.links.cpu_dram;
                let memory = bytes / self.bytes_per_ps(target);
                let time = compute.max(memory) + link.latency().0 as f64;
                let energy = alu_pj + bytes * dram_byte_pj + e.static_mw.cpu * time * PJ_PER_MW_PS;
                est(time, energy)
            }
            Target::Npu => {
                let link = &self.arch.links.npu_dram;
                // Not bounded by one stream's bandwidth: the NPU's DMA engines (one
                // per channel on the PIM presets) can spread an op's loads over the
                // channels, and placement must see that (prefill GEMMs on the NPU).
                let bw = self.bytes_per_ps(target);
                let time =
                    self.npu_pipeline_ps(works, compute, bytes, bw) + 2.0 * link.latency().0 as f64;
                let energy = alu_pj
                    + bytes * (dram_byte_pj + e.sram_byte_pj)
                    + e.static_mw.npu * time * PJ_PER_MW_PS;
                est(time, energy)
            }
            Target::Pim => {
                let memory = bytes / self.bytes_per_ps(target);
                let time = compute.max(memory);
                let rows: f64 = works.iter().map(|w| w.rows).sum();
                let energy = alu_pj
                    + rows * (e.dram_act_pj + e.dram_pre_pj)
                    + e.static_mw.pim * time * PJ_PER_MW_PS;
                est(time, energy)
            }
        }
    }

    /// The NPU's double-buffered steps (see the lowering's `npu.rs`): an op whose
    /// bytes fill `S = ceil(bytes / slot)` halves of the scratchpad runs S steps of
    /// load, compute, store (`l`, `c`, `s` each a 1/S share); the first step's load
    /// and the last one's store cannot overlap anything, the steps between are paced
    /// by the slower of the link (loads and stores share it) and the compute:
    /// `l + c + s + (S - 1) x max(l + s, c)`. One step (a small op) is `l + c + s`,
    /// many tend to `max(memory, compute)`.
    fn npu_pipeline_ps(&self, works: &[Work], compute: f64, bytes: f64, bw: f64) -> f64 {
        let slot = self
            .arch
            .npu
            .as_ref()
            .map_or(1.0, |n| (n.spm_bytes / 2).max(1) as f64);
        let steps = (bytes / slot).ceil().max(1.0);
        let out: f64 = works.iter().map(|w| w.out_bytes).sum();
        let (l, s, c) = (
            (bytes - out) / bw / steps,
            out / bw / steps,
            compute / steps,
        );
        l + c + s + (steps - 1.0) * (l + s).max(c)
    }

    /// Time and energy of moving `bytes` from memory `from` to memory `to` (zero
    /// when they are the same).
    pub fn transfer(&self, bytes: u64, from: Memory, to: Memory) -> Estimate {
        let e = &self.arch.energy;
        let moved = match (from, to) {
            (Memory::Dram, Memory::Dram) | (Memory::Banks, Memory::Banks) => {
                return Estimate::default();
            }
            // Broadcast into every channel's global buffer.
            (Memory::Dram, Memory::Banks) => bytes as f64 * f64::from(self.arch.dram.channels),
            (Memory::Banks, Memory::Dram) => bytes as f64,
        };
        let latency = [&self.arch.links.npu_dram, &self.arch.links.cpu_dram]
            .into_iter()
            .filter(|l| l.bandwidth_gb_per_s > 0.0)
            .map(|l| l.latency().0)
            .min()
            .unwrap_or(0) as f64;
        let time = moved / self.bw_ps(f64::INFINITY) + latency;
        let energy = moved
            * (BITS * (e.dram_rd_bit_pj + e.dram_wr_bit_pj + e.dram_io_bit_pj) + e.link_byte_pj);
        est(time, energy)
    }

    /// Bytes per picosecond through a link of `link_bps` bytes/s into DRAM (the
    /// slower of the link and the DRAM peak; a zero link means the DRAM peak).
    fn bw_ps(&self, link_bps: f64) -> f64 {
        let bps = if link_bps > 0.0 {
            link_bps.min(self.dram_bw)
        } else {
            self.dram_bw
        };
        (bps * 1e-12).max(f64::MIN_POSITIVE)
    }

    /// Bytes per picosecond one engine's stream of bursts gets through a link of
    /// `link_bps` bytes/s: [`CostModel::bw_ps`], bounded by the stream bandwidth.
    fn stream_bw_ps(&self, link_bps: f64) -> f64 {
        self.bw_ps(link_bps)
            .min((self.stream_bw * 1e-12).max(f64::MIN_POSITIVE))
    }
}

/// The DRAM bandwidth (bytes/s) one in-order stream of bursts gets (a core, a DMA
/// engine). The engine issues its bursts in address order and waits at the first
/// whose channel's transaction queue is full; `queue` is the smaller of the
/// controller's read and write queue depths. The address mapper keeps `granule =
/// 2^(channel field's bit position)` consecutive bytes in one channel. If `queue`
/// bursts cover a granule, the stream fills one channel's queue and moves on to the
/// next without waiting: all channels serve it (the peak). Otherwise (a mapping that
/// puts the channel above the column bits, as PIM's keeps a weight row in one
/// channel) it waits inside each granule: channel `c` serves the granule's first
/// `g - queue` bursts (`g = granule / burst`) one at a time while the stream waits,
/// then drains its last `queue` while the stream fills channel `c + 1`, so a
/// granule takes `(g - queue)` bursts of one channel:
/// `peak / channels x g / (g - queue)`, at most the peak.
fn stream_bandwidth(arch: &Arch, peak: f64) -> f64 {
    let dram = &arch.dram;
    let channels = f64::from(dram.channels.max(1));
    let Ok(mapper) = AddressMapper::new(&arch.name, dram) else {
        return peak;
    };
    let (shift, bits) = mapper.field(AddrField::Channel);
    if bits == 0 || dram.channels <= 1 {
        return peak;
    }
    let g = ((1u64 << shift.min(63)) / dram.burst_bytes().max(1)).max(1) as f64;
    let c = &dram.controller;
    let queue = f64::from(c.read_queue.min(c.write_queue).max(1));
    if queue >= g {
        return peak;
    }
    (peak / channels * g / (g - queue)).min(peak)
}

/// One op of a fused kernel, as [`CostModel::kernel_cost`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct KernelPart<'a> {
    /// The op.
    pub op: &'a Op,
    /// Its operand types.
    pub ins: &'a [&'a TensorType],
    /// Its result types.
    pub outs: &'a [TensorType],
    /// Per operand: computed inside the kernel (not read from memory).
    pub inner: &'a [bool],
    /// The result is consumed inside the kernel (not written to memory).
    pub out_inner: bool,
}

/// One op's share of a kernel (see [`CostModel::kernel_cost`]).
#[derive(Clone, Copy, Debug)]
struct Work {
    /// Compute time in picoseconds.
    compute_ps: f64,
    /// ALU / MAC energy in picojoules.
    alu_pj: f64,
    /// Bytes through the memory interface (PIM: streamed inside the banks, scaled to
    /// the MAC command rate).
    bytes: f64,
    /// Of `bytes`, those written (CPU / NPU).
    out_bytes: f64,
    /// DRAM rows a PIM op opens.
    rows: f64,
}

fn est(time_ps: f64, energy_pj: f64) -> Estimate {
    Estimate {
        time_ps,
        energy: PicoJoules(energy_pj),
    }
}

/// The table entry for `dtype`, else the dearest entry (an unlisted dtype is
/// emulated, never cheaper than a listed one), else 0.
fn per_dtype(table: &std::collections::BTreeMap<DType, f64>, dtype: DType) -> f64 {
    table
        .get(&dtype)
        .copied()
        .unwrap_or_else(|| table.values().copied().fold(0.0, f64::max))
}
