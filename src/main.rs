//! The `triad` command line: one subcommand per job (see `triad --help`).
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses the
//! arguments and dispatches. Errors reach the user through `anyhow` with their full
//! context chain and a non-zero exit code.

mod cmd;

use clap::{Parser, Subcommand};

/// Triad: compile transformer workloads onto CPU + NPU + PIM SoCs and simulate them.
#[derive(Parser, Debug)]
#[command(name = "triad", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
    }
}
