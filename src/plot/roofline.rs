//! The roofline of an arch with a program's ops on it: per target (and dtype) a roof
//! `rate = min(peak, bandwidth x Op/B)`, and each op as a point at its Op/B and the
//! rate it achieved (FLOPs over its simulated time where known, over the compiler's
//! estimate otherwise), coloured by the target it was placed on.
//!
//! The roofs come from the arch through the same code the rest of Triad uses: peak
//! rates from [`triad_isa::Derived`] (what `triad archs show` prints), slopes from
//! [`CostModel::bandwidth_bytes_per_s`] (the bandwidth the compiler's cost model
//! divides bytes by: CPU / NPU links capped by the DRAM peak, PIM's internal
//! bandwidth).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use plotters::prelude::*;
use triad_compiler::egraph::{CostModel, Target};
use triad_isa::{Arch, DType};

use super::inputs::ExplainRowIn;
use super::{decades, draw_error, svg, target_colour};

/// One roof: a target's peak rate in one dtype and the bandwidth it streams at.
#[derive(Clone, Debug, PartialEq)]
pub struct Roof {
    /// The target it bounds.
    pub target: Target,
    /// Legend name (`NPU f16`).
    pub name: String,
    /// Peak operations per second (2 per MAC).
    pub peak_ops_per_s: f64,
    /// Bytes per second of the memory slope.
    pub bandwidth_bytes_per_s: f64,
}

impl Roof {
    /// The Op/B where the slope meets the peak.
    pub fn ridge(&self) -> f64 {
        self.peak_ops_per_s / self.bandwidth_bytes_per_s
    }

    /// The attainable rate at `op_per_byte`.
    pub fn at(&self, op_per_byte: f64) -> f64 {
        self.peak_ops_per_s
            .min(self.bandwidth_bytes_per_s * op_per_byte)
    }
}

/// One op on the plot.
#[derive(Clone, Debug, PartialEq)]
pub struct OpPoint {
    /// Node name.
    pub node: String,
    /// Target it ran on.
    pub target: Target,
    /// FLOPs per DRAM byte of the op run alone.
    pub op_per_byte: f64,
    /// FLOPs per second achieved.
    pub ops_per_s: f64,
    /// Whether the time is simulated (`false`: the compiler's estimate).
    pub simulated: bool,
}

/// Everything a roofline plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Roofline {
    /// Title line.
    pub title: String,
    /// The roofs.
    pub roofs: Vec<Roof>,
    /// The ops.
    pub points: Vec<OpPoint>,
}

/// The roofs of `arch`: one per NPU and CPU dtype in `dtypes` (all of the target's
/// dtypes when none of its listed ones is there), one for PIM. Targets the arch lacks
/// have none.
pub fn roofs(arch: &Arch, dtypes: &BTreeMap<Target, BTreeSet<DType>>) -> Vec<Roof> {
    let d = arch.derived();
    let model = CostModel::new(arch);
    let mut out = Vec::new();
    let mut per_dtype = |target: Target, label: &str, peaks: &BTreeMap<DType, f64>, unit: f64| {
        let wanted = dtypes.get(&target);
        let any = peaks.keys().any(|k| wanted.is_some_and(|w| w.contains(k)));
        for (dtype, peak) in peaks {
            if !any || wanted.is_some_and(|w| w.contains(dtype)) {
                out.push(Roof {
                    target,
                    name: format!("{label} {dtype}"),
                    peak_ops_per_s: peak * unit,
                    bandwidth_bytes_per_s: model.bandwidth_bytes_per_s(target),
                });
            }
        }
    };
    if arch.npu.is_some() {
        per_dtype(Target::Npu, "NPU", &d.npu_tops, 1e12);
    }
    if arch.cpu.is_some() {
        per_dtype(Target::Cpu, "CPU", &d.cpu_gops, 1e9);
    }
    if arch.pim.is_some() {
        out.push(Roof {
            target: Target::Pim,
            name: "PIM (internal bandwidth)".into(),
            peak_ops_per_s: d.pim_tops * 1e12,
            bandwidth_bytes_per_s: model.bandwidth_bytes_per_s(Target::Pim),
        });
    }
    out
}

/// The dtypes the placed rows use, per target.
pub fn dtypes_used(rows: &[ExplainRowIn]) -> BTreeMap<Target, BTreeSet<DType>> {
    let mut out: BTreeMap<Target, BTreeSet<DType>> = BTreeMap::new();
    for r in rows {
        if let (Some(t), Ok(d)) = (r.target, r.dtype.parse::<DType>()) {
            out.entry(t).or_default().insert(d);
        }
    }
    out
}

/// The name a program label gives a node: characters outside `[A-Za-z0-9_.]`
/// become `_` (as the compiler's lowering writes them).
fn label_form(node: &str) -> String {
    node.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Per node, the picoseconds of the labels that name it. A label is the node's name,
/// optionally behind its kernel's scope (`layer0_qkv.layer0.q_proj`) and with `_`
/// appended to keep labels unique; the longest node name a label ends with wins.
/// Labels that name no node are left out.
pub fn times_by_node(
    nodes: impl IntoIterator<Item = String>,
    label_ps: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    let by_form: HashMap<String, String> = nodes.into_iter().map(|n| (label_form(&n), n)).collect();
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for (label, ps) in label_ps {
        let find = |l: &str| {
            std::iter::once(l)
                .chain(l.match_indices('.').map(|(i, _)| &l[i + 1..]))
                .find_map(|suffix| by_form.get(suffix))
        };
        let node = find(label).or_else(|| find(label.trim_end_matches('_')));
        if let Some(node) = node {
            *out.entry(node.clone()).or_default() += ps;
        }
    }
    out
}

/// The points of the placed rows with FLOPs and a positive Op/B: rate = FLOPs over
/// the node's simulated picoseconds in `simulated_ps` if it has some, else over the
/// chosen target's estimate. Returns the points and how many rows were left out
/// (no target, no FLOPs, no DRAM bytes or no time).
pub fn points(
    rows: &[ExplainRowIn],
    simulated_ps: &BTreeMap<String, f64>,
) -> (Vec<OpPoint>, usize) {
    let mut out = Vec::new();
    let mut left_out = 0;
    for r in rows {
        let Some(target) = r.target else {
            left_out += 1;
            continue;
        };
        let sim = simulated_ps.get(&r.node).copied().filter(|t| *t > 0.0);
        let time_ps = sim.or_else(|| r.costs.get(&target).map(|c| c.time_ps));
        match time_ps {
            Some(ps) if ps > 0.0 && r.flops > 0 && r.op_per_byte > 0.0 => out.push(OpPoint {
                node: r.node.clone(),
                target,
                op_per_byte: r.op_per_byte,
                ops_per_s: r.flops as f64 / (ps * 1e-12),
                simulated: sim.is_some(),
            }),
            _ => left_out += 1,
        }
    }
    (out, left_out)
}

/// `c` lightened towards white by `k` steps of 30 %.
fn lighter(c: RGBColor, k: usize) -> RGBColor {
    let f = 1.0 - 0.7f64.powi(k as i32);
    let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * f * 0.8).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// A log-axis tick: `1e3`, `0.01`, `10`.
fn tick(v: &f64) -> String {
    if (1e-2..1e4).contains(v) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// The plot as SVG text.
pub fn render(r: &Roofline) -> anyhow::Result<String> {
    let (x_lo, x_hi) = decades(
        r.points.iter().map(|p| p.op_per_byte).chain(
            r.roofs
                .iter()
                .flat_map(|f| [f.ridge() * 4.0, f.ridge() / 4.0]),
        ),
    )
    .unwrap_or((0.01, 1e4));
    let gops = |v: f64| v * 1e-9;
    let (y_lo, y_hi) = decades(
        r.points.iter().map(|p| gops(p.ops_per_s)).chain(
            r.roofs
                .iter()
                .flat_map(|f| [gops(f.peak_ops_per_s), gops(f.at(x_lo))]),
        ),
    )
    .unwrap_or((1.0, 1e6));
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&r.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (Op/B)")
            .y_desc("GOP/s")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(draw_error)?;
        let mut seen: BTreeMap<Target, usize> = BTreeMap::new();
        for roof in &r.roofs {
            let k = seen.entry(roof.target).or_default();
            let colour = lighter(target_colour(roof.target), *k);
            *k += 1;
            let ridge = roof.ridge().clamp(x_lo, x_hi);
            let line = vec![
                (x_lo, gops(roof.at(x_lo))),
                (ridge, gops(roof.at(ridge))),
                (x_hi, gops(roof.at(x_hi))),
            ];
            chart
                .draw_series(LineSeries::new(line, colour.stroke_width(2)))
                .map_err(draw_error)?
                .label(format!(
                    "{}: {:.0} GOP/s, {:.1} GB/s",
                    roof.name,
                    gops(roof.peak_ops_per_s),
                    roof.bandwidth_bytes_per_s * 1e-9
                ))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        for target in Target::ALL {
            let colour = target_colour(target);
            let mine: Vec<&OpPoint> = r.points.iter().filter(|p| p.target == target).collect();
            if mine.is_empty() {
                continue;
            }
            let circles = mine.iter().map(|p| {
                let style = if p.simulated {
                    colour.filled()
                } else {
                    colour.stroke_width(1)
                };
                Circle::new((p.op_per_byte, gops(p.ops_per_s)), 4, style)
            });
            chart
                .draw_series(circles)
                .map_err(draw_error)?
                .label(format!(
                    "{} ops ({})",
                    target.name().to_uppercase(),
                    mine.len()
                ))
                .legend(move |(x, y)| {
                    Rectangle::new([(x + 5, y - 4), (x + 13, y + 4)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(draw_error)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roof_is_the_lower_of_slope_and_peak() {
        let r = Roof {
            target: Target::Npu,
            name: "NPU f16".into(),
            peak_ops_per_s: 1e12,
            bandwidth_bytes_per_s: 1e10,
        };
        assert_eq!(r.ridge(), 100.0);
        assert_eq!(r.at(10.0), 1e11);
        assert_eq!(r.at(1000.0), 1e12);
    }

    #[test]
    fn mobile_soc_pim_roofs_are_its_derived_figures() {
        let arch = Arch::preset("mobile-soc-pim").unwrap();
        let used = BTreeMap::from([(Target::Npu, BTreeSet::from([DType::F16]))]);
        let rs = roofs(&arch, &used);
        let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
        // NPU only in the dtype the ops use; the CPU, unused, in all of its dtypes.
        assert_eq!(
            names,
            [
                "NPU f16",
                "CPU f32",
                "CPU f16",
                "CPU i8",
                "PIM (internal bandwidth)"
            ]
        );
        // 2 arrays x 64 x 64 MACs x 2 ops per NPU clock (~1376 MHz) in f16 (i8 runs
        // twice that).
        let npu = &rs[0];
        let tck_ps = arch.npu.as_ref().unwrap().tck_ps as f64;
        let f16 = 2.0 * 64.0 * 64.0 * 2.0 / (tck_ps * 1e-12);
        assert!((npu.peak_ops_per_s / f16 - 1.0).abs() < 1e-9, "{npu:?}");
        assert!((npu.bandwidth_bytes_per_s - 76.8e9).abs() < 1e3);
        // PIM: 64 units x 16 lanes x 2 ops per 1666 ps; 64 x 32 bytes per 1666 ps.
        let pim = &rs[4];
        assert!((pim.peak_ops_per_s - 64.0 * 16.0 * 2.0 / 1666e-12).abs() < 1e3);
        assert!((pim.bandwidth_bytes_per_s - 64.0 * 32.0 / 1666e-12).abs() < 1e3);
    }

    #[test]
    fn labels_find_their_nodes_behind_scopes_and_suffixes() {
        let nodes = ["layer0.q_proj", "q_proj", "embed/tokens", "x"].map(String::from);
        let labels = BTreeMap::from([
            ("layer0_qkv.layer0.q_proj".to_string(), 10.0),
            ("q_proj".to_string(), 1.0),
            ("embed_tokens".to_string(), 2.0),
            ("x_".to_string(), 3.0),
            ("x".to_string(), 4.0),
            ("nobody".to_string(), 5.0),
        ]);
        let t = times_by_node(nodes, &labels);
        assert_eq!(t["layer0.q_proj"], 10.0);
        assert_eq!(t["q_proj"], 1.0);
        assert_eq!(t["embed/tokens"], 2.0);
        assert_eq!(t["x"], 7.0);
        assert_eq!(t.len(), 4);
    }
}
