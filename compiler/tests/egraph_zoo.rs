//! Zoo models through the whole pass: every op placed on a target that runs it, the
//! decode projections (GEMVs against weights) in PIM on a PIM preset, and the result
//! never worse than egg's tree extractor.

use triad_compiler::egraph::{Config, CostModel, Target, optimize, placed_cost};
use triad_compiler::{Graph, Op};
use triad_isa::Arch;
use triad_workloads::{BuildOptions, Phase, build, model};

fn zoo(name: &str, phase: &str) -> Graph {
    let cfg = model(name).unwrap();
    let phase: Phase = phase.parse().unwrap();
    build(&cfg, &BuildOptions::new(phase)).unwrap()
}

/// Names of the `MatMul`s whose right operand is a weight (the linear layers).
fn projections(g: &Graph) -> Vec<String> {
    g.node_ids()
        .filter(|&id| {
            let n = g.node(id);
            matches!(n.op, Op::MatMul)
                && n.inputs.len() == 2
                && matches!(g.node(n.inputs[1].node).op, Op::Weight { .. })
        })
        .map(|id| g.node(id).name.clone())
        .collect()
}

#[test]
fn tiny_gpt2_decode_places_every_op_and_puts_projections_in_pim() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = zoo("tiny-gpt2", "decode:32");
    let out = optimize(&g, &arch, &Config::default()).unwrap();
    let p = &out.placed;
    let ops = p
        .graph
        .node_ids()
        .filter(|&id| !p.graph.node(id).op.is_source())
        .count();
    assert_eq!(p.placement.len(), ops);
    // graph_cost fails on an op placed where it cannot run.
    let model = CostModel::new(&arch);
    let again = placed_cost(p, &model).unwrap();
    assert!((again.time_ps - p.cost.time_ps).abs() <= 1e-9 * p.cost.time_ps);
    let projs = projections(&g);
    assert!(!projs.is_empty());
    for name in &projs {
        assert_eq!(p.target_of(name), Some(Target::Pim), "{name}");
    }
    if let Some(tree) = out.extraction.tree {
        assert!(out.extraction.result.time_ps <= tree.time_ps * (1.0 + 1e-12));
    }
    assert_eq!(out.saturation.stop_reason, "saturated");
}

#[test]
fn tiny_gpt2_prefill_puts_projections_on_the_npu() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = zoo("tiny-gpt2", "prefill:64");
    let out = optimize(&g, &arch, &Config::default()).unwrap();
    for name in projections(&g) {
        assert_eq!(out.placed.target_of(&name), Some(Target::Npu), "{name}");
    }
}

#[test]
fn explain_reports_every_op_with_costs_targets_and_rewrites() {
    use triad_compiler::egraph::explain::explain;
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = zoo("tiny-gpt2", "decode:32");
    let out = optimize(&g, &arch, &Config::default()).unwrap();
    let model = CostModel::new(&arch);
    let e = explain(&g, &out, &model).unwrap();
    let ops = g
        .node_ids()
        .filter(|&id| !g.node(id).op.is_source())
        .count();
    assert_eq!(e.rows.len(), ops);
    let q = e
        .rows
        .iter()
        .find(|r| r.node == "layer0.q_proj.mm")
        .unwrap();
    assert_eq!(q.op, "MatMul");
    assert_eq!(q.shape, vec![1, 1, 64]);
    // A GEMV: 2 FLOPs per weight element of 2 bytes, so about 1 FLOP per byte.
    assert!(
        q.op_per_byte > 0.5 && q.op_per_byte < 1.5,
        "{}",
        q.op_per_byte
    );
    // Every target can run a matmul on this arch, and the cost is the model's.
    assert_eq!(q.costs.len(), 3);
    assert!(
        q.rewrites.iter().any(|r| r == "merge-sibling-matmuls"),
        "{:?}",
        q.rewrites
    );
    // Every placed row's target is the placed graph's.
    for r in &e.rows {
        if let Some(t) = r.target {
            assert_eq!(out.placed.target_of(&r.node), Some(t));
        }
    }
    let json = serde_json::to_string(&e).unwrap();
    assert!(json.contains("\"op_per_byte\""));
    let table = e.table();
    assert!(table.contains("layer0.q_proj.mm"));
    assert_eq!(table.lines().count(), ops + 2);
}
