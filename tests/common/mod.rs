//! Running the built `triad` binary from integration tests.

use std::process::{Command, Output};

/// Run `triad` with `args`.
pub fn triad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triad"))
        .args(args)
        .output()
        .expect("the triad binary runs")
}

/// Run `triad`, assert success, return stdout.
pub fn ok(args: &[&str]) -> String {
    let out = triad(args);
    assert!(
        out.status.success(),
        "triad {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Run `triad`, assert a non-zero exit without a panic, return stderr.
pub fn fails(args: &[&str]) -> String {
    let out = triad(args);
    assert!(!out.status.success(), "triad {args:?} should fail");
    let err = String::from_utf8(out.stderr).expect("utf-8 errors");
    assert!(!err.contains("panicked"), "{err}");
    err
}
