#!/usr/bin/env python3
"""Runs the same traces through DRAMsim3 and `triad memsim` and prints a table.

For each of DRAMsim3's HBM2_8Gb_x128, LPDDR4_8Gb_x16_2400 and GDDR6_8Gb_x16 configs
(Triad presets hbm2, lpddr4, gddr6) it generates six traces (one line = one burst
of the config: 64 B HBM2, 128 B LPDDR4, 256 B GDDR6):

  stream    64 MiB of sequential reads, all at once
  random    100k reads at uniformly random burst addresses, all at once
  conflict  20k reads alternating two rows of bank 0, all at once
  paced     the conflict trace, one read every 500 cycles (issued at its cycle)
  writes    16 MiB of sequential writes, all at once
  mix       60k random accesses, 2 reads : 1 write, all at once (reads and writes
            in different halves of the address space, so no read hits a queued write)

runs DRAMsim3 through driver.cc (built here against the given DRAMsim3 build) and
Triad's release binary on the same file, each timed as a whole process (median of
`--repeat` runs), and prints cycles, bandwidth, average read latency, row-hit rate,
ACT count and wall time of each. `--fixture FILE` writes the DRAMsim3 figures as
JSON (with the command line) for simulator/tests/memsim/dramsim3_parity.rs.

Usage:
  tools/dramsim3_compare/compare.py --dramsim3 /work/ext/dramsim3 \\
      --triad target/release/triad --work /tmp/cmp [--fixture F] [--repeat 3]

Needs: a DRAMsim3 checkout built with its Makefile (libdramsim3.so in its root),
g++, and a release build of triad. Nothing of DRAMsim3 is copied into this repo.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CONFIGS = [
    # (DRAMsim3 config, the Triad preset that carries its values)
    ("HBM2_8Gb_x128", "hbm2"),
    ("LPDDR4_8Gb_x16_2400", "lpddr4"),
    ("GDDR6_8Gb_x16", "gddr6"),
]
KINDS = ["stream", "random", "conflict", "paced", "writes", "mix"]
SEED = {k: i + 1 for i, k in enumerate(KINDS)}


def arch_of(preset):
    """The preset's [dram] table, read from isa/archs/<preset>.toml."""
    import tomllib

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "isa", "archs", preset + ".toml"), "rb") as f:
        return tomllib.load(f)["dram"]


def geometry(d):
    burst = d["bus_bits"] // 8 * d["burst_length"]
    cols = d["row_bytes"] // burst
    counts = {
        "ro": d["rows"],
        "ra": d["ranks"],
        "bg": d["bank_groups"],
        "ba": d["banks_per_group"],
        "ch": d["channels"],
        "co": cols,
    }
    m = d["address_mapping"]
    fields = [m[i : i + 2] for i in range(0, len(m), 2)]
    pos, shift = {}, burst.bit_length() - 1
    for f in reversed(fields):
        pos[f] = shift
        shift += counts[f].bit_length() - 1
    return burst, pos, shift  # shift = total address bits


class SplitMix64:
    """splitmix64 (Steele et al.), so that the Rust parity test regenerates the
    very same traces (simulator/tests/memsim/dramsim3_parity.rs)."""

    def __init__(self, seed):
        self.s = seed & (2**64 - 1)

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & (2**64 - 1)
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        return z ^ (z >> 31)

    def below(self, n):
        """Uniform-enough in [0, n) for a power-of-two n."""
        return self.next() & (n - 1)


def gen(kind, d, rng):
    burst, pos, bits = geometry(d)
    lines = []
    if kind in ("stream", "writes"):
        size = (64 if kind == "stream" else 16) << 20
        op = "READ" if kind == "stream" else "WRITE"
        lines = [(a, op, 0) for a in range(0, size, burst)]
    elif kind == "random":
        n = 1 << (bits - (burst.bit_length() - 1))
        lines = [(rng.below(n) * burst, "READ", 0) for _ in range(100_000)]
    elif kind in ("conflict", "paced"):
        rows = [1 << pos["ro"], 2 << pos["ro"]]
        for i in range(20_000):
            col = (i // 2) % (d["row_bytes"] // burst)
            a = rows[i % 2] | (col << pos["co"])
            lines.append((a, "READ", 500 * i if kind == "paced" else 0))
    elif kind == "mix":
        half = 1 << (bits - 1)
        n = half // burst
        for i in range(60_000):
            w = i % 3 == 2
            a = rng.below(n) * burst + (half if w else 0)
            lines.append((a, "WRITE" if w else "READ", 0))
    return lines


def write_trace(path, lines):
    with open(path + ".tmp", "w") as f:
        for a, op, c in lines:
            f.write(f"0x{a:x} {op} {c}\n")
    os.replace(path + ".tmp", path)


def timed(cmd, repeat):
    """Runs `cmd` `repeat` times; returns its stdout, the median wall time and the
    median CPU time (user + system) of the whole process, in seconds. The machine
    may be shared, so the CPU time is the steadier of the two."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if r.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
        out = r.stdout
    return out, statistics.median(walls), statistics.median(cpus)


def dramsim3_stats(outdir):
    with open(os.path.join(outdir, "dramsim3.json")) as f:
        js = json.load(f)
    tot = {"acts": 0, "row_hits": 0, "lat_sum": 0.0, "reads": 0, "cmds": 0}
    for ch in js.values():
        tot["acts"] += ch["num_act_cmds"]
        tot["row_hits"] += ch["num_read_row_hits"] + ch["num_write_row_hits"]
        tot["cmds"] += ch["num_read_cmds"] + ch["num_write_cmds"]
        tot["lat_sum"] += ch["average_read_latency"] * ch["num_reads_done"]
        tot["reads"] += ch["num_reads_done"]
    return tot


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dramsim3", required=True, help="DRAMsim3 checkout, built")
    ap.add_argument("--triad", required=True, help="triad release binary")
    ap.add_argument("--work", required=True, help="scratch directory")
    ap.add_argument("--fixture", help="write DRAMsim3's figures here (JSON)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing")
    ap.add_argument("--only", help="comma-separated kinds to run")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    driver = os.path.join(a.work, "driver")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "driver.cc")
    ds = a.dramsim3
    subprocess.run(
        ["g++", "-O3", "-std=c++11", "-I", f"{ds}/src", "-I", f"{ds}/ext/headers",
         "-I", f"{ds}/ext/fmt/include", "-DFMT_HEADER_ONLY=1", src, "-L", ds,
         "-ldramsim3", f"-Wl,-rpath,{os.path.abspath(ds)}", "-o", driver],
        check=True,
    )
    kinds = a.only.split(",") if a.only else KINDS
    rows, fixture = [], []
    for cfg, preset in CONFIGS:
        d = arch_of(preset)
        tck_ns = d["tck_ps"] / 1000
        for kind in kinds:
            rng = SplitMix64(SEED[kind])
            lines = gen(kind, d, rng)
            trace = os.path.join(a.work, f"{preset}-{kind}.trace")
            write_trace(trace, lines)
            burst = d["bus_bits"] // 8 * d["burst_length"]
            rate = "trace" if kind == "paced" else "unlimited"
            outdir = os.path.join(a.work, f"ds3-{preset}-{kind}")
            os.makedirs(outdir, exist_ok=True)
            dcmd = [driver, f"{ds}/configs/{cfg}.ini", trace, rate, outdir]
            dout, dwall, dcpu = timed(dcmd, a.repeat)
            dj = json.loads(dout.strip().splitlines()[-1])
            dst = dramsim3_stats(outdir)
            tcmd = [a.triad, "memsim", trace, "--arch", preset,
                    "--issue-rate", rate, "--dram-only", "--json"]
            tout, twall, tcpu = timed(tcmd, a.repeat)
            tj = json.loads(tout)
            n = len(lines)
            ds3 = {
                "config": cfg, "preset": preset, "kind": kind, "requests": n,
                "cycles": dj["cycles"],
                "gb_per_s": n * burst / (dj["cycles"] * tck_ns) if dj["cycles"] else 0,
                "read_latency": dst["lat_sum"] / dst["reads"] if dst["reads"] else 0,
                "row_hit_rate": dst["row_hits"] / dst["cmds"] if dst["cmds"] else 0,
                "acts": dst["acts"], "wall_s": dwall, "cpu_s": dcpu,
            }
            tri = {
                "cycles": tj["total_cycles"], "gb_per_s": tj["bandwidth_gb_per_s"],
                "read_latency": tj["read_latency"]["avg_cycles"],
                "row_hit_rate": tj["row_hit_rate"],
                "acts": tj["commands"].get("ACT", 0), "wall_s": twall, "cpu_s": tcpu,
            }
            rows.append((ds3, tri))
            fixture.append(ds3)
            print_row(ds3, tri, flush=True)
    print()
    print_table(rows)
    if a.fixture:
        doc = {
            "dramsim3": "umd-memsys/DRAMsim3 at 2981759, built with its Makefile",
            "command": " ".join(sys.argv),
            "rows": fixture,
        }
        with open(a.fixture + ".tmp", "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(a.fixture + ".tmp", a.fixture)


def pct(t, d):
    return f"{100.0 * (t - d) / d:+.1f}%" if d else "n/a"


def print_row(d, t, flush=False):
    print(f"{d['config']:20} {d['kind']:8} cycles {d['cycles']:>9} / {t['cycles']:>9} "
          f"({pct(t['cycles'], d['cycles'])}) acts {d['acts']}/{t['acts']} "
          f"wall {d['wall_s']:.3f}/{t['wall_s']:.3f}s cpu {d['cpu_s']:.3f}/{t['cpu_s']:.3f}s",
          file=sys.stderr, flush=flush)


def print_table(rows):
    print("| config | trace | cycles DRAMsim3 / Triad (diff) | GB/s | avg read latency "
          "| row hits | ACTs | wall s DRAMsim3 / Triad (speed-up) "
          "| CPU s DRAMsim3 / Triad (speed-up) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d, t in rows:
        print(f"| {d['config']} | {d['kind']} | {d['cycles']:,} / {t['cycles']:,} "
              f"({pct(t['cycles'], d['cycles'])}) | {d['gb_per_s']:.1f} / {t['gb_per_s']:.1f} "
              f"| {d['read_latency']:.1f} / {t['read_latency']:.1f} "
              f"| {100 * d['row_hit_rate']:.1f}% / {100 * t['row_hit_rate']:.1f}% "
              f"| {d['acts']:,} / {t['acts']:,} "
              f"| {d['wall_s']:.3f} / {t['wall_s']:.3f} ({d['wall_s'] / t['wall_s']:.1f}x) "
              f"| {d['cpu_s']:.3f} / {t['cpu_s']:.3f} ({d['cpu_s'] / max(t['cpu_s'], 1e-3):.1f}x) |")


if __name__ == "__main__":
    main()
