//! Samsung HBM-PIM (SAITPublic/PIMSimulator) against Triad on the `hbm-pim-samsung`
//! preset: the PIMBench GEMVs and element-wise kernels, PIM and non-PIM, within 10 %
//! of the cycles recorded in `tests/fixtures/pimsim.toml` (made by the `refs` helper;
//! its header has the exact command).
//!
//! Layouts, under the preset's Scheme8 mapping (`rarocobgbach`: the channel in the
//! lowest bits above the 32-byte burst, then bank, bank group, column, row):
//! - GEMV `W[out x in]`: stored as `in / 16` column blocks, each a dense
//!   `out x 16` f16 matrix (one 32-byte burst per row, so matrix row `i` is in
//!   channel `i % 64`, PIM-GPT's row partitioning); block `k` at `k * out * 32`
//!   bytes. Per block, on every channel: `pim.wr_gb` of its 16 inputs then
//!   `pim.mac_abk` of the block; at the end one `pim.rd_mac` of all rows. The same
//!   MAC and global-buffer write counts per channel as PIMSimulator (64 MACs and 8
//!   buffer writes per 128 inputs).
//! - ADD / MUL: `a` from DRAM row 0, `b` from row 128, `out` from row 256 (1 MiB per
//!   DRAM row over all channels and banks), as PIMSimulator places them; three
//!   rows, so the op runs staged (EW_LD, op, EW_ST per 8-burst register-file tile,
//!   per bank of the units), as HBM-PIM's FILL / ADD|MUL / store groups.
//! - RELU: `a` from DRAM row 0, `out` from row 256, as PIMSimulator places them;
//!   `pim.ewact relu` runs staged (activating EW_LD, EW_ST per 8-burst tile, per
//!   bank of the units), as HBM-PIM's FILL+ReLU / store groups.
//! - Non-PIM: every input burst read (ascending addresses from 0), run to the end,
//!   then every output burst written, the two phases' cycles summed, as the fixture
//!   describes.

use crate::common::*;
use crate::pim_ref::{at, pim};
use triad_isa::{Cycles, DType, Instruction};
use triad_sim::{IssueRate, PimChannels, TimedRequest};

const BURST: u64 = 32;

fn fixture() -> toml::Table {
    toml::from_str(include_str!("../fixtures/pimsim.toml")).expect("pimsim.toml parses")
}

fn gemv_requests(out: u32, inp: u32) -> Vec<TimedRequest> {
    let f16 = DType::F16;
    let block = u64::from(out) * BURST;
    let x = 1u64 << 30;
    let y = x + (1 << 20);
    let mut reqs = Vec::new();
    let all = |insn: Instruction| pim(0, PimChannels::All, insn);
    for k in 0..u64::from(inp / 16) {
        reqs.push(all(triad_isa::PimWrGb {
            src: at(x + k * BURST),
            len: 16,
            dtype: f16,
        }
        .into()));
        reqs.push(all(triad_isa::PimMacAbk {
            w: at(k * block),
            rows: out,
            cols: 16,
            ld: 16,
            dtype: f16,
        }
        .into()));
    }
    reqs.push(all(triad_isa::PimRdMac {
        dst: at(y),
        len: out,
        dtype: f16,
    }
    .into()));
    reqs
}

fn eltwise_requests(kind: &str, elements: u32) -> Vec<TimedRequest> {
    let f16 = DType::F16;
    let row = 1u64 << 20;
    let (a, b, out) = (at(0), at(128 * row), at(256 * row));
    let insn: Instruction = match kind {
        "add" => triad_isa::PimEwAdd {
            out,
            a,
            b,
            len: elements,
            dtype: f16,
        }
        .into(),
        "mul" => triad_isa::PimEwMul {
            out,
            a,
            b,
            len: elements,
            dtype: f16,
        }
        .into(),
        "relu" => triad_isa::PimEwAct {
            func: triad_isa::PimFn::Relu,
            out,
            a,
            len: elements,
            dtype: f16,
        }
        .into(),
        other => panic!("no PIM kernel for {other}"),
    };
    vec![pim(0, PimChannels::All, insn)]
}

/// Reads of `reads` bursts from 0, to the end; then writes of `writes` bursts.
fn non_pim_cycles(reads: u64, writes: u64) -> u64 {
    let a = preset("hbm-pim-samsung");
    let phase = |n: u64, write: bool| {
        let reqs: Vec<_> = (0..n)
            .map(|i| {
                if write {
                    TimedRequest::write(i * BURST, Cycles(0))
                } else {
                    TimedRequest::read(i * BURST, Cycles(0))
                }
            })
            .collect();
        run_checked(&a, &reqs, IssueRate::Unlimited)
            .stats
            .total_cycles
            .0
    };
    phase(reads, false) + phase(writes, true)
}

fn err(got: u64, want: u64) -> f64 {
    (got as f64 - want as f64) / want as f64
}

/// The fixture's bench entries.
fn benches() -> Vec<toml::Table> {
    fixture()["bench"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_table().unwrap().clone())
        .collect()
}

fn int(b: &toml::Table, k: &str) -> u64 {
    b[k].as_integer().unwrap_or_else(|| panic!("{k}")) as u64
}

fn ch0(b: &toml::Table, k: &str) -> u64 {
    b["pim_ch0"][k]
        .as_integer()
        .unwrap_or_else(|| panic!("pim_ch0.{k}")) as u64
}

#[test]
fn non_pim_baselines_within_ten_percent() {
    for b in benches() {
        let name = b["name"].as_str().unwrap();
        let (reads, writes) = match b["kernel"].as_str().unwrap() {
            "gemv" => {
                let (o, i) = (int(&b, "out_dim"), int(&b, "in_dim"));
                ((o * i + i) * 2 / BURST, o * 2 / BURST)
            }
            "add" | "mul" => (
                2 * int(&b, "elements") * 2 / BURST,
                int(&b, "elements") * 2 / BURST,
            ),
            _ => (
                int(&b, "elements") * 2 / BURST,
                int(&b, "elements") * 2 / BURST,
            ),
        };
        let got = non_pim_cycles(reads, writes);
        let want = int(&b, "non_pim_cycles");
        eprintln!(
            "{name} non-PIM: Triad {got}, PIMSimulator {want}, {:+.1} %",
            100.0 * err(got, want)
        );
        assert!(err(got, want).abs() <= 0.10, "{name}: {got} vs {want}");
    }
}

/// The PIM kernels issue the same column commands per channel as PIMSimulator
/// (MAC_AB = its MACs, WR_GB = its GRF_A broadcast writes, EWADD / EWMUL = its ADD /
/// MUL, EW_LD = its FILLs (with ReLU for relu), EW_ST = its result writes), enter and
/// leave PIM mode once, and take within 10 % of its cycles, raw: mode switching and the refresh phase
/// are the preset's (`tmode_enter`, `tmode_exit`, `first_refresh_ck`).
#[test]
fn pim_kernels_within_ten_percent_of_pimsimulator() {
    let a = preset("hbm-pim-samsung");
    for b in benches() {
        let name = b["name"].as_str().unwrap();
        let kernel = b["kernel"].as_str().unwrap();
        let reqs = match kernel {
            "gemv" => gemv_requests(int(&b, "out_dim") as u32, int(&b, "in_dim") as u32),
            _ => eltwise_requests(kernel, int(&b, "elements") as u32),
        };
        let out = run_checked(&a, &reqs, IssueRate::Unlimited);
        let c = &out.stats.channels[0];
        let want: &[(u64, u64)] = match kernel {
            "gemv" => &[
                (c.mac_ab, ch0(&b, "MAC")),
                (c.wr_gb, ch0(&b, "BWRITE_GRF_A")),
            ],
            "add" => &[
                (c.ewadd, ch0(&b, "ADD")),
                (c.ew_load, ch0(&b, "FILL")),
                (c.ew_store, ch0(&b, "NOP")),
            ],
            "mul" => &[
                (c.ewmul, ch0(&b, "MUL")),
                (c.ew_load, ch0(&b, "FILL")),
                (c.ew_store, ch0(&b, "NOP")),
            ],
            _ => &[
                (c.ewmul + c.ewadd, 0),
                (c.ew_load, ch0(&b, "FILL")),
                (c.ew_store, ch0(&b, "NOP")),
                // Every element of the channel passes the activation once.
                (c.pim_af_results, int(&b, "elements") / 64),
            ],
        };
        for &(got, expect) in want {
            assert_eq!(got, expect, "{name}");
        }
        assert_eq!((c.pim_enter, c.pim_exit), (1, 1), "{name}");
        let cycles = out.stats.total_cycles.0;
        let want = int(&b, "pim_cycles");
        eprintln!(
            "{name} PIM: Triad {cycles}, PIMSimulator {want}, {:+.1} %",
            100.0 * err(cycles, want)
        );
        assert!(
            err(cycles, want).abs() <= 0.10,
            "{name}: {cycles} vs {want}"
        );
    }
}
