//! Synchronisation: per-op instruction lists become per-engine streams, with a
//! semaphore for every dependency that crosses engines and a label per op.
//!
//! Each lowered op has *start* engines (the ones that first touch its inputs and
//! outputs in DRAM: the CPU core, the NPU's load DMA, the PIM channels) and *finish*
//! engines (whose last instruction ends the op: the core, the NPU's store DMA, the
//! channels). For a dependency d → i and each start engine f of i, every finish
//! engine of d other than f signals one semaphore that f waits on (with the number
//! of signallers as its value); when f is itself a finish engine of d, stream order
//! already orders them. Dependencies come from data (a reader after its producer)
//! and from the memory plan (a writer after every earlier user of reused bytes).
//!
//! Ops are appended to every stream in one global order (the schedule's), and every
//! wait names an earlier op, so the program cannot deadlock: the earliest blocked op
//! in that order always has its signals issued by ops before it.

use std::collections::{BTreeMap, BTreeSet};

use triad_isa::{Engine, Instruction, Program, SemId, Signal, Wait};

use super::npu::engine_tag;

/// One lowered op before synchronisation.
#[derive(Clone, Debug, Default)]
pub struct OpParts {
    /// Label naming the op in every stream it uses.
    pub label: String,
    /// Instructions per engine.
    pub parts: BTreeMap<Engine, Vec<Instruction>>,
    /// Engines that wait for the op's dependencies.
    pub start: BTreeSet<Engine>,
    /// Engines whose last instruction ends the op.
    pub finish: BTreeSet<Engine>,
    /// Earlier ops (indices) this op must follow.
    pub deps: BTreeSet<usize>,
}

/// Append `ops` (in order) to `prog`'s streams with labels and semaphores; returns
/// the number of dependency semaphores.
pub fn assemble(prog: &mut Program, ops: &[OpParts]) -> usize {
    let mut waits: Vec<Vec<(Engine, SemId, u32)>> = vec![Vec::new(); ops.len()];
    let mut signals: Vec<Vec<(BTreeSet<Engine>, SemId)>> = vec![Vec::new(); ops.len()];
    let mut count = 0;
    for (i, op) in ops.iter().enumerate() {
        for &d in op.deps.iter().filter(|&&d| d < i) {
            for &f in &op.start {
                let senders: BTreeSet<Engine> =
                    ops[d].finish.iter().copied().filter(|&e| e != f).collect();
                if senders.is_empty() {
                    continue;
                }
                let sem = prog.push_sem(format!("dep{d}_{i}_{}", engine_tag(f)), 0);
                count += 1;
                waits[i].push((f, sem, senders.len() as u32));
                signals[d].push((senders, sem));
            }
        }
    }
    for (i, op) in ops.iter().enumerate() {
        let engines: BTreeSet<Engine> = op
            .parts
            .keys()
            .chain(&op.start)
            .chain(&op.finish)
            .copied()
            .collect();
        for e in engines {
            let s = prog.stream_mut(e);
            s.label(op.label.clone());
            for &(f, sem, value) in &waits[i] {
                if f == e {
                    s.push(Wait { sem, value });
                }
            }
            if let Some(body) = op.parts.get(&e) {
                s.insns.extend(body.iter().cloned());
            }
            for (senders, sem) in &signals[i] {
                if senders.contains(&e) {
                    s.push(Signal {
                        sem: *sem,
                        value: 1,
                    });
                }
            }
        }
    }
    count
}
