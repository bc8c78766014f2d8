//! Fused kernels: a group of ops the extraction put in one kernel on the NPU
//! ([`crate::egraph::PlacedGraph::fusions`]) lowered as one sequence of
//! double-buffered steps whose intermediates stay in the scratchpad
//! ([`Npu::plan_fused`]): matmul + bias + activation applies the epilogue on the
//! vector unit to each output tile before its one store, residual add + norm adds
//! and normalises each row range in place. Only the kernel's external operands and
//! its result cross the memory interface, as the cost model's `kernel_cost` assumes.
//!
//! A group qualifies when every op is placed on the NPU and has one result, and the
//! result of every op but the last is read only inside the group (and is no graph
//! output). The group is lowered where the schedule has its last op; its other ops
//! are moved there (they only feed the group). When the NPU cannot run the group
//! as one kernel (a member with more than one kernel, operands that do not fit),
//! its ops are lowered one by one as before.
//!
//! The kernel carries one label: its ops' names joined with `__` in dependency
//! order, under the scope of its last op (`layer0_ffn.layer0.ffn.up_proj__layer0.ffn.act`).

use std::collections::{BTreeMap, BTreeSet};

use triad_isa::BufId;

use super::kernels::Kernel;
use super::memory::Touched;
use super::npu::Npu;
use super::sync::OpParts;
use super::{Alloc, Lowerer, Place, alloc_result};
use crate::egraph::{PlacedGraph, Target};
use crate::error::Result;
use crate::graph::{Graph, NodeId, ValueRef};
use crate::op::Op;

/// The groups lowered as one kernel, in the placed graph's order.
pub(super) fn groups(
    placed: &PlacedGraph,
    uses: &BTreeMap<ValueRef, usize>,
    outputs: &BTreeSet<ValueRef>,
    skip: &BTreeSet<NodeId>,
) -> Vec<Vec<NodeId>> {
    let g = &placed.graph;
    placed
        .fusions
        .iter()
        .filter(|f| f.target == Target::Npu && f.nodes.len() > 1)
        .filter(|f| {
            f.nodes.iter().enumerate().all(|(i, &id)| {
                let n = g.node(id);
                let v = ValueRef { node: id, port: 0 };
                let inside = f
                    .nodes
                    .iter()
                    .map(|&k| g.node(k).inputs.iter().filter(|&&x| x == v).count())
                    .sum::<usize>();
                placed.placement.get(&id) == Some(&Target::Npu)
                    && n.outputs.len() == 1
                    && !matches!(n.op, Op::Reshape { .. })
                    && !skip.contains(&id)
                    && (i + 1 == f.nodes.len()
                        || (!outputs.contains(&v) && uses.get(&v).copied().unwrap_or(0) == inside))
            })
        })
        .map(|f| f.nodes.clone())
        .collect()
}

/// `order` with each group's ops moved to where its last op is.
pub(super) fn order(order: &[NodeId], groups: &[Vec<NodeId>]) -> Vec<NodeId> {
    let mut last: BTreeMap<NodeId, usize> = BTreeMap::new();
    let mut member: BTreeSet<NodeId> = BTreeSet::new();
    for (i, grp) in groups.iter().enumerate() {
        if let Some(&l) = grp.last() {
            last.insert(l, i);
        }
        member.extend(grp.iter().copied());
    }
    let mut out = Vec::with_capacity(order.len());
    for &id in order {
        match last.get(&id) {
            Some(&i) => out.extend(groups[i].iter().copied()),
            None if member.contains(&id) => {}
            None => out.push(id),
        }
    }
    out
}

/// The label of a fused kernel (see the module doc).
pub(super) fn label(g: &Graph, group: &[NodeId]) -> String {
    let names: Vec<&str> = group.iter().map(|&id| g.node(id).name.as_str()).collect();
    let last = g.node(group[group.len() - 1]);
    let joined = names.join("__");
    if last.scope.is_empty() || joined.starts_with(&last.scope) {
        joined
    } else {
        format!("{}.{joined}", last.scope)
    }
}

/// What lowering a group as one kernel produced.
pub(super) struct Fused {
    /// The kernel's instructions.
    pub parts: OpParts,
    /// Allocations of its external operands, once per use.
    pub in_allocs: Vec<usize>,
}

/// The group as one NPU kernel writing op `i`'s result, or `None` (no arena space
/// kept) when the NPU cannot run it so.
#[allow(clippy::too_many_arguments)]
pub(super) fn lower(
    lw: &mut Lowerer<'_>,
    npu: &mut Option<Npu>,
    g: &Graph,
    group: &[NodeId],
    allocs: &mut Vec<Alloc>,
    vals: &mut BTreeMap<ValueRef, (Place, usize)>,
    uses: &BTreeMap<ValueRef, usize>,
    outputs: &BTreeSet<ValueRef>,
    i: usize,
) -> Result<Option<Fused>> {
    let Some(np) = npu.as_mut() else {
        return Ok(None);
    };
    // Results get stand-in buffers past every real one: the intermediates' accesses
    // all stay in the scratchpad, the last result's store is rebound below.
    let stand_in = |j: usize| BufId(u32::MAX - j as u32);
    let mut local: BTreeMap<NodeId, Place> = BTreeMap::new();
    let mut kernels: Vec<Kernel> = Vec::new();
    let mut in_allocs = Vec::new();
    let temps = lw.temps.len();
    for (j, &id) in group.iter().enumerate() {
        let n = g.node(id);
        lw.node = n.name.clone();
        lw.op = n.op.name();
        let mut ins = Vec::new();
        for v in &n.inputs {
            match local.get(&v.node) {
                Some(p) => ins.push(p.clone()),
                None => {
                    let (p, a) = &vals[v];
                    ins.push(p.clone());
                    in_allocs.push(*a);
                }
            }
        }
        let ty = &n.outputs[0].ty;
        let out = Place {
            buf: stand_in(j),
            dtype: ty.dtype,
            shape: ty.shape.clone(),
        };
        let mut ks = lw.kernels(n, &ins, std::slice::from_ref(&out))?;
        if ks.len() != 1 || lw.temps.len() != temps {
            for (off, bytes) in lw.temps.split_off(temps) {
                lw.plan.free(off, bytes, Touched::new());
            }
            return Ok(None);
        }
        kernels.push(ks.remove(0));
        local.insert(id, out);
    }
    let internal: Vec<BufId> = (0..group.len() - 1).map(stand_in).collect();
    let Some(mut steps) = np.plan_fused(lw.arch, &kernels, &internal) else {
        return Ok(None);
    };
    // The result, as the one-op path allocates it.
    let last = group[group.len() - 1];
    let o = &g.node(last).outputs[0];
    let v = ValueRef {
        node: last,
        port: 0,
    };
    lw.deps = in_allocs.iter().filter_map(|&a| allocs[a].writer).collect();
    let buf = alloc_result(lw, allocs, vals, uses, outputs, v, o, i).buf;
    for s in &mut steps {
        s.rebind(stand_in(group.len() - 1), buf);
    }
    let mut p = OpParts::default();
    lw.stats.npu_steps += steps.len();
    np.emit(&mut lw.prog, &steps, &mut p.parts);
    p.start.insert(np.start_engine());
    p.finish.insert(np.finish_engine());
    *lw.stats.ops.entry(Target::Npu).or_default() += group.len();
    lw.stats.fused += 1;
    Ok(Some(Fused {
        parts: p,
        in_allocs,
    }))
}
