//! `.npy` of arbitrary bytes: an error or a tensor that writes back, never a panic.
#![no_main]
use std::path::Path;
use triad_compiler::Data;
use triad_compiler::onnx::npy;

/// Equal values, NaN equal to NaN.
fn same(a: &Data, b: &Data) -> bool {
    match (a, b) {
        (Data::F32(x), Data::F32(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
        }
        _ => a == b,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(t) = npy::read_npy_bytes(data, Path::new("fuzz.npy")) {
        let bytes = npy::write_npy_bytes(&t).expect("a read tensor writes");
        let again = npy::read_npy_bytes(&bytes, Path::new("again.npy")).expect("re-reads");
        assert_eq!((again.dtype, again.shape()), (t.dtype, t.shape()));
        assert!(
            same(&again.to_data(), &t.to_data()),
            "values change in a round trip"
        );
    }
});
