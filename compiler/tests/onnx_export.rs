//! Zoo export round trip: tiny zoo models exported to ONNX and imported back give the
//! same reference-interpreter outputs (max abs error 1e-4); the committed exports
//! (tests/fixtures/onnx/export, checked by ONNX Runtime in make_fixtures.py
//! `--check-exports`) import and reproduce ONNX Runtime's outputs.
//!
//! Statistics survive the round trip for every zoo tiny model x weight format x step
//! kind (the matrix `tools/onnx_fixtures/check_exports.py` runs through onnx.checker
//! and ONNX Runtime, whose results `export_matrix.json` records).
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

/// The export matrix: every zoo tiny model x weight format x step kind.
const MODELS: &[&str] = &["tiny-gpt2", "tiny-llama", "tiny-moe", "tiny-bert"];
const FORMATS: &[WeightFormat] = &[
    WeightFormat::F32,
    WeightFormat::F16,
    WeightFormat::Bf16,
    WeightFormat::W8A8,
    WeightFormat::W8A16,
    WeightFormat::W4A16,
];
const PHASES: &[&str] = &["prefill:6", "decode:4"];

/// Activation bytes a block may gain or lose in the round trip: the scalar constants
/// the decompositions read (an f32 epsilon or GELU coefficient is 4 bytes, an int8
/// zero point 1) and index constants folded differently; a few per block.
const ACT_SLACK: u64 = 64;

/// What the round trip changes in a block, derived from the ops it holds (see the
/// `export` module docs): Rope cos/sin tables become constant weights (their
/// `ROPE_TABLE_PER_PAIR` FLOPs per (position, pair) vanish, 2 tables of S x r/2
/// values are read); `QuantizeLinear`'s explicit zero point adds 1 FLOP per element,
/// and so does each `Cast` around the f32-only quantisation ops (of f16 data before
/// `QuantizeLinear`, of `DequantizeLinear`'s f32 result to f16) and around a bf16 `TopK`.
#[derive(Default)]
struct Expected {
    flops_delta: i64,
    weight_delta: i64,
    moe: bool,
}

fn expected_changes(g: &Graph) -> BTreeMap<String, Expected> {
    use triad_compiler::stats::ROPE_TABLE_PER_PAIR;
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    for id in g.node_ids() {
        let n = g.node(id);
        let e = out.entry(n.scope.clone()).or_default();
        match &n.op {
            Op::Rope { rotary_dim, .. } => {
                let x = g.ty(n.inputs[0]);
                let d = x.shape[x.rank() - 1];
                let r = if *rotary_dim == 0 { d } else { *rotary_dim };
                let s = g.ty(n.inputs[1]).elems() as i64;
                let pairs = s * (r / 2) as i64;
                e.flops_delta -= ROPE_TABLE_PER_PAIR as i64 * pairs;
                e.weight_delta += 2 * pairs * (x.dtype.bits() as i64 / 8);
            }
            Op::Quantize { .. } => {
                // The int8 zero point ONNX needs, and the cast of non-f32 data to f32.
                let elems = n.outputs[0].ty.elems() as i64;
                e.flops_delta += elems * i64::from(n.inputs.len() == 2)
                    + elems * i64::from(g.ty(n.inputs[0]).dtype != DType::F32);
            }
            Op::Dequantize { to, .. } if *to != DType::F32 => {
                // DequantizeLinear makes f32; a Cast makes the activation dtype.
                e.flops_delta += n.outputs[0].ty.elems() as i64;
            }
            Op::TopK { .. } if g.ty(n.inputs[0]).dtype == DType::BF16 => {
                // Selected in f32 between two casts (ONNX has no bf16 TopK here).
                e.flops_delta += (g.ty(n.inputs[0]).elems() + n.outputs[0].ty.elems()) as i64;
            }
            Op::MoeDispatch { .. } | Op::MoeCombine { .. } => e.moe = true,
            _ => {}
        }
    }
    out
}

#[test]
fn the_export_matrix_reimports_with_the_same_statistics() {
    use triad_compiler::stats::analyze;
    let mut checked = 0;
    for &name in MODELS {
        for &w in FORMATS {
            for &phase in PHASES {
                let case = format!("{name} {} {phase}", w.name());
                let g = zoo(name, phase, w);
                let bytes = export_bytes(&g).unwrap_or_else(|e| panic!("{case}: export: {e}"));
                let g2 = import_bytes(&bytes, Path::new("export.onnx"), &BTreeMap::new())
                    .unwrap_or_else(|e| panic!("{case}: re-import: {e}"));
                let (a, b) = (analyze(&g).unwrap(), analyze(&g2).unwrap());
                let names = |v: &[triad_compiler::stats::GroupStats]| {
                    v.iter().map(|x| x.name.clone()).collect::<Vec<_>>()
                };
                assert_eq!(names(&a.blocks), names(&b.blocks), "{case}: blocks");
                assert_eq!(names(&a.layers), names(&b.layers), "{case}: layers");
                assert_eq!(names(&a.kinds), names(&b.kinds), "{case}: kinds");
                let expect = expected_changes(&g);
                for (x, y) in a.blocks.iter().zip(&b.blocks) {
                    let e = &expect[&x.name];
                    let at = format!("{case}: block {}", x.name);
                    let (f, t) = (&x.fused, &y.fused);
                    assert_eq!(
                        (t.kv_read, t.kv_write),
                        (f.kv_read, f.kv_write),
                        "{at}: KV bytes"
                    );
                    let act = |t: &triad_compiler::stats::Traffic| (t.act_read + t.act_write).0;
                    assert!(
                        act(t).abs_diff(act(f)) <= ACT_SLACK || e.moe,
                        "{at}: activation bytes {} -> {}",
                        act(f),
                        act(t)
                    );
                    if e.moe {
                        // The routing arithmetic replaces MoeDispatch/MoeCombine.
                        assert!(y.flops >= x.flops, "{at}: routing FLOPs");
                        continue;
                    }
                    assert_eq!(
                        y.flops.0 as i64 - x.flops.0 as i64,
                        e.flops_delta,
                        "{at}: FLOPs {} -> {}",
                        x.flops.0,
                        y.flops.0
                    );
                    assert_eq!(
                        t.weights.0 as i64 - f.weights.0 as i64,
                        e.weight_delta,
                        "{at}: weight bytes"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, MODELS.len() * FORMATS.len() * PHASES.len());
}

/// The export matrix as ONNX Runtime saw it (`export_matrix.json`, written by
/// `tools/onnx_fixtures/check_exports.py`): every cell exported, passed
/// `onnx.checker` (full check) and ran in ORT, except bf16, which ORT's CPU build
/// refuses for want of bfloat16 kernels; f32 exports evaluate in `triad eval` to
/// ORT's outputs within 1e-5 of their magnitude.
#[test]
fn onnx_runtime_ran_the_export_matrix() {
    let path = fixtures("export_matrix.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    for &name in MODELS {
        for &w in FORMATS {
            for &phase in PHASES {
                let c = cases
                    .iter()
                    .find(|c| c["model"] == name && c["dtype"] == w.name() && c["phase"] == phase)
                    .unwrap_or_else(|| panic!("{name} {} {phase} not in the matrix", w.name()));
                assert_eq!(c["export"], "ok", "{c}");
                assert_eq!(c["checker"], "ok", "{c}");
                if w == WeightFormat::Bf16 {
                    assert_eq!(c["ort_status"], "no-cpu-kernel", "{c}");
                    continue;
                }
                assert_eq!(
                    (&c["ort"], &c["triad_eval"]),
                    (&"ok".into(), &"ok".into()),
                    "{c}"
                );
                if w == WeightFormat::F32 {
                    assert!(c["max_rel_err_vs_ort"].as_f64().unwrap() <= 1e-5, "{c}");
                }
            }
        }
    }
}
