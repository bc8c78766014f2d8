//! The Chrome trace-event file of a run (JSON, opened by Perfetto and
//! chrome://tracing): one track per engine with a span per instruction (named by
//! its mnemonic, its label in `args`), one track per DRAM channel with the spans
//! where the channel was issuing commands, and two counters sampled over
//! [`COUNTER_WINDOWS`] equal windows: DRAM bandwidth (GB/s) and dynamic engine power
//! (W). Timestamps are microseconds, as the format wants.
//!
//! Only built when asked for: it holds a span per instruction and reads the DRAM
//! command log, which a plain timing run does not keep.

use super::unit::{Span, Unit};
use crate::dram::command::CommandLog;
use serde::Serialize;
use triad_isa::{Arch, Picos, Program};

/// Windows the counters are sampled over.
pub const COUNTER_WINDOWS: u64 = 200;

/// DRAM cycles of silence that end a channel's busy span.
const CHANNEL_GAP_CYCLES: u64 = 16;

/// Process id of the engine tracks.
const PID_ENGINES: u32 = 1;
/// Process id of the DRAM channel tracks.
const PID_DRAM: u32 = 2;

/// One trace event.
#[derive(Clone, Debug, Serialize)]
pub struct TraceEvent {
    /// Name shown on the span or counter.
    pub name: String,
    /// Phase: `X` span, `C` counter, `M` metadata.
    pub ph: &'static str,
    /// Start, microseconds.
    pub ts: f64,
    /// Duration, microseconds (spans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dur: Option<f64>,
    /// Process.
    pub pid: u32,
    /// Thread (track).
    pub tid: u32,
    /// Extra fields.
    pub args: serde_json::Value,
}

/// A whole trace.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    /// The events.
    #[serde(rename = "traceEvents")]
    pub events: Vec<TraceEvent>,
    /// Display unit.
    #[serde(rename = "displayTimeUnit")]
    pub display_time_unit: &'static str,
}

fn us(p: Picos) -> f64 {
    p.0 as f64 * 1e-6
}

fn meta(name: &str, pid: u32, tid: u32, value: &str) -> TraceEvent {
    TraceEvent {
        name: name.to_string(),
        ph: "M",
        ts: 0.0,
        dur: None,
        pid,
        tid,
        args: serde_json::json!({ "name": value }),
    }
}

impl Trace {
    pub(crate) fn build(
        program: &Program,
        arch: &Arch,
        units: &[Unit],
        spans: Vec<Span>,
        completions: &[(Picos, u64)],
        log: Option<&CommandLog>,
        total: Picos,
    ) -> Trace {
        let mut events = vec![
            meta("process_name", PID_ENGINES, 0, "engines"),
            meta("process_name", PID_DRAM, 0, "DRAM"),
        ];
        for (i, u) in units.iter().enumerate() {
            events.push(meta(
                "thread_name",
                PID_ENGINES,
                i as u32,
                &u.engine.to_string(),
            ));
        }
        for c in 0..arch.dram.channels {
            events.push(meta("thread_name", PID_DRAM, c, &format!("channel {c}")));
        }
        let window = (total.0 / COUNTER_WINDOWS).max(1);
        let mut power = vec![0.0f64; COUNTER_WINDOWS as usize + 1];
        for s in &spans {
            events.push(TraceEvent {
                name: s.name.to_string(),
                ph: "X",
                ts: us(s.start),
                dur: Some(us(Picos(s.end.0 - s.start.0))),
                pid: PID_ENGINES,
                tid: s.unit as u32,
                args: serde_json::json!({ "label": s.label, "energy_pj": s.energy_pj }),
            });
            spread(&mut power, window, s.start.0, s.end.0, s.energy_pj);
        }
        if let Some(log) = log {
            let tck = arch.dram.tck_ps;
            let mut open: Vec<Option<(u64, u64, u64)>> = vec![None; arch.dram.channels as usize];
            let flush = |events: &mut Vec<TraceEvent>, ch: usize, (a, b, n): (u64, u64, u64)| {
                events.push(TraceEvent {
                    name: "busy".into(),
                    ph: "X",
                    ts: us(Picos(a * tck)),
                    dur: Some(us(Picos((b + 1 - a) * tck))),
                    pid: PID_DRAM,
                    tid: ch as u32,
                    args: serde_json::json!({ "commands": n }),
                });
            };
            for c in &log.commands {
                let ch = c.channel as usize;
                let cyc = c.cycle.0;
                match open[ch] {
                    Some((a, b, n)) if cyc <= b + CHANNEL_GAP_CYCLES => {
                        open[ch] = Some((a, cyc, n + 1))
                    }
                    Some(span) => {
                        flush(&mut events, ch, span);
                        open[ch] = Some((cyc, cyc, 1));
                    }
                    None => open[ch] = Some((cyc, cyc, 1)),
                }
            }
            for (ch, span) in open.into_iter().enumerate() {
                if let Some(span) = span {
                    flush(&mut events, ch, span);
                }
            }
        }
        let mut bytes = vec![0u64; COUNTER_WINDOWS as usize + 1];
        for &(t, b) in completions {
            bytes[((t.0 / window) as usize).min(COUNTER_WINDOWS as usize)] += b;
        }
        for w in 0..=COUNTER_WINDOWS as usize {
            let ts = us(Picos(w as u64 * window));
            // bytes / ps = TB/s; x1000 = GB/s. pJ / ps = W.
            events.push(TraceEvent {
                name: "dram_bandwidth_gb_per_s".into(),
                ph: "C",
                ts,
                dur: None,
                pid: PID_DRAM,
                tid: 0,
                args: serde_json::json!({ "GB/s": bytes[w] as f64 * 1000.0 / window as f64 }),
            });
            events.push(TraceEvent {
                name: "engine_power_w".into(),
                ph: "C",
                ts,
                dur: None,
                pid: PID_ENGINES,
                tid: 0,
                args: serde_json::json!({ "W": power[w] / window as f64 }),
            });
        }
        let _ = program;
        Trace {
            events,
            display_time_unit: "ns",
        }
    }
}

/// Adds `pj` spread evenly over `[a, b)` into per-window sums.
fn spread(sums: &mut [f64], window: u64, a: u64, b: u64, pj: f64) {
    if b <= a {
        let i = ((a / window) as usize).min(sums.len() - 1);
        sums[i] += pj;
        return;
    }
    let per_ps = pj / (b - a) as f64;
    let mut t = a;
    while t < b {
        let w = t / window;
        let end = ((w + 1) * window).min(b);
        let i = (w as usize).min(sums.len() - 1);
        sums[i] += per_ps * (end - t) as f64;
        t = end;
    }
}

/// Writes `trace` as JSON to `path` atomically (temporary file, then rename).
pub fn write_chrome_trace(trace: &Trace, path: &std::path::Path) -> crate::Result<()> {
    let text = serde_json::to_string(trace).map_err(|e| crate::Error::Program {
        message: format!("trace serialisation: {e}"),
    })?;
    let tmp = path.with_extension("json.tmp");
    let io = |source| crate::Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
