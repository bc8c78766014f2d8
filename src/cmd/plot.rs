//! `triad plot`: SVG plots of what the other commands write. `roofline` draws an
//! arch's roofs with a program's ops (from `compile --explain json`, optionally with
//! `sim --json` or `sim --trace` for simulated times), `energy` the energy breakdown
//! of `sim --json` reports, `pareto` a sweep's points on two metrics of a JSON-lines
//! file with the Pareto front marked, `gantt` the per-engine timeline of a
//! `sim --trace` file. The SVG is written atomically to `-o`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use triad_compiler::json::write_atomic;
use triad_isa::Arch;

use crate::plot::inputs::{ExplainIn, Input, SimIn, TraceIn, read_input, read_jsonl_xy};
use crate::plot::{energy, gantt, pareto, roofline};

/// Arguments of `triad plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    kind: Kind,
}

/// The plot to draw.
#[derive(Subcommand, Debug)]
enum Kind {
    /// The arch's roofline (NPU, CPU and PIM roofs) with each op at its Op/B and
    /// achieved rate, coloured by target. Inputs: `compile --explain json` output,
    /// optionally a `sim --json` report or a `sim --trace` file of the same program
    /// for simulated times (the trace's per-op wall time is preferred).
    Roofline {
        /// The JSON files.
        #[arg(required = true, value_name = "INPUT")]
        inputs: Vec<PathBuf>,
        /// Arch preset name or TOML file; default: the arch the explanation names.
        #[arg(long, value_name = "NAME|FILE")]
        arch: Option<PathBuf>,
        /// Output SVG file.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Energy by component (one stacked column per `sim --json` or `run --json`
    /// report), with `--top N` the N labels of one sim report with the most dynamic
    /// energy beside it.
    Energy {
        /// `triad sim --json` (or `triad run --json`) reports.
        #[arg(required = true, value_name = "REPORT")]
        inputs: Vec<PathBuf>,
        /// Also show the N labels (ops) with the most energy (one report only).
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// Output SVG file.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
    },
    /// A sweep's points on two metrics with the Pareto front marked (both minimised
    /// unless `--max-x` / `--max-y`). Input: JSON lines, one object per point.
    Pareto {
        /// The JSON-lines file.
        #[arg(value_name = "RESULTS")]
        input: PathBuf,
        /// Dotted path of the x metric in each object (`metrics.latency_ps`).
        #[arg(long, value_name = "KEY")]
        x: String,
        /// Dotted path of the y metric in each object.
        #[arg(long, value_name = "KEY")]
        y: String,
        /// Larger x is better.
        #[arg(long)]
        max_x: bool,
        /// Larger y is better.
        #[arg(long)]
        max_y: bool,
        /// Draw x on a log axis (values must be positive).
        #[arg(long)]
        log_x: bool,
        /// Draw y on a log axis (values must be positive).
        #[arg(long)]
        log_y: bool,
        /// Output SVG file.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
    },
    /// One row per engine of a `sim --trace` file, a bar per op span (or instruction).
    Gantt {
        /// The `triad sim --trace` file.
        #[arg(value_name = "TRACE")]
        input: PathBuf,
        /// What one bar is.
        #[arg(long, value_enum, default_value_t = By::Label)]
        by: By,
        /// Output SVG file.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// What one Gantt bar stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum By {
    /// Back-to-back instructions of one label on one engine.
    Label,
    /// Every instruction.
    Instruction,
}

/// Run `triad plot`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (output, svg, summary) = match args.kind {
        Kind::Roofline {
            inputs,
            arch,
            output,
        } => {
            let (svg, summary) = plot_roofline(&inputs, arch.as_deref())?;
            (output, svg, summary)
        }
        Kind::Energy {
            inputs,
            top,
            output,
        } => {
            let (svg, summary) = plot_energy(&inputs, top)?;
            (output, svg, summary)
        }
        Kind::Pareto {
            input,
            x,
            y,
            max_x,
            max_y,
            log_x,
            log_y,
            output,
        } => {
            let points = read_jsonl_xy(&input, &x, &y)?;
            let p = pareto::ParetoPlot {
                title: format!("{}: Pareto front", file_name(&input)),
                x_name: x,
                y_name: y,
                points,
                maximize: (max_x, max_y),
                log: (log_x, log_y),
            };
            let on = pareto::front(&p.points, p.maximize);
            let summary = format!(
                "{} points, {} on the front",
                p.points.len(),
                on.iter().filter(|f| **f).count()
            );
            let svg =
                pareto::render(&p).with_context(|| format!("plotting `{}`", input.display()))?;
            (output, svg, summary)
        }
        Kind::Gantt { input, by, output } => {
            let trace: TraceIn = crate::plot::inputs::read_as(&input, "a Chrome trace")?;
            let (rows, bars) = gantt::from_trace(&trace, by == By::Label)
                .with_context(|| format!("reading `{}`", input.display()))?;
            let g = gantt::Gantt {
                title: format!("{}: per-engine timeline", file_name(&input)),
                rows,
                bars,
            };
            let summary = format!("{} engines, {} bars", g.rows.len(), g.bars.len());
            (output, gantt::render(&g)?, summary)
        }
    };
    write_atomic(&output, svg.as_bytes())
        .with_context(|| format!("writing `{}`", output.display()))?;
    eprintln!("wrote {} ({summary})", output.display());
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The roofline of the explanation among `inputs`, with times from the sim report
/// or trace among them.
fn plot_roofline(inputs: &[PathBuf], arch: Option<&Path>) -> anyhow::Result<(String, String)> {
    let mut explain: Option<ExplainIn> = None;
    let mut sim: Option<(SimIn, &Path)> = None;
    let mut trace: Option<TraceIn> = None;
    for path in inputs {
        let twice = |what: &str| format!("`{}`: a second {what}; give one", path.display());
        match read_input(path)? {
            Input::Explain(e) if explain.is_none() => explain = Some(e),
            Input::Sim(s) if sim.is_none() => sim = Some((s, path)),
            Input::Trace(t) if trace.is_none() => trace = Some(t),
            Input::Explain(_) => bail!(twice("explanation")),
            Input::Sim(_) => bail!(twice("sim report")),
            Input::Trace(_) => bail!(twice("trace")),
        }
    }
    let Some(explain) = explain else {
        bail!("roofline needs the output of `triad compile --explain json` among its inputs");
    };
    if let Some((s, path)) = &sim
        && s.arch != explain.arch
    {
        bail!(
            "`{}` is a run on `{}` but the explanation is for `{}`",
            path.display(),
            s.arch,
            explain.arch
        );
    }
    let spec = arch.map_or_else(|| PathBuf::from(&explain.arch), Path::to_path_buf);
    let arch = Arch::load(&spec).with_context(|| format!("loading arch `{}`", spec.display()))?;
    let label_ps: BTreeMap<String, f64> = match (&trace, &sim) {
        (Some(t), _) => t.label_wall_ps(),
        (None, Some((s, _))) => s
            .labels
            .iter()
            .map(|(k, l)| (k.clone(), l.busy_ps as f64))
            .collect(),
        (None, None) => BTreeMap::new(),
    };
    let simulated = roofline::times_by_node(explain.rows.iter().map(|r| r.node.clone()), &label_ps);
    let (points, left_out) = roofline::points(&explain.rows, &simulated);
    let r = roofline::Roofline {
        title: format!(
            "{} on {}: roofline (filled: simulated time, hollow: estimated)",
            explain.graph, arch.name
        ),
        roofs: roofline::roofs(&arch, &roofline::dtypes_used(&explain.rows)),
        points,
    };
    let n_sim = r.points.iter().filter(|p| p.simulated).count();
    let summary = format!(
        "{} roofs, {} ops: {} simulated, {} estimated; {} without FLOPs, DRAM bytes or a target left out",
        r.roofs.len(),
        r.points.len(),
        n_sim,
        r.points.len() - n_sim,
        left_out
    );
    Ok((roofline::render(&r)?, summary))
}

/// The energy plot of the reports `inputs`.
fn plot_energy(inputs: &[PathBuf], top: Option<usize>) -> anyhow::Result<(String, String)> {
    if top.is_some() && inputs.len() > 1 {
        bail!("--top shows the labels of one report: give one input");
    }
    let mut columns = Vec::new();
    let mut reports = Vec::new();
    for path in inputs {
        let s: SimIn = crate::plot::inputs::read_as(path, "a `triad sim --json` report")?;
        let parts = s
            .energy_parts()
            .with_context(|| format!("reading `{}`", path.display()))?;
        let name = match (s.model.as_str(), &s.phase) {
            ("", _) => file_name(path),
            (m, Some(p)) => format!("{m} {p} on {}", s.arch),
            (m, None) => format!("{m} on {}", s.arch),
        };
        columns.push(energy::EnergyColumn { name, parts });
        reports.push(s);
    }
    // Same model and arch twice: the file names tell the columns apart.
    let mut names: Vec<&String> = columns.iter().map(|c| &c.name).collect();
    names.sort();
    names.dedup();
    if names.len() < columns.len() {
        for (c, path) in columns.iter_mut().zip(inputs) {
            c.name = file_name(path);
        }
    }
    if columns.iter().any(|c| {
        c.parts
            .iter()
            .map(|p| &p.0)
            .ne(columns[0].parts.iter().map(|p| &p.0))
    }) {
        bail!("the reports list different energy components; plot them one at a time");
    }
    let labels = match (top, reports.first()) {
        (Some(n), Some(s)) => {
            energy::top_labels(s.labels.iter().map(|(k, l)| (k.clone(), l.energy_pj)), n)
        }
        _ => Vec::new(),
    };
    let title = match columns.as_slice() {
        [c] => format!(
            "{}: energy {:.3} uJ",
            c.name,
            c.parts.iter().map(|p| p.1).sum::<f64>() * 1e-6
        ),
        _ => "energy by component".to_string(),
    };
    let p = energy::EnergyPlot {
        title,
        columns,
        labels,
    };
    let summary = format!("{} reports, {} labels", p.columns.len(), p.labels.len());
    Ok((energy::render(&p)?, summary))
}
