//! DAG-aware extraction: on small graphs it finds the optimum of an exhaustive search
//! over placements (written here, over the graph itself); it is never worse than egg's
//! tree extractor; its cost is the cost of the graph it returns; it is deterministic.

mod egraph_util;

use egraph_util::{close, exhaustive, mlp, t, weight};
use proptest::prelude::*;
use triad_compiler::egraph::{
    Config, CostModel, ExtractConfig, Objective, RuleConfig, Target, extract, optimize,
    placed_cost, saturate, to_egraph, tree_extract,
};
use triad_compiler::{DType, Graph, Op, ValueRef};
use triad_isa::Arch;

/// One step of a random graph.
#[derive(Clone, Debug)]
enum Step {
    /// MatMul of value `src` (index back from the newest) with a new `[k, n]` weight.
    MatMul { src: usize, n: usize },
    /// A unary op on value `src`: 0 Gelu, 1 Relu, 2 Softmax, 3 Silu.
    Unary { src: usize, kind: u8 },
    /// Add (or Mul) of two values of equal type, else of a value and a bias weight.
    Binary { a: usize, b: usize, mul: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, prop::sample::select(vec![16usize, 64, 256]))
            .prop_map(|(src, n)| Step::MatMul { src, n }),
        (0..3usize, 0..4u8).prop_map(|(src, kind)| Step::Unary { src, kind }),
        (0..3usize, 0..4usize, any::<bool>()).prop_map(|(a, b, mul)| Step::Binary { a, b, mul }),
    ]
}

/// A graph of `steps` ops on an `[m, 64]` input; every unread value an output, and
/// the last but one too when asked.
fn build(dtype: DType, m: usize, steps: &[Step], two_outputs: bool) -> Graph {
    let mut g = Graph::new("random");
    let x = g.input("x", t(dtype, &[m, 64])).unwrap();
    let mut vals: Vec<ValueRef> = vec![x];
    let pick = |vals: &Vec<ValueRef>, back: usize| vals[vals.len() - 1 - back.min(vals.len() - 1)];
    for (i, s) in steps.iter().enumerate() {
        let name = format!("op{i}");
        let v = match s {
            Step::MatMul { src, n } => {
                let a = pick(&vals, *src);
                let k = *g.ty(a).shape.last().unwrap();
                let w = weight(&mut g, &format!("w{i}"), t(dtype, &[k, *n]));
                g.add1(&name, Op::MatMul, &[a, w]).unwrap()
            }
            Step::Unary { src, kind } => {
                let a = pick(&vals, *src);
                // Activations every arch of `arch_and_dtype` runs without a CPU
                // (pim-gpt's ASIC has no SiLU).
                let op = match kind {
                    0 => Op::Gelu { tanh_approx: false },
                    1 => Op::Relu,
                    2 => Op::Softmax { axis: -1 },
                    _ => Op::Gelu { tanh_approx: true },
                };
                g.add1(&name, op, &[a]).unwrap()
            }
            Step::Binary { a, b, mul } => {
                let x = pick(&vals, *a);
                let y = pick(&vals, *b);
                let y = if g.ty(x) == g.ty(y) {
                    y
                } else {
                    let n = *g.ty(x).shape.last().unwrap();
                    weight(&mut g, &format!("b{i}"), t(dtype, &[n]))
                };
                let op = if *mul { Op::Mul } else { Op::Add };
                g.add1(&name, op, &[x, y]).unwrap()
            }
        };
        vals.push(v);
    }
    // Every value nobody reads is an output (no dead ops: extraction would drop them,
    // the exhaustive search would pay for them); optionally one more, read inside too.
    let mut outs: Vec<ValueRef> = vals[1..]
        .iter()
        .copied()
        .filter(|&v| g.consumers(v).is_empty())
        .collect();
    if two_outputs && vals.len() > 2 && !outs.contains(&vals[vals.len() - 2]) {
        outs.push(vals[vals.len() - 2]);
    }
    g.set_outputs(&outs);
    g
}

fn arch_and_dtype(which: u8) -> (Arch, DType) {
    match which {
        0 => (Arch::preset("mobile-soc-pim").unwrap(), DType::F16),
        1 => (Arch::preset("pim-gpt").unwrap(), DType::BF16),
        _ => (Arch::preset("mobile-soc").unwrap(), DType::F16),
    }
}

fn objective(which: u8) -> Objective {
    [Objective::Latency, Objective::Energy, Objective::Edp][which as usize % 3]
}

/// The extractor's result, its reported cost checked against the graph it returns:
/// the score and the number of nodes of the placed graph.
fn extracted(
    g: &Graph,
    arch: &Arch,
    obj: Objective,
    exact_limit: u64,
    rules: RuleConfig,
) -> (f64, usize) {
    let config = Config {
        extract: ExtractConfig {
            objective: obj,
            exact_limit,
            ..ExtractConfig::default()
        },
        rules,
        ..Config::default()
    };
    let out = optimize(g, arch, &config).unwrap();
    let model = CostModel::new(arch);
    let again = placed_cost(&out.placed, &model).unwrap();
    assert!(close(again.score(obj), out.placed.cost.score(obj)));
    // every op placed, on a target that runs it (graph_cost fails otherwise)
    let ops = out
        .placed
        .graph
        .node_ids()
        .filter(|&id| !out.placed.graph.node(id).op.is_source())
        .count();
    assert_eq!(out.placed.placement.len(), ops);
    (out.placed.cost.score(obj), out.placed.graph.len())
}

#[test]
fn twelve_op_graph_matches_exhaustive_search() {
    let steps = vec![
        Step::MatMul { src: 0, n: 256 },
        Step::Unary { src: 0, kind: 0 },
        Step::MatMul { src: 0, n: 64 },
        Step::Binary {
            a: 0,
            b: 3,
            mul: false,
        },
        Step::Unary { src: 0, kind: 2 },
        Step::MatMul { src: 0, n: 16 },
        Step::Binary {
            a: 1,
            b: 0,
            mul: true,
        },
        Step::MatMul { src: 2, n: 64 },
        Step::Unary { src: 0, kind: 1 },
        Step::Binary {
            a: 0,
            b: 5,
            mul: false,
        },
        Step::MatMul { src: 0, n: 256 },
        Step::Unary { src: 0, kind: 3 },
    ];
    for which in 0..3 {
        let (arch, dtype) = arch_and_dtype(which);
        for m in [1, 128] {
            let g = build(dtype, m, &steps, true);
            assert_eq!(
                g.len() - g.node_ids().filter(|&i| g.node(i).op.is_source()).count(),
                12
            );
            for o in 0..3 {
                let obj = objective(o);
                let model = CostModel::new(&arch);
                let (best, _) = exhaustive(&g, &model, obj);
                let (got, nodes) =
                    extracted(&g, &arch, obj, u64::MAX, RuleConfig::placement_only());
                assert_eq!(nodes, g.len());
                assert!(
                    close(got, best),
                    "{} m={m} {obj:?}: {got} vs {best}",
                    arch.name
                );
            }
        }
    }
}

#[test]
fn extraction_is_deterministic() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = mlp(DType::F16, 1, 256, 1024);
    let a = optimize(&g, &arch, &Config::default()).unwrap();
    let b = optimize(&g, &arch, &Config::default()).unwrap();
    assert_eq!(a.placed.placement, b.placed.placement);
    assert_eq!(a.placed.term.to_string(), b.placed.term.to_string());
    assert_eq!(a.placed.cost, b.placed.cost);
}

#[test]
fn the_term_moves_values_between_memories_where_placement_changes() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = mlp(DType::F16, 1, 768, 3072);
    let p = optimize(&g, &arch, &Config::default()).unwrap().placed;
    // PIM GEMV results are read by the NPU / CPU Gelu: a banks -> dram transfer.
    assert!(!p.transfers.is_empty());
    let term = p.term.to_string();
    assert!(term.contains("(on pim (MatMul#"), "{term}");
    assert!(term.contains("(xfer banks dram"), "{term}");
    assert_eq!(p.term_roots.len(), 1);
}

#[test]
fn saturation_reports_size_reason_and_rules() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = mlp(DType::F16, 1, 64, 256);
    let model = CostModel::new(&arch);
    let conv = to_egraph(&g, &model).unwrap();
    let (conv, stats) = saturate(
        conv,
        &model,
        &Default::default(),
        &RuleConfig::placement_only(),
    );
    assert_eq!(stats.stop_reason, "saturated");
    // 4 ops: the two MatMuls and the Add gain npu and pim, Gelu gains npu.
    assert_eq!(stats.applied.get("place-npu"), Some(&4));
    assert_eq!(stats.applied.get("place-pim"), Some(&3));
    assert!(stats.nodes >= conv.egraph.total_number_of_nodes());
    let tight = triad_compiler::egraph::SaturationConfig {
        iter_limit: 1,
        ..Default::default()
    };
    let conv2 = to_egraph(&g, &model).unwrap();
    let (_, s2) = saturate(conv2, &model, &tight, &RuleConfig::placement_only());
    assert_eq!(s2.stop_reason, "iteration limit");
    let _ = extract(&g, &conv, &model, &ExtractConfig::default()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn small_graphs_match_exhaustive_search(
        steps in prop::collection::vec(step(), 1..9),
        m in prop::sample::select(vec![1usize, 4, 128]),
        which in 0..3u8,
        o in 0..3u8,
        two in any::<bool>(),
    ) {
        let (arch, dtype) = arch_and_dtype(which);
        let g = build(dtype, m, &steps, two);
        let obj = objective(o);
        let (best, _) = exhaustive(&g, &CostModel::new(&arch), obj);
        let (got, nodes) = extracted(&g, &arch, obj, u64::MAX, RuleConfig::placement_only());
        // Hash-consing merges repeated computations (`Add(x, x)` twice), which the
        // search over the input graph pays twice: then the e-graph may only be better.
        if nodes == g.len() {
            prop_assert!(close(got, best), "{got} vs {best}");
        } else {
            prop_assert!(nodes < g.len() && got <= best * (1.0 + 1e-12), "{got} vs {best}");
        }
    }

    #[test]
    fn never_worse_than_the_tree_extractor(
        steps in prop::collection::vec(step(), 1..24),
        m in prop::sample::select(vec![1usize, 4, 128]),
        which in 0..3u8,
        o in 0..3u8,
        two in any::<bool>(),
    ) {
        let (arch, dtype) = arch_and_dtype(which);
        let g = build(dtype, m, &steps, two);
        let obj = objective(o);
        let model = CostModel::new(&arch);
        let conv = to_egraph(&g, &model).unwrap();
        // Every rule set: fusions, merged matmuls and splits in the e-graph.
        let (conv, _) = saturate(conv, &model, &Default::default(), &RuleConfig::default());
        let tree = tree_extract(&g, &conv, &model, obj).unwrap().expect("the tree choice is acyclic");
        let tree_score = placed_cost(&tree, &model).unwrap().score(obj);
        // local search only (no enumeration)
        let (got, _) = extracted(&g, &arch, obj, 0, RuleConfig::default());
        prop_assert!(got <= tree_score * (1.0 + 1e-12), "{got} vs tree {tree_score}");
        prop_assert!(tree.placement.values().all(|t| Target::ALL.contains(t)));
    }
}
