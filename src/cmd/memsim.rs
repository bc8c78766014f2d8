//! `triad memsim`: run a DRAMsim3-format memory trace (`0xADDR READ|WRITE CYCLE`, plus
//! `PIM <cycle> <channel|*> <pim.* instruction>` lines) on
//! an arch's cycle-accurate DRAM model and print total cycles, time, achieved
//! bandwidth (against the pin peak and the peak the command spacing allows), read
//! latency, row-buffer hit rate and energy, as text or JSON. One trace line is one
//! burst of the arch (bus bytes x burst length: 64 B on hbm2, 32 B on lpddr5 and
//! hbm3, 256 B on gddr6), as in DRAMsim3.

use anyhow::Context;
use clap::ValueEnum;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use triad_isa::Arch;
use triad_sim::{IssueRate, MemStats, MemoryOptions, check, read_trace_for, run_requests};

/// How fast trace requests enter the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Rate {
    /// At the cycle each line names.
    Trace,
    /// As fast as the queues take them.
    Unlimited,
}

/// Arguments of `triad memsim`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Trace file, one `<hex address> <READ|WRITE> <cycle>` or
    /// `PIM <cycle> <channel|*> <pim.* instruction>` per line. Each address line is
    /// one burst of the arch (bus bytes x burst length, e.g. 64 B on hbm2, 32 B on
    /// lpddr5 / hbm3, 256 B on gddr6), not a cache line; the cycle is in the DRAM
    /// command clock.
    #[arg(required_unless_present = "trace_flag", value_name = "TRACE")]
    input: Option<PathBuf>,
    /// The trace file by its former flag (hidden; the positional form is the convention).
    #[arg(
        long = "trace",
        hide = true,
        conflicts_with = "input",
        value_name = "TRACE"
    )]
    trace_flag: Option<PathBuf>,
    /// Preset name (see `triad archs`) or path to an arch TOML file.
    #[arg(long, default_value = "lpddr5")]
    arch: PathBuf,
    /// Simulate the DRAM only: PIM disabled and its static power not charged.
    #[arg(long)]
    dram_only: bool,
    /// Request issue rate.
    #[arg(long, value_enum, default_value_t = Rate::Trace)]
    issue_rate: Rate,
    /// Replay the command log through the independent timing checker; fail on a violation.
    #[arg(long)]
    check: bool,
    /// Print the report as JSON (including per-channel and per-bank counters).
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand, printing to stdout.
pub fn run(args: Args) -> anyhow::Result<()> {
    let arch =
        Arch::load(&args.arch).with_context(|| format!("loading arch {}", args.arch.display()))?;
    let Some(trace) = args.input.as_ref().or(args.trace_flag.as_ref()) else {
        anyhow::bail!("give the trace file: triad memsim TRACE");
    };
    let reqs = read_trace_for(trace, &arch)
        .with_context(|| format!("reading trace `{}`", trace.display()))?;
    let rate = match args.issue_rate {
        Rate::Trace => IssueRate::Trace,
        Rate::Unlimited => IssueRate::Unlimited,
    };
    let opts = MemoryOptions {
        record_log: args.check,
        pim: !args.dram_only,
    };
    let out = run_requests(&arch, &reqs, rate, opts)
        .with_context(|| format!("simulating {} on {}", trace.display(), arch.name))?;
    if let Some(log) = &out.log {
        let v = check(&arch, log, out.stats.total_cycles);
        if let Some(first) = v.first() {
            anyhow::bail!("timing checker: {} violations, first: {first}", v.len());
        }
    }
    let report = if args.json {
        serde_json::to_string_pretty(&out.stats)? + "\n"
    } else {
        text(&out.stats, args.check)?
    };
    // A closed pipe (`| head`) is not an error worth a panic or a message.
    match std::io::stdout().lock().write_all(report.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn text(s: &MemStats, checked: bool) -> Result<String, std::fmt::Error> {
    let mut o = String::new();
    let e = &s.energy;
    let nj = |x: triad_isa::PicoJoules| x.0 / 1000.0;
    writeln!(o, "arch               {}", s.arch)?;
    writeln!(
        o,
        "requests           {} reads, {} writes",
        s.reads, s.writes
    )?;
    writeln!(o, "total cycles       {}", s.total_cycles.0)?;
    writeln!(o, "time               {:.3} us", s.time_ps.0 as f64 / 1e6)?;
    writeln!(
        o,
        "bandwidth          {:.2} GB/s ({:.1}% of {:.1} GB/s reachable, {:.1} GB/s pin peak)",
        s.bandwidth_gb_per_s,
        100.0 * s.bandwidth_gb_per_s / s.reachable_bandwidth_gb_per_s.max(f64::MIN_POSITIVE),
        s.reachable_bandwidth_gb_per_s,
        s.peak_bandwidth_gb_per_s
    )?;
    writeln!(
        o,
        "read latency       avg {:.2}, min {}, max {} cycles",
        s.read_latency.avg, s.read_latency.min.0, s.read_latency.max.0
    )?;
    writeln!(o, "row-buffer hits    {:.2}%", 100.0 * s.row_hit_rate)?;
    let cmds: Vec<String> = s.commands.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(o, "commands           {}", cmds.join(", "))?;
    writeln!(
        o,
        "energy             {:.3} nJ (act {:.3}, pre {:.3}, rd {:.3}, wr {:.3}, ref {:.3}, io {:.3}, pim {:.3}, background {:.3})",
        nj(e.total),
        nj(e.act),
        nj(e.pre),
        nj(e.rd),
        nj(e.wr),
        nj(e.refresh),
        nj(e.io),
        nj(e.pim_mac + e.pim_ewop + e.pim_buffer + e.pim_af),
        nj(e.background_dram + e.background_pim)
    )?;
    if checked {
        writeln!(o, "timing checker     no violations")?;
    }
    Ok(o)
}
