//! `triad eval`: run the reference interpreter on an ONNX file, a zoo model or a graph
//! JSON file, with inputs from `.npy` files, and write every graph output as
//! `DIR/NAME.npy` (characters of NAME outside `[A-Za-z0-9._-]` become `_`; each file
//! is written atomically).
//!
//! Inputs are given as `--input NAME=FILE.npy`; each is converted to the graph
//! input's dtype (floats round, integers must fit) and must have its exact shape.
//! A missing or unknown input is an error listing every expected input with its
//! shape and dtype.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use triad_compiler::onnx::npy;
use triad_compiler::{Graph, Tensor};
use triad_workloads::WeightFormat;

use super::source::SourceArgs;

/// Arguments of `triad eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the graph comes from (`--onnx`, `--model`, `--graph`).
    #[command(flatten)]
    source: SourceArgs,
    /// A graph input: `--input NAME=FILE.npy` (repeat for each input).
    #[arg(long = "input", value_name = "NAME=FILE.npy", value_parser = parse_input)]
    inputs: Vec<(String, PathBuf)>,
    /// Directory the outputs are written to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn parse_input(s: &str) -> Result<(String, PathBuf), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected NAME=FILE.npy"))?;
    Ok((k.to_string(), PathBuf::from(v)))
}

/// A file name for output `name`: characters outside `[A-Za-z0-9._-]` become `_`.
pub fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.npy")
}

/// `name: dtype[dims]` of every graph input, one per line.
fn expected(g: &Graph) -> String {
    g.inputs()
        .into_iter()
        .map(|id| {
            let v = &g.node(id).outputs[0];
            format!("  {}: {}", v.name, v.ty)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Read and convert the `--input` files for `g`.
fn feeds(g: &Graph, given: &[(String, PathBuf)]) -> anyhow::Result<BTreeMap<String, Tensor>> {
    let mut by_name: BTreeMap<&str, &Path> = BTreeMap::new();
    for (k, p) in given {
        if by_name.insert(k, p).is_some() {
            bail!("input `{k}` given twice");
        }
    }
    let wanted: Vec<_> = g
        .inputs()
        .into_iter()
        .map(|id| &g.node(id).outputs[0])
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|v| !by_name.contains_key(v.name.as_str()))
        .map(|v| v.name.as_str())
        .collect();
    let unknown: Vec<&str> = by_name
        .keys()
        .filter(|k| !wanted.iter().any(|v| v.name == **k))
        .copied()
        .collect();
    if !missing.is_empty() || !unknown.is_empty() {
        bail!(
            "inputs missing: [{}], unknown: [{}]; the graph expects (--input NAME=FILE.npy):\n{}",
            missing.join(", "),
            unknown.join(", "),
            expected(g)
        );
    }
    let mut out = BTreeMap::new();
    for v in wanted {
        let path = by_name[v.name.as_str()];
        let t = npy::read_npy(path)?;
        let t = npy::convert(&t, &v.ty, &v.name)
            .with_context(|| format!("input `{}` from `{}`", v.name, path.display()))?;
        out.insert(v.name.clone(), t);
    }
    Ok(out)
}

/// Run `triad eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    // Zoo models run in f32 unless --dtype says otherwise.
    let g = args.source.load(WeightFormat::F32)?;
    let inputs = feeds(&g, &args.inputs)?;
    let outputs = triad_compiler::run(&g, &inputs).context("running the reference interpreter")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating `{}`", args.out.display()))?;
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    for (name, t) in &outputs {
        let file = file_name(name);
        if let Some(other) = written.insert(file.clone(), name.clone()) {
            bail!("outputs `{other}` and `{name}` both map to file `{file}`");
        }
        let path = args.out.join(&file);
        npy::write_npy(&path, t)?;
        println!("{name}: {} -> {}", t.ty(), path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_sanitised() {
        assert_eq!(file_name("logits"), "logits.npy");
        assert_eq!(file_name("/model/out:0 x"), "_model_out_0_x.npy");
        assert_eq!(file_name("a.b-c_d"), "a.b-c_d.npy");
        assert_eq!(file_name("é"), "_.npy");
    }

    #[test]
    fn inputs_parse() {
        assert_eq!(
            parse_input("input_ids=a/b.npy"),
            Ok(("input_ids".into(), PathBuf::from("a/b.npy")))
        );
        assert!(parse_input("input_ids").is_err());
    }
}
