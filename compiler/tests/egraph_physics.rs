//! Decisions the physics demands, and the cost formulas checked by hand against the
//! arch's numbers: decode GEMVs (M = 1, ~1 Op/B) go to PIM, prefill GEMMs go to the NPU.

mod egraph_util;

use egraph_util::{mlp, t, weight};
use triad_compiler::egraph::{Config, CostModel, Memory, Target, optimize};
use triad_compiler::{DType, Graph, Op};
use triad_isa::Arch;

#[test]
fn pim_gemv_time_is_weight_bytes_over_internal_bandwidth() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let m = CostModel::new(&arch);
    let (k, n) = (768u64, 3072u64);
    let x = t(DType::F16, &[1, k as usize]);
    let w = t(DType::F16, &[k as usize, n as usize]);
    let y = t(DType::F16, &[1, n as usize]);
    let c = m
        .op_cost(Target::Pim, &Op::MatMul, &[&x, &w], &[y])
        .unwrap();
    // 4 channels x 16 banks, one unit per bank; a MAC command every
    // max(2 x 833, 1666) ps reads one 32-byte burst per unit.
    let units = 4.0 * 16.0;
    let cmd_ps = 1666.0;
    let by_bandwidth = (k * n * 2) as f64 / (units * 32.0 / cmd_ps);
    let by_macs = ((k * n) as f64 / (units * 16.0)).ceil() * cmd_ps;
    // Per channel (768 of the 3072 rows): x into the global buffer, 1536 B = 48
    // WR_GB of 2 clocks; its 1.18 MB share over 16 banks of 2 KiB rows opens 36
    // rows, ACT + PRE = 22 + 22 clocks each; 768 f16 results = 48 RD_MAC of 25 clocks.
    let tck = 833.0;
    let overhead = 48.0 * 2.0 * tck + 36.0 * 44.0 * tck + 48.0 * 25.0 * tck;
    assert!(
        (c.time_ps - (by_bandwidth.max(by_macs) + overhead)).abs() < 1e-6,
        "{c:?}"
    );
    // 16 f16 lanes read exactly one 32-byte burst: both limits agree.
    assert!((by_bandwidth - by_macs).abs() < 1e-6);
}

#[test]
fn npu_gemv_is_bound_by_external_bandwidth() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let m = CostModel::new(&arch);
    let x = t(DType::F16, &[1, 768]);
    let w = t(DType::F16, &[768, 3072]);
    let y = t(DType::F16, &[1, 3072]);
    let c = m
        .op_cost(
            Target::Npu,
            &Op::MatMul,
            &[&x, &w],
            std::slice::from_ref(&y),
        )
        .unwrap();
    // The slower of the NPU link (76.8 GB/s = 0.0768 B/ps) and the LPDDR5X peak
    // (4 channels x 2 bytes x 8 transfers per 833 ps = 0.07683 B/ps). The 4.7 MB
    // fill two 4 MiB scratchpad halves: two steps, the first's load and compute
    // then the second's, paced by the link, so memory plus half the compute; the
    // 50 ns link latency for the first load and the last store.
    let bytes = (x.bytes() + w.bytes() + y.bytes()) as f64;
    let bw = f64::min(0.0768, 4.0 * 2.0 * 8.0 / 833.0);
    let npu = arch.npu.as_ref().unwrap();
    let compute = npu.gemm_cycles(1, 3072, 768, DType::F16).unwrap().0 as f64 * 727.0;
    let want = bytes / bw + compute / 2.0 + 100_000.0;
    assert!((c.time_ps - want).abs() < 1e-3, "{c:?} vs {want}");
}

#[test]
fn roofline_slopes_are_the_bandwidths_the_costs_use() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let m = CostModel::new(&arch);
    // The NPU link is 76.8 GB/s, under the LPDDR5X peak of 4 channels x 2 bytes x 8
    // transfers per 833 ps.
    let dram = 4.0 * 2.0 * 8.0 / 833e-12;
    let npu = m.bandwidth_bytes_per_s(Target::Npu);
    assert!((npu - f64::min(76.8e9, dram)).abs() < 1e3, "{npu}");
    // The CPU is one in-order stream: PIM's mapping keeps 8 KiB granules (256 bursts
    // of 32 B) in one channel and the queue holds 32, so one channel serves 224 of
    // every 256 bursts alone: peak / 4 x 256 / 224.
    let cpu = m.bandwidth_bytes_per_s(Target::Cpu);
    let want = dram / 4.0 * 256.0 / 224.0;
    assert!((cpu - want).abs() < 1e3, "{cpu} vs {want}");
    // PIM: 64 units, one 32-byte burst each per 1666 ps MAC command, as the arch's
    // derived figures say.
    let pim = m.bandwidth_bytes_per_s(Target::Pim);
    assert!((pim - 64.0 * 32.0 / 1666e-12).abs() < 1e3, "{pim}");
    let derived = arch.derived().pim_internal_bandwidth_gb_per_s * 1e9;
    assert!((pim - derived).abs() < 1e3, "{pim} vs {derived}");
}

#[test]
fn transfer_into_the_banks_broadcasts_to_every_channel() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let m = CostModel::new(&arch);
    let c = m.transfer(1536, Memory::Dram, Memory::Banks);
    let bw = 4.0 * 2.0 * 8.0 / 833.0;
    // 4 channels each get the 1536 bytes; the faster link latency is 50 ns.
    assert!((c.time_ps - (4.0 * 1536.0 / bw + 50_000.0)).abs() < 1e-3);
    assert_eq!(m.transfer(1536, Memory::Dram, Memory::Dram).time_ps, 0.0);
}

#[test]
fn decode_gemvs_go_to_pim() {
    for (arch, dtype) in [("mobile-soc-pim", DType::F16), ("pim-gpt", DType::BF16)] {
        let arch = Arch::preset(arch).unwrap();
        let g = mlp(dtype, 1, 768, 3072);
        let out = optimize(&g, &arch, &Config::default()).unwrap();
        let p = &out.placed;
        assert_eq!(p.target_of("up"), Some(Target::Pim), "{}", arch.name);
        assert_eq!(p.target_of("down"), Some(Target::Pim), "{}", arch.name);
        // Every op placed, on a target that runs it.
        assert_eq!(p.placement.len(), 4);
        assert_eq!(out.saturation.stop_reason, "saturated");
        assert_eq!(out.saturation.type_conflicts, 0);
    }
}

#[test]
fn prefill_gemms_go_to_the_npu() {
    // mobile-soc-pim: a 45-TOPS NPU against 64 x 16 PIM lanes at 600 MHz (1.2 TOPS).
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let g = mlp(DType::F16, 256, 768, 3072);
    let out = optimize(&g, &arch, &Config::default()).unwrap();
    assert_eq!(out.placed.target_of("up"), Some(Target::Npu));
    assert_eq!(out.placed.target_of("down"), Some(Target::Npu));
}

#[test]
fn on_pim_gpt_the_asic_is_too_small_for_prefill_too() {
    // pim-gpt's ASIC is one 16x16 bf16 array at 1 GHz (0.5 TOPS); its PIM is 16
    // channels x 16 banks x 16 lanes at 1 GHz (8.2 TOPS): PIM wins at M = 256 as well,
    // as PIM-GPT runs every matrix product in memory.
    let arch = Arch::preset("pim-gpt").unwrap();
    let g = mlp(DType::BF16, 256, 768, 3072);
    let out = optimize(&g, &arch, &Config::default()).unwrap();
    assert_eq!(out.placed.target_of("up"), Some(Target::Pim));
}

#[test]
fn without_pim_the_gemv_goes_to_the_npu() {
    let arch = Arch::preset("mobile-soc").unwrap();
    let g = mlp(DType::F16, 1, 768, 3072);
    let out = optimize(&g, &arch, &Config::default()).unwrap();
    assert_eq!(out.placed.target_of("up"), Some(Target::Npu));
    assert!(out.placed.placement.values().all(|&t| t != Target::Pim));
}

#[test]
fn an_op_no_engine_runs_is_an_error_naming_it() {
    // pim-gpt has no CPU, its ASIC's vector unit no Erf, and PIM has none.
    let arch = Arch::preset("pim-gpt").unwrap();
    assert!(
        !arch
            .npu
            .as_ref()
            .unwrap()
            .vector_ops
            .contains(&triad_isa::VectorOp::Erf)
    );
    let mut g = Graph::new("erf");
    let x = g.input("x", t(DType::BF16, &[4, 8])).unwrap();
    let y = g.add1("the_erf", Op::Erf, &[x]).unwrap();
    g.set_outputs(&[y]);
    let e = optimize(&g, &arch, &Config::default()).unwrap_err();
    assert!(e.to_string().contains("the_erf"), "{e}");
}

#[test]
fn decode_attention_scores_with_the_kv_cache_can_go_to_pim() {
    // q[1, 64] x K^T[64, 512] (a KV-cache source, laid out in the banks): a GEMV.
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let mut g = Graph::new("attn");
    let q = g.input("q", t(DType::F16, &[1, 64])).unwrap();
    let k = g.kv_input("kt", t(DType::F16, &[64, 512])).unwrap();
    let v = weight(&mut g, "v", t(DType::F16, &[512, 64]));
    let s = g.add1("scores", Op::MatMul, &[q, k]).unwrap();
    let p = g.add1("probs", Op::Softmax { axis: -1 }, &[s]).unwrap();
    let o = g.add1("ctx", Op::MatMul, &[p, v]).unwrap();
    g.set_outputs(&[o]);
    let out = optimize(&g, &arch, &Config::default()).unwrap();
    assert_eq!(out.placed.target_of("ctx"), Some(Target::Pim));
    assert_ne!(out.placed.target_of("probs"), Some(Target::Pim));
}

#[test]
fn an_embedding_lookup_reads_only_the_selected_rows() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let m = CostModel::new(&arch);
    let table = t(DType::F16, &[50257, 768]);
    let ids = t(DType::I64, &[1]);
    let row = t(DType::F16, &[1, 768]);
    let c = m
        .op_cost(
            Target::Cpu,
            &Op::Gather { axis: 0 },
            &[&table, &ids],
            std::slice::from_ref(&row),
        )
        .unwrap();
    // read one 1536-byte row and the 8-byte index, write the row, at what one core's
    // stream gets: 32 queued 32-byte bursts do not cover an 8 KiB channel granule
    // (256 bursts), so one LPDDR5X channel (2 bytes x 8 transfers per 833 ps) serves
    // 224 of every 256 alone: x 256 / 224; plus the CPU link's 100 ns latency.
    let bytes = (1536 + 8 + 1536) as f64;
    assert!(
        (c.time_ps - (bytes / (2.0 * 8.0 / 833.0 * 256.0 / 224.0) + 100_000.0)).abs() < 1e-3,
        "{c:?}"
    );
}

#[test]
fn a_fused_bias_add_saves_the_intermediates_round_trip() {
    use triad_compiler::egraph::KernelPart;
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let m = CostModel::new(&arch);
    let x = t(DType::F16, &[1, 768]);
    let w = t(DType::F16, &[768, 3072]);
    let y = t(DType::F16, &[1, 3072]);
    let b = t(DType::F16, &[3072]);
    let ys = [y.clone()];
    let k = m
        .kernel_cost(
            Target::Npu,
            &[
                KernelPart {
                    op: &Op::MatMul,
                    ins: &[&x, &w],
                    outs: &ys,
                    inner: &[false, false],
                    out_inner: true,
                },
                KernelPart {
                    op: &Op::Add,
                    ins: &[&y, &b],
                    outs: &ys,
                    inner: &[true, false],
                    out_inner: false,
                },
            ],
        )
        .unwrap();
    // Memory bound: x, W and the bias read, the sum written; the product itself
    // never crosses the link (bandwidth as for the GEMV alone). Two
    // scratchpad steps: memory plus half the compute (the matmul's and the add's
    // 3072 elements over 128 lanes), the link latency twice.
    let bytes = (x.bytes() + w.bytes() + b.bytes() + y.bytes()) as f64;
    let bw = f64::min(0.0768, 4.0 * 2.0 * 8.0 / 833.0);
    let npu = arch.npu.as_ref().unwrap();
    let compute = (npu.gemm_cycles(1, 3072, 768, DType::F16).unwrap().0 as f64
        + (3072.0f64 / 128.0).ceil())
        * 727.0;
    let want = bytes / bw + compute / 2.0 + 100_000.0;
    assert!((k.time_ps - want).abs() < 1e-3, "{k:?} vs {want}");
    let apart = m
        .op_cost(Target::Npu, &Op::MatMul, &[&x, &w], &ys)
        .unwrap()
        .plus(m.op_cost(Target::Npu, &Op::Add, &[&y, &b], &ys).unwrap());
    assert!(k.time_ps < apart.time_ps && k.energy.0 < apart.energy.0);
}

#[test]
fn the_parts_of_a_split_run_concurrently() {
    use triad_compiler::egraph::{
        RuleConfig, SplitAxis, alternatives, placed_cost, saturate, to_egraph,
    };
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let m = CostModel::new(&arch);
    let mut g = Graph::new("gemv");
    let x = g.input("x", t(DType::F16, &[1, 768])).unwrap();
    let w = weight(&mut g, "w", t(DType::F16, &[768, 3072]));
    let y = g.add1("y", Op::MatMul, &[x, w]).unwrap();
    g.set_outputs(&[y]);
    let conv = to_egraph(&g, &m).unwrap();
    let (conv, _) = saturate(conv, &m, &Default::default(), &RuleConfig::default());
    let alts = alternatives(&g, &conv, &m, 64).unwrap();
    let split = alts
        .iter()
        .find(|a| {
            a.splits.iter().any(|s| {
                s.spec.axis == SplitAxis::Cols
                    && (s.spec.first, s.spec.second) == (Target::Npu, Target::Pim)
                    && s.spec.num * 2 == s.spec.den
            })
        })
        .expect("a half / half NPU + PIM column split");
    // By hand: each part streams half of W's columns; the PIM part's result is read
    // out to DRAM (x is a graph input, laid out where its readers need it, as every
    // source). Time: the slower part; energy: both.
    let (xt, wh, yh) = (
        t(DType::F16, &[1, 768]),
        t(DType::F16, &[768, 1536]),
        t(DType::F16, &[1, 1536]),
    );
    let npu = m
        .op_cost(
            Target::Npu,
            &Op::MatMul,
            &[&xt, &wh],
            std::slice::from_ref(&yh),
        )
        .unwrap();
    let pim = m
        .op_cost(
            Target::Pim,
            &Op::MatMul,
            &[&xt, &wh],
            std::slice::from_ref(&yh),
        )
        .unwrap()
        .plus(m.transfer(yh.bytes(), Memory::Banks, Memory::Dram));
    let got = placed_cost(split, &m).unwrap();
    let want_time = npu.time_ps.max(pim.time_ps);
    let want_energy = npu.energy.0 + pim.energy.0;
    assert!(
        (got.time_ps - want_time).abs() < 1e-6 * want_time,
        "{got:?}"
    );
    assert!(
        (got.energy.0 - want_energy).abs() < 1e-6 * want_energy,
        "{got:?}"
    );
    assert!(got.time_ps < npu.time_ps + pim.time_ps);
}
