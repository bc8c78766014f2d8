//! `triad graph`: build a zoo model's graph for one step (or read a graph JSON file)
//! and print its statistics (a table or JSON), the graph itself as JSON, or Graphviz
//! DOT. Output goes to stdout or, with `-o FILE`, to a file written atomically
//! (temporary sibling, then rename).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ValueEnum;
use triad_compiler::{Graph, dot, json, stats};
use triad_workloads::{BuildOptions, Phase, WeightFormat};

/// What `triad graph` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// FLOPs, bytes and Op/B per layer, in total and per block kind.
    Stats,
    /// The graph in Triad's graph JSON format.
    Json,
    /// The graph as Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// Arguments of `triad graph`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Zoo model name (see `triad models`).
    #[arg(long, required_unless_present = "graph", conflicts_with = "graph")]
    model: Option<String>,
    /// Read this graph JSON file instead of building a zoo model.
    #[arg(long, value_name = "FILE.json")]
    graph: Option<PathBuf>,
    /// Model step: prefill:N, prefill:N/chunk:C, decode:KV or verify:K/kv:KV.
    #[arg(long, required_unless_present = "graph", conflicts_with = "graph")]
    phase: Option<Phase>,
    /// Sequences processed together.
    #[arg(long, default_value_t = 1, conflicts_with = "graph")]
    batch: usize,
    /// Weight format: f32, f16, bf16, w8a8, w8a16 or w4a16.
    #[arg(long, default_value = "f16", conflicts_with = "graph")]
    dtype: WeightFormat,
    /// Seed of the random weights (only matters for `--format json`).
    #[arg(long, default_value_t = 0, conflicts_with = "graph")]
    seed: u64,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Stats)]
    format: Format,
    /// With `--format stats`: print the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Load or build the graph the arguments name.
fn graph(args: &Args) -> anyhow::Result<Graph> {
    if let Some(path) = &args.graph {
        return json::load(path).with_context(|| format!("reading graph `{}`", path.display()));
    }
    let (Some(name), Some(phase)) = (&args.model, args.phase) else {
        bail!("give --model and --phase, or --graph FILE.json");
    };
    let cfg = triad_workloads::model(name)?;
    let opts = BuildOptions {
        phase,
        batch: args.batch,
        weights: args.dtype,
        seed: args.seed,
    };
    triad_workloads::build(&cfg, &opts)
        .with_context(|| format!("building `{name}` for {phase} ({})", args.dtype))
}

/// The text `triad graph` writes for these arguments.
pub fn render(args: &Args) -> anyhow::Result<String> {
    if args.json && args.format != Format::Stats {
        bail!("--json applies to --format stats only (--format json already writes JSON)");
    }
    let g = graph(args)?;
    Ok(match args.format {
        Format::Stats => {
            let report = stats::analyze(&g).context("computing graph statistics")?;
            if args.json {
                let mut s = serde_json::to_string_pretty(&report)?;
                s.push('\n');
                s
            } else {
                report.table()
            }
        }
        Format::Json => json::to_string(&g).context("writing graph JSON")?,
        Format::Dot => dot::to_dot(&g),
    })
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let text = render(&args)?;
    match &args.output {
        Some(path) => json::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing `{}`", path.display())),
        None => write_stdout(text.as_bytes()),
    }
}

/// Write to stdout; a closed pipe (`triad graph … | head`) is not an error.
pub(crate) fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}
