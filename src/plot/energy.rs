//! Where the energy of a run went: one stacked column per simulator report, a
//! segment per energy component (CPU, NPU array, SRAM, DRAM core and I/O, PIM,
//! links, static), and optionally beside it the labels (ops) with the most dynamic
//! energy in one report as horizontal bars.

use plotters::prelude::*;

use super::{PALETTE, category_at, draw_error, pico_scale, svg};

/// One stacked column.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyColumn {
    /// Name under the column (`tiny-llama decode:8 on mobile-soc-pim`).
    pub name: String,
    /// Components and their picojoules, bottom to top.
    pub parts: Vec<(String, f64)>,
}

/// Everything an energy plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyPlot {
    /// Title line.
    pub title: String,
    /// The columns; every column lists the same components in the same order.
    pub columns: Vec<EnergyColumn>,
    /// Labels and their dynamic picojoules, largest first (empty: no label panel).
    pub labels: Vec<(String, f64)>,
}

/// The `n` labels with the most energy, largest first (ties by name).
pub fn top_labels(labels: impl IntoIterator<Item = (String, f64)>, n: usize) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = labels.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// The plot as SVG text: one filled `<rect>` per non-zero component of each column
/// and one per label bar.
pub fn render(p: &EnergyPlot) -> anyhow::Result<String> {
    let names: Vec<String> = p
        .columns
        .first()
        .map(|c| c.parts.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let max_total = p
        .columns
        .iter()
        .map(|c| c.parts.iter().map(|(_, v)| v).sum::<f64>())
        .fold(0.0, f64::max);
    let (scale, unit) = pico_scale(max_total);
    svg(|root| {
        let root = root
            .titled(&p.title, ("sans-serif", 20))
            .map_err(draw_error)?;
        let (left, right) = if p.labels.is_empty() {
            (root.clone(), None)
        } else {
            let (l, r) = root.split_horizontally(super::WIDTH / 2);
            (l, Some(r))
        };
        let n = p.columns.len();
        let mut chart = ChartBuilder::on(&left)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                -0.5..(n as f64 - 0.5),
                0.0..(max_total / scale * 1.05).max(1e-9),
            )
            .map_err(draw_error)?;
        let column_name = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-9 && i >= 0.0 {
                p.columns
                    .get(i as usize)
                    .map(|c| c.name.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(n.max(1) * 2 + 1)
            .x_label_formatter(&column_name)
            .y_desc(format!("energy ({unit})"))
            .draw()
            .map_err(draw_error)?;
        for (k, name) in names.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let mut bars = Vec::new();
            for (i, c) in p.columns.iter().enumerate() {
                let below: f64 = c.parts[..k].iter().map(|(_, v)| v).sum();
                let v = c.parts.get(k).map_or(0.0, |(_, v)| *v);
                if v > 0.0 {
                    let x = i as f64;
                    bars.push(Rectangle::new(
                        [(x - 0.3, below / scale), (x + 0.3, (below + v) / scale)],
                        colour.filled(),
                    ));
                }
            }
            if bars.is_empty() {
                continue;
            }
            chart
                .draw_series(bars)
                .map_err(draw_error)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(6))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        if let Some(right) = right {
            label_bars(&right, &p.labels)?;
        }
        Ok(())
    })
}

/// The label panel: one horizontal bar per label, the largest on top.
fn label_bars(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    labels: &[(String, f64)],
) -> anyhow::Result<()> {
    let max = labels.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let (scale, unit) = pico_scale(max);
    let n = labels.len();
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(180)
        .build_cartesian_2d(0.0..(max / scale * 1.05).max(1e-9), -0.5..(n as f64 - 0.5))
        .map_err(draw_error)?;
    let names: Vec<String> = labels.iter().map(|(l, _)| l.clone()).collect();
    let label_name = |y: &f64| category_at(&names, *y);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(n * 2 + 1)
        .y_label_formatter(&label_name)
        .x_desc(format!("dynamic energy per label ({unit})"))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(draw_error)?;
    chart
        .draw_series(labels.iter().enumerate().map(|(i, (_, v))| {
            let y = (n - 1 - i) as f64;
            Rectangle::new(
                [(0.0, y - 0.35), (v / scale, y + 0.35)],
                PALETTE[0].filled(),
            )
        }))
        .map_err(draw_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_labels_are_the_largest_in_order() {
        let l = [("a", 1.0), ("b", 5.0), ("c", 3.0), ("d", 5.0)].map(|(n, v)| (n.to_string(), v));
        let top = top_labels(l, 3);
        let names: Vec<&str> = top.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "d", "c"]);
    }
}
