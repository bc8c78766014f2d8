//! The Chrome trace: valid JSON with a track per engine and per DRAM channel and the
//! two counters.

use crate::common::*;
use triad_sim::{SimOptions, write_chrome_trace};

#[test]
fn the_trace_has_the_documented_tracks() {
    let a = arch("mobile-soc");
    let text = ".buffer x, dram, addr=0, shape=[4096], dtype=f16\n\
                .buffer s, spm, addr=0, shape=[4096], dtype=f16\n\
                .sem s1\n\
                .stream dma.0\n\
                load s, x, rows=1, row_bytes=8192, src_stride=8192, dst_stride=8192\n\
                signal s1, value=1\n\
                .stream npu.vec\n\
                wait s1, value=1\n\
                lbl:\n\
                unary exp, s, s, rows=1, cols=4096, dtype=f16\n";
    let out = run_with(
        &a,
        text,
        SimOptions {
            trace: true,
            ..SimOptions::default()
        },
    );
    let dir = std::env::temp_dir().join(format!("triad-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json");
    write_chrome_trace(out.trace.as_ref().unwrap(), &path).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    let thread_names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    for t in ["dma.0", "npu.vec", "channel 0", "channel 3"] {
        assert!(
            thread_names.contains(&t),
            "{t} missing from {thread_names:?}"
        );
    }
    let spans: Vec<_> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] == 1)
        .collect();
    // A blocked wait is a gap on its track, not a span.
    assert_eq!(
        spans.len(),
        3,
        "one span per timed instruction: load, signal, exp"
    );
    assert!(
        spans
            .iter()
            .any(|e| e["name"] == "unary" && e["args"]["label"] == "lbl")
    );
    assert!(
        events.iter().any(|e| e["ph"] == "X" && e["pid"] == 2),
        "DRAM busy spans"
    );
    for c in ["dram_bandwidth_gb_per_s", "engine_power_w"] {
        assert!(
            events.iter().any(|e| e["ph"] == "C" && e["name"] == c),
            "{c}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
