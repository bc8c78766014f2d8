//! The JSON files `triad plot` reads, as typed records holding only the fields the
//! plots use: `triad compile --explain json`, `triad sim --json`, the Chrome trace of
//! `triad sim --trace`, and JSON lines of sweep results. Every error names the file
//! and the field (and for JSON lines the line) that is missing or wrong.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use triad_compiler::egraph::{Estimate, Target};

/// One op of `triad compile --explain json`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ExplainRowIn {
    /// Node name.
    pub node: String,
    /// Result dtype (`f16`, `i8`, …).
    pub dtype: String,
    /// FLOPs of the op.
    pub flops: u64,
    /// FLOPs per DRAM byte of the op run alone.
    pub op_per_byte: f64,
    /// Target chosen (`null`: computed another way).
    pub target: Option<Target>,
    /// Estimated cost on each target that can run it.
    pub costs: BTreeMap<Target, Estimate>,
}

/// `triad compile --explain json`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ExplainIn {
    /// Graph name.
    pub graph: String,
    /// Arch name (a preset name for the zoo's archs).
    pub arch: String,
    /// One row per op.
    pub rows: Vec<ExplainRowIn>,
}

/// One label of `triad sim --json`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LabelIn {
    /// Engine-busy time under the label, summed over engines.
    pub busy_ps: u64,
    /// Dynamic engine energy under the label.
    pub energy_pj: f64,
}

/// `triad sim --json`; for the energy plot also a `triad run --json` report (its
/// `energy_per_step` holds the same components, it has no labels).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SimIn {
    /// Arch simulated.
    pub arch: String,
    /// The program's model.
    pub model: String,
    /// The step (`decode:8`), in a run report.
    #[serde(default)]
    pub phase: Option<String>,
    /// Energy components, `NAME_pj`, and `total_pj`.
    #[serde(alias = "energy_per_step")]
    pub energy: BTreeMap<String, f64>,
    /// Per label (none in a run report).
    #[serde(default)]
    pub labels: BTreeMap<String, LabelIn>,
}

impl SimIn {
    /// The energy components in the simulator's display order (names without
    /// `_pj`), then any it does not know in name order; checks that they are finite,
    /// not negative and sum to `total_pj`.
    pub fn energy_parts(&self) -> anyhow::Result<Vec<(String, f64)>> {
        let total = *self
            .energy
            .get("total_pj")
            .context("field `energy.total_pj` is missing")?;
        let known: Vec<String> = triad_sim::EnergyReport::default()
            .parts()
            .iter()
            .map(|(n, _)| format!("{n}_pj"))
            .collect();
        let mut keys: Vec<&String> = known.iter().collect();
        keys.extend(
            self.energy
                .keys()
                .filter(|k| *k != "total_pj" && !known.contains(k)),
        );
        let mut parts = Vec::new();
        for key in keys {
            let v = *self
                .energy
                .get(key)
                .with_context(|| format!("field `energy.{key}` is missing"))?;
            if !(v.is_finite() && v >= 0.0) {
                bail!("field `energy.{key}` must be a non-negative number of pJ, not {v}");
            }
            parts.push((key.trim_end_matches("_pj").to_string(), v));
        }
        let sum: f64 = parts.iter().map(|(_, v)| v).sum();
        if (sum - total).abs() > 1e-6 * total.abs().max(1.0) {
            bail!("field `energy.total_pj` is {total} but the parts sum to {sum}");
        }
        Ok(parts)
    }
}

/// One event of a Chrome trace.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TraceEventIn {
    /// Span or counter name, or the metadata kind (`thread_name`).
    pub name: String,
    /// Phase: `X` span, `M` metadata, `C` counter, …
    pub ph: String,
    /// Start, microseconds.
    #[serde(default)]
    pub ts: f64,
    /// Duration, microseconds (spans).
    #[serde(default)]
    pub dur: Option<f64>,
    /// Process.
    #[serde(default)]
    pub pid: u64,
    /// Thread (track).
    #[serde(default)]
    pub tid: u64,
    /// Extra fields (`name` of metadata, `label` of spans).
    #[serde(default)]
    pub args: serde_json::Value,
}

/// A Chrome trace-event file (`triad sim --trace`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TraceIn {
    /// The events.
    #[serde(rename = "traceEvents")]
    pub events: Vec<TraceEventIn>,
}

impl TraceIn {
    /// The process named `engines` (the simulator's engine tracks).
    pub fn engines_pid(&self) -> Option<u64> {
        self.events
            .iter()
            .find(|e| e.ph == "M" && e.name == "process_name" && e.args["name"] == "engines")
            .map(|e| e.pid)
    }

    /// Per label, the picoseconds during which at least one engine ran an
    /// instruction under it (the union of its spans).
    pub fn label_wall_ps(&self) -> BTreeMap<String, f64> {
        let pid = self.engines_pid();
        let mut spans: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for e in &self.events {
            if e.ph != "X" || Some(e.pid) != pid {
                continue;
            }
            if let (Some(label), Some(dur)) = (e.args["label"].as_str(), e.dur) {
                spans
                    .entry(label.to_string())
                    .or_default()
                    .push((e.ts * 1e6, (e.ts + dur) * 1e6));
            }
        }
        spans
            .into_iter()
            .map(|(label, mut v)| {
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut total = 0.0;
                let mut open: Option<(f64, f64)> = None;
                for (a, b) in v {
                    open = match open {
                        Some((s, e)) if a <= e => Some((s, e.max(b))),
                        Some((s, e)) => {
                            total += e - s;
                            Some((a, b))
                        }
                        None => Some((a, b)),
                    };
                }
                if let Some((s, e)) = open {
                    total += e - s;
                }
                (label, total)
            })
            .collect()
    }
}

/// A JSON file of one of the kinds `triad plot` reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// `triad compile --explain json`.
    Explain(ExplainIn),
    /// `triad sim --json`.
    Sim(SimIn),
    /// `triad sim --trace`.
    Trace(TraceIn),
}

/// Reads `path` as `T`; errors name the file.
pub fn read_as<T: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("`{}` is not {what}", path.display()))
}

/// Reads `path` and tells its kind by its top-level keys (`rows`: explain,
/// `labels`: sim report, `traceEvents`: trace).
pub fn read_input(path: &Path) -> anyhow::Result<Input> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let has = |k: &str| value.get(k).is_some();
    let parsed = if has("traceEvents") {
        serde_json::from_str(&text).map(Input::Trace)
    } else if has("rows") {
        serde_json::from_str(&text).map(Input::Explain)
    } else if has("labels") {
        serde_json::from_str(&text).map(Input::Sim)
    } else {
        bail!(
            "`{}` is neither `triad compile --explain json` (field `rows`), `triad sim --json` (field `labels`) nor a trace (field `traceEvents`)",
            path.display()
        );
    };
    parsed.with_context(|| format!("reading `{}`", path.display()))
}

/// The number at dotted `path` (`metrics.latency_ps`, `points.0.x`) in `v`.
pub fn number_at(v: &serde_json::Value, path: &str) -> Result<f64, String> {
    let mut at = v;
    for key in path.split('.') {
        at = match at {
            serde_json::Value::Object(m) => m.get(key),
            serde_json::Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("field `{path}` is missing (no `{key}`)"))?;
    }
    match at.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(format!(
            "field `{path}` is not a finite number (found {at})"
        )),
    }
}

/// The `(x, y)` numbers at dotted paths `x` and `y` of each object of the JSON-lines
/// file `path` (blank lines skipped).
pub fn read_jsonl_xy(path: &Path, x: &str, y: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("`{}` line {}", path.display(), i + 1);
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{} is not JSON", at()))?;
        let xy = number_at(&v, x).and_then(|a| number_at(&v, y).map(|b| (a, b)));
        out.push(xy.map_err(|e| anyhow::anyhow!("{}: {e}", at()))?);
    }
    if out.is_empty() {
        bail!("`{}` holds no results", path.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_reach_nested_numbers_and_name_what_is_wrong() {
        let v = json!({"a": {"b": 2.5, "s": "x"}, "l": [1, {"c": 3}]});
        assert_eq!(number_at(&v, "a.b"), Ok(2.5));
        assert_eq!(number_at(&v, "l.1.c"), Ok(3.0));
        assert!(
            number_at(&v, "a.c")
                .unwrap_err()
                .contains("`a.c` is missing")
        );
        assert!(
            number_at(&v, "a.s")
                .unwrap_err()
                .contains("not a finite number")
        );
    }

    #[test]
    fn label_time_is_the_union_of_its_spans() {
        let span = |ts: f64, dur: f64, label: &str| TraceEventIn {
            name: "mac".into(),
            ph: "X".into(),
            ts,
            dur: Some(dur),
            pid: 1,
            tid: 0,
            args: json!({ "label": label }),
        };
        let meta = TraceEventIn {
            name: "process_name".into(),
            ph: "M".into(),
            ts: 0.0,
            dur: None,
            pid: 1,
            tid: 0,
            args: json!({"name": "engines"}),
        };
        // a: [0, 2] and [1, 3] overlap (3 us), [5, 6] apart (1 us); b: 0.5 us.
        let t = TraceIn {
            events: vec![
                meta,
                span(0.0, 2.0, "a"),
                span(5.0, 1.0, "a"),
                span(1.0, 2.0, "a"),
                span(0.0, 0.5, "b"),
            ],
        };
        let w = t.label_wall_ps();
        assert!((w["a"] - 4e6).abs() < 1e-3, "{w:?}");
        assert!((w["b"] - 0.5e6).abs() < 1e-3);
    }

    #[test]
    fn a_run_report_gives_its_step_energy() {
        // The fields of `triad run --json` the energy plot reads.
        let run = json!({
            "model": "tiny-llama", "phase": "decode:8", "arch": "mobile-soc-pim",
            "energy_per_token": {"total_pj": 1.0},
            "energy_per_step": {
                "cpu_pj": 1.0, "npu_array_pj": 2.0, "npu_vector_pj": 0.0, "sram_pj": 0.0,
                "dram_core_pj": 0.0, "dram_io_pj": 0.0, "pim_pj": 3.0, "links_pj": 0.0,
                "static_pj": 4.0, "total_pj": 10.0
            },
        });
        let s: SimIn = serde_json::from_value(run).unwrap();
        assert_eq!(s.phase.as_deref(), Some("decode:8"));
        let parts = s.energy_parts().unwrap();
        assert_eq!(parts[6], ("pim".to_string(), 3.0));
        assert!(s.labels.is_empty());
    }

    #[test]
    fn energy_parts_must_sum_to_the_total() {
        let sim = |total: f64| SimIn {
            arch: "a".into(),
            model: "m".into(),
            phase: None,
            energy: triad_sim::EnergyReport::default()
                .parts()
                .iter()
                .map(|(n, _)| (format!("{n}_pj"), 1.0))
                .chain([("total_pj".to_string(), total)])
                .collect(),
            labels: BTreeMap::new(),
        };
        let parts = sim(9.0).energy_parts().unwrap();
        assert_eq!(parts.len(), 9);
        assert_eq!(parts[0], ("cpu".to_string(), 1.0));
        let err = sim(10.0).energy_parts().unwrap_err().to_string();
        assert!(err.contains("energy.total_pj"), "{err}");
    }
}
