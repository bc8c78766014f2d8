//! The sweep file: a base point (`arch`, `model`, `phase` and optional `chunk`,
//! `batch`, `dtype`, `objective`, `split_steps`), the `[axes]` whose values multiply
//! (cartesian product), `[[zip]]` groups whose lists advance together, and the
//! `pareto` objectives. Every value is read and checked here, so a bad file fails
//! before any point runs, naming the file, the axis and the value.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use toml::Value;

use super::pareto::Objective;
use super::setting::{PARAMS, Setting};

/// One swept parameter and its values in the order the file lists them.
#[derive(Clone, Debug)]
pub struct Axis {
    /// The key: a parameter name or an arch field path.
    pub name: String,
    /// Each value as written and as read.
    pub values: Vec<(Value, Setting)>,
}

/// Axes that advance together: one dimension of the product (a plain axis is a
/// group of one).
#[derive(Clone, Debug)]
pub struct Group {
    /// The axes, all of the same length.
    pub axes: Vec<Axis>,
}

impl Group {
    /// Values per axis.
    pub fn len(&self) -> usize {
        self.axes.first().map_or(0, |a| a.values.len())
    }
}

/// A parsed, checked sweep file.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The file it came from.
    pub path: PathBuf,
    /// Top-level settings, the base of every point.
    pub base: Vec<(String, Setting)>,
    /// The product's dimensions: `[axes]` in name order, then `[[zip]]` groups in
    /// file order; the last varies fastest.
    pub groups: Vec<Group>,
    /// Objectives the Pareto front is taken over (may be empty).
    pub pareto: Vec<Objective>,
}

impl Sweep {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> anyhow::Result<Sweep> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading sweep `{}`", path.display()))?;
        Self::parse(&text, path).with_context(|| format!("sweep `{}`", path.display()))
    }

    /// Parses sweep text; `path` resolves relative arch files.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Sweep> {
        let dir = path.parent().unwrap_or(Path::new(""));
        let table: toml::Table = toml::from_str(text)?;
        let mut base = Vec::new();
        let mut groups = Vec::new();
        let mut pareto = Vec::new();
        let mut zips = Vec::new();
        for (key, value) in &table {
            match key.as_str() {
                "axes" => {
                    let Value::Table(t) = value else {
                        bail!("`axes` must be a table of lists");
                    };
                    for axis in axes(t, dir, "axes")? {
                        groups.push(Group { axes: vec![axis] });
                    }
                }
                "zip" => {
                    let Value::Array(list) = value else {
                        bail!("`zip` must be a list of tables (`[[zip]]`)");
                    };
                    zips.clone_from(list);
                }
                "pareto" => pareto = objectives(value)?,
                k if PARAMS.contains(&k) => {
                    let s = Setting::parse(k, value, dir)
                        .with_context(|| format!("`{k}` = {value}"))?;
                    base.push((k.to_string(), s));
                }
                other => bail!(
                    "unknown field `{other}` (expected {}, axes, zip or pareto; sweep arch fields under [axes])",
                    PARAMS.join(", ")
                ),
            }
        }
        for (i, z) in zips.iter().enumerate() {
            let at = format!("zip group {}", i + 1);
            let Value::Table(t) = z else {
                bail!("{at} must be a table");
            };
            let group = Group {
                axes: axes(t, dir, &at)?,
            };
            if group.axes.is_empty() {
                bail!("{at} is empty");
            }
            let first = &group.axes[0];
            for a in &group.axes[1..] {
                if a.values.len() != first.values.len() {
                    bail!(
                        "{at}: `{}` has {} values but `{}` has {} (zipped lists advance together)",
                        first.name,
                        first.values.len(),
                        a.name,
                        a.values.len()
                    );
                }
            }
            groups.push(group);
        }
        let mut names: Vec<&str> = groups
            .iter()
            .flat_map(|g| g.axes.iter().map(|a| a.name.as_str()))
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            bail!("axis `{}` is swept twice", w[0]);
        }
        Ok(Sweep {
            path: path.to_path_buf(),
            base,
            groups,
            pareto,
        })
    }

    /// Points in the full product.
    pub fn len(&self) -> usize {
        self.groups.iter().map(Group::len).product()
    }
}

/// The axes of table `t` (nested tables are dotted paths: `npu.rows = [..]` and
/// `"npu.rows" = [..]` are the same axis); `at` names the table in errors.
fn axes(t: &toml::Table, dir: &Path, at: &str) -> anyhow::Result<Vec<Axis>> {
    let mut out = Vec::new();
    flatten(t, "", &mut |name, value| {
        let Value::Array(list) = value else {
            bail!(
                "{at}: axis `{name}` must be a list of values, got {} `{value}`",
                value.type_str()
            );
        };
        if list.is_empty() {
            bail!("{at}: axis `{name}` is empty");
        }
        let mut values: Vec<(Value, Setting)> = Vec::new();
        for v in list {
            if values.iter().any(|(w, _)| w == v) {
                bail!("{at}: axis `{name}` lists {v} twice");
            }
            let s = Setting::parse(name, v, dir)
                .with_context(|| format!("{at}: axis `{name}` value {v}"))?;
            values.push((v.clone(), s));
        }
        out.push(Axis {
            name: name.to_string(),
            values,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f` with every non-table leaf of `t` and its dotted path.
fn flatten(
    t: &toml::Table,
    prefix: &str,
    f: &mut dyn FnMut(&str, &Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for (k, v) in t {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(inner) => flatten(inner, &name, f)?,
            leaf => f(&name, leaf)?,
        }
    }
    Ok(())
}

/// The `pareto` list.
fn objectives(value: &Value) -> anyhow::Result<Vec<Objective>> {
    let Value::Array(list) = value else {
        bail!("`pareto` must be a list of objective names, e.g. [\"latency\", \"energy\"]");
    };
    list.iter()
        .map(|v| match v {
            Value::String(s) => s.parse().with_context(|| "`pareto`".to_string()),
            other => bail!("`pareto`: expected objective names, got `{other}`"),
        })
        .collect()
}
