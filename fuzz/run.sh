#!/usr/bin/env bash
# Build the fuzz targets with sanitizer coverage on the stable toolchain and run each
# for a bounded time, seeded from the repository's fixtures.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 10 s, every target)
#
# Corpora grow under fuzz/corpus/TARGET (not committed); crashes are written to
# fuzz/artifacts/TARGET/ and make the script exit 1; exit 2 means the targets did not
# build. Needs a C++ compiler (the libfuzzer-sys crate builds libFuzzer from source)
# and crates.io access.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-10}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(onnx graph_json arch_toml tasm tbin trace npy)
fi
# Coverage instrumentation with stable codegen flags (what cargo-fuzz passes, minus
# the sanitizer, which needs nightly); `fuzzing` cfg for libfuzzer-sys.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# An explicit --target keeps the flags off build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
if ! cargo build --release --bins --target "$host"; then
    echo "fuzz: the targets did not build" >&2
    exit 2
fi
bin=$CARGO_TARGET_DIR/$host/release

# Seeds: the fixtures of each format; graph JSON and .tbin seeds are made by a built
# `triad` (TRIAD, default ../target/debug/triad, which `cargo test` builds) if there
# is one; trace seeds are written here (DRAMsim3's `<addr> <READ|WRITE> <cycle>`).
triad=${TRIAD:-../target/debug/triad}
generated() {
    local t=$1 dir=corpus/$1
    case $t in
        graph_json)
            [ -x "$triad" ] || return 0
            for m in tiny-gpt2 tiny-llama tiny-moe tiny-bert; do
                "$triad" graph --model "$m" --phase decode:2 --dtype w8a8 --format json \
                    -o "$dir/seed-$m.json" >/dev/null 2>&1 || true
            done ;;
        tbin)
            [ -x "$triad" ] || return 0
            find ../isa ../tests ../simulator -name '*.tasm' | sort | awk 'NR <= 100' |
                while read -r f; do
                    "$triad" asm "$f" -o "$dir/seed-$(cksum < "$f" | cut -d' ' -f1).tbin" \
                        >/dev/null 2>&1 || true
                done ;;
        trace)
            printf '0x0 READ 0\n0x40 WRITE 3\n# comment\n\n1f000 read 10\n' > "$dir/seed-basic"
            printf '0xffffffffc0 WRITE 4294967295\n0x80 READ 1\n' > "$dir/seed-edges" ;;
    esac
}

seed() {
    local t=$1 dir=corpus/$1
    mkdir -p "$dir"
    generated "$t"
    case $t in
        onnx) find ../tests/fixtures ../compiler/tests -name '*.onnx' -size -512k ;;
        graph_json) find ../compiler/tests ../tests -name '*.json' -size -256k ;;
        arch_toml) find ../isa -name '*.toml' ! -name Cargo.toml ;;
        tasm) find ../isa ../tests ../simulator -name '*.tasm' ;;
        tbin) find ../isa ../tests ../simulator -name '*.tbin' ;;
        trace) find ../simulator/tests -name '*.trace' -o -name '*.txt' -path '*trace*' ;;
        npy) find ../tests/fixtures ../compiler/tests -name '*.npy' -size -64k ;;
    esac | sort | awk 'NR <= 400' | while read -r f; do
        cp "$f" "$dir/seed-$(cksum < "$f" | cut -d' ' -f1)"
    done
}

status=0
for t in "${targets[@]}"; do
    seed "$t"
    mkdir -p "artifacts/$t"
    echo "== fuzz $t: ${secs}s, $(ls "corpus/$t" | wc -l) inputs in the corpus"
    if ! "$bin/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
        -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 \
        -timeout=20 -seed=1 -print_final_stats=1 2> "artifacts/$t.log"; then
        echo "fuzz $t: CRASH (see fuzz/artifacts/$t/ and fuzz/artifacts/$t.log)"
        tail -n 40 "artifacts/$t.log"
        status=1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|Done [0-9]+ runs' "artifacts/$t.log" || true
done
exit $status
