//! Arch TOML of arbitrary text: an error or a validated arch, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(arch) = triad_isa::Arch::from_toml_str(text, "fuzz.toml") {
        // What is written back reads back equal.
        let again = triad_isa::Arch::from_toml_str(&arch.to_toml_string(), "again.toml")
            .expect("a valid arch re-reads");
        assert_eq!(again, arch);
    }
});
