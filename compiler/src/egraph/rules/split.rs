//! Split rules: a matmul computed as two parts on two targets at once.
//!
//! `(par spec a)` says: compute abstract matmul `a` as two parts, the first
//! `num / den` of the cut dimension on `spec.first` and the rest on `spec.second`,
//! concurrently, each writing its slice of one result. Two cuts:
//! - **columns** of a 2-D weight (output features), as Duplex co-processes a GEMV
//!   between the NPU and PIM, or mllm-NPU keeps outlier columns on the CPU: each part
//!   streams only its columns of the weight;
//! - **rows** of the left operand (tokens of a prefill), each part reading its rows.
//!
//! Ratios are `i / steps` for `i` in `1..steps` ([`RuleConfig::split_steps`],
//! default [`DEFAULT_SPLIT_STEPS`]); both parts must be non-empty. Target pairs are
//! unordered (`i / steps` on (a, b) is `(steps - i) / steps` on (b, a)). Extraction
//! values the parts as concurrent: the time of a split is the slower part's, its
//! energy the sum (see `extract`).

use std::sync::Arc;

use egg::Id;

use crate::egraph::analysis::TensorGraph;
use crate::egraph::cost::CostModel;
use crate::egraph::lang::{SplitAxis, SplitSpec, Target, TensorLang};
use crate::egraph::rules::view::{is_parameter, produced, ty};
use crate::egraph::rules::{Finder, Plan, Rule, RuleConfig};
use crate::op::Op;

/// Default ratio steps of a split: quarters (1/4, 1/2, 3/4 on the first target).
pub const DEFAULT_SPLIT_STEPS: u32 = 4;

/// The unordered target pairs a split may use.
const PAIRS: [(Target, Target); 3] = [
    (Target::Cpu, Target::Npu),
    (Target::Cpu, Target::Pim),
    (Target::Npu, Target::Pim),
];

/// The split rules (`model` is `None` only to list them).
pub(crate) fn rules(model: Option<&CostModel>, config: &RuleConfig) -> Vec<Rule> {
    let steps = config.split_steps;
    let make = |axis: SplitAxis| -> Finder {
        let m = model.cloned();
        Arc::new(move |eg: &TensorGraph, v: Id| match &m {
            Some(m) => split(m, eg, v, axis, steps),
            None => vec![],
        })
    };
    vec![
        Rule {
            name: "split-columns",
            reason: "x W = [x W1 | x W2] for W = [W1 | W2]: two targets each stream part of the weight at once",
            find: make(SplitAxis::Cols),
        },
        Rule {
            name: "split-rows",
            reason: "[X1; X2] W = [X1 W; X2 W]: two targets each take some of the tokens at once",
            find: make(SplitAxis::Rows),
        },
    ]
}

fn split(m: &CostModel, eg: &TensorGraph, v: Id, axis: SplitAxis, steps: u32) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    if steps < 2 {
        return plans;
    }
    for (a, _, ch) in produced(eg, v, |o| matches!(o, Op::MatMul)) {
        let [x, w] = ch else { continue };
        let (Some(xt), Some(wt)) = (ty(eg, *x), ty(eg, *w)) else {
            continue;
        };
        if wt.rank() != 2 || xt.rank() == 0 {
            continue;
        }
        let len = match axis {
            SplitAxis::Cols if is_parameter(eg, *w) => wt.shape[1],
            SplitAxis::Rows if xt.rank() >= 2 => xt.shape[xt.rank() - 2],
            _ => continue,
        };
        let op = Op::MatMul;
        for (first, second) in PAIRS {
            if !m.supports(first, &op, &[xt, wt]) || !m.supports(second, &op, &[xt, wt]) {
                continue;
            }
            for num in 1..steps {
                let spec = SplitSpec {
                    axis,
                    num,
                    den: steps,
                    first,
                    second,
                };
                let n1 = spec.first_len(len);
                if n1 == 0 || n1 >= len {
                    continue;
                }
                plans.push(Box::new(move |eg| {
                    let s = eg.add(TensorLang::Split(spec));
                    vec![(v, eg.add(TensorLang::Par([s, a])))]
                }));
            }
        }
    }
    plans
}
