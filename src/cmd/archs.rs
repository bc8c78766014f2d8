//! `triad archs`: list the embedded machine descriptions, or print one (a preset
//! name or a TOML file) with its derived peak figures, as text, TOML or JSON.

use anyhow::Context;
use clap::Subcommand;
use std::fmt::Write as _;
use std::path::PathBuf;
use triad_isa::{Arch, DType, Derived};

/// Arguments of `triad archs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// Print the report as JSON: the list as `[{"name", "description"}]`, `show` as
    /// `{"arch": …, "derived": …}`.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Print one arch (a preset name or a TOML file) with derived peak figures.
    Show {
        /// Preset name (see `triad archs`) or path to an arch TOML file.
        arch: PathBuf,
        /// Print the arch as TOML (derived figures follow as comments).
        #[arg(long)]
        toml: bool,
    },
}

/// Runs the subcommand, printing to stdout.
pub fn run(args: Args) -> anyhow::Result<()> {
    let json = args.json;
    match args.action {
        None if json => {
            let rows = Arch::preset_names()
                .iter()
                .map(|name| {
                    let a =
                        Arch::preset(name).with_context(|| format!("embedded preset `{name}`"))?;
                    Ok(serde_json::json!({ "name": name, "description": a.description }))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            println!("{}", serde_json::to_string_pretty(&rows)?);
            Ok(())
        }
        None => {
            print!("{}", list()?);
            Ok(())
        }
        Some(Action::Show { toml: true, .. }) if json => {
            anyhow::bail!("--toml and --json both print the arch: give one")
        }
        Some(Action::Show { arch, toml }) => {
            let a =
                Arch::load(&arch).with_context(|| format!("loading arch `{}`", arch.display()))?;
            let d = a.derived();
            if json {
                let v = serde_json::json!({ "arch": a, "derived": d });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if toml {
                print!("{}", a.to_toml_string());
                println!();
                for line in derived_lines(&d) {
                    println!("# {line}");
                }
            } else {
                print!("{}", summary(&a, &d));
            }
            Ok(())
        }
    }
}

/// One line per preset: name and description.
fn list() -> anyhow::Result<String> {
    let mut out = String::new();
    let width = Arch::preset_names()
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(0);
    for name in Arch::preset_names() {
        let a = Arch::preset(name).with_context(|| format!("embedded preset `{name}`"))?;
        writeln!(out, "{name:width$}  {}", a.description)?;
    }
    Ok(out)
}

/// `1536 MiB`-style size.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() && (bytes >> (10 * (i + 1))) << (10 * (i + 1)) == bytes
    {
        v /= 1024.0;
        i += 1;
    }
    format!("{v} {}", UNITS[i])
}

/// Clock frequency in MHz of a period in picoseconds.
fn mhz(tck_ps: u64) -> f64 {
    1e6 / tck_ps as f64
}

/// The name a value has in TOML (`"ws"`, `"bank_group"`, `"per_bank"`).
fn label<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_string(),
    }
}

fn dtypes(list: &[DType]) -> String {
    list.iter().map(|d| d.name()).collect::<Vec<_>>().join(" ")
}

fn per_dtype(map: &std::collections::BTreeMap<DType, f64>, unit: &str) -> String {
    if map.is_empty() {
        return "-".to_string();
    }
    map.iter()
        .map(|(d, v)| format!("{d} {v:.2} {unit}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The derived figures, one per line.
fn derived_lines(d: &Derived) -> Vec<String> {
    vec![
        format!("npu peak:               {}", per_dtype(&d.npu_tops, "TOPS")),
        format!("cpu peak:               {}", per_dtype(&d.cpu_gops, "GOPS")),
        format!("dram capacity:          {}", size(d.dram_capacity_bytes)),
        format!(
            "dram peak bandwidth:    {:.2} GB/s",
            d.dram_bandwidth_gb_per_s
        ),
        format!("pim units:              {}", d.pim_units),
        format!(
            "pim internal bandwidth: {:.2} GB/s ({:.2}x external)",
            d.pim_internal_bandwidth_gb_per_s, d.pim_bandwidth_gain
        ),
        format!("pim peak:               {:.3} TOPS", d.pim_tops),
        format!(
            "ridge point:            {}",
            per_dtype(&d.ridge_op_per_byte, "Op/B")
        ),
    ]
}

/// A human-readable description of `a` followed by its derived figures.
fn summary(a: &Arch, d: &Derived) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}: {}", a.name, a.description);
    if let Some(c) = &a.cpu {
        let clusters: Vec<String> = c
            .clusters
            .iter()
            .map(|k| format!("{} {}x {:.0} MHz", k.name, k.cores, mhz(k.tck_ps)))
            .collect();
        let _ = writeln!(
            o,
            "  cpu      {} cores: {}; L2 {}, L3 {}",
            c.total_cores(),
            clusters.join(", "),
            size(c.l2_bytes),
            size(c.l3_bytes)
        );
    }
    if let Some(n) = &a.npu {
        let _ = writeln!(
            o,
            "  npu      {} x {}x{} {} @ {:.0} MHz, {} scratchpad in {} banks, dtypes {}, {} vector lanes, {} DMA engines",
            n.arrays,
            n.rows,
            n.cols,
            label(&n.dataflow),
            mhz(n.tck_ps),
            size(n.spm_bytes),
            n.spm_banks,
            dtypes(&n.dtypes),
            n.vector_lanes,
            n.dma_engines
        );
    }
    let m = &a.dram;
    let _ = writeln!(
        o,
        "  dram     {} {} ch x {} bit, {} rank x {} groups x {} banks, {} rows x {} B, BL{}, tCK {} ps ({:.0} MHz, {} transfers/clock), mapping {}, refresh {}",
        m.standard,
        m.channels,
        m.bus_bits,
        m.ranks,
        m.bank_groups,
        m.banks_per_group,
        m.rows,
        m.row_bytes,
        m.burst_length,
        m.tck_ps,
        mhz(m.tck_ps),
        m.transfers_per_clock,
        m.address_mapping,
        label(&m.refresh)
    );
    let t = &m.timing;
    let _ = writeln!(
        o,
        "  timing   CL {} CWL {} tRCD {}/{} tRP {} tRAS {} tRC {} tCCD {}/{} tRRD {}/{} tFAW {} tWR {} tWTR {}/{} tRTP {} tRTW {} tRFC {} tREFI {} (cycles)",
        t.cl,
        t.cwl,
        t.trcd_rd,
        t.trcd_wr,
        t.trp,
        t.tras,
        t.trc,
        t.tccd_s,
        t.tccd_l,
        t.trrd_s,
        t.trrd_l,
        t.tfaw,
        t.twr,
        t.twtr_s,
        t.twtr_l,
        t.trtp,
        t.trtw,
        t.trfc,
        t.trefi
    );
    if let Some(p) = &a.pim {
        let _ = writeln!(
            o,
            "  pim      {} placement, {} bank(s) per unit, {} MAC lanes in {} @ {:.0} MHz, {} global buffer, tCCD_MAC {}, activations [{}]",
            label(&p.placement),
            p.banks_per_unit,
            p.mac_lanes,
            dtypes(&p.dtypes),
            mhz(p.tck_ps),
            size(p.global_buffer_bytes),
            p.timing.tccd_mac,
            p.activation_functions
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if let Some(s) = &a.storage {
        let _ = writeln!(
            o,
            "  storage  {}: {} GB/s read, {} GB/s write, {} ns",
            s.kind, s.read_gb_per_s, s.write_gb_per_s, s.latency_ns
        );
    }
    let l = &a.links;
    let links: Vec<String> = [("cpu-dram", &l.cpu_dram), ("npu-dram", &l.npu_dram)]
        .into_iter()
        .filter(|(_, k)| k.bandwidth_gb_per_s > 0.0)
        .map(|(n, k)| format!("{n} {} GB/s {} ns", k.bandwidth_gb_per_s, k.latency_ns))
        .collect();
    if !links.is_empty() {
        let _ = writeln!(o, "  links    {}", links.join(", "));
    }
    let _ = writeln!(o, "derived:");
    for line in derived_lines(d) {
        let _ = writeln!(o, "  {line}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_pick_the_largest_exact_unit() {
        assert_eq!(size(8 * 1024 * 1024), "8 MiB");
        assert_eq!(size(1536), "1536 B");
        assert_eq!(size(12_582_912), "12 MiB");
    }

    #[test]
    fn every_preset_is_listed_and_summarised() {
        let listing = list().unwrap();
        for name in Arch::preset_names() {
            assert!(
                listing.lines().any(|l| l.starts_with(name)),
                "{name} missing from listing"
            );
            let a = Arch::preset(name).unwrap();
            let s = summary(&a, &a.derived());
            assert!(s.starts_with(&format!("{name}: ")));
            assert!(s.contains("dram peak bandwidth"));
        }
    }
}
