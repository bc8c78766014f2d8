"""Regenerate tests/fixtures/onnx/real/: tiny random-init Hugging Face models exported
the way users export them, with ONNX Runtime's outputs on fixed inputs.

Models (built from configs, random weights, nothing downloaded): GPT-2, Llama (GQA),
Qwen2, Mistral, Phi-3, BERT and a Mixtral-style MoE. Each is exported with the
TorchScript exporter (`torch.onnx.export(dynamo=False)`, opset 17) and the dynamo
exporter (`dynamo=True`, opset 18). On top of both exports (`_opt`: TorchScript only):
  *_int8dyn   onnxruntime.quantization.quantize_dynamic (MatMulInteger, DynamicQuantizeLinear)
  *_qdq       onnxruntime.quantization.quantize_static, QDQ format (QuantizeLinear/DequantizeLinear)
  *_nbits     MatMulNBitsQuantizer, 4-bit blocks of 16 (com.microsoft.MatMulNBits)
  *_opt       onnxruntime.transformers.optimizer (fused Attention, SkipLayerNormalization,
              FastGelu, ... whatever the optimizer fuses for the model type)
Decoders with a KV cache (`*_kv`): inputs input_ids, attention_mask, position_ids,
past_key_values.{i}.key/value [batch, kv_heads, past_sequence, head_dim]; outputs
logits, present.{i}.key/value (Optimum's names), one decode step of 1 token after
`PAST` cached positions.

Each case directory holds model.onnx, input_*.npy, output_*.npy (ONNX Runtime, CPU,
all graph optimisations disabled so the file's ops run as written), dims.txt (the
symbolic dims the inputs were made with) and ops.txt (op census, for the README).

    pip install -r tools/onnx_fixtures/requirements.txt   # torch CPU is enough
    python tools/onnx_fixtures/make_real_exports.py [--only NAME_SUBSTRING]

Everything is seeded; ONNX Runtime's outputs are recomputed from the written files.
"""
import argparse
import collections
import logging
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from transformers import (BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
                          MistralConfig, MistralForCausalLM, MixtralConfig, MixtralForCausalLM, Phi3Config,
                          Phi3ForCausalLM, Qwen2Config, Qwen2ForCausalLM)
from transformers.cache_utils import DynamicCache

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
transformers.logging.set_verbosity_error()
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/fixtures/onnx/real")
VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 64, 32, 2, 4, 2, 64
BATCH, SEQ, PAST = 2, 5, 3


def configs():
    common = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                  intermediate_size=FFN, max_position_embeddings=64)
    gqa = dict(common, num_key_value_heads=KV_HEADS)
    return {
        "gpt2": (GPT2LMHeadModel, GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS,
                                             n_positions=64, n_inner=FFN)),
        "llama": (LlamaForCausalLM, LlamaConfig(**gqa)),
        "qwen2": (Qwen2ForCausalLM, Qwen2Config(**gqa)),
        "mistral": (MistralForCausalLM, MistralConfig(**gqa, sliding_window=None)),
        "phi3": (Phi3ForCausalLM, Phi3Config(**gqa, pad_token_id=0)),
        "bert": (BertModel, BertConfig(**common, type_vocab_size=2)),
        "mixtral": (MixtralForCausalLM, MixtralConfig(**gqa, num_local_experts=4, num_experts_per_tok=2,
                                                      sliding_window=None)),
    }


def zoo_configs():
    """The zoo's tiny-gpt2 and tiny-llama (workloads/src/zoo.rs), for the KV-cache
    decoders whose decode step must agree with `--phase decode:KV`."""
    return {
        "gpt2": (GPT2LMHeadModel, GPT2Config(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=128,
                                             n_inner=256, layer_norm_epsilon=1e-5, activation_function="gelu_new",
                                             tie_word_embeddings=True)),
        "llama": (LlamaForCausalLM, LlamaConfig(vocab_size=256, hidden_size=64, num_hidden_layers=2,
                                                num_attention_heads=4, num_key_value_heads=2, intermediate_size=176,
                                                max_position_embeddings=128, rope_theta=10000.0, rms_norm_eps=1e-5,
                                                tie_word_embeddings=False)),
    }


def build(name, zoo=False, experts="eager"):
    """The model with seeded random weights. `experts` picks transformers' MoE kernel:
    "eager" loops over the experts that tokens were routed to (`nonzero`, `index_add_`;
    TorchScript traces the loop, torch.export cannot: the trip count depends on the
    data), "batched_mm" gathers every token's expert weights and needs no
    data-dependent shape (what the dynamo exporter can export)."""
    cls, cfg = (zoo_configs() if zoo else configs())[name]
    torch.manual_seed(0)
    cfg._attn_implementation = "eager"
    cfg._experts_implementation = experts
    m = cls(cfg).eval()
    with torch.no_grad():  # default init leaves biases/norms trivial: perturb everything
        g = torch.Generator().manual_seed(1)
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    return m


class Prefill(torch.nn.Module):
    """input_ids, attention_mask[, token_type_ids] -> logits (or last_hidden_state)."""

    def __init__(self, m, bert):
        super().__init__()
        self.m, self.bert = m, bert

    def forward(self, input_ids, attention_mask):
        if self.bert:
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits


class Decode(torch.nn.Module):
    """One step with a KV cache: flat past tensors in, logits and flat present out."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        cache = DynamicCache(config=self.m.config)
        for i in range(len(past) // 2):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                     past_key_values=cache, use_cache=True)
        flat = []
        for layer in out.past_key_values.layers:
            flat += [layer.keys, layer.values]
        return (out.logits, *flat)


def kv_shape(m, past):
    c = m.config
    kv = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
    return (BATCH, kv, past, c.hidden_size // c.num_attention_heads)


def prefill_inputs(bert):
    rng = np.random.default_rng(7)
    ids = rng.integers(0, VOCAB, (BATCH, SEQ)).astype(np.int64)
    mask = np.ones((BATCH, SEQ), np.int64)
    return {"input_ids": ids, "attention_mask": mask}


def decode_inputs(m):
    rng = np.random.default_rng(8)
    feeds = {
        "input_ids": rng.integers(0, m.config.vocab_size, (BATCH, 1)).astype(np.int64),
        "attention_mask": np.ones((BATCH, PAST + 1), np.int64),
        "position_ids": np.full((BATCH, 1), PAST, np.int64),
    }
    for i in range(m.config.num_hidden_layers):
        for kv in ("key", "value"):
            feeds[f"past_key_values.{i}.{kv}"] = rng.standard_normal(kv_shape(m, PAST)).astype(np.float32)
    return feeds


def export(m, path, feeds, outs, dyn_axes, dynamo):
    names = list(feeds)
    args = tuple(torch.from_numpy(v) for v in feeds.values())
    if dynamo:
        made = {}

        def dim(name):
            # torch.export allows `Dim + int` only: "x + 1" is derived from x.
            if " + " in name:
                base, off = name.split(" + ")
                return dim(base) + int(off)
            if name not in made:
                made[name] = torch.export.Dim(name, min=1, max=1024)
            return made[name]

        dims = {k: {i: dim(d) for i, d in ax.items()} for k, ax in dyn_axes.items()}
        wrapper_args = [dims.get(n) for n in names]
        if isinstance(m, Decode):  # forward(input_ids, attention_mask, position_ids, *past)
            wrapper_args = wrapper_args[:3] + [tuple(wrapper_args[3:])]
        torch.onnx.export(m, args, path, input_names=names, output_names=outs, dynamo=True, opset_version=18,
                          dynamic_shapes=tuple(wrapper_args), verbose=False)
        # The dynamo exporter names dims after the torch.export symbols; keep the file as written.
    else:
        torch.onnx.export(m, args, path, input_names=names, output_names=outs, dynamic_axes=dyn_axes,
                          opset_version=17, dynamo=False)


def ort_run(path, feeds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    want = {i.name for i in s.get_inputs()}
    res = s.run(None, {k: v for k, v in feeds.items() if k in want})
    return {o.name: r for o, r in zip(s.get_outputs(), res)}, want


def dims_of(path, feeds):
    """Symbolic dim name -> value, read from the model's inputs and the feeds."""
    m = onnx.load(path, load_external_data=False)
    out = {}
    for vi in m.graph.input:
        if vi.name not in feeds:
            continue
        for i, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.dim_param:
                out[d.dim_param] = feeds[vi.name].shape[i]
    return out


def write_case(name, path, feeds):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    m = onnx.load(path)
    onnx.save(m, os.path.join(d, "model.onnx"))
    outs, used = ort_run(os.path.join(d, "model.onnx"), feeds)
    for k in used:
        np.save(os.path.join(d, f"input_{k}.npy"), feeds[k])
    for k, v in outs.items():
        np.save(os.path.join(d, f"output_{k}.npy"), v)
    dims = dims_of(os.path.join(d, "model.onnx"), feeds)
    with open(os.path.join(d, "dims.txt"), "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in sorted(dims.items())))
    census = collections.Counter(
        (n.domain + "." if n.domain not in ("", "ai.onnx") else "") + n.op_type for n in m.graph.node)
    with open(os.path.join(d, "ops.txt"), "w") as f:
        f.write(f"ir_version={m.ir_version} opsets={[(o.domain, o.version) for o in m.opset_import]}\n")
        f.write("".join(f"{k} {v}\n" for k, v in sorted(census.items())))
    size = os.path.getsize(os.path.join(d, "model.onnx"))
    print(f"{name}: {size} bytes, ops {dict(sorted(census.items()))}", flush=True)


class Reader:
    """Calibration data for quantize_static: a few seeded batches."""

    def __init__(self, feeds, used):
        rng = np.random.default_rng(9)
        self.items = []
        for _ in range(4):
            f = {}
            for k, v in feeds.items():
                if k not in used:
                    continue
                if v.dtype == np.int64 and k == "input_ids":
                    f[k] = rng.integers(0, VOCAB, v.shape).astype(np.int64)
                elif v.dtype == np.float32:
                    f[k] = rng.standard_normal(v.shape).astype(np.float32)
                else:
                    f[k] = v
            self.items.append(f)
        self.it = iter(self.items)

    def get_next(self):
        return next(self.it, None)


def quantised(name, src, feeds, tmp, bert):
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    _, used = ort_run(src, feeds)
    p = os.path.join(tmp, f"{name}_int8dyn.onnx")
    quantize_dynamic(src, p, weight_type=QuantType.QInt8)
    write_case(f"{name}_int8dyn", p, feeds)

    p = os.path.join(tmp, f"{name}_qdq.onnx")
    quantize_static(src, p, Reader(feeds, used), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    op_types_to_quantize=["MatMul", "Gemm"])
    write_case(f"{name}_qdq", p, feeds)

    m = onnx.load(src)
    q = MatMulNBitsQuantizer(m, block_size=16, is_symmetric=False, accuracy_level=None)
    q.process()
    p = os.path.join(tmp, f"{name}_nbits.onnx")
    onnx.save(q.model.model, p)
    write_case(f"{name}_nbits", p, feeds)


def optimised(name, src, feeds, tmp, model_type):
    from onnxruntime.transformers.optimizer import optimize_model
    opt = optimize_model(src, model_type=model_type, num_heads=HEADS, hidden_size=HIDDEN, opt_level=1,
                         use_gpu=False, only_onnxruntime=False)
    p = os.path.join(tmp, f"{name}_opt.onnx")
    opt.save_model_to_file(p)
    write_case(f"{name}_opt", p, feeds)


# MoE models: the dynamo export uses transformers' "batched_mm" experts (see `build`).
MOE_MODELS = {"mixtral"}
OPT_TYPES = {"gpt2": "gpt2", "bert": "bert", "llama": "gpt2", "phi3": "gpt2", "qwen2": "gpt2", "mistral": "gpt2",
             "mixtral": "gpt2"}


def one_model(name, tmp, only):
    m = build(name)
    bert = name == "bert"
    feeds = prefill_inputs(bert)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    out = ["last_hidden_state" if bert else "logits"]
    for dynamo in (False, True):
        case = f"{name}_{'dynamo' if dynamo else 'ts'}"
        if only and only not in case:
            continue
        p = os.path.join(tmp, case + ".onnx")
        try:
            model = build(name, experts="batched_mm") if dynamo and name in MOE_MODELS else m
            export(Prefill(model, bert).eval(), p, feeds, out, axes, dynamo)
            write_case(case, p, feeds)
            quantised(case, p, feeds, tmp, bert)
            if not dynamo and name in OPT_TYPES:
                optimised(case, p, feeds, tmp, OPT_TYPES[name])
        except Exception as e:  # report and continue: the census says what is missing
            print(f"{case}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
    if name not in zoo_configs():
        return
    m = build(name, zoo=True)
    feeds = decode_inputs(m)
    # Optimum's naming: the mask covers past and new tokens.
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "past_sequence + sequence"},
            "position_ids": {0: "batch", 1: "sequence"}}
    outs = ["logits"]
    for i in range(m.config.num_hidden_layers):
        for kv in ("key", "value"):
            axes[f"past_key_values.{i}.{kv}"] = {0: "batch", 2: "past_sequence"}
            outs.append(f"present.{i}.{kv}")
    for dynamo in (False, True):
        case = f"{name}_kv_{'dynamo' if dynamo else 'ts'}"
        if only and only not in case:
            continue
        if dynamo:  # one new token: the mask length is derived from the past length
            axes = {k: {i: d for i, d in ax.items() if d != "sequence"} for k, ax in axes.items()}
            axes["attention_mask"] = {0: "batch", 1: "past_sequence + 1"}
        p = os.path.join(tmp, case + ".onnx")
        try:
            export(Decode(m).eval(), p, feeds, outs, axes, dynamo)
            write_case(case, p, feeds)
        except Exception as e:
            print(f"{case}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)


def contrib_attention():
    """ONNX Runtime's fused attention ops on their own (single-op models with seeded
    weights and inputs): what the transformers optimizer and ORT's GenAI builder emit."""
    from onnx import TensorProto as T, helper as h, numpy_helper as nh
    rng = np.random.default_rng(11)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
    b, s_, hd, heads, kvh, d, past = 2, 5, 32, 4, 2, 8, 3

    def case(name, node, inputs, feeds, outputs, inits=()):
        g = h.make_graph([node], name, [h.make_tensor_value_info(k, t, v) for k, t, v in inputs],
                         [h.make_tensor_value_info(k, T.FLOAT, None) for k in outputs],
                         [nh.from_array(v, k) for k, v in inits])
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "m.onnx")
            onnx.save(m, p)
            write_case(name, p, feeds)

    mask = np.ones((b, s_), np.int32)
    mask[1, 0] = 0
    case("contrib_attention",
         h.make_node("Attention", ["x", "w", "bias", "mask"], ["y"], domain="com.microsoft", num_heads=heads,
                     unidirectional=1),
         [("x", T.FLOAT, [b, s_, hd]), ("mask", T.INT32, [b, s_])], {"x": f32(b, s_, hd), "mask": mask}, ["y"],
         [("w", f32(hd, 3 * hd) * 0.2), ("bias", f32(3 * hd) * 0.1)])
    mask = np.ones((b, past + 1), np.int32)
    mask[0, 1] = 0
    case("contrib_attention_past",
         h.make_node("Attention", ["x", "w", "bias", "mask", "past"], ["y", "present"], domain="com.microsoft",
                     num_heads=heads, unidirectional=1),
         [("x", T.FLOAT, [b, 1, hd]), ("mask", T.INT32, [b, past + 1]), ("past", T.FLOAT, [2, b, heads, past, d])],
         {"x": f32(b, 1, hd), "mask": mask, "past": f32(2, b, heads, past, d)}, ["y", "present"],
         [("w", f32(hd, 3 * hd) * 0.2), ("bias", f32(3 * hd) * 0.1)])
    kpm = np.ones((b, 7), np.int32)
    kpm[1, 5:] = 0
    case("contrib_mha_cross",
         h.make_node("MultiHeadAttention", ["q", "k", "v", "bias", "kpm"], ["y"], domain="com.microsoft",
                     num_heads=heads),
         [("q", T.FLOAT, [b, s_, hd]), ("k", T.FLOAT, [b, 7, hd]), ("v", T.FLOAT, [b, 7, hd]),
          ("kpm", T.INT32, [b, 7])],
         {"q": f32(b, s_, hd), "k": f32(b, 7, hd), "v": f32(b, 7, hd), "kpm": kpm}, ["y"],
         [("bias", f32(3 * hd) * 0.1)])
    case("contrib_mha_past",
         h.make_node("MultiHeadAttention", ["q", "k", "v", "", "", "", "pk", "pv"], ["y", "present_k", "present_v"],
                     domain="com.microsoft", num_heads=heads, unidirectional=1),
         [("q", T.FLOAT, [b, 1, hd]), ("k", T.FLOAT, [b, 1, hd]), ("v", T.FLOAT, [b, 1, hd]),
          ("pk", T.FLOAT, [b, heads, past, d]), ("pv", T.FLOAT, [b, heads, past, d])],
         {"q": f32(b, 1, hd), "k": f32(b, 1, hd), "v": f32(b, 1, hd), "pk": f32(b, heads, past, d),
          "pv": f32(b, heads, past, d)}, ["y", "present_k", "present_v"])
    d = 16  # ONNX Runtime's GQA kernel needs a head size that is a multiple of 16
    pos = np.arange(32)[:, None] / (10000 ** (np.arange(0, d, 2) / d))[None, :]
    cos, sin = np.cos(pos).astype(np.float32), np.sin(pos).astype(np.float32)
    for name, sq, p in (("contrib_gqa_prompt", s_, 0), ("contrib_gqa_decode", 1, 7)):
        ins = [("q", T.FLOAT, [b, sq, heads * d]), ("k", T.FLOAT, [b, sq, kvh * d]), ("v", T.FLOAT, [b, sq, kvh * d]),
               ("pk", T.FLOAT, [b, kvh, p, d]), ("pv", T.FLOAT, [b, kvh, p, d])]
        feeds = {"q": f32(b, sq, heads * d), "k": f32(b, sq, kvh * d), "v": f32(b, sq, kvh * d),
                 "pk": f32(b, kvh, p, d), "pv": f32(b, kvh, p, d)}
        case(name,
             h.make_node("GroupQueryAttention", ["q", "k", "v", "pk", "pv", "seqlens_k", "total", "cos", "sin"],
                         ["y", "present_k", "present_v"], domain="com.microsoft", num_heads=heads, kv_num_heads=kvh,
                         do_rotary=1),
             ins, feeds, ["y", "present_k", "present_v"],
             [("seqlens_k", np.full((b,), p + sq - 1, np.int32)), ("total", np.array(p + sq, np.int32)),
              ("cos", cos), ("sin", sin)])


def contrib_rotary():
    """com.microsoft.RotaryEmbedding on its own (non-interleaved, 3-D input with
    num_heads, position ids past a cached prefix): what the optimizer's rotary fusion
    and ORT's GenAI builder emit."""
    from onnx import TensorProto as T, helper as h, numpy_helper as nh
    rng = np.random.default_rng(12)
    b, s_, heads, d, past = 2, 5, 4, 16, 3
    pos = np.arange(32)[:, None] / (10000 ** (np.arange(0, d, 2) / d))[None, :]
    cos, sin = np.cos(pos).astype(np.float32), np.sin(pos).astype(np.float32)
    x = rng.standard_normal((b, s_, heads * d)).astype(np.float32)
    ids = np.tile(np.arange(past, past + s_, dtype=np.int64), (b, 1))
    node = h.make_node("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain="com.microsoft",
                       num_heads=heads, interleaved=0)
    g = h.make_graph([node], "contrib_rotary",
                     [h.make_tensor_value_info("x", T.FLOAT, [b, s_, heads * d]),
                      h.make_tensor_value_info("pos", T.INT64, [b, s_])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)],
                     [nh.from_array(cos, "cos"), nh.from_array(sin, "sin")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "m.onnx")
        onnx.save(m, p)
        write_case("contrib_rotary", p, {"x": x, "pos": ids})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, onnx {onnx.__version__}, "
          f"onnxruntime {ort.__version__}, numpy {np.__version__}", flush=True)
    os.makedirs(OUT, exist_ok=True)
    if not args.only or "contrib" in args.only:
        contrib_attention()
        contrib_rotary()
    with tempfile.TemporaryDirectory() as tmp:
        for name in configs():
            if args.only and not any(args.only in f"{name}_{s}" for s in ("ts", "dynamo", "kv_ts", "kv_dynamo")):
                continue
            one_model(name, tmp, args.only)


if __name__ == "__main__":
    sys.exit(main())
