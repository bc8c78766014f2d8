//! A generated export with per-channel int8 weights (per-row embedding scales,
//! per-column matmul scales; see `onnx_common::int8_model`) imports as `QMatMul`s and
//! evaluates to what an independent f64 dequantise-then-multiply gives.

mod onnx_common;

use std::collections::BTreeMap;
use std::path::Path;

use onnx_common::int8_model::{Int8Spec, int8_model};
use triad_compiler::onnx::ImportOptions;
use triad_compiler::onnx::import_bytes_with;
use triad_compiler::{Array, DType, Op, Tensor, run};

#[test]
fn per_channel_int8_model_matches_independent_dequantisation() {
    let spec = Int8Spec {
        vocab: 37,
        dim: 24,
        layers: 3,
        tokens: 5,
    };
    let (bytes, w) = int8_model(spec, 11);
    let (g, stats) =
        import_bytes_with(&bytes, Path::new("int8.onnx"), &ImportOptions::default()).unwrap();
    assert_eq!(
        stats.qmatmuls, spec.layers,
        "every int8 matmul is a QMatMul"
    );
    let matmuls = g
        .node_ids()
        .filter(|&id| matches!(g.node(id).op, Op::MatMul))
        .count();
    assert_eq!(matmuls, 0, "no float matmul on a dequantised copy");

    let ids: Vec<i64> = vec![0, 36, 7, 7, 20];
    let t = Tensor::from_i64s(DType::I64, &[1, spec.tokens], ids.clone()).unwrap();
    let out = run(&g, &BTreeMap::from([("ids".to_string(), t)])).unwrap();
    let Array::F32(y) = &out["y"].array else {
        panic!("y is not float")
    };

    // Reference: dequantise in f64 from the generator's integers and scales.
    let d = spec.dim;
    let mut h: Vec<Vec<f64>> = ids
        .iter()
        .map(|&i| {
            let r = i as usize;
            (0..d)
                .map(|c| f64::from(w.emb[r * d + c]) * f64::from(w.emb_scale[r]))
                .collect()
        })
        .collect();
    for (q, s) in &w.layers {
        h = h
            .iter()
            .map(|x| {
                (0..d)
                    .map(|n| {
                        (0..d)
                            .map(|k| x[k] * f64::from(q[k * d + n]) * f64::from(s[n]))
                            .sum()
                    })
                    .collect()
            })
            .collect();
    }
    let want: Vec<f64> = h.into_iter().flatten().collect();
    assert_eq!(y.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(scale > 0.1, "activations stay O(1): {scale}");
    let err = y
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (&a, b)| m.max((f64::from(a) - b).abs()));
    assert!(
        err <= 1e-5 * scale.max(1.0),
        "max abs error {err} (scale {scale})"
    );
}
