//! Zoo export round trip: tiny zoo models exported to ONNX and imported back give the
//! same reference-interpreter outputs (max abs error 1e-4); the committed exports
//! (tests/fixtures/onnx/export, checked by ONNX Runtime in make_fixtures.py
//! `--check-exports`) import and reproduce ONNX Runtime's outputs.
//!
//! `cargo test -p triad-compiler --test onnx_export -- --ignored write_exports` with
//! `TRIAD_ONNX_EXPORT_DIR=DIR` writes the exports the fixture script checks.

mod onnx_common;

use std::collections::BTreeMap;
use std::path::Path;

use onnx_common::*;
use rand::{Rng, SeedableRng};
use triad_compiler::onnx::{export_bytes, import_bytes};
use triad_compiler::{DType, Graph, Op, Tensor, run};
use triad_workloads::{BuildOptions, Phase, WeightFormat, build, model};

const TOL: f64 = 1e-4;

/// The exported cases: (zoo model, phase, weight format).
const CASES: &[(&str, &str, WeightFormat)] = &[
    ("tiny-gpt2", "prefill:6", WeightFormat::F32),
    ("tiny-llama", "prefill:6", WeightFormat::F32),
    ("tiny-bert", "prefill:6", WeightFormat::F32),
    ("tiny-llama", "decode:4", WeightFormat::F32),
    ("tiny-llama", "prefill:6", WeightFormat::W8A16),
    ("tiny-moe", "prefill:6", WeightFormat::F32),
];

fn zoo(name: &str, phase: &str, w: WeightFormat) -> Graph {
    let cfg = model(name).unwrap();
    let phase: Phase = phase.parse().unwrap();
    let mut opts = BuildOptions::new(phase);
    opts.weights = w;
    build(&cfg, &opts).unwrap()
}

/// Rows of the table an integer input indexes (the `Gather` consuming it).
fn index_bound(g: &Graph, id: triad_compiler::NodeId, vocab: usize) -> usize {
    let v = triad_compiler::ValueRef { node: id, port: 0 };
    g.consumers(v)
        .into_iter()
        .find_map(|(c, slot)| match (&g.node(c).op, slot) {
            (Op::Gather { axis }, 1) => {
                let t = g.ty(g.node(c).inputs[0]);
                triad_compiler::norm_axis(*axis, t.rank()).map(|a| t.shape[a])
            }
            _ => None,
        })
        .unwrap_or(vocab)
}

/// Random inputs for `g`: indices below the size of the table they index, floats
/// in [-1, 1].
fn inputs(g: &Graph, vocab: usize, seed: u64) -> BTreeMap<String, Tensor> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    g.inputs()
        .into_iter()
        .map(|id| {
            let bound = index_bound(g, id, vocab) as i64;
            let v = &g.node(id).outputs[0];
            let n = v.ty.elems() as usize;
            let t = if v.ty.dtype.is_float() {
                let vals = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                Tensor::from_f32s(v.ty.dtype, &v.ty.shape, vals).unwrap()
            } else {
                let vals = (0..n).map(|_| rng.random_range(0..bound)).collect();
                Tensor::from_i64s(v.ty.dtype, &v.ty.shape, vals).unwrap()
            };
            (v.name.clone(), t)
        })
        .collect()
}

/// 1e-4 for f32 results. f16 results: the exported graph rounds every decomposed
/// step (RmsNorm, SiLU, RoPE) to f16 where the IR op rounds once; allow 2 f16 ulps
/// (2^-10 relative each) of the output's magnitude.
fn tolerance(t: &Tensor) -> f64 {
    if t.dtype == DType::F32 {
        TOL
    } else {
        2.0 * 2f64.powi(-10) * max_abs(t).max(1.0)
    }
}

#[test]
fn zoo_models_round_trip_through_onnx() {
    for &(name, phase, w) in CASES {
        let g = zoo(name, phase, w);
        let bytes = export_bytes(&g).unwrap_or_else(|e| panic!("{name}: export: {e}"));
        let g2 = import_bytes(&bytes, Path::new("export.onnx"), &BTreeMap::new())
            .unwrap_or_else(|e| panic!("{name} {phase}: re-import: {e}"));
        let vocab = model(name).unwrap().vocab;
        let ins = inputs(&g, vocab, 7);
        let a = run(&g, &ins).unwrap();
        let b = run(&g2, &ins).unwrap();
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (k, t) in &a {
            let err = max_abs_diff(&b[k], t);
            let tol = tolerance(t);
            eprintln!("{name} {phase} {w:?} {k}: max abs error {err:.3e}");
            assert!(err <= tol, "{name} {phase} {k}: {err} > {tol}");
        }
        if w.is_quantised() {
            let q = |g: &Graph| {
                g.node_ids()
                    .filter(|&i| g.node(i).op.name() == "QMatMul")
                    .count()
            };
            assert_eq!(q(&g2), q(&g), "{name}: QMatMuls survive the round trip");
        }
    }
}

#[test]
fn committed_exports_match_onnx_runtime() {
    let root = fixtures("export");
    let mut n = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let dir = e.unwrap().path();
        let g = triad_compiler::onnx::import(&dir.join("model.onnx"), &BTreeMap::new()).unwrap();
        let got = run(&g, &feed(&g, &read_npys(&dir, "input_"))).unwrap();
        for (k, want) in read_npys(&dir, "output_") {
            let err = max_abs_diff(&got[&k], &want);
            let tol = tolerance(&got[&k]);
            eprintln!(
                "{}: {k}: max abs error {err:.3e} (bound {tol:.3e})",
                dir.display()
            );
            assert!(err <= tol, "{}: {k}: {err} > {tol}", dir.display());
        }
        n += 1;
    }
    assert!(n >= 3, "only {n} committed exports");
}

#[test]
#[ignore = "writes the exports for tools/onnx_fixtures/make_fixtures.py --check-exports"]
fn write_exports() {
    let dir = std::env::var("TRIAD_ONNX_EXPORT_DIR").expect("set TRIAD_ONNX_EXPORT_DIR");
    for &(name, phase, w) in CASES {
        let g = zoo(name, phase, w);
        let sub = format!("{name}_{}_{}", phase.replace(':', ""), w.name());
        let d = Path::new(&dir).join(sub);
        std::fs::create_dir_all(&d).unwrap();
        triad_compiler::onnx::export(&g, &d.join("model.onnx")).unwrap();
    }
}
