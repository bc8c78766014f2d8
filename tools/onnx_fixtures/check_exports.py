#!/usr/bin/env python3
"""Check Triad's ONNX export matrix against onnx.checker and ONNX Runtime.

Usage (from the repository root; the pinned versions are in requirements.txt):
    cargo build --release --bin triad
    /tmp/onnx-venv/bin/python tools/onnx_fixtures/check_exports.py [--triad target/release/triad]

For every zoo tiny model x weight format x step kind it runs
    triad graph --model M --dtype D --phase P --format onnx -o M_D_P.onnx
then
  - onnx.checker.check_model(full_check=True) (with shape inference),
  - ONNX Runtime (CPU, all graph optimisations disabled, so the file's ops run as
    written) on seeded inputs: token ids below the size of the table they index,
    floats (KV caches) in [-1, 1] of the input's dtype,
  - `triad eval --onnx` of the same file with the same inputs as .npy files (dims
    taken from the files, f16 data fed as NumPy float16), and the largest absolute
    difference from ONNX Runtime's outputs, relative to the output's magnitude.
and writes tests/fixtures/onnx/export_matrix.json: the versions, this command and
one record per case. ORT's CPU build has no bfloat16 kernels (Add, MatMul, ...):
bf16 exports are valid ONNX (the checker passes them) that ORT CPU refuses with
NOT_IMPLEMENTED, which is recorded as such (`ort_status: "no-cpu-kernel"`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx", "export_matrix.json")
MODELS = ["tiny-gpt2", "tiny-llama", "tiny-moe", "tiny-bert"]
DTYPES = ["f32", "f16", "bf16", "w8a8", "w8a16", "w4a16"]
PHASES = ["prefill:6", "decode:4"]
NP = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
    onnx.TensorProto.INT8: np.int8,
    onnx.TensorProto.BOOL: np.bool_,
}


def index_bound(model, name):
    """Rows of the table the Gather consuming input `name` indexes (None if none)."""
    inits = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Gather" and len(n.input) > 1 and n.input[1] == name:
            t = inits.get(n.input[0])
            if t is not None:
                axis = next((a.i for a in n.attribute if a.name == "axis"), 0)
                return t.dims[axis]
    return None


def inputs_for(model, rng):
    feeds = {}
    for vi in model.graph.input:
        tt = vi.type.tensor_type
        shape = [d.dim_value for d in tt.shape.dim]
        if tt.elem_type == onnx.TensorProto.BFLOAT16:
            return None  # NumPy has no bfloat16
        dt = NP[tt.elem_type]
        if np.issubdtype(dt, np.integer):
            hi = index_bound(model, vi.name) or 2
            feeds[vi.name] = rng.integers(0, hi, size=shape).astype(dt)
        else:
            feeds[vi.name] = rng.uniform(-1, 1, size=shape).astype(dt)
    return feeds


def safe(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def check(triad, work, m, d, p, rng):
    rec = {"model": m, "dtype": d, "phase": p}
    path = os.path.join(work, f"{m}_{d}_{p.replace(':', '')}.onnx")
    r = subprocess.run(
        [triad, "graph", "--model", m, "--dtype", d, "--phase", p, "--format", "onnx", "-o", path],
        capture_output=True, text=True)
    if r.returncode != 0:
        rec.update(export="error", export_error=r.stderr.strip())
        return rec
    rec["export"] = "ok"
    model = onnx.load(path)
    try:
        onnx.checker.check_model(model, full_check=True)
        rec["checker"] = "ok"
    except Exception as e:  # noqa: BLE001 - record whatever the checker says
        rec["checker"] = "error"
        rec["checker_error"] = str(e).splitlines()[0]
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        msg = str(e).splitlines()[0]
        rec["ort"] = "error"
        rec["ort_status"] = "no-cpu-kernel" if "NOT_IMPLEMENTED" in msg else "failed"
        rec["ort_error"] = msg
        return rec
    feeds = inputs_for(model, rng)
    outs = sess.run(None, feeds)
    rec["ort"] = "ok"
    # The same file and inputs through `triad eval`.
    d_in = tempfile.mkdtemp(dir=work)
    args = [triad, "eval", "--onnx", path, "--out", os.path.join(d_in, "out")]
    for k, v in feeds.items():
        f = os.path.join(d_in, safe(k) + ".npy")
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        rec["triad_eval"] = "error"
        rec["triad_eval_error"] = r.stderr.strip()
        return rec
    rec["triad_eval"] = "ok"
    worst = 0.0
    for o, want in zip(sess.get_outputs(), outs):
        got = np.load(os.path.join(d_in, "out", safe(o.name) + ".npy"))
        if got.dtype != want.dtype:
            rec["triad_eval"] = "dtype-differs"
            rec["triad_eval_error"] = f"{o.name}: triad {got.dtype}, ORT {want.dtype}"
        scale = max(1.0, float(np.abs(want.astype(np.float64)).max(initial=0)))
        err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0))
        worst = max(worst, err / scale)
    rec["max_rel_err_vs_ort"] = float(f"{worst:.3e}")
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--triad", default=os.path.join(ROOT, "target", "release", "triad"))
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args()
    rng = np.random.default_rng(20261202)
    cases = []
    with tempfile.TemporaryDirectory() as work:
        for m in MODELS:
            for d in DTYPES:
                for p in PHASES:
                    rec = check(a.triad, work, m, d, p, rng)
                    print(json.dumps(rec), flush=True)
                    cases.append(rec)
    doc = {
        "command": "python tools/onnx_fixtures/check_exports.py --triad " + a.triad,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "cases": cases,
    }
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)
    bad = [c for c in cases if c.get("checker") != "ok"
           or (c.get("ort") != "ok" and c.get("ort_status") != "no-cpu-kernel")]
    print(f"{len(cases)} cases, {len(bad)} failing the checker or ORT (other than no-cpu-kernel)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
