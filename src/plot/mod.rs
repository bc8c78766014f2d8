//! The SVG plots `triad plot` draws, one kind per module. Each module holds the typed
//! input of its plot and a pure `render` that turns it into SVG text (plotters' SVG
//! backend: no bitmap, no system font; text is emitted as `<text>` elements the
//! viewer lays out). Reading the JSON files the other commands write into those
//! inputs lives in [`inputs`]; the command itself in `cmd/plot.rs`.
//!
//! What the SVGs hold, so scripts and tests can count it: data points are
//! `<circle>`s and bars are filled `<rect>`s; the background and the legend box are
//! white `<rect>`s, axes use lines and text, legends lines (and, for the roofline's
//! point series, small filled squares).

pub mod energy;
pub mod gantt;
pub mod inputs;
pub mod pareto;
pub mod roofline;

use plotters::prelude::*;
use triad_compiler::egraph::Target;

/// Width of every plot, pixels.
pub const WIDTH: u32 = 960;
/// Height of every plot, pixels.
pub const HEIGHT: u32 = 600;

/// The colour of a target's points and roofs.
pub fn target_colour(t: Target) -> RGBColor {
    match t {
        Target::Cpu => RGBColor(0x1f, 0x77, 0xb4),
        Target::Npu => RGBColor(0xd6, 0x27, 0x28),
        Target::Pim => RGBColor(0x2c, 0xa0, 0x2c),
    }
}

/// Ten distinct colours (matplotlib's tab10), none of them white.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Draws into an SVG string of [`WIDTH`] x [`HEIGHT`] on a white background and
/// returns the text.
pub fn svg<F>(draw: F) -> anyhow::Result<String>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> anyhow::Result<()>,
{
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        draw(&root)?;
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// A plotters error as an `anyhow` error (plotters' errors borrow nothing but are
/// not `Sync` for every backend, so they are turned into text).
pub fn draw_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e:?}")
}

/// The unit an energy axis whose largest value is `max_pj` picojoules reads best in:
/// picojoules per unit and its name (`pJ`, `nJ`, `uJ`, `mJ`, `J`, `kJ`).
pub fn pico_scale(max_pj: f64) -> (f64, &'static str) {
    const UNITS: [(f64, &str); 6] = [
        (1e15, "kJ"),
        (1e12, "J"),
        (1e9, "mJ"),
        (1e6, "uJ"),
        (1e3, "nJ"),
        (1.0, "pJ"),
    ];
    UNITS
        .into_iter()
        .find(|(f, _)| max_pj >= *f)
        .unwrap_or((1.0, "pJ"))
}

/// `[lo, hi]` widened to whole decades around the positive values `xs` (a log axis
/// range); `None` if there are none.
pub fn decades(xs: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = xs
        .into_iter()
        .filter(|x| x.is_finite() && *x > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    (hi > 0.0).then(|| {
        let lo = 10f64.powf(lo.log10().floor());
        let hi = 10f64.powf(hi.log10().ceil());
        if hi > lo { (lo, hi) } else { (lo, hi * 10.0) }
    })
}

/// A tick label: plain for moderate magnitudes, `1.5e7` style otherwise.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-3..1e5).contains(&a) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let s = format!("{v:.2e}");
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            None => s,
        }
    }
}

/// The name at tick `y` of a category axis drawn top-down (`names[0]` at the top,
/// one category per integer); empty between categories.
pub fn category_at(names: &[String], y: f64) -> String {
    let n = names.len();
    let i = y.round();
    if (y - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < n {
        names[n - 1 - i as usize].clone()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decades_round_out_to_powers_of_ten() {
        assert_eq!(decades([3.0, 450.0, -1.0, 0.0]), Some((1.0, 1000.0)));
        assert_eq!(decades([10.0]), Some((10.0, 100.0)));
        assert_eq!(decades([0.0, f64::NAN]), None);
    }

    #[test]
    fn tick_numbers_drop_trailing_zeros_and_go_scientific_when_large() {
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(20.0), "20");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(4.5e8), "4.5e8");
        assert_eq!(number(1.234e-5), "1.23e-5");
    }

    #[test]
    fn energy_units_pick_the_largest_prefix_under_the_value() {
        assert_eq!(pico_scale(5e7), (1e6, "uJ"));
        assert_eq!(pico_scale(999.0), (1.0, "pJ"));
        assert_eq!(pico_scale(0.0), (1.0, "pJ"));
    }
}
