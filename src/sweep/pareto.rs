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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn metrics(latency: u64, energy: f64, tokens_per_s: f64) -> Metrics {
        Metrics {
            step_ps: latency,
            latency_per_token_ps: latency,
            tokens_per_s,
            energy_per_token_pj: energy,
            energy_per_step_pj: energy,
            dram_bytes: 0,
            ops_cpu: 0,
            ops_npu: 0,
            ops_pim: 0,
            fallbacks: 0,
        }
    }

    #[test]
    fn a_hand_worked_front() {
        // (latency, energy): (1, 9) and (5, 2) trade off; (6, 9) loses to both;
        // (5, 2) twice: equal points do not dominate each other; a failure is out.
        let m = [
            metrics(1, 9.0, 0.0),
            metrics(5, 2.0, 0.0),
            metrics(6, 9.0, 0.0),
            metrics(5, 2.0, 0.0),
        ];
        let mut pts: Vec<Option<&Metrics>> = m.iter().map(Some).collect();
        pts.push(None);
        let obj: Vec<Objective> = ["latency", "energy"].map(|s| s.parse().unwrap()).to_vec();
        assert_eq!(front(&pts, &obj), [true, true, false, true, false]);
        // Throughput is maximised: alone, only the fastest-feeding point wins.
        let t = [metrics(1, 1.0, 3.0), metrics(1, 1.0, 7.0)];
        let pts: Vec<Option<&Metrics>> = t.iter().map(Some).collect();
        assert_eq!(front(&pts, &["throughput".parse().unwrap()]), [false, true]);
        assert_eq!(front(&pts, &[]), [false, false]);
        assert!("speed".parse::<Objective>().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// No point on the front is dominated, and every point off it is dominated
        /// by one on it.
        #[test]
        fn the_front_is_exactly_the_undominated_points(
            raw in prop::collection::vec((0u64..20, 0u32..20, 0u32..20), 1..24),
        ) {
            let m: Vec<Metrics> = raw
                .iter()
                .map(|&(l, e, t)| metrics(l, f64::from(e), f64::from(t)))
                .collect();
            let pts: Vec<Option<&Metrics>> = m.iter().map(Some).collect();
            let obj: Vec<Objective> =
                ["latency", "energy", "throughput"].map(|s| s.parse().unwrap()).to_vec();
            let on = front(&pts, &obj);
            let key = |x: &Metrics| (x.latency_per_token_ps as f64, x.energy_per_token_pj, -x.tokens_per_s);
            let beats = |a: &Metrics, b: &Metrics| {
                let (a, b) = (key(a), key(b));
                a.0 <= b.0 && a.1 <= b.1 && a.2 <= b.2 && (a.0 < b.0 || a.1 < b.1 || a.2 < b.2)
            };
            for (i, x) in m.iter().enumerate() {
                let dominated = m.iter().any(|y| beats(y, x));
                prop_assert_eq!(on[i], !dominated);
                if !on[i] {
                    prop_assert!(m.iter().zip(&on).any(|(y, &f)| f && beats(y, x)));
                }
            }
        }
    }
}
