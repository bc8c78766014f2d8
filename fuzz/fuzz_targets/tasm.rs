//! Program text (`.tasm`) of arbitrary bytes: an error or a program, never a panic.
#![no_main]
use triad_isa::{Format, Program};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Program::decode(Format::Text, data) {
        // A parsed program prints and re-parses to the same program.
        let again = Program::from_text(&p.to_text()).expect("printed text re-parses");
        assert_eq!(again, p);
    }
});
