//! Compile time by blocks: identical layers optimised once and reused, distinct
//! blocks in parallel. The stitched placed graph computes what the input graph
//! computes (reference interpreter), every layer is placed as the first one, the
//! output is the same at 1 and 4 threads, and the physics still holds on
//! full-size models: decode GEMVs in PIM, prefill GEMMs on the NPU.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triad_compiler::egraph::{Config, CostModel, Optimized, Target, optimize, placed_cost};
use triad_compiler::{DType, Graph, Op, Tensor, run};
use triad_isa::Arch;
use triad_workloads::{BuildOptions, Phase, build, model};

fn zoo(name: &str, phase: &str) -> Graph {
    let cfg = model(name).unwrap();
    build(&cfg, &BuildOptions::new(phase.parse::<Phase>().unwrap())).unwrap()
}

fn inputs(g: &Graph, seed: u64) -> BTreeMap<String, Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    g.node_ids()
        .filter(|&id| matches!(g.node(id).op, Op::Input { .. }))
        .map(|id| {
            let n = g.node(id);
            let ty = &n.outputs[0].ty;
            let t = if ty.dtype == DType::I64 || ty.dtype == DType::I32 {
                let v = (0..ty.elems()).map(|_| rng.random_range(0..8)).collect();
                Tensor::from_i64s(ty.dtype, &ty.shape, v).unwrap()
            } else {
                let v = (0..ty.elems())
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect();
                Tensor::from_f32s(ty.dtype, &ty.shape, v).unwrap()
            };
            (n.name.clone(), t)
        })
        .collect()
}

fn outputs(g: &Graph, ins: &BTreeMap<String, Tensor>) -> Vec<Tensor> {
    let mut got = run(g, ins).unwrap();
    g.outputs()
        .iter()
        .map(|v| {
            got.remove(&g.node(v.node).outputs[v.port as usize].name)
                .unwrap()
        })
        .collect()
}

/// Everything of a result that must not depend on the thread count, as text.
fn fingerprint(o: &Optimized) -> String {
    let p = &o.placed;
    let nodes: Vec<String> = p
        .graph
        .topo_order()
        .unwrap()
        .into_iter()
        .map(|id| {
            let n = p.graph.node(id);
            format!("{} {} {:?}", n.name, n.op.name(), p.placement.get(&id))
        })
        .collect();
    // The term's nodes in order (its Display would print the DAG as a tree).
    format!(
        "{nodes:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
        p.term.as_ref(),
        p.fusions,
        p.splits,
        p.transfers,
        p.cost.time_ps.to_bits()
    )
}

#[test]
fn stitched_blocks_compute_what_the_graph_computes() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    for (name, phase) in [("tiny-gpt2", "decode:8"), ("tiny-llama", "prefill:8")] {
        let g = zoo(name, phase);
        let out = optimize(&g, &arch, &Config::default()).unwrap();
        assert!(
            out.extraction.method.contains("distinct blocks"),
            "{}",
            out.extraction.method
        );
        let p = &out.placed;
        let ops = p
            .graph
            .node_ids()
            .filter(|&id| !p.graph.node(id).op.is_source())
            .count();
        assert_eq!(p.placement.len(), ops);
        let model = CostModel::new(&arch);
        let again = placed_cost(p, &model).unwrap();
        assert!((again.time_ps - p.cost.time_ps).abs() <= 1e-9 * p.cost.time_ps);
        let ins = inputs(&g, 7);
        let want = outputs(&g, &ins);
        let got = outputs(&p.graph, &ins);
        for (w, o) in want.iter().zip(&got) {
            let scale = w
                .f32s()
                .unwrap()
                .iter()
                .fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
            let d = w.max_abs_diff(o).unwrap();
            assert!(d <= 2e-2 * scale, "{name}: off by {d} (scale {scale})");
        }
        // Every layer is placed as layer 0.
        for id in p.graph.node_ids() {
            let n = &p.graph.node(id).name;
            if let Some(rest) = n.strip_prefix("layer1.") {
                let first = p.target_of(&format!("layer0.{rest}"));
                assert_eq!(p.placement.get(&id).copied(), first, "{n}");
            }
        }
    }
}

#[test]
fn the_result_does_not_depend_on_the_thread_count() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    for (name, phase) in [("tiny-llama", "decode:16"), ("gpt2-small", "decode:64")] {
        let g = zoo(name, phase);
        let run_with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| fingerprint(&optimize(&g, &arch, &Config::default()).unwrap()))
        };
        assert_eq!(run_with(1), run_with(4), "{name}");
    }
}

#[test]
fn without_reuse_the_whole_graph_is_optimised_at_once() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = zoo("tiny-gpt2", "decode:8");
    let config = Config {
        reuse_blocks: false,
        ..Config::default()
    };
    let out = optimize(&g, &arch, &config).unwrap();
    assert!(!out.extraction.method.contains("blocks"));
    let ins = inputs(&g, 3);
    let want = outputs(&g, &ins);
    let got = outputs(&out.placed.graph, &ins);
    for (w, o) in want.iter().zip(&got) {
        let scale = w
            .f32s()
            .unwrap()
            .iter()
            .fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
        assert!(w.max_abs_diff(o).unwrap() <= 2e-2 * scale);
    }
}

/// Targets of the layers' matmuls whose right operand is a weight (or a load-time
/// layout of weights: a merged or sliced weight), by target. (The LM head of a
/// prefill reads only the last token: a GEMV, rightly in PIM, so it is left out.)
fn projection_targets(o: &Optimized) -> BTreeMap<Target, usize> {
    let p = &o.placed;
    let mut out = BTreeMap::new();
    for id in p.graph.node_ids() {
        let n = p.graph.node(id);
        if !matches!(n.op, Op::MatMul) || !n.name.starts_with("layer") {
            continue;
        }
        let w = n.inputs[1].node;
        if matches!(p.graph.node(w).op, Op::Weight { .. }) || p.prepacked.contains(&w) {
            *out.entry(p.placement[&id]).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn decode_gemvs_go_to_pim_and_prefill_gemms_to_the_npu_with_every_rule() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    for (name, phase, target) in [
        ("gpt2-small", "decode:512", Target::Pim),
        ("llama2-7b", "decode:512", Target::Pim),
        ("gpt2-small", "prefill:128", Target::Npu),
        ("llama2-7b", "prefill:128", Target::Npu),
    ] {
        let out = optimize(&zoo(name, phase), &arch, &Config::default()).unwrap();
        let t = projection_targets(&out);
        let total: usize = t.values().sum();
        assert!(total > 0, "{name} {phase}");
        assert_eq!(t.get(&target), Some(&total), "{name} {phase}: {t:?}");
        assert_eq!(out.saturation.type_conflicts, 0);
    }
}
