//! E-graph optimisation and placement: a [`Graph`] becomes an e-graph over
//! [`TensorLang`], the rule sets ([`rules`]: algebra and layout, fusion, concurrent
//! splits, placement) add equivalent computations and every target each op may run
//! on, saturation runs within named limits, and a DAG-aware extractor picks one way
//! to compute every value under the [`CostModel`] of the arch, giving back a
//! [`PlacedGraph`] (fused kernels, splits and load-time layout recorded beside it).
//! [`explain`] says per op why; `blocks` optimises identical layers once.
//!
//! ```text
//! Graph --to_egraph--> e-graph --saturate(rules)--> e-graph --extract--> PlacedGraph
//!   (per distinct block, in parallel; copies renamed and stitched)
//! ```
//!
//! Limits: saturation stops at [`SaturationConfig`]'s node, iteration and time limits
//! and reports which one fired ([`SaturationStats`]); a time-limited run depends on the
//! machine's speed, the other limits do not (egg's `deterministic` feature keeps the
//! e-graph's iteration order fixed). Failure: a graph that does not validate keeps its
//! error; an op no target of the arch can run is [`Error::Type`] naming the node.

mod analysis;
mod blocks;
mod cost;
pub mod explain;
mod extract;
mod lang;
mod rules;

use std::collections::BTreeMap;
use std::time::Duration;

use egg::{Id, Runner, StopReason};
use serde::Serialize;
use triad_isa::Arch;

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};

pub use analysis::{ClassInfo, TensorAnalysis, TensorGraph};
pub use cost::KernelPart;
pub use cost::{CostModel, Estimate, MatShape, Objective, mat_shape, vector_passes};
use extract::placed_cost_and_transfers;
pub use extract::{
    DEFAULT_EXACT_LIMIT, DEFAULT_SEARCH_PASSES, ExtractConfig, ExtractStats, Fusion,
    KERNEL_DEPTH_LIMIT, KERNEL_VARIANT_LIMIT, PlacedGraph, SplitGroup, Transfer, alternatives,
    extract, graph_cost, placed_cost, tree_extract,
};
pub use lang::{
    Memory, OpCode, OpEntry, OpTable, SourceInfo, SplitAxis, SplitSpec, Target, TensorLang,
};
pub use rules::{
    DEFAULT_FOLD_LIMIT, DEFAULT_SPLIT_STEPS, RuleConfig, RuleInfo, RuleSet, catalogue,
    placement_rules, rules,
};

/// Default e-node limit of saturation: far above a placed transformer layer
/// (about 4 e-nodes per op) and small enough to stay within memory on a phone-class
/// host.
pub const DEFAULT_NODE_LIMIT: usize = 200_000;
/// Default iteration limit: with every rule set, zoo models saturate in 3 iterations
/// per block with reuse and within 8 as one graph (Mixtral-8x7B decode, the most
/// measured on 2026-12-02); the margin is for layout rules that chain.
pub const DEFAULT_ITER_LIMIT: usize = 16;
/// Default wall-time limit of saturation.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Saturation limits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SaturationConfig {
    /// Stop when the e-graph has more e-nodes than this.
    pub node_limit: usize,
    /// Stop after this many iterations.
    pub iter_limit: usize,
    /// Stop after this much wall time (makes the result machine-dependent when hit).
    pub time_limit: Duration,
}

impl Default for SaturationConfig {
    fn default() -> Self {
        SaturationConfig {
            node_limit: DEFAULT_NODE_LIMIT,
            iter_limit: DEFAULT_ITER_LIMIT,
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }
}

/// Why saturation stopped, how big the e-graph got and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SaturationStats {
    /// `saturated`, `iteration limit`, `node limit`, `time limit` or egg's message.
    pub stop_reason: String,
    /// Iterations run.
    pub iterations: usize,
    /// E-nodes at the end.
    pub nodes: usize,
    /// E-classes at the end.
    pub classes: usize,
    /// Rule applications per rule name (rules that fired at least once).
    pub applied: BTreeMap<String, usize>,
    /// Merges of classes of different types (unsound rules); 0 when all is well.
    pub type_conflicts: usize,
    /// Wall time of saturation in seconds (not deterministic; never compare it).
    pub seconds: f64,
}

/// A graph as an e-graph: the e-graph, the value class of every graph output, and
/// for every abstract class the input-graph node it came from.
#[derive(Clone, Debug)]
pub struct Converted {
    /// The e-graph (its analysis holds the op table).
    pub egraph: TensorGraph,
    /// Value classes of the graph's outputs, in order.
    pub roots: Vec<Id>,
    /// Abstract class -> the input node it came from (the first, if CSE merged several).
    pub origin: BTreeMap<Id, NodeId>,
    /// Value class -> the input node whose (first) output it is.
    pub values: BTreeMap<Id, NodeId>,
    /// Name of the input graph.
    pub name: String,
}

/// Everything [`optimize`] takes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Saturation limits.
    pub saturation: SaturationConfig,
    /// Extraction settings (objective, search limits).
    pub extract: ExtractConfig,
    /// Rule sets and their knobs.
    pub rules: RuleConfig,
    /// Optimise identical blocks (layers) once and reuse the result, distinct
    /// blocks in parallel (see `blocks`); otherwise the whole graph at once.
    pub reuse_blocks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            saturation: SaturationConfig::default(),
            extract: ExtractConfig::default(),
            rules: RuleConfig::default(),
            reuse_blocks: true,
        }
    }
}

/// The result of [`optimize`].
#[derive(Clone, Debug)]
pub struct Optimized {
    /// The placed graph.
    pub placed: PlacedGraph,
    /// Saturation report.
    pub saturation: SaturationStats,
    /// Extraction report.
    pub extraction: ExtractStats,
    /// Rewrite rules that fired, per input-graph node (see [`explain`]).
    pub fired: BTreeMap<NodeId, Vec<String>>,
}

/// Convert, saturate with the rule sets, and extract: the whole pass. With
/// [`Config::reuse_blocks`], a graph of repeated layers is optimised block by block,
/// each distinct block once (the result does not depend on the thread count).
pub fn optimize(graph: &Graph, arch: &Arch, config: &Config) -> Result<Optimized> {
    graph.validate()?;
    if config.reuse_blocks
        && let Some(o) = blocks::optimize_blocks(graph, arch, config)?
    {
        return Ok(o);
    }
    optimize_whole(graph, arch, config)
}

/// [`optimize`] on the whole graph at once.
pub(crate) fn optimize_whole(graph: &Graph, arch: &Arch, config: &Config) -> Result<Optimized> {
    let model = CostModel::new(arch);
    let conv = to_egraph(graph, &model)?;
    let (conv, saturation) = saturate(conv, &model, &config.saturation, &config.rules);
    let (placed, extraction) = extract(graph, &conv, &model, &config.extract)?;
    Ok(Optimized {
        placed,
        saturation,
        extraction,
        fired: explain::fired_per_node(&conv),
    })
}

/// The e-graph of a valid graph: each op an abstract class placed on the first
/// target (CPU, NPU, PIM order) that runs it; sources are value classes as they are.
pub fn to_egraph(graph: &Graph, model: &CostModel) -> Result<Converted> {
    graph.validate()?;
    let mut eg = TensorGraph::default();
    let mut value: BTreeMap<(NodeId, u32), Id> = BTreeMap::new();
    let mut origin = BTreeMap::new();
    let mut values = BTreeMap::new();
    let targets: BTreeMap<Target, Id> = Target::ALL
        .into_iter()
        .map(|t| (t, eg.add(TensorLang::Target(t))))
        .collect();
    for id in graph.topo_order()? {
        let n = graph.node(id);
        if n.op.is_source() {
            let info = SourceInfo {
                node: Some(id),
                name: n.name.clone(),
                scope: n.scope.clone(),
                ty: n.outputs[0].ty.clone(),
            };
            let code = eg.analysis.ops.source(&n.op, info);
            let c = eg.add(TensorLang::Op(code, vec![]));
            value.insert((id, 0), c);
            continue;
        }
        let children: Vec<Id> = n.inputs.iter().map(|v| value[&(v.node, v.port)]).collect();
        let tys: Vec<_> = n.inputs.iter().map(|v| graph.ty(*v)).collect();
        let first = Target::ALL
            .into_iter()
            .find(|&t| model.supports(t, &n.op, &tys))
            .ok_or_else(|| Error::Type {
                node: n.name.clone(),
                op: n.op.name(),
                reason: format!(
                    "no engine of arch `{}` can run it (operand types {})",
                    model.arch().name,
                    tys.iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        let code = eg.analysis.ops.intern(&n.op);
        let a = eg.add(TensorLang::Op(code, children));
        origin.entry(a).or_insert(id);
        let placed = eg.add(TensorLang::On([targets[&first], a]));
        values.entry(placed).or_insert(id);
        if n.outputs.len() == 1 {
            value.insert((id, 0), placed);
        } else {
            for port in 0..n.outputs.len() as u32 {
                let p = eg.add(TensorLang::Port(port));
                let o = eg.add(TensorLang::Out([p, placed]));
                value.insert((id, port), o);
            }
        }
    }
    eg.rebuild();
    let roots = graph
        .outputs()
        .iter()
        .map(|v| value[&(v.node, v.port)])
        .collect();
    Ok(Converted {
        egraph: eg,
        roots,
        origin,
        values,
        name: graph.name.clone(),
    })
}

/// Run the rule sets of `sets` for `model`'s arch on `conv` within `config`'s limits.
pub fn saturate(
    conv: Converted,
    model: &CostModel,
    config: &SaturationConfig,
    sets: &RuleConfig,
) -> (Converted, SaturationStats) {
    let Converted {
        egraph,
        roots,
        origin,
        values,
        name,
    } = conv;
    let rules = rules(model, sets);
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_node_limit(config.node_limit)
        .with_iter_limit(config.iter_limit)
        .with_time_limit(config.time_limit)
        .run(&rules);
    let stop_reason = match &runner.stop_reason {
        Some(StopReason::Saturated) => "saturated".to_string(),
        Some(StopReason::IterationLimit(_)) => "iteration limit".to_string(),
        Some(StopReason::NodeLimit(_)) => "node limit".to_string(),
        Some(StopReason::TimeLimit(_)) => "time limit".to_string(),
        Some(StopReason::Other(s)) => s.clone(),
        None => "not run".to_string(),
    };
    let mut applied = BTreeMap::new();
    for it in &runner.iterations {
        for (rule, n) in &it.applied {
            *applied.entry(rule.to_string()).or_insert(0) += *n;
        }
    }
    let seconds = runner.iterations.iter().map(|i| i.total_time).sum();
    let egraph = runner.egraph;
    let stats = SaturationStats {
        stop_reason,
        iterations: runner.iterations.len(),
        nodes: egraph.total_number_of_nodes(),
        classes: egraph.number_of_classes(),
        applied,
        type_conflicts: egraph.analysis.type_conflicts,
        seconds,
    };
    let canon = |m: BTreeMap<Id, NodeId>| {
        m.into_iter()
            .map(|(k, v)| (egraph.find(k), v))
            .fold(BTreeMap::new(), |mut m, (k, v)| {
                let e: &mut NodeId = m.entry(k).or_insert(v);
                *e = (*e).min(v);
                m
            })
    };
    let origin = canon(origin);
    let values = canon(values);
    let roots = roots.into_iter().map(|r| egraph.find(r)).collect();
    (
        Converted {
            egraph,
            roots,
            origin,
            values,
            name,
        },
        stats,
    )
}
