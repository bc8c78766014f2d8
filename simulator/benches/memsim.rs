//! Simulation speed of the DRAM model for streaming, random and row-conflict traces
//! on the LPDDR5, HBM2 and GDDR6 presets, issued as fast as the queues take them
//! (the lazy wake-ups of `triad memsim --issue-rate unlimited`): group `memsim`
//! reports requests simulated per second, group `memsim_cycles` simulated DRAM
//! cycles per second (criterion prints both as elements per second). Runs without
//! the command log, as the CLI does without `--check`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use triad_isa::Arch;
use triad_isa::Cycles;
use triad_sim::{IssueRate, MemoryOptions, TimedRequest, run_requests};

/// Requests per simulated trace.
const REQUESTS: u64 = 20_000;

fn traces(a: &Arch) -> Vec<(&'static str, Vec<TimedRequest>)> {
    let burst = a.dram.burst_bytes();
    let cap = a.dram.capacity_bytes();
    let stream = (0..REQUESTS)
        .map(|i| TimedRequest::read(i * burst, Cycles(0)))
        .collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let random = (0..REQUESTS)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let addr = (x >> 11) % cap / burst * burst;
            if i.is_multiple_of(3) {
                TimedRequest::write(addr, Cycles(i))
            } else {
                TimedRequest::read(addr, Cycles(i))
            }
        })
        .collect();
    // Row conflicts: alternate two rows of the same bank (one row apart in the
    // address space is `capacity / rows` bytes under a row-in-the-top-bits mapping).
    let row_stride = cap / u64::from(a.dram.rows);
    let conflict = (0..REQUESTS)
        .map(|i| TimedRequest::read((i % 2) * row_stride + (i / 2 % 4) * burst, Cycles(0)))
        .collect();
    vec![
        ("stream", stream),
        ("random", random),
        ("row_conflict", conflict),
    ]
}

fn bench(c: &mut Criterion) {
    let opts = MemoryOptions {
        record_log: false,
        pim: false,
    };
    let mut cases = Vec::new();
    for name in ["lpddr5", "hbm2", "gddr6"] {
        let a = Arch::preset(name).expect("preset");
        for (kind, reqs) in traces(&a) {
            let cycles = run_requests(&a, &reqs, IssueRate::Unlimited, opts)
                .expect("run")
                .stats
                .total_cycles
                .0;
            eprintln!("memsim/{kind}/{name}: {REQUESTS} requests, {cycles} DRAM cycles per run");
            cases.push((name, a.clone(), kind, reqs, cycles));
        }
    }
    // Requests per second, then simulated DRAM cycles per second, of the same runs.
    for (group, per_cycle) in [("memsim", false), ("memsim_cycles", true)] {
        let mut g = c.benchmark_group(group);
        g.sample_size(10);
        for (name, a, kind, reqs, cycles) in &cases {
            g.throughput(Throughput::Elements(if per_cycle {
                *cycles
            } else {
                REQUESTS
            }));
            g.bench_with_input(BenchmarkId::new(*kind, name), reqs, |b, reqs| {
                b.iter(|| {
                    let out =
                        run_requests(a, black_box(reqs), IssueRate::Unlimited, opts).expect("run");
                    black_box(out.stats.total_cycles.0)
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
