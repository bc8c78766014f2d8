//! `triad eval`: run the reference interpreter on an ONNX file, a zoo model or a graph
//! JSON file, with inputs from `.npy` files, and write every graph output as
//! `DIR/NAME.npy` (characters of NAME outside `[A-Za-z0-9._-]` become `_`; each file
//! is written atomically).
//!
//! Inputs are given as `--input NAME=FILE.npy`. Each file must hold the input's
//! element type (as ONNX Runtime requires; bf16 inputs take float32, NumPy having no
//! bfloat16) and its shape; a mismatch is an error naming the input and both types.
//! For an ONNX file, the symbolic dims of its inputs (`batch`, `sequence`) are bound
//! from the shapes of the files fed to them, as ONNX Runtime binds them; `--dim`
//! wins, and a file whose shape disagrees with `--dim` or with another input on a
//! dim is an error naming the input, the dim and both values. A missing or unknown
//! input is an error listing every expected input with its shape and dtype.
//! Zoo models (`--model`) are built with f16 weights unless `--dtype` says
//! otherwise, as in `triad graph`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use triad_compiler::onnx::{self, DeclaredDim, npy, npy::NpyType};
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
    #[arg(short = 'o', long, alias = "out", value_name = "DIR")]
    output: PathBuf,
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

/// Check the names given with `--input`: none twice.
fn by_name(given: &[(String, PathBuf)]) -> anyhow::Result<BTreeMap<&str, &Path>> {
    let mut by_name: BTreeMap<&str, &Path> = BTreeMap::new();
    for (k, p) in given {
        if by_name.insert(k, p).is_some() {
            bail!("input `{k}` given twice");
        }
    }
    Ok(by_name)
}

/// Read every `--input` file once.
fn read_inputs(given: &[(String, PathBuf)]) -> anyhow::Result<BTreeMap<String, (Tensor, NpyType)>> {
    let mut out = BTreeMap::new();
    for (name, path) in by_name(given)? {
        let t = npy::read_npy_file_typed(path)
            .with_context(|| format!("input `{name}` from `{}`", path.display()))?;
        out.insert(name.to_string(), t);
    }
    Ok(out)
}

/// The symbolic dims of the ONNX model at `path` bound from the shapes of the files
/// fed to its inputs. `explicit` (`--dim`) wins over a file; a file that disagrees
/// with `--dim` or with an earlier input is an error naming both values.
fn dims_from_inputs(
    path: &Path,
    explicit: &BTreeMap<String, usize>,
    read: &BTreeMap<String, (Tensor, NpyType)>,
    given: &[(String, PathBuf)],
) -> anyhow::Result<BTreeMap<String, usize>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
    let declared = onnx::declared_inputs(&bytes, path)
        .with_context(|| format!("importing ONNX `{}`", path.display()))?;
    let files = by_name(given)?;
    // dim name -> (value, the input that bound it)
    let mut bound: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for d in &declared {
        let Some((t, _)) = read.get(&d.name) else {
            continue;
        };
        let file = files[d.name.as_str()].display();
        if t.shape().len() != d.dims.len() {
            bail!(
                "input `{}`: `{file}` has {} dims {:?}, the model's input has {}",
                d.name,
                t.shape().len(),
                t.shape(),
                d.dims.len()
            );
        }
        for (dim, &n) in d.dims.iter().zip(t.shape()) {
            let DeclaredDim::Symbolic(sym) = dim else {
                continue;
            };
            if let Some(&want) = explicit.get(sym) {
                if want != n {
                    bail!(
                        "input `{}`: dim `{sym}` is {n} in `{file}` but --dim {sym}={want}",
                        d.name
                    );
                }
                continue;
            }
            match bound.get(sym) {
                Some((v, other)) if *v != n => bail!(
                    "input `{}`: dim `{sym}` is {n} in `{file}` but {v} in input `{other}`",
                    d.name
                ),
                Some(_) => {}
                None => {
                    bound.insert(sym.clone(), (n, d.name.clone()));
                }
            }
        }
    }
    Ok(bound.into_iter().map(|(k, (v, _))| (k, v)).collect())
}

/// Convert the read `--input` files to the types of `g`'s inputs.
fn feeds(
    g: &Graph,
    given: &[(String, PathBuf)],
    read: BTreeMap<String, (Tensor, NpyType)>,
) -> anyhow::Result<BTreeMap<String, Tensor>> {
    let files = by_name(given)?;
    let wanted: Vec<_> = g
        .inputs()
        .into_iter()
        .map(|id| &g.node(id).outputs[0])
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|v| !read.contains_key(&v.name))
        .map(|v| v.name.as_str())
        .collect();
    let unknown: Vec<&str> = read
        .keys()
        .filter(|k| !wanted.iter().any(|v| &v.name == *k))
        .map(String::as_str)
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
        let (t, ty) = &read[&v.name];
        let t = npy::convert_exact(t, *ty, &v.ty, &v.name).with_context(|| {
            format!(
                "input `{}` from `{}`",
                v.name,
                files[v.name.as_str()].display()
            )
        })?;
        out.insert(v.name.clone(), t);
    }
    Ok(out)
}

/// Run `triad eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let read = read_inputs(&args.inputs)?;
    let bound = match &args.source.onnx {
        Some(path) => {
            let explicit = args.source.explicit_dims()?;
            dims_from_inputs(path, &explicit, &read, &args.inputs)?
        }
        None => BTreeMap::new(),
    };
    // Zoo models are built in f16 unless --dtype says otherwise, as in `graph`.
    let g = args.source.load_with_dims(WeightFormat::F16, &bound)?;
    let inputs = feeds(&g, &args.inputs, read)?;
    let outputs = triad_compiler::run(&g, &inputs).context("running the reference interpreter")?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating `{}`", args.output.display()))?;
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    for (name, t) in &outputs {
        let file = file_name(name);
        if let Some(other) = written.insert(file.clone(), name.clone()) {
            bail!("outputs `{other}` and `{name}` both map to file `{file}`");
        }
        let path = args.output.join(&file);
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
