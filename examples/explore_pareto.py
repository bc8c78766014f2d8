#!/usr/bin/env python3
"""Run a `triad explore` sweep and read its results with the standard library only.

    python3 examples/explore_pareto.py [SWEEP.toml] [-o DIR] [--triad PATH]

Runs the sweep (resuming whatever DIR already holds), then reads DIR/results.jsonl
(one JSON object per point, in point order; schema in the README, "Design-space
sweeps") and prints the Pareto-optimal points and the fastest point per NPU array
shape.
"""

import argparse
import json
import pathlib
import subprocess
import sys


def run_sweep(triad, sweep, out):
    """Runs `triad explore SWEEP -o OUT --resume`; raises if it fails."""
    cmd = [triad, "explore", str(sweep), "-o", str(out), "--resume"]
    subprocess.run(cmd, check=True)


def read_results(out):
    """The records of OUT/results.jsonl, in point order."""
    path = pathlib.Path(out) / "results.jsonl"
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    here = pathlib.Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", nargs="?", default=here / "sweeps" / "npu_array.toml")
    ap.add_argument("-o", "--out", default="out/npu_array")
    ap.add_argument("--triad", default="triad", help="the triad binary (default: on PATH)")
    args = ap.parse_args()

    run_sweep(args.triad, args.sweep, args.out)
    records = read_results(args.out)
    failed = [r for r in records if r["error"] is not None]
    ok = [r for r in records if r["error"] is None]
    print(f"{len(records)} points, {len(failed)} failed")
    for r in failed:
        print(f"  point {r['index']}: {r['error']}", file=sys.stderr)

    print("\nPareto-optimal points:")
    print(f"{'index':>5}  {'latency us':>10}  {'energy uJ':>10}  parameters")
    for r in (r for r in ok if r.get("pareto")):
        m = r["metrics"]
        fields = ", ".join(f"{k}={v}" for k, v in r["fields"].items())
        print(
            f"{r['index']:>5}  {m['latency_per_token_ps'] / 1e6:>10.3f}"
            f"  {m['energy_per_token_pj'] / 1e6:>10.3f}"
            f"  {r['phase']} batch {r['batch']} {r['objective']}; {fields}"
        )

    print("\nFastest point per NPU array:")
    best = {}
    for r in ok:
        shape = (r["fields"].get("npu.rows"), r["fields"].get("npu.cols"))
        lat = r["metrics"]["latency_per_token_ps"]
        if shape not in best or lat < best[shape]["metrics"]["latency_per_token_ps"]:
            best[shape] = r
    for (rows, cols), r in sorted(best.items(), key=lambda kv: str(kv[0])):
        us = r["metrics"]["latency_per_token_ps"] / 1e6
        print(f"  {rows}x{cols}: {us:.3f} us/token (point {r['index']})")


if __name__ == "__main__":
    main()
