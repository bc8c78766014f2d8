//! Cycles of single instructions, derived by hand from the arch's numbers.

use crate::common::*;
use triad_isa::Dataflow;

/// SCALE-Sim's compute cycles on one array, written out independently of the
/// simulator: folds x (T + R + C - 2), plus R per fold for ws / is.
fn scalesim(rows: u64, cols: u64, df: Dataflow, m: u64, n: u64, k: u64) -> u64 {
    let (sr, sc, t, pre) = match df {
        Dataflow::Os => (m, n, k, 0),
        Dataflow::Ws => (k, n, m, rows),
        Dataflow::Is => (k, m, n, rows),
    };
    sr.div_ceil(rows) * sc.div_ceil(cols) * (t + pre + rows + cols - 2)
}

fn gemm_program(m: u64, n: u64, k: u64) -> String {
    format!(
        ".buffer a, spm, addr=0, shape=[{m}, {k}], dtype=f16\n\
         .buffer b, spm, addr={ab}, shape=[{k}, {n}], dtype=f16\n\
         .buffer o, spm, addr={ob}, shape=[{m}, {n}], dtype=f16\n\
         .stream npu.mx\n\
         gemm o, a, b, m={m}, n={n}, k={k}, dtype=f16, out_dtype=f16, accumulate=false, scale=1.0\n",
        ab = 2 * m * k,
        ob = 2 * m * k + 2 * k * n
    )
}

#[test]
fn npu_gemm_costs_the_systolic_cycles_for_every_dataflow() {
    for df in [Dataflow::Os, Dataflow::Ws, Dataflow::Is] {
        for (m, n, k) in [(64, 64, 64), (1, 2048, 1024), (100, 30, 700), (256, 8, 33)] {
            let mut a = arch("mobile-soc");
            let npu = a.npu.as_mut().unwrap();
            npu.arrays = 1;
            npu.dataflow = df;
            let (rows, cols, tck) = (u64::from(npu.rows), u64::from(npu.cols), npu.tck_ps);
            let r = run(&a, &gemm_program(m, n, k));
            let want = scalesim(rows, cols, df, m, n, k) * tck;
            assert_eq!(r.total_ps, want, "{df:?} {m}x{n}x{k}");
            assert_eq!(engine(&r, "npu.mx").ops, m * n * k);
        }
    }
}

#[test]
fn several_arrays_share_the_folds() {
    let a = arch("mobile-soc"); // 2 arrays of 64 x 64, ws
    let npu = a.npu.as_ref().unwrap();
    let (m, n, k) = (128, 256, 512);
    let r = run(&a, &gemm_program(m, n, k));
    // ws: (Sr, Sc, T) = (K, N, M): 8 x 4 = 32 folds of (128 + 2*64 + 64 - 2) cycles,
    // 16 per array.
    assert_eq!(r.total_ps, 16 * (128 + 128 + 64 - 2) * npu.tck_ps);
}

#[test]
fn npu_vector_costs_passes_over_lanes() {
    let a = arch("mobile-soc");
    let npu = a.npu.as_ref().unwrap();
    let text = ".buffer h, spm, addr=0, shape=[16, 768], dtype=f16\n\
                .buffer g, spm, addr=24576, shape=[768], dtype=f16\n\
                .buffer b, spm, addr=26112, shape=[768], dtype=f16\n\
                .buffer n, spm, addr=27648, shape=[16, 768], dtype=f16\n\
                .stream npu.vec\n\
                layernorm n, h, g, b, rows=16, cols=768, dtype=f16, eps=1e-5\n\
                act gelu_tanh, n, n, rows=16, cols=768, dtype=f16\n";
    let r = run(&a, text);
    // layernorm: 3 passes over 12288 elements on 128 lanes = 288 cycles (its 52 KiB of
    // scratchpad traffic take 51 cycles on 16 banks x 64 B). gelu: 96 cycles of
    // compute, 48 KiB of traffic = 48 cycles.
    assert_eq!(r.total_ps, (288 + 96) * npu.tck_ps);
    assert_eq!(engine(&r, "npu.vec").ops, 3 * 12288 + 12288);
}

#[test]
fn a_compute_bound_cpu_gemm_costs_its_macs_over_the_simd_rate() {
    let a = arch("mobile-soc");
    // cpu.0 is the Cortex-X4: 16 f32 MACs per cycle at 303 ps.
    let text = ".buffer a, dram, addr=0, shape=[64, 64], dtype=f32\n\
                .buffer b, dram, addr=16384, shape=[64, 64], dtype=f32\n\
                .buffer o, dram, addr=32768, shape=[64, 64], dtype=f32\n\
                .stream cpu.0\n\
                gemm o, a, b, m=64, n=64, k=64, dtype=f32, out_dtype=f32, accumulate=false, scale=1.0\n";
    let r = run(&a, text);
    let e = engine(&r, "cpu.0");
    assert_eq!(e.busy_ps, 64 * 64 * 64 / 16 * 303);
    // The program ends once the posted result writes are in DRAM.
    assert!(r.total_ps >= e.busy_ps);
    // Operands stream once from DRAM: 3 x 16 KiB.
    assert_eq!((e.dram_read_bytes, e.dram_write_bytes), (32768, 16384));
    assert_eq!(r.timing_violations, Some(0));
}

/// mobile-soc with channels interleaved right above the burst (so one sequential
/// stream spreads over all four channels at once) and no refresh: the link, not the
/// mapping, is what these tests measure.
fn streaming_soc() -> triad_isa::Arch {
    let mut a = arch("mobile-soc");
    a.dram.address_mapping = "rorabacobgch".parse().unwrap();
    a.dram.refresh = triad_isa::RefreshMode::Off;
    a
}

#[test]
fn a_memory_bound_cpu_op_runs_near_the_link_rate() {
    let a = streaming_soc();
    // 3 x 1 MiB of f16 traffic for 512 Ki additions: compute is 16 Ki cycles (5 us),
    // memory at least 3 MiB / 76.8 GB/s = 41 us.
    let n = 1 << 19;
    let text = format!(
        ".buffer x, dram, addr=0, shape=[{n}], dtype=f16\n\
         .buffer y, dram, addr={b}, shape=[{n}], dtype=f16\n\
         .buffer z, dram, addr={c}, shape=[{n}], dtype=f16\n\
         .stream cpu.0\n\
         eltwise add, z, x, y, rows=1, cols={n}, dtype=f16, bcast=none\n",
        b = 2 * n,
        c = 4 * n
    );
    let r = run(&a, &text);
    let bytes = 6.0 * n as f64;
    let floor_ps = bytes / a.links.cpu_dram.bandwidth_gb_per_s * 1e3;
    let t = r.total_ps as f64;
    assert!(t >= floor_ps, "{t} < {floor_ps}");
    assert!(
        t <= 1.25 * floor_ps,
        "{t} ps is more than 25% above the link floor {floor_ps}"
    );
    assert_eq!(r.dram.bytes, 6 * n);
}

#[test]
fn a_dma_load_is_bounded_by_the_link_and_reaches_most_of_it() {
    let a = streaming_soc();
    let n = 1 << 20;
    let text = format!(
        ".buffer x, dram, addr=0, shape=[{n}], dtype=i8\n\
         .buffer s, spm, addr=0, shape=[{n}], dtype=i8\n\
         .stream dma.0\n\
         load s, x, rows=1, row_bytes={n}, src_stride={n}, dst_stride={n}\n"
    );
    let r = run(&a, &text);
    let floor_ps = n as f64 / a.links.npu_dram.bandwidth_gb_per_s * 1e3;
    let t = r.total_ps as f64;
    assert!(
        t >= floor_ps && t <= 1.2 * floor_ps,
        "{t} vs floor {floor_ps}"
    );
    assert_eq!(engine(&r, "dma.0").dram_read_bytes, n);
}
