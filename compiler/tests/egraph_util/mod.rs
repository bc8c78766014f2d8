//! Shared helpers of the e-graph tests: small graphs built by hand and the
//! exhaustive search over placements the extractor is checked against.

#![allow(dead_code)]

use std::collections::BTreeMap;

use triad_compiler::egraph::{CostModel, Estimate, Objective, Target, graph_cost};
use triad_compiler::{DType, Graph, Init, NodeId, Op, TensorType, ValueRef};

pub fn t(d: DType, s: &[usize]) -> TensorType {
    TensorType::new(d, s.to_vec())
}

pub fn weight(g: &mut Graph, name: &str, ty: TensorType) -> ValueRef {
    let init = Init::Uniform {
        seed: 1,
        low: -1.0,
        high: 1.0,
    };
    g.weight(name, ty, init).unwrap()
}

/// `x[m, k] -> MatMul w1[k, h] -> Gelu -> MatMul w2[h, k] -> Add x`: an MLP block.
pub fn mlp(dtype: DType, m: usize, k: usize, h: usize) -> Graph {
    let mut g = Graph::new("mlp");
    let x = g.input("x", t(dtype, &[m, k])).unwrap();
    let w1 = weight(&mut g, "w1", t(dtype, &[k, h]));
    let w2 = weight(&mut g, "w2", t(dtype, &[h, k]));
    let a = g.add1("up", Op::MatMul, &[x, w1]).unwrap();
    let b = g.add1("act", Op::Gelu { tanh_approx: true }, &[a]).unwrap();
    let c = g.add1("down", Op::MatMul, &[b, w2]).unwrap();
    let y = g.add1("res", Op::Add, &[c, x]).unwrap();
    g.set_outputs(&[y]);
    g
}

/// Every op node's targets that can run it.
pub fn allowed(g: &Graph, model: &CostModel) -> Vec<(NodeId, Vec<Target>)> {
    g.topo_order()
        .unwrap()
        .into_iter()
        .filter(|&id| !g.node(id).op.is_source())
        .map(|id| {
            let n = g.node(id);
            let tys: Vec<&TensorType> = n.inputs.iter().map(|v| g.ty(*v)).collect();
            let ts = Target::ALL
                .into_iter()
                .filter(|&t| model.supports(t, &n.op, &tys))
                .collect();
            (id, ts)
        })
        .collect()
}

/// The best score over every placement of `g`'s ops, by brute force.
pub fn exhaustive(g: &Graph, model: &CostModel, obj: Objective) -> (f64, BTreeMap<NodeId, Target>) {
    let choices = allowed(g, model);
    let mut idx = vec![0usize; choices.len()];
    let mut best = (f64::INFINITY, BTreeMap::new());
    loop {
        let placement: BTreeMap<NodeId, Target> = choices
            .iter()
            .zip(&idx)
            .map(|((id, ts), &i)| (*id, ts[i]))
            .collect();
        let s = graph_cost(g, &placement, model).unwrap().score(obj);
        if s < best.0 {
            best = (s, placement);
        }
        let mut i = 0;
        while i < idx.len() {
            idx[i] += 1;
            if idx[i] < choices[i].1.len() {
                break;
            }
            idx[i] = 0;
            i += 1;
        }
        if i == idx.len() {
            return best;
        }
    }
}

/// `a` and `b` equal up to float summation order.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

pub fn score(e: Estimate, obj: Objective) -> f64 {
    e.score(obj)
}
