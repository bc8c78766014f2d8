//! Soundness of every rewrite rule, checked by the reference interpreter: for each
//! rule a small graph instantiates its left-hand side on random shapes and values;
//! after saturation with every rule set the rule must have fired, and EVERY distinct
//! graph extractable from the e-graph (up to a bound) must compute the original
//! outputs. Tolerance: the graphs are f16 (the PIM and NPU dtype of the preset), so
//! a reassociated product or a moved scale may round differently: outputs agree
//! within `TOL` of the largest output magnitude (one f16 ulp is 2^-10 ~ 1e-3).
//!
//! Also: the rules fire on zoo models and leave no type conflict.

mod egraph_util;

use std::collections::BTreeMap;

use egraph_util::{t, weight};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triad_compiler::egraph::{
    Config, CostModel, RuleConfig, RuleSet, alternatives, catalogue, optimize, saturate, to_egraph,
};
use triad_compiler::{DType, Graph, Init, Op, Tensor, ValueRef, run};
use triad_isa::Arch;
use triad_workloads::{BuildOptions, Phase, build, model, models};

/// Relative tolerance (to the largest output magnitude) of f16 graphs.
const TOL: f64 = 2e-2;
/// Most alternatives interpreted per case.
const ALTERNATIVES: usize = 48;
const D: DType = DType::F16;

fn constant(g: &mut Graph, name: &str, shape: &[usize], seed: u64) -> ValueRef {
    let init = Init::Uniform {
        seed,
        low: -1.0,
        high: 1.0,
    };
    g.constant(name, t(D, shape), init).unwrap()
}

/// One case: the graph and the rule it instantiates.
fn cases(seed: u64) -> Vec<(&'static str, Graph)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut dim = |lo: usize, hi: usize| rng.random_range(lo..=hi);
    let (a, b, c) = (dim(2, 4), dim(2, 5), dim(2, 6));
    let (m, k, n) = (dim(2, 6), dim(4, 16), dim(4, 24));
    let mut out = Vec::new();
    {
        let mut g = Graph::new("tt");
        let x = g.input("x", t(D, &[a, b, c])).unwrap();
        let t1 = g
            .add1(
                "t1",
                Op::Transpose {
                    perm: vec![1, 2, 0],
                },
                &[x],
            )
            .unwrap();
        let t2 = g
            .add1(
                "t2",
                Op::Transpose {
                    perm: vec![2, 0, 1],
                },
                &[t1],
            )
            .unwrap();
        let t3 = g
            .add1(
                "t3",
                Op::Transpose {
                    perm: vec![0, 2, 1],
                },
                &[t1],
            )
            .unwrap();
        let t4 = g.add1("t4", Op::Relu, &[t2]).unwrap();
        g.set_outputs(&[t4, t3]);
        out.push(("transpose-transpose", g));
    }
    {
        let mut g = Graph::new("ti");
        let x = g.input("x", t(D, &[a, b])).unwrap();
        let t1 = g
            .add1("t1", Op::Transpose { perm: vec![0, 1] }, &[x])
            .unwrap();
        let y = g.add1("y", Op::Exp, &[t1]).unwrap();
        g.set_outputs(&[y]);
        out.push(("transpose-identity", g));
    }
    {
        let mut g = Graph::new("rr");
        let x = g.input("x", t(D, &[a, b * c])).unwrap();
        let r1 = g
            .add1(
                "r1",
                Op::Reshape {
                    shape: vec![(a * b) as i64, c as i64],
                },
                &[x],
            )
            .unwrap();
        let r2 = g
            .add1("r2", Op::Reshape { shape: vec![-1] }, &[r1])
            .unwrap();
        let r3 = g
            .add1(
                "r3",
                Op::Reshape {
                    shape: vec![a as i64, -1],
                },
                &[r1],
            )
            .unwrap();
        let y = g.add1("y", Op::Neg, &[r3]).unwrap();
        g.set_outputs(&[r2, y]);
        out.push(("reshape-reshape", g));
    }
    {
        let mut g = Graph::new("ri");
        let x = g.input("x", t(D, &[a, b])).unwrap();
        let r = g
            .add1(
                "r",
                Op::Reshape {
                    shape: vec![a as i64, b as i64],
                },
                &[x],
            )
            .unwrap();
        let y = g.add1("y", Op::Abs, &[r]).unwrap();
        g.set_outputs(&[y]);
        out.push(("reshape-identity", g));
    }
    {
        let mut g = Graph::new("scale");
        let x = g.input("x", t(D, &[m, k])).unwrap();
        let w = weight(&mut g, "w", t(D, &[k, n]));
        let s = constant(&mut g, "s", &[], seed);
        let p = g.add1("p", Op::MatMul, &[x, w]).unwrap();
        let y = g.add1("y", Op::Mul, &[p, s]).unwrap();
        g.set_outputs(&[y]);
        out.push(("scale-into-matmul", g));
    }
    {
        let mut g = Graph::new("fold");
        let x = g.input("x", t(D, &[a, b])).unwrap();
        let c1 = constant(&mut g, "c1", &[a, b], seed + 1);
        let c2 = constant(&mut g, "c2", &[b], seed + 2);
        let s = g.add1("s", Op::Mul, &[c1, c2]).unwrap();
        let e = g.add1("e", Op::Exp, &[s]).unwrap();
        let y = g.add1("y", Op::Add, &[x, e]).unwrap();
        g.set_outputs(&[y]);
        out.push(("fold-constants", g));
    }
    for rule in ["fuse-matmul-bias", "fuse-activation"] {
        let mut g = Graph::new("mlp");
        let x = g.input("x", t(D, &[m, k])).unwrap();
        let w = weight(&mut g, "w", t(D, &[k, n]));
        let bias = weight(&mut g, "b", t(D, &[n]));
        let p = g.add1("p", Op::MatMul, &[x, w]).unwrap();
        let q = g.add1("q", Op::Add, &[p, bias]).unwrap();
        let y = g.add1("y", Op::Gelu { tanh_approx: true }, &[q]).unwrap();
        g.set_outputs(&[y]);
        out.push((rule, g));
    }
    {
        let mut g = Graph::new("resnorm");
        let x = g.input("x", t(D, &[m, k])).unwrap();
        let w = weight(&mut g, "w", t(D, &[k, k]));
        let gamma = weight(&mut g, "gamma", t(D, &[k]));
        let beta = weight(&mut g, "beta", t(D, &[k]));
        let p = g.add1("p", Op::MatMul, &[x, w]).unwrap();
        let r = g.add1("r", Op::Add, &[x, p]).unwrap();
        let y = g
            .add1(
                "y",
                Op::LayerNorm {
                    axis: -1,
                    eps: 1e-5,
                },
                &[r, gamma, beta],
            )
            .unwrap();
        g.set_outputs(&[y]);
        out.push(("fuse-residual-norm", g));
    }
    for rule in ["fuse-swiglu", "merge-sibling-matmuls"] {
        let mut g = Graph::new("swiglu");
        let x = g.input("x", t(D, &[m, k])).unwrap();
        let wg = weight(&mut g, "wg", t(D, &[k, n]));
        let wu = weight(&mut g, "wu", t(D, &[k, n]));
        let gt = g.add1("gate", Op::MatMul, &[x, wg]).unwrap();
        let up = g.add1("up", Op::MatMul, &[x, wu]).unwrap();
        let s = g.add1("act", Op::Silu, &[gt]).unwrap();
        let y = g.add1("y", Op::Mul, &[s, up]).unwrap();
        g.set_outputs(&[y]);
        out.push((rule, g));
    }
    for (rule, rows) in [("split-columns", 1), ("split-rows", m * 2)] {
        let mut g = Graph::new("split");
        let x = g.input("x", t(D, &[rows, k])).unwrap();
        let w = weight(&mut g, "w", t(D, &[k, n * 4]));
        let y = g.add1("y", Op::MatMul, &[x, w]).unwrap();
        g.set_outputs(&[y]);
        out.push((rule, g));
    }
    out
}

fn random_inputs(g: &Graph, seed: u64) -> BTreeMap<String, Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    g.node_ids()
        .filter(|&id| matches!(g.node(id).op, Op::Input { .. }))
        .map(|id| {
            let n = g.node(id);
            let ty = &n.outputs[0].ty;
            let v: Vec<f32> = (0..ty.elems())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            (
                n.name.clone(),
                Tensor::from_f32s(ty.dtype, &ty.shape, v).unwrap(),
            )
        })
        .collect()
}

/// The outputs of `g` in output order.
fn outputs(g: &Graph, inputs: &BTreeMap<String, Tensor>) -> Vec<Tensor> {
    let mut got = run(g, inputs).unwrap();
    g.outputs()
        .iter()
        .map(|v| {
            got.remove(&g.node(v.node).outputs[v.port as usize].name)
                .unwrap()
        })
        .collect()
}

#[test]
fn every_rule_preserves_the_interpreters_outputs() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    let model = CostModel::new(&arch);
    let rules: Vec<_> = catalogue()
        .into_iter()
        .filter(|r| r.set != RuleSet::Placement)
        .collect();
    for seed in [1u64, 2] {
        let cases = cases(seed);
        // Every rule has a case (a new rule needs one here).
        for r in &rules {
            assert!(
                cases.iter().any(|(n, _)| n == &r.name),
                "no case for {}",
                r.name
            );
        }
        for (rule, g) in cases {
            let conv = to_egraph(&g, &model).unwrap();
            let (conv, stats) = saturate(conv, &model, &Default::default(), &RuleConfig::default());
            assert!(
                stats.applied.contains_key(rule),
                "{rule} did not fire: {:?}",
                stats.applied
            );
            assert_eq!(stats.type_conflicts, 0, "{rule}");
            let inputs = random_inputs(&g, seed);
            let want = outputs(&g, &inputs);
            let alts = alternatives(&g, &conv, &model, ALTERNATIVES).unwrap();
            // The rewritten form is among them: some alternative differs from the
            // original in its ops or in its kernels / splits.
            let sig = |g: &Graph| -> Vec<&'static str> {
                g.topo_order()
                    .unwrap()
                    .into_iter()
                    .map(|i| g.node(i).op.name())
                    .collect()
            };
            let original = sig(&g);
            assert!(
                alts.iter().any(|a| sig(&a.graph) != original
                    || !a.fusions.is_empty()
                    || !a.splits.is_empty()),
                "{rule}: no rewritten alternative among {}",
                alts.len()
            );
            for alt in &alts {
                let got = outputs(&alt.graph, &inputs);
                for (w, o) in want.iter().zip(&got) {
                    let scale = w
                        .f32s()
                        .unwrap()
                        .iter()
                        .fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
                    let d = w.max_abs_diff(o).unwrap();
                    assert!(
                        d <= TOL * scale,
                        "{rule} seed {seed}: off by {d} (scale {scale})"
                    );
                }
            }
        }
    }
}

#[test]
fn the_rules_fire_on_zoo_models_without_type_conflicts() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    for (name, phase, fired) in [
        (
            "tiny-gpt2",
            "decode:16",
            &[
                "merge-sibling-matmuls",
                "fuse-matmul-bias",
                "fuse-activation",
                "split-columns",
            ][..],
        ),
        (
            "tiny-llama",
            "decode:16",
            &["merge-sibling-matmuls", "fuse-swiglu", "split-columns"][..],
        ),
        (
            "tiny-llama",
            "prefill:16",
            &["merge-sibling-matmuls", "split-rows", "scale-into-matmul"][..],
        ),
        (
            "tiny-bert",
            "prefill:8",
            &["fuse-residual-norm", "fuse-activation"][..],
        ),
        ("tiny-moe", "decode:8", &["merge-sibling-matmuls"][..]),
    ] {
        let cfg = model(name).unwrap();
        let g = build(&cfg, &BuildOptions::new(phase.parse::<Phase>().unwrap())).unwrap();
        let out = optimize(&g, &arch, &Config::default()).unwrap();
        assert_eq!(out.saturation.type_conflicts, 0, "{name} {phase}");
        for rule in fired {
            assert!(
                out.saturation.applied.contains_key(*rule),
                "{rule} did not fire on {name} {phase}: {:?}",
                out.saturation.applied
            );
        }
    }
}

#[test]
fn every_zoo_model_saturates_without_type_conflicts() {
    let arch = Arch::preset("mobile-soc-pim").unwrap();
    for cfg in models() {
        for phase in ["decode:64", "prefill:32"] {
            let g = build(&cfg, &BuildOptions::new(phase.parse::<Phase>().unwrap())).unwrap();
            let out = optimize(&g, &arch, &Config::default()).unwrap();
            assert_eq!(out.saturation.type_conflicts, 0, "{} {phase}", cfg.name);
            assert_eq!(
                out.saturation.stop_reason, "saturated",
                "{} {phase}",
                cfg.name
            );
        }
    }
}
