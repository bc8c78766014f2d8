//! Parameter counts: the closed-form count of every zoo model against its published
//! size, and against the parameters actually present in its built graph.

use triad_compiler::{Graph, Op};
use triad_workloads::{BuildOptions, Phase, WeightFormat, build, model, models};

/// Published sizes: (model, parameters, source). Tolerance 1% unless listed in
/// `LOOSE` below.
const PUBLISHED: &[(&str, f64, &str)] = &[
    ("gpt2-small", 124e6, "OpenAI gpt-2 release, model `124M`"),
    ("gpt2-medium", 355e6, "OpenAI gpt-2 release, model `355M`"),
    ("gpt2-large", 774e6, "OpenAI gpt-2 release, model `774M`"),
    (
        "gpt2-xl",
        1558e6,
        "OpenAI gpt-2 release, model `1558M` (marketed as 1.5B)",
    ),
    ("gpt3-small", 125e6, "Brown et al. 2020, Table 2.1"),
    ("gpt3-medium", 350e6, "Brown et al. 2020, Table 2.1"),
    ("gpt3-large", 760e6, "Brown et al. 2020, Table 2.1"),
    ("gpt3-xl", 1.3e9, "Brown et al. 2020, Table 2.1"),
    ("opt-125m", 125e6, "Zhang et al. 2022 (OPT), Table 1"),
    (
        "opt-350m",
        331.2e6,
        "facebook/opt-350m checkpoint: 331,196,416 parameters (paper label 350M)",
    ),
    (
        "opt-1.3b",
        1.3158e9,
        "facebook/opt-1.3b checkpoint: 1,315,758,080 (paper label 1.3B)",
    ),
    (
        "qwen1.5-1.8b",
        1.84e9,
        "Qwen1.5 release blog / HF model card, 1.8B (1.84B)",
    ),
    (
        "llama2-7b",
        6.74e9,
        "Touvron et al. 2023 (Llama 2), HF card 6.74B",
    ),
    ("llama3-8b", 8.03e9, "Meta Llama 3 model card, HF 8.03B"),
    (
        "mixtral-8x7b",
        46.7e9,
        "Mistral AI, 'Mixtral of experts' (2023): 46.7B total",
    ),
    ("bert-base", 110e6, "Devlin et al. 2019 (BERT), 110M"),
    (
        "minilm-l6",
        22.7e6,
        "sentence-transformers/all-MiniLM-L6-v2 card, 22.7M",
    ),
];

/// Paper labels rounded more coarsely than 1%: (model, tolerance, reason).
const LOOSE: &[(&str, f64, &str)] = &[
    (
        "gpt3-medium",
        0.02,
        "GPT-3 Table 2.1 '350M' for GPT-2-medium's shape with 2048 positions: 355.9M exactly",
    ),
    ("gpt3-xl", 0.015, "GPT-3 Table 2.1 '1.3B' rounds 1.316B"),
];

/// Mixtral's active parameters per token (Mistral AI: 12.9B).
const MIXTRAL_ACTIVE: f64 = 12.9e9;

#[test]
fn every_published_model_is_listed_once() {
    let zoo: Vec<String> = models().into_iter().map(|m| m.name).collect();
    for (name, _, _) in PUBLISHED {
        assert_eq!(zoo.iter().filter(|z| z == name).count(), 1, "{name}");
    }
    let untested: Vec<_> = zoo
        .iter()
        .filter(|z| !z.starts_with("tiny-") && !PUBLISHED.iter().any(|(n, _, _)| n == *z))
        .collect();
    assert!(
        untested.is_empty(),
        "zoo models without a published size: {untested:?}"
    );
}

#[test]
fn param_counts_match_published_sizes() {
    for &(name, published, source) in PUBLISHED {
        let count = model(name).unwrap().param_count() as f64;
        let tol = LOOSE
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or(0.01, |(_, t, _)| *t);
        let rel = (count - published).abs() / published;
        assert!(
            rel <= tol,
            "{name}: formula gives {count}, published {published} ({source}), off by {:.2}%",
            rel * 100.0
        );
    }
    let active = model("mixtral-8x7b").unwrap().active_param_count() as f64;
    assert!(
        (active - MIXTRAL_ACTIVE).abs() / MIXTRAL_ACTIVE <= 0.01,
        "active {active}"
    );
}

/// The GPT-style count in Kaplan et al. (2020)'s form, written out independently:
/// per layer 12 d^2 + 13 d (QKV/O and FFN weights, biases, two LayerNorms), plus
/// token and position tables and the final LayerNorm; the head is tied.
#[test]
fn gpt_counts_follow_the_textbook_formula() {
    for (name, vocab, ctx, d, layers) in [
        ("gpt2-small", 50257u64, 1024u64, 768u64, 12u64),
        ("gpt2-xl", 50257, 1024, 1600, 48),
        ("gpt3-medium", 50257, 2048, 1024, 24),
        ("gpt3-xl", 50257, 2048, 2048, 24),
        ("opt-125m", 50272, 2050, 768, 12),
    ] {
        let expected = layers * (12 * d * d + 13 * d) + (vocab + ctx) * d + 2 * d;
        assert_eq!(model(name).unwrap().param_count(), expected, "{name}");
    }
    // GPT-2 small's exact count as published by the HF checkpoint.
    assert_eq!(model("gpt2-small").unwrap().param_count(), 124_439_808);
}

/// Elements of every `Weight` node, split into matrices/vectors and quantisation scales.
fn weights(g: &Graph) -> (u64, u64) {
    let (mut params, mut scales) = (0, 0);
    for id in g.node_ids() {
        let n = g.node(id);
        if let Op::Weight { .. } = n.op {
            let elems = n.outputs[0].ty.elems();
            if n.name.ends_with(".scale") {
                scales += elems;
            } else {
                params += elems;
            }
        }
    }
    (params, scales)
}

#[test]
fn built_graphs_hold_exactly_the_formula_parameters() {
    let phase: Phase = "decode:1".parse().unwrap();
    for cfg in models() {
        for weights_format in [WeightFormat::F16, WeightFormat::W4A16] {
            let opts = BuildOptions {
                weights: weights_format,
                ..BuildOptions::new(phase)
            };
            let g = build(&cfg, &opts).unwrap();
            let (params, scales) = weights(&g);
            assert_eq!(params, cfg.param_count(), "{} {weights_format}", cfg.name);
            if weights_format == WeightFormat::F16 {
                assert_eq!(scales, 0, "{}", cfg.name);
            }
        }
    }
}

#[test]
fn quantised_weights_have_one_scale_per_output_channel() {
    let cfg = model("tiny-moe").unwrap();
    for format in [WeightFormat::W8A8, WeightFormat::W8A16, WeightFormat::W4A16] {
        let opts = BuildOptions {
            weights: format,
            ..BuildOptions::new(Phase::Decode { kv: 4 })
        };
        let g = build(&cfg, &opts).unwrap();
        let mut checked = 0;
        for id in g.node_ids() {
            let n = g.node(id);
            let ty = &n.outputs[0].ty;
            if !matches!(n.op, Op::Weight { .. }) || !ty.dtype.is_int() {
                continue;
            }
            assert_eq!(ty.dtype, format.weight_dtype(), "{}", n.name);
            let scale = n.name.replace(".weight", ".scale");
            let s = g.value(&scale).unwrap_or_else(|| panic!("{scale} missing"));
            assert_eq!(g.ty(s).shape, [ty.shape[1]], "{scale}");
            checked += 1;
        }
        // Per layer q, k, v, o + 4 experts x 3 matrices; plus the untied LM head.
        assert_eq!(checked, cfg.layers * (4 + cfg.experts * 3) + 1, "{format}");
    }
}
