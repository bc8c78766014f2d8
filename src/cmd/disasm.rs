//! `triad disasm`: print a program (`.tbin`, JSON, or `.tasm`) as canonical text
//! assembly, to stdout or, with `-o`, atomically to a file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use triad_isa::Program;

/// Arguments of `triad disasm`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Program to print (`.tbin`, `.json` or `.tasm`; detected by magic, then extension).
    input: PathBuf,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Run `triad disasm`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let program = Program::load(&args.input)?;
    let text = program.to_text();
    match &args.output {
        Some(out) => triad_compiler::json::write_atomic(out, text.as_bytes())
            .with_context(|| format!("writing `{}`", out.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to stdout")?,
    }
    Ok(())
}
