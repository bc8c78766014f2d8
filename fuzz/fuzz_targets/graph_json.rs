//! Graph JSON of arbitrary text: an error or a valid graph, never a panic.
#![no_main]
use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(g) = triad_compiler::json::from_str(text, Path::new("fuzz.json")) {
        triad_compiler::stats::analyze(&g).expect("stats of a loaded graph");
    }
});
