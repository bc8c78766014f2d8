//! `triad verify`: check a program (any form) against an arch — buffers in range and
//! not overlapping, operands in bounds with matching dtypes, engines present, every
//! wait matched by signals, no deadlock. Prints a summary (or JSON) and fails with
//! every problem listed.

use std::path::PathBuf;

use anyhow::Context;
use triad_isa::Program;

/// Arguments of `triad verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Program to verify (`.tasm`, `.tbin` or `.json`).
    input: PathBuf,
    /// Arch preset name or TOML file; default: the arch named in the program's metadata.
    #[arg(long, value_name = "NAME|FILE")]
    arch: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `triad verify`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let program = Program::load(&args.input)?;
    let spec = super::asm::program_arch(&program, args.arch.as_deref(), &args.input)?;
    let report = super::asm::verify_against(&program, &spec)
        .with_context(|| format!("verifying `{}`", args.input.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    println!(
        "{}: ok on arch `{}`: {}, {}; {} B of DRAM and {} B of scratchpad declared",
        args.input.display(),
        report.arch,
        plural(report.streams, "stream"),
        plural(report.insns, "instruction"),
        report.dram_bytes.0,
        report.spm_bytes.0
    );
    for w in &report.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
