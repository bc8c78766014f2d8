//! Semaphore analysis: do the waits of a program's streams ever get their signals?
//!
//! Semantics (see `isa/README.md`): each semaphore is a counter starting at its
//! `init`; `signal s, value=v` adds v; `wait s, value=v` blocks its engine until the
//! count is at least v and then subtracts v. Streams are straight-line code.
//!
//! Two checks:
//! 1. Balance: for every semaphore, `init` plus all signalled values must cover all
//!    waited values, otherwise some wait can never complete whatever the timing.
//! 2. Deadlock: an abstract run that ignores time: engines take turns (in stream
//!    order) running as far as they can; a wait whose count is short blocks. If every
//!    unfinished engine is blocked, the program deadlocks in that schedule, which is a
//!    legal schedule of the real machine, so the error is always a real deadlock.
//!    When each semaphore is waited on by a single engine (the compiler's one
//!    semaphore per dependency edge), waits never compete, every schedule reaches the
//!    same state and the check is exact. With several waiting engines on one
//!    semaphore other schedules may still deadlock; a warning says so.

use super::Problem;
use crate::Program;
use crate::insn::{Engine, Instruction, SemId};
use std::collections::{BTreeMap, BTreeSet};

/// Run both checks; push errors to `problems` and caveats to `warnings`.
pub(super) fn check(p: &Program, problems: &mut Vec<Problem>, warnings: &mut Vec<Problem>) {
    let n = p.sems.len();
    let mut signalled = vec![0u64; n];
    let mut waited = vec![0u64; n];
    let mut waiters: Vec<BTreeSet<Engine>> = vec![BTreeSet::new(); n];
    for s in &p.streams {
        for insn in &s.insns {
            match insn {
                Instruction::Signal(x) => {
                    if let Some(c) = signalled.get_mut(x.sem.0 as usize) {
                        *c += u64::from(x.value);
                    }
                }
                Instruction::Wait(x) => {
                    if let Some(c) = waited.get_mut(x.sem.0 as usize) {
                        *c += u64::from(x.value);
                        waiters[x.sem.0 as usize].insert(s.engine);
                    }
                }
                _ => {}
            }
        }
    }
    for (i, sem) in p.sems.iter().enumerate() {
        let have = u64::from(sem.init) + signalled[i];
        if waited[i] > have {
            problems.push(Problem::new(
                format!("semaphore `{}`", sem.name),
                format!(
                    "waits take {} in total but init + signals give only {have}{}",
                    waited[i],
                    if signalled[i] == 0 {
                        " (no engine ever signals it)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        if waiters[i].len() > 1 {
            let who: Vec<String> = waiters[i].iter().map(Engine::to_string).collect();
            warnings.push(Problem::new(
                format!("semaphore `{}`", sem.name),
                format!(
                    "waited on by {} engines ({}); the deadlock check covers one schedule only",
                    who.len(),
                    who.join(", ")
                ),
            ));
        }
    }
    if let Some(msg) = deadlock(p) {
        problems.push(Problem::new("streams".to_string(), msg));
    }
}

/// The abstract run of the module docs; `Some(description)` if it gets stuck.
fn deadlock(p: &Program) -> Option<String> {
    let mut count: Vec<u64> = p.sems.iter().map(|s| u64::from(s.init)).collect();
    let mut pc = vec![0usize; p.streams.len()];
    loop {
        let mut progressed = false;
        for (k, s) in p.streams.iter().enumerate() {
            while let Some(insn) = s.insns.get(pc[k]) {
                match insn {
                    Instruction::Signal(x) => {
                        if let Some(c) = count.get_mut(x.sem.0 as usize) {
                            *c = c.saturating_add(u64::from(x.value));
                        }
                    }
                    Instruction::Wait(x) => match count.get_mut(x.sem.0 as usize) {
                        Some(c) if *c >= u64::from(x.value) => *c -= u64::from(x.value),
                        _ => break,
                    },
                    _ => {}
                }
                pc[k] += 1;
                progressed = true;
            }
        }
        let done = p
            .streams
            .iter()
            .enumerate()
            .all(|(k, s)| pc[k] == s.insns.len());
        if done {
            return None;
        }
        if !progressed {
            break;
        }
    }
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    for (k, s) in p.streams.iter().enumerate() {
        if let Some(Instruction::Wait(x)) = s.insns.get(pc[k]) {
            let SemId(id) = x.sem;
            let name = p.sems.get(id as usize).map_or("?", |s| s.name.as_str());
            let have = count.get(id as usize).copied().unwrap_or(0);
            blocked.insert(
                s.engine.to_string(),
                format!("#{} `wait {name}, value={}` (count {have})", pc[k], x.value),
            );
        }
    }
    let list: Vec<String> = blocked
        .into_iter()
        .map(|(e, w)| format!("{e} at {w}"))
        .collect();
    Some(format!(
        "deadlock: every unfinished engine is blocked: {}",
        list.join("; ")
    ))
}
