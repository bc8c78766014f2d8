//! Fusion rules: an operand computed inside its consumer's kernel, and sibling
//! matmuls merged into one.
//!
//! **How a fusion is represented.** A fusion rule adds, to the consumer's abstract
//! class, the same op with one operand replaced by `(inl a)`: "abstract class `a`,
//! computed inside this kernel". `(inl a)` is never written to memory; extraction
//! expands it into a kernel of several IR ops on the consumer's target, costs the
//! kernel with [`crate::egraph::CostModel::kernel_cost`] (compute adds up, only the
//! kernel's external operands and result cross the memory interface: the
//! intermediate does not round-trip through DRAM), and records the group in
//! [`crate::egraph::PlacedGraph::fusions`]. The extracted graph keeps every op as an
//! ordinary placed IR node, so it stays a valid `Graph`; lowering may emit the group
//! as one kernel. Because `a` keeps all its alternatives, fusions compose: matmul +
//! bias inside an activation is `(Gelu (inl a))` with `a` holding `(Add (inl m) b)`.
//!
//! **Merged matmuls.** Matmuls that read the same activation with 2-D weights
//! (Q / K / V, SwiGLU's gate / up) become one matmul over the weights concatenated
//! along the output axis, then a `Split` whose outputs are unioned with the original
//! results. The weight concatenation only reads parameters, so extraction counts it
//! as load-time layout (free; see `PlacedGraph::prepacked`).

use std::sync::Arc;

use egg::Id;

use crate::egraph::analysis::TensorGraph;
use crate::egraph::cost::CostModel;
use crate::egraph::lang::TensorLang;
use crate::egraph::rules::view::{
    add_op, add_value, is_parameter, ops, produced, readers, source, ty, values_of,
};
use crate::egraph::rules::{Finder, Plan, Rule};
use crate::op::Op;

/// Most sibling matmuls merged into one (Q, K, V; more are left as they are).
const MERGE_LIMIT: usize = 8;

fn is_matmul(op: &Op) -> bool {
    matches!(op, Op::MatMul | Op::Gemm { .. } | Op::QMatMul)
}

fn is_activation(op: &Op) -> bool {
    matches!(
        op,
        Op::Gelu { .. } | Op::Relu | Op::Silu | Op::Sigmoid | Op::Tanh
    )
}

/// The fusion rules (`model` is `None` only to list them).
pub(crate) fn rules(model: Option<&CostModel>) -> Vec<Rule> {
    let m = model.cloned();
    let with = |f: fn(&CostModel, &TensorGraph, Id) -> Vec<Plan>| -> Finder {
        let m = m.clone();
        Arc::new(move |eg: &TensorGraph, c: Id| match &m {
            Some(m) => f(m, eg, c),
            None => vec![],
        })
    };
    vec![
        Rule {
            name: "fuse-matmul-bias",
            reason: "a bias add reads the product in the matmul's epilogue instead of from DRAM",
            find: with(fuse_matmul_bias),
        },
        Rule {
            name: "fuse-activation",
            reason: "an activation applies in the epilogue of the matmul (+ bias) that feeds it",
            find: with(fuse_activation),
        },
        Rule {
            name: "fuse-residual-norm",
            reason: "a norm of a residual sum computes the sum as it reads its operands",
            find: with(fuse_residual_norm),
        },
        Rule {
            name: "fuse-swiglu",
            reason: "SwiGLU's silu(gate) * up computes the silu as it reads the gate",
            find: with(fuse_swiglu),
        },
        Rule {
            name: "merge-sibling-matmuls",
            reason: "matmuls sharing an input (QKV, gate / up) are one wider matmul over concatenated weights, then a split",
            find: with(merge_sibling_matmuls),
        },
    ]
}

/// Plan: add `op` over `ch` with operand `at` replaced by `(inl inner)` to abstract
/// class `class`.
fn inline(class: Id, op: &Op, ch: &[Id], at: usize, inner: Id) -> Plan {
    let op = op.clone();
    let mut ch = ch.to_vec();
    Box::new(move |eg| {
        let i = eg.add(TensorLang::Inl(inner));
        ch[at] = i;
        add_op(eg, &op, ch)
            .map(|n| vec![(class, n)])
            .unwrap_or_default()
    })
}

/// A bias: a parameter whose dims are all 1 but the last, which is `n`.
fn is_bias(eg: &TensorGraph, b: Id, n: usize) -> bool {
    is_parameter(eg, b)
        && ty(eg, b).is_some_and(|t| {
            t.rank() >= 1
                && t.shape.last() == Some(&n)
                && t.shape[..t.rank() - 1].iter().all(|&d| d == 1)
        })
}

fn fuse_matmul_bias(_: &CostModel, eg: &TensorGraph, a: Id) -> Vec<Plan> {
    let mut plans = Vec::new();
    for (op, ch) in ops(eg, a) {
        let (Op::Add, [p, q]) = (op, ch) else {
            continue;
        };
        for (at, bias) in [(0usize, *q), (1, *p)] {
            let x = ch[at];
            let Some(n) = ty(eg, x).and_then(|t| t.shape.last().copied()) else {
                continue;
            };
            if !is_bias(eg, bias, n) {
                continue;
            }
            for (inner, _, _) in produced(eg, x, is_matmul) {
                plans.push(inline(a, op, ch, at, inner));
            }
        }
    }
    plans
}

fn fuse_activation(_: &CostModel, eg: &TensorGraph, a: Id) -> Vec<Plan> {
    let mut plans = Vec::new();
    for (op, ch) in ops(eg, a) {
        if !is_activation(op) {
            continue;
        }
        let [x] = ch else { continue };
        for (inner, iop, ich) in produced(eg, *x, |o| is_matmul(o) || matches!(o, Op::Add)) {
            // A bias add (not a residual sum) or a matmul.
            let ok = match iop {
                Op::Add => ich.iter().any(|&b| {
                    ty(eg, *x)
                        .and_then(|t| t.shape.last().copied())
                        .is_some_and(|n| is_bias(eg, b, n))
                }),
                _ => true,
            };
            if ok {
                plans.push(inline(a, op, ch, 0, inner));
            }
        }
    }
    plans
}

fn fuse_residual_norm(_: &CostModel, eg: &TensorGraph, a: Id) -> Vec<Plan> {
    let mut plans = Vec::new();
    for (op, ch) in ops(eg, a) {
        if !matches!(op, Op::LayerNorm { .. } | Op::RmsNorm { .. }) || ch.is_empty() {
            continue;
        }
        for (inner, _, ich) in produced(eg, ch[0], |o| matches!(o, Op::Add)) {
            // A residual sum: two tensors of the result's type (no broadcast bias).
            let same = ich.len() == 2 && ich.iter().all(|&c| eg[c].data == eg[ch[0]].data);
            if same {
                plans.push(inline(a, op, ch, 0, inner));
            }
        }
    }
    plans
}

fn fuse_swiglu(_: &CostModel, eg: &TensorGraph, a: Id) -> Vec<Plan> {
    let mut plans = Vec::new();
    for (op, ch) in ops(eg, a) {
        let (Op::Mul, [p, q]) = (op, ch) else {
            continue;
        };
        for (at, other) in [(0usize, *q), (1, *p)] {
            if source(eg, other).is_some() || eg[other].data != eg[ch[at]].data {
                continue;
            }
            for (inner, _, _) in produced(eg, ch[at], |o| matches!(o, Op::Silu)) {
                plans.push(inline(a, op, ch, at, inner));
            }
        }
    }
    plans
}

fn merge_sibling_matmuls(m: &CostModel, eg: &TensorGraph, x: Id) -> Vec<Plan> {
    let Some(xt) = ty(eg, x) else { return vec![] };
    if xt.rank() == 0 {
        return vec![];
    }
    // (value class of the product, weight class, columns), one per abstract class.
    let mut group: Vec<(Id, Id, usize)> = Vec::new();
    let mut dtype = None;
    for (a, op, ch) in readers(eg, x) {
        let (Op::MatMul, [l, w]) = (op, ch.as_slice()) else {
            continue;
        };
        if *l != eg.find(x) || !matches!(source(eg, *w).map(|e| &e.op), Some(Op::Weight { .. })) {
            continue;
        }
        let Some(wt) = ty(eg, *w) else { continue };
        if wt.rank() != 2 || dtype.is_some_and(|d| d != wt.dtype) {
            continue;
        }
        let Some(&v) = values_of(eg, a).first() else {
            continue;
        };
        if group.iter().any(|g| g.0 == v) {
            continue;
        }
        dtype = Some(wt.dtype);
        group.push((v, *w, wt.shape[1]));
    }
    if group.len() < 2 {
        return vec![];
    }
    group.truncate(MERGE_LIMIT);
    let m = m.clone();
    let plan: Plan = Box::new(move |eg| {
        let ws: Vec<Id> = group.iter().map(|g| g.1).collect();
        let sizes: Vec<usize> = group.iter().map(|g| g.2).collect();
        let Some(cat) = add_value(eg, &m, &Op::Concat { axis: -1 }, ws) else {
            return vec![];
        };
        let Some(mm) = add_value(eg, &m, &Op::MatMul, vec![x, cat]) else {
            return vec![];
        };
        let Some(sp) = add_value(eg, &m, &Op::Split { axis: -1, sizes }, vec![mm]) else {
            return vec![];
        };
        group
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let p = eg.add(TensorLang::Port(i as u32));
                (g.0, eg.add(TensorLang::Out([p, sp])))
            })
            .collect()
    });
    vec![plan]
}
