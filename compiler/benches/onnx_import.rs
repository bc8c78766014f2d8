//! Import time of generated ONNX exports with per-channel int8 weights (the
//! `INT8 initializer -> Cast -> Mul(scale) -> MatMul/Gather` idiom of ONNX Runtime's
//! and Optimum's weight-only int8 files), from 42 MB to 109 MB, to show that import
//! time grows linearly with the file. Criterion reports bytes per second; the file
//! sizes are printed. The model is built in the bench with the crate's own prost
//! types (`tests/onnx_common/int8_model.rs`) and imported from a file, as `triad
//! graph --onnx` does.
//!
//! A second group imports *and evaluates* a file of the size and weight structure of
//! an int8 all-MiniLM-L6-v2 export (23 MB: a 30522 x 384 int8 embedding with per-row
//! scales, and 72 int8 384 x 384 matmul weights with per-column scales, which are the
//! 10.6 M int8 weights of MiniLM-L6's six layers, 4 x 384 x 384 + 2 x 384 x 1536
//! each), on 16 and 128 tokens, as `triad eval --onnx` does: the issue's "well under a
//! second" claim.
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

/// MiniLM-L6's vocabulary and hidden size.
const MINILM_VOCAB: usize = 30522;
const MINILM_DIM: usize = 384;
/// 384 x 384 matmuls holding as many int8 weights as MiniLM-L6's six layers.
const MINILM_MATMULS: usize = 6 * (4 + 2 * 4);
/// Tokens per evaluation: a short sentence, and half the sentence-transformers
/// default maximum of 256.
const MINILM_TOKENS: [usize; 2] = [16, 128];

fn import_and_eval_minilm_sized(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("triad-onnx-bench-minilm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut group = c.benchmark_group("onnx_import_eval_minilm_sized");
    group.sample_size(10);
    for tokens in MINILM_TOKENS {
        let spec = Int8Spec {
            vocab: MINILM_VOCAB,
            dim: MINILM_DIM,
            layers: MINILM_MATMULS,
            tokens,
        };
        let (bytes, _) = int8_model(spec, 2);
        let path = dir.join(format!("minilm_sized_int8_{tokens}.onnx"));
        std::fs::write(&path, &bytes).expect("write model");
        let size = bytes.len() as u64;
        drop(bytes);
        let mb = size as f64 / 1e6;
        eprintln!("{}: {size} bytes ({mb:.1} MB)", path.display());
        let ids: Vec<i64> = (0..tokens as i64)
            .map(|i| (i * 7919) % MINILM_VOCAB as i64)
            .collect();
        let ids = triad_compiler::Tensor::from_i64s(triad_compiler::DType::I64, &[1, tokens], ids)
            .expect("ids");
        let inputs = BTreeMap::from([("ids".to_string(), ids)]);
        group.throughput(Throughput::Bytes(size));
        if tokens == MINILM_TOKENS[0] {
            group.bench_function(format!("{mb:.0}MB_import"), |b| {
                b.iter(|| {
                    black_box(
                        triad_compiler::onnx::import(&path, &BTreeMap::new()).expect("import"),
                    )
                })
            });
        }
        let g = triad_compiler::onnx::import(&path, &BTreeMap::new()).expect("import");
        group.bench_function(format!("{mb:.0}MB_eval_{tokens}tokens"), |b| {
            b.iter(|| black_box(triad_compiler::run(&g, &inputs).expect("eval")))
        });
        group.bench_function(format!("{mb:.0}MB_import_and_eval_{tokens}tokens"), |b| {
            b.iter(|| {
                let g = triad_compiler::onnx::import(&path, &BTreeMap::new()).expect("import");
                black_box(triad_compiler::run(&g, &inputs).expect("eval"))
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, import, import_and_eval_minilm_sized);
criterion_main!(benches);
