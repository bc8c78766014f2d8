//! Compile time: a graph is cut into blocks (one per layer: the first component of
//! a node's scope, `layer3/attn` -> `layer3`), blocks with the same structure are
//! optimised once and the result reused, distinct blocks are optimised in parallel
//! (rayon), and the placed blocks are stitched back into one placed graph.
//!
//! A block becomes a standalone graph: its ops, copies of the sources they read,
//! an `Input` for every value from another block, and as outputs its values that
//! other blocks or the graph read. Two blocks are identical when these graphs are
//! equal up to names: same ops and attributes, same types, same wiring, equal
//! constants (weights only by type). The representative's placed graph is renamed
//! for each copy (nodes matched by position; new nodes renamed by their prefix) and
//! gets that block's own weights.
//!
//! Limits: each block is optimised with its inputs free to read and its outputs
//! read in DRAM, so the choice near a boundary can differ from a whole-graph
//! extraction's; the stitched graph is then costed as one graph
//! ([`crate::egraph::placed_cost`]: a value crossing a boundary pays the transfers
//! its actual readers need), and the tree / result figures of the stats are those
//! of the blocks. The result does not depend on the thread count: blocks are
//! optimised independently and stitched in graph order. When blocks are not in a
//! chain (a block reads a later one) or no two are identical, the whole graph is
//! optimised at once.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use triad_isa::Arch;

use crate::egraph::lang::OpTable;
use crate::egraph::{
    Config, CostModel, ExtractStats, Fusion, Optimized, PlacedGraph, SaturationStats, SplitGroup,
    TensorLang, Transfer, optimize_whole, placed_cost_and_transfers,
};
use crate::error::Result;
use crate::graph::{Graph, NodeId, Value, ValueRef};
use crate::op::Op;
use crate::stats::layer_of;

/// Fewest identical blocks that make cutting the graph worth it.
pub const MIN_REPEATS: usize = 2;

/// One block as a standalone graph.
struct Part {
    key: String,
    graph: Graph,
    /// Node names of `graph` in topological order (matched by position).
    names: Vec<String>,
    /// Names of the `Input`s standing for other blocks' values.
    ext: BTreeSet<String>,
    signature: String,
}

/// The block key of a node: the first component of its scope.
fn key_of(scope: &str) -> String {
    layer_of(scope).to_string()
}

/// Cut `graph` into blocks in graph order; `None` when they do not form a chain.
fn cut(graph: &Graph) -> Result<Option<Vec<Part>>> {
    let order = graph.topo_order()?;
    let pos: BTreeMap<NodeId, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut keys: Vec<String> = Vec::new();
    let mut block_of: BTreeMap<NodeId, usize> = BTreeMap::new();
    for &id in &order {
        let n = graph.node(id);
        if n.op.is_source() {
            continue;
        }
        let k = key_of(&n.scope);
        let b = match keys.iter().position(|x| *x == k) {
            Some(b) => b,
            None => {
                keys.push(k);
                keys.len() - 1
            }
        };
        block_of.insert(id, b);
    }
    // A chain: every op reads only sources, its own block or earlier blocks.
    for (&id, &b) in &block_of {
        if graph
            .node(id)
            .inputs
            .iter()
            .any(|v| block_of.get(&v.node).is_some_and(|&c| c > b))
        {
            return Ok(None);
        }
    }
    let graph_outputs: BTreeSet<ValueRef> = graph.outputs().iter().copied().collect();
    let mut read_outside: BTreeSet<ValueRef> = BTreeSet::new();
    for (&id, &b) in &block_of {
        for v in &graph.node(id).inputs {
            if block_of.get(&v.node).is_some_and(|&c| c != b) {
                read_outside.insert(*v);
            }
        }
    }
    let mut parts = Vec::new();
    for (b, key) in keys.into_iter().enumerate() {
        let ops: Vec<NodeId> = order
            .iter()
            .copied()
            .filter(|id| block_of.get(id) == Some(&b))
            .collect();
        let mut g = Graph::new(format!("{}/{key}", graph.name));
        let mut map: BTreeMap<ValueRef, ValueRef> = BTreeMap::new();
        let mut ext = BTreeSet::new();
        for &id in &ops {
            let n = graph.node(id);
            for v in &n.inputs {
                if map.contains_key(v) {
                    continue;
                }
                let p = graph.node(v.node);
                g.set_scope(p.scope.clone());
                let r = if p.op.is_source() {
                    g.insert_node(&p.name, p.op.clone(), vec![], p.outputs.clone())?[0]
                } else {
                    let val = &p.outputs[v.port as usize];
                    ext.insert(val.name.clone());
                    g.insert_node(
                        &val.name,
                        Op::Input {
                            kind: Default::default(),
                        },
                        vec![],
                        vec![val.clone()],
                    )?[0]
                };
                map.insert(*v, r);
            }
            let inputs: Vec<ValueRef> = n.inputs.iter().map(|v| map[v]).collect();
            g.set_scope(n.scope.clone());
            let rs = g.insert_node(&n.name, n.op.clone(), inputs, n.outputs.clone())?;
            for (port, r) in rs.into_iter().enumerate() {
                map.insert(
                    ValueRef {
                        node: id,
                        port: port as u32,
                    },
                    r,
                );
            }
        }
        let mut outs: Vec<ValueRef> = map
            .keys()
            .filter(|v| {
                block_of.get(&v.node) == Some(&b)
                    && (read_outside.contains(v) || graph_outputs.contains(v))
            })
            .copied()
            .collect();
        outs.sort_by_key(|v| (pos[&v.node], v.port));
        let outs: Vec<ValueRef> = outs.iter().map(|v| map[v]).collect();
        g.set_outputs(&outs);
        g.set_scope(String::new());
        let (names, signature) = signature(&g, &ext)?;
        parts.push(Part {
            key,
            graph: g,
            names,
            ext,
            signature,
        });
    }
    Ok(Some(parts))
}

/// Node names in topological order and the structure of `g` without names.
fn signature(g: &Graph, ext: &BTreeSet<String>) -> Result<(Vec<String>, String)> {
    let order = g.topo_order()?;
    let idx: BTreeMap<NodeId, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut sig = String::new();
    let mut names = Vec::new();
    for &id in &order {
        let n = g.node(id);
        names.push(n.name.clone());
        let what = match &n.op {
            Op::Input { .. } if ext.contains(&n.name) => "ext".to_string(),
            Op::Weight { .. } => "weight".to_string(),
            op => serde_json::to_string(op).unwrap_or_else(|_| format!("{op:?}")),
        };
        let tys: Vec<String> = n.outputs.iter().map(|o| o.ty.to_string()).collect();
        let ins: Vec<String> = n
            .inputs
            .iter()
            .map(|v| format!("{}.{}", idx[&v.node], v.port))
            .collect();
        sig.push_str(&format!("{what} {tys:?} {ins:?}\n"));
    }
    for v in g.outputs() {
        sig.push_str(&format!("out {}.{}\n", idx[&v.node], v.port));
    }
    Ok((names, sig))
}

/// Rename a name of the representative block for block `to`.
fn renamer<'a>(
    map: &'a BTreeMap<&'a str, &'a str>,
    from: &'a str,
    to: &'a str,
) -> impl Fn(&str) -> String + 'a {
    move |name: &str| {
        if from == to {
            return name.to_string();
        }
        if let Some(n) = map.get(name) {
            return n.to_string();
        }
        // The longest mapped prefix followed by '.' (a node named after another).
        for (i, _) in name
            .match_indices('.')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            if let Some(n) = map.get(&name[..i]) {
                return format!("{n}{}", &name[i..]);
            }
        }
        match name.strip_prefix(from) {
            Some(rest) if rest.starts_with(['.', '/']) || rest.is_empty() => format!("{to}{rest}"),
            _ => format!("{to}:{name}"),
        }
    }
}

/// Optimise `graph` block by block (see the module doc); `None` when the graph
/// does not have [`MIN_REPEATS`] identical blocks in a chain.
pub(crate) fn optimize_blocks(
    graph: &Graph,
    arch: &Arch,
    config: &Config,
) -> Result<Option<Optimized>> {
    let Some(parts) = cut(graph)? else {
        return Ok(None);
    };
    let mut rep_of: Vec<usize> = Vec::with_capacity(parts.len());
    let mut reps: Vec<usize> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        match reps.iter().find(|&&r| parts[r].signature == p.signature) {
            Some(&r) => rep_of.push(r),
            None => {
                reps.push(i);
                rep_of.push(i);
            }
        }
    }
    let repeats = reps
        .iter()
        .map(|r| rep_of.iter().filter(|x| *x == r).count())
        .max()
        .unwrap_or(0);
    if repeats < MIN_REPEATS {
        return Ok(None);
    }
    let results: Vec<Result<Optimized>> = reps
        .par_iter()
        .map(|&r| optimize_whole(&parts[r].graph, arch, config))
        .collect();
    let mut done: BTreeMap<usize, Optimized> = BTreeMap::new();
    for (&r, res) in reps.iter().zip(results) {
        done.insert(r, res?);
    }
    stitch(graph, &parts, &rep_of, &done, &CostModel::new(arch)).map(Some)
}

fn stitch(
    graph: &Graph,
    parts: &[Part],
    rep_of: &[usize],
    done: &BTreeMap<usize, Optimized>,
    model: &CostModel,
) -> Result<Optimized> {
    let mut out = Graph::new(graph.name.clone());
    out.meta = graph.meta.clone();
    let mut value: BTreeMap<String, ValueRef> = BTreeMap::new();
    let mut placement = BTreeMap::new();
    let mut fusions = Vec::new();
    let mut splits = Vec::new();
    let mut prepacked = BTreeSet::new();
    let mut cost = crate::egraph::Estimate::default();
    let mut fired: BTreeMap<NodeId, Vec<String>> = BTreeMap::new();
    let mut tree = Some(crate::egraph::Estimate::default());
    for (i, part) in parts.iter().enumerate() {
        let rep = &parts[rep_of[i]];
        let opt = &done[&rep_of[i]];
        let p = &opt.placed;
        let map: BTreeMap<&str, &str> = rep
            .names
            .iter()
            .map(String::as_str)
            .zip(part.names.iter().map(String::as_str))
            .collect();
        let rename = renamer(&map, &rep.key, &part.key);
        let mut node_map: BTreeMap<NodeId, NodeId> = BTreeMap::new();
        let mut val_map: BTreeMap<ValueRef, ValueRef> = BTreeMap::new();
        for id in p.graph.topo_order()? {
            let n = p.graph.node(id);
            let name = rename(&n.name);
            let refs: Vec<ValueRef> = if n.op.is_source() {
                if part.ext.contains(&name) {
                    vec![*value.get(&name).ok_or_else(|| missing(graph, &name))?]
                } else if let Some(&r) = value.get(&name) {
                    vec![r]
                } else {
                    let (op, outputs, scope) = match graph.node_by_name(&name) {
                        Some(o) => {
                            let o = graph.node(o);
                            (o.op.clone(), o.outputs.clone(), o.scope.clone())
                        }
                        None => (n.op.clone(), renamed(&n.outputs, &rename), rename(&n.scope)),
                    };
                    out.set_scope(scope);
                    let r = out.insert_node(&name, op, vec![], outputs)?;
                    value.insert(name.clone(), r[0]);
                    r
                }
            } else {
                let inputs: Vec<ValueRef> = n.inputs.iter().map(|v| val_map[v]).collect();
                out.set_scope(rename(&n.scope));
                let r =
                    out.insert_node(&name, n.op.clone(), inputs, renamed(&n.outputs, &rename))?;
                placement.insert(r[0].node, p.placement[&id]);
                for (k, v) in r.iter().enumerate() {
                    value.insert(rename(&n.outputs[k].name), *v);
                }
                r
            };
            if let Some(r) = refs.first() {
                node_map.insert(id, r.node);
            }
            for (port, r) in refs.iter().enumerate() {
                val_map.insert(
                    ValueRef {
                        node: id,
                        port: port as u32,
                    },
                    *r,
                );
            }
        }
        fusions.extend(p.fusions.iter().map(|f| Fusion {
            target: f.target,
            nodes: f.nodes.iter().map(|n| node_map[n]).collect(),
        }));
        splits.extend(p.splits.iter().map(|s| SplitGroup {
            spec: s.spec,
            slices: s.slices.map(|n| node_map[&n]),
            parts: s.parts.map(|n| node_map[&n]),
            concat: node_map[&s.concat],
        }));
        prepacked.extend(p.prepacked.iter().map(|n| node_map[n]));
        cost = cost.plus(p.cost);
        tree = tree.zip(opt.extraction.tree).map(|(a, b)| a.plus(b));
        for (id, rules) in &opt.fired {
            let name = rename(&rep.graph.node(*id).name);
            if let Some(g) = graph.node_by_name(&name) {
                fired.insert(g, rules.clone());
            }
        }
    }
    let outputs: Vec<ValueRef> = graph
        .outputs()
        .iter()
        .map(|v| {
            let name = &graph.node(v.node).outputs[v.port as usize].name;
            value.get(name).copied().ok_or_else(|| missing(graph, name))
        })
        .collect::<Result<_>>()?;
    out.set_outputs(&outputs);
    out.set_scope(String::new());
    out.validate()?;
    let mut placed = PlacedGraph {
        graph: out,
        placement,
        transfers: vec![],
        cost,
        term: Default::default(),
        term_roots: vec![],
        ops: OpTable::default(),
        fusions,
        splits,
        prepacked,
    };
    let blocks_cost = cost;
    // The blocks' placements costed as one graph: a value crossing a boundary pays
    // the transfers its actual readers need.
    let (cost, transfers) = placed_cost_and_transfers(&placed, model)?;
    let (term, term_roots, ops) = term_of(&placed.graph, &placed.placement, &transfers)?;
    placed.cost = cost;
    placed.transfers = transfers;
    placed.term = term;
    placed.term_roots = term_roots;
    placed.ops = ops;
    let optimized: Vec<&Optimized> = done.values().collect();
    Ok(Optimized {
        placed,
        saturation: merge_saturation(&optimized),
        extraction: merge_extraction(&optimized, blocks_cost, tree),
        fired,
    })
}

/// A value a stitched block reads that no earlier block produced (a bug of the cut).
fn missing(graph: &Graph, name: &str) -> crate::error::Error {
    crate::error::Error::Type {
        node: format!("{}/{name}", graph.name),
        op: "stitch",
        reason: "a block reads a value no earlier block produced".into(),
    }
}

fn renamed(values: &[Value], rename: &impl Fn(&str) -> String) -> Vec<Value> {
    values
        .iter()
        .map(|v| Value {
            name: rename(&v.name),
            ty: v.ty.clone(),
        })
        .collect()
}

/// The term of a stitched graph: every op `(on t (Op#i ...))` over a fresh op table,
/// `(out k v)` for later outputs and `(xfer from to v)` where a transfer is listed.
fn term_of(
    g: &Graph,
    placement: &BTreeMap<NodeId, crate::egraph::Target>,
    transfers: &[Transfer],
) -> Result<(egg::RecExpr<TensorLang>, Vec<egg::Id>, OpTable)> {
    let mut ops = OpTable::default();
    let mut term = egg::RecExpr::default();
    let mut of: BTreeMap<ValueRef, egg::Id> = BTreeMap::new();
    let moved: BTreeMap<ValueRef, Vec<&Transfer>> =
        transfers.iter().fold(BTreeMap::new(), |mut m, t| {
            m.entry(t.value).or_default().push(t);
            m
        });
    for id in g.topo_order()? {
        let n = g.node(id);
        let base = if n.op.is_source() {
            let info = crate::egraph::SourceInfo {
                node: Some(id),
                name: n.name.clone(),
                scope: n.scope.clone(),
                ty: n.outputs[0].ty.clone(),
            };
            let code = ops.source(&n.op, info);
            term.add(TensorLang::Op(code, vec![]))
        } else {
            let args: Vec<egg::Id> = n.inputs.iter().map(|v| of[v]).collect();
            let code = ops.intern(&n.op);
            let a = term.add(TensorLang::Op(code, args));
            let t = term.add(TensorLang::Target(placement[&id]));
            term.add(TensorLang::On([t, a]))
        };
        for port in 0..n.outputs.len() as u32 {
            let v = ValueRef { node: id, port };
            let mut e = if n.outputs.len() == 1 {
                base
            } else {
                let p = term.add(TensorLang::Port(port));
                term.add(TensorLang::Out([p, base]))
            };
            for t in moved.get(&v).into_iter().flatten() {
                let f = term.add(TensorLang::Memory(t.from));
                let to = term.add(TensorLang::Memory(t.to));
                e = term.add(TensorLang::Xfer([f, to, e]));
            }
            of.insert(v, e);
        }
    }
    let roots = g.outputs().iter().map(|v| of[v]).collect();
    Ok((term, roots, ops))
}

fn merge_saturation(done: &[&Optimized]) -> SaturationStats {
    let mut applied: BTreeMap<String, usize> = BTreeMap::new();
    for o in done {
        for (k, v) in &o.saturation.applied {
            *applied.entry(k.clone()).or_insert(0) += v;
        }
    }
    SaturationStats {
        stop_reason: done
            .iter()
            .map(|o| o.saturation.stop_reason.clone())
            .find(|r| r != "saturated")
            .unwrap_or_else(|| "saturated".into()),
        iterations: done
            .iter()
            .map(|o| o.saturation.iterations)
            .max()
            .unwrap_or(0),
        nodes: done.iter().map(|o| o.saturation.nodes).sum(),
        classes: done.iter().map(|o| o.saturation.classes).sum(),
        applied,
        type_conflicts: done.iter().map(|o| o.saturation.type_conflicts).sum(),
        seconds: done.iter().map(|o| o.saturation.seconds).sum(),
    }
}

/// Extraction stats of the stitched graph: `tree` and `result` over every block
/// (copies included), search counters over the distinct blocks.
fn merge_extraction(
    done: &[&Optimized],
    result: crate::egraph::Estimate,
    tree: Option<crate::egraph::Estimate>,
) -> ExtractStats {
    ExtractStats {
        method: format!(
            "{} distinct blocks: {}",
            done.len(),
            done.iter()
                .map(|o| o.extraction.method.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        space: done
            .iter()
            .fold(1u64, |a, o| a.saturating_mul(o.extraction.space)),
        tree,
        result,
        evaluations: done.iter().map(|o| o.extraction.evaluations).sum(),
    }
}
