//! `triad graph`: build a zoo model's graph for one step (or read an ONNX or graph
//! JSON file) and print its statistics (a table or JSON), the graph itself as JSON or
//! ONNX, or Graphviz DOT. Output goes to stdout or, with `-o FILE`, to a file
//! written atomically (temporary sibling, then rename).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ValueEnum;
use triad_compiler::{dot, json, onnx, stats};
use triad_workloads::WeightFormat;

use super::source::SourceArgs;

/// What `triad graph` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// FLOPs, bytes and Op/B per layer, in total and per block kind.
    Stats,
    /// The graph in Triad's graph JSON format.
    Json,
    /// The graph as Graphviz DOT (`dot -Tsvg`).
    Dot,
    /// The graph as an ONNX model (standard ops; needs `-o FILE.onnx`).
    Onnx,
}

/// Arguments of `triad graph`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the graph comes from (zoo model, ONNX file or graph JSON).
    #[command(flatten)]
    source: SourceArgs,
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

/// The bytes `triad graph` writes for these arguments.
pub fn render(args: &Args) -> anyhow::Result<Vec<u8>> {
    if args.json && args.format != Format::Stats {
        bail!("--json applies to --format stats only (--format json already writes JSON)");
    }
    if args.format == Format::Onnx && args.output.is_none() {
        bail!("--format onnx writes a binary file: give -o FILE.onnx");
    }
    let g = args.source.load(WeightFormat::F16)?;
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
        Format::Onnx => return onnx::export_bytes(&g).context("exporting ONNX"),
    }
    .into_bytes())
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = render(&args)?;
    match &args.output {
        Some(path) => json::write_atomic(path, &bytes)
            .with_context(|| format!("writing `{}`", path.display())),
        None => write_stdout(&bytes),
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
