//! Regenerates `compiler/src/onnx/generated/onnx.rs` from the vendored
//! `compiler/proto/onnx.proto` (protox parses it, prost-build writes the Rust types).
//! Run from anywhere: `cargo run --manifest-path tools/onnx_fixtures/protogen/Cargo.toml`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let proto_dir = root.join("compiler/proto");
    let out_dir = root.join("compiler/src/onnx/generated");
    std::fs::create_dir_all(&out_dir)?;
    let fds = protox::compile([proto_dir.join("onnx.proto")], [&proto_dir])?;
    prost_build::Config::new()
        .out_dir(&out_dir)
        // Initializer payloads decode as slices of the file's buffer (no copy).
        .bytes([".onnx.TensorProto.raw_data"])
        .compile_fds(fds)?;
    println!("wrote {}", out_dir.join("onnx.rs").display());
    Ok(())
}
