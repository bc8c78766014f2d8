//! Helpers: assemble a program and run it.

use triad_isa::{Arch, Program};
use triad_sim::{SimOptions, SimOutput, SimReport, simulate};

/// Assembles `text`.
pub fn program(text: &str) -> Program {
    Program::from_text(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A preset by name.
pub fn arch(name: &str) -> Arch {
    Arch::preset(name).unwrap()
}

/// Runs `text` on `arch` with the checker on; panics on error.
pub fn run(arch: &Arch, text: &str) -> SimReport {
    run_with(
        arch,
        text,
        SimOptions {
            check: true,
            ..SimOptions::default()
        },
    )
    .report
}

/// Runs `text` on `arch` with `opts`.
pub fn run_with(arch: &Arch, text: &str, opts: SimOptions) -> SimOutput {
    simulate(&program(text), arch, &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// The report entry of `engine`.
pub fn engine<'a>(r: &'a SimReport, engine: &str) -> &'a triad_sim::EngineReport {
    r.engines
        .iter()
        .find(|e| e.engine == engine)
        .unwrap_or_else(|| panic!("no engine {engine}"))
}
