//! Tiny BERT- and GPT-style ONNX models (made by tools/onnx_fixtures/make_fixtures.py
//! with the onnx helper API and ONNX Runtime's quantisation tools): import, run the
//! reference interpreter, compare with ONNX Runtime's outputs.
//!
//! Tolerance: 1e-4 max abs error for every model (the bound for f32). The
//! weight-only int8 and 4-bit variants meet it because the importer applies exactly
//! the scales ORT dequantises with (only the summation order differs). The QDQ and
//! dynamic-quantisation variants quantise activations, where a different rounding of
//! one `x / scale` would move a value by a whole quantisation step; they meet the same
//! bound because the interpreter rounds `x / scale` exactly as ORT does (measured:
//! <= 5e-7 everywhere, 0 for the GPT QDQ logits, which leave through a
//! DequantizeLinear).

mod onnx_common;

use std::collections::BTreeMap;

use onnx_common::*;
use triad_compiler::onnx::import_with_stats;
use triad_compiler::{Op, run};

const TOL: f64 = 1e-4;

/// Import and run one fixture model, check every output against ONNX Runtime's;
/// returns the number of `QMatMul`s the import recognised.
fn check(name: &str) -> usize {
    let dir = fixtures("models").join(name);
    let dims = read_dims(&dir);
    let (g, stats) = import_with_stats(&dir.join("model.onnx"), &dims).expect("import");
    let inputs = feed(&g, &read_npys(&dir, "input_"));
    let got = run(&g, &inputs).expect("run");
    let want = read_npys(&dir, "output_");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{name}: output names"
    );
    for (k, w) in &want {
        let err = max_abs_diff(&got[k], w);
        eprintln!("{name}/{k}: max abs error {err:.3e}");
        assert!(err <= TOL, "{name}/{k}: max abs error {err} > {TOL}");
    }
    stats.qmatmuls
}

/// Op names of an imported model's graph, with counts.
fn ops_of(name: &str) -> BTreeMap<&'static str, usize> {
    let dir = fixtures("models").join(name);
    let g = triad_compiler::onnx::import(&dir.join("model.onnx"), &read_dims(&dir)).unwrap();
    let mut m = BTreeMap::new();
    for id in g.node_ids() {
        *m.entry(g.node(id).op.name()).or_insert(0) += 1;
    }
    m
}

#[test]
fn tiny_bert_matches_onnx_runtime() {
    assert_eq!(check("tiny_bert"), 0);
}

#[test]
fn tiny_gpt_matches_onnx_runtime() {
    assert_eq!(check("tiny_gpt"), 0);
}

#[test]
fn contrib_ops_match_onnx_runtime() {
    check("tiny_bert_contrib");
}

#[test]
fn external_data_model_matches() {
    check("tiny_gpt_external");
}

#[test]
fn shape_subgraphs_fold_away() {
    // Every Shape/Gather/Concat/Range chain of the GPT model is folded: no integer
    // shape arithmetic is left; the position-embedding lookup (constant positions)
    // folds too, so the only Gather left is the token-embedding lookup.
    let ops = ops_of("tiny_gpt");
    assert_eq!(ops.get("Gather"), Some(&1), "{ops:?}");
    assert!(
        !ops.contains_key("Concat") && !ops.contains_key("Cast"),
        "{ops:?}"
    );
}

#[test]
fn weight_only_int8_becomes_qmatmul() {
    // 2 layers x (q, k, v, out, ff1, ff2) = 12 matmuls with int8 weights.
    assert_eq!(check("tiny_bert_int8_cast"), 12);
    // GPT: per layer c_attn is a Gemm (not quantised by the fixture), out, fc, proj
    // = 3 MatMuls x 2 layers; the tied head multiplies by a float transpose.
    assert_eq!(check("tiny_gpt_int8_dq"), 6);
    let ops = ops_of("tiny_bert_int8_cast");
    assert_eq!(ops.get("QMatMul"), Some(&12));
    assert!(!ops.contains_key("Dequantize"), "{ops:?}");
}

#[test]
fn nbits_weights_become_block_qmatmuls() {
    // Per layer: out (K=16: 1 block), fc (K=16: 1 block), proj (K=32: 2 blocks).
    assert_eq!(check("tiny_gpt_nbits"), 2 * (1 + 1 + 2));
}

#[test]
fn qdq_models_match_within_quantisation_tolerance() {
    check("tiny_gpt_qdq");
    check("tiny_bert_qdq");
    let ops = ops_of("tiny_bert_qdq");
    assert!(
        ops.contains_key("Quantize") && ops.contains_key("QMatMul"),
        "{ops:?}"
    );
}

#[test]
fn dynamic_quantisation_matches_within_tolerance() {
    check("tiny_bert_dynamic");
    let ops = ops_of("tiny_bert_dynamic");
    assert!(
        ops.contains_key("MatMul") && ops.contains_key("Quantize"),
        "{ops:?}"
    );
}

#[test]
fn graph_outputs_keep_onnx_names_and_types() {
    let dir = fixtures("models").join("tiny_bert");
    let g = triad_compiler::onnx::import(&dir.join("model.onnx"), &read_dims(&dir)).unwrap();
    let names: Vec<String> = g
        .outputs()
        .iter()
        .map(|v| g.value_info(*v).name.clone())
        .collect();
    assert_eq!(names, ["last_hidden_state", "pooler_output"]);
    let shapes: Vec<Vec<usize>> = g.outputs().iter().map(|v| g.ty(*v).shape.clone()).collect();
    assert_eq!(shapes, [vec![2, 5, 16], vec![2, 16]]);
    assert!(
        g.inputs()
            .iter()
            .all(|&i| matches!(g.node(i).op, Op::Input { .. }))
    );
}
