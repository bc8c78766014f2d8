//! Graph generation: every model builds for every phase kind and weight format, the
//! graphs follow the conventions other crates rely on (inputs, outputs, scopes, KV
//! cache, GQA layout), generation is deterministic, and bad options are errors.

use std::collections::BTreeSet;

use triad_compiler::{DType, Graph, InputKind, Op};
use triad_workloads::{BuildOptions, Error, Family, Phase, WeightFormat, build, model, models};

/// One phase of each kind, small enough for every model's context.
const PHASES: [&str; 5] = [
    "prefill:8",
    "prefill:10/chunk:4",
    "decode:5",
    "verify:7/kv:5",
    "verify:1/kv:3",
];

fn opts(phase: &str, batch: usize, weights: WeightFormat) -> BuildOptions {
    BuildOptions {
        phase: phase.parse().unwrap(),
        batch,
        weights,
        seed: 7,
    }
}

/// Scopes a node may carry (`{i}` and `{e}` stripped of their digits).
fn scope_kind(scope: &str) -> String {
    scope.chars().filter(|c| !c.is_ascii_digit()).collect()
}

const SCOPES: [&str; 13] = [
    "embed",
    "layer/attn_norm",
    "layer/qkv",
    "layer/attn",
    "layer/o_proj",
    "layer/residual",
    "layer/ffn_norm",
    "layer/ffn",
    "layer/router",
    "layer/expert",
    "layer/moe_combine",
    "final_norm",
    "head",
];

#[test]
fn every_model_builds_for_every_phase_and_format() {
    for cfg in models() {
        assert_eq!(cfg.heads * cfg.head_dim, cfg.hidden, "{}", cfg.name);
        for phase in PHASES {
            for format in WeightFormat::ALL {
                let g = build(&cfg, &opts(phase, 2, format))
                    .unwrap_or_else(|e| panic!("{} {phase} {format}: {e}", cfg.name));
                for id in g.node_ids() {
                    let n = g.node(id);
                    let kind = scope_kind(&n.scope);
                    assert!(
                        SCOPES.contains(&kind.as_str()),
                        "{}: node {} scope `{}`",
                        cfg.name,
                        n.name,
                        n.scope
                    );
                }
            }
        }
    }
}

fn output_types(g: &Graph) -> Vec<(String, Vec<usize>, DType)> {
    g.outputs()
        .iter()
        .map(|&v| {
            let info = g.value_info(v);
            (info.name.clone(), info.ty.shape.clone(), info.ty.dtype)
        })
        .collect()
}

#[test]
fn inputs_and_outputs_follow_the_conventions() {
    let cfg = model("llama3-8b").unwrap();
    let (b, kv, d) = (3, cfg.kv_heads, cfg.head_dim);
    for (phase, s, past, rows) in [
        ("prefill:8", 8, 0, 1),
        ("prefill:10/chunk:4", 2, 8, 1),
        ("decode:5", 1, 5, 1),
        ("verify:7/kv:5", 7, 5, 7),
    ] {
        let g = build(&cfg, &opts(phase, b, WeightFormat::Bf16)).unwrap();
        let outs = output_types(&g);
        assert_eq!(outs.len(), 1 + 2 * cfg.layers, "{phase}");
        assert_eq!(
            outs[0],
            ("logits".into(), vec![b, rows, cfg.vocab], DType::BF16),
            "{phase}"
        );
        for (i, pair) in outs[1..].chunks(2).enumerate() {
            for (o, kind) in pair.iter().zip(["k", "v"]) {
                assert_eq!(o.0, format!("layer{i}.present_{kind}"));
                assert_eq!(o.1, [b, kv, past + s, d], "{phase} {}", o.0);
            }
        }
        let ids = g.value("input_ids").unwrap();
        assert_eq!(g.ty(ids).shape, [b, s]);
        let kv_inputs: Vec<_> = g
            .inputs()
            .into_iter()
            .filter(|&id| {
                g.node(id).op
                    == Op::Input {
                        kind: InputKind::KvCache,
                    }
            })
            .collect();
        assert_eq!(
            kv_inputs.len(),
            if past > 0 { 2 * cfg.layers } else { 0 },
            "{phase}"
        );
        for id in kv_inputs {
            assert_eq!(g.node(id).outputs[0].ty.shape, [b, kv, past, d]);
        }
        // KvAppend exactly when there is a past.
        let appends = g
            .node_ids()
            .filter(|&id| matches!(g.node(id).op, Op::KvAppend { .. }))
            .count();
        assert_eq!(appends, if past > 0 { 2 * cfg.layers } else { 0 });
    }
}

#[test]
fn gqa_reads_each_kv_head_once() {
    // Llama-3-8B decode: the score product is [1, 8, 4, 1, 128] x [1, 8, 1, 128, KV+1].
    let cfg = model("llama3-8b").unwrap();
    let g = build(&cfg, &opts("decode:100", 1, WeightFormat::F16)).unwrap();
    let scores = g.node(g.node_by_name("layer0.scores").unwrap());
    assert_eq!(scores.op, Op::MatMul);
    assert_eq!(scores.scope, "layer0/attn");
    let group = cfg.heads / cfg.kv_heads;
    assert_eq!(group, 4);
    assert_eq!(g.ty(scores.inputs[0]).shape, [1, 8, group, 1, 128]);
    assert_eq!(g.ty(scores.inputs[1]).shape, [1, 8, 1, 128, 101]);
    let context = g.node(g.node_by_name("layer0.context").unwrap());
    assert_eq!(g.ty(context.inputs[1]).shape, [1, 8, 1, 101, 128]);
}

#[test]
fn moe_layers_have_router_experts_and_combine() {
    let cfg = model("mixtral-8x7b").unwrap();
    let g = build(&cfg, &opts("decode:16", 2, WeightFormat::F16)).unwrap();
    let scopes: BTreeSet<String> = g.node_ids().map(|id| g.node(id).scope.clone()).collect();
    for e in 0..cfg.experts {
        assert!(scopes.contains(&format!("layer31/expert{e}")));
    }
    assert!(scopes.contains("layer0/router") && scopes.contains("layer0/moe_combine"));
    assert!(!scopes.contains("layer0/ffn"));
    let topk = g.node(g.node_by_name("layer3.router.topk").unwrap());
    assert_eq!(topk.op, Op::TopK { k: 2, axis: -1 });
    // Dropless: each expert can take all B*S = 2 tokens.
    let d = g.node(g.node_by_name("layer0.expert5.dispatch").unwrap());
    assert_eq!(
        d.op,
        Op::MoeDispatch {
            expert: 5,
            capacity: 2
        }
    );
}

#[test]
fn encoders_and_post_norm_models_have_their_structure() {
    let bert = model("bert-base").unwrap();
    assert_eq!(bert.family, Family::Bert);
    let g = build(&bert, &opts("prefill:16", 2, WeightFormat::F16)).unwrap();
    assert_eq!(
        output_types(&g),
        [("pooled".into(), vec![2, 768], DType::F16)]
    );
    assert!(g.value("token_type_ids").is_some());
    assert!(g.node_ids().all(|id| g.node(id).op != Op::CausalMask));
    // OPT-350m: 512-wide embeddings projected in and out, no final norm.
    let opt = model("opt-350m").unwrap();
    let g = build(&opt, &opts("decode:3", 1, WeightFormat::F16)).unwrap();
    let proj = g.value("embed.project_in.weight").unwrap();
    assert_eq!(g.ty(proj).shape, [512, 1024]);
    assert!(g.value("head.project_out").is_some());
    assert!(g.value("final_norm").is_none());
    // Learned positions are offset by 2 in OPT's table.
    let pos = g.node(g.node_by_name("position_ids").unwrap());
    assert_eq!(
        pos.op,
        Op::Constant {
            init: triad_compiler::Init::Data(triad_compiler::Data::I64(vec![5]))
        }
    );
}

#[test]
fn weight_formats_use_their_ops() {
    let cfg = model("tiny-gpt2").unwrap();
    let count = |g: &Graph, name: &str| {
        g.node_ids()
            .filter(|&id| g.node(id).op.name() == name)
            .count()
    };
    // Linear layers per layer: q, k, v, o, up, down = 6; the tied head is a Gemm.
    let linears = 6 * cfg.layers;
    let g = build(&cfg, &opts("decode:4", 1, WeightFormat::W4A16)).unwrap();
    assert_eq!(count(&g, "QMatMul"), linears);
    assert_eq!(count(&g, "Gemm"), 1);
    let g = build(&cfg, &opts("decode:4", 1, WeightFormat::W8A8)).unwrap();
    assert_eq!(
        (count(&g, "Quantize"), count(&g, "Dequantize")),
        (linears, linears)
    );
    let g = build(&cfg, &opts("decode:4", 1, WeightFormat::F16)).unwrap();
    assert_eq!(count(&g, "QMatMul") + count(&g, "Quantize"), 0);
    // Two attention matmuls per layer plus the linears.
    assert_eq!(count(&g, "MatMul"), linears + 2 * cfg.layers);
}

#[test]
fn generation_is_deterministic_and_seeded() {
    let cfg = model("tiny-moe").unwrap();
    let o = opts("verify:3/kv:4", 2, WeightFormat::W8A16);
    let (a, b) = (build(&cfg, &o).unwrap(), build(&cfg, &o).unwrap());
    let nodes = |g: &Graph| {
        g.node_ids()
            .map(|id| g.node(id).clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(nodes(&a), nodes(&b));
    assert_eq!(a.meta, b.meta);
    let c = build(&cfg, &BuildOptions { seed: 8, ..o }).unwrap();
    assert_ne!(nodes(&a), nodes(&c));
}

#[test]
fn bad_options_are_errors() {
    let cfg = model("gpt2-small").unwrap();
    let e = build(&cfg, &opts("decode:1024", 1, WeightFormat::F16)).unwrap_err();
    assert!(matches!(e, Error::Options { field: "phase", .. }), "{e}");
    assert!(e.to_string().contains("1024"), "{e}");
    assert!(build(&cfg, &opts("decode:1023", 1, WeightFormat::F16)).is_ok());
    let zero = BuildOptions::new(Phase::Prefill {
        tokens: 0,
        chunk: None,
    });
    assert!(matches!(build(&cfg, &zero), Err(Error::Phase { .. })));
    let e = build(&cfg, &opts("decode:1", 0, WeightFormat::F16)).unwrap_err();
    assert!(matches!(e, Error::Options { field: "batch", .. }), "{e}");
    let mut bad = cfg.clone();
    bad.kv_heads = 5;
    let e = build(&bad, &opts("decode:1", 1, WeightFormat::F16)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config {
                field: "kv_heads",
                ..
            }
        ),
        "{e}"
    );
    let e = model("gpt-5").unwrap_err();
    assert!(matches!(e, Error::UnknownModel { .. }));
    assert!(
        e.to_string().contains("llama3-8b") && e.to_string().contains("tiny-bert"),
        "{e}"
    );
}

#[test]
fn large_models_build_quickly_without_data() {
    // No data is stored: a 46.7B-parameter graph is a few thousand nodes.
    let cfg = model("mixtral-8x7b").unwrap();
    let g = build(
        &cfg,
        &BuildOptions::new(Phase::Prefill {
            tokens: 4096,
            chunk: Some(512),
        }),
    )
    .unwrap();
    assert!(g.len() < 20_000, "{} nodes", g.len());
}

/// A node as the JSON format keeps it: op, input value names, outputs, and the scope
/// of non-source nodes (the format lists sources first, without scope).
fn portable(g: &Graph, name: &str) -> String {
    let n = g.node(
        g.node_by_name(name)
            .unwrap_or_else(|| panic!("node {name} lost")),
    );
    let inputs: Vec<&str> = n
        .inputs
        .iter()
        .map(|&v| g.value_info(v).name.as_str())
        .collect();
    let scope = if n.op.is_source() {
        ""
    } else {
        n.scope.as_str()
    };
    format!("{:?} {inputs:?} {:?} {scope}", n.op, n.outputs)
}

#[test]
fn graphs_survive_the_json_format() {
    for name in ["tiny-gpt2", "tiny-moe", "tiny-bert"] {
        let cfg = model(name).unwrap();
        for (phase, format) in [
            ("verify:3/kv:4", WeightFormat::W8A8),
            ("prefill:6/chunk:4", WeightFormat::Bf16),
        ] {
            let g = build(&cfg, &opts(phase, 2, format)).unwrap();
            let text = triad_compiler::json::to_string(&g).unwrap();
            let back =
                triad_compiler::json::from_str(&text, std::path::Path::new("<memory>")).unwrap();
            back.validate().unwrap();
            assert_eq!(back.len(), g.len(), "{name} {phase}");
            for id in g.node_ids() {
                let node = &g.node(id).name;
                assert_eq!(portable(&back, node), portable(&g, node), "{name} {phase}");
            }
            assert_eq!(output_types(&back), output_types(&g));
            assert_eq!(back.meta, g.meta);
        }
    }
}
