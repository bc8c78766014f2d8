//! One result row: the point's parameters, its headline metrics (or the error that
//! stopped it), whether it is Pareto-optimal, and the full run report. The same
//! record is a JSON line in `results.jsonl` and a row of `results.csv`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Headline numbers of one point (units in the names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Simulated time of the step.
    pub step_ps: u64,
    /// Latency per token (prefill: to the first token; decode: per output token).
    pub latency_per_token_ps: u64,
    /// Tokens the step feeds, over its time.
    pub tokens_per_s: f64,
    /// Energy of the step over its tokens.
    pub energy_per_token_pj: f64,
    /// Energy of the whole step.
    pub energy_per_step_pj: f64,
    /// DRAM bytes moved in the step.
    pub dram_bytes: u64,
    /// Ops placed on the CPU.
    pub ops_cpu: usize,
    /// Ops placed on the NPU.
    pub ops_npu: usize,
    /// Ops placed on PIM.
    pub ops_pim: usize,
    /// Ops the lowering moved off the target extraction chose.
    pub fallbacks: usize,
}

/// The metric columns, in CSV order.
pub const METRIC_COLUMNS: [&str; 10] = [
    "step_ps",
    "latency_per_token_ps",
    "tokens_per_s",
    "energy_per_token_pj",
    "energy_per_step_pj",
    "dram_bytes",
    "ops_cpu",
    "ops_npu",
    "ops_pim",
    "fallbacks",
];

impl Metrics {
    /// A column's value as a number (0 for a name that is not a metric column).
    pub fn get(&self, column: &str) -> f64 {
        match column {
            "step_ps" => self.step_ps as f64,
            "latency_per_token_ps" => self.latency_per_token_ps as f64,
            "tokens_per_s" => self.tokens_per_s,
            "energy_per_token_pj" => self.energy_per_token_pj,
            "energy_per_step_pj" => self.energy_per_step_pj,
            "dram_bytes" => self.dram_bytes as f64,
            "ops_cpu" => self.ops_cpu as f64,
            "ops_npu" => self.ops_npu as f64,
            "ops_pim" => self.ops_pim as f64,
            "fallbacks" => self.fallbacks as f64,
            _ => 0.0,
        }
    }

    /// The metric columns as CSV cells (numbers as in the JSON).
    fn cells(&self) -> Vec<String> {
        let j = |v: serde_json::Value| v.to_string();
        vec![
            self.step_ps.to_string(),
            self.latency_per_token_ps.to_string(),
            j(self.tokens_per_s.into()),
            j(self.energy_per_token_pj.into()),
            j(self.energy_per_step_pj.into()),
            self.dram_bytes.to_string(),
            self.ops_cpu.to_string(),
            self.ops_npu.to_string(),
            self.ops_pim.to_string(),
            self.fallbacks.to_string(),
        ]
    }
}

/// One point's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the sweep's full product (0-based).
    pub index: usize,
    /// Stable id: a hash of the point's arch and parameters.
    pub id: String,
    /// Arch name.
    pub arch: String,
    /// Zoo model.
    pub model: String,
    /// The step (`decode:64`, `prefill:512/chunk:128`).
    pub phase: String,
    /// Sequences per step.
    pub batch: usize,
    /// Weight format.
    pub dtype: String,
    /// Compiler extraction objective.
    pub objective: String,
    /// Compiler split steps.
    pub split_steps: u32,
    /// The swept arch fields by path, as their TOML values.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The headline numbers (`null` when the point failed).
    pub metrics: Option<Metrics>,
    /// Why the point failed (`null` when it ran).
    pub error: Option<String>,
    /// On the Pareto front of the chosen objectives (final files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pareto: Option<bool>,
    /// The full `triad run --json` report (`null` when the point failed).
    pub report: Option<serde_json::Value>,
}

/// The parameter columns before the arch fields, in CSV order.
const PARAM_COLUMNS: [&str; 9] = [
    "index",
    "id",
    "arch",
    "model",
    "phase",
    "batch",
    "dtype",
    "objective",
    "split_steps",
];

/// The CSV header for a sweep over arch `fields`.
pub fn csv_header(fields: &[String]) -> String {
    let mut cols: Vec<&str> = PARAM_COLUMNS.to_vec();
    cols.extend(fields.iter().map(String::as_str));
    cols.extend(METRIC_COLUMNS);
    cols.extend(["pareto", "error"]);
    let cells: Vec<String> = cols.into_iter().map(csv_cell).collect();
    cells.join(",") + "\n"
}

impl Record {
    /// The record as one JSON line (with its newline).
    pub fn json_line(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string(self)? + "\n")
    }

    /// The record as one CSV row for a sweep over arch `fields` (with its newline);
    /// a string field is written bare, other values as TOML/JSON text.
    pub fn csv_row(&self, fields: &[String]) -> String {
        let mut cells: Vec<String> = vec![
            self.index.to_string(),
            self.id.clone(),
            self.arch.clone(),
            self.model.clone(),
            self.phase.clone(),
            self.batch.to_string(),
            self.dtype.clone(),
            self.objective.clone(),
            self.split_steps.to_string(),
        ];
        for f in fields {
            cells.push(match self.fields.get(f) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            });
        }
        match &self.metrics {
            Some(m) => cells.extend(m.cells()),
            None => cells.extend(METRIC_COLUMNS.iter().map(|_| String::new())),
        }
        cells.push(self.pareto.map_or_else(String::new, |p| p.to_string()));
        cells.push(self.error.clone().unwrap_or_default());
        let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        cells.join(",") + "\n"
    }
}

/// A CSV cell, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_quote_only_when_needed() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"x\"\nnext"), "\"say \"\"x\"\"\nnext\"");
    }
}
