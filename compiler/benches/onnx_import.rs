//! Import time of generated ONNX exports with per-channel int8 weights (the
//! `INT8 initializer -> Cast -> Mul(scale) -> MatMul/Gather` idiom of ONNX Runtime's
//! and Optimum's weight-only int8 files), from 42 MB to 109 MB, to show that import
//! time grows linearly with the file. Criterion reports bytes per second; the file
//! sizes are printed. The model is built in the bench with the crate's own prost
//! types (`tests/onnx_common/int8_model.rs`) and imported from a file, as `triad
//! graph --onnx` does.
//!
//! Run: `cargo bench -p triad-compiler --bench onnx_import`.

#[path = "../tests/onnx_common/int8_model.rs"]
mod int8_model;

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use int8_model::{Int8Spec, int8_model};

/// Hidden size of every generated model (1 MiB per int8 matmul weight).
const DIM: usize = 1024;
/// Embedding rows (32 MiB of int8 with per-row scales).
const VOCAB: usize = 32768;

fn import(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("triad-onnx-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut group = c.benchmark_group("onnx_import_int8");
    group.sample_size(10);
    for layers in [8usize, 24, 48, 72] {
        let spec = Int8Spec {
            vocab: VOCAB,
            dim: DIM,
            layers,
            tokens: 8,
        };
        let (bytes, _) = int8_model(spec, 1);
        let path = dir.join(format!("int8_{layers}.onnx"));
        std::fs::write(&path, &bytes).expect("write model");
        let size = bytes.len() as u64;
        drop(bytes);
        eprintln!(
            "{}: {size} bytes ({:.1} MB)",
            path.display(),
            size as f64 / 1e6
        );
        group.throughput(Throughput::Bytes(size));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{:.0}MB", size as f64 / 1e6)),
            &path,
            |b, p| {
                b.iter(|| {
                    black_box(triad_compiler::onnx::import(p, &BTreeMap::new()).expect("import"))
                })
            },
        );
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, import);
criterion_main!(benches);
