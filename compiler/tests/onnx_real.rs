//! Real exports of tiny random-init Hugging Face models (GPT-2, Llama with GQA,
//! Qwen2, Mistral, Phi-3, BERT, a Mixtral-style MoE) by the TorchScript and dynamo
//! exporters, ONNX Runtime's quantisers (dynamic int8, static QDQ, 4-bit
//! MatMulNBits), its transformers optimizer, its fused attention ops, and decoders
//! with a KV cache; made by `tools/onnx_fixtures/make_real_exports.py`, which records
//! ONNX Runtime's outputs on fixed inputs. Each case is imported with the dims bound
//! from the shapes of its input files, as `triad eval` binds them (checked against
//! `dims.txt`, the script's record), run by the reference interpreter and compared
//! with ONNX Runtime: max abs error <= 1e-4 for float models, <= 1e-3 for quantised
//! ones (the bounds).

mod onnx_common;

use std::collections::BTreeMap;
use std::path::Path;

use onnx_common::*;
use triad_compiler::onnx::{DeclaredDim, declared_inputs, import_with_stats};
use triad_compiler::{Tensor, run};

/// Tolerance for a case: quantised variants get the quantised bound.
fn tolerance(case: &str) -> f64 {
    if ["int8dyn", "qdq", "nbits"].iter().any(|q| case.contains(q)) {
        1e-3
    } else {
        1e-4
    }
}

/// The symbolic dims bound by the shapes of the fed inputs, as `triad eval` binds
/// them (the model's declared inputs zipped with the `.npy` shapes).
fn dims_from_inputs(
    case: &str,
    model: &Path,
    given: &BTreeMap<String, Tensor>,
) -> BTreeMap<String, usize> {
    let bytes = std::fs::read(model).expect("model");
    let mut dims = BTreeMap::new();
    for d in declared_inputs(&bytes, model).expect("declared inputs") {
        let Some(t) = given.get(&d.name) else {
            continue;
        };
        assert_eq!(
            t.shape().len(),
            d.dims.len(),
            "{case}: rank of input {}",
            d.name
        );
        for (dim, &n) in d.dims.iter().zip(t.shape()) {
            if let DeclaredDim::Symbolic(sym) = dim {
                let old = dims.insert(sym.clone(), n);
                assert!(
                    old.is_none_or(|o| o == n),
                    "{case}: inputs disagree on `{sym}`"
                );
            }
        }
    }
    dims
}

/// Import (dims bound from the inputs), run and compare one case; returns the
/// largest error over its outputs.
fn check(case: &str) -> f64 {
    let dir = fixtures("real").join(case);
    let given = read_npys(&dir, "input_");
    let model = dir.join("model.onnx");
    let dims = dims_from_inputs(case, &model, &given);
    // The script's record of the dims the inputs were made with agrees.
    for (k, v) in read_dims(&dir) {
        assert_eq!(dims.get(&k), Some(&v), "{case}: dim `{k}` from the inputs");
    }
    let (g, _) =
        import_with_stats(&model, &dims).unwrap_or_else(|e| panic!("{case}: import failed: {e}"));
    let inputs = feed(&g, &given);
    let got = run(&g, &inputs).unwrap_or_else(|e| panic!("{case}: run failed: {e}"));
    let want = read_npys(&dir, "output_");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{case}: output names"
    );
    let tol = tolerance(case);
    let mut worst = 0.0f64;
    for (k, w) in &want {
        let err = max_abs_diff(&got[k], w);
        eprintln!(
            "{case}/{k}: max abs error {err:.3e} (|max| {:.3})",
            max_abs(w)
        );
        assert!(err <= tol, "{case}/{k}: max abs error {err} > {tol}");
        worst = worst.max(err);
    }
    worst
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

cases!(
    bert_dynamo,
    bert_dynamo_int8dyn,
    bert_dynamo_nbits,
    bert_dynamo_qdq,
    bert_ts,
    bert_ts_int8dyn,
    bert_ts_nbits,
    bert_ts_opt,
    bert_ts_qdq,
    contrib_attention,
    contrib_attention_past,
    contrib_gqa_decode,
    contrib_gqa_prompt,
    contrib_mha_cross,
    contrib_mha_past,
    contrib_rotary,
    gpt2_dynamo,
    gpt2_dynamo_int8dyn,
    gpt2_dynamo_nbits,
    gpt2_dynamo_qdq,
    gpt2_kv_dynamo,
    gpt2_kv_ts,
    gpt2_ts,
    gpt2_ts_int8dyn,
    gpt2_ts_nbits,
    gpt2_ts_opt,
    gpt2_ts_qdq,
    llama_dynamo,
    llama_dynamo_int8dyn,
    llama_dynamo_nbits,
    llama_dynamo_qdq,
    llama_kv_dynamo,
    llama_kv_ts,
    llama_ts,
    llama_ts_int8dyn,
    llama_ts_nbits,
    llama_ts_opt,
    llama_ts_qdq,
    mistral_dynamo,
    mistral_dynamo_int8dyn,
    mistral_dynamo_nbits,
    mistral_dynamo_qdq,
    mistral_ts,
    mistral_ts_int8dyn,
    mistral_ts_nbits,
    mistral_ts_opt,
    mistral_ts_qdq,
    mixtral_dynamo,
    mixtral_dynamo_int8dyn,
    mixtral_dynamo_nbits,
    mixtral_dynamo_qdq,
    mixtral_ts,
    mixtral_ts_int8dyn,
    mixtral_ts_nbits,
    mixtral_ts_opt,
    mixtral_ts_qdq,
    phi3_dynamo,
    phi3_dynamo_int8dyn,
    phi3_dynamo_nbits,
    phi3_dynamo_qdq,
    phi3_ts,
    phi3_ts_int8dyn,
    phi3_ts_nbits,
    phi3_ts_opt,
    phi3_ts_qdq,
    qwen2_dynamo,
    qwen2_dynamo_int8dyn,
    qwen2_dynamo_nbits,
    qwen2_dynamo_qdq,
    qwen2_ts,
    qwen2_ts_int8dyn,
    qwen2_ts_nbits,
    qwen2_ts_opt,
    qwen2_ts_qdq,
);
