//! A sweep's points on two metrics with their Pareto front marked: the points no
//! other point beats on both metrics (each minimised unless maximising is asked
//! for). The front is computed here, from the plotted metrics, whatever flag the
//! sweep's own file carries.

use anyhow::bail;
use plotters::prelude::*;

use super::{PALETTE, draw_error, number, svg};

/// Everything a Pareto plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ParetoPlot {
    /// Title line.
    pub title: String,
    /// Name of the x metric.
    pub x_name: String,
    /// Name of the y metric.
    pub y_name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// Whether larger is better, for x and for y.
    pub maximize: (bool, bool),
    /// Whether x and y are drawn on log axes (their values must then be positive).
    pub log: (bool, bool),
}

/// Whether each of `points` is on the Pareto front: no other point is at least as
/// good on both metrics and better on one. Equal points are all on the front
/// together. O(n log n).
pub fn front(points: &[(f64, f64)], maximize: (bool, bool)) -> Vec<bool> {
    // Both metrics as costs to minimise.
    let cost = |&(x, y): &(f64, f64)| {
        (
            if maximize.0 { -x } else { x },
            if maximize.1 { -y } else { y },
        )
    };
    let costs: Vec<(f64, f64)> = points.iter().map(cost).collect();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        costs[a]
            .0
            .total_cmp(&costs[b].0)
            .then(costs[a].1.total_cmp(&costs[b].1))
    });
    let mut on = vec![false; points.len()];
    // Best y among points of strictly smaller x.
    let mut best = f64::INFINITY;
    let mut i = 0;
    while i < order.len() {
        let x = costs[order[i]].0;
        let group_min = costs[order[i]].1;
        let mut j = i;
        while j < order.len() && costs[order[j]].0 == x {
            let y = costs[order[j]].1;
            on[order[j]] = y == group_min && y < best;
            j += 1;
        }
        best = best.min(group_min);
        i = j;
    }
    on
}

/// An axis range around `v` with 5 % margins (a unit range around a single value).
fn span(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !(lo.is_finite() && hi.is_finite()) {
        (0.0, 1.0)
    } else if hi > lo {
        let m = (hi - lo) * 0.05;
        (lo - m, hi + m)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

/// The plot as SVG text: a `<circle>` per point, filled for the front (joined by a
/// line), hollow grey for the rest.
pub fn render(p: &ParetoPlot) -> anyhow::Result<String> {
    let on = front(&p.points, p.maximize);
    // Log axes draw log10 of the values and label the ticks with 10^tick.
    let (lx, ly) = p.log;
    for (i, &(x, y)) in p.points.iter().enumerate() {
        if (lx && x <= 0.0) || (ly && y <= 0.0) {
            bail!(
                "point {} ({x}, {y}): a log axis needs positive values",
                i + 1
            );
        }
    }
    let axis = |log: bool, v: f64| if log { v.log10() } else { v };
    let points: Vec<(f64, f64)> = p
        .points
        .iter()
        .map(|&(x, y)| (axis(lx, x), axis(ly, y)))
        .collect();
    let (x_lo, x_hi) = span(points.iter().map(|q| q.0));
    let (y_lo, y_hi) = span(points.iter().map(|q| q.1));
    let x_tick = |v: &f64| number(if lx { 10f64.powf(*v) } else { *v });
    let y_tick = |v: &f64| number(if ly { 10f64.powf(*v) } else { *v });
    let better = |max: bool| {
        if max {
            "higher is better"
        } else {
            "lower is better"
        }
    };
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&p.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(90)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(format!("{} ({})", p.x_name, better(p.maximize.0)))
            .y_desc(format!("{} ({})", p.y_name, better(p.maximize.1)))
            .x_label_formatter(&x_tick)
            .y_label_formatter(&y_tick)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(draw_error)?;
        let grey = RGBColor(0x99, 0x99, 0x99);
        let rest: Vec<(f64, f64)> = points
            .iter()
            .zip(&on)
            .filter(|(_, f)| !**f)
            .map(|(q, _)| *q)
            .collect();
        let mut best: Vec<(f64, f64)> = points
            .iter()
            .zip(&on)
            .filter(|(_, f)| **f)
            .map(|(q, _)| *q)
            .collect();
        best.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let n_rest = rest.len();
        chart
            .draw_series(
                rest.into_iter()
                    .map(|q| Circle::new(q, 3, grey.stroke_width(1))),
            )
            .map_err(draw_error)?
            .label(format!("dominated ({n_rest})"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], grey.stroke_width(2)));
        let colour = PALETTE[3];
        chart
            .draw_series(LineSeries::new(best.clone(), colour.stroke_width(1)))
            .map_err(draw_error)?;
        let n_best = best.len();
        chart
            .draw_series(best.into_iter().map(|q| Circle::new(q, 4, colour.filled())))
            .map_err(draw_error)?
            .label(format!("Pareto front ({n_best})"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, pair by pair.
    fn brute(points: &[(f64, f64)], maximize: (bool, bool)) -> Vec<bool> {
        let c = |v: f64, m: bool| if m { -v } else { v };
        points
            .iter()
            .map(|&(x, y)| {
                !points.iter().any(|&(a, b)| {
                    let (dx, dy) = (
                        c(a, maximize.0) - c(x, maximize.0),
                        c(b, maximize.1) - c(y, maximize.1),
                    );
                    dx <= 0.0 && dy <= 0.0 && (dx < 0.0 || dy < 0.0)
                })
            })
            .collect()
    }

    #[test]
    fn front_of_a_small_sweep() {
        // (latency, energy): (1, 5) (2, 3) (4, 1) trade off; (3, 4) is beaten by
        // (2, 3); the duplicate (2, 3) stays on the front with its twin.
        let pts = [
            (1.0, 5.0),
            (2.0, 3.0),
            (3.0, 4.0),
            (4.0, 1.0),
            (2.0, 3.0),
            (4.0, 2.0),
        ];
        assert_eq!(
            front(&pts, (false, false)),
            [true, true, false, true, true, false]
        );
        // Maximising y (tokens/s, say): (1, 5) has the lowest x and the highest y,
        // so it beats every other point.
        assert_eq!(
            front(&pts, (false, true)),
            [true, false, false, false, false, false]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn front_matches_the_definition(
            pts in prop::collection::vec((0u8..6, 0u8..6), 0..40),
            mx in any::<bool>(),
            my in any::<bool>(),
        ) {
            let pts: Vec<(f64, f64)> = pts.into_iter().map(|(a, b)| (f64::from(a), f64::from(b))).collect();
            prop_assert_eq!(front(&pts, (mx, my)), brute(&pts, (mx, my)));
        }
    }
}
