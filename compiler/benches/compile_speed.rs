//! Whole-compile time (`lower::compile`: e-graph optimisation and placement,
//! schedule, lowering with the weights' PIM layout and data) on full-size zoo
//! graphs: BERT-base prefill:128 on `mobile-soc` (target <= 3 s), Llama-2-7B
//! decode:512 and prefill:128 on `mobile-soc-pim` (target <= 10 s each). The
//! instruction count of each program is printed. Ten samples each, so the bench
//! runs in a few minutes on two cores.
//!
//! Run: `cargo bench -p triad-compiler --bench compile_speed`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use triad_compiler::Graph;
use triad_compiler::egraph::Config;
use triad_compiler::lower::{LowerConfig, compile};
use triad_isa::Arch;
use triad_workloads::{BuildOptions, Phase, build, model};

fn zoo(name: &str, phase: &str) -> Graph {
    let cfg = model(name).expect("zoo model");
    let phase: Phase = phase.parse().expect("phase");
    build(&cfg, &BuildOptions::new(phase)).expect("graph")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile_speed");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(5));
    for (name, phase, arch) in [
        ("bert-base", "prefill:128", "mobile-soc"),
        ("llama2-7b", "decode:512", "mobile-soc-pim"),
        ("llama2-7b", "prefill:128", "mobile-soc-pim"),
    ] {
        let arch = Arch::preset(arch).expect("preset");
        let g = zoo(name, phase);
        let (config, lower) = (Config::default(), LowerConfig::default());
        let out = compile(&g, &arch, &config, &lower).expect("compiles");
        let insns: usize = out
            .lowered
            .program
            .streams
            .iter()
            .map(|s| s.insns.len())
            .sum();
        eprintln!("{name} {phase} on {}: {insns} instructions", arch.name);
        group.bench_function(format!("{name} {phase} {}", arch.name), |b| {
            b.iter(|| compile(black_box(&g), &arch, &config, &lower).expect("compiles"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
