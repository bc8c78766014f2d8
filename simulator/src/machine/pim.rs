//! The PIM engine `pim.N`: one PIM instruction in three phases, each waiting for the
//! one before. (1) The host reads the instruction's input from DRAM with ordinary
//! bursts (`wr_gb` / `wr_bias` source, `gemv`'s vector, `qgemv`'s vector, scales and
//! zero points). (2) Channel N's PIM
//! controller runs the instruction's command job ([`crate::PimJob`]: WR_GB, MAC,
//! AF, RD_MAC … through the same controller, timing checker and energy counters as
//! every access). (3) The host writes the read-out results back with ordinary bursts
//! (`rd_mac` / `rd_af` / `gemv` destination).
//!
//! Read-out write-back is modelled as whole bursts: the RD_MAC / RD_AF bursts the job
//! reads out are written as one contiguous span, channel N's share of the
//! destination (`dst + N · ceil(bytes / channels)`), since the owned rows of a
//! row-interleaved layout are scattered across the destination a burst at a time.

use super::bursts::Transfer;
use super::cost::Cost;
use crate::error::{Error, Result};
use crate::memory::Direction;
use crate::pim::{PimJob, PimOwned, PimStep};
use triad_isa::{AddressMapper, Arch, DType, Instruction, Program, Slice};

/// What remains of a PIM instruction after its host-side reads.
#[derive(Debug)]
pub(crate) struct PimPlan {
    /// The channel's command job (phase 2).
    pub job: Option<PimJob>,
    /// The host's write-back (phase 3).
    pub post: Vec<Transfer>,
}

fn base(program: &Program, s: Slice) -> Result<u64> {
    let b = program.buffer(s.buf).ok_or_else(|| Error::Program {
        message: format!("buffer #{} does not exist", s.buf.0),
    })?;
    Ok(b.addr.0.saturating_add(s.offset.0))
}

fn bytes(n: u32, d: DType) -> u64 {
    (u64::from(n) * d.bits()).div_ceil(8)
}

/// Plans `insn` on `pim.channel`: the host reads as the cost's traffic, the job and
/// the write-back as the plan. `owned` is the channel's owned-row set.
pub(crate) fn plan(
    arch: &Arch,
    program: &Program,
    mapper: &AddressMapper,
    channel: u32,
    owned: &mut PimOwned,
    insn: &Instruction,
) -> Result<(Cost, PimPlan)> {
    let job = PimJob::from_instruction(insn, program, arch, mapper, channel, owned)?;
    let burst = arch.dram.burst_bytes();
    let readout = job
        .steps()
        .iter()
        .map(|s| match s {
            PimStep::RdMac(n) | PimStep::RdAf(n) => *n,
            _ => 0,
        })
        .sum::<u64>()
        * burst;
    let read = |s: Slice, n: u32, d: DType| -> Result<Vec<Transfer>> {
        Ok(vec![Transfer::span(
            Direction::Read,
            base(program, s)?,
            bytes(n, d),
        )])
    };
    let write_back = |s: Slice, n: u32, d: DType| -> Result<Vec<Transfer>> {
        if readout == 0 {
            return Ok(vec![]);
        }
        let share = bytes(n, d).div_ceil(u64::from(arch.dram.channels.max(1)));
        let start = base(program, s)?.saturating_add(u64::from(channel).saturating_mul(share));
        Ok(vec![Transfer::span(Direction::Write, start, readout)])
    };
    let (pre, post) = match insn {
        Instruction::PimWrGb(i) => (read(i.src, i.len, i.dtype)?, vec![]),
        Instruction::PimWrBias(i) => (read(i.src, i.len, i.dtype)?, vec![]),
        Instruction::PimGemv(i) if !job.is_empty() => (
            read(i.x, i.cols, i.dtype)?,
            write_back(i.out, i.rows, i.dtype)?,
        ),
        Instruction::PimQGemv(i) if !job.is_empty() => {
            let mut pre = read(i.x, i.cols, i.dtype)?;
            pre.extend(read(i.scale, i.rows, DType::F32)?);
            pre.extend(read(i.zero, i.rows, i.wdtype)?);
            (pre, write_back(i.out, i.rows, i.dtype)?)
        }
        Instruction::PimRdMac(i) => (vec![], write_back(i.dst, i.len, i.dtype)?),
        Instruction::PimRdAf(i) => (vec![], write_back(i.dst, i.len, i.dtype)?),
        _ => (vec![], vec![]),
    };
    let cost = Cost {
        traffic: pre,
        ..Cost::default()
    };
    let job = (!job.is_empty()).then_some(job);
    Ok((cost, PimPlan { job, post }))
}
