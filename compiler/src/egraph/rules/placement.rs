//! Placement: a computation may run on any target that supports its kind and its
//! operands' dtypes ([`CostModel::supports`]); the rules add `(on t a)` beside the
//! existing placement of abstract class `a`. Conversion places every op on one target
//! that runs it, so these three rules reach every allowed target in one iteration.

use egg::{Id, Rewrite, Subst, Var, rewrite as rw};

use crate::egraph::analysis::{TensorAnalysis, TensorGraph};
use crate::egraph::cost::CostModel;
use crate::egraph::lang::{Target, TensorLang};

/// Name and reason of every placement rule (the catalogue reads them).
pub(crate) const REASONS: [(&str, &str); 3] = [
    (
        "place-cpu",
        "everything can run on the CPU (a general-purpose core)",
    ),
    (
        "place-npu",
        "matrix ops, listed vector ops and DMA copies can run on the NPU",
    ),
    (
        "place-pim",
        "matrix-vector products and element-wise add / mul can run in the DRAM banks",
    ),
];

/// The placement rules for an arch: one per target the arch has.
pub fn placement_rules(model: &CostModel) -> Vec<Rewrite<TensorLang, TensorAnalysis>> {
    let supported = |t: Target| runs_on(model, t, "?a");
    vec![
        // Everything can run on the CPU (a general-purpose core).
        rw!("place-cpu"; "(on ?t ?a)" => "(on cpu ?a)" if supported(Target::Cpu)),
        // Matrix ops, listed vector ops and DMA copies can run on the NPU.
        rw!("place-npu"; "(on ?t ?a)" => "(on npu ?a)" if supported(Target::Npu)),
        // Matrix-vector products and element-wise add / mul can run in the DRAM banks.
        rw!("place-pim"; "(on ?t ?a)" => "(on pim ?a)" if supported(Target::Pim)),
    ]
}

/// Condition: some op e-node of the abstract class bound to `var` runs on `target`.
fn runs_on(
    model: &CostModel,
    target: Target,
    var: &str,
) -> impl Fn(&mut TensorGraph, Id, &Subst) -> bool + use<> {
    let var: Var = var
        .parse()
        .expect("bug: the rule's variable name is malformed");
    let model = model.clone();
    move |eg: &mut TensorGraph, _, subst: &Subst| {
        let a = subst[var];
        eg[a].nodes.iter().any(|n| {
            let TensorLang::Op(code, children) = n else {
                return false;
            };
            let Some(tys) = children
                .iter()
                .map(|c| eg[*c].data.single())
                .collect::<Option<Vec<_>>>()
            else {
                return false;
            };
            model.supports(target, &eg.analysis.ops.get(*code).op, &tys)
        })
    }
}
