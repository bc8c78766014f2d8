//! Program simulation speed: a double-buffered tiled GEMM pipeline that keeps every
//! engine kind busy (DMA loads and stores, the NPU matrix and vector units, a CPU core
//! streaming a residual add, channel 0's PIM units applying a ReLU in the banks) on
//! mobile-soc-pim. Criterion reports instructions per
//! second; the run prints events per second and simulated cycles per second of host
//! time once, for the README.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;
use triad_isa::{Arch, Program};
use triad_sim::{SimOptions, simulate};

/// Tiles in the pipeline.
const TILES: u64 = 32;
/// Tile edge (i8 GEMM tiles of T x T).
const T: u64 = 128;

fn program() -> Program {
    let b = T * T;
    let mut s = format!(
        ".meta model=\"bench: mixed engines\", arch=\"mobile-soc-pim\"\n\
         .buffer w, dram, addr=0, shape=[{TILES}, {T}, {T}], dtype=i8\n\
         .buffer y, dram, addr={yb}, shape=[{TILES}, {T}, {T}], dtype=f16\n\
         .buffer r, dram, addr={rb}, shape=[{TILES}, {T}, {T}], dtype=f16\n\
         .buffer z, dram, addr={zb}, shape=[{TILES}, {T}, {T}], dtype=f16\n\
         .buffer x, spm, addr=0, shape=[{T}, {T}], dtype=i8\n\
         .buffer acc, spm, addr={b}, shape=[{T}, {T}], dtype=i32\n\
         .buffer h, spm, addr={hb}, shape=[{T}, {T}], dtype=f16\n\
         .buffer w0, spm, addr={w0}, shape=[{T}, {T}], dtype=i8\n\
         .buffer w1, spm, addr={w1}, shape=[{T}, {T}], dtype=i8\n\
         .sem full0\n.sem full1\n.sem free0, init=1\n.sem free1, init=1\n.sem done\n.sem stored\n.sem stored_pim\n",
        yb = TILES * b,
        rb = 3 * TILES * b,
        // y + 4 MiB: the same channel and bank burst by burst (mobile-soc-pim's
        // channel and bank bits are 13..17), as `pim.ewact` needs.
        zb = TILES * b + (4 << 20),
        hb = 5 * b,
        w0 = 8 * b,
        w1 = 9 * b,
    );
    s += ".stream dma.0\n";
    for i in 0..TILES {
        let k = i % 2;
        s += &format!(
            "wait free{k}, value=1\nload w{k}, w+{o}, rows={T}, row_bytes={T}, src_stride={T}, dst_stride={T}\nsignal full{k}, value=1\n",
            o = i * b
        );
    }
    s += ".stream npu.mx\n";
    for i in 0..TILES {
        let k = i % 2;
        s += &format!(
            "wait full{k}, value=1\ngemm acc, x, w{k}, m={T}, n={T}, k={T}, dtype=i8, out_dtype=i32, accumulate=false, scale=1.0\nsignal free{k}, value=1\nsignal done, value=1\n"
        );
    }
    s += ".stream npu.vec\n";
    for _ in 0..TILES {
        s += &format!(
            "wait done, value=1\nconvert h, acc, rows={T}, cols={T}, from=i32, to=f16, scale=0.01\nact gelu_tanh, h, h, rows={T}, cols={T}, dtype=f16\n"
        );
    }
    s += ".stream dma.1\n";
    for i in 0..TILES {
        s += &format!(
            "store y+{o}, h, rows={T}, row_bytes={rb}, src_stride={rb}, dst_stride={rb}\nsignal stored, value=1\nsignal stored_pim, value=1\n",
            o = i * 2 * b,
            rb = 2 * T
        );
    }
    s += ".stream cpu.0\n";
    for i in 0..TILES {
        s += &format!(
            "wait stored, value=1\neltwise add, r+{o}, r+{o}, y+{o}, rows={T}, cols={T}, dtype=f16, bcast=none\n",
            o = i * 2 * b
        );
    }
    s += ".stream pim.0\n";
    for i in 0..TILES {
        s += &format!(
            "wait stored_pim, value=1\npim.ewact relu, z+{o}, y+{o}, len={n}, dtype=f16\n",
            o = i * 2 * b,
            n = T * T
        );
    }
    Program::from_text(&s).expect("the bench program assembles")
}

fn bench(c: &mut Criterion) {
    let arch = Arch::preset("mobile-soc-pim").expect("preset");
    let p = program();
    let opts = SimOptions::default();
    let t0 = Instant::now();
    let out = simulate(&p, &arch, &opts).expect("the bench program runs");
    let secs = t0.elapsed().as_secs_f64();
    let dram_cycles = out.report.total_ps / arch.dram.tck_ps;
    println!(
        "mixed engines: {} instructions, {} events, {:.2} M events/s, {:.1} M DRAM cycles/s, {:.1} us simulated",
        p.insn_count(),
        out.report.events,
        out.report.events as f64 / secs / 1e6,
        dram_cycles as f64 / secs / 1e6,
        out.report.total_ps as f64 * 1e-6
    );
    let mut g = c.benchmark_group("engines");
    g.throughput(Throughput::Elements(p.insn_count() as u64));
    g.bench_function("mixed-mobile-soc-pim", |b| {
        b.iter(|| simulate(black_box(&p), &arch, &opts).expect("runs"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
