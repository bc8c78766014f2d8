//! DAG-aware extraction: one way to compute every needed value, chosen to minimise
//! the [`Objective`] of the whole placed graph, each shared value paid once.
//!
//! The choice is made per value class (see [`crate::egraph::TensorLang`]): a source,
//! an output projection, or `(on t a)` with one op e-node of abstract class `a`. An
//! assignment's cost is the sum of its reachable choices' op costs plus one transfer
//! per (value, memory it is read in) pair, the graph outputs being read in DRAM; an
//! assignment whose chosen e-nodes form a cycle has no cost and is never returned.
//!
//! Search: start from egg's tree extractor (run with the same op and transfer costs,
//! where a shared value is counted once per use), then either enumerate every
//! assignment when there are at most [`ExtractConfig::exact_limit`] of them (exact),
//! or improve by single-class moves until a pass finds none or
//! [`ExtractConfig::search_passes`] passes ran (local search). A move is kept only if
//! strictly better, so the result is never worse than the tree extractor's choice.
//!
//! Fails with [`Error::Type`] when a value class has no choice any target can run.

use std::collections::{BTreeMap, BTreeSet};

use egg::{CostFunction, Extractor, Id, RecExpr};
use serde::{Deserialize, Serialize};

use crate::data::TensorType;
use crate::egraph::Converted;
use crate::egraph::analysis::TensorGraph;
use crate::egraph::cost::{CostModel, Estimate, Objective};
use crate::egraph::lang::{Memory, OpCode, Target, TensorLang};
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, Value, ValueRef};

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
    /// Cost of egg's tree extractor's choice under the DAG cost (`None` if it could
    /// not be used).
    pub tree: Option<Estimate>,
    /// Cost of the result.
    pub result: Estimate,
    /// Assignments costed.
    pub evaluations: u64,
}

/// A value moved between memories in a placed graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transfer {
    /// The value (in the placed graph).
    pub value: ValueRef,
    /// Memory it is left in.
    pub from: Memory,
    /// Memory a consumer reads it in.
    pub to: Memory,
}

/// A graph with every op placed.
#[derive(Clone, Debug)]
pub struct PlacedGraph {
    /// The extracted graph (sources and ops, outputs as in the input graph).
    pub graph: Graph,
    /// The target of every non-source node.
    pub placement: BTreeMap<NodeId, Target>,
    /// Values read in another memory than they were left in.
    pub transfers: Vec<Transfer>,
    /// Estimated cost (ops one after another).
    pub cost: Estimate,
    /// The extraction as a term: `(on t (Op#i ...))`, `(out k v)` and `(xfer from to v)`
    /// wherever a consumer reads a value in another memory; op codes index the op
    /// table of the e-graph it came from.
    pub term: RecExpr<TensorLang>,
    /// The term's node of each graph output, in order.
    pub term_roots: Vec<Id>,
}

impl PlacedGraph {
    /// The target of the node named `name`, if it is a placed op.
    pub fn target_of(&self, name: &str) -> Option<Target> {
        self.placement.get(&self.graph.node_by_name(name)?).copied()
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Source(OpCode),
    Place(Target, OpCode),
    Out(u32),
}

#[derive(Clone, Debug)]
struct Choice {
    kind: Kind,
    children: Vec<usize>,
    cost: Estimate,
}

/// The extraction problem over the value classes reachable from the roots.
struct Problem<'a> {
    model: &'a CostModel,
    classes: Vec<Id>,
    types: Vec<TensorType>,
    options: Vec<Vec<Choice>>,
    roots: Vec<usize>,
}

fn leaf_target(eg: &TensorGraph, id: Id) -> Option<Target> {
    eg[id].nodes.iter().find_map(|n| match n {
        TensorLang::Target(t) => Some(*t),
        _ => None,
    })
}

fn leaf_port(eg: &TensorGraph, id: Id) -> Option<u32> {
    eg[id].nodes.iter().find_map(|n| match n {
        TensorLang::Port(p) => Some(*p),
        _ => None,
    })
}

impl<'a> Problem<'a> {
    fn build(conv: &Converted, model: &'a CostModel) -> Result<Self> {
        let eg = &conv.egraph;
        let mut index: BTreeMap<Id, usize> = BTreeMap::new();
        let mut classes = Vec::new();
        let mut queue: Vec<Id> = Vec::new();
        let mut visit = |id: Id, classes: &mut Vec<Id>, queue: &mut Vec<Id>| -> usize {
            let id = eg.find(id);
            *index.entry(id).or_insert_with(|| {
                classes.push(id);
                queue.push(id);
                classes.len() - 1
            })
        };
        let roots: Vec<usize> = conv
            .roots
            .iter()
            .map(|&r| visit(r, &mut classes, &mut queue))
            .collect();
        let mut options: Vec<Vec<Choice>> = Vec::new();
        let mut types = Vec::new();
        let mut next = 0;
        while next < queue.len() {
            let v = queue[next];
            next += 1;
            // A multi-output op's value is read only through `(out k v)`, whose own
            // class has the port's type; its first type stands in for it here.
            let first = match &eg[v].data {
                crate::egraph::ClassInfo::Types(t) => t.first().cloned(),
                _ => None,
            };
            let ty = first.ok_or_else(|| Error::Type {
                node: format!("{}/class{v}", conv.name),
                op: "e-class",
                reason: format!("a value class is not one valid tensor: {:?}", eg[v].data),
            })?;
            let mut opts = Vec::new();
            for node in &eg[v].nodes {
                match node {
                    TensorLang::Op(code, ch)
                        if ch.is_empty() && eg.analysis.ops.get(*code).source.is_some() =>
                    {
                        opts.push(Choice {
                            kind: Kind::Source(*code),
                            children: vec![],
                            cost: Estimate::default(),
                        });
                    }
                    TensorLang::On([t, a]) => {
                        let Some(target) = leaf_target(eg, *t) else {
                            continue;
                        };
                        let outs = match &eg[*a].data {
                            crate::egraph::ClassInfo::Types(t) => t.clone(),
                            _ => continue,
                        };
                        for n in &eg[*a].nodes {
                            let TensorLang::Op(code, ch) = n else {
                                continue;
                            };
                            let Some(tys) = ch
                                .iter()
                                .map(|c| eg[*c].data.single())
                                .collect::<Option<Vec<_>>>()
                            else {
                                continue;
                            };
                            let op = &eg.analysis.ops.get(*code).op;
                            let Some(cost) = model.op_cost(target, op, &tys, &outs) else {
                                continue;
                            };
                            let children = ch
                                .iter()
                                .map(|&c| visit(c, &mut classes, &mut queue))
                                .collect();
                            opts.push(Choice {
                                kind: Kind::Place(target, *code),
                                children,
                                cost,
                            });
                        }
                    }
                    TensorLang::Out([p, e]) => {
                        let Some(port) = leaf_port(eg, *p) else {
                            continue;
                        };
                        let child = visit(*e, &mut classes, &mut queue);
                        opts.push(Choice {
                            kind: Kind::Out(port),
                            children: vec![child],
                            cost: Estimate::default(),
                        });
                    }
                    _ => {}
                }
            }
            if opts.is_empty() {
                return Err(Error::Type {
                    node: format!("{}/class{v}", conv.name),
                    op: "e-class",
                    reason: "no target of the arch can compute this value".into(),
                });
            }
            options.push(opts);
            types.push(ty);
        }
        Ok(Problem {
            model,
            classes,
            types,
            options,
            roots,
        })
    }

    /// Post-order of the classes reachable under `assign`, or `None` on a cycle.
    fn order(&self, assign: &[usize]) -> Option<Vec<usize>> {
        // 0 unvisited, 1 on the stack, 2 done
        let mut state = vec![0u8; self.classes.len()];
        let mut order = Vec::new();
        for &r in &self.roots {
            if state[r] != 0 {
                continue;
            }
            let mut stack = vec![(r, 0usize)];
            state[r] = 1;
            while let Some(&mut (c, ref mut i)) = stack.last_mut() {
                let ch = &self.options[c][assign[c]].children;
                if *i < ch.len() {
                    let k = ch[*i];
                    *i += 1;
                    match state[k] {
                        0 => {
                            state[k] = 1;
                            stack.push((k, 0));
                        }
                        1 => return None,
                        _ => {}
                    }
                } else {
                    state[c] = 2;
                    order.push(c);
                    stack.pop();
                }
            }
        }
        Some(order)
    }

    /// Memory each reachable class is left in (`None` for sources: anywhere).
    fn residency(&self, assign: &[usize], order: &[usize]) -> Vec<Option<Memory>> {
        let mut res = vec![None; self.classes.len()];
        for &c in order {
            let ch = &self.options[c][assign[c]];
            res[c] = match ch.kind {
                Kind::Source(_) => None,
                Kind::Place(t, _) => Some(t.home()),
                Kind::Out(_) => res[ch.children[0]],
            };
        }
        res
    }

    /// (value, memory) pairs read in another memory than they were left in.
    fn transfers(
        &self,
        assign: &[usize],
        order: &[usize],
        res: &[Option<Memory>],
    ) -> BTreeSet<(usize, Memory)> {
        let mut need = BTreeSet::new();
        for &c in order {
            let ch = &self.options[c][assign[c]];
            if let Kind::Place(t, _) = ch.kind {
                for &u in &ch.children {
                    if res[u].is_some_and(|m| m != t.home()) {
                        need.insert((u, t.home()));
                    }
                }
            }
        }
        for &r in &self.roots {
            if res[r].is_some_and(|m| m != Memory::Dram) {
                need.insert((r, Memory::Dram));
            }
        }
        need
    }

    fn cost(&self, assign: &[usize]) -> Option<Estimate> {
        let order = self.order(assign)?;
        let res = self.residency(assign, &order);
        let mut total = Estimate::default();
        for &c in &order {
            total = total.plus(self.options[c][assign[c]].cost);
        }
        for (u, to) in self.transfers(assign, &order, &res) {
            let from = res[u].unwrap_or(to);
            total = total.plus(self.model.transfer(self.types[u].bytes(), from, to));
        }
        Some(total)
    }

    fn space(&self) -> u64 {
        self.options
            .iter()
            .fold(1u64, |acc, o| acc.saturating_mul(o.len() as u64))
    }
}

/// The tree cost egg's extractor minimises: a subtree's summed estimate, the memory
/// its value is left in, and the objective's score of the sum.
#[derive(Clone, Debug, PartialEq)]
struct TreeCost {
    est: Estimate,
    home: Option<Memory>,
    score: f64,
}

impl PartialOrd for TreeCost {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        self.score.partial_cmp(&o.score)
    }
}

struct TreeCostFn<'a> {
    eg: &'a TensorGraph,
    model: &'a CostModel,
    objective: Objective,
}

impl TreeCostFn<'_> {
    fn make(&self, est: Estimate, home: Option<Memory>) -> TreeCost {
        TreeCost {
            est,
            home,
            score: est.score(self.objective),
        }
    }

    fn infinite(&self) -> TreeCost {
        TreeCost {
            est: Estimate::default(),
            home: None,
            score: f64::INFINITY,
        }
    }
}

impl CostFunction<TensorLang> for TreeCostFn<'_> {
    type Cost = TreeCost;

    fn cost<C>(&mut self, enode: &TensorLang, mut costs: C) -> TreeCost
    where
        C: FnMut(Id) -> TreeCost,
    {
        let eg = self.eg;
        match enode {
            TensorLang::Target(_) | TensorLang::Memory(_) | TensorLang::Port(_) => {
                self.make(Estimate::default(), None)
            }
            TensorLang::Op(_, ch) => {
                let mut sum = Estimate::default();
                for &c in ch {
                    let k = costs(c);
                    if k.score.is_infinite() {
                        return self.infinite();
                    }
                    sum = sum.plus(k.est);
                }
                self.make(sum, None)
            }
            TensorLang::Out([_, e]) => costs(*e),
            TensorLang::Xfer([_, to, e]) => {
                let k = costs(*e);
                let to = eg[*to].nodes.iter().find_map(|n| match n {
                    TensorLang::Memory(m) => Some(*m),
                    _ => None,
                });
                match (k.home, to) {
                    (Some(from), Some(to)) => {
                        let bytes = eg[*e].data.single().map_or(0, |t| t.bytes());
                        self.make(k.est.plus(self.model.transfer(bytes, from, to)), Some(to))
                    }
                    (None, Some(to)) => self.make(k.est, Some(to)),
                    _ => self.infinite(),
                }
            }
            TensorLang::On([t, a]) => {
                let (Some(target), crate::egraph::ClassInfo::Types(outs)) =
                    (leaf_target(eg, *t), &eg[*a].data)
                else {
                    return self.infinite();
                };
                let mut best = self.infinite();
                for n in &eg[*a].nodes {
                    let TensorLang::Op(code, ch) = n else {
                        continue;
                    };
                    let Some(tys) = ch
                        .iter()
                        .map(|c| eg[*c].data.single())
                        .collect::<Option<Vec<_>>>()
                    else {
                        continue;
                    };
                    let op = &eg.analysis.ops.get(*code).op;
                    let Some(mut sum) = self.model.op_cost(target, op, &tys, outs) else {
                        continue;
                    };
                    for (&c, ty) in ch.iter().zip(&tys) {
                        let k = costs(c);
                        if k.score.is_infinite() {
                            sum.time_ps = f64::INFINITY;
                            break;
                        }
                        sum = sum.plus(k.est);
                        if let Some(from) = k.home {
                            sum = sum.plus(self.model.transfer(ty.bytes(), from, target.home()));
                        }
                    }
                    let cand = self.make(sum, Some(target.home()));
                    if sum.time_ps.is_finite() && cand.score < best.score {
                        best = cand;
                    }
                }
                best
            }
        }
    }
}

/// Whether every abstract class holds at most one op e-node: then every class egg's
/// extractor costs has its children costed first, which [`TreeCostFn`] relies on.
fn tree_safe(eg: &TensorGraph) -> bool {
    eg.classes().all(|c| {
        c.nodes
            .iter()
            .filter(|n| matches!(n, TensorLang::Op(_, ch) if !ch.is_empty()))
            .count()
            <= 1
    })
}

/// egg's tree extractor's choice, as an assignment of the problem (`None` when the
/// e-graph is outside what the tree cost handles, or the choice is unusable).
fn tree_assignment(conv: &Converted, p: &Problem<'_>, objective: Objective) -> Option<Vec<usize>> {
    let eg = &conv.egraph;
    if !tree_safe(eg) {
        return None;
    }
    let ex = Extractor::new(
        eg,
        TreeCostFn {
            eg,
            model: p.model,
            objective,
        },
    );
    let mut assign = Vec::with_capacity(p.classes.len());
    for (i, &v) in p.classes.iter().enumerate() {
        if ex.find_best_cost(v).score.is_infinite() {
            return None;
        }
        let node = ex.find_best_node(v);
        let pick = p.options[i].iter().position(|ch| match (&ch.kind, node) {
            (Kind::Source(c), TensorLang::Op(d, _)) => c == d,
            (Kind::Place(t, _), TensorLang::On([tt, _])) => leaf_target(eg, *tt) == Some(*t),
            (Kind::Out(p), TensorLang::Out([pp, _])) => leaf_port(eg, *pp) == Some(*p),
            _ => false,
        })?;
        assign.push(pick);
    }
    Some(assign)
}

/// egg's tree extractor alone, costed as a DAG: its placed graph. For comparison
/// with [`extract`]; `None` when the tree extractor cannot be used on this e-graph.
pub fn tree_extract(
    graph: &Graph,
    conv: &Converted,
    model: &CostModel,
    objective: Objective,
) -> Result<Option<PlacedGraph>> {
    let p = Problem::build(conv, model)?;
    match tree_assignment(conv, &p, objective) {
        Some(a) if p.cost(&a).is_some() => rebuild(graph, conv, &p, &a).map(Some),
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
    let tree = tree_assignment(conv, &p, obj);
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
            // odometer
            let mut i = 0;
            while i < cur.len() {
                cur[i] += 1;
                if cur[i] < p.options[i].len() {
                    break;
                }
                cur[i] = 0;
                i += 1;
            }
            if i == cur.len() {
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
    let mut placed = rebuild(graph, conv, &p, &best)?;
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

/// The placed graph of an (acyclic) assignment.
fn rebuild(
    graph: &Graph,
    conv: &Converted,
    p: &Problem<'_>,
    assign: &[usize],
) -> Result<PlacedGraph> {
    let eg = &conv.egraph;
    let cyc = || Error::Type {
        node: conv.name.clone(),
        op: "extract",
        reason: "the chosen e-nodes form a cycle".into(),
    };
    let order = p.order(assign).ok_or_else(cyc)?;
    let res = p.residency(assign, &order);
    let mut out = Graph::new(graph.name.clone());
    out.meta = graph.meta.clone();
    let mut refs: Vec<Option<ValueRef>> = vec![None; p.classes.len()];
    let mut placement = BTreeMap::new();
    let mut term = RecExpr::default();
    let mut term_of: Vec<Option<Id>> = vec![None; p.classes.len()];
    let mut moved: BTreeMap<(usize, Memory), Id> = BTreeMap::new();
    for &c in &order {
        let ch = &p.options[c][assign[c]];
        let node = match &ch.kind {
            Kind::Source(code) => TensorLang::Op(*code, vec![]),
            Kind::Out(port) => {
                let port = term.add(TensorLang::Port(*port));
                let v = term_of[ch.children[0]].expect("children precede parents in post-order");
                TensorLang::Out([port, v])
            }
            Kind::Place(t, code) => {
                let mut args = Vec::with_capacity(ch.children.len());
                for &k in &ch.children {
                    let v = term_of[k].expect("children precede parents in post-order");
                    args.push(match res[k] {
                        Some(from) if from != t.home() => *moved
                            .entry((k, t.home()))
                            .or_insert_with(|| xfer(&mut term, from, t.home(), v)),
                        _ => v,
                    });
                }
                let a = term.add(TensorLang::Op(*code, args));
                let tt = term.add(TensorLang::Target(*t));
                TensorLang::On([tt, a])
            }
        };
        term_of[c] = Some(term.add(node));
        let r = match &ch.kind {
            Kind::Source(code) => {
                let entry = eg.analysis.ops.get(*code);
                let src = entry.source.as_ref().ok_or_else(cyc)?;
                let orig = graph.node(src.node);
                out.set_scope(src.scope.clone());
                out.insert_node(&src.name, entry.op.clone(), vec![], orig.outputs.clone())?[0]
            }
            Kind::Place(target, code) => {
                let op = eg.analysis.ops.get(*code).op.clone();
                let inputs: Vec<ValueRef> = ch
                    .children
                    .iter()
                    .map(|&k| refs[k].expect("children precede parents in post-order"))
                    .collect();
                let v = p.classes[c];
                let a = eg[v]
                    .nodes
                    .iter()
                    .find_map(|n| match n {
                        TensorLang::On([t, a]) if leaf_target(eg, *t) == Some(*target) => {
                            Some(eg.find(*a))
                        }
                        _ => None,
                    })
                    .ok_or_else(cyc)?;
                let (name, scope, outputs) = match conv.origin.get(&a) {
                    Some(&id) => {
                        let n = graph.node(id);
                        (n.name.clone(), n.scope.clone(), n.outputs.clone())
                    }
                    None => {
                        let name = format!("{}_{a}", op.name());
                        let types = match &eg[a].data {
                            crate::egraph::ClassInfo::Types(t) => t.clone(),
                            _ => vec![p.types[c].clone()],
                        };
                        let outputs = types
                            .into_iter()
                            .enumerate()
                            .map(|(i, ty)| Value {
                                name: format!("{name}.{i}"),
                                ty,
                            })
                            .collect();
                        (name, String::new(), outputs)
                    }
                };
                out.set_scope(scope);
                let r = out.insert_node(&name, op, inputs, outputs)?[0];
                placement.insert(r.node, *target);
                r
            }
            Kind::Out(port) => {
                let base = refs[ch.children[0]].expect("children precede parents in post-order");
                ValueRef {
                    node: base.node,
                    port: *port,
                }
            }
        };
        refs[c] = Some(r);
    }
    let outputs: Vec<ValueRef> = p
        .roots
        .iter()
        .map(|&r| refs[r].expect("roots are reachable"))
        .collect();
    out.set_outputs(&outputs);
    out.set_scope(String::new());
    let term_roots = p
        .roots
        .iter()
        .map(|&r| {
            let v = term_of[r].expect("roots are reachable");
            match res[r] {
                Some(from) if from != Memory::Dram => *moved
                    .entry((r, Memory::Dram))
                    .or_insert_with(|| xfer(&mut term, from, Memory::Dram, v)),
                _ => v,
            }
        })
        .collect();
    out.validate()?;
    let transfers = p
        .transfers(assign, &order, &res)
        .into_iter()
        .map(|(u, to)| Transfer {
            value: refs[u].expect("transferred values are reachable"),
            from: res[u].unwrap_or(to),
            to,
        })
        .collect();
    let cost = p.cost(assign).ok_or_else(cyc)?;
    Ok(PlacedGraph {
        graph: out,
        placement,
        transfers,
        cost,
        term,
        term_roots,
    })
}

fn xfer(term: &mut RecExpr<TensorLang>, from: Memory, to: Memory, v: Id) -> Id {
    let f = term.add(TensorLang::Memory(from));
    let t = term.add(TensorLang::Memory(to));
    term.add(TensorLang::Xfer([f, t, v]))
}

/// The cost of a placed graph under `model`, computed on the graph itself (the
/// same rules as extraction: ops one after another, one transfer per value and
/// memory it is read in, outputs read in DRAM). Fails naming the node that has no
/// target in `placement`, or whose target cannot run it.
pub fn graph_cost(
    graph: &Graph,
    placement: &BTreeMap<NodeId, Target>,
    model: &CostModel,
) -> Result<Estimate> {
    let mut total = Estimate::default();
    let mut home: BTreeMap<NodeId, Memory> = BTreeMap::new();
    let mut need: BTreeSet<(ValueRef, Memory)> = BTreeSet::new();
    for id in graph.topo_order()? {
        let n = graph.node(id);
        if n.op.is_source() {
            continue;
        }
        let bad = |reason: String| Error::Type {
            node: n.name.clone(),
            op: n.op.name(),
            reason,
        };
        let t = *placement
            .get(&id)
            .ok_or_else(|| bad("no target in the placement".into()))?;
        let tys: Vec<&TensorType> = n.inputs.iter().map(|v| graph.ty(*v)).collect();
        let outs: Vec<TensorType> = n.outputs.iter().map(|o| o.ty.clone()).collect();
        let c = model
            .op_cost(t, &n.op, &tys, &outs)
            .ok_or_else(|| bad(format!("{t} cannot run it")))?;
        total = total.plus(c);
        home.insert(id, t.home());
        for v in &n.inputs {
            if home.get(&v.node).is_some_and(|&m| m != t.home()) {
                need.insert((*v, t.home()));
            }
        }
    }
    for v in graph.outputs() {
        if home.get(&v.node).is_some_and(|&m| m != Memory::Dram) {
            need.insert((*v, Memory::Dram));
        }
    }
    for (v, to) in need {
        let from = home[&v.node];
        total = total.plus(model.transfer(graph.ty(v).bytes(), from, to));
    }
    Ok(total)
}
