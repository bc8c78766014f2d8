//! Why the compiler chose what it chose: per op of the input graph, its shape, its
//! FLOPs, DRAM bytes and arithmetic intensity (Op/B, from [`crate::stats`]), the
//! target extraction chose, the estimated cost on every target (the cost model's
//! `op_cost` of the op alone) and the rewrite rules that fired on it; as a
//! plain-text table or serde JSON.
//!
//! "Chosen" is the target of the placed node of the same name; an op whose value is
//! computed another way (a merged matmul's split, a cancelled transpose) shows how
//! (`split cols:1/4:npu+pim`, `fused npu`, `replaced`). Fails only if the input graph
//! does not validate (its statistics cannot be computed).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::egraph::cost::{CostModel, Estimate};
use crate::egraph::lang::Target;
use crate::egraph::{Converted, Optimized};
use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::stats::analyze;

/// One op of the input graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplainRow {
    /// Node name.
    pub node: String,
    /// Op name.
    pub op: String,
    /// Result shape (first output).
    pub shape: Vec<usize>,
    /// Result dtype.
    pub dtype: String,
    /// FLOPs of the op (from [`crate::stats`]).
    pub flops: u64,
    /// DRAM bytes the op moves when it runs alone.
    pub dram_bytes: u64,
    /// FLOPs per byte of DRAM traffic of the op run alone.
    pub op_per_byte: f64,
    /// Target chosen for the node of this name in the placed graph (`None`: the
    /// value is computed otherwise, see `how`).
    pub target: Option<Target>,
    /// `placed`, `fused <target>` (part of a kernel), `split <spec>`, `prepacked` or
    /// `replaced` (no node of this name: merged or cancelled by a rewrite).
    pub how: String,
    /// Estimated cost of the op alone on each target that can run it.
    pub costs: BTreeMap<Target, Estimate>,
    /// Rewrite rules that fired on the op's classes, sorted.
    pub rewrites: Vec<String>,
}

/// The explanation of one optimisation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Graph name.
    pub graph: String,
    /// Arch name.
    pub arch: String,
    /// One row per op, in topological order.
    pub rows: Vec<ExplainRow>,
    /// Estimated cost of the placed graph.
    pub total: Estimate,
}

/// Rule names fired per input-graph node, from a saturated e-graph.
pub fn fired_per_node(conv: &Converted) -> BTreeMap<NodeId, Vec<String>> {
    let eg = &conv.egraph;
    let mut out: BTreeMap<NodeId, BTreeSet<String>> = BTreeMap::new();
    for (class, rule) in &eg.analysis.fired {
        let c = eg.find(*class);
        for id in [conv.origin.get(&c), conv.values.get(&c)]
            .into_iter()
            .flatten()
        {
            out.entry(*id).or_default().insert(rule.clone());
        }
    }
    out.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

/// Explain `out`, the optimisation of `graph` for `model`'s arch.
pub fn explain(graph: &Graph, out: &Optimized, model: &CostModel) -> Result<Explanation> {
    let stats = analyze(graph)?;
    let p = &out.placed;
    let mut how_of: BTreeMap<NodeId, String> = BTreeMap::new();
    for f in &p.fusions {
        for n in &f.nodes {
            how_of.insert(*n, format!("fused {}", f.target));
        }
    }
    for s in &p.splits {
        how_of.insert(s.concat, format!("split {}", s.spec));
    }
    for n in &p.prepacked {
        how_of.insert(*n, "prepacked".into());
    }
    let mut rows = Vec::new();
    for id in graph.topo_order()? {
        let n = graph.node(id);
        if n.op.is_source() {
            continue;
        }
        let tys: Vec<_> = n.inputs.iter().map(|v| graph.ty(*v)).collect();
        let outs: Vec<_> = n.outputs.iter().map(|o| o.ty.clone()).collect();
        let costs = Target::ALL
            .into_iter()
            .filter_map(|t| model.op_cost(t, &n.op, &tys, &outs).map(|c| (t, c)))
            .collect();
        let (flops, dram_bytes) = stats
            .node(&n.name)
            .map_or((0, 0), |s| (s.flops.0, s.traffic.total().0));
        let op_per_byte = if dram_bytes > 0 {
            flops as f64 / dram_bytes as f64
        } else {
            0.0
        };
        let placed = p.graph.node_by_name(&n.name);
        let target = placed.and_then(|pn| p.placement.get(&pn).copied());
        let how = match placed {
            None => "replaced".to_string(),
            Some(pn) => how_of.get(&pn).cloned().unwrap_or_else(|| "placed".into()),
        };
        rows.push(ExplainRow {
            node: n.name.clone(),
            op: n.op.name().to_string(),
            shape: outs.first().map(|t| t.shape.clone()).unwrap_or_default(),
            dtype: outs
                .first()
                .map(|t| t.dtype.to_string())
                .unwrap_or_default(),
            flops,
            dram_bytes,
            op_per_byte,
            target,
            how,
            costs,
            rewrites: out.fired.get(&id).cloned().unwrap_or_default(),
        });
    }
    Ok(Explanation {
        graph: graph.name.clone(),
        arch: model.arch().name.clone(),
        rows,
        total: p.cost,
    })
}

impl Explanation {
    /// A plain-text table: one line per op, costs in microseconds.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} on {}: estimated {:.3} us, {:.3} uJ",
            self.graph,
            self.arch,
            self.total.time_ps * 1e-6,
            self.total.energy.0 * 1e-6
        );
        let _ = writeln!(
            s,
            "{:<32} {:<10} {:<18} {:>8} {:<6} {:<22} {:>10} {:>10} {:>10}  rewrites",
            "node", "op", "shape", "Op/B", "target", "how", "cpu us", "npu us", "pim us"
        );
        for r in &self.rows {
            let cost = |t: Target| {
                r.costs
                    .get(&t)
                    .map_or("-".to_string(), |c| format!("{:.3}", c.time_ps * 1e-6))
            };
            let shape = format!("{}{:?}", r.dtype, r.shape);
            let _ = writeln!(
                s,
                "{:<32} {:<10} {:<18} {:>8.2} {:<6} {:<22} {:>10} {:>10} {:>10}  {}",
                r.node,
                r.op,
                shape,
                r.op_per_byte,
                r.target.map_or("-", |t| t.name()),
                r.how,
                cost(Target::Cpu),
                cost(Target::Npu),
                cost(Target::Pim),
                r.rewrites.join(",")
            );
        }
        s
    }
}
