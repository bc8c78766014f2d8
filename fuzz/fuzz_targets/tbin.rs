//! Binary programs (`.tbin`) of arbitrary bytes: an error or a program, never a panic.
#![no_main]
use triad_isa::Program;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Program::from_bytes(data) {
        let again = Program::from_bytes(&p.to_bytes()).expect("re-encoded binary decodes");
        assert_eq!(again, p);
    }
});
