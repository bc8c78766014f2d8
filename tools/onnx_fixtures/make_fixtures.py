#!/usr/bin/env python3
"""Regenerate Triad's ONNX test fixtures (tests/fixtures/onnx/).

Usage (from the repository root):
    python3 -m venv /tmp/onnx-venv && /tmp/onnx-venv/bin/pip install -r tools/onnx_fixtures/requirements.txt
    /tmp/onnx-venv/bin/python tools/onnx_fixtures/make_fixtures.py [--check-exports]

Writes:
  models/<name>/model.onnx, input_*.npy, output_*.npy
      tiny BERT- and GPT-style transformers built with the onnx helper API (shape
      subgraphs as exporters emit them, dynamic dims `batch` and `sequence`), their
      int8 weight-only variants (Cast->Mul and DequantizeLinear idioms), a QDQ variant
      (onnxruntime.quantization.quantize_static, QDQ format), a dynamic-quantisation
      variant (MatMulInteger/DynamicQuantizeLinear), a contrib-op variant
      (SkipLayerNormalization, FastGelu, MatMulNBits) and an external-data copy.
      Outputs are computed by ONNX Runtime (CPU, graph optimisations disabled so the
      file's ops run as written). dims.txt lists the dims the inputs were made with.
  conformance/<case>/model.onnx, test_data_set_0/{input,output}_*.pb
      the ONNX backend single-op cases (onnx.backend.test.case.node) of every op the
      importer supports, minus the listed exclusions (features outside the IR).
  broken/*.onnx  files the importer must reject (see compiler/tests/onnx_errors.rs).
  export/<model>/  with --check-exports: zoo models exported by Triad
      (TRIAD_ONNX_EXPORT_DIR, written by `cargo test -p triad-compiler --test
      onnx_export -- --ignored write_exports`), checked and given ORT outputs.

Everything is seeded; rerunning gives the same files with the pinned versions.
"""
import argparse
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx")
F = TensorProto.FLOAT
I64 = TensorProto.INT64
RNG = np.random.default_rng(20241125)

# ---------------------------------------------------------------- helpers


class G:
    """A tiny graph builder over onnx.helper with unique value names."""

    def __init__(self):
        self.nodes, self.inits, self.k = [], [], 0

    def name(self, base):
        self.k += 1
        return f"{base}_{self.k}"

    def init(self, base, arr):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def op(self, op_type, inputs, n_out=1, domain=None, **attrs):
        outs = [self.name(f"/{op_type}_out{i}") for i in range(n_out)]
        node_name = self.name(f"/{op_type}")
        kw = {"domain": domain} if domain else {}
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=node_name, **kw, **attrs))
        return outs[0] if n_out == 1 else outs

    def const_i64(self, vals):
        return self.op("Constant", [], value=numpy_helper.from_array(np.array(vals, dtype=np.int64)))


def weight(shape, scale=0.2):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def heads_reshape(g, x, heads, head_dim):
    """[B, S, H] -> [B, heads, S, head_dim] via Shape/Gather/Concat, as exporters do."""
    shp = g.op("Shape", [x])
    b = g.op("Gather", [shp, g.const_i64(0)], axis=0)
    s = g.op("Gather", [shp, g.const_i64(1)], axis=0)
    b1 = g.op("Unsqueeze", [b, g.const_i64([0])])
    s1 = g.op("Unsqueeze", [s, g.const_i64([0])])
    new = g.op("Concat", [b1, s1, g.const_i64([heads]), g.const_i64([head_dim])], axis=0)
    r = g.op("Reshape", [x, new])
    return g.op("Transpose", [r], perm=[0, 2, 1, 3])


def heads_merge(g, x, hidden):
    t = g.op("Transpose", [x], perm=[0, 2, 1, 3])
    shp = g.op("Shape", [t])
    bs = g.op("Slice", [shp, g.const_i64([0]), g.const_i64([2]), g.const_i64([0])])
    new = g.op("Concat", [bs, g.const_i64([hidden])], axis=0)
    return g.op("Reshape", [t, new])


def linear(g, x, w, b=None):
    y = g.op("MatMul", [x, g.init("w", w)])
    return g.op("Add", [y, g.init("b", b)]) if b is not None else y


def layer_norm_decomposed(g, x, gamma, beta):
    """LayerNorm as the TorchScript exporter writes it before opset 17."""
    mean = g.op("ReduceMean", [x, g.const_i64([-1])], keepdims=1)
    d = g.op("Sub", [x, mean])
    sq = g.op("Pow", [d, g.init("two", np.array(2.0, np.float32))])
    var = g.op("ReduceMean", [sq, g.const_i64([-1])], keepdims=1)
    ve = g.op("Add", [var, g.init("eps", np.array(1e-5, np.float32))])
    sd = g.op("Sqrt", [ve])
    n = g.op("Div", [d, sd])
    return g.op("Add", [g.op("Mul", [n, g.init("g", gamma)]), g.init("b", beta)])


def gelu_erf(g, x):
    h = g.op("Div", [x, g.init("sqrt2", np.array(np.sqrt(2.0), np.float32))])
    e = g.op("Erf", [h])
    e1 = g.op("Add", [e, g.init("one", np.array(1.0, np.float32))])
    return g.op("Mul", [g.op("Mul", [x, e1]), g.init("half", np.array(0.5, np.float32))])


def gelu_tanh(g, x):
    x3 = g.op("Pow", [x, g.init("three", np.array(3.0, np.float32))])
    inner = g.op("Add", [x, g.op("Mul", [x3, g.init("c", np.array(0.044715, np.float32))])])
    t = g.op("Tanh", [g.op("Mul", [inner, g.init("k", np.array(np.sqrt(2 / np.pi), np.float32))])])
    t1 = g.op("Add", [t, g.init("one", np.array(1.0, np.float32))])
    return g.op("Mul", [g.op("Mul", [x, g.init("half", np.array(0.5, np.float32))]), t1])


def model(g, name, inputs, outputs, opset=17, ir=8, extra_opsets=()):
    graph = helper.make_graph(g.nodes, name, inputs, outputs, g.inits)
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=ops, producer_name="triad-fixtures")
    m.ir_version = ir
    onnx.checker.check_model(m)
    return m


# ---------------------------------------------------------------- tiny models

VOCAB, HID, HEADS, FF, LAYERS = 50, 16, 2, 32, 2
HD = HID // HEADS


def tiny_bert(contrib=False):
    g = G()
    ids = helper.make_tensor_value_info("input_ids", I64, ["batch", "sequence"])
    mask = helper.make_tensor_value_info("attention_mask", I64, ["batch", "sequence"])
    emb = g.op("Gather", [g.init("word_embeddings", weight((VOCAB, HID))), "input_ids"], axis=0)
    # positions: Range(0, Shape(ids)[1]) -> Unsqueeze -> Gather(pos_emb)
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const_i64(1)], axis=0)
    pos = g.op("Range", [g.const_i64(0), seq, g.const_i64(1)])
    pos = g.op("Unsqueeze", [pos, g.const_i64([0])])
    pe = g.op("Gather", [g.init("position_embeddings", weight((16, HID))), pos], axis=0)
    x = g.op("Add", [emb, pe])
    x = g.op("LayerNormalization", [x, g.init("ln_g", 1 + weight(HID, 0.1)), g.init("ln_b", weight(HID, 0.1))],
             axis=-1, epsilon=1e-12)
    # extended mask: (1 - mask[:, None, None, :]) * -10000
    m = g.op("Unsqueeze", ["attention_mask", g.const_i64([1, 2])])
    m = g.op("Cast", [m], to=F)
    m = g.op("Sub", [g.init("one", np.array(1.0, np.float32)), m])
    m = g.op("Mul", [m, g.init("neg", np.array(-10000.0, np.float32))])
    for _ in range(LAYERS):
        q = heads_reshape(g, linear(g, x, weight((HID, HID)), weight(HID, 0.1)), HEADS, HD)
        k = heads_reshape(g, linear(g, x, weight((HID, HID)), weight(HID, 0.1)), HEADS, HD)
        v = heads_reshape(g, linear(g, x, weight((HID, HID)), weight(HID, 0.1)), HEADS, HD)
        kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
        s = g.op("Div", [g.op("MatMul", [q, kt]), g.init("scale", np.array(np.sqrt(HD), np.float32))])
        s = g.op("Add", [s, m])
        p = g.op("Softmax", [s], axis=-1)
        a = heads_merge(g, g.op("MatMul", [p, v]), HID)
        a = linear(g, a, weight((HID, HID)), weight(HID, 0.1))
        gamma, beta = 1 + weight(HID, 0.1), weight(HID, 0.1)
        if contrib:
            x = g.op("SkipLayerNormalization", [a, x, g.init("g", gamma), g.init("b", beta)],
                     domain="com.microsoft", epsilon=1e-12)
        else:
            x = g.op("LayerNormalization", [g.op("Add", [a, x]), g.init("g", gamma), g.init("b", beta)],
                     epsilon=1e-12)
        h = linear(g, x, weight((HID, FF)), None if contrib else weight(FF, 0.1))
        if contrib:
            h = g.op("FastGelu", [h, g.init("bias", weight(FF, 0.1))], domain="com.microsoft")
        else:
            h = gelu_erf(g, h)
        h = linear(g, h, weight((FF, HID)), weight(HID, 0.1))
        x = g.op("LayerNormalization", [g.op("Add", [h, x]), g.init("g", 1 + weight(HID, 0.1)),
                                        g.init("b", weight(HID, 0.1))], epsilon=1e-12)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="/out/Identity"))
    first = g.op("Gather", [x, g.const_i64(0)], axis=1)
    pooled = g.op("Gemm", [first, g.init("pool_w", weight((HID, HID))), g.init("pool_b", weight(HID, 0.1))],
                  transB=1)
    g.nodes.append(helper.make_node("Tanh", [pooled], ["pooler_output"], name="/pool/Tanh"))
    outs = [helper.make_tensor_value_info("last_hidden_state", F, ["batch", "sequence", HID]),
            helper.make_tensor_value_info("pooler_output", F, ["batch", HID])]
    extra = [("com.microsoft", 1)] if contrib else []
    return model(g, "tiny_bert", [ids, mask], outs, opset=17, ir=8, extra_opsets=extra)


def tiny_gpt():
    g = G()
    ids = helper.make_tensor_value_info("input_ids", I64, ["batch", "sequence"])
    wte = weight((VOCAB, HID))
    wte_name = g.init("wte", wte)
    x = g.op("Gather", [wte_name, "input_ids"], axis=0)
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const_i64(-1)], axis=0)
    pos = g.op("Range", [g.const_i64(0), seq, g.const_i64(1)])
    x = g.op("Add", [x, g.op("Gather", [g.init("wpe", weight((16, HID))), pos], axis=0)])
    # causal mask: Trilu of ones(S, S) -> Equal 0 -> Where(-inf)
    ss = g.op("Concat", [g.op("Unsqueeze", [seq, g.const_i64([0])])] * 2, axis=0)
    ones = g.op("ConstantOfShape", [ss], value=numpy_helper.from_array(np.array([1.0], np.float32)))
    tri = g.op("Trilu", [ones], upper=0)
    masked = g.op("Equal", [tri, g.init("zero", np.array(0.0, np.float32))])
    for layer in range(LAYERS):
        h = layer_norm_decomposed(g, x, 1 + weight(HID, 0.1), weight(HID, 0.1))
        # GPT-2 Conv1D: 2-D Gemm on flattened tokens, then Split into q, k, v
        shp = g.op("Shape", [h])
        flat = g.op("Reshape", [h, g.const_i64([-1, HID])])
        qkv = g.op("Gemm", [flat, g.init("c_attn_w", weight((HID, 3 * HID))), g.init("c_attn_b", weight(3 * HID, 0.1))])
        out_shape = g.op("Concat", [g.op("Slice", [shp, g.const_i64([0]), g.const_i64([2])]),
                                    g.const_i64([3 * HID])], axis=0)
        qkv = g.op("Reshape", [qkv, out_shape])
        q, k, v = g.op("Split", [qkv, g.const_i64([HID, HID, HID])], n_out=3, axis=2)
        q, k, v = (heads_reshape(g, t, HEADS, HD) for t in (q, k, v))
        s = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
        s = g.op("Mul", [s, g.init("scale", np.array(1 / np.sqrt(HD), np.float32))])
        s = g.op("Where", [masked, g.init("ninf", np.array(-1e9, np.float32)), s])
        p = g.op("Softmax", [s], axis=-1)
        a = heads_merge(g, g.op("MatMul", [p, v]), HID)
        a = linear(g, a, weight((HID, HID)), weight(HID, 0.1))
        x = g.op("Add", [x, a])
        h = g.op("LayerNormalization", [x, g.init("g", 1 + weight(HID, 0.1)), g.init("b", weight(HID, 0.1))],
                 epsilon=1e-5)
        h = gelu_tanh(g, linear(g, h, weight((HID, FF)), weight(FF, 0.1)))
        x = g.op("Add", [x, linear(g, h, weight((FF, HID)), weight(HID, 0.1))])
    x = g.op("LayerNormalization", [x, g.init("g", 1 + weight(HID, 0.1)), g.init("b", weight(HID, 0.1))])
    # tied head: x @ wte^T
    g.nodes.append(helper.make_node("MatMul", [x, g.op("Transpose", [wte_name], perm=[1, 0])], ["logits"],
                                    name="/lm_head/MatMul"))
    outs = [helper.make_tensor_value_info("logits", F, ["batch", "sequence", VOCAB])]
    return model(g, "tiny_gpt", [ids], outs, opset=18, ir=9)


# ---------------------------------------------------------------- quantised variants


def weight_only_int8(m, use_dq):
    """Replace every 2-D float MatMul weight by int8 + per-column scale."""
    m = onnx.ModelProto.FromString(m.SerializeToString())
    inits = {t.name: t for t in m.graph.initializer}
    new_nodes = []
    for node in m.graph.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if w is None or len(w.dims) != 2:
            new_nodes.append(node)
            continue
        arr = numpy_helper.to_array(w)
        scale = (np.abs(arr).max(axis=0) / 127.0).astype(np.float32)
        q = np.clip(np.round(arr / scale), -127, 127).astype(np.int8)
        qn, sn = w.name + "_q", w.name + "_scale"
        m.graph.initializer.append(numpy_helper.from_array(q, qn))
        m.graph.initializer.append(numpy_helper.from_array(scale, sn))
        deq = w.name + "_deq"
        if use_dq:
            new_nodes.append(helper.make_node("DequantizeLinear", [qn, sn], [deq], name=node.name + "/dq", axis=1))
        else:
            cast = w.name + "_cast"
            new_nodes.append(helper.make_node("Cast", [qn], [cast], name=node.name + "/cast", to=F))
            new_nodes.append(helper.make_node("Mul", [cast, sn], [deq], name=node.name + "/scale"))
        node.input[1] = deq
        new_nodes.append(node)
    del m.graph.node[:]
    m.graph.node.extend(new_nodes)
    used = {i for n in m.graph.node for i in n.input}
    keep = [t for t in m.graph.initializer if t.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    onnx.checker.check_model(m)
    return m


class Reader:
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def qdq(m, feeds, tmp):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    src, dst = os.path.join(tmp, "f.onnx"), os.path.join(tmp, "q.onnx")
    onnx.save(m, src)
    quantize_static(src, dst, Reader(feeds), quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    return onnx.load(dst)


def dynamic(m, tmp):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    src, dst = os.path.join(tmp, "f.onnx"), os.path.join(tmp, "d.onnx")
    onnx.save(m, src)
    quantize_dynamic(src, dst, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8, per_channel=False)
    return onnx.load(dst)


def nbits(m):
    """Replace 2-D MatMul weights by com.microsoft MatMulNBits (4-bit, block 16)."""
    m = onnx.ModelProto.FromString(m.SerializeToString())
    inits = {t.name: t for t in m.graph.initializer}
    bs = 16
    for i, node in enumerate(m.graph.node):
        w = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if w is None or len(w.dims) != 2:
            continue
        arr = numpy_helper.to_array(w)
        k, n = arr.shape
        blocks = (k + bs - 1) // bs
        wt = np.zeros((n, blocks * bs), np.float32)
        wt[:, :k] = arr.T
        wb = wt.reshape(n, blocks, bs)
        lo, hi = np.minimum(wb.min(axis=2), 0), np.maximum(wb.max(axis=2), 0)
        scale = ((hi - lo) / 15.0).astype(np.float32)
        scale[scale == 0] = 1.0
        zp = np.clip(np.round(-lo / scale), 0, 15).astype(np.uint8)
        q = np.clip(np.round(wb / scale[:, :, None]) + zp[:, :, None], 0, 15).astype(np.uint8)
        packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
        zpp = np.zeros((n, (blocks + 1) // 2), np.uint8)
        for b in range(blocks):
            zpp[:, b // 2] |= zp[:, b] << (4 * (b % 2))
        names = [w.name + s for s in ("_nb", "_nbs", "_nbz")]
        m.graph.initializer.extend([numpy_helper.from_array(packed, names[0]),
                                    numpy_helper.from_array(scale.reshape(-1), names[1]),
                                    numpy_helper.from_array(zpp, names[2])])
        new = helper.make_node("MatMulNBits", [node.input[0]] + names, list(node.output), name=node.name + "/nbits",
                               domain="com.microsoft", K=k, N=n, bits=4, block_size=bs)
        m.graph.node[i].CopyFrom(new)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    used = {i for n in m.graph.node for i in n.input}
    keep = [t for t in m.graph.initializer if t.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


# ---------------------------------------------------------------- writing


def ort_run(path, feeds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, feeds)))


def write_case(name, m, feeds, dims, external=False):
    d = os.path.join(OUT, "models", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    path = os.path.join(d, "model.onnx")
    if external:
        m = onnx.ModelProto.FromString(m.SerializeToString())  # save() moves data out of m
        onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
                  size_threshold=0)
    else:
        onnx.save(m, path)
    for k, v in feeds.items():
        np.save(os.path.join(d, f"input_{k}.npy"), v)
    for k, v in ort_run(path, feeds).items():
        np.save(os.path.join(d, f"output_{k}.npy"), v)
    with open(os.path.join(d, "dims.txt"), "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in sorted(dims.items())))


def make_models(tmp):
    batch, seq = 2, 5
    ids = RNG.integers(0, VOCAB, (batch, seq)).astype(np.int64)
    mask = np.ones((batch, seq), np.int64)
    mask[1, 3:] = 0
    dims = {"batch": batch, "sequence": seq}
    bert, gpt = tiny_bert(), tiny_gpt()
    bert_feeds = {"input_ids": ids, "attention_mask": mask}
    gpt_feeds = {"input_ids": ids}
    write_case("tiny_bert", bert, bert_feeds, dims)
    write_case("tiny_gpt", gpt, gpt_feeds, dims)
    write_case("tiny_bert_contrib", tiny_bert(contrib=True), bert_feeds, dims)
    write_case("tiny_gpt_external", gpt, gpt_feeds, dims, external=True)
    write_case("tiny_bert_int8_cast", weight_only_int8(bert, use_dq=False), bert_feeds, dims)
    write_case("tiny_gpt_int8_dq", weight_only_int8(gpt, use_dq=True), gpt_feeds, dims)
    calib = [{"input_ids": RNG.integers(0, VOCAB, (batch, seq)).astype(np.int64)} for _ in range(4)]
    write_case("tiny_gpt_qdq", qdq(gpt, calib, tmp), gpt_feeds, dims)
    calib = [dict(bert_feeds, input_ids=c["input_ids"]) for c in calib]
    write_case("tiny_bert_qdq", qdq(bert, calib, tmp), bert_feeds, dims)
    write_case("tiny_bert_dynamic", dynamic(bert, tmp), bert_feeds, dims)
    write_case("tiny_gpt_nbits", nbits(gpt), gpt_feeds, dims)


# ---------------------------------------------------------------- conformance

# ONNX ops the importer maps (default domain), as in compiler/src/onnx/ops/mod.rs.
SUPPORTED = """Add Sub Mul Div Pow Max Min Equal Less Greater LessOrEqual GreaterOrEqual And Or Not Neg Abs
Sqrt Reciprocal Exp Log Erf Tanh Sigmoid Relu Gelu IsNaN Where Cast CastLike Identity Dropout Softmax MatMul Sin Cos
Gemm LayerNormalization RMSNormalization ReduceMean ReduceSum ReduceMax Transpose Reshape Flatten Squeeze
Unsqueeze Expand Concat Split Slice Gather GatherND GatherElements Shape Size ConstantOfShape Constant Range Trilu Clip
QuantizeLinear DequantizeLinear DynamicQuantizeLinear MatMulInteger QLinearMatMul TopK Round""".split()

# Cases outside the IR (with the reason); everything else of a supported op is kept.
EXCLUDE = {
    "allowzero": "Reshape allowzero with 0 dims (empty tensors)",
    "_empty": "empty tensors",
    "zero_size": "empty tensors",
    "blocked": "blocked quantisation",
    "_e4m3": "float8", "_e5m2": "float8", "float8": "float8", "FLOAT8": "float8",
    "float4": "float4", "FLOAT4": "float4", "e2m1": "float4", "e8m0": "float8",
    "int2": "2-bit types", "uint2": "2-bit types", "INT2": "2-bit types", "UINT2": "2-bit types",
    "_training": "training-mode Dropout",
    "_mask": "Dropout mask output",
    "string": "string tensors", "STRING": "string tensors",
    "_round_": "Cast rounding-mode attribute",
    "batch_dim": "GatherND batch_dims",
    "top_k_smallest": "TopK largest=0",
    "bool_inputs": "reductions of bool",
    "test_add_uint8": "wrap-around uint8 arithmetic", "test_sub_uint8": "wrap-around uint8 arithmetic",
    "test_mul_uint8": "wrap-around uint8 arithmetic", "test_div_uint8": "wrap-around uint8 arithmetic",
}
MIN_OPSET = 7  # compiler/src/onnx/import.rs OPSETS
MAX_CASE_BYTES = 20_000
MAX_OPSET = 25  # compiler/src/onnx/import.rs OPSETS


def case_ok(case):
    m = case.model
    if any(k in case.name for k in EXCLUDE):
        return False
    if any(not MIN_OPSET <= o.version <= MAX_OPSET for o in m.opset_import if o.domain in ("", "ai.onnx")):
        return False
    ops = {n.op_type for n in m.graph.node}
    if not ops <= set(SUPPORTED) or any(n.domain not in ("", "ai.onnx") for n in m.graph.node):
        return False
    ok_types = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.INT8, TensorProto.UINT8,
                TensorProto.INT4, TensorProto.UINT4, TensorProto.INT16, TensorProto.UINT16, TensorProto.INT32,
                TensorProto.INT64, TensorProto.BOOL}
    for v in list(m.graph.input) + list(m.graph.output):
        if v.type.tensor_type.elem_type not in ok_types:
            return False
    for ins, outs in case.data_sets or []:
        for a in list(ins) + list(outs):
            if not isinstance(a, np.ndarray) or a.size == 0:
                return False
    return bool(case.data_sets)


def make_conformance():
    from onnx.backend.test.case import node as node_cases
    d = os.path.join(OUT, "conformance")
    shutil.rmtree(d, ignore_errors=True)
    kept = []
    for case in sorted(node_cases.collect_testcases(None), key=lambda c: c.name):
        if not case_ok(case):
            continue
        ins, outs = case.data_sets[0]
        cd = os.path.join(d, case.name)
        os.makedirs(os.path.join(cd, "test_data_set_0"))
        with open(os.path.join(cd, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for kind, arrs, vis in (("input", ins, case.model.graph.input), ("output", outs, case.model.graph.output)):
            for i, (a, vi) in enumerate(zip(arrs, vis)):
                t = numpy_helper.from_array(a, vi.name)
                with open(os.path.join(cd, "test_data_set_0", f"{kind}_{i}.pb"), "wb") as f:
                    f.write(t.SerializeToString())
        size = sum(os.path.getsize(os.path.join(r, x)) for r, _, fs in os.walk(cd) for x in fs)
        if size > MAX_CASE_BYTES:
            shutil.rmtree(cd)
            continue
        kept.append(case.name)
    print(f"conformance: {len(kept)} cases")


# Ops whose backend cases are all at an opset above MAX_OPSET (their newest version
# only added element types): single-op cases at opset 21, expected outputs from
# ONNX Runtime, written in the backend-case layout as conformance/ort_<name>.
def make_ort_single_ops():
    d = os.path.join(OUT, "conformance")
    U8, I8, I32 = TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32
    x = RNG.standard_normal((3, 4)).astype(np.float32) * 4
    x[0, :4] = [2.5, -2.5, 1.5, -0.5]
    cases = [
        ("cast_float_to_int64", "Cast", {"to": I64}, [("x", x)], [], I64),
        ("cast_float_to_float16", "Cast", {"to": TensorProto.FLOAT16}, [("x", x)], [], TensorProto.FLOAT16),
        ("cast_int64_to_float", "Cast", {"to": F}, [("x", np.arange(-6, 6, dtype=np.int64).reshape(3, 4))], [], F),
        ("cast_bool_to_float", "Cast", {"to": F}, [("x", x > 0)], [], F),
        ("quantizelinear_uint8", "QuantizeLinear", {}, [("x", x)],
         [("s", np.array(0.05, np.float32)), ("z", np.array(120, np.uint8))], U8),
        ("quantizelinear_int8_axis", "QuantizeLinear", {"axis": 1}, [("x", x)],
         [("s", np.array([0.02, 0.05, 0.1, 0.2], np.float32)), ("z", np.array([0, 3, -4, 10], np.int8))], I8),
        ("dequantizelinear_uint8", "DequantizeLinear", {},
         [("x", RNG.integers(0, 256, (3, 4)).astype(np.uint8))],
         [("s", np.array(0.05, np.float32)), ("z", np.array(120, np.uint8))], F),
        ("dequantizelinear_int8_axis", "DequantizeLinear", {"axis": 0},
         [("x", RNG.integers(-128, 128, (3, 4)).astype(np.int8))],
         [("s", np.array([0.5, 0.25, 2.0], np.float32)), ("z", np.array([1, -2, 0], np.int8))], F),
        ("dequantizelinear_int32_bias", "DequantizeLinear", {},
         [("x", RNG.integers(-5000, 5000, (4,)).astype(np.int32))], [("s", np.array(0.001, np.float32))], F),
        ("dynamicquantizelinear", "DynamicQuantizeLinear", {}, [("x", x)], [], None),
        ("range_float", "Range", {}, [], [("a", np.array(1.5, np.float32)), ("b", np.array(-2.0, np.float32)),
                                           ("c", np.array(-0.75, np.float32))], F),
        ("range_int64", "Range", {}, [], [("a", np.array(-3, np.int64)), ("b", np.array(10, np.int64)),
                                           ("c", np.array(4, np.int64))], I64),
        ("matmulinteger_uint8_int8", "MatMulInteger", {},
         [("a", RNG.integers(0, 256, (3, 5)).astype(np.uint8))],
         [("b", RNG.integers(-128, 128, (5, 2)).astype(np.int8)), ("az", np.array(130, np.uint8)),
          ("bz", np.array([3, -7], np.int8))], I32),
    ]
    half, heads, hd = 2, 2, 6  # rotary width 4 of head size 6: 2 features pass through
    inv = 1.0 / (10000 ** (np.arange(0, 2 * half, 2) / (2 * half)))
    ang = np.arange(16)[:, None] * inv[None, :]
    cases.append(("rotary_embedding", "RotaryEmbedding", {"num_heads": heads, "rotary_embedding_dim": 2 * half},
                  [("x", RNG.standard_normal((2, 3, heads * hd)).astype(np.float32)),
                   ("pos", np.array([[0, 1, 2], [5, 6, 7]], np.int64))],
                  [("cos", np.cos(ang).astype(np.float32)), ("sin", np.sin(ang).astype(np.float32))], F))
    for name, op, attrs, feeds, inits, out_type in cases:
        inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                  for k, v in feeds]
        n_out = 3 if op == "DynamicQuantizeLinear" else 1
        outs = ["y", "y_scale", "y_zero_point"][:n_out]
        contrib = op == "RotaryEmbedding"
        kw = {"domain": "com.microsoft"} if contrib else {}
        node = helper.make_node(op, [k for k, _ in feeds] + [k for k, _ in inits], outs, name=name, **kw, **attrs)
        out_vi = [helper.make_tensor_value_info(o, t, None)
                  for o, t in zip(outs, [out_type] if n_out == 1 else [U8, F, U8])]
        g = helper.make_graph([node], name, inputs, out_vi,
                              [numpy_helper.from_array(v, k) for k, v in inits])
        ops = [helper.make_opsetid("", 21)] + ([helper.make_opsetid("com.microsoft", 1)] if contrib else [])
        m = helper.make_model(g, opset_imports=ops)
        m.ir_version = 10
        cd = os.path.join(d, "ort_" + name)
        shutil.rmtree(cd, ignore_errors=True)
        os.makedirs(os.path.join(cd, "test_data_set_0"))
        path = os.path.join(cd, "model.onnx")
        onnx.save(m, path)
        res = ort_run(path, dict(feeds))
        for i, (k, v) in enumerate(feeds):
            with open(os.path.join(cd, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(v, k).SerializeToString())
        for i, o in enumerate(outs):
            with open(os.path.join(cd, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(res[o], o).SerializeToString())
    print(f"ort single-op cases: {len(cases)}")


# ---------------------------------------------------------------- broken corpus


def make_broken():
    d = os.path.join(OUT, "broken")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    x = helper.make_tensor_value_info("x", F, [2, 3])
    y = helper.make_tensor_value_info("y", F, [2, 3])

    def save(name, nodes, inits=(), inputs=(x,), outputs=(y,), opset=17):
        g = helper.make_graph(nodes, name, list(inputs), list(outputs), list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        onnx.save(m, os.path.join(d, name + ".onnx"))
        return m

    ok = save("valid", [helper.make_node("Relu", ["x"], ["y"], name="relu")])
    data = ok.SerializeToString()
    with open(os.path.join(d, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) - 7])
    w = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    w.raw_data = w.raw_data[:-4]  # 5 floats for a [2, 3] tensor
    save("wrong_dtype_size", [helper.make_node("Add", ["x", "w"], ["y"], name="add_w")], inits=[w])
    save("cycle", [helper.make_node("Add", ["x", "b"], ["a"], name="add_a"),
                   helper.make_node("Relu", ["a"], ["b"], name="relu_b"),
                   helper.make_node("Identity", ["a"], ["y"], name="out")])
    save("unknown_op", [helper.make_node("FancyOp", ["x"], ["a"], name="fancy_1"),
                        helper.make_node("FancyOp", ["a"], ["b"], name="fancy_2"),
                        helper.make_node("Relu", ["b"], ["c"], name="relu"),
                        helper.make_node("Hardmax", ["c"], ["y"], name="hardmax_1")])
    ext = TensorProto(name="w", data_type=F, dims=[2, 3])
    ext.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "missing_weights.bin"), ("offset", "0"), ("length", "24")):
        e = ext.external_data.add()
        e.key, e.value = k, v
    save("missing_external", [helper.make_node("Add", ["x", "w"], ["y"], name="add_w")], inits=[ext])
    save("dangling", [helper.make_node("Add", ["x", "nowhere"], ["y"], name="add_dangling")])
    xi = helper.make_tensor_value_info("x", F, ["batch", 3])
    save("unbound_dim", [helper.make_node("Relu", ["x"], ["y"], name="relu")], inputs=[xi],
         outputs=[helper.make_tensor_value_info("y", F, ["batch", 3])])
    i = helper.make_tensor_value_info("i", I64, [2, 3])
    save("type_mismatch", [helper.make_node("Add", ["x", "i"], ["y"], name="add_mixed")], inputs=[x, i])
    with open(os.path.join(d, "not_onnx.onnx"), "wb") as f:
        f.write(b"\xff\xff\xff\xff this is not a protobuf")


# ---------------------------------------------------------------- exports


# Exports copied into the fixtures after ONNX Runtime ran them (all are checked;
# the float Llama ones are left out to keep the fixtures small).
COMMITTED_EXPORTS = {"tiny-gpt2_prefill6_f32", "tiny-bert_prefill6_f32", "tiny-llama_prefill6_w8a16"}


def index_bound(m, name, default=16):
    """Rows of the initializer a Gather indexes with input `name`."""
    inits = {t.name: t for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Gather" and len(n.input) > 1 and n.input[1] == name and n.input[0] in inits:
            axis = next((a.i for a in n.attribute if a.name == "axis"), 0)
            return inits[n.input[0]].dims[axis]
    return default


def check_exports():
    src = os.environ.get("TRIAD_ONNX_EXPORT_DIR")
    if not src or not os.path.isdir(src):
        sys.exit("--check-exports needs TRIAD_ONNX_EXPORT_DIR with the exported models")
    d = os.path.join(OUT, "export")
    shutil.rmtree(d, ignore_errors=True)
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name, "model.onnx")
        m = onnx.load(path)
        onnx.checker.check_model(m)
        feeds = {}
        for vi in m.graph.input:
            t = vi.type.tensor_type
            shape = [dd.dim_value for dd in t.shape.dim]
            if t.elem_type == I64:
                feeds[vi.name] = RNG.integers(0, index_bound(m, vi.name), shape).astype(np.int64)
            elif t.elem_type == TensorProto.FLOAT16:
                feeds[vi.name] = RNG.standard_normal(shape).astype(np.float16)
            else:
                feeds[vi.name] = RNG.standard_normal(shape).astype(np.float32)
        outs = ort_run(path, feeds)
        print(f"export {name}: ONNX Runtime ran it ({', '.join(sorted(outs))})")
        if name not in COMMITTED_EXPORTS:
            continue
        dst = os.path.join(d, name)
        os.makedirs(dst)
        shutil.copy(path, os.path.join(dst, "model.onnx"))
        for k, v in feeds.items():
            np.save(os.path.join(dst, f"input_{k}.npy"), v.astype(np.float32) if v.dtype == np.float16 else v)
        for k, v in outs.items():
            np.save(os.path.join(dst, f"output_{k}.npy"), v.astype(np.float32) if v.dtype == np.float16 else v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-exports", action="store_true")
    args = ap.parse_args()
    import tempfile
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}")
    if args.check_exports:
        check_exports()
        return
    with tempfile.TemporaryDirectory() as tmp:
        make_models(tmp)
    make_conformance()
    make_ort_single_ops()
    make_broken()


if __name__ == "__main__":
    main()
