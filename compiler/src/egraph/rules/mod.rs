//! Rewrite rule sets, one file per purpose, kept apart from the engine:
//!
//! | set | file | what it adds |
//! | --- | --- | --- |
//! | [`RuleSet::Algebra`] | `algebra.rs` | transpose / reshape cancellation and folding, scale folding into matmuls, constant folding |
//! | [`RuleSet::Fusion`] | `fusion.rs` | `(inl a)` operands (matmul + bias + activation, residual add + norm, SwiGLU) and merged sibling matmuls (QKV, gate / up) |
//! | [`RuleSet::Split`] | `split.rs` | `(par spec a)`: a matmul in two concurrent parts on two targets |
//! | [`RuleSet::Placement`] | `placement.rs` | `(on t a)` for every target that runs `a` |
//!
//! Policy (as Cranelift's mid-end): rules are directional, only add alternatives and
//! never remove one, so a rule can never make the extracted result worse; the cost
//! model and extraction decide what is used. No blanket commutativity or
//! associativity. Every rule is a row of a table ([`Rule`]) with a name, its set and
//! a one-line reason; [`catalogue`] lists them all (the explain report and the
//! soundness test read it).
//!
//! Rules that need more than egg's pattern language (op attributes live in the op
//! table, not in the e-node) are Rust functions over one e-class returning [`Plan`]s;
//! [`Custom`] adapts them to egg's `Searcher` / `Applier`. A plan adds e-nodes and
//! names the classes to union; the applier unions only classes of equal type, so an
//! ill-typed plan is dropped rather than merged (the type-conflict counter stays a
//! check on the placement rules' patterns).

mod algebra;
mod fusion;
mod placement;
mod split;
mod view;

use std::sync::Arc;

use egg::{Applier, Id, PatternAst, Rewrite, SearchMatches, Searcher, Subst, Symbol, Var};
use serde::{Deserialize, Serialize};

use crate::egraph::analysis::{TensorAnalysis, TensorGraph};
use crate::egraph::cost::CostModel;
use crate::egraph::lang::TensorLang;

pub use algebra::DEFAULT_FOLD_LIMIT;
pub use placement::placement_rules;
pub use split::DEFAULT_SPLIT_STEPS;

/// A rule set (one file of rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSet {
    /// Algebra and layout.
    Algebra,
    /// Fusion and merged matmuls.
    Fusion,
    /// Concurrent splits across targets.
    Split,
    /// Placement.
    Placement,
}

/// Which rule sets run and their knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleConfig {
    /// Run the algebra and layout rules.
    pub algebra: bool,
    /// Run the fusion rules.
    pub fusion: bool,
    /// Run the split rules.
    pub split: bool,
    /// Split ratios are `i / split_steps` for `i` in `1..split_steps`.
    pub split_steps: u32,
    /// Most elements a constant-folded result may have.
    pub fold_limit: u64,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            algebra: true,
            fusion: true,
            split: true,
            split_steps: DEFAULT_SPLIT_STEPS,
            fold_limit: DEFAULT_FOLD_LIMIT,
        }
    }
}

impl RuleConfig {
    /// Placement only (no rewrites of the computation).
    pub fn placement_only() -> Self {
        RuleConfig {
            algebra: false,
            fusion: false,
            split: false,
            ..RuleConfig::default()
        }
    }
}

/// Adds e-nodes and returns pairs of classes to union.
pub(crate) type Plan = Box<dyn FnOnce(&mut TensorGraph) -> Vec<(Id, Id)>>;

/// Looks at one e-class and returns the plans of every match in it.
pub(crate) type Finder = Arc<dyn Fn(&TensorGraph, Id) -> Vec<Plan> + Send + Sync>;

/// One rule of a table: name, set, one-line reason and its finder.
#[derive(Clone)]
pub(crate) struct Rule {
    /// Rule name (as reported in the saturation stats).
    pub name: &'static str,
    /// The reason it is sound and useful, one line.
    pub reason: &'static str,
    /// The finder.
    pub find: Finder,
}

/// A rule as a row of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// Rule name.
    pub name: &'static str,
    /// Its set.
    pub set: RuleSet,
    /// Why it holds and what it is for.
    pub reason: &'static str,
}

/// Every rule of every set with its reason (placement rules included).
pub fn catalogue() -> Vec<RuleInfo> {
    let model = None;
    let mut out = Vec::new();
    for (set, rules) in [
        (
            RuleSet::Algebra,
            algebra::rules(model, &RuleConfig::default()),
        ),
        (RuleSet::Fusion, fusion::rules(model)),
        (RuleSet::Split, split::rules(model, &RuleConfig::default())),
    ] {
        out.extend(rules.iter().map(|r| RuleInfo {
            name: r.name,
            set,
            reason: r.reason,
        }));
    }
    out.extend(placement::REASONS.iter().map(|(name, reason)| RuleInfo {
        name,
        set: RuleSet::Placement,
        reason,
    }));
    out
}

/// The rewrites of `config`'s sets for `model`'s arch, placement last.
pub fn rules(model: &CostModel, config: &RuleConfig) -> Vec<Rewrite<TensorLang, TensorAnalysis>> {
    let mut table = Vec::new();
    if config.algebra {
        table.extend(algebra::rules(Some(model), config));
    }
    if config.fusion {
        table.extend(fusion::rules(Some(model)));
    }
    if config.split {
        table.extend(split::rules(Some(model), config));
    }
    let mut out: Vec<_> = table
        .into_iter()
        .map(|r| {
            let c = Custom { find: r.find };
            Rewrite::new(r.name, c.clone(), c).expect("bug: a custom rule binds no variables")
        })
        .collect();
    out.extend(placement_rules(model));
    out
}

/// A [`Finder`] as an egg searcher and applier.
#[derive(Clone)]
pub(crate) struct Custom {
    find: Finder,
}

impl Searcher<TensorLang, TensorAnalysis> for Custom {
    fn search_eclass_with_limit(
        &self,
        egraph: &TensorGraph,
        eclass: Id,
        limit: usize,
    ) -> Option<SearchMatches<'_, TensorLang>> {
        let n = (self.find)(egraph, eclass).len().min(limit);
        (n > 0).then(|| SearchMatches {
            eclass,
            substs: vec![Subst::default(); n],
            ast: None,
        })
    }

    fn vars(&self) -> Vec<Var> {
        vec![]
    }
}

impl Applier<TensorLang, TensorAnalysis> for Custom {
    fn apply_matches(
        &self,
        egraph: &mut TensorGraph,
        matches: &[SearchMatches<TensorLang>],
        rule_name: Symbol,
    ) -> Vec<Id> {
        let mut changed = Vec::new();
        for m in matches {
            // The plans are found again on the current e-graph (earlier rules of the
            // iteration may have added to it); at most as many as were matched.
            let plans = (self.find)(egraph, m.eclass);
            for plan in plans.into_iter().take(m.substs.len()) {
                changed.extend(run_plan(egraph, plan, rule_name));
            }
        }
        changed
    }

    fn apply_one(
        &self,
        egraph: &mut TensorGraph,
        eclass: Id,
        _subst: &Subst,
        _ast: Option<&PatternAst<TensorLang>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        let plans = (self.find)(egraph, eclass);
        plans
            .into_iter()
            .flat_map(|p| run_plan(egraph, p, rule_name))
            .collect()
    }
}

/// Run a plan, union its pairs of equal type, and record the rule on the first
/// class of every pair that changed; the classes that changed.
fn run_plan(egraph: &mut TensorGraph, plan: Plan, rule: Symbol) -> Vec<Id> {
    let mut changed = Vec::new();
    for (a, b) in plan(egraph) {
        if egraph[a].data != egraph[b].data {
            continue;
        }
        if egraph.union(a, b) {
            changed.push(egraph.find(a));
            egraph.analysis.fired.push((a, rule.to_string()));
        }
    }
    changed
}
