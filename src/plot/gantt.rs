//! A per-engine Gantt chart of a run, from the simulator's Chrome trace: one row per
//! engine track, one bar per instruction, or per run of consecutive instructions
//! under the same label (an op's span on that engine). Bars are coloured by label,
//! so one op's work can be followed across engines.

use std::collections::BTreeMap;

use anyhow::bail;
use plotters::prelude::*;

use super::inputs::TraceIn;
use super::{PALETTE, category_at, draw_error, svg};

/// One bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Row (index into [`Gantt::rows`]).
    pub row: usize,
    /// Start, microseconds.
    pub start_us: f64,
    /// End, microseconds.
    pub end_us: f64,
    /// Label of its instructions (empty: unlabelled).
    pub label: String,
}

/// Everything a Gantt plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Gantt {
    /// Title line.
    pub title: String,
    /// Row names, top to bottom.
    pub rows: Vec<String>,
    /// The bars.
    pub bars: Vec<Bar>,
}

/// Gaps below this many microseconds (a picosecond) still join two spans.
const JOIN_US: f64 = 1e-6;

/// The engine rows and bars of `trace`: tracks of the process named `engines` in
/// track order, a bar per span, or with `merge_labels` per run of back-to-back spans
/// on one track under the same label.
pub fn from_trace(trace: &TraceIn, merge_labels: bool) -> anyhow::Result<(Vec<String>, Vec<Bar>)> {
    let Some(pid) = trace.engines_pid() else {
        bail!(
            "no process named `engines` (a `process_name` metadata event): not a `triad sim --trace` file"
        );
    };
    let names: BTreeMap<u64, String> = trace
        .events
        .iter()
        .filter(|e| e.ph == "M" && e.name == "thread_name" && e.pid == pid)
        .map(|e| {
            let name = e.args["name"]
                .as_str()
                .map_or_else(|| format!("track {}", e.tid), str::to_string);
            (e.tid, name)
        })
        .collect();
    let row_of: BTreeMap<u64, usize> = names.keys().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut rows: Vec<String> = names.into_values().collect();
    let mut spans: Vec<Bar> = Vec::new();
    for (i, e) in trace.events.iter().enumerate() {
        if e.ph != "X" || e.pid != pid {
            continue;
        }
        let Some(dur) = e
            .dur
            .filter(|d| d.is_finite() && *d >= 0.0 && e.ts.is_finite())
        else {
            bail!(
                "event {i} (`{}`): field `dur` must be a non-negative number",
                e.name
            );
        };
        let row = match row_of.get(&e.tid) {
            Some(r) => *r,
            None => {
                // A track without a name: give it one.
                rows.push(format!("track {}", e.tid));
                rows.len() - 1
            }
        };
        spans.push(Bar {
            row,
            start_us: e.ts,
            end_us: e.ts + dur,
            label: e.args["label"].as_str().unwrap_or_default().to_string(),
        });
    }
    spans.sort_by(|a, b| a.row.cmp(&b.row).then(a.start_us.total_cmp(&b.start_us)));
    if !merge_labels {
        return Ok((rows, spans));
    }
    let mut bars: Vec<Bar> = Vec::new();
    for s in spans {
        match bars.last_mut() {
            Some(b) if b.row == s.row && b.label == s.label && s.start_us - b.end_us <= JOIN_US => {
                b.end_us = b.end_us.max(s.end_us);
            }
            _ => bars.push(s),
        }
    }
    Ok((rows, bars))
}

/// The palette colour of `label` (FNV-1a of its bytes: the same label always gets the
/// same colour).
fn colour_of(label: &str) -> RGBColor {
    let h = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    PALETTE[(h % PALETTE.len() as u64) as usize]
}

/// The plot as SVG text: a filled `<rect>` per bar.
pub fn render(g: &Gantt) -> anyhow::Result<String> {
    let end = g.bars.iter().map(|b| b.end_us).fold(0.0, f64::max);
    let n = g.rows.len();
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&g.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..(end * 1.02).max(1e-6), -0.5..(n as f64 - 0.5).max(0.5))
            .map_err(draw_error)?;
        let row_name = |y: &f64| category_at(&g.rows, *y);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .y_labels(n * 2 + 1)
            .y_label_formatter(&row_name)
            .x_desc("time (us); colour: label")
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(g.bars.iter().map(|b| {
                let y = (n - 1 - b.row) as f64;
                Rectangle::new(
                    [(b.start_us, y - 0.38), (b.end_us, y + 0.38)],
                    colour_of(&b.label).filled(),
                )
            }))
            .map_err(draw_error)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::inputs::TraceEventIn;
    use serde_json::json;

    fn ev(
        ph: &str,
        name: &str,
        tid: u64,
        ts: f64,
        dur: Option<f64>,
        args: serde_json::Value,
    ) -> TraceEventIn {
        TraceEventIn {
            name: name.into(),
            ph: ph.into(),
            ts,
            dur,
            pid: 1,
            tid,
            args,
        }
    }

    fn trace() -> TraceIn {
        TraceIn {
            events: vec![
                ev(
                    "M",
                    "process_name",
                    0,
                    0.0,
                    None,
                    json!({"name": "engines"}),
                ),
                ev("M", "thread_name", 1, 0.0, None, json!({"name": "pim.0"})),
                ev("M", "thread_name", 0, 0.0, None, json!({"name": "npu.mx"})),
                // npu.mx: a, a back to back, then a after a gap, then b.
                ev("X", "ld", 0, 0.0, Some(1.0), json!({"label": "a"})),
                ev("X", "mm", 0, 1.0, Some(2.0), json!({"label": "a"})),
                ev("X", "st", 0, 5.0, Some(1.0), json!({"label": "a"})),
                ev("X", "ld", 0, 6.0, Some(1.0), json!({"label": "b"})),
                ev("X", "mac", 1, 0.5, Some(4.0), json!({"label": "a"})),
                ev("C", "power", 0, 0.0, None, json!({"W": 1.0})),
            ],
        }
    }

    #[test]
    fn rows_follow_the_tracks_and_labels_merge_back_to_back() {
        let (rows, bars) = from_trace(&trace(), false).unwrap();
        assert_eq!(rows, ["npu.mx", "pim.0"]);
        assert_eq!(bars.len(), 5);
        let (_, merged) = from_trace(&trace(), true).unwrap();
        let spans: Vec<(usize, f64, f64, &str)> = merged
            .iter()
            .map(|b| (b.row, b.start_us, b.end_us, b.label.as_str()))
            .collect();
        assert_eq!(
            spans,
            [
                (0, 0.0, 3.0, "a"),
                (0, 5.0, 6.0, "a"),
                (0, 6.0, 7.0, "b"),
                (1, 0.5, 4.5, "a")
            ]
        );
    }

    #[test]
    fn a_trace_without_engines_or_with_a_bad_span_is_refused() {
        let mut t = trace();
        t.events.remove(0);
        assert!(
            from_trace(&t, true)
                .unwrap_err()
                .to_string()
                .contains("engines")
        );
        let mut t = trace();
        t.events[3].dur = None;
        assert!(
            from_trace(&t, true)
                .unwrap_err()
                .to_string()
                .contains("`dur`")
        );
    }
}
