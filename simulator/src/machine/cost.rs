//! What one instruction costs on the engine that runs it: compute cycles on the
//! engine's clock, the DRAM traffic it moves, scratchpad bytes, and the dynamic
//! energy it causes. One function per engine kind; all of them read only the
//! instruction and the arch, never tensor values, so timing cannot depend on data.
//!
//! Models (every number from the arch):
//! - `npu.mx` `gemm`: the SCALE-Sim cycle count of the arch's arrays for its dataflow
//!   (see [`triad_isa::Npu::gemm_cycles`]); operands are in the scratchpad.
//! - `npu.vec`: `ceil(elements · passes / vector_lanes)` cycles, where `passes` is
//!   the number of sweeps over the tile (3 for softmax and layernorm: max/mean,
//!   sum/variance, normalise; 2 for rmsnorm; 1 otherwise), bounded below by the
//!   scratchpad's port bandwidth ([`SPM_PORT_BYTES`] per bank per cycle).
//! - `cpu.N`: one instruction runs on one core; compute is `ceil(work /
//!   simd_ops_per_cycle[dtype])` cycles of that core's cluster (work = MACs for
//!   `gemm`, element-passes for vector work), and its operands stream from DRAM
//!   through the controller (each input read once, each output written once: ideal
//!   cache blocking). The instruction takes the larger of the two.
//! - `dma.N`: strided transfers through the controller at the `npu_dram` link's rate;
//!   the scratchpad side is bounded by its port bandwidth.
//!
//! Energy: NPU array `mac_pj[dtype]` per MAC; NPU vector `mac_pj[dtype]` per
//! element-pass (an ALU op costs at most a MAC; the table has no separate entry);
//! CPU `cpu_op_pj[dtype]` per MAC or element-pass; SRAM `sram_byte_pj` per
//! scratchpad byte read or written; links `link_byte_pj` per byte that crosses them.

use super::bursts::Transfer;
use crate::error::{Error, Result};
use crate::memory::Direction;
use triad_isa::{
    AccessKind, Arch, Cycles, DType, Engine, Instruction, Memory, PicoJoules, Program,
};

/// Bytes one scratchpad bank reads or writes per NPU cycle (one 512-bit port).
pub const SPM_PORT_BYTES: u64 = 64;

/// Dynamic energy of engines, by component.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct EngineEnergy {
    /// CPU cores.
    pub cpu: PicoJoules,
    /// NPU systolic arrays.
    pub npu_array: PicoJoules,
    /// NPU vector unit.
    pub npu_vector: PicoJoules,
    /// Scratchpad reads and writes.
    pub sram: PicoJoules,
    /// Bytes over the CPU/NPU-to-DRAM links.
    pub links: PicoJoules,
}

impl std::ops::AddAssign for EngineEnergy {
    fn add_assign(&mut self, o: EngineEnergy) {
        self.cpu += o.cpu;
        self.npu_array += o.npu_array;
        self.npu_vector += o.npu_vector;
        self.sram += o.sram;
        self.links += o.links;
    }
}

impl EngineEnergy {
    /// Sum of the parts.
    pub fn total(&self) -> PicoJoules {
        self.cpu + self.npu_array + self.npu_vector + self.sram + self.links
    }
}

/// The cost of one instruction.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cost {
    /// Compute cycles on the engine's clock.
    pub compute: Cycles,
    /// DRAM traffic, issued burst by burst.
    pub traffic: Vec<Transfer>,
    /// Scratchpad bytes read plus written.
    pub spm_bytes: u64,
    /// Multiply-accumulates (or element-passes) performed.
    pub ops: u64,
    /// Dynamic energy (DRAM energy is counted by the memory system).
    pub energy: EngineEnergy,
}

/// Sweeps a vector instruction makes over its tile.
fn passes(insn: &Instruction) -> u64 {
    match insn.mnemonic() {
        "softmax" | "layernorm" => 3,
        "rmsnorm" => 2,
        _ => 1,
    }
}

/// `(M, N, K, dtype)` of a matrix instruction (`gemm`, or `qgemm` in its activation
/// dtype, whose narrow weights the PEs take at the activation rate).
fn matrix_shape(insn: &Instruction) -> Option<(u64, u64, u64, DType)> {
    let w = u64::from;
    match insn {
        Instruction::Gemm(g) => Some((w(g.m), w(g.n), w(g.k), g.dtype)),
        Instruction::QGemm(g) => Some((w(g.m), w(g.n), w(g.k), g.dtype)),
        _ => None,
    }
}

/// Elements of the largest operand of a vector instruction, and its dtype.
fn vector_work(insn: &Instruction) -> (u64, DType) {
    insn.accesses()
        .iter()
        .filter_map(|a| {
            let d = a.dtype?;
            let bytes = a.bytes?.0;
            Some((bytes.saturating_mul(8) / d.bits().max(1), d))
        })
        .max_by_key(|&(n, _)| n)
        .unwrap_or((0, DType::F32))
}

fn addr(program: &Program, s: triad_isa::Slice) -> Result<(Memory, u64)> {
    let b = program.buffer(s.buf).ok_or_else(|| Error::Program {
        message: format!("buffer #{} does not exist", s.buf.0),
    })?;
    Ok((b.mem, b.addr.0.saturating_add(s.offset.0)))
}

fn mac_pj(arch: &Arch, dtype: DType) -> f64 {
    let t = &arch.energy.mac_pj;
    t.get(&dtype)
        .copied()
        .unwrap_or_else(|| t.values().copied().fold(0.0, f64::max))
}

fn cpu_pj(arch: &Arch, dtype: DType) -> f64 {
    let t = &arch.energy.cpu_op_pj;
    t.get(&dtype)
        .copied()
        .unwrap_or_else(|| t.values().copied().fold(0.0, f64::max))
}

/// The cost of `insn` on `engine` (sync instructions are handled by the machine).
pub(crate) fn cost(
    arch: &Arch,
    program: &Program,
    engine: Engine,
    insn: &Instruction,
) -> Result<Cost> {
    match engine {
        Engine::NpuMx => npu_matrix(arch, insn),
        Engine::NpuVec => npu_vector(arch, insn),
        Engine::Cpu(n) => cpu(arch, program, n, insn),
        Engine::Dma(_) => dma(arch, program, insn),
        Engine::Pim(_) => Err(Error::Program {
            message: format!(
                "`{}` on {engine}: PIM engines are timed by the PIM unit",
                insn.mnemonic()
            ),
        }),
    }
}

fn spm_cycles(arch: &Arch, bytes: u64) -> u64 {
    let per = arch.npu.as_ref().map_or(SPM_PORT_BYTES, |n| {
        u64::from(n.spm_banks.max(1)) * SPM_PORT_BYTES
    });
    bytes.div_ceil(per)
}

fn operand_bytes(insn: &Instruction) -> u64 {
    insn.accesses()
        .iter()
        .map(|a| {
            let b = a.bytes.map_or(u64::MAX, |b| b.0);
            if a.kind == AccessKind::ReadWrite {
                b.saturating_mul(2)
            } else {
                b
            }
        })
        .fold(0u64, u64::saturating_add)
}

fn npu_matrix(arch: &Arch, insn: &Instruction) -> Result<Cost> {
    let npu = arch.npu.as_ref().ok_or_else(|| Error::Program {
        message: "npu.mx on an arch without an NPU".into(),
    })?;
    let Some((m, n, k, dtype)) = matrix_shape(insn) else {
        return Err(Error::Program {
            message: format!("`{}` cannot run on npu.mx", insn.mnemonic()),
        });
    };
    let macs = m * n * k;
    let spm = operand_bytes(insn);
    Ok(Cost {
        compute: npu
            .gemm_cycles(m, n, k, dtype)
            .ok_or_else(|| Error::Program {
                message: format!("npu.mx cannot compute in {dtype}"),
            })?,
        traffic: vec![],
        spm_bytes: spm,
        ops: macs,
        energy: EngineEnergy {
            npu_array: PicoJoules(macs as f64 * mac_pj(arch, dtype)),
            sram: PicoJoules(spm as f64 * arch.energy.sram_byte_pj),
            ..EngineEnergy::default()
        },
    })
}

fn npu_vector(arch: &Arch, insn: &Instruction) -> Result<Cost> {
    let npu = arch.npu.as_ref().ok_or_else(|| Error::Program {
        message: "npu.vec on an arch without an NPU".into(),
    })?;
    let (elems, dtype) = vector_work(insn);
    let work = elems.saturating_mul(passes(insn));
    let spm = operand_bytes(insn);
    let compute = work.div_ceil(u64::from(npu.vector_lanes.max(1)));
    Ok(Cost {
        compute: Cycles(compute.max(spm_cycles(arch, spm))),
        traffic: vec![],
        spm_bytes: spm,
        ops: work,
        energy: EngineEnergy {
            npu_vector: PicoJoules(work as f64 * mac_pj(arch, dtype)),
            sram: PicoJoules(spm as f64 * arch.energy.sram_byte_pj),
            ..EngineEnergy::default()
        },
    })
}

fn cpu(arch: &Arch, program: &Program, core: u16, insn: &Instruction) -> Result<Cost> {
    let cluster = arch
        .cpu
        .as_ref()
        .and_then(|c| c.cluster_of(u32::from(core)))
        .ok_or_else(|| Error::Program {
            message: format!("cpu.{core} does not exist on arch `{}`", arch.name),
        })?;
    let (work, dtype) = match matrix_shape(insn) {
        Some((m, n, k, dtype)) => (m * n * k, dtype),
        None => {
            let (elems, dtype) = vector_work(insn);
            (elems.saturating_mul(passes(insn)), dtype)
        }
    };
    // A dtype the cluster does not list runs at its slowest listed rate (isa/README).
    let rate = cluster
        .simd_ops_per_cycle
        .get(&dtype)
        .or_else(|| cluster.simd_ops_per_cycle.values().min())
        .copied()
        .ok_or_else(|| Error::Program {
            message: format!("cpu.{core} ({}) lists no SIMD rate", cluster.name),
        })?;
    let mut traffic = Vec::new();
    let mut link_bytes = 0u64;
    for a in insn.accesses() {
        let (_, base) = addr(program, a.slice)?;
        let bytes = a.bytes.map_or(u64::MAX, |b| b.0);
        if matches!(a.kind, AccessKind::Read | AccessKind::ReadWrite) {
            traffic.push(Transfer::span(Direction::Read, base, bytes));
            link_bytes = link_bytes.saturating_add(bytes);
        }
        if matches!(a.kind, AccessKind::Write | AccessKind::ReadWrite) {
            traffic.push(Transfer::span(Direction::Write, base, bytes));
            link_bytes = link_bytes.saturating_add(bytes);
        }
    }
    Ok(Cost {
        compute: Cycles(work.div_ceil(u64::from(rate.max(1)))),
        traffic,
        spm_bytes: 0,
        ops: work,
        energy: EngineEnergy {
            cpu: PicoJoules(work as f64 * cpu_pj(arch, dtype)),
            links: PicoJoules(link_bytes as f64 * arch.energy.link_byte_pj),
            ..EngineEnergy::default()
        },
    })
}

fn dma(arch: &Arch, program: &Program, insn: &Instruction) -> Result<Cost> {
    let Some(t) = insn.transfer() else {
        return Err(Error::Program {
            message: format!("`{}` cannot run on a DMA engine", insn.mnemonic()),
        });
    };
    let (dst, src, rows, row_bytes, ss, ds) = (
        t.dst,
        t.src,
        t.rows,
        t.row_bytes,
        t.src_stride,
        t.dst_stride,
    );
    let (dmem, daddr) = addr(program, dst)?;
    let (smem, saddr) = addr(program, src)?;
    let rows = u64::from(rows);
    let bytes = rows.saturating_mul(row_bytes.0);
    let mut traffic = Vec::new();
    let mut spm = 0u64;
    let mut link_bytes = 0u64;
    for (mem, base, stride, dir) in [
        (smem, saddr, ss.0, Direction::Read),
        (dmem, daddr, ds.0, Direction::Write),
    ] {
        match mem {
            Memory::Dram => {
                traffic.push(Transfer {
                    dir,
                    base,
                    rows,
                    row_bytes: row_bytes.0,
                    stride,
                });
                link_bytes = link_bytes.saturating_add(bytes);
            }
            Memory::Spm => spm = spm.saturating_add(bytes),
        }
    }
    Ok(Cost {
        compute: Cycles(spm_cycles(arch, spm)),
        traffic,
        spm_bytes: spm,
        ops: 0,
        energy: EngineEnergy {
            sram: PicoJoules(spm as f64 * arch.energy.sram_byte_pj),
            links: PicoJoules(link_bytes as f64 * arch.energy.link_byte_pj),
            ..EngineEnergy::default()
        },
    })
}
