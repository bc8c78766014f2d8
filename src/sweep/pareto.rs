//! Pareto-optimal points: a point is on the front when no other point is at least as
//! good in every chosen objective and better in one. Objectives are result columns,
//! each minimised or maximised; points that failed are never on the front.

use std::fmt;
use std::str::FromStr;

use anyhow::bail;

use super::record::Metrics;

/// The objectives `pareto` accepts: name, result column, whether larger is better.
const OBJECTIVES: [(&str, &str, bool); 5] = [
    ("latency", "latency_per_token_ps", false),
    ("step", "step_ps", false),
    ("energy", "energy_per_token_pj", false),
    ("throughput", "tokens_per_s", true),
    ("dram", "dram_bytes", false),
];

/// One Pareto objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Objective {
    /// The result column it reads.
    pub column: &'static str,
    /// Larger is better (throughput); otherwise smaller is.
    pub maximise: bool,
}

impl FromStr for Objective {
    type Err = anyhow::Error;

    /// An objective's short name (`latency`) or its column (`latency_per_token_ps`).
    fn from_str(s: &str) -> anyhow::Result<Objective> {
        match OBJECTIVES.iter().find(|(n, c, _)| *n == s || *c == s) {
            Some(&(_, column, maximise)) => Ok(Objective { column, maximise }),
            None => {
                let names: Vec<&str> = OBJECTIVES.iter().map(|o| o.0).collect();
                bail!(
                    "unknown Pareto objective `{s}` (expected one of {}, or their column names)",
                    names.join(", ")
                )
            }
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.column)
    }
}

impl Objective {
    /// The value to minimise for `m`.
    fn cost(self, m: &Metrics) -> f64 {
        let v = m.get(self.column);
        if self.maximise { -v } else { v }
    }
}

/// For each point (`None`: it failed), whether it is on the front of `objectives`
/// (all `false` when there are none).
pub fn front(points: &[Option<&Metrics>], objectives: &[Objective]) -> Vec<bool> {
    if objectives.is_empty() {
        return vec![false; points.len()];
    }
    let costs: Vec<Option<Vec<f64>>> = points
        .iter()
        .map(|m| m.map(|m| objectives.iter().map(|o| o.cost(m)).collect()))
        .collect();
    costs
        .iter()
        .map(|c| match c {
            None => false,
            Some(c) => !costs.iter().flatten().any(|d| dominates(d, c)),
        })
        .collect()
}

/// `a` is at least as good as `b` everywhere and better somewhere (costs: lower wins).
fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}
