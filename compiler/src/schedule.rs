//! List scheduling of a placed graph across engines.
//!
//! Every op gets its estimated duration on its target from the arch's cost model
//! ([`CostModel::op_cost`]); its priority is its *bottom level*, the longest
//! estimated path from its start to the end of the graph. The scheduler keeps the
//! ready ops (all producers scheduled) and repeatedly takes the one of highest
//! priority (ties: the lower node id), starting it when its inputs are ready and its
//! unit is free: the NPU and the PIM units are one resource each, the CPU one per
//! core (the core free earliest). The order ops are taken in is a topological
//! order; the lowering appends ops to every engine stream in that order, so CPU,
//! NPU and PIM work runs concurrently wherever the dependencies allow, across
//! layers too.
//!
//! Each op also gets a CPU core (its own for CPU ops; for others the core free
//! earliest, used if the lowering falls back to the CPU). Limits: estimates only
//! (no simulation); the schedule's makespan is the cost model's, not the
//! simulator's. Chunked prefill is decided when the graph is built (the workloads'
//! `prefill:N/chunk:C` phase); the chunks' ops then interleave here like any others.
//! Fails only on a graph with a cycle.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use triad_isa::Arch;

use crate::egraph::{CostModel, PlacedGraph, Target};
use crate::error::Result;
use crate::graph::NodeId;

/// When and where each op runs, by the cost model's estimate.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Schedule {
    /// Ops (non-source nodes) in the order they were scheduled (topological).
    pub order: Vec<NodeId>,
    /// The CPU core of each op (see the module doc).
    pub core: BTreeMap<NodeId, u16>,
    /// Estimated start and finish of each op, picoseconds.
    pub times: BTreeMap<NodeId, (f64, f64)>,
    /// Estimated end of the last op, picoseconds.
    pub makespan_ps: f64,
    /// Sum of the estimated op times (what running them one after another takes).
    pub serial_ps: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Resource {
    Core(u16),
    Npu,
    Pim,
}

/// Schedule `placed` on `arch` (see the module doc).
pub fn schedule(placed: &PlacedGraph, arch: &Arch) -> Result<Schedule> {
    let g = &placed.graph;
    let model = CostModel::new(arch);
    let topo = g.topo_order()?;
    let ops: Vec<NodeId> = topo
        .iter()
        .copied()
        .filter(|&id| !g.node(id).op.is_source())
        .collect();
    let mut dur: BTreeMap<NodeId, f64> = BTreeMap::new();
    let mut succ: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
    let mut preds: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
    for &id in &ops {
        let n = g.node(id);
        let tys: Vec<_> = n.inputs.iter().map(|v| g.ty(*v)).collect();
        let outs: Vec<_> = n.outputs.iter().map(|v| v.ty.clone()).collect();
        let t = placed.placement.get(&id).copied().unwrap_or(Target::Cpu);
        let est = model
            .op_cost(t, &n.op, &tys, &outs)
            .or_else(|| model.op_cost(Target::Cpu, &n.op, &tys, &outs))
            .map_or(0.0, |e| e.time_ps);
        dur.insert(id, est);
        for v in &n.inputs {
            if !g.node(v.node).op.is_source() {
                preds.entry(id).or_default().insert(v.node);
                succ.entry(v.node).or_default().insert(id);
            }
        }
    }
    // Bottom levels, in reverse topological order.
    let mut level: BTreeMap<NodeId, f64> = BTreeMap::new();
    for &id in ops.iter().rev() {
        let below = succ
            .get(&id)
            .map_or(0.0, |s| s.iter().map(|c| level[c]).fold(0.0, f64::max));
        level.insert(id, dur[&id] + below);
    }
    let cores = arch
        .cpu
        .as_ref()
        .map_or(0, |c| c.total_cores())
        .min(u32::from(u16::MAX)) as u16;
    let mut free: BTreeMap<Resource, f64> = BTreeMap::new();
    let mut remaining: BTreeMap<NodeId, usize> = ops
        .iter()
        .map(|&id| (id, preds.get(&id).map_or(0, |p| p.len())))
        .collect();
    let mut ready_at: BTreeMap<NodeId, f64> = BTreeMap::new();
    // Priority in whole femtoseconds keeps the ordering total and exact.
    let key = |id: NodeId| (Reverse((level[&id] * 1000.0) as u64), id);
    let mut ready: BTreeSet<(Reverse<u64>, NodeId)> = ops
        .iter()
        .copied()
        .filter(|id| remaining[id] == 0)
        .map(key)
        .collect();
    let mut s = Schedule::default();
    while let Some(first) = ready.iter().next().copied() {
        ready.remove(&first);
        let id = first.1;
        let at = ready_at.get(&id).copied().unwrap_or(0.0);
        let core = (0..cores.max(1))
            .min_by(|a, b| {
                let fa = free
                    .get(&Resource::Core(*a))
                    .copied()
                    .unwrap_or(0.0)
                    .max(at);
                let fb = free
                    .get(&Resource::Core(*b))
                    .copied()
                    .unwrap_or(0.0)
                    .max(at);
                fa.total_cmp(&fb).then(a.cmp(b))
            })
            .unwrap_or(0);
        let res = match placed.placement.get(&id).copied().unwrap_or(Target::Cpu) {
            Target::Cpu => Resource::Core(core),
            Target::Npu => Resource::Npu,
            Target::Pim => Resource::Pim,
        };
        let start = free.get(&res).copied().unwrap_or(0.0).max(at);
        let end = start + dur[&id];
        free.insert(res, end);
        s.order.push(id);
        s.core.insert(id, core);
        s.times.insert(id, (start, end));
        s.makespan_ps = s.makespan_ps.max(end);
        s.serial_ps += dur[&id];
        for &c in succ.get(&id).into_iter().flatten() {
            let r = ready_at.entry(c).or_insert(0.0);
            *r = r.max(end);
            let left = remaining.entry(c).or_insert(1);
            *left -= 1;
            if *left == 0 {
                ready.insert(key(c));
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Init, TensorType};
    use crate::egraph::Estimate;
    use crate::graph::Graph;
    use crate::op::Op;
    use triad_isa::DType;

    /// Two independent products of one input, then their sum.
    fn diamond(on: [Target; 3]) -> (PlacedGraph, [NodeId; 3]) {
        let mut g = Graph::new("diamond");
        let t = |s: Vec<usize>| TensorType::new(DType::F16, s);
        let x = g.input("x", t(vec![1, 256])).unwrap();
        let init = Init::Uniform {
            seed: 1,
            low: -1.0,
            high: 1.0,
        };
        let w1 = g.weight("w1", t(vec![256, 256]), init.clone()).unwrap();
        let w2 = g.weight("w2", t(vec![256, 256]), init).unwrap();
        let a = g.add1("a", Op::MatMul, &[x, w1]).unwrap();
        let b = g.add1("b", Op::MatMul, &[x, w2]).unwrap();
        let c = g.add1("c", Op::Add, &[a, b]).unwrap();
        g.set_outputs(&[c]);
        let ids = [a.node, b.node, c.node];
        let placement = ids.iter().copied().zip(on).collect();
        let placed = PlacedGraph {
            graph: g,
            placement,
            transfers: Vec::new(),
            cost: Estimate::default(),
            term: egg::RecExpr::default(),
            term_roots: Vec::new(),
            ops: Default::default(),
            fusions: Vec::new(),
            splits: Vec::new(),
            prepacked: Default::default(),
        };
        (placed, ids)
    }

    #[test]
    fn independent_ops_on_different_units_overlap() {
        let arch = Arch::preset("mobile-soc-pim").unwrap();
        let (placed, [a, b, c]) = diamond([Target::Npu, Target::Pim, Target::Cpu]);
        let s = schedule(&placed, &arch).unwrap();
        assert_eq!(s.order.last(), Some(&c));
        // Both products start at once on their own units; the sum waits for both.
        assert_eq!(s.times[&a].0, 0.0);
        assert_eq!(s.times[&b].0, 0.0);
        assert_eq!(s.times[&c].0, s.times[&a].1.max(s.times[&b].1));
        assert!(s.makespan_ps < s.serial_ps);
    }

    #[test]
    fn ops_on_one_unit_run_one_after_another() {
        let arch = Arch::preset("mobile-soc-pim").unwrap();
        let (placed, [a, b, _]) = diamond([Target::Npu, Target::Npu, Target::Npu]);
        let s = schedule(&placed, &arch).unwrap();
        let (first, second) = if s.times[&a].0 == 0.0 { (a, b) } else { (b, a) };
        assert_eq!(s.times[&second].0, s.times[&first].1);
        assert!((s.makespan_ps - s.serial_ps).abs() < 1e-6 * s.serial_ps);
    }
}
