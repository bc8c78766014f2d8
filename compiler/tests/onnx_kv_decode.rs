//! Decoder exports with a KV cache (`past_key_values.*` in, `present.*` out, made by
//! `tools/onnx_fixtures/make_real_exports.py` from the zoo's tiny-gpt2 and tiny-llama
//! configs): the inputs are KV-cache inputs, the cache update is a `KvAppend`, and
//! the decode step imported with `past_sequence=120, sequence=1` agrees with the
//! zoo's `--phase decode:120` graph of the same config (f32 weights) within 1% on
//! FLOPs, weight bytes and KV bytes read and written. (One step of `eval` against
//! ONNX Runtime's outputs is in `onnx_real`.)

mod onnx_common;

use std::collections::BTreeMap;

use onnx_common::fixtures;
use triad_compiler::stats::analyze;
use triad_compiler::{InputKind, Op};
use triad_workloads::{BuildOptions, WeightFormat, build, model};

/// Past tokens of the compared decode step (the tiny zoo models hold 128 positions).
const PAST: usize = 120;
/// Largest relative difference accepted (the 1%).
const REL: f64 = 0.01;

fn rel(a: u64, b: u64) -> f64 {
    (a as f64 - b as f64).abs() / (b as f64).max(1.0)
}

fn compare(case: &str, zoo: &str) {
    let path = fixtures("real").join(case).join("model.onnx");
    let dims = BTreeMap::from([
        ("batch".to_string(), 1),
        ("past_sequence".to_string(), PAST),
        ("sequence".to_string(), 1),
    ]);
    let g = triad_compiler::onnx::import(&path, &dims).expect("import");
    let kv_inputs = g
        .inputs()
        .into_iter()
        .filter(|&id| {
            matches!(
                g.node(id).op,
                Op::Input {
                    kind: InputKind::KvCache
                }
            )
        })
        .count();
    let appends = g
        .node_ids()
        .filter(|&id| matches!(g.node(id).op, Op::KvAppend { .. }))
        .count();
    let cfg = model(zoo).expect("zoo model");
    assert_eq!(
        kv_inputs,
        2 * cfg.layers,
        "{case}: every past_key_values.* is KV cache"
    );
    assert_eq!(
        appends,
        2 * cfg.layers,
        "{case}: every cache update is a KvAppend"
    );

    let mut opts = BuildOptions::new(format!("decode:{PAST}").parse().expect("phase"));
    opts.weights = WeightFormat::F32;
    let z = analyze(&build(&cfg, &opts).expect("zoo build")).expect("zoo stats");
    let o = analyze(&g).expect("onnx stats");
    let (zt, ot) = (&z.total, &o.total);
    let rows = [
        ("FLOPs", ot.flops.0, zt.flops.0),
        ("weight bytes", ot.fused.weights.0, zt.fused.weights.0),
        ("KV read bytes", ot.fused.kv_read.0, zt.fused.kv_read.0),
        ("KV write bytes", ot.fused.kv_write.0, zt.fused.kv_write.0),
    ];
    for (what, got, want) in rows {
        eprintln!(
            "{case} vs {zoo}: {what} {got} vs {want} ({:.3}%)",
            100.0 * rel(got, want)
        );
    }
    for (what, got, want) in rows {
        assert!(
            rel(got, want) <= REL,
            "{case} vs {zoo} decode:{PAST}: {what} {got} vs {want}"
        );
    }
}

#[test]
fn gpt2_kv_torchscript_matches_zoo_decode() {
    compare("gpt2_kv_ts", "tiny-gpt2");
}

#[test]
fn llama_kv_torchscript_matches_zoo_decode() {
    compare("llama_kv_ts", "tiny-llama");
}

#[test]
fn gpt2_kv_dynamo_matches_zoo_decode() {
    compare("gpt2_kv_dynamo", "tiny-gpt2");
}

#[test]
fn llama_kv_dynamo_matches_zoo_decode() {
    compare("llama_kv_dynamo", "tiny-llama");
}
