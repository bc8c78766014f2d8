//! `triad asm`: assemble a program (`.tasm`, or any form) into the compact binary
//! `.tbin` or, with `--format json` or a `.json` output name, into JSON. Optionally verifies
//! it against an arch first. The output is written atomically (temporary sibling,
//! then rename), so a failed run never leaves a half-written file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use triad_isa::{Arch, Format, Program};

/// Arguments of `triad asm`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Program to assemble (`.tasm`; `.tbin` and `.json` are accepted too).
    input: PathBuf,
    /// Output file; default: the input with extension `.tbin` (`.json` with
    /// `--format json`).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The file's form; default: what `-o`'s extension names, else `tbin`.
    #[arg(long, value_enum, value_name = "FORM")]
    format: Option<AsmFormat>,
    /// Verify against this arch (preset name or TOML file) before writing.
    #[arg(long, value_name = "NAME|FILE")]
    arch: Option<PathBuf>,
}

/// The forms `triad asm` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AsmFormat {
    /// Compact binary `.tbin`.
    Tbin,
    /// JSON.
    Json,
}

/// The output path and form for `args`.
fn output(args: &Args) -> anyhow::Result<(PathBuf, Format)> {
    let json = args.format == Some(AsmFormat::Json);
    let default = if json { Format::Json } else { Format::Binary };
    match &args.output {
        None => {
            let ext = if json { "json" } else { "tbin" };
            let out = args.input.with_extension(ext);
            if out == args.input {
                bail!(
                    "output would overwrite the input `{}`; give -o",
                    args.input.display()
                );
            }
            Ok((out, default))
        }
        Some(p) => match Format::from_extension(p) {
            Some(Format::Text) => bail!(
                "`{}`: asm writes .tbin or .json; use `triad disasm` for text",
                p.display()
            ),
            Some(Format::Json) if args.format == Some(AsmFormat::Tbin) => {
                bail!("`{}`: --format tbin needs a .tbin name", p.display())
            }
            Some(Format::Json) => Ok((p.clone(), Format::Json)),
            Some(Format::Binary) if json => {
                bail!("`{}`: --format json needs a .json name", p.display())
            }
            _ => Ok((p.clone(), default)),
        },
    }
}

/// The arch a program runs on: `--arch` if given, else the one its `.meta arch=`
/// names (a preset name or a TOML path); `input` names the program in the error.
pub fn program_arch(
    program: &Program,
    arch: Option<&Path>,
    input: &Path,
) -> anyhow::Result<std::path::PathBuf> {
    match (arch, program.meta.arch.as_str()) {
        (Some(a), _) => Ok(a.to_path_buf()),
        (None, "") => bail!(
            "`{}` names no arch in its metadata; give --arch NAME|FILE",
            input.display()
        ),
        (None, named) => Ok(std::path::PathBuf::from(named)),
    }
}

/// Verify `program` against the arch `spec` (a preset name or TOML file).
pub fn verify_against(program: &Program, spec: &Path) -> anyhow::Result<triad_isa::VerifyReport> {
    let arch = Arch::load(spec).with_context(|| format!("loading arch `{}`", spec.display()))?;
    Ok(triad_isa::verify(program, &arch)?)
}

/// Run `triad asm`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let program = Program::load(&args.input)?;
    if let Some(spec) = &args.arch {
        verify_against(&program, spec)
            .with_context(|| format!("verifying `{}`", args.input.display()))?;
    }
    let (out, format) = output(&args)?;
    let bytes = program.encode(format)?;
    triad_compiler::json::write_atomic(&out, &bytes)
        .with_context(|| format!("writing `{}`", out.display()))?;
    eprintln!(
        "wrote {} ({} bytes: {} buffers, {} streams, {} instructions)",
        out.display(),
        bytes.len(),
        program.buffers.len(),
        program.streams.len(),
        program.insn_count()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(input: &str, output: Option<&str>, json: bool) -> Args {
        Args {
            input: PathBuf::from(input),
            output: output.map(PathBuf::from),
            format: json.then_some(AsmFormat::Json),
            arch: None,
        }
    }

    #[test]
    fn output_name_and_form() {
        let o = |i, o, j| output(&args(i, o, j)).map_err(|e| e.to_string());
        assert_eq!(
            o("a/p.tasm", None, false).unwrap(),
            (PathBuf::from("a/p.tbin"), Format::Binary)
        );
        assert_eq!(
            o("p.tasm", None, true).unwrap(),
            (PathBuf::from("p.json"), Format::Json)
        );
        assert_eq!(
            o("p.tasm", Some("q.json"), false).unwrap(),
            (PathBuf::from("q.json"), Format::Json)
        );
        assert_eq!(
            o("p.tasm", Some("q.bin"), false).unwrap(),
            (PathBuf::from("q.bin"), Format::Binary)
        );
        assert!(
            o("p.tasm", Some("q.tasm"), false)
                .unwrap_err()
                .contains("triad disasm")
        );
        assert!(
            o("p.tasm", Some("q.tbin"), true)
                .unwrap_err()
                .contains("--format json needs a .json name")
        );
        assert!(
            o("p.tbin", None, false)
                .unwrap_err()
                .contains("overwrite the input")
        );
    }
}
