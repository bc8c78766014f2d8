//! Text rendering of a [`Report`]: aligned tables with SI-prefixed FLOPs, binary-
//! prefixed bytes (KiB, MiB, GiB) and Op/B, followed by the exact totals.

use std::fmt::Write;

use triad_isa::Bytes;

use super::{Flops, GroupStats, Report};

const COLUMNS: [&str; 11] = [
    "FLOPs",
    "weights",
    "act rd",
    "act wr",
    "KV rd",
    "KV wr",
    "fused DRAM",
    "Op/B",
    "unfused DRAM",
    "Op/B",
    "blocks",
];

/// FLOPs with an SI prefix: `1.23 G`, `512`.
pub(crate) fn si(f: Flops) -> String {
    const PREFIXES: [&str; 6] = ["", "k", "M", "G", "T", "P"];
    let mut x = f.0 as f64;
    let mut i = 0;
    while x >= 1000.0 && i + 1 < PREFIXES.len() {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{}", f.0)
    } else {
        format!("{x:.2} {}", PREFIXES[i])
    }
}

/// Bytes with a binary prefix: `512 B`, `1.50 KiB`, `13.2 MiB`.
pub(crate) fn binary(b: Bytes) -> String {
    const PREFIXES: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = b.0 as f64;
    let mut i = 0;
    while x >= 1024.0 && i + 1 < PREFIXES.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{} B", b.0)
    } else {
        format!("{x:.2} {}", PREFIXES[i])
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"))
}

fn cells(s: &GroupStats) -> Vec<String> {
    vec![
        s.name.clone(),
        si(s.flops),
        binary(s.fused.weights),
        binary(s.fused.act_read),
        binary(s.fused.act_write),
        binary(s.fused.kv_read),
        binary(s.fused.kv_write),
        binary(s.fused.total()),
        ratio(s.op_per_byte),
        binary(s.unfused.total()),
        ratio(s.unfused_op_per_byte),
        s.blocks.to_string(),
    ]
}

/// One aligned table: a header, the rows, then (if given) a rule and a footer row.
fn grid(out: &mut String, first: &str, rows: &[&GroupStats], footer: Option<&GroupStats>) {
    let mut lines: Vec<Vec<String>> = vec![
        std::iter::once(first.to_string())
            .chain(COLUMNS.iter().map(|c| c.to_string()))
            .collect(),
    ];
    lines.extend(rows.iter().map(|s| cells(s)));
    let body = lines.len();
    lines.extend(footer.map(cells));
    let widths: Vec<usize> = (0..=COLUMNS.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule: usize = widths.iter().sum::<usize>() + 2 * COLUMNS.len();
    for (i, line) in lines.iter().enumerate() {
        if i == body || i == 1 {
            let _ = writeln!(out, "{}", "-".repeat(rule));
        }
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c == 0 {
                let _ = write!(text, "{cell:<w$}", w = widths[0]);
            } else {
                let _ = write!(text, "  {cell:>w$}", w = widths[c]);
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    }
}

/// The whole report as text.
pub(crate) fn render(r: &Report) -> String {
    let mut out = String::new();
    let meta: Vec<String> = r.meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(out, "graph {}  {}", r.graph, meta.join("  "));
    let _ = writeln!(
        out,
        "weights .. KV wr and fused DRAM: one kernel per block (values made and used \
         inside a block stay on chip); unfused DRAM: one kernel per op; \
         Op/B = FLOPs / DRAM bytes"
    );
    out.push('\n');
    let layers: Vec<&GroupStats> = r.layers.iter().collect();
    grid(&mut out, "layer", &layers, Some(&r.total));
    out.push('\n');
    let kinds: Vec<&GroupStats> = r.kinds.iter().collect();
    grid(&mut out, "block kind", &kinds, None);
    out.push('\n');
    let t = &r.total;
    let _ = writeln!(out, "total FLOPs: {}", t.flops.0);
    let _ = writeln!(
        out,
        "total DRAM bytes (fused): {} (weights {}, act read {}, act write {}, KV read {}, \
         KV write {})",
        t.fused.total().0,
        t.fused.weights.0,
        t.fused.act_read.0,
        t.fused.act_write.0,
        t.fused.kv_read.0,
        t.fused.kv_write.0
    );
    let _ = writeln!(out, "total DRAM bytes (unfused): {}", t.unfused.total().0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(si(Flops(999)), "999");
        assert_eq!(si(Flops(1_500_000)), "1.50 M");
        assert_eq!(si(Flops(2_000_000_000_000)), "2.00 T");
        assert_eq!(binary(Bytes(1023)), "1023 B");
        assert_eq!(binary(Bytes(1536)), "1.50 KiB");
        assert_eq!(binary(Bytes(3 << 30)), "3.00 GiB");
    }
}
