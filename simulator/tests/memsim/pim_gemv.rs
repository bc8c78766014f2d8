//! PIM GEMV cycle counts and energy, derived from the arch's fields and the weight
//! layout documented in `triad_sim::PimLayout` (rows dealt round-robin over all
//! units, chunks of the global buffer, one MAC per burst).

use crate::common::*;
use triad_isa::Cycles;
use triad_isa::{Arch, DType};
use triad_sim::{
    CommandKind, IssueRate, MemoryOptions, PimGemv, PimMode, PimRequest, TimedRequest, TraceOp,
    run_requests,
};

fn gemv(rows: u64, cols: u64, dtype: DType, act: Option<&str>) -> TimedRequest {
    TimedRequest {
        cycle: Cycles(0),
        op: TraceOp::Pim(PimRequest::Gemv(PimGemv {
            rows,
            cols,
            dtype,
            activation: act.map(str::to_string),
            base_row: 0,
            mode: PimMode::AllBank,
        })),
    }
}

struct Derived {
    units: u64,
    lanes: u64,
    mac_gap: u64,
    burst: u64,
}

fn derive(a: &Arch, dtype: DType) -> Derived {
    let p = a.pim.as_ref().unwrap();
    let d = &a.dram;
    let burst_bytes = u64::from(d.bus_bits / 8 * d.burst_length);
    Derived {
        units: u64::from(d.ranks * d.bank_groups * d.banks_per_group / p.banks_per_unit),
        lanes: u64::from(p.mac_lanes).min(burst_bytes * 8 / dtype.bits()),
        mac_gap: u64::from(p.timing.tccd_mac).max(p.tck_ps.div_ceil(d.tck_ps)),
        burst: burst(a),
    }
}

/// One row per unit, one chunk, one DRAM row: WR_GB x g, ACT_AB, MAC x m, one read-out.
fn closed_form(a: &Arch, cols: u64, dtype: DType, act: bool) -> u64 {
    let x = derive(a, dtype);
    let p = a.pim.as_ref().unwrap();
    let t = &a.dram.timing;
    let burst_bytes = u64::from(a.dram.bus_bits / 8 * a.dram.burst_length);
    let g = (cols * dtype.bits() / 8).div_ceil(burst_bytes);
    let gb_gap = u64::from(p.timing.twr_gb).max(x.burst);
    let last_gb = (g - 1) * gb_gap;
    let act_ab = last_gb + 1;
    let first_mac = (act_ab + u64::from(t.trcd_rd)).max(last_gb + u64::from(t.cwl) + x.burst);
    let m = cols.div_ceil(x.lanes);
    let last_mac = first_mac + (m - 1) * x.mac_gap;
    let readouts = (x.units * dtype.bits() / 8).div_ceil(burst_bytes);
    assert_eq!(readouts, 1, "closed form assumes one read-out burst");
    let read = last_mac + x.mac_gap;
    let lat = if act {
        u64::from(p.timing.taf)
    } else {
        u64::from(p.timing.trd_mac)
    };
    read + lat + x.burst
}

fn check_closed_form(name: &str, dtype: DType, cols: u64, act: Option<&str>) {
    let mut a = no_refresh(name);
    a.energy.static_mw.dram = 7.0;
    a.energy.static_mw.pim = 3.0;
    let x = derive(&a, dtype);
    let rows = x.units * u64::from(a.dram.channels);
    let out = run_checked(&a, &[gemv(rows, cols, dtype, act)], IssueRate::Trace);
    let expect = closed_form(&a, cols, dtype, act.is_some());
    assert_eq!(out.stats.total_cycles.0, expect, "{name} cycles");
    assert_eq!(out.stats.pim_requests, 1);
    // Energy: the per-command sum with the arch's table.
    let e = &a.energy;
    let d = &a.dram;
    let ch = f64::from(d.channels);
    let burst_bits = f64::from(d.bus_bits * d.burst_length);
    let g = ((cols * dtype.bits() / 8).div_ceil(u64::from(d.bus_bits / 8 * d.burst_length))) as f64;
    let m = cols.div_ceil(x.lanes) as f64;
    let act_pj = ch * f64::from(d.ranks * d.bank_groups * d.banks_per_group) * e.dram_act_pj;
    let io_pj = ch * (g + 1.0) * burst_bits * e.dram_io_bit_pj;
    let mac_pj = ch * m * (x.units * x.lanes) as f64 * e.pim_mac_pj;
    let time_ps = (expect * d.tck_ps) as f64;
    let bg_pj = (7.0 + 3.0) * time_ps * 1e-3;
    let total = act_pj + io_pj + mac_pj + bg_pj;
    let got = out.stats.energy.total.0;
    assert!(
        (got - total).abs() <= 1e-9 * total,
        "{name} energy {got} vs {total}"
    );
    let log = out.log.unwrap();
    assert_eq!(log.count(CommandKind::MacAb) as f64, ch * m);
    assert_eq!(log.count(CommandKind::ActAb) as f64, ch);
}

#[test]
fn gemv_one_row_per_unit_matches_closed_form() {
    check_closed_form("pim-gpt", DType::BF16, 256, None);
    check_closed_form("pim-gpt", DType::BF16, 1024, Some("gelu_tanh"));
    // HBM-PIM: two banks per unit, PIM clock slower than tccd_mac.
    check_closed_form("hbm-pim", DType::F16, 512, None);
    check_closed_form("mobile-soc-pim", DType::I8, 512, Some("relu"));
}

/// In-order timeline of one channel under the documented rules, for layouts with
/// several row slots, chunks and DRAM rows.
fn timeline(a: &Arch, rows: u64, cols: u64, dtype: DType) -> u64 {
    let x = derive(a, dtype);
    let p = a.pim.as_ref().unwrap();
    let t = &a.dram.timing;
    let w = u64::from;
    let burst_bytes = u64::from(a.dram.bus_bits / 8 * a.dram.burst_length);
    let eb = dtype.bits() / 8;
    let chunk = (p.global_buffer_bytes / eb / x.lanes * x.lanes).min(cols);
    let chunks = cols.div_ceil(chunk);
    let rpu = rows.div_ceil(x.units * u64::from(a.dram.channels));
    let per_row = u64::from(p.banks_per_unit) * u64::from(a.dram.row_bytes) / burst_bytes;
    let readouts = (x.units * eb).div_ceil(burst_bytes);
    let mut cmd = 0u64; // next free command-bus cycle
    let (mut bus, mut next_gb, mut gb_done, mut next_mac, mut acc) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut open, mut act_at, mut pre_ok, mut act_ok, mut last_data) =
        (None, 0u64, 0u64, 0u64, 0u64);
    let mut s = 0u64;
    for c in 0..chunks {
        let len = if c + 1 < chunks {
            chunk
        } else {
            cols - c * chunk
        };
        for _ in 0..(len * eb).div_ceil(burst_bytes) {
            let at = cmd.max(next_gb).max(bus.saturating_sub(w(t.cwl)));
            next_gb = at + w(p.timing.twr_gb);
            bus = at + w(t.cwl) + x.burst;
            gb_done = bus;
            cmd = at + 1;
        }
        for _ in 0..rpu {
            for _ in 0..len.div_ceil(x.lanes) {
                let row = s / per_row;
                if open != Some(row) {
                    if open.is_some() {
                        let at = cmd.max(pre_ok);
                        act_ok = act_ok.max(at + w(t.trp));
                        cmd = at + 1;
                    }
                    let at = cmd.max(act_ok);
                    act_at = at;
                    act_ok = at + w(t.trc);
                    pre_ok = at + w(t.tras);
                    open = Some(row);
                    cmd = at + 1;
                }
                let at = cmd
                    .max(act_at + w(t.trcd_rd))
                    .max(next_mac)
                    .max(gb_done)
                    .max(acc);
                next_mac = at + x.mac_gap;
                pre_ok = pre_ok.max(at + w(t.trtp));
                cmd = at + 1;
                s += 1;
            }
            for _ in 0..readouts {
                let at = cmd
                    .max(next_mac)
                    .max(bus.saturating_sub(w(p.timing.trd_mac)));
                bus = at + w(p.timing.trd_mac) + x.burst;
                acc = at + w(p.timing.trd_mac);
                last_data = bus;
                cmd = at + 1;
            }
        }
    }
    last_data
}

#[test]
fn gemv_with_chunks_and_row_crossings_matches_timeline() {
    for (name, dtype, rows, cols) in [
        ("pim-gpt", DType::BF16, 256 * 3, 2048),
        ("pim-gpt", DType::BF16, 700, 1500),
        ("hbm-pim", DType::F16, 128 * 5 + 3, 3000),
        ("mobile-soc-pim", DType::F16, 64 * 9, 4096),
    ] {
        let a = no_refresh(name);
        let out = run_checked(&a, &[gemv(rows, cols, dtype, None)], IssueRate::Trace);
        assert_eq!(
            out.stats.total_cycles.0,
            timeline(&a, rows, cols, dtype),
            "{name} {rows}x{cols}"
        );
    }
}

#[test]
fn gemv_with_refresh_passes_the_checker_and_costs_more() {
    let a = preset("pim-gpt");
    let out = run_checked(&a, &[gemv(4096, 4096, DType::BF16, None)], IssueRate::Trace);
    let quiet = run_checked(
        &no_refresh("pim-gpt"),
        &[gemv(4096, 4096, DType::BF16, None)],
        IssueRate::Trace,
    );
    assert!(out.stats.commands["REF"] > 0);
    assert!(out.stats.total_cycles.0 > quiet.stats.total_cycles.0);
}

#[test]
fn bad_pim_requests_are_errors() {
    let a = preset("pim-gpt");
    let opts = MemoryOptions::default();
    for (req, needle) in [
        (gemv(16, 16, DType::I8, None), "lacks i8"),
        (
            gemv(16, 4096, DType::BF16, Some("gelu_tanh")),
            "needs whole rows",
        ),
        (
            gemv(16, 16, DType::BF16, Some("swish")),
            "not in pim.activation_functions",
        ),
        (gemv(0, 16, DType::BF16, None), "at least 1"),
    ] {
        let e = run_requests(&a, &[req], IssueRate::Trace, opts).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
    let e = run_requests(
        &preset("hbm2"),
        &[gemv(16, 16, DType::F16, None)],
        IssueRate::Trace,
        opts,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no PIM units"), "{e}");
}

#[test]
fn single_bank_mode_issues_one_mac_per_unit_and_is_slower() {
    for name in ["pim-gpt", "mobile-soc-pim"] {
        let a = no_refresh(name);
        let dtype = a.pim.as_ref().unwrap().dtypes[0];
        let x = derive(&a, dtype);
        let (rows, cols) = (x.units * u64::from(a.dram.channels) * 2, 512);
        let mut single = gemv(rows, cols, dtype, None);
        if let TraceOp::Pim(PimRequest::Gemv(g)) = &mut single.op {
            g.mode = PimMode::SingleBank;
        }
        let sb = run_checked(&a, &[single], IssueRate::Trace);
        let ab = run_checked(&a, &[gemv(rows, cols, dtype, None)], IssueRate::Trace);
        let m = cols.div_ceil(x.lanes) * 2;
        let ch = u64::from(a.dram.channels);
        assert_eq!(sb.stats.commands["MAC_SB"], ch * m * x.units, "{name}");
        assert_eq!(ab.stats.commands["MAC_AB"], ch * m, "{name}");
        // Same MACs, same MAC energy; single-bank ACTs go bank by bank.
        assert_eq!(sb.stats.energy.pim_mac, ab.stats.energy.pim_mac, "{name}");
        assert_eq!(sb.stats.commands["ACT"], ch * x.units, "{name}");
        // The command bus alone needs one cycle per MAC_SB.
        assert!(sb.stats.total_cycles.0 >= m * x.units, "{name}");
        assert!(sb.stats.total_cycles.0 > ab.stats.total_cycles.0, "{name}");
    }
}

#[test]
fn weight_layout_is_injective_and_row_partitioned() {
    use std::collections::BTreeSet;
    use triad_sim::PimLayout;
    let a = preset("pim-gpt");
    let (rows, cols) = (300u64, 2100u64);
    let req = PimRequest::Gemv(PimGemv {
        rows,
        cols,
        dtype: DType::BF16,
        activation: None,
        base_row: 3,
        mode: PimMode::AllBank,
    });
    let l = PimLayout::new(&a, &req).unwrap();
    let x = derive(&a, DType::BF16);
    let units = x.units * u64::from(a.dram.channels);
    let mut seen = BTreeSet::new();
    for r in 0..rows {
        for col in (0..cols).step_by(x.lanes as usize) {
            let w = l.weight_location(r, col);
            // Row r lives in unit r mod units, channel-major.
            assert_eq!(w.channel * x.units + w.unit, r % units);
            assert!(w.row >= 3 && w.column < u64::from(a.dram.columns_per_row()));
            assert!(
                seen.insert((w.channel, w.unit, w.row, w.sub_bank, w.column)),
                "r{r} c{col} collides"
            );
        }
    }
    // Every unit streams the same number of bursts: ceil(rows/units) rows of
    // ceil(chunk/lanes) bursts per global-buffer chunk.
    let chunk = (a.pim.as_ref().unwrap().global_buffer_bytes / 2).min(cols);
    let per_row: u64 = (0..cols.div_ceil(chunk))
        .map(|c| (cols - c * chunk).min(chunk).div_ceil(x.lanes))
        .sum();
    assert_eq!(l.stream_len, rows.div_ceil(units) * per_row);
}
