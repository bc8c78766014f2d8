//! PIM instructions on the memory system: cycle counts and energy against a closed
//! form and against the command-level derivation of `pim_ref` (operands decoded
//! with the isa's mapper, timing from the arch's fields), and the errors.

use crate::common::*;
use crate::pim_ref::*;
use triad_isa::{Arch, DType, Instruction, PimFn};
use triad_sim::{CommandKind, IssueRate, MemoryOptions, PimChannels, run_requests};

/// Weights at 4 MiB, x at 0, out at 64 KiB.
const W: u64 = 4 << 20;
const X: u64 = 0;
const OUT: u64 = 64 << 10;

fn all(insn: Instruction) -> triad_sim::TimedRequest {
    pim(0, PimChannels::All, insn)
}

/// rows = channels x banks, each row exactly one DRAM row of one bank: every
/// channel owns one row per bank, all in one DRAM row, one global-buffer chunk.
/// WR_GB x g, ACT_AB, MAC_AB x (banks_per_unit * g), RD_MAC x r.
fn closed_form(a: &Arch, dtype: DType) -> (u32, u32, u64) {
    let p = a.pim.as_ref().unwrap();
    let d = &a.dram;
    let t = &d.timing;
    let w = u64::from;
    let burst_bytes = w(d.bus_bits / 8 * d.burst_length);
    let burst = w(d.burst_length / d.transfers_per_clock).max(1);
    let banks = d.ranks * d.bank_groups * d.banks_per_group;
    let cols = d.row_bytes / (dtype.bits() / 8) as u32;
    let rows = d.channels * banks;
    let g = w(d.row_bytes) / burst_bytes;
    let gb_gap = w(p.timing.twr_gb).max(burst);
    let last_gb = (g - 1) * gb_gap;
    let act_ab = last_gb + 1;
    let first_mac = (act_ab + w(t.trcd_rd)).max(last_gb + w(t.cwl) + burst);
    let mac_gap = w(p.timing.tccd_mac).max(p.tck_ps.div_ceil(d.tck_ps));
    let m = w(p.banks_per_unit) * g;
    let last_mac = first_mac + (m - 1) * mac_gap;
    let readouts = (w(banks) * dtype.bits() / 8).div_ceil(burst_bytes);
    assert_eq!(readouts, 1, "closed form assumes one read-out burst");
    (rows, cols, last_mac + mac_gap + w(p.timing.trd_mac) + burst)
}

#[test]
fn gemv_one_row_per_bank_matches_closed_form_and_energy() {
    for (name, dtype) in [("pim-gpt", DType::BF16), ("hbm-pim", DType::F16)] {
        let mut a = no_refresh(name);
        a.energy.static_mw.dram = 7.0;
        a.energy.static_mw.pim = 3.0;
        let (rows, cols, expect) = closed_form(&a, dtype);
        let out = run_checked(
            &a,
            &[all(gemv(OUT, W, X, rows, cols, dtype))],
            IssueRate::Trace,
        );
        assert_eq!(out.stats.total_cycles.0, expect, "{name} cycles");
        let d = &a.dram;
        let ch = u64::from(d.channels);
        assert_eq!(out.stats.pim_requests, ch);
        let p = a.pim.as_ref().unwrap();
        let burst_bytes = u64::from(d.bus_bits / 8 * d.burst_length);
        let g = u64::from(d.row_bytes) / burst_bytes;
        let m = u64::from(p.banks_per_unit) * g;
        let banks = u64::from(d.ranks * d.bank_groups * d.banks_per_group);
        let units = banks / u64::from(p.banks_per_unit);
        let lanes = u64::from(p.mac_lanes).min(burst_bytes * 8 / dtype.bits());
        let log = out.log.unwrap();
        assert_eq!(log.count(CommandKind::MacAb) as u64, ch * m);
        assert_eq!(log.count(CommandKind::WrGb) as u64, ch * g);
        assert_eq!(log.count(CommandKind::ActAb) as u64, ch);
        assert_eq!(log.count(CommandKind::RdMac) as u64, ch);
        // Energy: the per-command sum with the arch's table.
        let e = &a.energy;
        let bits = (burst_bytes * 8) as f64;
        let chf = ch as f64;
        let act = chf * banks as f64 * e.dram_act_pj;
        let io = chf * (g + 1) as f64 * bits * e.dram_io_bit_pj;
        let buffer = chf * (g * burst_bytes) as f64 * e.sram_byte_pj;
        let mac = chf * (m * units * lanes) as f64 * e.pim_mac_pj;
        let bg = 10.0 * (expect * d.tck_ps) as f64 * 1e-3;
        let total = act + io + buffer + mac + bg;
        let got = out.stats.energy.total.0;
        assert!(
            (got - total).abs() <= 1e-9 * total,
            "{name} energy {got} vs {total}"
        );
    }
}

#[test]
fn gemv_with_chunks_and_row_crossings_matches_derivation() {
    for (name, dtype, rows, cols) in [
        // Rows must fit the span below the channel bits: 2 KiB on pim-gpt, 1 KiB on
        // hbm-pim and neupims, 8 KiB on mobile-soc-pim (4 bank groups lowest), whose
        // 2 KiB global buffer then takes several chunks.
        ("pim-gpt", DType::BF16, 256 * 3, 1024),
        ("pim-gpt", DType::BF16, 700, 512),
        ("pim-gpt", DType::BF16, 40, 256),
        ("hbm-pim", DType::F16, 128 * 5 + 3, 512),
        ("hbm-pim", DType::F16, 300, 256),
        ("mobile-soc-pim", DType::F16, 64 * 9, 4096),
        ("mobile-soc-pim", DType::F16, 300, 2048),
        ("mobile-soc-pim", DType::I8, 100, 2048),
        ("neupims", DType::F16, 1000, 512),
    ] {
        let a = no_refresh(name);
        let out = run_checked(
            &a,
            &[all(gemv(OUT, W, X, rows, cols, dtype))],
            IssueRate::Trace,
        );
        let mut expect = 0;
        let mut macs = 0;
        for c in 0..a.dram.channels {
            let cmds = gemv_cmds(&a, c, W, rows, cols, dtype);
            macs += cmds.iter().filter(|c| matches!(c, Cmd::MacAb(..))).count();
            expect = expect.max(timeline(&a, &cmds));
        }
        assert_eq!(out.stats.total_cycles.0, expect, "{name} {rows}x{cols}");
        assert_eq!(
            out.stats.commands["MAC_AB"] as usize, macs,
            "{name} {rows}x{cols}"
        );
    }
}

#[test]
fn explicit_aim_sequence_matches_derivation() {
    // wr_bias, wr_gb, mac_abk, af, rd_af on pim.0 of a GDDR6-AiM-like system.
    let a = no_refresh("mobile-soc-pim");
    let dtype = DType::F16;
    let (rows, cols) = (256u32, 1024u32);
    let one = |insn: Instruction| pim(0, PimChannels::One(0), insn);
    let reqs = [
        one(triad_isa::PimWrBias {
            src: at(OUT),
            len: rows,
            dtype,
        }
        .into()),
        one(triad_isa::PimWrGb {
            src: at(X),
            len: cols,
            dtype,
        }
        .into()),
        one(triad_isa::PimMacAbk {
            w: at(W),
            rows,
            cols,
            ld: cols,
            dtype,
        }
        .into()),
        one(triad_isa::PimAf {
            func: PimFn::GeluTanh,
            len: rows,
            dtype,
        }
        .into()),
        one(triad_isa::PimRdAf {
            dst: at(OUT),
            len: rows,
            dtype,
        }
        .into()),
    ];
    let out = run_checked(&a, &reqs, IssueRate::Trace);
    let g = geo(&a);
    let owned = owned_rows(&a, 0, W, rows, cols, dtype);
    assert!(!owned.is_empty() && owned.len() < rows as usize);
    let results = (owned.len() as u64 * 2).div_ceil(g.burst) as usize;
    let mut cmds = vec![Cmd::WrBias; (u64::from(rows) * 2).div_ceil(g.burst) as usize];
    cmds.extend(vec![
        Cmd::WrGb;
        (u64::from(cols) * 2).div_ceil(g.burst) as usize
    ]);
    cmds.extend(mac_set(&a, W, &owned, cols, 0, u64::from(cols), dtype));
    cmds.extend(vec![Cmd::Af; results]);
    cmds.extend(vec![Cmd::RdAf; results]);
    assert_eq!(out.stats.total_cycles.0, timeline(&a, &cmds));
    for (k, n) in [("AF", results), ("RD_AF", results), ("WR_BIAS", 16)] {
        assert_eq!(out.stats.commands[k] as usize, n, "{k}");
    }
    assert_eq!(out.stats.pim_requests, 5);
    // AF energy: one look-up (pim_mac_pj) per result; buffer writes: sram_byte_pj
    // per byte of WR_BIAS and WR_GB bursts.
    let e = &a.energy;
    let en = &out.stats.energy;
    let af = owned.len() as f64 * e.pim_mac_pj;
    assert!(
        (en.pim_af.0 - af).abs() <= 1e-9 * af,
        "{} vs {af}",
        en.pim_af.0
    );
    let writes = (u64::from(rows) * 2).div_ceil(g.burst) + (u64::from(cols) * 2).div_ceil(g.burst);
    let buffer = (writes * g.burst) as f64 * e.sram_byte_pj;
    assert!((en.pim_buffer.0 - buffer).abs() <= 1e-9 * buffer);
}

#[test]
fn mac_sbk_runs_in_one_bank_with_ordinary_row_commands() {
    let a = no_refresh("hbm-pim");
    let dtype = DType::F16;
    // Each matrix row is one DRAM row of one bank (1 KiB); 256 rows cover every
    // bank of every channel once.
    let (rows, cols) = (256u32, 512u32);
    let g = geo(&a);
    let bank = 5u32;
    let reqs = [
        pim(
            0,
            PimChannels::One(0),
            triad_isa::PimMacSbk {
                w: at(W),
                bank: bank as u16,
                rows,
                cols,
                ld: cols,
                dtype,
            },
        ),
        pim(
            0,
            PimChannels::One(0),
            triad_isa::PimRdMac {
                dst: at(OUT),
                len: rows,
                dtype,
            },
        ),
    ];
    let out = run_checked(&a, &reqs, IssueRate::Trace);
    let in_bank = owned_rows(&a, 0, W, rows, cols, dtype)
        .into_iter()
        .filter(|&i| {
            let l = g
                .mapper
                .decode(W + u64::from(i) * u64::from(cols) * 2)
                .unwrap();
            flat(&a, &l) == bank
        })
        .count() as u64;
    assert_eq!(in_bank, 1);
    let n = 1024 / g.burst; // bursts of the one owned row in the bank
    let s = &out.stats;
    assert_eq!((s.commands["MAC_SB"], s.commands["ACT"]), (n, 1));
    assert!(!s.commands.contains_key("ACT_AB") && !s.commands.contains_key("MAC_AB"));
    // ACT at 0; MAC_SB every max(tccd_mac, PIM clock) from tRCD_RD; RD_MAC one gap
    // after the last; data trd_mac + burst later.
    let p = a.pim.as_ref().unwrap();
    let t = &a.dram.timing;
    let gap = u64::from(p.timing.tccd_mac).max(p.tck_ps.div_ceil(a.dram.tck_ps));
    let expect = u64::from(t.trcd_rd) + n * gap + u64::from(p.timing.trd_mac) + burst(&a);
    assert_eq!(s.total_cycles.0, expect);
    assert_eq!(s.channels[0].pim_macs, n * 16);
}

#[test]
fn elementwise_ops_in_other_rows_run_staged_per_register_file_tile() {
    let a = no_refresh("pim-gpt");
    let dtype = DType::BF16;
    let d = &a.dram;
    // One stripe of every bank of every channel: a at 0, b and out a stripe further
    // (same channel and bank burst for burst, other DRAM rows).
    let stripe = u64::from(d.row_bytes) * u64::from(d.channels * d.banks_per_channel());
    let len = (stripe / 2) as u32;
    for (insn, kind) in [
        (
            Instruction::from(triad_isa::PimEwMul {
                out: at(2 * stripe),
                a: at(0),
                b: at(stripe),
                len,
                dtype,
            }),
            "EWMUL",
        ),
        (
            Instruction::from(triad_isa::PimEwAdd {
                out: at(2 * stripe),
                a: at(0),
                b: at(stripe),
                len,
                dtype,
            }),
            "EWADD",
        ),
    ] {
        let out = run_checked(&a, &[all(insn)], IssueRate::Trace);
        let per_channel = u64::from(d.row_bytes) / geo(&a).burst;
        assert_eq!(
            out.stats.commands[kind],
            per_channel * u64::from(d.channels)
        );
        // a, b, out in DRAM rows 0, 1, 2 (the row bits are the mapping's top bits); the
        // 2 KiB register file holds a whole 64-burst row of a bank, so one tile:
        // 64 loads from row 0, 64 ops with row 1, 64 stores to row 2.
        let g = geo(&a);
        let rows: Vec<u32> = [0, stripe, 2 * stripe]
            .iter()
            .map(|&x| g.mapper.decode(x).unwrap().row)
            .collect();
        assert_eq!(rows, vec![0, 1, 2]);
        assert_eq!(
            a.pim.as_ref().unwrap().global_buffer_bytes,
            u64::from(d.row_bytes)
        );
        let cols = 0..per_channel as u32;
        let cmds: Vec<Cmd> = cols
            .clone()
            .map(|c| Cmd::EwLd(0, 0, c))
            .chain(cols.clone().map(|c| Cmd::EwB(1, 0, c)))
            .chain(cols.map(|c| Cmd::EwSt(2, 0, c)))
            .collect();
        assert_eq!(out.stats.total_cycles.0, timeline(&a, &cmds), "{kind}");
        assert_eq!(
            out.stats.commands["EW_LD"],
            per_channel * u64::from(d.channels)
        );
        assert_eq!(
            out.stats.commands["EW_ST"],
            per_channel * u64::from(d.channels)
        );
        // Per unit: per EW_LD one burst read (a); per staged EWMUL / EWADD `lanes`
        // ops at pim_mac_pj and one burst read (b); per EW_ST one burst write (out),
        // at the array's per-bit energies.
        let e = &a.energy;
        let n = (per_channel * u64::from(d.channels)) as f64;
        let units = f64::from(d.banks_per_channel());
        let bits = (geo(&a).burst * 8) as f64;
        let lanes = 16.0; // min(mac_lanes 16, 256-bit burst / 16-bit bf16)
        let ew = n
            * units
            * (lanes * e.pim_mac_pj
                + bits * e.dram_rd_bit_pj
                + bits * e.dram_rd_bit_pj
                + bits * e.dram_wr_bit_pj);
        let got = out.stats.energy.pim_ewop.0;
        assert!((got - ew).abs() <= 1e-9 * ew, "{kind} energy {got} vs {ew}");
    }
}

#[test]
fn elementwise_activation_loads_through_the_function_then_stores() {
    let a = no_refresh("pim-gpt");
    let dtype = DType::BF16;
    let d = &a.dram;
    // As above: a in DRAM row 0 of every bank, out two stripes further (row 2). An
    // activation never fuses: per bank set, activating EW_LDs then EW_STs.
    let stripe = u64::from(d.row_bytes) * u64::from(d.channels * d.banks_per_channel());
    let insn = Instruction::from(triad_isa::PimEwAct {
        func: PimFn::Relu,
        out: at(2 * stripe),
        a: at(0),
        len: (stripe / 2) as u32,
        dtype,
    });
    let out = run_checked(&a, &[all(insn)], IssueRate::Trace);
    let g = geo(&a);
    let per_channel = u64::from(d.row_bytes) / g.burst;
    let n = per_channel * u64::from(d.channels);
    let s = &out.stats;
    assert_eq!((s.commands["EW_LD"], s.commands["EW_ST"]), (n, n));
    for k in ["EWMUL", "EWADD", "AF"] {
        assert!(!s.commands.contains_key(k), "{k}");
    }
    let cols = 0..per_channel as u32;
    let cmds: Vec<Cmd> = cols
        .clone()
        .map(|c| Cmd::EwLd(0, 0, c))
        .chain(cols.map(|c| Cmd::EwSt(2, 0, c)))
        .collect();
    assert_eq!(s.total_cycles.0, timeline(&a, &cmds));
    // Per unit: per EW_LD one burst read and `lanes` activation results at
    // pim_mac_pj each; per EW_ST one burst write.
    let e = &a.energy;
    let units = f64::from(d.banks_per_channel());
    let bits = (g.burst * 8) as f64;
    let lanes = 16.0; // min(mac_lanes 16, 256-bit burst / 16-bit bf16)
    let want_ew = n as f64 * units * bits * (e.dram_rd_bit_pj + e.dram_wr_bit_pj);
    let want_af = n as f64 * units * lanes * e.pim_mac_pj;
    let (ew, af) = (s.energy.pim_ewop.0, s.energy.pim_af.0);
    assert!((ew - want_ew).abs() <= 1e-9 * want_ew, "{ew} vs {want_ew}");
    assert!((af - want_af).abs() <= 1e-9 * want_af, "{af} vs {want_af}");
}

#[test]
fn elementwise_ops_in_one_row_are_fused_one_command_per_burst() {
    let a = no_refresh("pim-gpt");
    // `rorabgbachco`: the column bits are the lowest above the burst, so bytes
    // 0 .. 2047 are row 0 of bank 0 of channel 0. a, b, out: 16 bursts each in it.
    let g = geo(&a);
    for x in [0u64, 512, 1024, 1535] {
        let l = g.mapper.decode(x).unwrap();
        assert_eq!((l.channel, l.bank, l.bank_group, l.row), (0, 0, 0, 0));
    }
    let insn = Instruction::from(triad_isa::PimEwAdd {
        out: at(1024),
        a: at(0),
        b: at(512),
        len: 256,
        dtype: DType::BF16,
    });
    let out = run_checked(&a, &[pim(0, PimChannels::One(0), insn)], IssueRate::Trace);
    let s = &out.stats;
    assert_eq!(s.commands["EWADD"], 16);
    assert!(!s.commands.contains_key("EW_LD") && !s.commands.contains_key("EW_ST"));
    let cmds: Vec<Cmd> = (0..16).map(|c| Cmd::Ew(0, 0, c)).collect();
    assert_eq!(s.total_cycles.0, timeline(&a, &cmds));
}

#[test]
fn gemv_with_refresh_passes_the_checker_and_costs_more() {
    let a = preset("pim-gpt");
    // 64 MiB of weights: several refresh intervals per channel.
    let req = all(gemv(OUT, W, X, 32768, 1024, DType::BF16));
    let out = run_checked(&a, std::slice::from_ref(&req), IssueRate::Trace);
    let quiet = run_checked(&no_refresh("pim-gpt"), &[req], IssueRate::Trace);
    let refs = ["REF", "REFpb"].map(|k| out.stats.commands.get(k).copied().unwrap_or(0));
    assert!(refs[0] + refs[1] > 0, "{refs:?}");
    assert!(out.stats.total_cycles.0 > quiet.stats.total_cycles.0);
}

#[test]
fn bad_pim_instructions_are_errors() {
    let a = preset("pim-gpt");
    let opts = MemoryOptions::default();
    let one = |insn: Instruction| pim(0, PimChannels::One(0), insn);
    let big = a.dram.capacity_bytes();
    for (req, needle) in [
        (all(gemv(OUT, W, X, 16, 16, DType::I8)), "lacks i8"),
        (
            one(triad_isa::PimWrGb {
                src: at(X),
                len: 4096,
                dtype: DType::BF16,
            }
            .into()),
            "exceed the 2048-byte global buffer",
        ),
        (
            one(triad_isa::PimAf {
                func: PimFn::Silu,
                len: 4,
                dtype: DType::BF16,
            }
            .into()),
            "not in pim.activation_functions",
        ),
        (
            one(triad_isa::PimMacSbk {
                w: at(W),
                bank: 16,
                rows: 4,
                cols: 16,
                ld: 16,
                dtype: DType::BF16,
            }
            .into()),
            "bank 16 is beyond",
        ),
        // A 4 KiB row straddles channels (2 KiB of columns per channel).
        (
            all(gemv(OUT, W, X, 4, 2048, DType::BF16)),
            "straddles channels",
        ),
        // b one burst off a: another channel.
        (
            one(triad_isa::PimEwAdd {
                out: at(0),
                a: at(0),
                b: at(4096),
                len: 64,
                dtype: DType::BF16,
            }
            .into()),
            "element-wise ops compute inside one bank",
        ),
        (
            one(triad_isa::PimEwAct {
                func: PimFn::Silu,
                out: at(0),
                a: at(0),
                len: 64,
                dtype: DType::BF16,
            }
            .into()),
            "activation `silu` not in pim.activation_functions (gelu_tanh, gelu_erf, sigmoid, tanh, relu)",
        ),
        (
            one(triad_isa::PimEwAct {
                func: PimFn::Relu,
                out: at(4096),
                a: at(0),
                len: 64,
                dtype: DType::BF16,
            }
            .into()),
            "element-wise ops compute inside one bank",
        ),
        (
            all(gemv(OUT, big - 64, X, 16, 16, DType::BF16)),
            "past the DRAM capacity",
        ),
        (
            pim(
                0,
                PimChannels::One(99),
                gemv(OUT, W, X, 16, 16, DType::BF16),
            ),
            "channel 99 is beyond",
        ),
    ] {
        let e = run_requests(&a, &[req], IssueRate::Trace, opts).unwrap_err();
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
    let e = run_requests(
        &preset("hbm2"),
        &[all(gemv(OUT, W, X, 16, 16, DType::F16))],
        IssueRate::Trace,
        opts,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no PIM units"), "{e}");
    let off = MemoryOptions { pim: false, ..opts };
    let e = run_requests(
        &a,
        &[all(gemv(OUT, W, X, 16, 16, DType::BF16))],
        IssueRate::Trace,
        off,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no PIM units"), "{e}");
}

#[test]
fn jobs_hold_runs_not_commands() {
    // A 7B-sized projection (4096 x 4096 f16) on one channel of mobile-soc-pim
    // (8 KiB rows fit one channel): thousands of MAC_AB in a few runs per chunk.
    let a = preset("mobile-soc-pim");
    let program = triad_sim::trace_program(&a);
    let mapper = triad_isa::AddressMapper::new(&a.name, &a.dram).unwrap();
    let insn = gemv(OUT, 1 << 30, X, 4096, 4096, DType::F16);
    let mut owned = triad_sim::PimOwned::new();
    let job =
        triad_sim::PimJob::from_instruction(&insn, &program, &a, &mapper, 3, &mut owned).unwrap();
    let (mut runs, mut macs) = (0, 0);
    for s in job.steps() {
        if let triad_sim::PimStep::Columns { runs: r, .. } = s {
            runs += r.len();
            macs += s.commands();
        }
    }
    let derived = gemv_cmds(&a, 3, 1 << 30, 4096, 4096, DType::F16)
        .iter()
        .filter(|c| matches!(c, Cmd::MacAb(..)))
        .count() as u64;
    assert_eq!(macs, derived);
    assert!(
        macs > 10_000 && runs * 10 < macs as usize,
        "{runs} runs for {macs} MACs"
    );
    assert!(owned.is_empty(), "pim.gemv leaves the owned set alone");
}
