//! Compile time of the e-graph pass (`egraph::optimize`: conversion, saturation with
//! every rule set, extraction) on full-size zoo graphs for `mobile-soc-pim`:
//! BERT-base prefill, Llama-2-7B decode and prefill, with identical layers reused
//! (the default) and, for comparison, the whole graph at once. An 8-layer BERT-base
//! (TENSAT's BERT has 8 blocks) is also timed whole, saturation and extraction
//! apart, as TENSAT reports them. The e-graph sizes are printed.
//!
//! Run: `cargo bench -p triad-compiler --bench egraph_optimize`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use triad_compiler::Graph;
use triad_compiler::egraph::{Config, CostModel, extract, optimize, saturate, to_egraph};
use triad_isa::Arch;
use triad_workloads::{BuildOptions, Phase, build, model};

fn zoo(name: &str, phase: &str, layers: Option<usize>) -> Graph {
    let mut cfg = model(name).expect("zoo model");
    if let Some(l) = layers {
        cfg.layers = l;
    }
    let phase: Phase = phase.parse().expect("phase");
    build(&cfg, &BuildOptions::new(phase)).expect("graph")
}

fn bench(c: &mut Criterion) {
    let arch = Arch::preset("mobile-soc-pim").expect("preset");
    let mut group = c.benchmark_group("egraph_optimize");
    group.sample_size(10);
    let whole = Config {
        reuse_blocks: false,
        ..Config::default()
    };
    for (name, phase) in [
        ("bert-base", "prefill:128"),
        ("llama2-7b", "decode:512"),
        ("llama2-7b", "prefill:128"),
    ] {
        let g = zoo(name, phase, None);
        for (label, config) in [("reuse", Config::default()), ("whole", whole.clone())] {
            let out = optimize(&g, &arch, &config).expect("optimize");
            eprintln!(
                "{name} {phase} {label}: {} ops, e-graph {} nodes / {} classes, {}",
                g.len(),
                out.saturation.nodes,
                out.saturation.classes,
                out.extraction.method
            );
            group.bench_function(format!("{name} {phase} {label}"), |b| {
                b.iter(|| optimize(black_box(&g), &arch, &config).expect("optimize"))
            });
        }
    }
    // TENSAT's like: an 8-layer BERT-base, the whole graph, saturation and
    // extraction timed apart.
    let g = zoo("bert-base", "prefill:128", Some(8));
    let model = CostModel::new(&arch);
    let conv = to_egraph(&g, &model).expect("convert");
    let (sat, stats) = saturate(conv.clone(), &model, &whole.saturation, &whole.rules);
    eprintln!(
        "bert-base x8 prefill:128: e-graph {} nodes / {} classes, {}",
        stats.nodes, stats.classes, stats.stop_reason
    );
    group.bench_function("bert-base x8 prefill:128 saturation", |b| {
        b.iter(|| saturate(conv.clone(), &model, &whole.saturation, &whole.rules))
    });
    group.bench_function("bert-base x8 prefill:128 extraction", |b| {
        b.iter(|| extract(&g, black_box(&sat), &model, &whole.extract).expect("extract"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
