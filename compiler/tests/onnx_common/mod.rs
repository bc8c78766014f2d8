//! Shared helpers of the ONNX integration tests: fixture paths, `.npy` inputs and
//! output comparison with stated tolerances.

#![allow(dead_code)]

pub mod int8_model;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use triad_compiler::onnx::npy;
use triad_compiler::{Array, Graph, Tensor};

/// `tests/fixtures/onnx/<sub>` in the workspace.
pub fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/onnx")
        .join(sub)
}

/// `name=value` lines of `dims.txt`.
pub fn read_dims(dir: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(dir.join("dims.txt")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().parse().expect("dim value")))
        .collect()
}

/// Files `prefix*.npy` of `dir`, keyed by the name after the prefix.
pub fn read_npys(dir: &Path, prefix: &str) -> BTreeMap<String, Tensor> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("fixture dir") {
        let p = e.expect("entry").path();
        let f = p.file_name().unwrap().to_string_lossy().to_string();
        if let Some(name) = f.strip_prefix(prefix).and_then(|f| f.strip_suffix(".npy")) {
            out.insert(name.to_string(), npy::read_npy(&p).expect("npy"));
        }
    }
    out
}

/// Inputs converted to the graph's input types.
pub fn feed(g: &Graph, given: &BTreeMap<String, Tensor>) -> BTreeMap<String, Tensor> {
    g.inputs()
        .into_iter()
        .map(|id| {
            let v = &g.node(id).outputs[0];
            let t = given
                .get(&v.name)
                .unwrap_or_else(|| panic!("no input {}", v.name));
            (
                v.name.clone(),
                npy::convert(t, &v.ty, &v.name).expect("input fits"),
            )
        })
        .collect()
}

/// Largest difference between two tensors (numbers compared as f64; NaN equals NaN;
/// a shape mismatch is infinite).
pub fn max_abs_diff(got: &Tensor, want: &Tensor) -> f64 {
    if got.shape() != want.shape() {
        return f64::INFINITY;
    }
    let vals = |t: &Tensor| -> Vec<f64> {
        match &t.array {
            Array::F32(a) => a.iter().map(|&x| x as f64).collect(),
            Array::I64(a) => a.iter().map(|&x| x as f64).collect(),
            Array::Bool(a) => a.iter().map(|&x| x as u8 as f64).collect(),
        }
    };
    vals(got)
        .iter()
        .zip(vals(want))
        .map(|(a, b)| {
            if a.is_nan() && b.is_nan() || a == &b {
                0.0
            } else {
                (a - b).abs()
            }
        })
        .fold(0.0, f64::max)
}

/// Largest magnitude in a tensor.
pub fn max_abs(t: &Tensor) -> f64 {
    match &t.array {
        Array::F32(a) => a.iter().map(|x| x.abs() as f64).fold(0.0, f64::max),
        Array::I64(a) => a.iter().map(|x| x.abs() as f64).fold(0.0, f64::max),
        Array::Bool(_) => 1.0,
    }
}
