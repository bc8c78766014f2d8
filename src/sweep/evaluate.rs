//! One point evaluated: its parameters turned into a [`RunSpec`], run (compile +
//! simulate, as `triad run`) and summarised as a [`Record`]. A point that fails
//! becomes a record with its error: a sweep reports what did not fit instead of
//! stopping.

use std::time::Duration;

use triad_compiler::egraph::Config;

use super::points::Point;
use super::record::{Metrics, Record};
use crate::cmd::source::Source;
use crate::run::{RunReport, RunSpec, run};

/// Saturation's wall-time limit in a sweep: none in practice, so that a point's
/// result never depends on how busy the machine is (the node and iteration limits
/// still bound it).
const NO_TIME_LIMIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Runs `point` and records it (`fields`: the sweep's arch field columns).
pub fn evaluate(point: &Point, fields: &[String]) -> Record {
    let p = &point.params;
    let mut config = Config::default();
    config.extract.objective = p.objective;
    config.rules.split_steps = p.split_steps;
    config.saturation.time_limit = NO_TIME_LIMIT;
    let spec = RunSpec {
        source: Source::Model {
            name: p.model.clone(),
            phase: point.phase,
            batch: p.batch,
            dtype: p.dtype,
            seed: 0,
        },
        arch: point.arch.clone(),
        config,
    };
    let outcome = run(&spec).and_then(|report| {
        let json = serde_json::to_value(&report)?;
        Ok((metrics(&report), json))
    });
    let (metrics, report, error) = match outcome {
        Ok((m, r)) => (Some(m), Some(r), None),
        Err(e) => (None, None, Some(format!("{e:#}"))),
    };
    Record {
        index: point.index,
        id: point.id.clone(),
        arch: point.arch.name.clone(),
        model: p.model.clone(),
        phase: point.phase.to_string(),
        batch: p.batch,
        dtype: p.dtype.name().to_string(),
        objective: objective_name(p.objective).to_string(),
        split_steps: p.split_steps,
        fields: fields
            .iter()
            .filter_map(|f| {
                let v = p.fields.get(f)?;
                Some((f.clone(), serde_json::to_value(v).ok()?))
            })
            .collect(),
        metrics,
        error,
        pareto: None,
        report,
    }
}

/// The headline numbers of a run.
fn metrics(r: &RunReport) -> Metrics {
    use triad_compiler::egraph::Target;
    let ops = |t: Target| r.placement.ops.get(&t).copied().unwrap_or(0);
    Metrics {
        step_ps: r.step_ps,
        latency_per_token_ps: r.latency_per_token_ps,
        tokens_per_s: r.tokens_per_s,
        energy_per_token_pj: r.energy_per_token_pj,
        energy_per_step_pj: r.energy_per_step.total_pj,
        dram_bytes: r.dram.bytes,
        ops_cpu: ops(Target::Cpu),
        ops_npu: ops(Target::Npu),
        ops_pim: ops(Target::Pim),
        fallbacks: r.placement.fallbacks.len(),
    }
}

/// The objective as the sweep file spells it.
fn objective_name(o: triad_compiler::egraph::Objective) -> &'static str {
    use triad_compiler::egraph::Objective;
    match o {
        Objective::Latency => "latency",
        Objective::Energy => "energy",
        Objective::Edp => "edp",
    }
}
