//! Where a command's graph comes from: a zoo model built for one step (`--model`
//! with `--phase`, `--batch`, `--dtype`, `--seed`), an ONNX file (`--onnx`, with
//! `--dim NAME=N` binding its symbolic dims) or a graph JSON file (`--graph`).
//! Every command that takes a model flattens these arguments, so the three sources
//! behave the same everywhere.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use triad_compiler::{Graph, json, onnx};
use triad_workloads::{BuildOptions, Phase, WeightFormat};

/// The model-source arguments shared by `graph`, `eval` and later commands.
#[derive(clap::Args, Debug)]
pub struct SourceArgs {
    /// Zoo model name (see `triad models`).
    #[arg(long, conflicts_with_all = ["onnx", "graph"])]
    pub model: Option<String>,
    /// ONNX model file (bind its symbolic dims with --dim).
    #[arg(long, value_name = "FILE.onnx", conflicts_with = "graph")]
    pub onnx: Option<PathBuf>,
    /// Graph JSON file.
    #[arg(long, value_name = "FILE.json")]
    pub graph: Option<PathBuf>,
    /// With --model: prefill:N, prefill:N/chunk:C, decode:KV or verify:K/kv:KV.
    #[arg(long)]
    pub phase: Option<Phase>,
    /// With --model: sequences processed together.
    #[arg(long)]
    pub batch: Option<usize>,
    /// With --model: weight format (f32, f16, bf16, w8a8, w8a16, w4a16).
    #[arg(long)]
    pub dtype: Option<WeightFormat>,
    /// With --model: seed of the random weights.
    #[arg(long)]
    pub seed: Option<u64>,
    /// With --onnx: bind a symbolic dim, e.g. `--dim batch=1 --dim sequence=128`.
    #[arg(long = "dim", value_name = "NAME=N", value_parser = parse_dim)]
    pub dims: Vec<(String, usize)>,
}

/// Parse `NAME=N`.
fn parse_dim(s: &str) -> Result<(String, usize), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected NAME=N"))?;
    if k.is_empty() {
        return Err(format!("`{s}`: the dim name is empty"));
    }
    let v = v
        .parse()
        .map_err(|_| format!("`{s}`: `{v}` is not a non-negative integer"))?;
    Ok((k.to_string(), v))
}

/// Where a graph comes from, without the command line: what [`SourceArgs`] resolve to
/// and what library callers (`triad run`'s [`crate::run::RunSpec`], sweeps) build.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A zoo model built for one step.
    Model {
        /// Zoo name (see `triad models`).
        name: String,
        /// The step.
        phase: Phase,
        /// Sequences processed together (at least 1).
        batch: usize,
        /// Weight format.
        dtype: WeightFormat,
        /// Seed of the random weights.
        seed: u64,
    },
    /// An ONNX file with its symbolic dims bound.
    Onnx {
        /// The file.
        path: PathBuf,
        /// `NAME -> N` bindings of symbolic dims.
        dims: BTreeMap<String, usize>,
    },
    /// A graph JSON file.
    Graph {
        /// The file.
        path: PathBuf,
    },
}

impl Source {
    /// Build or read the graph. A zoo model's phase must make sense for it (an
    /// encoder keeps no KV cache: prefill only), else the error names both.
    pub fn load(&self) -> anyhow::Result<Graph> {
        match self {
            Source::Onnx { path, dims } => onnx::import(path, dims)
                .with_context(|| format!("importing ONNX `{}`", path.display())),
            Source::Graph { path } => {
                json::load(path).with_context(|| format!("reading graph `{}`", path.display()))
            }
            Source::Model {
                name,
                phase,
                batch,
                dtype,
                seed,
            } => {
                let cfg = triad_workloads::model(name)?;
                cfg.check_phase(*phase)?;
                let opts = BuildOptions {
                    phase: *phase,
                    batch: *batch,
                    weights: *dtype,
                    seed: *seed,
                };
                triad_workloads::build(&cfg, &opts)
                    .with_context(|| format!("building `{name}` for {phase} ({dtype})"))
            }
        }
    }
}

impl SourceArgs {
    /// Build or read the graph; `default_weights` is the weight format a zoo model
    /// gets when `--dtype` is not given.
    pub fn load(&self, default_weights: WeightFormat) -> anyhow::Result<Graph> {
        self.load_with_dims(default_weights, &BTreeMap::new())
    }

    /// The `--dim NAME=N` bindings (a name given twice is an error).
    pub fn explicit_dims(&self) -> anyhow::Result<BTreeMap<String, usize>> {
        let mut dims = BTreeMap::new();
        for (k, v) in &self.dims {
            if dims.insert(k.clone(), *v).is_some() {
                bail!("--dim {k} given twice");
            }
        }
        Ok(dims)
    }

    /// [`SourceArgs::load`] with more dim bindings for an ONNX file: `bound` (dims
    /// taken from the data fed) applies where `--dim` does not name the dim.
    pub fn load_with_dims(
        &self,
        default_weights: WeightFormat,
        bound: &BTreeMap<String, usize>,
    ) -> anyhow::Result<Graph> {
        self.source(default_weights, bound)?.load()
    }

    /// What the arguments name (checked for flags that do not fit the source); a
    /// zoo model gets `default_weights` when `--dtype` is not given and an ONNX file
    /// the `bound` dims where `--dim` does not name them.
    pub fn source(
        &self,
        default_weights: WeightFormat,
        bound: &BTreeMap<String, usize>,
    ) -> anyhow::Result<Source> {
        let model_only = [
            ("--phase", self.phase.is_some()),
            ("--batch", self.batch.is_some()),
            ("--dtype", self.dtype.is_some()),
            ("--seed", self.seed.is_some()),
        ];
        if self.model.is_none()
            && let Some((flag, _)) = model_only.iter().find(|(_, given)| *given)
        {
            bail!("{flag} applies to --model only (a file already fixes it)");
        }
        if self.onnx.is_none() && !self.dims.is_empty() {
            bail!("--dim applies to --onnx only");
        }
        if let Some(path) = &self.onnx {
            let mut dims = self.explicit_dims()?;
            for (k, v) in bound {
                dims.entry(k.clone()).or_insert(*v);
            }
            return Ok(Source::Onnx {
                path: path.clone(),
                dims,
            });
        }
        if let Some(path) = &self.graph {
            return Ok(Source::Graph { path: path.clone() });
        }
        let Some(name) = &self.model else {
            bail!("give --model NAME (with --phase), --onnx FILE.onnx or --graph FILE.json");
        };
        let Some(phase) = self.phase else {
            bail!(
                "--model needs --phase: prefill:N, prefill:N/chunk:C, decode:KV or verify:K/kv:KV"
            );
        };
        Ok(Source::Model {
            name: name.clone(),
            phase,
            batch: self.batch.unwrap_or(1),
            dtype: self.dtype.unwrap_or(default_weights),
            seed: self.seed.unwrap_or(0),
        })
    }
}
