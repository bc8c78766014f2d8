//! Algebra and layout rules: cancel and fold transposes and reshapes, move a scalar
//! scale onto a matmul operand, fold ops over constants with the reference
//! interpreter.
//!
//! All rules work on value classes: they find `v = (on t (Op ...))` and union `v`
//! with an existing value (a cancellation) or a new placed value (a fold). Constant
//! folding evaluates with [`crate::interp::eval_node`], the interpreter's own kernel,
//! and is bounded by [`RuleConfig::fold_limit`] elements per operand and result; a
//! fold the interpreter rejects is simply not added.

use std::sync::Arc;

use crate::data::Init;
use crate::egraph::cost::CostModel;
use crate::egraph::lang::{SourceInfo, TensorLang};
use crate::egraph::rules::view::{add_value, perm_of, produced, source, ty};
use crate::egraph::rules::{Plan, Rule, RuleConfig};
use crate::interp::{Tensor, eval_node};
use crate::op::Op;

/// Default most elements of a constant-folded tensor (operands and result): shape
/// and mask arithmetic, never weights.
pub const DEFAULT_FOLD_LIMIT: u64 = 4096;

/// The algebra and layout rules (`model` is `None` only to list them).
pub(crate) fn rules(model: Option<&CostModel>, config: &RuleConfig) -> Vec<Rule> {
    let m = model.cloned();
    let fold_limit = config.fold_limit;
    let with = |f: fn(&CostModel, &crate::egraph::TensorGraph, egg::Id) -> Vec<Plan>| {
        let m = m.clone();
        Arc::new(
            move |eg: &crate::egraph::TensorGraph, v: egg::Id| match &m {
                Some(m) => f(m, eg, v),
                None => vec![],
            },
        ) as super::Finder
    };
    vec![
        Rule {
            name: "transpose-transpose",
            reason: "two permutations compose into one (or none when the composition is the identity)",
            find: with(transpose_transpose),
        },
        Rule {
            name: "transpose-identity",
            reason: "a transpose by the identity permutation is its input",
            find: with(transpose_identity),
        },
        Rule {
            name: "reshape-reshape",
            reason: "a reshape only depends on the element order, so two reshapes are one (or none)",
            find: with(reshape_reshape),
        },
        Rule {
            name: "reshape-identity",
            reason: "a reshape to the shape it already has is its input",
            find: with(reshape_identity),
        },
        Rule {
            name: "scale-into-matmul",
            reason: "(a x b) * s = (a * s) x b = a x (b * s) for a scalar s: scale the smaller operand",
            find: with(scale_into_matmul),
        },
        Rule {
            name: "fold-constants",
            reason: "an op over constants is computed once at compile time by the interpreter",
            find: {
                let m = m.clone();
                Arc::new(move |eg: &crate::egraph::TensorGraph, v: egg::Id| {
                    if m.is_none() {
                        return vec![];
                    }
                    fold_constants(eg, v, fold_limit)
                })
            },
        },
    ]
}

fn transpose_transpose(m: &CostModel, eg: &crate::egraph::TensorGraph, v: egg::Id) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    for (_, op1, ch1) in produced(eg, v, |o| matches!(o, Op::Transpose { .. })) {
        let (Op::Transpose { perm: p1 }, [v2]) = (op1, ch1) else {
            continue;
        };
        let Some(rank) = ty(eg, *v2).map(|t| t.rank()) else {
            continue;
        };
        let p1 = perm_of(p1, rank);
        for (_, op2, ch2) in produced(eg, *v2, |o| matches!(o, Op::Transpose { .. })) {
            let (Op::Transpose { perm: p2 }, [x]) = (op2, ch2) else {
                continue;
            };
            let p2 = perm_of(p2, rank);
            if p1.len() != rank || p2.len() != rank || p1.iter().any(|&i| i >= rank) {
                continue;
            }
            // out[i] = in1[p1[i]] and in1[j] = x[p2[j]], so out[i] = x[p2[p1[i]]].
            let q: Vec<usize> = p1.iter().map(|&i| p2[i]).collect();
            let x = *x;
            if q.iter().enumerate().all(|(i, &j)| i == j) {
                plans.push(Box::new(move |_| vec![(v, x)]));
            } else {
                let m = m.clone();
                plans.push(Box::new(move |eg| {
                    add_value(eg, &m, &Op::Transpose { perm: q }, vec![x])
                        .map(|n| vec![(v, n)])
                        .unwrap_or_default()
                }));
            }
        }
    }
    plans
}

fn transpose_identity(_: &CostModel, eg: &crate::egraph::TensorGraph, v: egg::Id) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    for (_, op, ch) in produced(eg, v, |o| matches!(o, Op::Transpose { .. })) {
        let (Op::Transpose { perm }, [x]) = (op, ch) else {
            continue;
        };
        let Some(rank) = ty(eg, *x).map(|t| t.rank()) else {
            continue;
        };
        if perm_of(perm, rank).iter().enumerate().all(|(i, &j)| i == j) {
            let x = *x;
            plans.push(Box::new(move |_| vec![(v, x)]));
        }
    }
    plans
}

fn reshape_reshape(m: &CostModel, eg: &crate::egraph::TensorGraph, v: egg::Id) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    let Some(out) = ty(eg, v).map(|t| t.shape.clone()) else {
        return plans;
    };
    for (_, _, ch1) in produced(eg, v, |o| matches!(o, Op::Reshape { .. })) {
        let [v2] = ch1 else { continue };
        for (_, _, ch2) in produced(eg, *v2, |o| matches!(o, Op::Reshape { .. })) {
            let [x] = ch2 else { continue };
            let x = *x;
            if ty(eg, x).is_some_and(|t| t.shape == out) {
                plans.push(Box::new(move |_| vec![(v, x)]));
            } else {
                let shape: Vec<i64> = out.iter().map(|&d| d as i64).collect();
                let m = m.clone();
                plans.push(Box::new(move |eg| {
                    add_value(eg, &m, &Op::Reshape { shape }, vec![x])
                        .map(|n| vec![(v, n)])
                        .unwrap_or_default()
                }));
            }
        }
    }
    plans
}

fn reshape_identity(_: &CostModel, eg: &crate::egraph::TensorGraph, v: egg::Id) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    let Some(out) = ty(eg, v) else { return plans };
    for (_, _, ch) in produced(eg, v, |o| matches!(o, Op::Reshape { .. })) {
        let [x] = ch else { continue };
        if ty(eg, *x).is_some_and(|t| t.shape == out.shape) {
            let x = *x;
            plans.push(Box::new(move |_| vec![(v, x)]));
        }
    }
    plans
}

fn scale_into_matmul(m: &CostModel, eg: &crate::egraph::TensorGraph, v: egg::Id) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    for (_, _, ch) in produced(eg, v, |o| matches!(o, Op::Mul)) {
        let [p, q] = ch else { continue };
        for (mm, s) in [(*p, *q), (*q, *p)] {
            if ty(eg, s).is_none_or(|t| t.elems() != 1) {
                continue;
            }
            for (_, _, mch) in produced(eg, mm, |o| matches!(o, Op::MatMul)) {
                let [a, b] = mch else { continue };
                for left in [true, false] {
                    let (a, b, m) = (*a, *b, m.clone());
                    plans.push(Box::new(move |eg| {
                        let scaled = if left { a } else { b };
                        let Some(sc) = add_value(eg, &m, &Op::Mul, vec![scaled, s]) else {
                            return vec![];
                        };
                        let args = if left { vec![sc, b] } else { vec![a, sc] };
                        add_value(eg, &m, &Op::MatMul, args)
                            .map(|n| vec![(v, n)])
                            .unwrap_or_default()
                    }));
                }
            }
        }
    }
    plans
}

fn fold_constants(eg: &crate::egraph::TensorGraph, v: egg::Id, limit: u64) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    if source(eg, v).is_some() {
        return plans;
    }
    let Some(out_ty) = ty(eg, v).cloned() else {
        return plans;
    };
    if out_ty.elems() > limit {
        return plans;
    }
    for (_, op, ch) in produced(eg, v, |_| true) {
        let consts: Option<Vec<(Op, crate::data::TensorType)>> = ch
            .iter()
            .map(|&c| match source(eg, c) {
                Some(e) if matches!(e.op, Op::Constant { .. }) => {
                    let t = ty(eg, c)?;
                    (t.elems() <= limit).then(|| (e.op.clone(), t.clone()))
                }
                _ => None,
            })
            .collect();
        let Some(consts) = consts else { continue };
        let op = op.clone();
        let out_ty = out_ty.clone();
        plans.push(Box::new(move |eg| {
            let Some(ins) = consts
                .iter()
                .map(|(c, t)| {
                    eval_node("fold", c, &[], std::slice::from_ref(t))
                        .ok()?
                        .pop()
                })
                .collect::<Option<Vec<Tensor>>>()
            else {
                return vec![];
            };
            let refs: Vec<&Tensor> = ins.iter().collect();
            let Some(result) = eval_node("fold", &op, &refs, std::slice::from_ref(&out_ty))
                .ok()
                .and_then(|mut r| r.pop())
            else {
                return vec![];
            };
            let folded = Op::Constant {
                init: Init::Data(result.to_data()),
            };
            let info = SourceInfo {
                node: None,
                name: String::new(),
                scope: String::new(),
                ty: out_ty,
            };
            let code = eg.analysis.ops.source(&folded, info);
            let c = eg.add(TensorLang::Op(code, vec![]));
            vec![(v, c)]
        }));
        break;
    }
    plans
}
