//! One evaluation point: a model step (or ONNX / graph file) compiled for an arch,
//! simulated cycle by cycle, and summarised per token. [`run`] is what `triad run`
//! prints and what a sweep calls per point: no printing, no files, no clock reads
//! (deterministic unless the e-graph's wall-time limit fires), the same
//! [`RunReport`] that `triad run --json` writes.
//!
//! Token accounting: a step of batch B feeds `B x new_tokens` tokens (prefill: the
//! prompt, or its last chunk; decode: one per sequence; verify: the tree per
//! sequence). Throughput and energy per token divide by that count; the latency per
//! token is the step's time (prefill: the time to the first token; decode: the time
//! between output tokens, each of the B sequences getting one; verify: one
//! verification step).

use std::collections::BTreeMap;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use triad_compiler::egraph::{Config, Objective, Target};
use triad_compiler::lower::{LowerConfig, compile};
use triad_isa::Arch;
use triad_sim::{EnergyReport, SimOptions, simulate};
use triad_workloads::Phase;

use crate::cmd::source::Source;

/// What to evaluate: a source, an arch (already loaded; a sweep may have changed its
/// fields) and the compiler's configuration (objective, saturation limits, rules).
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Where the graph comes from.
    pub source: Source,
    /// The machine.
    pub arch: Arch,
    /// Compiler configuration (`Config::default()` is `triad compile`'s default).
    pub config: Config,
}

/// A stage of [`run_with`], reported as it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Building or reading the graph.
    Build,
    /// Optimising, placing, scheduling and lowering.
    Compile,
    /// Simulating the program.
    Simulate,
}

impl Stage {
    /// Lower-case name for progress displays.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Build => "build",
            Stage::Compile => "compile",
            Stage::Simulate => "simulate",
        }
    }
}

/// What a step means per token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    /// Prefill: the whole step, the time to the first token.
    TimeToFirstToken,
    /// Decode: the time between two output tokens of a sequence.
    PerOutputToken,
    /// Verify: one verification of a token tree.
    PerVerifyStep,
    /// A file source with no phase recorded: one step of the graph.
    PerStep,
}

/// An op lowered elsewhere than it was placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackOp {
    /// Node name.
    pub node: String,
    /// Target of the placement.
    pub placed: Target,
    /// Target it runs on.
    pub lowered: Target,
    /// Why.
    pub reason: String,
}

/// Where the ops went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Ops lowered per target (`cpu`, `npu`, `pim`).
    pub ops: BTreeMap<Target, usize>,
    /// Ops lowered elsewhere than placed.
    pub fallbacks: Vec<FallbackOp>,
    /// Values moved between memories at a placement boundary.
    pub transfers: usize,
    /// Fused kernels.
    pub fusions: usize,
    /// Concurrent splits (one op across targets).
    pub splits: usize,
}

/// One engine's share of the step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineUse {
    /// Engine name (`npu.mx`, `cpu.0`, `pim.0`, `dma.0`, ...).
    pub engine: String,
    /// Time executing instructions.
    pub busy_ps: u64,
    /// `busy_ps` over the step's time, 0..=1.
    pub busy_share: f64,
    /// Time blocked on a semaphore.
    pub stalled_ps: u64,
    /// Instructions executed.
    pub instructions: u64,
    /// MACs or element-passes computed.
    pub ops: u64,
    /// DRAM bytes its bursts read and wrote.
    pub dram_bytes: u64,
}

/// DRAM traffic of the step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DramUse {
    /// Bytes read and written.
    pub bytes: u64,
    /// `bytes` over the step's time.
    pub bandwidth_gb_per_s: f64,
    /// The arch's pin bandwidth.
    pub peak_bandwidth_gb_per_s: f64,
    /// `bandwidth_gb_per_s / peak_bandwidth_gb_per_s`, 0..=1.
    pub bandwidth_share: f64,
    /// Reads and writes served without an ACT of their own, 0..=1.
    pub row_hit_rate: f64,
    /// PIM instructions completed (per channel).
    pub pim_requests: u64,
}

/// What the compiler did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompileSummary {
    /// What extraction minimised.
    pub objective: Objective,
    /// Why saturation stopped (`saturated`, `node limit`, ...).
    pub saturation_stop: String,
    /// The list scheduler's estimate of the step.
    pub estimated_ps: f64,
    /// Instructions in the program, all engines.
    pub instructions: usize,
    /// Bytes of weights, constants and PIM layouts in DRAM.
    pub static_bytes: u64,
    /// Most activation bytes live at once.
    pub arena_peak_bytes: u64,
}

/// The report of one run: per token, per step, where the time and energy went.
/// Every key with a unit names it (`_ps`, `_pj`, `_per_s`, `_bytes`, `_gb_per_s`);
/// shares and rates are fractions in 0..=1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Zoo model name, or the graph's name for a file.
    pub model: String,
    /// The step (`decode:1024`, ...), when known.
    pub phase: Option<String>,
    /// Sequences per step, when known.
    pub batch: Option<usize>,
    /// Weight format, when known.
    pub dtype: Option<String>,
    /// Arch name.
    pub arch: String,
    /// Tokens the step feeds (`batch x new tokens`; 1 for a file without a phase).
    pub tokens_per_step: usize,
    /// What `latency_per_token_ps` measures.
    pub latency_kind: LatencyKind,
    /// Simulated time of the step.
    pub step_ps: u64,
    /// Latency per token (see `latency_kind`): the step's time.
    pub latency_per_token_ps: u64,
    /// `tokens_per_step` over the step's time.
    pub tokens_per_s: f64,
    /// Energy of the step over `tokens_per_step`.
    pub energy_per_token_pj: f64,
    /// Energy per token by component.
    pub energy_per_token: EnergyReport,
    /// Energy of the whole step by component.
    pub energy_per_step: EnergyReport,
    /// Where the ops went.
    pub placement: Placement,
    /// Per engine, in stream order.
    pub engines: Vec<EngineUse>,
    /// DRAM traffic.
    pub dram: DramUse,
    /// What the compiler did.
    pub compile: CompileSummary,
}

/// [`run_with`] without progress reports.
pub fn run(spec: &RunSpec) -> anyhow::Result<RunReport> {
    run_with(spec, &mut |_| {})
}

/// Build, compile and simulate `spec`, calling `progress` as each [`Stage`] starts.
pub fn run_with(spec: &RunSpec, progress: &mut dyn FnMut(Stage)) -> anyhow::Result<RunReport> {
    progress(Stage::Build);
    let graph = spec.source.load()?;
    let arch = &spec.arch;
    let step = Step::of(&spec.source, &graph)?;
    progress(Stage::Compile);
    let lc = LowerConfig {
        model: match &step.phase {
            Some(p) => format!("{} {p}", step.model),
            None => step.model.clone(),
        },
        ..LowerConfig::default()
    };
    let c = compile(&graph, arch, &spec.config, &lc)
        .with_context(|| format!("compiling `{}` for `{}`", graph.name, arch.name))?;
    progress(Stage::Simulate);
    let out = simulate(&c.lowered.program, arch, &SimOptions::default())
        .with_context(|| format!("simulating `{}` on `{}`", graph.name, arch.name))?;
    let r = &out.report;

    let total = r.total_ps;
    let share = |x: u64| {
        if total == 0 {
            0.0
        } else {
            x as f64 / total as f64
        }
    };
    let tokens = step.tokens.max(1);
    let energy = r.energy;
    let s = &c.lowered.stats;
    let placed = &c.optimized.placed;
    let bandwidth_share = if r.dram.peak_bandwidth_gb_per_s > 0.0 {
        r.dram.bandwidth_gb_per_s / r.dram.peak_bandwidth_gb_per_s
    } else {
        0.0
    };
    Ok(RunReport {
        model: step.model,
        phase: step.phase.map(|p| p.to_string()),
        batch: step.batch,
        dtype: step.dtype,
        arch: arch.name.clone(),
        tokens_per_step: tokens,
        latency_kind: step.kind,
        step_ps: total,
        latency_per_token_ps: total,
        tokens_per_s: if total == 0 {
            0.0
        } else {
            tokens as f64 / (total as f64 * 1e-12)
        },
        energy_per_token_pj: energy.total_pj / tokens as f64,
        energy_per_token: energy.scaled(1.0 / tokens as f64),
        energy_per_step: energy,
        placement: Placement {
            ops: s.ops.clone(),
            fallbacks: s
                .fallbacks
                .iter()
                .map(|f| FallbackOp {
                    node: f.node.clone(),
                    placed: f.placed,
                    lowered: f.lowered,
                    reason: f.reason.clone(),
                })
                .collect(),
            transfers: placed.transfers.len(),
            fusions: placed.fusions.len(),
            splits: placed.splits.len(),
        },
        engines: r
            .engines
            .iter()
            .map(|e| EngineUse {
                engine: e.engine.clone(),
                busy_ps: e.busy_ps,
                busy_share: share(e.busy_ps),
                stalled_ps: e.stalled_ps,
                instructions: e.instructions,
                ops: e.ops,
                dram_bytes: e.dram_read_bytes + e.dram_write_bytes,
            })
            .collect(),
        dram: DramUse {
            bytes: r.dram.bytes,
            bandwidth_gb_per_s: r.dram.bandwidth_gb_per_s,
            peak_bandwidth_gb_per_s: r.dram.peak_bandwidth_gb_per_s,
            bandwidth_share,
            row_hit_rate: r.dram.row_hit_rate,
            pim_requests: r.dram.pim_requests,
        },
        compile: CompileSummary {
            objective: spec.config.extract.objective,
            saturation_stop: c.optimized.saturation.stop_reason.clone(),
            estimated_ps: c.schedule.makespan_ps,
            instructions: c.lowered.program.insn_count(),
            static_bytes: s.static_bytes,
            arena_peak_bytes: s.arena_peak,
        },
    })
}

/// What the source says about the step: names, tokens fed and what a token's latency is.
struct Step {
    model: String,
    phase: Option<Phase>,
    batch: Option<usize>,
    dtype: Option<String>,
    tokens: usize,
    kind: LatencyKind,
}

impl Step {
    /// From the source, or for a file from the graph's metadata (a zoo graph saved
    /// as JSON keeps its `model`, `phase`, `batch` and `weights`).
    fn of(source: &Source, graph: &triad_compiler::Graph) -> anyhow::Result<Step> {
        let (model, phase, batch, dtype) = match source {
            Source::Model {
                name,
                phase,
                batch,
                dtype,
                ..
            } => (
                name.clone(),
                Some(*phase),
                Some(*batch),
                Some(dtype.to_string()),
            ),
            Source::Onnx { .. } | Source::Graph { .. } => {
                let meta = |k: &str| graph.meta.get(k);
                let phase = meta("phase")
                    .map(|p| p.parse::<Phase>())
                    .transpose()
                    .context("the graph's `phase` metadata")?;
                let batch = meta("batch")
                    .map(|b| b.parse::<usize>())
                    .transpose()
                    .context("the graph's `batch` metadata is not a whole number")?;
                (
                    meta("model").cloned().unwrap_or_else(|| graph.name.clone()),
                    phase,
                    batch,
                    meta("weights").cloned(),
                )
            }
        };
        let (tokens, kind) = match phase {
            Some(p) => (
                batch.unwrap_or(1) * p.new_tokens(),
                match p {
                    Phase::Prefill { .. } => LatencyKind::TimeToFirstToken,
                    Phase::Decode { .. } => LatencyKind::PerOutputToken,
                    Phase::Verify { .. } => LatencyKind::PerVerifyStep,
                },
            ),
            None => (1, LatencyKind::PerStep),
        };
        Ok(Step {
            model,
            phase,
            batch,
            dtype,
            tokens,
            kind,
        })
    }
}
