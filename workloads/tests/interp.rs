//! The tiny models through the reference interpreter: the KV-cache paths (decode,
//! chunked prefill, tree verification) reproduce full prefill exactly in f32, batch
//! rows are independent, and the reduced-precision formats stay finite and close.

use std::collections::BTreeMap;

use triad_compiler::{DType, Tensor, run};
use triad_workloads::{BuildOptions, ModelConfig, Phase, WeightFormat, build, model, tree_parent};

type Values = BTreeMap<String, Tensor>;

/// Token ids from a fixed linear congruential sequence, `batch` rows of `len`.
fn tokens(batch: usize, len: usize, vocab: usize, salt: u64) -> Vec<Vec<i64>> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ salt;
    (0..batch)
        .map(|_| {
            (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    ((x >> 33) % vocab as u64) as i64
                })
                .collect()
        })
        .collect()
}

/// Run one step of `cfg` on `ids` (one row per batch entry) with an optional past
/// (the previous step's `present` outputs).
fn step(
    cfg: &ModelConfig,
    phase: &str,
    format: WeightFormat,
    ids: &[Vec<i64>],
    past: Option<&Values>,
) -> Values {
    let phase: Phase = phase.parse().unwrap();
    let opts = BuildOptions {
        phase,
        batch: ids.len(),
        weights: format,
        seed: 42,
    };
    let g = build(cfg, &opts).unwrap();
    let shape = [ids.len(), ids[0].len()];
    let flat: Vec<i64> = ids.concat();
    let mut inputs = Values::new();
    inputs.insert(
        "input_ids".into(),
        Tensor::from_i64s(DType::I64, &shape, flat.clone()).unwrap(),
    );
    if cfg.type_vocab > 0 {
        let types = vec![0; flat.len()];
        inputs.insert(
            "token_type_ids".into(),
            Tensor::from_i64s(DType::I64, &shape, types).unwrap(),
        );
    }
    if let Some(past) = past {
        for (name, t) in past {
            if let Some(layer) = name.strip_suffix(".present_k") {
                inputs.insert(format!("{layer}.past_k"), t.clone());
            } else if let Some(layer) = name.strip_suffix(".present_v") {
                inputs.insert(format!("{layer}.past_v"), t.clone());
            }
        }
    }
    run(&g, &inputs).unwrap_or_else(|e| panic!("{} {phase} {format}: {e}", cfg.name))
}

fn f32s(v: &Values, name: &str) -> Vec<f32> {
    v[name].f32s().unwrap()
}

/// Assert bit-for-bit equality, reporting the first difference rather than both arrays.
fn assert_same(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        let worst = got
            .iter()
            .zip(want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        panic!(
            "{what}: element {i} is {} instead of {} (max difference {worst})",
            got[i], want[i]
        );
    }
}

const DECODERS: [&str; 3] = ["tiny-gpt2", "tiny-llama", "tiny-moe"];

#[test]
fn decode_with_the_cache_equals_prefill() {
    for name in DECODERS {
        let cfg = model(name).unwrap();
        let n = 7;
        let ids = tokens(2, n, cfg.vocab, 1);
        let full = step(&cfg, &format!("prefill:{n}"), WeightFormat::F32, &ids, None);
        let prefix: Vec<Vec<i64>> = ids.iter().map(|r| r[..n - 1].to_vec()).collect();
        let cached = step(
            &cfg,
            &format!("prefill:{}", n - 1),
            WeightFormat::F32,
            &prefix,
            None,
        );
        let last: Vec<Vec<i64>> = ids.iter().map(|r| vec![r[n - 1]]).collect();
        let dec = step(
            &cfg,
            &format!("decode:{}", n - 1),
            WeightFormat::F32,
            &last,
            Some(&cached),
        );
        assert_eq!(dec["logits"].shape(), [2, 1, cfg.vocab]);
        assert_same(
            &f32s(&dec, "logits"),
            &f32s(&full, "logits"),
            &format!("{name}: logits"),
        );
        for i in 0..cfg.layers {
            for kv in ["k", "v"] {
                let key = format!("layer{i}.present_{kv}");
                assert_same(
                    &f32s(&dec, &key),
                    &f32s(&full, &key),
                    &format!("{name}: {key}"),
                );
            }
        }
        // The logits are not degenerate: the two sequences differ.
        let l = f32s(&full, "logits");
        assert_ne!(l[..cfg.vocab], l[cfg.vocab..], "{name}");
    }
}

#[test]
fn last_chunk_equals_prefill() {
    for name in DECODERS {
        let cfg = model(name).unwrap();
        // 11 tokens in chunks of 4: the last chunk has 3 new tokens after 8 cached.
        let ids = tokens(1, 11, cfg.vocab, 2);
        let full = step(&cfg, "prefill:11", WeightFormat::F32, &ids, None);
        let cached = step(
            &cfg,
            "prefill:8",
            WeightFormat::F32,
            &[ids[0][..8].to_vec()],
            None,
        );
        let chunk = step(
            &cfg,
            "prefill:11/chunk:4",
            WeightFormat::F32,
            &[ids[0][8..].to_vec()],
            Some(&cached),
        );
        assert_same(&f32s(&chunk, "logits"), &f32s(&full, "logits"), name);
        let key = "layer1.present_k";
        assert_same(
            &f32s(&chunk, key),
            &f32s(&full, key),
            &format!("{name}: {key}"),
        );
    }
}

#[test]
fn tree_verification_equals_prefill_of_each_branch() {
    let k = 6;
    for name in DECODERS {
        let cfg = model(name).unwrap();
        let kv = 5;
        let ids = tokens(1, kv + k, cfg.vocab, 3);
        let (prefix, tree) = ids[0].split_at(kv);
        let cached = step(
            &cfg,
            &format!("prefill:{kv}"),
            WeightFormat::F32,
            &[prefix.to_vec()],
            None,
        );
        let ver = step(
            &cfg,
            &format!("verify:{k}/kv:{kv}"),
            WeightFormat::F32,
            &[tree.to_vec()],
            Some(&cached),
        );
        let logits = f32s(&ver, "logits");
        assert_eq!(ver["logits"].shape(), [1, k, cfg.vocab]);
        for i in 0..k {
            // The branch of token i: its ancestors from the root, then i.
            let mut path = vec![i];
            while let Some(p) = tree_parent(*path.last().unwrap()) {
                path.push(p);
            }
            let seq: Vec<i64> = prefix
                .iter()
                .copied()
                .chain(path.iter().rev().map(|&j| tree[j]))
                .collect();
            let reference = step(
                &cfg,
                &format!("prefill:{}", seq.len()),
                WeightFormat::F32,
                &[seq],
                None,
            );
            let row = &logits[i * cfg.vocab..(i + 1) * cfg.vocab];
            assert_same(
                row,
                &f32s(&reference, "logits"),
                &format!("{name}: tree token {i}"),
            );
        }
    }
}

#[test]
fn batch_rows_are_independent() {
    for name in ["tiny-gpt2", "tiny-moe", "tiny-bert"] {
        let cfg = model(name).unwrap();
        let ids = tokens(2, 5, cfg.vocab, 4);
        let out = if cfg.causal { "logits" } else { "pooled" };
        let both = f32s(&step(&cfg, "prefill:5", WeightFormat::F32, &ids, None), out);
        let first = f32s(
            &step(&cfg, "prefill:5", WeightFormat::F32, &ids[..1], None),
            out,
        );
        let second = f32s(
            &step(&cfg, "prefill:5", WeightFormat::F32, &ids[1..], None),
            out,
        );
        assert_same(&both, &[first, second].concat(), name);
    }
}

#[test]
fn encoder_attention_is_bidirectional() {
    let cfg = model("tiny-bert").unwrap();
    let mut ids = tokens(1, 6, cfg.vocab, 5);
    let a = f32s(
        &step(&cfg, "prefill:6", WeightFormat::F32, &ids, None),
        "pooled",
    );
    assert!(a.iter().all(|x| x.abs() < 1.0), "tanh pooler output");
    // The pooler reads token 0; a change of the last token must still reach it.
    ids[0][5] = (ids[0][5] + 1) % cfg.vocab as i64;
    let b = f32s(
        &step(&cfg, "prefill:6", WeightFormat::F32, &ids, None),
        "pooled",
    );
    assert_ne!(a, b);
}

#[test]
fn reduced_precision_formats_stay_close_or_finite() {
    for name in ["tiny-gpt2", "tiny-llama", "tiny-moe", "tiny-bert"] {
        let cfg = model(name).unwrap();
        let out = if cfg.causal { "logits" } else { "pooled" };
        let ids = tokens(1, 6, cfg.vocab, 6);
        let reference = f32s(&step(&cfg, "prefill:6", WeightFormat::F32, &ids, None), out);
        let scale = reference.iter().fold(0f32, |m, x| m.max(x.abs()));
        // Same seeds: f16/bf16 weights are the f32 draws rounded, so outputs track f32
        // within the formats' precision (f16 11 bits, bf16 8 bits, over two layers).
        for (format, tol) in [(WeightFormat::F16, 0.02), (WeightFormat::Bf16, 0.1)] {
            let got = f32s(&step(&cfg, "prefill:6", format, &ids, None), out);
            let err = got
                .iter()
                .zip(&reference)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= tol * scale,
                "{name} {format}: max error {err}, scale {scale}"
            );
        }
        // Integer formats draw other weights; they must run and stay finite.
        for format in [WeightFormat::W8A8, WeightFormat::W8A16, WeightFormat::W4A16] {
            let got = f32s(&step(&cfg, "prefill:6", format, &ids, None), out);
            assert!(got.iter().all(|x| x.is_finite()), "{name} {format}");
            assert!(got.iter().any(|x| *x != 0.0), "{name} {format}");
        }
    }
}

#[test]
fn moe_capacity_drops_tokens_only_when_too_small() {
    let cfg = model("tiny-moe").unwrap();
    let ids = tokens(2, 4, cfg.vocab, 7);
    let dropless = f32s(
        &step(&cfg, "prefill:4", WeightFormat::F32, &ids, None),
        "logits",
    );
    // 8 tokens x top-2 over 4 experts: a factor of 2 gives capacity 8 = T (no drops).
    let roomy = ModelConfig {
        capacity_factor: Some(2.0),
        ..cfg.clone()
    };
    let same = f32s(
        &step(&roomy, "prefill:4", WeightFormat::F32, &ids, None),
        "logits",
    );
    assert_same(&same, &dropless, "capacity T");
    // A factor of 0.25 gives capacity 1: 16 choices cannot all fit, tokens are dropped.
    let tight = ModelConfig {
        capacity_factor: Some(0.25),
        ..cfg
    };
    let dropped = f32s(
        &step(&tight, "prefill:4", WeightFormat::F32, &ids, None),
        "logits",
    );
    assert_ne!(dropped, dropless);
}
