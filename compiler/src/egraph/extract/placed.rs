//! The placed graph extraction returns, how an assignment becomes one, and its cost
//! recomputed from the graph alone.
//!
//! Every op of the result is an ordinary IR node with a target, so the result is a
//! valid [`Graph`]. What the e-graph added on top is recorded beside it:
//! - [`PlacedGraph::fusions`]: ops computed as one kernel (the intermediates stay
//!   on chip); each op of a kernel is its own node, the group says which;
//! - [`PlacedGraph::splits`]: a matmul cut into two `Slice`s, two concurrent part
//!   matmuls on two targets and a `Concat` of their results; the slices are views
//!   (a weight slice is laid out at load time) and the concat is in place (each part
//!   writes its slice of the result), so neither is charged;
//! - [`PlacedGraph::prepacked`]: layout ops over parameters only (a concatenation of
//!   Q / K / V weights, a weight slice), done once at load time and charged nothing;
//!   lowering may compute them once or on every run (correct either way).
//!
//! New nodes (from rewrites) are named after the original node whose value they
//! compute, or after their first operand (`layer0.attn_norm.matmul`), made unique
//! with a numeric suffix.

use std::collections::{BTreeMap, BTreeSet};

use egg::{Id, RecExpr};
use serde::Serialize;

use crate::data::TensorType;
use crate::egraph::Converted;
use crate::egraph::cost::{CostModel, Estimate, KernelPart};
use crate::egraph::extract::problem::{Arg, Kind, Problem, split_cost};
use crate::egraph::lang::{Memory, OpTable, SplitAxis, SplitSpec, Target, TensorLang};
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, Value, ValueRef};
use crate::op::Op;

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

/// Ops computed as one kernel on one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fusion {
    /// The target.
    pub target: Target,
    /// The ops in dependency order; the last one's result is the kernel's.
    pub nodes: Vec<NodeId>,
}

/// A matmul computed as two concurrent parts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SplitGroup {
    /// How it was cut.
    pub spec: SplitSpec,
    /// The two slices (of the weight's columns or of the left operand's rows).
    pub slices: [NodeId; 2],
    /// The two part matmuls, on `spec.first` and `spec.second`.
    pub parts: [NodeId; 2],
    /// The concatenation of the parts' results (in place).
    pub concat: NodeId,
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
    /// Estimated cost (ops one after another; parts of a split concurrently).
    pub cost: Estimate,
    /// The extraction as a term: `(on t (Op#i ...))`, `(inl (Op#i ...))` for an op
    /// inside a kernel, `(par spec (MatMul#i ...))`, `(out k v)` and
    /// `(xfer from to v)` wherever a consumer reads a value in another memory; op
    /// codes index [`PlacedGraph::ops`]. For a graph stitched from reused blocks
    /// every op is written `(on t ...)` on its own (kernels and splits are in
    /// `fusions` / `splits`).
    pub term: RecExpr<TensorLang>,
    /// The term's node of each graph output, in order.
    pub term_roots: Vec<Id>,
    /// The op table the term's op codes index.
    pub ops: OpTable,
    /// Fused kernels.
    pub fusions: Vec<Fusion>,
    /// Concurrent splits.
    pub splits: Vec<SplitGroup>,
    /// Load-time layout nodes (free).
    pub prepacked: BTreeSet<NodeId>,
}

impl PlacedGraph {
    /// The target of the node named `name`, if it is a placed op.
    pub fn target_of(&self, name: &str) -> Option<Target> {
        self.placement.get(&self.graph.node_by_name(name)?).copied()
    }
}

/// Unique node / value names.
struct Names {
    used: BTreeSet<String>,
}

impl Names {
    fn take(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        let mut i = 1;
        loop {
            let n = format!("{base}.{i}");
            if self.used.insert(n.clone()) {
                return n;
            }
            i += 1;
        }
    }
}

/// The target a layout node of a split is given: the NPU's DMA if there is one,
/// else the CPU.
fn layout_target(p: &Problem<'_>, op: &Op, ins: &[&TensorType]) -> Target {
    [Target::Npu, Target::Cpu]
        .into_iter()
        .find(|&t| p.model.supports(t, op, ins))
        .unwrap_or(Target::Cpu)
}

/// The placed graph of an (acyclic) assignment.
pub(crate) fn rebuild(
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
    let mut names = Names {
        used: BTreeSet::new(),
    };
    let mut refs: Vec<Option<ValueRef>> = vec![None; p.classes.len()];
    let mut placement = BTreeMap::new();
    let mut fusions = Vec::new();
    let mut splits = Vec::new();
    let mut prepacked = BTreeSet::new();
    let mut extra_transfers = Vec::new();
    let mut term = RecExpr::default();
    let mut term_of: Vec<Option<Id>> = vec![None; p.classes.len()];
    let mut moved: BTreeMap<(usize, Memory), Id> = BTreeMap::new();
    let value_name =
        |out: &Graph, r: ValueRef| out.node(r.node).outputs[r.port as usize].name.clone();
    // Insert an op node named after `origin` (else `base.op`), returning its first output.
    let insert = |out: &mut Graph,
                  names: &mut Names,
                  origin: Option<NodeId>,
                  base: &str,
                  op: Op,
                  inputs: Vec<ValueRef>|
     -> Result<ValueRef> {
        let (name, scope) = match origin {
            Some(id) if !names.used.contains(&graph.node(id).name) => {
                let n = graph.node(id);
                (names.take(&n.name), n.scope.clone())
            }
            _ => {
                let scope = inputs
                    .first()
                    .map(|v| out.node(v.node).scope.clone())
                    .unwrap_or_default();
                (
                    names.take(&format!("{base}.{}", op.name().to_lowercase())),
                    scope,
                )
            }
        };
        let tys: Vec<&TensorType> = inputs.iter().map(|v| out.ty(*v)).collect();
        let types = crate::infer::infer(&op, &tys).map_err(|m| Error::Type {
            node: name.clone(),
            op: op.name(),
            reason: format!("extracted op does not type-check: {m:?}"),
        })?;
        let outputs: Vec<Value> = if types.len() == 1 {
            vec![Value {
                name: name.clone(),
                ty: types[0].clone(),
            }]
        } else {
            types
                .into_iter()
                .enumerate()
                .map(|(i, ty)| Value {
                    name: names.take(&format!("{name}.{i}")),
                    ty,
                })
                .collect()
        };
        out.set_scope(scope);
        Ok(out.insert_node(&name, op, inputs, outputs)?[0])
    };
    for &c in &order {
        let ch = &p.options[c][assign[c]];
        let arg_term = |term: &mut RecExpr<TensorLang>,
                        moved: &mut BTreeMap<(usize, Memory), Id>,
                        k: usize,
                        to: Memory| {
            let v = term_of[k].expect("children precede parents in post-order");
            match res[k] {
                Some(from) if from != to => *moved
                    .entry((k, to))
                    .or_insert_with(|| xfer(term, from, to, v)),
                _ => v,
            }
        };
        let (r, t) = match &ch.kind {
            Kind::Source(code) => {
                let entry = eg.analysis.ops.get(*code);
                let src = entry.source.as_ref().ok_or_else(cyc)?;
                let (name, outputs) = match src.node {
                    Some(id) => {
                        let orig = graph.node(id);
                        (names.take(&orig.name), orig.outputs.clone())
                    }
                    None => {
                        let base = conv
                            .values
                            .get(&p.classes[c])
                            .map_or("folded".to_string(), |&id| graph.node(id).name.clone());
                        let name = names.take(&format!("{base}.const"));
                        let v = Value {
                            name: name.clone(),
                            ty: src.ty.clone(),
                        };
                        (name, vec![v])
                    }
                };
                out.set_scope(src.scope.clone());
                let r = out.insert_node(&name, entry.op.clone(), vec![], outputs)?[0];
                (r, term.add(TensorLang::Op(*code, vec![])))
            }
            Kind::Out(port) => {
                let base = refs[ch.children[0]].expect("children precede parents in post-order");
                let pt = term.add(TensorLang::Port(*port));
                let v = term_of[ch.children[0]].expect("children precede parents in post-order");
                (
                    ValueRef {
                        node: base.node,
                        port: *port,
                    },
                    term.add(TensorLang::Out([pt, v])),
                )
            }
            Kind::Place {
                target,
                ops,
                prepacked: pre,
            } => {
                let mut local: Vec<ValueRef> = Vec::new();
                let mut local_term: Vec<Id> = Vec::new();
                let mut nodes = Vec::new();
                for (i, kop) in ops.iter().enumerate() {
                    let op = eg.analysis.ops.get(kop.code).op.clone();
                    let mut inputs = Vec::new();
                    let mut targs = Vec::new();
                    for a in &kop.args {
                        match a {
                            Arg::Ext(j) => {
                                let k = ch.children[*j];
                                inputs.push(refs[k].expect("children precede parents"));
                                targs.push(arg_term(&mut term, &mut moved, k, target.home()));
                            }
                            Arg::Inner(j) => {
                                inputs.push(local[*j]);
                                let inl = term.add(TensorLang::Inl(local_term[*j]));
                                targs.push(inl);
                            }
                        }
                    }
                    let origin = conv.origin.get(&kop.class).copied().or_else(|| {
                        (i + 1 == ops.len())
                            .then(|| conv.values.get(&p.classes[c]).copied())
                            .flatten()
                    });
                    let base = inputs
                        .first()
                        .map_or("op".to_string(), |v| value_name(&out, *v));
                    let r = insert(&mut out, &mut names, origin, &base, op, inputs)?;
                    placement.insert(r.node, *target);
                    if *pre {
                        prepacked.insert(r.node);
                    }
                    nodes.push(r.node);
                    local.push(r);
                    local_term.push(term.add(TensorLang::Op(kop.code, targs)));
                }
                if nodes.len() > 1 {
                    fusions.push(Fusion {
                        target: *target,
                        nodes,
                    });
                }
                let root = *local_term.last().ok_or_else(cyc)?;
                let tt = term.add(TensorLang::Target(*target));
                (
                    *local.last().ok_or_else(cyc)?,
                    term.add(TensorLang::On([tt, root])),
                )
            }
            Kind::Par { spec, code, class } => {
                let x = refs[ch.children[0]].expect("children precede parents");
                let w = refs[ch.children[1]].expect("children precede parents");
                let (xt, wt) = (out.ty(x).clone(), out.ty(w).clone());
                let (cut, axis, len) = match spec.axis {
                    SplitAxis::Cols => (w, 1i64, wt.shape[1]),
                    SplitAxis::Rows => (x, xt.rank() as i64 - 2, xt.shape[xt.rank() - 2]),
                };
                let n1 = spec.first_len(len);
                let origin = conv
                    .origin
                    .get(class)
                    .copied()
                    .or_else(|| conv.values.get(&p.classes[c]).copied());
                let base =
                    origin.map_or_else(|| value_name(&out, x), |id| graph.node(id).name.clone());
                let mut slices = Vec::new();
                let mut parts = Vec::new();
                for (i, (lo, hi, t)) in [(0, n1, spec.first), (n1, len, spec.second)]
                    .into_iter()
                    .enumerate()
                {
                    let op = Op::Slice {
                        starts: vec![lo as i64],
                        ends: vec![hi as i64],
                        axes: vec![axis],
                        steps: vec![],
                    };
                    let lt = layout_target(p, &op, &[out.ty(cut)]);
                    let s = insert(
                        &mut out,
                        &mut names,
                        None,
                        &format!("{base}.part{i}"),
                        op,
                        vec![cut],
                    )?;
                    placement.insert(s.node, lt);
                    if spec.axis == SplitAxis::Cols {
                        prepacked.insert(s.node);
                    }
                    slices.push(s.node);
                    let ins = match spec.axis {
                        SplitAxis::Cols => vec![x, s],
                        SplitAxis::Rows => vec![s, w],
                    };
                    let m = insert(
                        &mut out,
                        &mut names,
                        None,
                        &format!("{base}.part{i}"),
                        Op::MatMul,
                        ins,
                    )?;
                    placement.insert(m.node, t);
                    if t.home() != Memory::Dram {
                        extra_transfers.push(Transfer {
                            value: m,
                            from: t.home(),
                            to: Memory::Dram,
                        });
                    }
                    parts.push(m);
                }
                let cat_axis = match spec.axis {
                    SplitAxis::Cols => -1,
                    SplitAxis::Rows => -2,
                };
                let cat_op = Op::Concat { axis: cat_axis };
                let lt = layout_target(p, &cat_op, &[out.ty(parts[0]), out.ty(parts[1])]);
                let cat = insert(&mut out, &mut names, origin, &base, cat_op, parts.clone())?;
                placement.insert(cat.node, lt);
                splits.push(SplitGroup {
                    spec: *spec,
                    slices: [slices[0], slices[1]],
                    parts: [parts[0].node, parts[1].node],
                    concat: cat.node,
                });
                let tx = arg_term(&mut term, &mut moved, ch.children[0], Memory::Dram);
                let tw = term_of[ch.children[1]].expect("children precede parents");
                let mm = term.add(TensorLang::Op(*code, vec![tx, tw]));
                let st = term.add(TensorLang::Split(*spec));
                (cat, term.add(TensorLang::Par([st, mm])))
            }
        };
        refs[c] = Some(r);
        term_of[c] = Some(t);
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
    let mut transfers: Vec<Transfer> = p
        .transfers(assign, &order, &res)
        .into_iter()
        .map(|(u, to)| Transfer {
            value: refs[u].expect("transferred values are reachable"),
            from: res[u].unwrap_or(to),
            to,
        })
        .collect();
    transfers.extend(extra_transfers);
    let cost = p.cost(assign).ok_or_else(cyc)?;
    Ok(PlacedGraph {
        graph: out,
        placement,
        transfers,
        cost,
        term,
        term_roots,
        ops: eg.analysis.ops.clone(),
        fusions,
        splits,
        prepacked,
    })
}

fn xfer(term: &mut RecExpr<TensorLang>, from: Memory, to: Memory, v: Id) -> Id {
    let f = term.add(TensorLang::Memory(from));
    let t = term.add(TensorLang::Memory(to));
    term.add(TensorLang::Xfer([f, t, v]))
}

/// The cost of a plain placed graph (no fusions, splits or prepacked nodes) under
/// `model`: ops one after another, one transfer per value and memory it is read in,
/// outputs read in DRAM. Fails naming the node that has no target in `placement`,
/// or whose target cannot run it.
pub fn graph_cost(
    graph: &Graph,
    placement: &BTreeMap<NodeId, Target>,
    model: &CostModel,
) -> Result<Estimate> {
    cost_of(graph, placement, &[], &[], &BTreeSet::new(), model).map(|c| c.0)
}

/// The cost of a placed graph recomputed from the graph and its groups alone (the
/// rules extraction uses: fused kernels as one kernel, split parts concurrently,
/// prepacked nodes free).
pub fn placed_cost(p: &PlacedGraph, model: &CostModel) -> Result<Estimate> {
    placed_cost_and_transfers(p, model).map(|c| c.0)
}

/// [`placed_cost`] and the transfers it counts (split parts read out of the banks
/// included).
pub(crate) fn placed_cost_and_transfers(
    p: &PlacedGraph,
    model: &CostModel,
) -> Result<(Estimate, Vec<Transfer>)> {
    cost_of(
        &p.graph,
        &p.placement,
        &p.fusions,
        &p.splits,
        &p.prepacked,
        model,
    )
}

fn cost_of(
    graph: &Graph,
    placement: &BTreeMap<NodeId, Target>,
    fusions: &[Fusion],
    splits: &[SplitGroup],
    prepacked: &BTreeSet<NodeId>,
    model: &CostModel,
) -> Result<(Estimate, Vec<Transfer>)> {
    let mut listed = Vec::new();
    let mut kernel_of: BTreeMap<NodeId, usize> = BTreeMap::new();
    for (i, f) in fusions.iter().enumerate() {
        for &n in &f.nodes {
            kernel_of.insert(n, i);
        }
    }
    let mut split_of: BTreeMap<NodeId, usize> = BTreeMap::new();
    for (i, s) in splits.iter().enumerate() {
        for n in s.slices.iter().chain(&s.parts).chain([&s.concat]) {
            split_of.insert(*n, i);
        }
    }
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
        if let Some(&si) = split_of.get(&id) {
            let s = &splits[si];
            if id != s.concat {
                continue;
            }
            let part0 = graph.node(s.parts[0]);
            let slice0 = graph.node(s.slices[0]);
            let (x, w) = match s.spec.axis {
                SplitAxis::Cols => (part0.inputs[0], slice0.inputs[0]),
                SplitAxis::Rows => (slice0.inputs[0], part0.inputs[1]),
            };
            let c = split_cost(model, &s.spec, graph.ty(x), graph.ty(w))
                .ok_or_else(|| bad("the split's parts cannot run on their targets".into()))?;
            total = total.plus(c);
            for (k, part) in s.parts.iter().enumerate() {
                let t = if k == 0 { s.spec.first } else { s.spec.second };
                if t.home() != Memory::Dram {
                    listed.push(Transfer {
                        value: ValueRef {
                            node: *part,
                            port: 0,
                        },
                        from: t.home(),
                        to: Memory::Dram,
                    });
                }
            }
            for v in [x, w] {
                for m in [s.spec.first.home(), s.spec.second.home()] {
                    if home.get(&v.node).is_some_and(|&h| h != m) {
                        need.insert((v, m));
                    }
                }
            }
            home.insert(id, Memory::Dram);
            continue;
        }
        if prepacked.contains(&id) {
            continue;
        }
        if let Some(&ki) = kernel_of.get(&id) {
            let f = &fusions[ki];
            if f.nodes.last() != Some(&id) {
                continue;
            }
            let tys: Vec<Vec<&TensorType>> = f
                .nodes
                .iter()
                .map(|&k| graph.node(k).inputs.iter().map(|v| graph.ty(*v)).collect())
                .collect();
            let inner: Vec<Vec<bool>> = f
                .nodes
                .iter()
                .map(|&k| {
                    graph
                        .node(k)
                        .inputs
                        .iter()
                        .map(|v| f.nodes.contains(&v.node))
                        .collect()
                })
                .collect();
            let outs: Vec<Vec<TensorType>> = f
                .nodes
                .iter()
                .map(|&k| graph.node(k).outputs.iter().map(|o| o.ty.clone()).collect())
                .collect();
            let parts: Vec<KernelPart<'_>> = f
                .nodes
                .iter()
                .enumerate()
                .map(|(i, &k)| KernelPart {
                    op: &graph.node(k).op,
                    ins: &tys[i],
                    outs: &outs[i],
                    inner: &inner[i],
                    out_inner: i + 1 != f.nodes.len(),
                })
                .collect();
            let c = model
                .kernel_cost(f.target, &parts)
                .ok_or_else(|| bad(format!("{} cannot run the kernel", f.target)))?;
            total = total.plus(c);
            for &k in &f.nodes {
                for v in &graph.node(k).inputs {
                    if f.nodes.contains(&v.node) {
                        continue;
                    }
                    if home.get(&v.node).is_some_and(|&m| m != f.target.home()) {
                        need.insert((*v, f.target.home()));
                    }
                }
            }
            home.insert(id, f.target.home());
            continue;
        }
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
    let mut moved = Vec::new();
    for (v, to) in need {
        let from = home[&v.node];
        total = total.plus(model.transfer(graph.ty(v).bytes(), from, to));
        moved.push(Transfer { value: v, from, to });
    }
    moved.extend(listed);
    Ok((total, moved))
}
