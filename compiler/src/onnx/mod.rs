//! The ONNX frontend: import `.onnx` files into the graph IR, and export IR graphs
//! as ONNX models.
//!
//! Import ([`import`], [`import_bytes`]) reads the protobuf with prost (types
//! generated from the vendored official `onnx.proto`, see `proto`), accepts IR
//! versions 3-14 and default-domain opsets 7-25 (tested: IR 3-14, opsets 7-25; ops
//! have their opset 13-21 semantics, versions 22-25 only added element types), takes
//! initializers from typed fields, `raw_data` or external data files (relative to the
//! model's directory), binds symbolic input dims from `dims` (an unbound one is an
//! error naming the input and the dim), folds everything computable at import time
//! with the reference interpreter's semantics, maps ONNX ops onto IR ops (`ops`)
//! and recognises the quantisation idioms (`ops::quant`) and the data-dependent
//! routing of exported mixture-of-experts models (`OneHot`/`NonZero`/
//! `ScatterElements`, imported as `MoeDispatch`/`MoeCombine`; limits in `ops::moe`).
//! Nodes no output depends on are dropped. The result is a static, validated
//! [`Graph`] whose outputs carry the ONNX output names.
//!
//! Failure: every problem is a typed [`crate::Error`] naming the file, node, tensor or
//! value; an unsupported model lists every unsupported op type with its count and
//! first node in one [`crate::Error::UnsupportedOps`]. Nothing panics on bad input.
//!
//! Export ([`export`]) writes opset-17 ONNX with standard ops only, decomposing the
//! IR-only ops (see `export` for the list and for what cannot be exported).

mod attrs;
mod export;
mod fold;
mod import;
pub mod npy;
mod ops;
pub mod proto;
mod scope;
mod signature;
mod tensor;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

pub use export::{EXPORT_OPSET, export_bytes};
pub use fold::ImportStats;
pub use import::{IR_VERSIONS, ImportOptions, KV_CACHE_PREFIXES, OPSETS};
pub use ops::supported_ops;
pub use signature::{DeclaredDim, DeclaredInput, declared_inputs};

use crate::error::{Error, Result};
use crate::graph::Graph;

/// Import the ONNX model at `path`, binding symbolic dims from `dims`
/// (`{"batch": 1, "sequence": 128}`).
pub fn import(path: &Path, dims: &BTreeMap<String, usize>) -> Result<Graph> {
    Ok(import_with_stats(path, dims)?.0)
}

/// [`import`], also returning the import counters (folded and emitted ops, `QMatMul`s).
pub fn import_with_stats(
    path: &Path,
    dims: &BTreeMap<String, usize>,
) -> Result<(Graph, ImportStats)> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let opts = ImportOptions {
        dims: dims.clone(),
        ..ImportOptions::default()
    };
    // Decoding from an owned buffer lets initializer payloads (`raw_data`) be slices
    // of the file's bytes instead of copies.
    import::import_buf(prost::bytes::Bytes::from(bytes), path, path.parent(), &opts)
}

/// Import a serialised model. `origin` is the file it came from: it names the model
/// in errors, and external data is resolved against its directory.
pub fn import_bytes(bytes: &[u8], origin: &Path, dims: &BTreeMap<String, usize>) -> Result<Graph> {
    let opts = ImportOptions {
        dims: dims.clone(),
        ..ImportOptions::default()
    };
    Ok(import::import_bytes(bytes, origin, origin.parent(), &opts)?.0)
}

/// Import a serialised model with full [`ImportOptions`], returning the counters too.
pub fn import_bytes_with(
    bytes: &[u8],
    origin: &Path,
    opts: &ImportOptions,
) -> Result<(Graph, ImportStats)> {
    import::import_bytes(bytes, origin, origin.parent(), opts)
}

/// Decode a serialised ONNX `TensorProto` (the backend test data format, `*.pb`)
/// into its name and an interpreter tensor. `uint8`/`uint4`/`uint16` values are
/// returned as i32 (exact); `origin` names the file in errors.
pub fn read_tensor_pb(bytes: &[u8], origin: &Path) -> Result<(String, crate::interp::Tensor)> {
    use prost::Message;
    let t = proto::TensorProto::decode(bytes).map_err(|e| Error::Format {
        file: origin.to_path_buf(),
        reason: format!("not a valid TensorProto: {e}"),
    })?;
    let d = tensor::decode(&t, origin.parent())?;
    let (ty, data) = match (d.shift, d.data) {
        (0, data) => (d.ty, data),
        (s, crate::data::Data::I64(v)) => (
            crate::data::TensorType::new(crate::DType::I32, d.ty.shape),
            crate::data::Data::I64(v.into_iter().map(|x| x + s).collect()),
        ),
        (_, data) => (d.ty, data),
    };
    let tensor = crate::interp::Tensor::from_data(&ty, &data)?;
    Ok((t.name.unwrap_or_default(), tensor))
}

/// Export `graph` as an ONNX model file (written atomically).
pub fn export(graph: &Graph, path: &Path) -> Result<()> {
    let bytes = export_bytes(graph)?;
    let io = |source| Error::Io {
        file: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
