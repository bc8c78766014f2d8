//! The fused (one kernel per block) byte model, KV-cache traffic, grouping into
//! layers and block kinds, checked on small hand-built graphs against byte counts
//! worked out here; plus invariants over random chains (proptest).

use proptest::prelude::*;
use triad_compiler::stats::{Report, analyze, block_kind};
use triad_compiler::{DType, Graph, Init, Op, TensorType, ValueRef};
use triad_isa::Bytes;

fn t(d: DType, s: &[usize]) -> TensorType {
    TensorType::new(d, s.to_vec())
}

fn w(g: &mut Graph, name: &str, ty: TensorType) -> ValueRef {
    let init = Init::Uniform {
        seed: 3,
        low: -1.0,
        high: 1.0,
    };
    g.weight(name, ty, init).unwrap()
}

/// x [T, H] -> MatMul W1 [H, F] -> Gelu -> MatMul W2 [F, H] -> + x, in one scope.
fn mlp(scope: &str, tokens: usize, h: usize, f: usize) -> Graph {
    let mut g = Graph::new("mlp");
    let x = g.input("x", t(DType::F16, &[tokens, h])).unwrap();
    g.set_scope(scope);
    let w1 = w(&mut g, "w1", t(DType::F16, &[h, f]));
    let w2 = w(&mut g, "w2", t(DType::F16, &[f, h]));
    let a = g.add1("up", Op::MatMul, &[x, w1]).unwrap();
    let b = g
        .add1("act", Op::Gelu { tanh_approx: false }, &[a])
        .unwrap();
    let c = g.add1("down", Op::MatMul, &[b, w2]).unwrap();
    let y = g.add1("res", Op::Add, &[c, x]).unwrap();
    g.set_outputs(&[y]);
    g
}

#[test]
fn fused_block_keeps_intermediates_on_chip() {
    let (tk, h, f) = (2u64, 16u64, 64u64);
    let r = analyze(&mlp("layer0/ffn", tk as usize, h as usize, f as usize)).unwrap();
    let b = r.block("layer0/ffn").unwrap();
    let flops = 2 * tk * h * f + 5 * tk * f + 2 * tk * f * h + tk * h;
    assert_eq!(b.flops.0, flops);
    // Fused: both weights, x once (read by `up` and `res`), the result written.
    assert_eq!(b.fused.weights, Bytes(2 * h * f * 2));
    assert_eq!(b.fused.act_read, Bytes(tk * h * 2));
    assert_eq!(b.fused.act_write, Bytes(tk * h * 2));
    // Unfused: every op reads its operands and writes its result.
    let act_read = tk * h + tk * f + tk * f + (tk * h + tk * h);
    let act_write = tk * f + tk * f + tk * h + tk * h;
    assert_eq!(b.unfused.act_read, Bytes(act_read * 2));
    assert_eq!(b.unfused.act_write, Bytes(act_write * 2));
    assert_eq!(b.unfused.weights, b.fused.weights);
    let fused_bytes = (2 * h * f + 2 * tk * h) * 2;
    assert_eq!(b.fused.total(), Bytes(fused_bytes));
    let opb = flops as f64 / fused_bytes as f64;
    assert!((b.op_per_byte.unwrap() - opb).abs() < 1e-12);
    // One block, one layer, one kind: all equal to the total.
    assert_eq!(r.layers.len(), 1);
    assert_eq!(r.layers[0].name, "layer0");
    assert_eq!(r.kinds[0].name, "ffn");
    assert_eq!(r.total.fused, b.fused);
}

#[test]
fn unscoped_nodes_are_grouped_by_op_but_run_alone() {
    let (tk, h, f) = (2u64, 16u64, 64u64);
    let r = analyze(&mlp("", tk as usize, h as usize, f as usize)).unwrap();
    let names: Vec<&str> = r.blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["MatMul", "Gelu", "Add"]);
    let mm = r.block("MatMul").unwrap();
    assert_eq!(mm.nodes, 2);
    // Each op is its own kernel, so fused equals unfused.
    assert_eq!(r.total.fused, r.total.unfused);
    assert_eq!(mm.fused.act_write, Bytes((tk * f + tk * h) * 2));
}

/// One decode step of single-head attention with a KV cache of `l` entries.
/// `split` puts the KV appends in their own scope, so the cache crosses blocks.
fn attention(l: usize, d: usize, split: bool) -> (Graph, Report) {
    let mut g = Graph::new("attn");
    let f16 = DType::F16;
    let q = g.input("q", t(f16, &[1, 1, d])).unwrap();
    let kn = g.input("k_new", t(f16, &[1, 1, d])).unwrap();
    let vn = g.input("v_new", t(f16, &[1, 1, d])).unwrap();
    let pk = g.kv_input("past_k", t(f16, &[1, l, d])).unwrap();
    let pv = g.kv_input("past_v", t(f16, &[1, l, d])).unwrap();
    g.set_scope(if split { "layer0/kv" } else { "layer0/attn" });
    let k = g.add1("k", Op::KvAppend { axis: -2 }, &[pk, kn]).unwrap();
    let v = g.add1("v", Op::KvAppend { axis: -2 }, &[pv, vn]).unwrap();
    g.set_scope("layer0/attn");
    let kt = g
        .add1(
            "kt",
            Op::Transpose {
                perm: vec![0, 2, 1],
            },
            &[k],
        )
        .unwrap();
    let s = g.add1("scores", Op::MatMul, &[q, kt]).unwrap();
    let p = g.add1("probs", Op::Softmax { axis: -1 }, &[s]).unwrap();
    let o = g.add1("out", Op::MatMul, &[p, v]).unwrap();
    g.set_outputs(&[o, k, v]);
    let r = analyze(&g).unwrap();
    (g, r)
}

#[test]
fn kv_cache_traffic_fused_and_unfused() {
    let (l, d) = (10u64, 8u64);
    let (_, r) = attention(l as usize, d as usize, false);
    let b = r.block("layer0/attn").unwrap();
    // QK^T and PV: 2 * d * (l + 1) each; softmax 5 per score.
    assert_eq!(b.flops.0, 4 * d * (l + 1) + 5 * (l + 1));
    // Fused: past K and V read once, the new entries written once, q / k_new /
    // v_new read, the output written; the caches being graph outputs adds nothing.
    assert_eq!(b.fused.kv_read, Bytes(2 * l * d * 2));
    assert_eq!(b.fused.kv_write, Bytes(2 * d * 2));
    assert_eq!(b.fused.act_read, Bytes(3 * d * 2));
    assert_eq!(b.fused.act_write, Bytes(d * 2));
    assert_eq!(b.fused.weights, Bytes(0));
    // Unfused: the appends write d each; the transpose reads the whole K cache and
    // writes its copy; PV reads the whole V cache.
    let appends = r.node("k").unwrap().traffic;
    assert_eq!(appends.kv_write, Bytes(d * 2));
    assert_eq!(appends.kv_read, Bytes(0));
    assert_eq!(appends.act_read, Bytes(d * 2));
    assert_eq!(
        r.node("kt").unwrap().traffic.kv_read,
        Bytes((l + 1) * d * 2)
    );
    assert_eq!(
        r.node("out").unwrap().traffic.kv_read,
        Bytes((l + 1) * d * 2)
    );
    assert_eq!(b.unfused.kv_read, Bytes(2 * (l + 1) * d * 2));
    // k_new and v_new by the appends, q and K^T by QK^T, scores by the softmax,
    // probabilities by PV.
    let act_read = 2 * d + d + (l + 1) * d + (l + 1) + (l + 1);
    assert_eq!(b.unfused.act_read, Bytes(act_read * 2));
}

#[test]
fn kv_cache_crossing_blocks_is_read_whole() {
    let (l, d) = (10u64, 8u64);
    let (_, r) = attention(l as usize, d as usize, true);
    let kv = r.block("layer0/kv").unwrap();
    let attn = r.block("layer0/attn").unwrap();
    // The append block reads the new entries and writes them to the cache; the
    // cache is in DRAM, so nothing else leaves the block.
    assert_eq!(kv.fused.act_read, Bytes(2 * d * 2));
    assert_eq!(kv.fused.kv_write, Bytes(2 * d * 2));
    assert_eq!(kv.fused.act_write, Bytes(0));
    assert_eq!(kv.fused.kv_read, Bytes(0));
    // The attention block reads both whole caches (past + new) from DRAM.
    assert_eq!(attn.fused.kv_read, Bytes(2 * (l + 1) * d * 2));
    assert_eq!(attn.fused.act_read, Bytes(d * 2));
    assert_eq!(r.layer("layer0").unwrap().fused, kv.fused + attn.fused);
    assert_eq!(r.kinds.len(), 2);
}

#[test]
fn values_leaving_a_block_are_written_once() {
    // a -> (block p) exp -> consumed by two nodes of block c and one graph output.
    let mut g = Graph::new("escape");
    let x = g.input("x", t(DType::F32, &[4, 4])).unwrap();
    g.set_scope("layer0/p");
    let e = g.add1("e", Op::Exp, &[x]).unwrap();
    let hidden = g.add1("hidden", Op::Neg, &[e]).unwrap();
    let view = g
        .add1("view", Op::Reshape { shape: vec![16] }, &[hidden])
        .unwrap();
    g.set_scope("layer1/c");
    let a = g.add1("a", Op::Abs, &[e]).unwrap();
    let b = g.add1("b", Op::Add, &[a, e]).unwrap();
    g.set_outputs(&[b, view]);
    let r = analyze(&g).unwrap();
    let p = r.block("layer0/p").unwrap();
    // e leaves p (read by c); hidden leaves through a graph-output view.
    assert_eq!(p.fused.act_write, Bytes(2 * 64));
    assert_eq!(p.fused.act_read, Bytes(64));
    let c = r.block("layer1/c").unwrap();
    assert_eq!(c.fused.act_read, Bytes(64));
    assert_eq!(c.fused.act_write, Bytes(64));
    assert_eq!(
        r.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["layer0", "layer1"]
    );
}

#[test]
fn kinds_aggregate_layers_and_experts() {
    let mut g = Graph::new("kinds");
    let x = g.input("x", t(DType::F32, &[2, 8])).unwrap();
    let mut v = x;
    for layer in 0..3 {
        g.set_scope(format!("layer{layer}/attn"));
        v = g.add1(&format!("a{layer}"), Op::Tanh, &[v]).unwrap();
        let mut parts = Vec::new();
        for e in 0..2 {
            g.set_scope(format!("layer{layer}/expert{e}"));
            parts.push(g.add1(&format!("e{layer}_{e}"), Op::Relu, &[v]).unwrap());
        }
        g.set_scope(format!("layer{layer}/moe_combine"));
        v = g.add1(&format!("c{layer}"), Op::Add, &parts).unwrap();
    }
    g.set_outputs(&[v]);
    let r = analyze(&g).unwrap();
    let kinds: Vec<(&str, usize)> = r
        .kinds
        .iter()
        .map(|k| (k.name.as_str(), k.blocks))
        .collect();
    assert_eq!(kinds, [("attn", 3), ("expert", 6), ("moe_combine", 3)]);
    assert_eq!(r.kind("expert").unwrap().flops.0, 6 * 16);
    assert_eq!(r.layers.len(), 3);
    assert_eq!(block_kind("layer2/expert1"), "expert");
}

/// A random chain of unary/binary element-wise ops and matmuls over random scopes.
fn chain(ops: &[(u8, u8)]) -> Graph {
    let mut g = Graph::new("chain");
    let x = g.input("x", t(DType::F16, &[3, 8])).unwrap();
    let wt = w(&mut g, "w", t(DType::F16, &[8, 8]));
    let mut vals = vec![x];
    for (i, &(kind, scope)) in ops.iter().enumerate() {
        g.set_scope(match scope % 4 {
            0 => String::new(),
            s => format!("layer{}/b{s}", i % 2),
        });
        let a = vals[vals.len() - 1];
        let b = vals[(kind as usize / 4) % vals.len()];
        let (op, ins) = match kind % 4 {
            0 => (Op::Exp, vec![a]),
            1 => (Op::Add, vec![a, b]),
            2 => (Op::MatMul, vec![a, wt]),
            _ => (Op::Reshape { shape: vec![3, 8] }, vec![a]),
        };
        vals.push(g.add1(&format!("n{i}"), op, &ins).unwrap());
    }
    let last = *vals.last().unwrap();
    g.set_outputs(&[last]);
    g
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sums_and_fusion_invariants(ops in prop::collection::vec((0u8..32, 0u8..8), 1..24)) {
        let r = analyze(&chain(&ops)).unwrap();
        let node_flops: u64 = r.nodes.iter().map(|n| n.flops.0).sum();
        prop_assert_eq!(r.total.flops.0, node_flops);
        for groups in [&r.blocks, &r.layers, &r.kinds] {
            let f: u64 = groups.iter().map(|b| b.flops.0).sum();
            let fused: u64 = groups.iter().map(|b| b.fused.total().0).sum();
            let unfused: u64 = groups.iter().map(|b| b.unfused.total().0).sum();
            prop_assert_eq!(f, r.total.flops.0);
            prop_assert_eq!(fused, r.total.fused.total().0);
            prop_assert_eq!(unfused, r.total.unfused.total().0);
        }
        // Fusing can only remove traffic, never add it, and weights are read
        // at most once per op.
        for b in &r.blocks {
            prop_assert!(b.fused.total() <= b.unfused.total(), "block {}", b.name);
            prop_assert!(b.fused.weights <= b.unfused.weights);
        }
    }
}
