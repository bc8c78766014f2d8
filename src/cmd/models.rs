//! `triad models`: list the model zoo as a table (name, family, parameters, layers,
//! hidden size, query/KV heads, experts) or as JSON.

use std::fmt::Write as _;

use serde::Serialize;
use triad_workloads::ModelConfig;

/// Arguments of `triad models`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the list as JSON (one object per model, exact parameter counts).
    #[arg(long)]
    json: bool,
}

/// One zoo model as `triad models` shows it.
#[derive(Serialize, Debug)]
struct Row {
    name: String,
    family: String,
    params: u64,
    layers: usize,
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    ffn: usize,
    vocab: usize,
    experts: usize,
    top_k: usize,
    source: String,
}

impl Row {
    fn new(m: &ModelConfig) -> anyhow::Result<Row> {
        let family = match serde_json::to_value(m.family)? {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        Ok(Row {
            name: m.name.clone(),
            family,
            params: m.param_count(),
            layers: m.layers,
            hidden: m.hidden,
            heads: m.heads,
            kv_heads: m.kv_heads,
            head_dim: m.head_dim,
            ffn: m.ffn,
            vocab: m.vocab,
            experts: m.experts,
            top_k: m.top_k,
            source: m.source.clone(),
        })
    }
}

/// A parameter count with a decimal prefix: `124.4M`, `8.03B`, `98.6k`.
fn params(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2}B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        n.to_string()
    }
}

/// The zoo as an aligned text table.
fn table(rows: &[Row]) -> String {
    let header = [
        "name", "family", "params", "layers", "hidden", "heads/kv", "experts",
    ];
    let mut lines: Vec<[String; 7]> = vec![header.map(String::from)];
    for r in rows {
        let experts = if r.experts > 1 {
            format!("{} (top {})", r.experts, r.top_k)
        } else {
            "-".to_string()
        };
        lines.push([
            r.name.clone(),
            r.family.clone(),
            params(r.params),
            r.layers.to_string(),
            r.hidden.to_string(),
            format!("{}/{}", r.heads, r.kv_heads),
            experts,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            // Names and families left-aligned, numbers right-aligned.
            if c < 2 {
                let _ = write!(text, "{cell:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(text, "{cell:>w$}  ", w = widths[c]);
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    }
    out
}

/// Runs the subcommand, printing to stdout.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rows = triad_workloads::models()
        .iter()
        .map(Row::new)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&rows)?;
        s.push('\n');
        s
    } else {
        table(&rows)
    };
    super::graph::write_stdout(text.as_bytes())
}
