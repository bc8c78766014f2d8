//! ONNX import of arbitrary bytes: an error or a valid graph, never a panic.
//! External data is resolved against a directory that does not exist.
#![no_main]
use std::collections::BTreeMap;
use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let origin = Path::new("/nonexistent-triad-fuzz/model.onnx");
    if let Ok(g) = triad_compiler::onnx::import_bytes(data, origin, &BTreeMap::new()) {
        // An imported graph is valid: statistics and re-export must not fail.
        triad_compiler::stats::analyze(&g).expect("stats of an imported graph");
        let _ = triad_compiler::onnx::export_bytes(&g);
    }
});
