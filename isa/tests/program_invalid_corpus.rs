//! The corpus of invalid programs in `tests/programs_invalid/`: each file says, in
//! its first lines, the error it must give:
//!
//! ```text
//! ; expect: <the complete error message>
//! ; arch: <preset>        (optional)
//! ```
//!
//! Without `; arch:` the file must fail to assemble with exactly that message (which
//! includes line and column). With it, the file must assemble and then fail
//! verification against the preset, listing that problem.

use std::path::Path;
use triad_isa::{Arch, Error, Program, verify};

/// The corpus must not silently shrink.
const MIN_FILES: usize = 40;

fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .take(2)
        .find_map(|l| l.strip_prefix(&format!("; {key}: ")))
}

#[test]
fn every_invalid_program_gives_its_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs_invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tasm"))
        .collect();
    files.sort();
    assert!(
        files.len() >= MIN_FILES,
        "only {} corpus files",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let expect =
            header(&text, "expect").unwrap_or_else(|| panic!("{name}: no `; expect:` line"));
        let got = match header(&text, "arch") {
            None => match Program::from_text(&text) {
                Ok(_) => "assembled without error".to_string(),
                Err(e @ Error::Asm { .. }) => e.to_string(),
                Err(e) => format!("not an assembly error: {e}"),
            },
            Some(arch) => {
                let arch = Arch::preset(arch).unwrap();
                match Program::from_text(&text).map(|p| verify(&p, &arch)) {
                    Err(e) => format!("did not assemble: {e}"),
                    Ok(Ok(_)) => "verified without error".to_string(),
                    Ok(Err(Error::Verify(problems))) => {
                        let list: Vec<String> =
                            problems.list.iter().map(|p| p.to_string()).collect();
                        if list.iter().any(|p| p == expect) {
                            continue;
                        }
                        list.join(" | ")
                    }
                    Ok(Err(e)) => format!("not a verification error: {e}"),
                }
            }
        };
        if got != expect {
            failures.push(format!("{name}:\n  expected: {expect}\n  got:      {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
