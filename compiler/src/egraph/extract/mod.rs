//! DAG-aware extraction: one way to compute every needed value, chosen to minimise
//! the [`Objective`] of the whole placed graph, each shared value paid once.
//!
//! The choices per value class and the cost of an assignment are in `problem`
//! (sources, placed ops or fused kernels, output projections, concurrent splits).
//! Search: start from tree extraction (egg's `Extractor` algorithm — a bottom-up
//! fixpoint of each class's cheapest tree, a shared value counted once per use — run
//! over the same choices and costs), then either enumerate every assignment when
//! there are at most [`ExtractConfig::exact_limit`] of them (exact), or improve by
//! single-class moves until a pass finds none or [`ExtractConfig::search_passes`]
//! passes ran (local search). A move is kept only if strictly better, so the result
//! is never worse than the tree extraction's.
//!
//! Fails with [`Error::Type`] when a value class has no choice any target can run.

mod placed;
mod problem;

use serde::{Deserialize, Serialize};

use crate::egraph::Converted;
use crate::egraph::cost::{CostModel, Estimate, Objective};
use crate::egraph::lang::Memory;
use crate::error::{Error, Result};
use crate::graph::Graph;

pub(crate) use placed::placed_cost_and_transfers;
pub use placed::{Fusion, PlacedGraph, SplitGroup, Transfer, graph_cost, placed_cost};
use problem::Problem;
pub use problem::{KERNEL_DEPTH_LIMIT, KERNEL_VARIANT_LIMIT};

/// Default most assignments enumerated for an exact answer (3^11: an 11-op graph
/// with three targets per op; 12 ops of which some have two).
pub const DEFAULT_EXACT_LIMIT: u64 = 177_147;
/// Default most local-search passes over all classes.
pub const DEFAULT_SEARCH_PASSES: usize = 64;

/// Extraction settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractConfig {
    /// What to minimise.
    pub objective: Objective,
    /// Enumerate all assignments when there are at most this many (0: never).
    pub exact_limit: u64,
    /// Most local-search passes.
    pub search_passes: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            objective: Objective::default(),
            exact_limit: DEFAULT_EXACT_LIMIT,
            search_passes: DEFAULT_SEARCH_PASSES,
        }
    }
}

/// What extraction did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExtractStats {
    /// `exact` or `local search`.
    pub method: String,
    /// Number of assignments (saturating), the size of the search space.
    pub space: u64,
    /// Cost of the tree extraction's choice under the DAG cost (`None` if it has
    /// none, e.g. every tree choice is cyclic).
    pub tree: Option<Estimate>,
    /// Cost of the result.
    pub result: Estimate,
    /// Assignments costed.
    pub evaluations: u64,
}

/// The tree extraction's assignment: per class, the choice whose own cost plus its
/// children's best tree costs (and transfers into its memory) is least.
fn tree_assignment(p: &Problem<'_>, obj: Objective) -> Option<Vec<usize>> {
    let n = p.classes.len();
    let mut best: Vec<Option<(f64, Estimate, usize)>> = vec![None; n];
    let mut home: Vec<Option<Memory>> = vec![None; n];
    loop {
        let mut changed = false;
        for c in 0..n {
            for (j, ch) in p.options[c].iter().enumerate() {
                let mut sum = ch.cost;
                let mut ok = true;
                for &k in &ch.children {
                    match &best[k] {
                        Some((_, e, _)) => sum = sum.plus(*e),
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    continue;
                }
                for &(k, m) in &ch.reads {
                    if let Some(from) = home[k]
                        && from != m
                    {
                        sum = sum.plus(p.model.transfer(p.types[k].bytes(), from, m));
                    }
                }
                let s = sum.score(obj);
                if best[c].is_none_or(|b| s < b.0) {
                    home[c] = p.home_of(ch, &home);
                    best[c] = Some((s, sum, j));
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    best.into_iter().map(|b| b.map(|b| b.2)).collect()
}

/// The tree extraction alone, costed as a DAG: its placed graph. For comparison
/// with [`extract`]; `None` when its choice has a cycle.
pub fn tree_extract(
    graph: &Graph,
    conv: &Converted,
    model: &CostModel,
    objective: Objective,
) -> Result<Option<PlacedGraph>> {
    let p = Problem::build(conv, model)?;
    match tree_assignment(&p, objective) {
        Some(a) if p.cost(&a).is_some() => placed::rebuild(graph, conv, &p, &a).map(Some),
        _ => Ok(None),
    }
}

/// Extract the best placed graph of a saturated e-graph made from `graph`.
pub fn extract(
    graph: &Graph,
    conv: &Converted,
    model: &CostModel,
    config: &ExtractConfig,
) -> Result<(PlacedGraph, ExtractStats)> {
    let p = Problem::build(conv, model)?;
    let obj = config.objective;
    let mut evaluations = 0u64;
    let tree = tree_assignment(&p, obj);
    let tree_cost = tree.as_ref().and_then(|a| p.cost(a));
    // Start: the tree choice, else each class's locally cheapest choice.
    let mut best = match (&tree, tree_cost) {
        (Some(a), Some(_)) => a.clone(),
        _ => p
            .options
            .iter()
            .map(|o| {
                (0..o.len())
                    .min_by(|&x, &y| o[x].cost.score(obj).total_cmp(&o[y].cost.score(obj)))
                    .unwrap_or(0)
            })
            .collect(),
    };
    let mut best_cost = p.cost(&best);
    evaluations += 1;
    let space = p.space();
    let method;
    if space <= config.exact_limit {
        method = "exact";
        let mut cur = vec![0usize; p.classes.len()];
        loop {
            evaluations += 1;
            if let Some(c) = p.cost(&cur)
                && best_cost.is_none_or(|b| c.score(obj) < b.score(obj))
            {
                best_cost = Some(c);
                best.clone_from(&cur);
            }
            if !odometer(&mut cur, &p) {
                break;
            }
        }
    } else {
        method = "local search";
        for _ in 0..config.search_passes {
            let mut improved = false;
            for i in 0..p.classes.len() {
                for j in 0..p.options[i].len() {
                    if j == best[i] {
                        continue;
                    }
                    let old = best[i];
                    best[i] = j;
                    evaluations += 1;
                    match p.cost(&best) {
                        Some(c) if best_cost.is_none_or(|b| c.score(obj) < b.score(obj)) => {
                            best_cost = Some(c);
                            improved = true;
                        }
                        _ => best[i] = old,
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }
    let Some(result) = best_cost else {
        return Err(Error::Type {
            node: conv.name.clone(),
            op: "extract",
            reason: "every assignment tried has a cycle".into(),
        });
    };
    let mut placed = placed::rebuild(graph, conv, &p, &best)?;
    placed.cost = result;
    let stats = ExtractStats {
        method: method.to_string(),
        space,
        tree: tree_cost,
        result,
        evaluations,
    };
    Ok((placed, stats))
}

/// Advance `cur` to the next assignment; false after the last.
fn odometer(cur: &mut [usize], p: &Problem<'_>) -> bool {
    let mut i = 0;
    while i < cur.len() {
        cur[i] += 1;
        if cur[i] < p.options[i].len() {
            return true;
        }
        cur[i] = 0;
        i += 1;
    }
    false
}

/// Up to `limit` placed graphs of the e-graph computing distinct things (choices
/// that differ only in target count once), for checking that every rewrite
/// preserves the graph's meaning: each one must compute what `graph` computes.
pub fn alternatives(
    graph: &Graph,
    conv: &Converted,
    model: &CostModel,
    limit: usize,
) -> Result<Vec<PlacedGraph>> {
    let mut p = Problem::build(conv, model)?;
    for opts in &mut p.options {
        let mut seen = std::collections::BTreeSet::new();
        opts.retain(|c| seen.insert(c.structure()));
    }
    let mut out = Vec::new();
    let mut cur = vec![0usize; p.classes.len()];
    let mut seen = std::collections::BTreeSet::new();
    loop {
        if let Some(order) = p.order(&cur) {
            // Only the reachable choices matter; skip repeats of them.
            let key: Vec<(usize, usize)> = order.iter().map(|&c| (c, cur[c])).collect();
            if seen.insert(key) {
                out.push(placed::rebuild(graph, conv, &p, &cur)?);
                if out.len() >= limit {
                    break;
                }
            }
        }
        if !odometer(&mut cur, &p) {
            break;
        }
    }
    Ok(out)
}
