//! Reading and extending the two-sorted e-graph from rules: which abstract
//! computations a value class has, which source it is, and adding a typed op.
//!
//! Everything here is deterministic: classes come back sorted by id, e-nodes in the
//! class's order. Adding never panics: an op whose operands it rejects is not added.

use egg::Id;

use crate::data::TensorType;
use crate::egraph::analysis::TensorGraph;
use crate::egraph::cost::CostModel;
use crate::egraph::lang::{OpEntry, Target, TensorLang};
use crate::infer::infer;
use crate::op::Op;

/// The single tensor type of class `c`.
pub(crate) fn ty(eg: &TensorGraph, c: Id) -> Option<&TensorType> {
    eg[c].data.single()
}

/// The op e-nodes (with children) of abstract class `a`: `(op, children)`.
pub(crate) fn ops(eg: &TensorGraph, a: Id) -> Vec<(&Op, &[Id])> {
    eg[a]
        .nodes
        .iter()
        .filter_map(|n| match n {
            TensorLang::Op(code, ch) if !ch.is_empty() => {
                Some((&eg.analysis.ops.get(*code).op, ch.as_slice()))
            }
            _ => None,
        })
        .collect()
}

/// The abstract classes value class `v` is computed by (`(on t a)` nodes), sorted.
pub(crate) fn computations(eg: &TensorGraph, v: Id) -> Vec<Id> {
    let mut out: Vec<Id> = eg[v]
        .nodes
        .iter()
        .filter_map(|n| match n {
            TensorLang::On([_, a]) => Some(eg.find(*a)),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `(abstract class, op, children)` for every way value `v` is computed whose op
/// satisfies `pred`.
pub(crate) fn produced(
    eg: &TensorGraph,
    v: Id,
    pred: impl Fn(&Op) -> bool,
) -> Vec<(Id, &Op, &[Id])> {
    computations(eg, v)
        .into_iter()
        .flat_map(|a| {
            ops(eg, a)
                .into_iter()
                .filter(|(op, _)| pred(op))
                .map(move |(op, ch)| (a, op, ch))
        })
        .collect()
}

/// The source row of value class `v`, if it is one.
pub(crate) fn source(eg: &TensorGraph, v: Id) -> Option<&OpEntry> {
    eg[v].nodes.iter().find_map(|n| match n {
        TensorLang::Op(code, ch) if ch.is_empty() => {
            let e = eg.analysis.ops.get(*code);
            e.source.is_some().then_some(e)
        }
        _ => None,
    })
}

/// Whether value class `v` is a weight or a constant (known at load time).
pub(crate) fn is_parameter(eg: &TensorGraph, v: Id) -> bool {
    source(eg, v).is_some_and(|e| matches!(e.op, Op::Weight { .. } | Op::Constant { .. }))
}

/// Add op `op` over value classes `children` as an abstract class, if its operands
/// type-check.
pub(crate) fn add_op(eg: &mut TensorGraph, op: &Op, children: Vec<Id>) -> Option<Id> {
    {
        let tys = children
            .iter()
            .map(|&c| ty(eg, c))
            .collect::<Option<Vec<_>>>()?;
        infer(op, &tys).ok()?;
    }
    let code = eg.analysis.ops.intern(op);
    Some(eg.add(TensorLang::Op(code, children)))
}

/// Add `op` over `children` as a value: the abstract class placed on the first target
/// (CPU, NPU, PIM order) that runs it (placement rules add the others).
pub(crate) fn add_value(
    eg: &mut TensorGraph,
    model: &CostModel,
    op: &Op,
    children: Vec<Id>,
) -> Option<Id> {
    let target = {
        let tys = children
            .iter()
            .map(|&c| ty(eg, c))
            .collect::<Option<Vec<_>>>()?;
        Target::ALL
            .into_iter()
            .find(|&t| model.supports(t, op, &tys))?
    };
    let a = add_op(eg, op, children)?;
    let t = eg.add(TensorLang::Target(target));
    Some(eg.add(TensorLang::On([t, a])))
}

/// The value classes holding `(on t a)` for abstract class `a`.
pub(crate) fn values_of(eg: &TensorGraph, a: Id) -> Vec<Id> {
    let a = eg.find(a);
    let mut out: Vec<Id> = eg[a]
        .parents()
        .filter(|&p| matches!(eg.id_to_node(p), TensorLang::On([_, x]) if eg.find(*x) == a))
        .map(|p| eg.find(p))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `(abstract parent class, op, children)` of every op e-node that reads value `v`.
pub(crate) fn readers(eg: &TensorGraph, v: Id) -> Vec<(Id, &Op, Vec<Id>)> {
    let v = eg.find(v);
    let mut out: Vec<(Id, &Op, Vec<Id>)> = eg[v]
        .parents()
        .filter_map(|p| match eg.id_to_node(p) {
            TensorLang::Op(code, ch) if !ch.is_empty() => Some((
                eg.find(p),
                &eg.analysis.ops.get(*code).op,
                ch.iter().map(|&c| eg.find(c)).collect(),
            )),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
    out.dedup_by(|a, b| a.0 == b.0 && a.2 == b.2 && a.1 == b.1);
    out
}

/// A permutation as explicit axes (`[]` means reversed).
pub(crate) fn perm_of(perm: &[usize], rank: usize) -> Vec<usize> {
    if perm.is_empty() {
        (0..rank).rev().collect()
    } else {
        perm.to_vec()
    }
}
