//! One value of one sweep parameter, checked as it is read: an arch preset or file,
//! an arch field (by TOML path), the model, phase, chunk, batch, dtype, or a compiler
//! option (objective, split steps). [`Params`] is a point's full set of them, with
//! the defaults `triad compile` uses for anything the sweep leaves out.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use toml::Value;
use triad_compiler::egraph::{DEFAULT_SPLIT_STEPS, Objective};
use triad_isa::Arch;
use triad_workloads::{Phase, WeightFormat};

use super::arch_path;

/// The parameters that are not arch fields; every other key is an arch field path.
pub const PARAMS: [&str; 8] = [
    "arch",
    "model",
    "phase",
    "chunk",
    "batch",
    "dtype",
    "objective",
    "split_steps",
];

/// Most split steps a sweep may ask for (ratios `i / steps`; more only slow the
/// e-graph down).
const MAX_SPLIT_STEPS: u32 = 64;

/// One parameter's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    /// The base arch (a preset name or TOML file), as its TOML value.
    Arch(Box<Value>),
    /// An arch field by dotted TOML path; checked when the point's arch loads.
    Field(String, Value),
    /// A zoo model name.
    Model(String),
    /// The step.
    Phase(Phase),
    /// Chunk size of a prefill phase.
    Chunk(usize),
    /// Sequences per step.
    Batch(usize),
    /// Weight format.
    Dtype(WeightFormat),
    /// What the compiler's extraction minimises.
    Objective(Objective),
    /// The compiler's split granularity (ratios `i / steps`).
    SplitSteps(u32),
}

impl Setting {
    /// Reads `value` as parameter `key`; `dir` resolves a relative arch file.
    pub fn parse(key: &str, value: &Value, dir: &Path) -> anyhow::Result<Setting> {
        let text = || match value {
            Value::String(s) => Ok(s.as_str()),
            other => bail!("expected a string, got {} `{other}`", other.type_str()),
        };
        let count = |what: &str| match value {
            Value::Integer(n) if *n >= 1 => Ok(*n as u64),
            other => bail!("expected {what} (an integer >= 1), got `{other}`"),
        };
        Ok(match key {
            "arch" => {
                let name = text()?;
                let file = dir.join(name);
                let arch = if file.is_file() {
                    Arch::load(&file)
                } else {
                    Arch::load(Path::new(name))
                }?;
                let v = Value::try_from(&arch).context("the arch as a TOML value")?;
                Setting::Arch(Box::new(v))
            }
            "model" => {
                let name = text()?;
                triad_workloads::model(name)?;
                Setting::Model(name.to_string())
            }
            "phase" => Setting::Phase(text()?.parse()?),
            "chunk" => Setting::Chunk(count("a chunk size")? as usize),
            "batch" => Setting::Batch(count("a batch size")? as usize),
            "dtype" => Setting::Dtype(text()?.parse()?),
            "objective" => Setting::Objective(match text()? {
                "latency" => Objective::Latency,
                "energy" => Objective::Energy,
                "edp" => Objective::Edp,
                other => bail!("unknown objective `{other}` (expected latency, energy or edp)"),
            }),
            "split_steps" => {
                let n = count("a number of split steps")?;
                if !(2..=u64::from(MAX_SPLIT_STEPS)).contains(&n) {
                    bail!("split_steps must be in 2..={MAX_SPLIT_STEPS}, got {n}");
                }
                Setting::SplitSteps(n as u32)
            }
            path => {
                if matches!(value, Value::Datetime(_)) {
                    bail!("no arch field is a date");
                }
                Setting::Field(path.to_string(), value.clone())
            }
        })
    }
}

/// Every parameter of one point, before its arch is loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The base arch's TOML value (fields not yet applied).
    pub arch: Value,
    /// Arch field overrides by path.
    pub fields: BTreeMap<String, Value>,
    /// Zoo model name.
    pub model: String,
    /// The step (a chunk setting is applied by [`Params::phase`]).
    phase: Phase,
    /// Chunk size, when set.
    chunk: Option<usize>,
    /// Sequences per step.
    pub batch: usize,
    /// Weight format.
    pub dtype: WeightFormat,
    /// Extraction objective.
    pub objective: Objective,
    /// Split granularity.
    pub split_steps: u32,
}

impl Params {
    /// The parameters the base settings give (`arch`, `model` and `phase` are
    /// required there; the rest default as in `triad compile`).
    pub fn from_base(base: &[(String, Setting)]) -> anyhow::Result<Params> {
        let find = |key: &str| base.iter().find(|(k, _)| k == key).map(|(_, s)| s);
        let (Some(Setting::Arch(arch)), Some(Setting::Model(model)), Some(Setting::Phase(phase))) =
            (find("arch"), find("model"), find("phase"))
        else {
            bail!("the sweep needs `arch`, `model` and `phase` at the top level");
        };
        let mut p = Params {
            arch: (**arch).clone(),
            fields: BTreeMap::new(),
            model: model.clone(),
            phase: *phase,
            chunk: None,
            batch: 1,
            dtype: WeightFormat::F16,
            objective: Objective::Latency,
            split_steps: DEFAULT_SPLIT_STEPS,
        };
        for (_, s) in base {
            p.set(s);
        }
        Ok(p)
    }

    /// Applies one setting.
    pub fn set(&mut self, s: &Setting) {
        match s {
            Setting::Arch(v) => self.arch = (**v).clone(),
            Setting::Field(path, v) => {
                self.fields.insert(path.clone(), v.clone());
            }
            Setting::Model(m) => self.model = m.clone(),
            Setting::Phase(p) => self.phase = *p,
            Setting::Chunk(c) => self.chunk = Some(*c),
            Setting::Batch(b) => self.batch = *b,
            Setting::Dtype(d) => self.dtype = *d,
            Setting::Objective(o) => self.objective = *o,
            Setting::SplitSteps(n) => self.split_steps = *n,
        }
    }

    /// The step, with the chunk setting applied (checked: only a prefill has
    /// chunks, and a chunk is shorter than the prompt).
    pub fn phase(&self) -> anyhow::Result<Phase> {
        let Some(c) = self.chunk else {
            return Ok(self.phase);
        };
        let Phase::Prefill { tokens, .. } = self.phase else {
            bail!("chunk {c} applies to a prefill phase, not `{}`", self.phase);
        };
        let p = Phase::Prefill {
            tokens,
            chunk: Some(c),
        };
        p.validate()?;
        Ok(p)
    }

    /// The base arch with `fields` applied, loaded and validated by the arch loader
    /// (`origin` names it in syntax errors).
    pub fn arch_with(
        &self,
        fields: &BTreeMap<String, Value>,
        origin: &str,
    ) -> anyhow::Result<Arch> {
        let mut v = self.arch.clone();
        for (path, value) in fields {
            arch_path::set(&mut v, path, value).with_context(|| format!("arch field `{path}`"))?;
        }
        let text = toml::to_string(&v).context("writing the changed arch as TOML")?;
        Ok(Arch::from_toml_str(&text, origin)?)
    }

    /// The point's arch: [`Params::arch_with`] its own fields. When it fails, the
    /// error names the one field that fails on its own, if there is one.
    pub fn arch(&self, origin: &str) -> anyhow::Result<Arch> {
        let all = self.arch_with(&self.fields, origin);
        let Err(e) = all else { return all };
        for (path, value) in &self.fields {
            let one = BTreeMap::from([(path.clone(), value.clone())]);
            if let Err(alone) = self.arch_with(&one, origin) {
                return Err(alone.context(format!("axis `{path}` = {value}")));
            }
        }
        let set: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        Err(e.context(format!("arch fields {} together", set.join(", "))))
    }
}
