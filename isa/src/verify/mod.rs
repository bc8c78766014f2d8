//! The static verifier: checks a well-formed [`Program`] against the [`Arch`] it will
//! run on, and lists every problem found (up to [`MAX_PROBLEMS`]).
//!
//! Rules:
//! - Engines: `cpu.N` needs N < the arch's total CPU cores; `npu.mx`/`npu.vec` need an
//!   NPU; `dma.N` needs an NPU and N < `npu.dma_engines`; `pim.N` needs PIM and
//!   N < DRAM channels.
//! - Buffers: non-empty, size representable, and in range of their memory: DRAM
//!   buffers below `dram.capacity_bytes()`, scratchpad buffers below `npu.spm_bytes`.
//! - Overlap: two buffers of one memory may share bytes only if they belong to one
//!   alias family (`alias=` chains to the same root buffer). An alias declares the
//!   compiler's promise that the lifetimes are disjoint; the verifier does not prove
//!   it. Every other overlap is an error, whatever the lifetimes.
//! - Instructions (see `verify/insn.rs`): operand spans
//!   ([`crate::Instruction::accesses`]) in the engine's memory, in bounds, dtypes
//!   equal to the buffer's; non-zero counts; dtype and operation supported by the unit.
//! - PIM layout (the lead's PIM semantics, decoded with the arch's
//!   [`crate::AddressMapper`]): weight rows of PIM MACs each in one channel (a
//!   channel owning none is a warning); MAC `cols` within the global buffer;
//!   element-wise operands burst-aligned and burst by burst in one channel and bank.
//! - Graph inputs and outputs: their buffers are in DRAM.
//! - Semaphores (see `verify/sync.rs`): waits balanced by signals; no deadlock.

mod insn;
mod sync;

use crate::insn::{BufId, Engine};
pub use crate::problem::{MAX_PROBLEMS, Problem, Problems};
use crate::program::Memory;
use crate::{Arch, Bytes, Program, Result};
use serde::Serialize;
use std::collections::BTreeSet;

/// What a successful verification measured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Arch verified against.
    pub arch: String,
    /// Streams (engines used).
    pub streams: usize,
    /// Instructions in all streams.
    pub insns: usize,
    /// Bytes of DRAM covered by declared buffers (the union of their ranges).
    pub dram_bytes: Bytes,
    /// Bytes of scratchpad covered by declared buffers (likewise).
    pub spm_bytes: Bytes,
    /// Doubts that are not errors (e.g. semaphores with several waiting engines).
    pub warnings: Vec<Problem>,
}

/// Verify `p` against `arch`: [`Program::validate`] first, then the rules of the
/// module docs. Fails with [`crate::Error::Verify`] listing every problem.
pub fn verify(p: &Program, arch: &Arch) -> Result<VerifyReport> {
    p.validate()?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let missing = check_engines(p, arch, &mut problems);
    let (dram_bytes, spm_bytes) = check_buffers(p, arch, &mut problems);
    for (what, ports) in [("input", &p.inputs), ("output", &p.outputs)] {
        for port in ports {
            if let Some(b) = p.buffer(port.buf)
                && b.mem != Memory::Dram
            {
                problems.push(Problem::new(
                    format!("{what} `{}`", port.name),
                    format!(
                        "buffer `{}` is in {}, but graph inputs and outputs live in dram",
                        b.name, b.mem
                    ),
                ));
            }
        }
    }
    let mapper = crate::AddressMapper::new(&arch.name, &arch.dram).ok();
    for s in &p.streams {
        for (k, ins) in s.insns.iter().enumerate() {
            let mut c = insn::Checker {
                p,
                arch,
                mapper: mapper.as_ref(),
                engine: s.engine,
                out: Vec::new(),
                warn: Vec::new(),
            };
            c.accesses(ins);
            // A missing engine is reported once; its unit checks would only repeat it.
            if !missing.contains(&s.engine) {
                ins.accept(&mut c);
                c.capability(ins);
            }
            let at = format!("{} #{k} `{}`", s.engine, ins.mnemonic());
            for msg in c.out {
                problems.push(Problem::new(at.clone(), msg));
            }
            for msg in c.warn {
                warnings.push(Problem::new(at.clone(), msg));
            }
        }
    }
    sync::check(p, &mut problems, &mut warnings);
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(MAX_PROBLEMS);
        return Err(crate::Error::Verify(Problems {
            arch: arch.name.clone(),
            total,
            list: problems,
        }));
    }
    Ok(VerifyReport {
        arch: arch.name.clone(),
        streams: p.streams.len(),
        insns: p.insn_count(),
        dram_bytes,
        spm_bytes,
        warnings,
    })
}

/// Report streams whose engine the arch lacks; returns those engines.
fn check_engines(p: &Program, arch: &Arch, problems: &mut Vec<Problem>) -> BTreeSet<Engine> {
    let channels = arch.dram.channels;
    let mut missing = BTreeSet::new();
    for s in &p.streams {
        let why = match s.engine {
            Engine::Cpu(n) => match &arch.cpu {
                None => Some("the arch has no CPU".to_string()),
                Some(c) if u32::from(n) >= c.total_cores() => Some(format!(
                    "the arch's CPU has {} cores (cpu.0 to cpu.{})",
                    c.total_cores(),
                    c.total_cores().saturating_sub(1)
                )),
                Some(_) => None,
            },
            Engine::NpuMx | Engine::NpuVec => arch
                .npu
                .is_none()
                .then(|| "the arch has no NPU".to_string()),
            Engine::Dma(n) => match &arch.npu {
                None => Some("the arch has no NPU, so no DMA engines".to_string()),
                Some(npu) if u32::from(n) >= npu.dma_engines => Some(format!(
                    "the NPU has {} DMA engines: dma.0 to dma.{}",
                    npu.dma_engines,
                    npu.dma_engines.saturating_sub(1)
                )),
                Some(_) => None,
            },
            Engine::Pim(n) => {
                if arch.pim.is_none() {
                    Some("the arch has no PIM".to_string())
                } else if u32::from(n) >= channels {
                    Some(format!(
                        "the arch has {channels} DRAM channels: pim.0 to pim.{}",
                        channels.saturating_sub(1)
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(msg) = why {
            missing.insert(s.engine);
            problems.push(Problem::new(
                format!("stream {}", s.engine),
                format!("engine does not exist: {msg}"),
            ));
        }
    }
    missing
}

/// The root of every buffer's alias family, indexed by buffer.
fn alias_roots(p: &Program) -> Vec<BufId> {
    let mut roots: Vec<BufId> = Vec::with_capacity(p.buffers.len());
    for (i, b) in p.buffers.iter().enumerate() {
        // Aliases point strictly backwards (validated), so the target's root is known.
        let root = b.alias.and_then(|a| roots.get(a.0 as usize).copied());
        roots.push(root.unwrap_or(BufId(i as u32)));
    }
    roots
}

/// Range and overlap checks; returns the bytes declared in DRAM and scratchpad.
fn check_buffers(p: &Program, arch: &Arch, problems: &mut Vec<Problem>) -> (Bytes, Bytes) {
    let dram_cap = arch.dram.capacity_bytes();
    let spm_cap = arch.npu.as_ref().map(|n| n.spm_bytes);
    // (start, end, id) per memory.
    let mut spans: [Vec<(u64, u64, BufId)>; 2] = [Vec::new(), Vec::new()];
    for (i, b) in p.buffers.iter().enumerate() {
        let at = format!("buffer `{}`", b.name);
        let Some(size) = b.size() else {
            problems.push(Problem::new(at, "size overflows 64 bits".into()));
            continue;
        };
        if b.shape.contains(&0) {
            problems.push(Problem::new(
                at.clone(),
                format!("shape {:?} has a zero dimension", b.shape),
            ));
        }
        let end = b.addr.0.checked_add(size.0);
        let (cap, what) = match b.mem {
            Memory::Dram => (Some(dram_cap), "dram.capacity_bytes"),
            Memory::Spm => (spm_cap, "npu.spm_bytes"),
        };
        match (cap, end) {
            (None, _) => problems.push(Problem::new(
                at,
                "the arch has no NPU, so no scratchpad".into(),
            )),
            (Some(cap), Some(e)) if e <= cap => {
                spans[b.mem as usize].push((b.addr.0, e, BufId(i as u32)))
            }
            (Some(cap), _) => problems.push(Problem::new(
                at,
                format!(
                    "bytes {}..{} exceed the {} of {cap} bytes ({what})",
                    b.addr.0,
                    end.map_or("overflow".to_string(), |e| e.to_string()),
                    b.mem
                ),
            )),
        }
    }
    let roots = alias_roots(p);
    let mut used = [0u64; 2];
    for (m, list) in spans.iter_mut().enumerate() {
        list.sort();
        // Overlap sweep: compare each span with the later-starting spans it reaches.
        for (k, &(start, end, id)) in list.iter().enumerate() {
            for &(s2, e2, id2) in &list[k + 1..] {
                if s2 >= end {
                    break;
                }
                // Empty buffers share no bytes with anything.
                if start < end && s2 < e2 && roots[id.0 as usize] != roots[id2.0 as usize] {
                    let (a, b) = (&p.buffers[id.0 as usize], &p.buffers[id2.0 as usize]);
                    let (first, second) = if id < id2 { (a, b) } else { (b, a) };
                    problems.push(Problem::new(
                        format!("buffer `{}`", second.name),
                        format!(
                            "overlaps buffer `{}` in {} (bytes {}..{}); mark it `alias={}` if their lifetimes are disjoint",
                            first.name,
                            first.mem,
                            s2.max(start),
                            end.min(e2),
                            first.name
                        ),
                    ));
                }
            }
        }
        // Bytes covered by the union of all spans.
        let mut reach = 0u64;
        for &(start, end, _) in list.iter() {
            let s = start.max(reach);
            if end > s {
                used[m] += end - s;
            }
            reach = reach.max(end);
        }
    }
    (
        Bytes(used[Memory::Dram as usize]),
        Bytes(used[Memory::Spm as usize]),
    )
}
