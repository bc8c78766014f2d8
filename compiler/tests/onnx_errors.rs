//! The broken-file corpus (tests/fixtures/onnx/broken, made by make_fixtures.py):
//! each file must give its typed error, naming the node, tensor or file, and never
//! panic. Plus byte-level fuzzing of a valid model: truncations and bit flips give
//! errors or graphs, never panics.

mod onnx_common;

use std::collections::BTreeMap;

use onnx_common::fixtures;
use proptest::prelude::*;
use triad_compiler::Error;
use triad_compiler::onnx::{import, import_bytes};

fn err(file: &str) -> Error {
    import(&fixtures("broken").join(file), &BTreeMap::new()).expect_err(file)
}

#[test]
fn valid_control_imports() {
    let g = import(&fixtures("broken").join("valid.onnx"), &BTreeMap::new()).unwrap();
    assert_eq!(g.outputs().len(), 1);
}

#[test]
fn truncated_protobuf_is_a_format_error() {
    let e = err("truncated.onnx");
    assert!(matches!(e, Error::Format { .. }), "{e}");
    assert!(e.to_string().contains("truncated.onnx"), "{e}");
    let e = err("not_onnx.onnx");
    assert!(matches!(e, Error::Format { .. }), "{e}");
}

#[test]
fn wrong_data_size_names_the_tensor() {
    let e = err("wrong_dtype_size.onnx");
    let Error::Initializer { name, reason } = &e else {
        panic!("{e}")
    };
    assert_eq!(name, "w");
    // 5 floats = 20 bytes given, [2, 3] needs 24.
    assert!(
        reason.contains("20 bytes") && reason.contains("24"),
        "{reason}"
    );
}

#[test]
fn cycle_names_a_node_on_it() {
    let e = err("cycle.onnx");
    let Error::Cycle { node } = &e else {
        panic!("{e}")
    };
    assert!(
        ["add_a", "relu_b", "out"].contains(&node.as_str()),
        "{node}"
    );
}

#[test]
fn unknown_ops_are_listed_once_with_counts() {
    let e = err("unknown_op.onnx");
    let Error::UnsupportedOps { list, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(
        list,
        "FancyOp x2 (first node `fancy_1`), Hardmax x1 (first node `hardmax_1`)"
    );
}

#[test]
fn missing_external_data_names_the_file() {
    let e = err("missing_external.onnx");
    let Error::ExternalData { tensor, file, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(tensor, "w");
    assert!(file.ends_with("missing_weights.bin"), "{}", file.display());
}

#[test]
fn undefined_value_names_the_node() {
    let e = err("dangling.onnx");
    let Error::Dangling { node, slot, value } = &e else {
        panic!("{e}")
    };
    assert_eq!(
        (node.as_str(), *slot, value.as_str()),
        ("add_dangling", 1, "nowhere")
    );
}

#[test]
fn unbound_dim_names_input_and_dim() {
    let e = err("unbound_dim.onnx");
    let Error::UnboundDim { input, dim } = &e else {
        panic!("{e}")
    };
    assert_eq!((input.as_str(), dim.as_str()), ("x", "batch"));
    let dims = BTreeMap::from([("batch".to_string(), 4)]);
    let g = import(&fixtures("broken").join("unbound_dim.onnx"), &dims).unwrap();
    assert_eq!(g.ty(g.outputs()[0]).shape, [4, 3]);
}

#[test]
fn type_mismatch_names_the_node() {
    let e = err("type_mismatch.onnx");
    let Error::Type { node, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(node, "add_mixed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn corrupted_models_never_panic(cut in 0usize..2000, flips in proptest::collection::vec((0usize..4000, 0u8..8), 0..4)) {
        let bytes = std::fs::read(fixtures("models").join("tiny_bert").join("model.onnx")).unwrap();
        let mut b = bytes[..cut.min(bytes.len())].to_vec();
        if cut % 2 == 0 {
            b = bytes.clone();
        }
        let n = b.len();
        for (pos, bit) in flips {
            if n > 0 {
                b[pos % n] ^= 1 << bit;
            }
        }
        let dims = BTreeMap::from([("batch".to_string(), 1), ("sequence".to_string(), 3)]);
        let _ = import_bytes(&b, std::path::Path::new("fuzz.onnx"), &dims);
    }
}
