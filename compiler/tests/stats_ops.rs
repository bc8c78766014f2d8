//! FLOPs and per-op (unfused) bytes of single ops in small hand-built graphs, each
//! checked against the formula of the op worked out here.

use triad_compiler::stats::{Flops, Report, analyze};
use triad_compiler::{DType, Graph, Init, Op, TensorType, ValueRef};
use triad_isa::Bytes;

fn t(d: DType, s: &[usize]) -> TensorType {
    TensorType::new(d, s.to_vec())
}

fn w(g: &mut Graph, name: &str, ty: TensorType) -> ValueRef {
    let init = Init::Uniform {
        seed: 1,
        low: -1.0,
        high: 1.0,
    };
    g.weight(name, ty, init).unwrap()
}

fn report(g: &mut Graph, out: ValueRef) -> Report {
    g.set_outputs(&[out]);
    analyze(g).unwrap()
}

fn flops(r: &Report, node: &str) -> u64 {
    r.node(node).unwrap().flops.0
}

#[test]
fn batched_matmul_with_weight() {
    let (b, m, k, n) = (2, 3, 8, 16);
    let mut g = Graph::new("mm");
    let x = g.input("x", t(DType::F16, &[b, m, k])).unwrap();
    let wt = w(&mut g, "w", t(DType::F16, &[k, n]));
    let y = g.add1("y", Op::MatMul, &[x, wt]).unwrap();
    let r = report(&mut g, y);
    // One multiply-add (2 FLOPs) per output element per k.
    assert_eq!(flops(&r, "y"), (2 * b * m * n * k) as u64);
    let tr = r.node("y").unwrap().traffic;
    assert_eq!(tr.weights, Bytes((k * n * 2) as u64));
    assert_eq!(tr.act_read, Bytes((b * m * k * 2) as u64));
    assert_eq!(tr.act_write, Bytes((b * m * n * 2) as u64));
    assert_eq!((tr.kv_read, tr.kv_write), (Bytes(0), Bytes(0)));
    // A lone op is its own block: fused and unfused agree.
    assert_eq!(r.total.fused, r.total.unfused);
    let bytes = (k * n + b * m * k + b * m * n) * 2;
    let expect = (2 * b * m * n * k) as f64 / bytes as f64;
    assert!((r.total.op_per_byte.unwrap() - expect).abs() < 1e-12);
}

#[test]
fn gemm_and_qmatmul_epilogues() {
    let (m, k, n) = (4, 6, 5);
    let mut g = Graph::new("gemm");
    let a = g.input("a", t(DType::F32, &[k, m])).unwrap();
    let bm = w(&mut g, "b", t(DType::F32, &[k, n]));
    let c = w(&mut g, "c", t(DType::F32, &[n]));
    let gemm = Op::Gemm {
        alpha: 0.5,
        beta: 2.0,
        trans_a: true,
        trans_b: false,
    };
    let y = g.add1("y", gemm, &[a, bm, c]).unwrap();
    // 2MNK for the product, MN for alpha, 2MN for beta * C + add.
    let r = report(&mut g, y);
    assert_eq!(flops(&r, "y"), (2 * m * n * k + m * n + 2 * m * n) as u64);

    let mut g = Graph::new("qmm");
    let a = g.input("a", t(DType::F16, &[m, k])).unwrap();
    let wq = w(&mut g, "w", t(DType::I4, &[k, n]));
    let s = w(&mut g, "s", t(DType::F32, &[n]));
    let z = w(&mut g, "z", t(DType::I4, &[n]));
    let y = g.add1("y", Op::QMatMul, &[a, wq, s]).unwrap();
    let yz = g.add1("yz", Op::QMatMul, &[a, wq, s, z]).unwrap();
    let sum = g.add1("sum", Op::Add, &[y, yz]).unwrap();
    let r = report(&mut g, sum);
    // A x W, then the per-channel scale on each of the M x N accumulators.
    assert_eq!(flops(&r, "y"), (2 * m * n * k + m * n) as u64);
    // With a zero point: row sums of A (M x K) and a multiply-subtract per output.
    assert_eq!(
        flops(&r, "yz"),
        (2 * m * n * k + m * n + m * k + 2 * m * n) as u64
    );
    // i4 weights are packed two per byte; scales are f32, zero points i4.
    let tr = r.node("yz").unwrap().traffic;
    assert_eq!(
        tr.weights,
        Bytes(((k * n).div_ceil(2) + 4 * n + n.div_ceil(2)) as u64)
    );
}

#[test]
fn elementwise_and_activation_counts() {
    let shape = [3, 7];
    let e = 21u64;
    let mut g = Graph::new("ew");
    let x = g.input("x", t(DType::F32, &shape)).unwrap();
    let add = g.add1("add", Op::Add, &[x, x]).unwrap();
    let exp = g.add1("exp", Op::Exp, &[add]).unwrap();
    let sig = g.add1("sig", Op::Sigmoid, &[exp]).unwrap();
    let silu = g.add1("silu", Op::Silu, &[sig]).unwrap();
    let ge = g
        .add1("gelu", Op::Gelu { tanh_approx: false }, &[silu])
        .unwrap();
    let gt = g
        .add1("gelu_t", Op::Gelu { tanh_approx: true }, &[ge])
        .unwrap();
    let sm = g.add1("sm", Op::Softmax { axis: -1 }, &[gt]).unwrap();
    let r = report(&mut g, sm);
    assert_eq!(flops(&r, "add"), e);
    assert_eq!(flops(&r, "exp"), e);
    // 1 / (1 + exp(-x)): negate, exp, add, reciprocal.
    assert_eq!(flops(&r, "sig"), 4 * e);
    // x * sigmoid(x).
    assert_eq!(flops(&r, "silu"), 5 * e);
    // x / sqrt2, erf, + 1, * x, * 0.5.
    assert_eq!(flops(&r, "gelu"), 5 * e);
    // x*x*x (2), * 0.044715, + x, * sqrt(2/pi), tanh, + 1, * x, * 0.5.
    assert_eq!(flops(&r, "gelu_t"), 9 * e);
    // max, subtract, exp, sum, divide.
    assert_eq!(flops(&r, "sm"), 5 * e);
    // Reading x twice in one op reads it once.
    let tr = r.node("add").unwrap().traffic;
    assert_eq!(tr.act_read, Bytes(e * 4));
    assert_eq!(tr.act_write, Bytes(e * 4));
}

#[test]
fn norms_count_per_element_and_per_row() {
    let (rows, h) = (5usize, 12usize);
    let n = (rows * h) as u64;
    let mut g = Graph::new("norms");
    let x = g.input("x", t(DType::F32, &[rows, h])).unwrap();
    let gamma = w(&mut g, "gamma", t(DType::F32, &[h]));
    let beta = w(&mut g, "beta", t(DType::F32, &[h]));
    let ln = Op::LayerNorm {
        axis: -1,
        eps: 1e-5,
    };
    let rms = Op::RmsNorm {
        axis: -1,
        eps: 1e-5,
    };
    let a = g.add1("ln_beta", ln.clone(), &[x, gamma, beta]).unwrap();
    let b = g.add1("ln", ln, &[a, gamma]).unwrap();
    let c = g.add1("rms", rms, &[b, gamma]).unwrap();
    let r = report(&mut g, c);
    // Per element: sum, subtract mean, square, sum, * rstd, * gamma (+ beta).
    // Per row: divide for the mean, divide for the variance, + eps, rsqrt.
    assert_eq!(flops(&r, "ln_beta"), 7 * n + 4 * rows as u64);
    assert_eq!(flops(&r, "ln"), 6 * n + 4 * rows as u64);
    // Per element: square, sum, * rstd, * gamma. Per row: divide, + eps, rsqrt.
    assert_eq!(flops(&r, "rms"), 4 * n + 3 * rows as u64);
    assert_eq!(
        r.node("ln_beta").unwrap().traffic.weights,
        Bytes(2 * h as u64 * 4)
    );
}

#[test]
fn rope_quantize_reduce_topk() {
    let (heads, s, d) = (4usize, 6usize, 8usize);
    let mut g = Graph::new("misc");
    let x = g.input("x", t(DType::F32, &[heads, s, d])).unwrap();
    let pos = g.input("pos", t(DType::I64, &[s])).unwrap();
    let full = Op::Rope {
        theta: 10000.0,
        rotary_dim: 0,
    };
    let half = Op::Rope {
        theta: 10000.0,
        rotary_dim: 4,
    };
    let a = g.add1("rope", full, &[x, pos]).unwrap();
    let b = g.add1("rope_half", half, &[a, pos]).unwrap();
    let scale = w(&mut g, "scale", t(DType::F32, &[]));
    let q = g
        .add1(
            "q",
            Op::Quantize {
                to: DType::I8,
                axis: -1,
            },
            &[b, scale],
        )
        .unwrap();
    let dq = g
        .add1(
            "dq",
            Op::Dequantize {
                to: DType::F32,
                axis: -1,
            },
            &[q, scale],
        )
        .unwrap();
    let mean = Op::Reduce {
        kind: triad_compiler::ReduceKind::Mean,
        axes: vec![-1],
        keepdims: false,
    };
    let m = g.add1("mean", mean, &[dq]).unwrap();
    let tk = g.add("topk", Op::TopK { k: 3, axis: -1 }, &[m]).unwrap();
    let r = report(&mut g, tk[0]);
    let n = (heads * s * d) as u64;
    // 3 FLOPs per rotated element, plus the cos/sin table: per position and
    // frequency one multiply, one cos, one sin.
    assert_eq!(flops(&r, "rope"), 3 * n + (s * d / 2 * 3) as u64);
    let rotated = (heads * s * 4) as u64;
    assert_eq!(flops(&r, "rope_half"), 3 * rotated + (s * 2 * 3) as u64);
    // divide, round, clamp (min, max); dequantize: one multiply.
    assert_eq!(flops(&r, "q"), 4 * n);
    assert_eq!(flops(&r, "dq"), n);
    // A sum per input element, a divide per output element.
    assert_eq!(flops(&r, "mean"), n + (heads * s) as u64);
    // Top-3 of 6: ceil(log2 3) = 2 comparisons per element.
    assert_eq!(flops(&r, "topk"), (heads * s * 2) as u64);
    // Quantized result is i8: 1 byte per element written.
    assert_eq!(r.node("q").unwrap().traffic.act_write, Bytes(n));
}

#[test]
fn layout_ops_cost_no_flops_and_reshape_moves_nothing() {
    let mut g = Graph::new("layout");
    let x = g.input("x", t(DType::F16, &[2, 3, 4])).unwrap();
    let rs = g
        .add1("rs", Op::Reshape { shape: vec![6, 4] }, &[x])
        .unwrap();
    let tr = g.add1("tr", Op::Transpose { perm: vec![] }, &[rs]).unwrap();
    let sl = Op::Slice {
        starts: vec![1],
        ends: vec![3],
        axes: vec![0],
        steps: vec![],
    };
    let s = g.add1("slice", sl, &[tr]).unwrap();
    let r = report(&mut g, s);
    for node in ["rs", "tr", "slice"] {
        assert_eq!(r.node(node).unwrap().flops, Flops(0), "{node}");
    }
    let rs = r.node("rs").unwrap().traffic;
    assert_eq!(rs.total(), Bytes(0));
    // The transpose reads x through the view and writes a copy.
    let trt = r.node("tr").unwrap().traffic;
    assert_eq!((trt.act_read, trt.act_write), (Bytes(48), Bytes(48)));
    // The slice touches only the 2 x 6 elements it returns.
    let st = r.node("slice").unwrap().traffic;
    assert_eq!((st.act_read, st.act_write), (Bytes(24), Bytes(24)));
}

#[test]
fn embedding_gather_reads_only_the_rows_it_returns() {
    let (vocab, h, tokens) = (1000usize, 64usize, 3usize);
    let mut g = Graph::new("embed");
    g.set_scope("embed");
    let ids = g.input("ids", t(DType::I64, &[tokens])).unwrap();
    let table = w(&mut g, "wte", t(DType::BF16, &[vocab, h]));
    let e = g
        .add1("gather", Op::Gather { axis: 0 }, &[table, ids])
        .unwrap();
    let r = report(&mut g, e);
    let tr = r.node("gather").unwrap().traffic;
    assert_eq!(tr.weights, Bytes((tokens * h * 2) as u64));
    assert_eq!(tr.act_read, Bytes((tokens * 8) as u64));
    assert_eq!(tr.act_write, Bytes((tokens * h * 2) as u64));
    assert_eq!(r.block("embed").unwrap().fused, tr);
}

#[test]
fn moe_routing_ops() {
    let (tokens, h, experts, k, cap) = (4usize, 8usize, 3usize, 2usize, 4usize);
    let mut g = Graph::new("moe");
    let x = g.input("x", t(DType::F32, &[tokens, h])).unwrap();
    let logits = g
        .input("logits", t(DType::F32, &[tokens, experts]))
        .unwrap();
    let top = g.add("top", Op::TopK { k, axis: -1 }, &[logits]).unwrap();
    let mut outs = vec![top[1], top[0]];
    for e in 0..experts {
        let op = Op::MoeDispatch {
            expert: e,
            capacity: cap,
        };
        outs.push(g.add1(&format!("d{e}"), op, &[x, top[1]]).unwrap());
    }
    let op = Op::MoeCombine {
        experts,
        capacity: cap,
    };
    let y = g.add1("combine", op, &outs).unwrap();
    let r = report(&mut g, y);
    // TopK returns two results: values (f32) and indices (i64).
    let tt = r.node("top").unwrap().traffic;
    assert_eq!(tt.act_write, Bytes((tokens * k * (4 + 8)) as u64));
    assert_eq!(flops(&r, "d0"), 0);
    // One multiply-add per token, choice and feature.
    assert_eq!(flops(&r, "combine"), (2 * tokens * k * h) as u64);
    let ct = r.node("combine").unwrap().traffic;
    let read = tokens * k * (8 + 4) + experts * cap * h * 4;
    assert_eq!(ct.act_read, Bytes(read as u64));
}

#[test]
fn huge_products_saturate_instead_of_overflowing() {
    // [2^24, 2^24] x [2^24, 2^24]: 2^49 FLOPs per output row, 2^73 in all.
    let mut g = Graph::new("huge");
    let x = g
        .input("x", TensorType::new(DType::F32, [1 << 24, 1 << 24]))
        .unwrap();
    let y = g.add1("mm", Op::MatMul, &[x, x]).unwrap();
    g.set_outputs(&[y]);
    let r = triad_compiler::stats::analyze(&g).unwrap();
    assert_eq!(r.total.flops.0, u64::MAX);
    assert_eq!(r.total.unfused.act_write.0, 4 << 48);
}
