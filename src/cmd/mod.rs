//! One module per `triad` subcommand.

pub mod archs;
pub mod asm;
pub mod compile;
pub mod disasm;
pub mod eval;
pub mod explore;
pub mod graph;
pub mod memsim;
pub mod models;
pub mod plot;
pub mod run;
pub mod sim;
pub mod source;
pub mod verify;

/// A failure whose report is already on stdout (`sim --json` with timing
/// violations): `main` exits non-zero without printing a JSON error after it.
#[derive(Debug)]
pub struct Reported(pub String);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Reported {}
