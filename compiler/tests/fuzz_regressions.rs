//! Inputs the fuzzers (`fuzz/`) found that crashed a parser, kept as regression
//! tests. Each file is in `fuzz/regressions/TARGET/`.

use std::collections::BTreeMap;
use std::path::Path;

fn regression(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A 119-byte model whose only node is an int64 `Range` with a start near -2^29 and
/// delta 4: the importer folds it into a 134 M-element i64 constant (1 GiB), and
/// exporting it (JSON or ONNX) needs 4 GiB more; libFuzzer stopped at its 2 GiB
/// limit. Folding now stops at `MAX_FOLD_GROWTH`: the Range stays a run-time op, and
/// the graph and its exports stay small.
#[test]
fn a_tiny_range_model_does_not_fold_into_gigabytes() {
    let bytes = regression("onnx/range-folds-to-1gib.onnx");
    let r = triad_compiler::onnx::import_bytes(&bytes, Path::new("range.onnx"), &BTreeMap::new());
    if let Ok(g) = r {
        let onnx = triad_compiler::onnx::export_bytes(&g).unwrap();
        assert!(onnx.len() < 1 << 20, "{} bytes of ONNX", onnx.len());
        let json = triad_compiler::json::to_string(&g).unwrap();
        assert!(json.len() < 1 << 20, "{} bytes of JSON", json.len());
    }
}
