//! `triad run`: a model step compiled for an arch and simulated, summarised per
//! token (throughput, latency, energy and its breakdown, placement, engines' busy
//! share, DRAM bandwidth). With no arguments: GPT-2 small decoding after 128 cached
//! tokens on `mobile-soc-pim`. A spinner on stderr names the stage (not under
//! `--json`, nor when stderr is not a terminal); `--json` prints the
//! [`crate::run::RunReport`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use triad_isa::Arch;
use triad_workloads::WeightFormat;

use super::compile::CompileOptions;
use super::source::SourceArgs;
use crate::run::{RunReport, RunSpec, Stage, run_with};

/// The model `triad run` evaluates when no source is given.
pub const DEFAULT_MODEL: &str = "gpt2-small";
/// The phase it uses with `--model` (or no source) when `--phase` is not given.
pub const DEFAULT_PHASE: &str = "decode:128";
/// The arch it uses when `--arch` is not given.
pub const DEFAULT_ARCH: &str = "mobile-soc-pim";

/// Arguments of `triad run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the graph comes from; default: `--model gpt2-small --phase decode:128`
    /// (a zoo model without `--phase` decodes after 128 cached tokens).
    #[command(flatten)]
    source: SourceArgs,
    /// Arch preset name or TOML file.
    #[arg(long, value_name = "NAME|FILE", default_value = DEFAULT_ARCH)]
    arch: PathBuf,
    /// Objective and e-graph limits (as `triad compile`).
    #[command(flatten)]
    options: CompileOptions,
    /// Print the report as JSON (no progress display).
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(mut args: Args) -> anyhow::Result<()> {
    let s = &mut args.source;
    if s.onnx.is_none() && s.graph.is_none() {
        s.model.get_or_insert_with(|| DEFAULT_MODEL.to_string());
        if s.phase.is_none() {
            s.phase = Some(DEFAULT_PHASE.parse()?);
        }
    }
    let source = args.source.source(WeightFormat::F16, &Default::default())?;
    let config = args.options.config()?;
    let arch = Arch::load(&args.arch)
        .with_context(|| format!("loading arch `{}`", args.arch.display()))?;
    let spec = RunSpec {
        source,
        arch,
        config,
    };
    let report = if args.json {
        crate::run::run(&spec)?
    } else {
        let bar = Spinner::new();
        let r = run_with(&spec, &mut |stage| bar.stage(stage));
        bar.finish();
        r?
    };
    if args.json {
        super::graph::write_stdout((serde_json::to_string_pretty(&report)? + "\n").as_bytes())
    } else {
        super::graph::write_stdout(table(&report).as_bytes())
    }
}

/// The stage spinner on stderr (hidden when stderr is not a terminal).
struct Spinner(indicatif::ProgressBar);

impl Spinner {
    fn new() -> Spinner {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(bar)
    }

    fn stage(&self, stage: Stage) {
        self.0.set_message(stage.name());
    }

    fn finish(self) {
        self.0.finish_and_clear();
    }
}

/// Picoseconds as a readable time.
fn time(ps: f64) -> String {
    match ps {
        x if x >= 1e12 => format!("{:.3} s", x * 1e-12),
        x if x >= 1e9 => format!("{:.3} ms", x * 1e-9),
        x if x >= 1e6 => format!("{:.3} us", x * 1e-6),
        x => format!("{:.3} ns", x * 1e-3),
    }
}

/// Picojoules as a readable energy.
fn energy(pj: f64) -> String {
    match pj {
        x if x >= 1e12 => format!("{:.3} J", x * 1e-12),
        x if x >= 1e9 => format!("{:.3} mJ", x * 1e-9),
        x if x >= 1e6 => format!("{:.3} uJ", x * 1e-6),
        x => format!("{:.3} nJ", x * 1e-3),
    }
}

/// The report as text.
pub fn table(r: &RunReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let what = [
        Some(r.model.clone()),
        r.phase.clone(),
        r.batch.map(|b| format!("batch {b}")),
        r.dtype.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let _ = writeln!(s, "{what} on {}", r.arch);
    let latency = match r.latency_kind {
        crate::run::LatencyKind::TimeToFirstToken => "time to first token",
        crate::run::LatencyKind::PerOutputToken => "latency per output token",
        crate::run::LatencyKind::PerVerifyStep => "latency per verify step",
        crate::run::LatencyKind::PerStep => "latency per step",
    };
    let _ = writeln!(
        s,
        "\n  {:<26}{:.1} tokens/s ({} tokens per step)",
        "throughput", r.tokens_per_s, r.tokens_per_step
    );
    let _ = writeln!(s, "  {latency:<26}{}", time(r.latency_per_token_ps as f64));
    let _ = writeln!(
        s,
        "  {:<26}{}",
        "energy per token",
        energy(r.energy_per_token_pj)
    );
    let _ = writeln!(
        s,
        "  {:<26}{:.2} of {:.2} GB/s ({:.0}%), row hits {:.0}%",
        "DRAM bandwidth",
        r.dram.bandwidth_gb_per_s,
        r.dram.peak_bandwidth_gb_per_s,
        100.0 * r.dram.bandwidth_share,
        100.0 * r.dram.row_hit_rate
    );
    let p = &r.placement;
    let ops: Vec<String> = p
        .ops
        .iter()
        .map(|(t, n)| format!("{n} on {}", target(*t)))
        .collect();
    let _ = writeln!(
        s,
        "  {:<26}{}; {} fallbacks, {} transfers, {} fused kernels, {} splits",
        "placement",
        ops.join(", "),
        p.fallbacks.len(),
        p.transfers,
        p.fusions,
        p.splits
    );
    let mut by_reason: std::collections::BTreeMap<(&str, &str, &str), usize> = Default::default();
    for f in &p.fallbacks {
        *by_reason
            .entry((target(f.placed), target(f.lowered), f.reason.as_str()))
            .or_default() += 1;
    }
    for ((placed, lowered, reason), n) in by_reason {
        let _ = writeln!(
            s,
            "  {:<26}{n} placed on {placed} ran on {lowered}: {reason}",
            ""
        );
    }
    let _ = writeln!(s, "\n  energy per token      share");
    let total = r.energy_per_token.total_pj;
    for (name, pj) in r.energy_per_token.parts() {
        if pj == 0.0 {
            continue;
        }
        let share = if total > 0.0 { 100.0 * pj / total } else { 0.0 };
        let _ = writeln!(s, "  {name:<11}{:>11} {share:>6.1}%", energy(pj));
    }
    let _ = writeln!(s, "\n  engine         busy  instructions");
    for e in &r.engines {
        let _ = writeln!(
            s,
            "  {:<10} {:>7.1}% {:>13}",
            e.engine,
            100.0 * e.busy_share,
            e.instructions
        );
    }
    let c = &r.compile;
    let _ = writeln!(
        s,
        "\n  compiled for {:?} (saturation: {}), {} instructions, estimated {} (simulated {})",
        c.objective,
        c.saturation_stop,
        c.instructions,
        time(c.estimated_ps),
        time(r.step_ps as f64)
    );
    s
}

fn target(t: triad_compiler::egraph::Target) -> &'static str {
    use triad_compiler::egraph::Target;
    match t {
        Target::Cpu => "CPU",
        Target::Npu => "NPU",
        Target::Pim => "PIM",
    }
}
