//! Arithmetic intensity of zoo models' blocks, derived here from the model shapes
//! with the fused-block byte model of `triad_compiler::stats`, compared with the
//! report: GQA attention in decode runs at the group size (Duplex's observation),
//! MoE experts at >= 1, MHA attention at ~1.

use triad_compiler::DType;
use triad_compiler::stats::{
    GroupStats, ROPE_PER_ELEM, ROPE_TABLE_PER_PAIR, Report, SILU_PER_ELEM, SOFTMAX_PER_ELEM,
    analyze,
};
use triad_workloads::{BuildOptions, ModelConfig, WeightFormat, build, model};

/// KV-cache length of the decode step the tests use.
const KV: u64 = 512;

fn decode(name: &str) -> (ModelConfig, Report) {
    let cfg = model(name).unwrap();
    let mut opts = BuildOptions::new(format!("decode:{KV}").parse().unwrap());
    opts.weights = WeightFormat::F16;
    let g = build(&cfg, &opts).unwrap();
    (cfg, analyze(&g).unwrap())
}

/// Every block of `kind` has the same Op/B as the kind (all layers are alike).
fn uniform(r: &Report, kind: &str, blocks: usize) -> f64 {
    let k: &GroupStats = r.kind(kind).unwrap();
    assert_eq!(k.blocks, blocks, "{kind} blocks");
    let opb = k.op_per_byte.unwrap();
    let layer0 = r
        .blocks
        .iter()
        .find(|b| triad_compiler::stats::block_kind(&b.name) == kind)
        .unwrap();
    assert!((layer0.op_per_byte.unwrap() - opb).abs() < 1e-12);
    opb
}

/// Op/B of one decode-step attention block (scope `layer{i}/attn`) with `rope`:
/// FLOPs of QK^T, scaling, softmax and PV over T = KV + 1 keys, plus RoPE on Q and K;
/// fused bytes: Q, K, V from the projections, the scale (and RoPE positions),
/// the past K and V, the new K/V entries written, the context written.
fn attention_op_per_byte(cfg: &ModelConfig, rope: bool) -> f64 {
    let e = DType::F16.bytes_for(1);
    let (nh, nkv, d) = (cfg.heads as u64, cfg.kv_heads as u64, cfg.head_dim as u64);
    let t = KV + 1;
    let matmuls = 2 * (2 * nh * t * d);
    let scores = nh * t * (1 + SOFTMAX_PER_ELEM);
    let rope_flops = if rope {
        // Q and K rotated; one cos/sin table per projection (one position).
        ROPE_PER_ELEM * (nh + nkv) * d + 2 * (d / 2) * ROPE_TABLE_PER_PAIR
    } else {
        0
    };
    let flops = matmuls + scores + rope_flops;
    let positions = if rope { DType::I64.bytes_for(1) } else { 0 };
    let reads = e * (nh * d + 2 * nkv * d) + e + positions + 2 * e * nkv * KV * d;
    let writes = 2 * e * nkv * d + e * nh * d;
    flops as f64 / (reads + writes) as f64
}

#[test]
fn llama3_8b_decode_attention_runs_at_the_gqa_group_size() {
    let (cfg, r) = decode("llama3-8b");
    let expected = attention_op_per_byte(&cfg, true);
    let got = uniform(&r, "attn", cfg.layers);
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
    let group = cfg.heads as f64 / cfg.kv_heads as f64;
    assert_eq!(group, 4.0);
    assert!(
        (got / group - 1.0).abs() < 0.03,
        "Op/B {got} not within 3% of {group}"
    );
}

#[test]
fn gpt2_small_decode_attention_runs_at_one() {
    let (cfg, r) = decode("gpt2-small");
    assert_eq!(cfg.heads, cfg.kv_heads, "GPT-2 is multi-head attention");
    let expected = attention_op_per_byte(&cfg, false);
    let got = uniform(&r, "attn", cfg.layers);
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
    assert!((got - 1.0).abs() < 0.03, "Op/B {got} not within 3% of 1");
    // The contrast: GQA's group size is the intensity gain over MHA.
    let (_, llama) = decode("llama3-8b");
    assert!(llama.kind("attn").unwrap().op_per_byte.unwrap() > 3.5 * got);
}

#[test]
fn mixtral_decode_experts_run_at_least_at_one() {
    let (cfg, r) = decode("mixtral-8x7b");
    let e = DType::F16.bytes_for(1);
    let (h, f, k) = (cfg.hidden as u64, cfg.ffn as u64, cfg.top_k as u64);
    // Decode, batch 1: one token; dropless capacity = the token count.
    let (tokens, cap) = (1u64, 1u64);
    // gate, up and down projections on `cap` rows; SiLU and the gating product.
    let flops = 3 * (2 * cap * h * f) + cap * f * (SILU_PER_ELEM + 1);
    // Three weight matrices, the token rows and the i64 routing indices read,
    // the expert's rows written for the combine.
    let reads = 3 * e * h * f + e * tokens * h + DType::I64.bytes_for(tokens * k);
    let writes = e * cap * h;
    let expected = flops as f64 / (reads + writes) as f64;
    let got = uniform(&r, "expert", cfg.layers * cfg.experts);
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
    assert!(got >= 1.0, "expert Op/B {got} < 1");
    assert!(expected >= 1.0);
}
