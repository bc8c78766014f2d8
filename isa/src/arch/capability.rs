//! The one capability query: can unit U of this arch do C in dtype D?
//!
//! The verifier, the simulator's engines and the compiler's placement all ask
//! [`Arch::supports`]; nothing else matches capability names. An instruction says what
//! it needs with [`Capability::of`]. The arch TOML lists capabilities by name
//! (`npu.vector_ops`, `pim.activation_functions`, `pim.dtypes`, …); serde parses the
//! names into [`VectorOp`] / [`PimFn`], so an unknown name fails at load time with
//! its line and column.
//!
//! Rules (also in `isa/README.md`, "Capabilities"):
//! - `cpu.N` (core N, which must exist): every capability; `matmul` / `qmatmul` need
//!   the activation dtype in the core's cluster's `simd_ops_per_cycle`.
//! - `npu.mx`: `matmul` / `qmatmul` with the (activation) dtype in `npu.dtypes`.
//! - `npu.vec`: vector ops listed in `npu.vector_ops`, any dtype.
//! - `dma.N`: data movement only.
//! - `pim.N`: PIM MACs / element-wise ops with the dtype in `pim.dtypes`; `pim.af F`
//!   and `pim.ewact F` also need F in `pim.activation_functions`.
//!
//! `qmatmul` / `pim_qmac` weights must be i8 or i4; they are dequantised in the MAC
//! datapath, so the unit's rate is that of the activation dtype.

use super::Arch;
use crate::DType;
use crate::insn::{Engine, Instruction};
use crate::ops::{PimFn, VectorOp};
use std::fmt;

/// A unit of an arch that runs instructions (what an engine is made of).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// CPU core N (numbered across clusters, cluster 0 first).
    Cpu(u32),
    /// The NPU's systolic arrays (`npu.mx`).
    NpuMatrix,
    /// The NPU's vector unit (`npu.vec`).
    NpuVector,
    /// A DMA engine.
    Dma,
    /// A DRAM channel's PIM units (`pim.N`).
    Pim,
}

impl Unit {
    /// The unit behind an engine.
    pub fn of(engine: Engine) -> Unit {
        match engine {
            Engine::Cpu(n) => Unit::Cpu(u32::from(n)),
            Engine::NpuMx => Unit::NpuMatrix,
            Engine::NpuVec => Unit::NpuVector,
            Engine::Dma(_) => Unit::Dma,
            Engine::Pim(_) => Unit::Pim,
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::Cpu(n) => write!(f, "cpu.{n}"),
            Unit::NpuMatrix => f.write_str("npu.mx"),
            Unit::NpuVector => f.write_str("npu.vec"),
            Unit::Dma => f.write_str("dma"),
            Unit::Pim => f.write_str("pim"),
        }
    }
}

/// What an instruction asks of the unit that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Semaphores and DMA transfers: every engine.
    Move,
    /// A matrix product in one dtype (`gemm`).
    Matmul,
    /// A mixed-precision matrix product: activations in the queried dtype, weights
    /// in `weights` (i8 or i4) with per-output-channel scales (`qgemm`).
    QMatmul {
        /// Weight dtype.
        weights: DType,
    },
    /// A vector-unit operation.
    Vector(VectorOp),
    /// PIM multiply-accumulate into the channel's accumulators (`pim.gemv`,
    /// `pim.mac_abk`, `pim.mac_sbk`, and the global-buffer, bias and read-out
    /// commands around them).
    PimMac,
    /// Mixed-precision PIM GEMV (`pim.qgemv`): weights in `weights` (i8 or i4).
    PimQMac {
        /// Weight dtype.
        weights: DType,
    },
    /// A PIM activation function (`pim.af` on the accumulators, `pim.ewact` on a
    /// vector in the banks).
    PimAf(PimFn),
    /// PIM in-bank element-wise arithmetic (`pim.ewmul`, `pim.ewadd`).
    PimEltwise,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Move => f.write_str("data movement"),
            Capability::Matmul => f.write_str("matmul"),
            Capability::QMatmul { weights } => write!(f, "qmatmul with {weights} weights"),
            Capability::Vector(op) => write!(f, "vector op `{op}`"),
            Capability::PimMac => f.write_str("PIM MAC"),
            Capability::PimQMac { weights } => write!(f, "PIM MAC with {weights} weights"),
            Capability::PimAf(func) => write!(f, "PIM activation `{func}`"),
            Capability::PimEltwise => f.write_str("PIM element-wise op"),
        }
    }
}

/// A unit cannot do what was asked; the message names the arch field consulted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{unit} of arch `{arch}` cannot do {capability}{}: {why}", dtype.map_or(String::new(), |d| format!(" in {d}")))]
pub struct Unsupported {
    /// Name of the arch.
    pub arch: String,
    /// The unit asked.
    pub unit: Unit,
    /// What was asked.
    pub capability: Capability,
    /// In which dtype (`None` for data movement).
    pub dtype: Option<DType>,
    /// Why not, naming the arch field (e.g. `npu.vector_ops lacks `erf``).
    pub why: String,
}

fn list<T: fmt::Display>(xs: &[T]) -> String {
    if xs.is_empty() {
        "none".to_string()
    } else {
        xs.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
    }
}

impl Capability {
    /// What `insn` needs and in which dtype (its compute / activation dtype; the
    /// operand dtype for data movement).
    pub fn of(insn: &Instruction) -> (Capability, Option<DType>) {
        use Instruction as I;
        let v = |op: VectorOp, d: DType| (Capability::Vector(op), Some(d));
        match insn {
            I::Signal(_) | I::Wait(_) | I::Load(_) | I::Store(_) | I::DmaCopy(_) => {
                (Capability::Move, None)
            }
            I::Gemm(i) => (Capability::Matmul, Some(i.dtype)),
            I::Eltwise(i) => v(i.op.into(), i.dtype),
            I::Unary(i) => v(i.func.into(), i.dtype),
            I::Act(i) => v(i.func.into(), i.dtype),
            I::Softmax(i) => v(VectorOp::Softmax, i.dtype),
            I::LayerNorm(i) => v(VectorOp::LayerNorm, i.dtype),
            I::RmsNorm(i) => v(VectorOp::RmsNorm, i.dtype),
            I::Reduce(i) => v(i.op.into(), i.dtype),
            I::Convert(i) => v(VectorOp::Convert, i.from),
            I::Transpose(i) => v(VectorOp::Transpose, i.dtype),
            I::Rope(i) => v(VectorOp::Rope, i.dtype),
            I::Gather(i) => v(VectorOp::Gather, i.dtype),
            I::QGemm(i) => (Capability::QMatmul { weights: i.wdtype }, Some(i.dtype)),
            I::Cmp(i) => v(VectorOp::Compare, i.dtype),
            I::Select(i) => v(VectorOp::Select, i.dtype),
            I::CausalMask(i) => v(VectorOp::CausalMask, i.dtype),
            I::TreeMask(i) => v(VectorOp::TreeMask, i.dtype),
            I::TopK(i) => v(VectorOp::TopK, i.dtype),
            I::MoeDispatch(i) => v(VectorOp::MoeDispatch, i.dtype),
            I::MoeCombine(i) => v(VectorOp::MoeCombine, i.dtype),
            I::Quantize(i) => v(VectorOp::Quantize, i.from),
            I::Dequantize(i) => v(VectorOp::Dequantize, i.to),
            I::StridedCopy(i) => v(VectorOp::StridedCopy, i.dtype),
            I::PimQGemv(i) => (Capability::PimQMac { weights: i.wdtype }, Some(i.dtype)),
            I::PimGemv(i) => (Capability::PimMac, Some(i.dtype)),
            I::PimWrGb(i) => (Capability::PimMac, Some(i.dtype)),
            I::PimWrBias(i) => (Capability::PimMac, Some(i.dtype)),
            I::PimMacAbk(i) => (Capability::PimMac, Some(i.dtype)),
            I::PimMacSbk(i) => (Capability::PimMac, Some(i.dtype)),
            I::PimRdMac(i) => (Capability::PimMac, Some(i.dtype)),
            I::PimAf(i) => (Capability::PimAf(i.func), Some(i.dtype)),
            I::PimRdAf(i) => (Capability::PimMac, Some(i.dtype)),
            I::PimEwMul(i) => (Capability::PimEltwise, Some(i.dtype)),
            I::PimEwAdd(i) => (Capability::PimEltwise, Some(i.dtype)),
            I::PimEwAct(i) => (Capability::PimAf(i.func), Some(i.dtype)),
        }
    }
}

impl Arch {
    /// Whether `unit` exists in this arch and can do `cap` in `dtype` (see the module
    /// docs for the rules). `dtype` is `None` for data movement.
    pub fn supports(
        &self,
        unit: Unit,
        cap: Capability,
        dtype: Option<DType>,
    ) -> std::result::Result<(), Unsupported> {
        let no = |why: String| {
            Err(Unsupported {
                arch: self.name.clone(),
                unit,
                capability: cap,
                dtype,
                why,
            })
        };
        let weights_ok = |w: DType| matches!(w, DType::I8 | DType::I4);
        if let Capability::QMatmul { weights } | Capability::PimQMac { weights } = cap
            && !weights_ok(weights)
        {
            return no(format!("weights must be i8 or i4, not {weights}"));
        }
        if cap == Capability::Move {
            return self.unit_exists(unit).map_or(Ok(()), no);
        }
        match unit {
            Unit::Cpu(core) => {
                let Some(cluster) = self.cpu.as_ref().and_then(|c| {
                    let mut first = 0u32;
                    c.clusters.iter().find(|cl| {
                        let hit = core >= first && core - first < cl.cores;
                        first = first.saturating_add(cl.cores);
                        hit
                    })
                }) else {
                    return no(self.unit_exists(unit).unwrap_or_default());
                };
                match (cap, dtype) {
                    (Capability::Matmul | Capability::QMatmul { .. }, Some(d))
                        if !cluster.simd_ops_per_cycle.contains_key(&d) =>
                    {
                        no(format!(
                            "cluster `{}` has no simd_ops_per_cycle entry for {d} (has: {})",
                            cluster.name,
                            list(&cluster.simd_ops_per_cycle.keys().collect::<Vec<_>>())
                        ))
                    }
                    (
                        Capability::Matmul | Capability::QMatmul { .. } | Capability::Vector(_),
                        _,
                    ) => Ok(()),
                    _ => no("a CPU core runs no PIM commands".into()),
                }
            }
            Unit::NpuMatrix | Unit::NpuVector => {
                let Some(npu) = &self.npu else {
                    return no("the arch has no NPU".into());
                };
                match (unit, cap, dtype) {
                    (Unit::NpuMatrix, Capability::Matmul | Capability::QMatmul { .. }, Some(d)) => {
                        if npu.dtypes.contains(&d) {
                            Ok(())
                        } else {
                            no(format!("npu.dtypes lacks {d} (has: {})", list(&npu.dtypes)))
                        }
                    }
                    (Unit::NpuVector, Capability::Vector(op), _) => {
                        if npu.vector_ops.contains(&op) {
                            Ok(())
                        } else {
                            no(format!(
                                "npu.vector_ops lacks `{op}` (has: {})",
                                list(&npu.vector_ops)
                            ))
                        }
                    }
                    (Unit::NpuMatrix, _, _) => {
                        no("the matrix unit runs only matrix products".into())
                    }
                    _ => no("the vector unit runs only vector ops".into()),
                }
            }
            Unit::Dma => no("a DMA engine only moves data".into()),
            Unit::Pim => {
                let Some(pim) = &self.pim else {
                    return no("the arch has no PIM".into());
                };
                match cap {
                    Capability::PimMac
                    | Capability::PimQMac { .. }
                    | Capability::PimAf(_)
                    | Capability::PimEltwise => {}
                    _ => return no("PIM runs only PIM commands".into()),
                }
                if let Some(d) = dtype
                    && !pim.dtypes.contains(&d)
                {
                    return no(format!("pim.dtypes lacks {d} (has: {})", list(&pim.dtypes)));
                }
                if let Capability::PimAf(func) = cap
                    && !pim.activation_functions.contains(&func)
                {
                    return no(format!(
                        "pim.activation_functions lacks `{func}` (has: {})",
                        list(&pim.activation_functions)
                    ));
                }
                Ok(())
            }
        }
    }

    /// Why `unit` does not exist in this arch, if it does not.
    fn unit_exists(&self, unit: Unit) -> Option<String> {
        match unit {
            Unit::Cpu(n) => match &self.cpu {
                None => Some("the arch has no CPU".into()),
                Some(c) if n >= c.total_cores() => {
                    Some(format!("the CPU has {} cores", c.total_cores()))
                }
                Some(_) => None,
            },
            Unit::NpuMatrix | Unit::NpuVector | Unit::Dma => {
                self.npu.is_none().then(|| "the arch has no NPU".into())
            }
            Unit::Pim => self.pim.is_none().then(|| "the arch has no PIM".into()),
        }
    }
}
