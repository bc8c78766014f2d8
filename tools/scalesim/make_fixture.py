#!/usr/bin/env python3
"""Regenerate isa/tests/fixtures/scalesim.csv: SCALE-Sim 3.0.0's compute cycles of
GEMMs on systolic arrays, for isa/tests/systolic.rs.

Usage (from the repository root; SCALE-Sim is not needed by the tests, only here):
    python3 -m venv /tmp/scalesim-venv
    /tmp/scalesim-venv/bin/pip install scalesim==3.0.0 "numpy<2.4"
    nice /tmp/scalesim-venv/bin/python tools/scalesim/make_fixture.py [--work DIR] [--out FILE]

(SCALE-Sim 3.0.0 fails under numpy >= 2.4: `int(max(...))` of a 1-element array.)

For every array size and dataflow it writes one SCALE-Sim config (ample SRAM,
user-given interface bandwidth, no sparsity, default layouts) and one GEMM topology
holding every shape of SHAPES, runs SCALE-Sim in-process through its `scalesim`
class (the same object `python3 -m scalesim.scale -i gemm -s N` builds), and reads
back COMPUTE_REPORT.csv. The recorded figure is the column "Total Cycles", which is
what SCALE-Sim prints as "Compute cycles: N" (the memory system's total; it includes
stall cycles, so the script refuses any run with a non-zero "Stall Cycles" column,
and records that column too). The "(incl. prefetch)" column models DRAM prefetch
and is not a compute figure.

The fixture is written atomically (temp file + rename). Deterministic: SCALE-Sim's
cycle counts do not depend on data or seeds.
"""
import argparse
import csv
import os
import sys
import tempfile

from scalesim.scale_sim import scalesim

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "isa", "tests", "fixtures", "scalesim.csv")

# (rows, cols): two square sizes from the issue plus a non-square one.
ARRAYS = [(32, 32), (128, 128), (16, 64)]
DATAFLOWS = ["os", "ws", "is"]

# (M, N, K) of C[M x N] = A[M x K] * B[K x N]; SCALE-Sim's GEMM topology columns
# are "M, N, K" in that meaning (ifmap M x K, filter K x N).
SHAPES = [
    # square, dividing and not
    (16, 16, 16),
    (32, 32, 32),
    (33, 33, 33),
    (64, 64, 64),
    (100, 100, 100),
    (128, 128, 128),
    (256, 256, 256),
    # M = 1: decode GEMV shapes
    (1, 1, 1),
    (1, 128, 1),
    (1, 512, 512),
    (1, 256, 1024),
    (1, 1000, 300),
    (1, 64, 4096),
    (1, 4096, 64),
    # tall-thin / short-wide / deep
    (1024, 16, 64),
    (2048, 8, 8),
    (8, 2048, 8),
    (8, 8, 2048),
    (4, 128, 4096),
    (64, 1, 64),
    (16, 1024, 16),
    # nothing divides
    (31, 65, 97),
    (200, 50, 300),
    (7, 300, 129),
    (513, 31, 17),
    (257, 129, 65),
    (96, 160, 224),
]

CONFIG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 65536
FilterSramSzkB: 65536
OfmapSramSzkB: 65536
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 1024
Dataflow: {df}
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""


def run_one(work, rows, cols, df):
    """Runs SCALE-Sim on every shape for one array and dataflow; returns
    [(compute_cycles, stall_cycles)] in SHAPES order."""
    name = f"a{rows}x{cols}_{df}"
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "scale.cfg")
    topo = os.path.join(d, "gemm.csv")
    layout = os.path.join(d, "layout.csv")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(name=name, rows=rows, cols=cols, df=df))
    with open(topo, "w") as f:
        f.write("Layer, M, N, K,\n")
        for i, (m, n, k) in enumerate(SHAPES):
            f.write(f"g{i}, {m}, {n}, {k},\n")
    with open(layout, "w") as f:
        f.write("Layer,\n")
    sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo,
                   layout=layout, input_type_gemm=True)
    sim.run_scale(top_path=os.path.join(d, "out"))
    report = os.path.join(d, "out", name, "COMPUTE_REPORT.csv")
    out = []
    with open(report) as f:
        rd = csv.reader(f)
        header = [h.strip() for h in next(rd)]
        i_total = header.index("Total Cycles")
        i_stall = header.index("Stall Cycles")
        for row in rd:
            if not row or not row[0].strip():
                continue
            out.append((int(row[i_total]), int(row[i_stall])))
    if len(out) != len(SHAPES):
        sys.exit(f"{report}: {len(out)} rows, expected {len(SHAPES)}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=tempfile.mkdtemp(prefix="scalesim-"),
                    help="directory for SCALE-Sim configs and reports")
    ap.add_argument("--out", default=OUT, help="fixture file to write")
    args = ap.parse_args()

    lines = [
        "# SCALE-Sim 3.0.0 compute cycles of one GEMM C[M x N] = A[M x K] * B[K x N]",
        "# on one rows x cols systolic array. Generated by",
        "#   python3 -m venv /tmp/scalesim-venv",
        "#   /tmp/scalesim-venv/bin/pip install scalesim==3.0.0 \"numpy<2.4\"   # numpy 2.3.5",
        "#   nice /tmp/scalesim-venv/bin/python tools/scalesim/make_fixture.py",
        "# (see that script: one SCALE-Sim run per array and dataflow over all shapes,",
        "# 64 MiB SRAMs, USER interface bandwidth 1024 words/cycle, no sparsity).",
        "# compute_cycles = the \"Total Cycles\" column of COMPUTE_REPORT.csv, which",
        "# SCALE-Sim prints as \"Compute cycles:\"; stall_cycles = its \"Stall Cycles\"",
        "# column (always 0 here, else the script fails). compute_cycles is one less",
        "# than the cycles the array is busy (SCALE-Sim reports the index of the last",
        "# cycle); see isa/src/arch/systolic.rs.",
        "rows,cols,dataflow,m,n,k,compute_cycles,stall_cycles",
    ]
    count = 0
    for rows, cols in ARRAYS:
        for df in DATAFLOWS:
            print(f"array {rows}x{cols} {df}", file=sys.stderr, flush=True)
            for (m, n, k), (cyc, stall) in zip(SHAPES, run_one(args.work, rows, cols, df)):
                if stall != 0:
                    sys.exit(f"{rows}x{cols} {df} {m},{n},{k}: {stall} stall cycles; "
                             "raise the SRAM sizes or the bandwidth")
                lines.append(f"{rows},{cols},{df},{m},{n},{k},{cyc},{stall}")
                count += 1

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {count} rows to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
