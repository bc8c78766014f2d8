//! `triad compile`: a zoo model step, an ONNX file or a graph JSON compiled for an
//! arch: e-graph optimisation and placement, list scheduling across engines,
//! lowering to a program that `triad verify` accepts and `triad sim` runs.
//!
//! `--emit tasm|tbin|json` writes the program (the form follows `-o`'s extension
//! when `--emit` is not given); weights with explicit data and PIM weight layouts go
//! to a data file beside it (`NAME.data.bin`, named by the program's `.init file=`
//! entries). `--emit placed-graph` writes the placed graph as JSON (graph, the target
//! of every op, the transfers), `--emit egraph-stats` the saturation, extraction,
//! schedule and lowering reports. Every file is written atomically. `--explain`
//! prints, per op, its shape, Op/B, the target chosen, the estimated cost on every
//! target and the rewrites that fired (a table, or JSON with `--explain json`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;
use serde_json::json;
use triad_compiler::egraph::explain::explain;
use triad_compiler::egraph::{Config, CostModel, Objective};
use triad_compiler::json;
use triad_compiler::lower::{Compiled, LowerConfig, compile};
use triad_isa::{Arch, Format};
use triad_workloads::WeightFormat;

use super::source::SourceArgs;

/// What `triad compile` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The program as text assembly.
    Tasm,
    /// The program as binary `.tbin`.
    Tbin,
    /// The program as JSON.
    Json,
    /// The placed graph (graph JSON, the target of every op, the transfers).
    PlacedGraph,
    /// Saturation, extraction, schedule and lowering reports as JSON.
    EgraphStats,
}

/// What extraction minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveArg {
    /// Estimated time.
    #[default]
    Latency,
    /// Estimated energy.
    Energy,
    /// Energy-delay product.
    Edp,
}

/// Arguments of `triad compile`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the graph comes from (zoo model, ONNX file or graph JSON).
    #[command(flatten)]
    source: SourceArgs,
    /// Arch preset name or TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    arch: PathBuf,
    /// Output file (written atomically); the program forms need it.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// What to write; default: the program, in the form `-o`'s extension names
    /// (`.tbin`, `.json`, else text).
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Objective and e-graph limits.
    #[command(flatten)]
    options: CompileOptions,
    /// Print why each op went where it went (to stdout): `table` (default) or `json`.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "table", value_name = "FORM")]
    explain: Option<ExplainForm>,
}

/// How `--explain` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExplainForm {
    /// A plain-text table.
    Table,
    /// JSON (the `Explanation` record).
    Json,
}

/// The compiler options shared by `triad compile` and `triad run`: what extraction
/// minimises and the e-graph's limits.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CompileOptions {
    /// What extraction minimises.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Latency)]
    pub objective: ObjectiveArg,
    /// Saturation stops past this many e-nodes.
    #[arg(long, value_name = "N")]
    pub node_limit: Option<usize>,
    /// Saturation stops after this many iterations.
    #[arg(long, value_name = "N")]
    pub iter_limit: Option<usize>,
    /// Saturation stops after this many seconds (the result then depends on the machine).
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
}

impl CompileOptions {
    /// The e-graph configuration the flags ask for (limits checked).
    pub fn config(&self) -> anyhow::Result<Config> {
        config(self)
    }
}

impl ObjectiveArg {
    /// The compiler's objective.
    pub fn objective(self) -> Objective {
        match self {
            ObjectiveArg::Latency => Objective::Latency,
            ObjectiveArg::Energy => Objective::Energy,
            ObjectiveArg::Edp => Objective::Edp,
        }
    }
}

/// The e-graph configuration the flags ask for.
fn config(args: &CompileOptions) -> anyhow::Result<Config> {
    let mut c = Config::default();
    c.extract.objective = args.objective.objective();
    if let Some(n) = args.node_limit {
        if n == 0 {
            bail!("--node-limit must be at least 1");
        }
        c.saturation.node_limit = n;
    }
    if let Some(n) = args.iter_limit {
        if n == 0 {
            bail!("--iter-limit must be at least 1");
        }
        c.saturation.iter_limit = n;
    }
    if let Some(s) = args.time_limit {
        if !(s.is_finite() && s > 0.0) {
            bail!("--time-limit must be a positive number of seconds, not {s}");
        }
        c.saturation.time_limit = Duration::from_secs_f64(s);
    }
    Ok(c)
}

/// The form to write and whether it is a program form.
fn emit_of(args: &Args) -> anyhow::Result<Emit> {
    let by_ext = args.output.as_deref().and_then(Format::from_extension);
    let emit = match (args.emit, by_ext) {
        (Some(e), _) => e,
        (None, Some(Format::Binary)) => Emit::Tbin,
        (None, Some(Format::Json)) => Emit::Json,
        (None, _) => Emit::Tasm,
    };
    if matches!(emit, Emit::Tasm | Emit::Tbin | Emit::Json) && args.output.is_none() {
        let name = emit
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        bail!(
            "--emit {name} writes a program and its data file: give -o FILE (.tasm, .tbin or .json)"
        );
    }
    if emit == Emit::Tbin && by_ext.is_some_and(|f| f != Format::Binary) {
        bail!("--emit tbin needs a .tbin output name");
    }
    Ok(emit)
}

/// The data file's name for program `out` (`prog.tasm` -> `prog.data.bin`).
fn data_name(out: &Path) -> String {
    let stem = out.file_stem().map_or_else(
        || "program".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    format!("{stem}.data.bin")
}

/// Run `triad compile`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let emit = emit_of(&args)?;
    if args.explain.is_some() && args.output.is_none() {
        bail!("--explain prints to stdout: give -o FILE for what --emit writes");
    }
    let cfg = args.options.config()?;
    let arch = Arch::load(&args.arch)
        .with_context(|| format!("loading arch `{}`", args.arch.display()))?;
    let graph = args.source.load(WeightFormat::F16)?;
    let data_file = args
        .output
        .as_deref()
        .map_or_else(|| "program.data.bin".into(), data_name);
    let model = match (graph.meta.get("model"), graph.meta.get("phase")) {
        (Some(m), Some(p)) => format!("{m} {p}"),
        _ => graph.name.clone(),
    };
    let lc = LowerConfig {
        model,
        data_file: data_file.clone(),
    };
    let c = compile(&graph, &arch, &cfg, &lc)
        .with_context(|| format!("compiling `{}` for `{}`", graph.name, arch.name))?;
    let bytes = match emit {
        Emit::Tasm => c.lowered.program.encode(Format::Text)?,
        Emit::Tbin => c.lowered.program.encode(Format::Binary)?,
        Emit::Json => c.lowered.program.encode(Format::Json)?,
        Emit::PlacedGraph => placed_json(&c)?.into_bytes(),
        Emit::EgraphStats => stats_json(&c)?.into_bytes(),
    };
    match &args.output {
        Some(out) => {
            if matches!(emit, Emit::Tasm | Emit::Tbin | Emit::Json) && !c.lowered.data.is_empty() {
                let data = out.with_file_name(&data_file);
                json::write_atomic(&data, &c.lowered.data)
                    .with_context(|| format!("writing `{}`", data.display()))?;
            }
            json::write_atomic(out, &bytes)
                .with_context(|| format!("writing `{}`", out.display()))?;
            eprintln!("{}", summary(&c, out));
            if let Some(form) = args.explain {
                let e = explain(&graph, &c.optimized, &CostModel::new(&arch))
                    .context("explaining the placement")?;
                let text = match form {
                    ExplainForm::Table => e.table(),
                    ExplainForm::Json => serde_json::to_string_pretty(&e)? + "\n",
                };
                super::graph::write_stdout(text.as_bytes())?;
            }
        }
        None => super::graph::write_stdout(&bytes)?,
    }
    Ok(())
}

fn summary(c: &Compiled, out: &Path) -> String {
    let p = &c.lowered.program;
    let s = &c.lowered.stats;
    let ops: Vec<String> = s.ops.iter().map(|(t, n)| format!("{t} {n}")).collect();
    format!(
        "wrote {} ({} buffers, {} streams, {} instructions); ops: {}; {} fallbacks; estimated {:.3} us scheduled ({:.3} us one after another)",
        out.display(),
        p.buffers.len(),
        p.streams.len(),
        p.insn_count(),
        ops.join(", "),
        s.fallbacks.len(),
        c.schedule.makespan_ps * 1e-6,
        c.schedule.serial_ps * 1e-6,
    )
}

fn placed_json(c: &Compiled) -> anyhow::Result<String> {
    let placed = &c.optimized.placed;
    let g: serde_json::Value = serde_json::from_str(&json::to_string(&placed.graph)?)?;
    let placement: serde_json::Map<String, serde_json::Value> = placed
        .placement
        .iter()
        .map(|(id, t)| (placed.graph.node(*id).name.clone(), json!(t)))
        .collect();
    let transfers: Vec<_> = placed
        .transfers
        .iter()
        .map(
            |t| json!({"value": placed.graph.value_info(t.value).name, "from": t.from, "to": t.to}),
        )
        .collect();
    let mut s = serde_json::to_string_pretty(&json!({
        "graph": g,
        "placement": placement,
        "transfers": transfers,
        "estimate": placed.cost,
    }))?;
    s.push('\n');
    Ok(s)
}

fn stats_json(c: &Compiled) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(&json!({
        "saturation": c.optimized.saturation,
        "extraction": c.optimized.extraction,
        "schedule": {
            "makespan_ps": c.schedule.makespan_ps,
            "serial_ps": c.schedule.serial_ps,
            "ops": c.schedule.order.len(),
        },
        "lowering": c.lowered.stats,
    }))?;
    s.push('\n');
    Ok(s)
}
