#!/usr/bin/env python3
"""Count the DRAM commands in a PIMSimulator PIMBenchFixture trace.

Usage:
    /path/to/PIMSimulator/sim --gtest_filter='PIMBenchFixture.*' > bench.trace   # in a
        # directory whose system_hbm_64ch.ini has SHOW_SIM_OUTPUT=true (see README.md)
    python3 tools/pimsim/count_commands.py bench.trace

The trace is what PIMSimulator prints with SHOW_SIM_OUTPUT=true and
DEBUG_CMD_TRACE=true (upstream's default): one line per DRAM command a rank executes
(src/Rank.cpp, src/PIMRank.cpp), ANSI-coloured. The script splits it into sections,
one per benchmark and mode ("GEMV (PIM disabled)" / "(PIM enabled)" lines printed by
the fixture) and prints, per section, the "> Cycle :" figure and the command counts
summed over the 64 pseudo-channels and for channel 0. Lines are classified as:

  ACT, PRE, REF            ACTIVATE / PRECHARGE / REF lines.
  RD                       READ lines without "||" (SB-mode reads, HAB reads of
                           the row 0x1000 region), READ_GRF_A/B, BANK_TO_PIM.
  WR                       WRITE lines without "||", PIM_TO_BANK, and the HAB
                           writes to row 0x3fff: BWRITE_GRF_A/B (host data into the
                           GRFs), BWRITE_CRF (program the CRF), BWRITE_SRF, and
                           the PIM-control write (column 0) printed as "HAB_PIM"
                           (enter PIM: PC reset) or "HAB mode" (leave PIM).
  RD_PIM / WR_PIM          READ / WRITE lines with "||": a column command in
                           HAB_PIM mode that triggers the CRF instruction shown after
                           "|| [pc]". Zero-cycle JUMP lines repeat the same command
                           and are not counted; the instruction the command executes
                           is counted under its name (MAC, ADD, MUL, FILL, MOV, NOP,
                           EXIT).

RD + RD_PIM and WR + WR_PIM are the column commands on the bus. SB->HAB ("HAB ...
tag") and HAB->SB ("SB mode") lines are mode changes that ride on an ACT / PRE and
are counted as MODE_TO_HAB / MODE_TO_SB, not as extra commands.
"""
import re
import sys
from collections import Counter, OrderedDict

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SECTION = re.compile(r"^\s+(GEMV|MUL|ADD|RELU) \(PIM (enabled|disabled)\)")
RUN = re.compile(r"^\[ RUN\s+\] (\S+)")
CYCLE = re.compile(r"^> Cycle : (\d+)")
CHAN = re.compile(r" ch(\d+) ")
PIM_OP = re.compile(r"\|\| \[\d+\] ([A-Z_]+)")

PLAIN = {
    "ACTIVATE": "ACT",
    "PRECHARGE": "PRE",
    "REF": "REF",
    "READ": "RD",
    "READ_GRF_A": "RD",
    "READ_GRF_B": "RD",
    "BANK_TO_PIM": "RD",
    "WRITE": "WR",
    "PIM_TO_BANK": "WR",
    "BWRITE_GRF_A": "WR",
    "BWRITE_GRF_B": "WR",
    "BWRITE_CRF": "WR",
    "BWRITE_SRF": "WR",
    "HAB_PIM": "WR",
}
DETAIL = {"BWRITE_GRF_A", "BWRITE_GRF_B", "BWRITE_CRF", "BWRITE_SRF", "HAB_PIM",
          "BANK_TO_PIM", "PIM_TO_BANK", "READ_GRF_A", "READ_GRF_B"}
ORDER = ["ACT", "PRE", "REF", "RD", "WR", "RD_PIM", "WR_PIM", "MAC", "ADD", "MUL",
         "FILL", "MOV", "MAD", "NOP", "EXIT", "BWRITE_GRF_A", "BWRITE_GRF_B",
         "BWRITE_CRF", "BWRITE_SRF", "HAB_PIM", "HAB_EXIT", "BANK_TO_PIM",
         "PIM_TO_BANK", "READ_GRF_A", "READ_GRF_B", "MODE_TO_HAB", "MODE_TO_SB"]


def classify(line):
    """[(counter name)] for one trace line, or [] if it is not a command line."""
    words = line.split()
    if not words or not CHAN.search(" " + line + " "):
        return []
    first = words[0]
    if "||" in line:
        op = PIM_OP.search(line)
        if op is None:
            return []
        op = op.group(1)
        if op == "JUMP":
            return []
        kind = "RD_PIM" if first == "READ" else "WR_PIM"
        return [kind, op]
    if first == "HAB":
        if len(words) > 1 and words[1] == "mode":
            return ["WR", "HAB_EXIT"]
        return ["MODE_TO_HAB"]
    if first == "SB":
        return ["MODE_TO_SB"]
    if first in PLAIN:
        out = [PLAIN[first]]
        if first in DETAIL:
            out.append(first)
        return out
    return []


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: count_commands.py TRACE")
    sections = OrderedDict()
    test = None
    cur = None
    with open(sys.argv[1], errors="replace") as f:
        for lineno, raw in enumerate(f, 1):
            line = ANSI.sub("", raw.rstrip("\n"))
            m = RUN.match(line)
            if m:
                test, cur = m.group(1), None
                continue
            m = SECTION.match(line)
            if m:
                mode = "pim" if m.group(2) == "enabled" else "non_pim"
                cur = (test, mode)
                if cur in sections:
                    sys.exit(f"{sys.argv[1]}:{lineno}: section {cur} seen twice")
                sections[cur] = {"cycles": None, "all": Counter(), "ch0": Counter()}
                continue
            m = CYCLE.match(line)
            if m and cur is not None:
                sections[cur]["cycles"] = int(m.group(1))
                continue
            if cur is None or sections[cur]["cycles"] is not None:
                continue  # outside a measured run (stats dumps, other text)
            names = classify(line)
            if names:
                ch = int(CHAN.search(" " + line + " ").group(1))
                for n in names:
                    sections[cur]["all"][n] += 1
                    if ch == 0:
                        sections[cur]["ch0"][n] += 1
    for (test, mode), s in sections.items():
        print(f"[{test}.{mode}]")
        print(f"cycles = {s['cycles']}")
        for scope in ("all", "ch0"):
            items = [f"{k} = {s[scope][k]}" for k in ORDER if s[scope][k]]
            print(f"{scope}: " + ", ".join(items))
        print()


if __name__ == "__main__":
    main()
