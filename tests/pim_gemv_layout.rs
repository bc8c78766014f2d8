//! The PIM GEMV layout the lowering emits, checked in the simulator's PIM command
//! expansion: one instruction per channel and activation row (per column block),
//! every program verifies, and each channel issues exactly
//! `owned rows · cols · e / (units · burst)` MAC_AB, the count at which every
//! MAC_AB does a full burst of work in every unit of the channel (a command covers
//! at most `units · burst` bytes of the matrix, so equality means none is idle).

use triad_compiler::egraph::{Config, Target, optimize};
use triad_compiler::lower::{LowerConfig, lower};
use triad_compiler::schedule::schedule;
use triad_compiler::{DType, Graph, Init, Op, TensorType};
use triad_isa::{AddressMapper, Arch, Engine, Instruction, verify};
use triad_sim::{PimColumn, PimJob, PimOwned, PimStep};

/// `y[m, n] = x[m, k] · W[k, n]` in `dtype`.
fn gemv_graph(m: usize, k: usize, n: usize, dtype: DType) -> Graph {
    let mut g = Graph::new("gemv");
    let x = g
        .input("x", TensorType::new(dtype, vec![m, k]))
        .expect("input");
    let w = g
        .weight(
            "w",
            TensorType::new(dtype, vec![k, n]),
            Init::Uniform {
                seed: 1,
                low: -0.5,
                high: 0.5,
            },
        )
        .expect("weight");
    let y = g.add1("y", Op::MatMul, &[x, w]).expect("matmul");
    g.set_outputs(&[y]);
    g
}

/// Lowers the GEMV with every op on PIM and returns, per PIM channel, (GEMV-type
/// instructions, MAC_AB commands, rows of `W^T` the channel owns).
fn lower_on_pim(arch: &Arch, m: usize, k: usize, n: usize, dtype: DType) -> Vec<(u64, u64, u64)> {
    let g = gemv_graph(m, k, n, dtype);
    let mut placed = optimize(&g, arch, &Config::default())
        .expect("optimises")
        .placed;
    for t in placed.placement.values_mut() {
        *t = Target::Pim;
    }
    let s = schedule(&placed, arch).expect("schedules");
    let l = lower(&placed, &s, arch, &LowerConfig::default()).expect("lowers");
    assert!(
        l.stats.fallbacks.is_empty(),
        "fell back: {:?}",
        l.stats.fallbacks
    );
    let report = verify(&l.program, arch).expect("verifies");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let mapper = AddressMapper::new(&arch.name, &arch.dram).expect("mapper");
    let mut per = vec![(0, 0, 0); arch.dram.channels as usize];
    for st in &l.program.streams {
        let Engine::Pim(c) = st.engine else { continue };
        let mut owned = PimOwned::new();
        for insn in &st.insns {
            if matches!(insn, Instruction::PimGemv(_) | Instruction::PimMacAbk(_)) {
                per[c as usize].0 += 1;
            }
            let job =
                PimJob::from_instruction(insn, &l.program, arch, &mapper, u32::from(c), &mut owned)
                    .expect("expands");
            for step in job.steps() {
                match step {
                    PimStep::Columns {
                        kind: PimColumn::MacAb,
                        ..
                    } => per[c as usize].1 += step.commands(),
                    PimStep::RdMac(b) => {
                        // Results read out: owned rows, a burst of them at a time.
                        let per_burst = arch.dram.burst_bytes() * 8 / dtype.bits();
                        per[c as usize].2 += b * per_burst;
                    }
                    _ => {}
                }
            }
        }
    }
    per
}

/// Checks `lower_on_pim` against the formulas: `insns` instructions on every
/// channel, MAC_AB = owned rows · k · e / (units · burst) summed over activation
/// rows, every output row owned by exactly one channel.
fn check(arch: &str, m: usize, k: usize, n: usize, dtype: DType, insns: u64) {
    let arch = Arch::preset(arch).expect("preset");
    let pim = arch.pim.as_ref().expect("pim");
    let units = u64::from(arch.dram.banks_per_channel() / pim.banks_per_unit);
    let burst = arch.dram.burst_bytes();
    let per = lower_on_pim(&arch, m, k, n, dtype);
    let e = dtype.bits() / 8;
    let mut rows = 0;
    for (c, &(got_insns, macs, read)) in per.iter().enumerate() {
        assert_eq!(got_insns, insns, "{}: channel {c}", arch.name);
        // `read` counts whole result bursts; the shapes here fill them.
        let owned = read / m as u64;
        rows += owned;
        let want = m as u64 * owned * k as u64 * e / (units * burst);
        assert_eq!(macs, want, "{}: channel {c} MAC_AB", arch.name);
    }
    assert_eq!(rows, n as u64, "{}: rows owned once", arch.name);
}

#[test]
fn gpt2_gemv_is_one_instruction_per_channel_with_every_unit_busy() {
    // 768 f16 rows (1536 B) padded to 2048 B: 4 rows a 8 KiB granule, 48 granules a
    // channel, 4 at a time across the 4 bank indices x 4 bank groups.
    check("mobile-soc-pim", 1, 768, 768, DType::F16, 1);
    // Two activation rows: two instructions a channel.
    check("mobile-soc-pim", 2, 768, 768, DType::F16, 2);
}

#[test]
fn rows_longer_than_a_granule_run_in_column_blocks() {
    // pim-gpt: 4096 bf16 = 8 KiB rows over 2 KiB granules: 4 blocks of 1024
    // columns, one `pim.mac_abk` each; 16 channels x 16 banks of one row each.
    check("pim-gpt", 1, 4096, 256, DType::BF16, 4);
    // hbm-pim: 2 banks a unit, 1 KiB granules, 4 KiB global buffer: 4 blocks.
    check("hbm-pim", 1, 2048, 256, DType::F16, 4);
}
