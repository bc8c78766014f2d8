//! The cost model against the simulator, op by op.
//!
//! For each zoo model / phase / preset below, the whole compiler runs
//! (`triad_compiler::lower::compile`), the program is simulated, and every lowered
//! op is paired with its label's report. Lowering emits exactly one label per op
//! of the placed graph, or one per fused NPU kernel naming its ops
//! (`LowerStats::labels`; a `Reshape` is a buffer alias with no instruction and no
//! label). The estimate compared is the cost model's `op_cost` of that op on the
//! target it was lowered on, or for a fused kernel its `kernel_cost` (intermediates
//! kept on chip, as the fused lowering keeps them in the scratchpad).
//!
//! **Simulated measure**: the label's *critical busy time*, the busy time of its
//! busiest resource, where a resource is one engine except that the NPU's DMA
//! engines count as one (they share the NPU's DRAM link, over which the cost model
//! moves an op's bytes): `max(sum over dma.* , max over the other engines)` of the
//! label's per-engine busy times (`LabelReport::engine_busy_ps`). Busy time summed
//! over all engines counts concurrent engines several times (a PIM GEMV on 4
//! channels is 4 channel-busy times; an NPU op's DMA runs beside the array), and
//! the label's span (first start to last end) also counts time queued behind other
//! ops on a shared engine when the schedule overlaps independent ops (the QKV
//! projections of one layer). The span is printed beside it.
//!
//! **Figures**: Spearman rank correlation of estimate vs simulated time over the
//! ops, and the mean absolute log error `mean |ln(est / sim)|`, reported as the
//! factor `exp(...)` (a typical op is off by that factor either way), plus the
//! signed mean log ratio as a factor (below 1: the model is optimistic).
//!
//! `cost_model_tracks_the_simulator` runs small cases (CI); the full table for the
//! README's figures is `cost_model_table`:
//! `cargo test --release --test cost_model -- --ignored --nocapture`.

use std::collections::BTreeMap;

use triad_compiler::Graph;
use triad_compiler::egraph::{Config, CostModel, KernelPart, Target};
use triad_compiler::lower::{LowerConfig, compile};
use triad_isa::Arch;
use triad_sim::{SimOptions, simulate};
use triad_workloads::{BuildOptions, Phase, WeightFormat};

/// One op: the estimate on its target and the simulated times.
#[derive(Clone, Debug)]
struct Row {
    case: String,
    label: String,
    op: String,
    target: Target,
    est_ps: f64,
    sim_ps: f64,
    span_ps: f64,
    /// The busiest single engine's busy time (DMA engines apart).
    busiest_ps: f64,
}

fn build(model: &str, phase: &str) -> Graph {
    let cfg = triad_workloads::model(model).expect("zoo model");
    let opts = BuildOptions {
        phase: phase.parse::<Phase>().expect("phase"),
        batch: 1,
        weights: WeightFormat::F16,
        seed: 0,
    };
    triad_workloads::build(&cfg, &opts).expect("builds")
}

/// Compile `model` at `phase` for `preset`, simulate, and pair every op's estimate
/// with its label's simulated times.
fn compare(model: &str, phase: &str, preset: &str) -> Vec<Row> {
    let arch = Arch::preset(preset).expect("preset");
    let graph = build(model, phase);
    let lc = LowerConfig {
        model: model.into(),
        data_file: String::new(),
    };
    let c = compile(&graph, &arch, &Config::default(), &lc).expect("compiles");
    let out = simulate(&c.lowered.program, &arch, &SimOptions::default()).expect("simulates");
    let cm = CostModel::new(&arch);
    let g = &c.optimized.placed.graph;
    let case = format!("{model} {phase} {preset}");
    let mut rows = Vec::new();
    for l in &c.lowered.stats.labels {
        let ids: Vec<_> = l
            .nodes
            .iter()
            .map(|name| {
                g.node_by_name(name)
                    .expect("labelled node in the placed graph")
            })
            .collect();
        let est = kernel_estimate(&cm, g, l.target, &ids);
        let op = ids
            .iter()
            .map(|&id| g.node(id).op.name())
            .collect::<Vec<_>>()
            .join("+");
        let Some(r) = out.report.labels.get(&l.label) else {
            // No timed instruction (an empty tensor): nothing to compare.
            continue;
        };
        rows.push(Row {
            case: case.clone(),
            label: l.label.clone(),
            op,
            target: l.target,
            est_ps: est.time_ps,
            sim_ps: critical_busy_ps(&r.engine_busy_ps),
            span_ps: (r.end_ps - r.start_ps) as f64,
            busiest_ps: r.engine_busy_ps.values().max().copied().unwrap_or(0) as f64,
        });
    }
    rows
}

/// The cost model's estimate of one op (`op_cost`) or of a fused kernel's ops
/// (`kernel_cost`: operands made inside the kernel and results used only inside it
/// stay on chip, as the fused lowering keeps them in the scratchpad).
fn kernel_estimate(
    cm: &CostModel,
    g: &Graph,
    target: Target,
    ids: &[triad_compiler::NodeId],
) -> triad_compiler::egraph::Estimate {
    let parts: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(k, &id)| {
            let n = g.node(id);
            let ins: Vec<_> = n.inputs.iter().map(|v| g.ty(*v)).collect();
            let inner: Vec<bool> = n.inputs.iter().map(|v| ids.contains(&v.node)).collect();
            let outs: Vec<_> = n.outputs.iter().map(|o| o.ty.clone()).collect();
            (n, ins, inner, outs, k + 1 < ids.len())
        })
        .collect();
    let kp: Vec<KernelPart<'_>> = parts
        .iter()
        .map(|(n, ins, inner, outs, out_inner)| KernelPart {
            op: &n.op,
            ins,
            outs,
            inner,
            out_inner: *out_inner,
        })
        .collect();
    cm.kernel_cost(target, &kp)
        .expect("the lowered target runs the ops")
}

/// The busy time of the busiest resource: the DMA engines together, or another
/// engine alone (see the module doc).
fn critical_busy_ps(busy: &BTreeMap<String, u64>) -> f64 {
    let dma: u64 = busy
        .iter()
        .filter(|(e, _)| e.starts_with("dma."))
        .map(|(_, b)| b)
        .sum();
    let other = busy
        .iter()
        .filter(|(e, _)| !e.starts_with("dma."))
        .map(|(_, b)| *b)
        .max()
        .unwrap_or(0);
    dma.max(other) as f64
}

/// Ranks (1-based, ties averaged).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// Spearman's rank correlation: Pearson's over the ranks.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Agreement figures of a set of ops.
#[derive(Clone, Copy, Debug)]
struct Figures {
    ops: usize,
    spearman: f64,
    /// `exp(mean |ln(est / sim)|)`.
    abs_factor: f64,
    /// `exp(mean ln(est / sim))`.
    bias: f64,
}

fn figures(rows: &[&Row]) -> Figures {
    let est: Vec<f64> = rows.iter().map(|r| r.est_ps).collect();
    let sim: Vec<f64> = rows.iter().map(|r| r.sim_ps).collect();
    let logs: Vec<f64> = rows
        .iter()
        .map(|r| (r.est_ps.max(1.0) / r.sim_ps.max(1.0)).ln())
        .collect();
    let n = rows.len().max(1) as f64;
    Figures {
        ops: rows.len(),
        spearman: spearman(&est, &sim),
        abs_factor: (logs.iter().map(|l| l.abs()).sum::<f64>() / n).exp(),
        bias: (logs.iter().sum::<f64>() / n).exp(),
    }
}

fn print_figures(title: &str, f: Figures) {
    eprintln!(
        "{title:<44} {:>5} ops  spearman {:.3}  mean |log| error x{:.2}  bias x{:.2}",
        f.ops, f.spearman, f.abs_factor, f.bias
    );
}

/// Overall, per target and per case figures; the per-op table if `table`.
fn report(rows: &[Row], table: bool) -> (Figures, BTreeMap<Target, Figures>) {
    if table {
        eprintln!(
            "{:<28} {:<44} {:<12} {:<4} {:>12} {:>12} {:>12} {:>7}",
            "case", "label", "op", "on", "est us", "sim us", "span us", "est/sim"
        );
        for r in rows {
            eprintln!(
                "{:<28} {:<44} {:<12} {:<4} {:>12.3} {:>12.3} {:>12.3} {:>7.2}",
                r.case,
                r.label,
                r.op,
                r.target.name(),
                r.est_ps * 1e-6,
                r.sim_ps * 1e-6,
                r.span_ps * 1e-6,
                r.est_ps / r.sim_ps.max(1.0)
            );
        }
    }
    let all: Vec<&Row> = rows.iter().collect();
    let overall = figures(&all);
    print_figures("all", overall);
    let busiest: Vec<Row> = rows
        .iter()
        .map(|r| Row {
            sim_ps: r.busiest_ps,
            ..r.clone()
        })
        .collect();
    print_figures(
        "all, vs the busiest single engine",
        figures(&busiest.iter().collect::<Vec<_>>()),
    );
    let mut per_target = BTreeMap::new();
    for t in Target::ALL {
        let sub: Vec<&Row> = rows.iter().filter(|r| r.target == t).collect();
        if sub.len() >= 2 {
            let f = figures(&sub);
            print_figures(&format!("on {}", t.name()), f);
            per_target.insert(t, f);
        }
    }
    let mut cases: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
    cases.dedup();
    for c in cases {
        let sub: Vec<&Row> = rows.iter().filter(|r| r.case == c).collect();
        print_figures(c, figures(&sub));
    }
    (overall, per_target)
}

/// The cases of the README's table. Only the mobile presets have a CPU, which the
/// real models' embedding `Gather` needs (the NPU-only presets refuse it), so the
/// third preset runs tiny models.
const FULL: &[(&str, &str, &str)] = &[
    ("gpt2-small", "decode:128", "mobile-soc"),
    ("gpt2-small", "decode:128", "mobile-soc-pim"),
    ("gpt2-small", "prefill:128", "mobile-soc"),
    ("gpt2-small", "prefill:128", "mobile-soc-pim"),
    ("minilm-l6", "prefill:128", "mobile-soc"),
    ("minilm-l6", "prefill:128", "mobile-soc-pim"),
    ("tiny-llama", "decode:64", "hbm-pim"),
    ("tiny-bert", "prefill:64", "hbm-pim"),
];

#[test]
#[ignore = "the README's full table; run in release"]
fn cost_model_table() {
    let mut rows = Vec::new();
    for (m, p, a) in FULL {
        let r = compare(m, p, a);
        report(&r, true);
        rows.extend(r);
    }
    eprintln!();
    report(&rows, false);
}

// Bounds: what the model achieves on the CI cases, with a margin. With fused NPU
// kernels and per-channel PIM GEMVs (2026-12-02): 0.936 overall, CPU 0.695, NPU
// 0.929; x2.06 overall; PIM x11.3. The CPU's 77 ops here are small element-wise,
// layout and norm ops whose simulated times cluster between 1.4 and 2.6 us, so
// their ranks are close to ties; the bound keeps the model from losing the order
// entirely, the overall bound carries the weight. `COST_TABLE=1` prints every op.
/// Least rank correlation over all CI ops.
const SPEARMAN_MIN: f64 = 0.85;
/// Least rank correlation over the CI ops on the CPU, and on the NPU.
const TARGET_SPEARMAN_MIN: f64 = 0.6;
/// Largest mean |log| error over all CI ops, as a factor.
const ERROR_MAX: f64 = 2.3;
/// Largest mean |log| error over the PIM ops. The lowering issues one `pim.gemv`
/// per 8 KiB granule and activation row, reloading the vector and reading results
/// out per granule and keeping a quarter of the units busy, where the model counts
/// one GEMV per channel; so PIM ops take about 10x the estimate (and the tiny
/// models' PIM ops, a few shapes, are not ranked) until the lowering emits one
/// GEMV per channel.
const PIM_ERROR_MAX: f64 = 15.0;

/// Small cases CI runs: a real encoder on the NPU / CPU preset, and tiny models on
/// the PIM presets (PIM GEMVs and element-wise ops, an NPU-only host).
const CI: &[(&str, &str, &str)] = &[
    ("minilm-l6", "prefill:64", "mobile-soc"),
    ("tiny-llama", "decode:64", "mobile-soc-pim"),
    ("tiny-bert", "prefill:64", "hbm-pim"),
];

#[test]
fn cost_model_tracks_the_simulator() {
    let rows: Vec<Row> = CI.iter().flat_map(|(m, p, a)| compare(m, p, a)).collect();
    let (all, per_target) = report(&rows, std::env::var_os("COST_TABLE").is_some());
    assert!(all.ops >= 100, "{} ops compared", all.ops);
    assert!(
        all.spearman >= SPEARMAN_MIN,
        "rank correlation {:.3}",
        all.spearman
    );
    assert!(
        all.abs_factor <= ERROR_MAX,
        "mean |log| error x{:.2}",
        all.abs_factor
    );
    for t in [Target::Cpu, Target::Npu] {
        let f = per_target[&t];
        assert!(
            f.spearman >= TARGET_SPEARMAN_MIN,
            "{t}: rank correlation {:.3}",
            f.spearman
        );
    }
    let pim = per_target[&Target::Pim];
    assert!(
        pim.abs_factor <= PIM_ERROR_MAX,
        "pim: mean |log| error x{:.2}",
        pim.abs_factor
    );
}

#[test]
fn spearman_of_known_rankings() {
    // Identical order: 1; reversed: -1; one swap of five: 1 - 6·2/(5·24) = 0.9.
    let a = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert!((spearman(&a, &[10.0, 20.0, 30.0, 40.0, 50.0]) - 1.0).abs() < 1e-12);
    assert!((spearman(&a, &[5.0, 4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
    assert!((spearman(&a, &[1.0, 2.0, 4.0, 3.0, 5.0]) - 0.9).abs() < 1e-12);
    // Ties take the mean rank.
    assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
}
