//! Memory traces of arbitrary text: an error or requests, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = triad_sim::parse_trace(text, "fuzz.trace");
});
