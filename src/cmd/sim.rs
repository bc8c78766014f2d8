//! `triad sim`: run a program (any form) on an arch's engines, cycle by cycle, and
//! report where the time and the energy went: total time, per-engine busy / stalled /
//! idle, DRAM bandwidth and row hits, energy by component and per label. A table by
//! default, `--json` for scripts, `--trace FILE` for a Chrome / Perfetto timeline,
//! `--check` to replay the DRAM command log through the timing checker.

use std::path::PathBuf;

use anyhow::{Context, bail};
use triad_isa::{Arch, Program};
use triad_sim::{SimOptions, SimReport, simulate, write_chrome_trace};

/// Arguments of `triad sim`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Program to run (`.tasm`, `.tbin` or `.json`).
    input: PathBuf,
    /// Arch preset name or TOML file; default: the arch named in the program's metadata.
    #[arg(long, value_name = "NAME|FILE")]
    arch: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write a Chrome trace-event file (open it in https://ui.perfetto.dev).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Check every DRAM command against the arch's timing rules (keeps the command log).
    #[arg(long)]
    check: bool,
    /// Functional mode: also compute real values (buffers start from their `.init`;
    /// `file=` paths resolve next to the program). Timing is identical without it.
    #[arg(long)]
    functional: bool,
    /// With --functional: write each of the program's `.output` tensors to DIR/NAME.npy.
    #[arg(
        short = 'o',
        long,
        alias = "out",
        value_name = "DIR",
        requires = "functional"
    )]
    output: Option<PathBuf>,
}

/// Run `triad sim`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let program = Program::load(&args.input)?;
    let spec = super::asm::program_arch(&program, args.arch.as_deref(), &args.input)?;
    let arch = Arch::load(&spec).with_context(|| format!("loading arch `{}`", spec.display()))?;
    let base = args
        .input
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let opts = SimOptions {
        check: args.check,
        trace: args.trace.is_some(),
        functional: args.functional.then_some(base),
        ..SimOptions::default()
    };
    let out = simulate(&program, &arch, &opts)
        .with_context(|| format!("simulating `{}` on `{}`", args.input.display(), arch.name))?;
    if let (Some(path), Some(trace)) = (&args.trace, &out.trace) {
        write_chrome_trace(trace, path).with_context(|| format!("writing `{}`", path.display()))?;
    }
    if let (Some(dir), Some(data)) = (&args.output, &out.data) {
        write_outputs(&program, data, dir)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out.report)?);
    } else {
        print!("{}", table(&out.report));
    }
    if let Some(n) = out.report.timing_violations
        && n > 0
    {
        let message = format!("the DRAM timing checker found {n} violations");
        if args.json {
            return Err(super::Reported(message).into());
        }
        bail!(message);
    }
    Ok(())
}

/// Writes every `.output` port of `program` from the final memory `data` to
/// `dir/NAME.npy` (characters outside `[A-Za-z0-9._-]` become `_`).
fn write_outputs(
    program: &Program,
    data: &triad_sim::DataMemory,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    use triad_compiler::{Tensor, onnx::npy::write_npy};
    use triad_isa::Values;
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    if program.outputs.is_empty() {
        bail!("the program declares no `.output`; nothing to write");
    }
    for port in &program.outputs {
        let buf = program
            .buffer(port.buf)
            .with_context(|| format!("output `{}` names a missing buffer", port.name))?;
        let shape: Vec<usize> = buf.shape.iter().map(|&d| d as usize).collect();
        let n: usize = shape.iter().product();
        let bytes = data.buffer_bytes(program, port.buf)?;
        let values = Values::from_bytes(buf.dtype, &bytes, n)
            .with_context(|| format!("output `{}`: buffer shorter than its shape", port.name))?;
        let t = match values {
            Values::F32(v) => Tensor::from_f32s(buf.dtype, &shape, v)?,
            Values::I64(v) => Tensor::from_i64s(buf.dtype, &shape, v)?,
            Values::Bool(v) => {
                Tensor::from_i64s(buf.dtype, &shape, v.into_iter().map(i64::from).collect())?
            }
        };
        let file: String = port
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{file}.npy"));
        write_npy(&path, &t).with_context(|| format!("writing `{}`", path.display()))?;
    }
    Ok(())
}

/// The report as a plain-text table.
fn table(r: &SimReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} on {}: {:.3} us ({} ps), {} events",
        if r.model.is_empty() {
            "program"
        } else {
            &r.model
        },
        r.arch,
        r.total_ps as f64 * 1e-6,
        r.total_ps,
        r.events
    );
    let _ = writeln!(
        s,
        "\n{:<10} {:>8} {:>8} {:>8} {:>8} {:>14} {:>12}",
        "engine", "insns", "busy%", "stall%", "idle%", "ops", "DRAM bytes"
    );
    let pct = |x: u64| {
        if r.total_ps == 0 {
            0.0
        } else {
            100.0 * x as f64 / r.total_ps as f64
        }
    };
    for e in &r.engines {
        let _ = writeln!(
            s,
            "{:<10} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>14} {:>12}",
            e.engine,
            e.instructions,
            pct(e.busy_ps),
            pct(e.stalled_ps),
            pct(e.idle_ps),
            e.ops,
            e.dram_read_bytes + e.dram_write_bytes
        );
    }
    let d = &r.dram;
    let _ = writeln!(
        s,
        "\nDRAM: {} reads, {} writes, {} B, {:.2} GB/s of {:.2} GB/s peak, row hits {:.1}%, {} PIM requests",
        d.reads,
        d.writes,
        d.bytes,
        d.bandwidth_gb_per_s,
        d.peak_bandwidth_gb_per_s,
        100.0 * d.row_hit_rate,
        d.pim_requests
    );
    let _ = writeln!(s, "\nenergy            uJ       share");
    let total = r.energy.total_pj;
    for (name, pj) in r.energy.parts() {
        let share = if total > 0.0 { 100.0 * pj / total } else { 0.0 };
        let _ = writeln!(s, "{name:<12} {:>12.4} {:>9.1}%", pj * 1e-6, share);
    }
    let _ = writeln!(s, "{:<12} {:>12.4}", "total", total * 1e-6);
    if !r.labels.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<24} {:>8} {:>14} {:>14} {:>14} {:>12} {:>12}",
            "label", "insns", "busy ps", "busiest ps", "span ps", "energy uJ", "DRAM bytes"
        );
        for (name, l) in &r.labels {
            let _ = writeln!(
                s,
                "{name:<24} {:>8} {:>14} {:>14} {:>14} {:>12.4} {:>12}",
                l.instructions,
                l.busy_ps,
                l.engine_busy_ps.values().max().copied().unwrap_or(0),
                l.end_ps - l.start_ps,
                l.energy_pj * 1e-6,
                l.dram_bytes
            );
        }
    }
    if let Some(n) = r.timing_violations {
        let _ = writeln!(s, "\nDRAM timing check: {n} violations");
    }
    s
}
