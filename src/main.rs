//! The `triad` command line: one subcommand per job (see `triad --help`).
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses the
//! arguments and dispatches. Errors reach the user through `anyhow` with their full
//! context chain and a non-zero exit code.

mod cmd;
mod plot;
pub mod run;
mod sweep;

use std::process::ExitCode;

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
    /// Run a DRAMsim3-format memory trace on an arch's cycle-accurate DRAM model.
    Memsim(cmd::memsim::Args),
    /// List the embedded machine descriptions, or show one with derived figures.
    Archs(cmd::archs::Args),
    /// List the model zoo (name, family, parameters, layers, heads, experts).
    Models(cmd::models::Args),
    /// Build a model step's graph and print its statistics, JSON or Graphviz DOT.
    Graph(cmd::graph::Args),
    /// Compile a model step, ONNX file or graph JSON into a program for an arch.
    Compile(cmd::compile::Args),
    /// Assemble a program (.tasm) into binary .tbin or JSON.
    Asm(cmd::asm::Args),
    /// Print a program (.tbin, JSON or .tasm) as text assembly.
    Disasm(cmd::disasm::Args),
    /// Verify a program against an arch (ranges, overlaps, dtypes, engines, semaphores).
    Verify(cmd::verify::Args),
    /// Run a program on an arch's engines cycle by cycle: time, energy, timeline.
    Sim(cmd::sim::Args),
    /// Compile a model step for an arch, simulate it and report per token: throughput,
    /// latency, energy and its breakdown, placement, engines, DRAM bandwidth.
    Run(cmd::run::Args),
    /// Run the reference interpreter on an ONNX file, zoo model or graph JSON with
    /// .npy inputs; write every output as DIR/NAME.npy.
    Eval(cmd::eval::Args),
    /// Draw an SVG plot: roofline, energy breakdown, Pareto front or per-engine Gantt.
    Plot(cmd::plot::Args),
    /// Run every point of a design-space sweep (arch fields, models, phases,
    /// compiler options) in parallel; results as CSV and JSON lines.
    Explore(cmd::explore::Args),
}

/// Prints an error and its causes (never a backtrace: users get the message, what
/// was expected and where) and exits non-zero.
///
/// Under `--json` the error is also printed on stdout as `{"error": MESSAGE,
/// "causes": [CAUSE, ...]}`, so a script reading stdout always gets JSON; argument
/// errors exit with 2, everything else with 1.
fn main() -> ExitCode {
    let json = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if json && e.use_stderr() => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let _ = e.print();
            print_json_error(first.trim_start_matches("error: "), &[]);
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut causes = Vec::new();
            let mut shown = e.to_string();
            for cause in e.chain().skip(1).map(|c| c.to_string()) {
                // Errors that print their source inline would repeat it.
                if !shown.ends_with(&cause) {
                    eprintln!("  caused by: {cause}");
                    causes.push(cause.clone());
                }
                shown = cause;
            }
            if json && e.downcast_ref::<cmd::Reported>().is_none() {
                print_json_error(&e.to_string(), &causes);
            }
            ExitCode::FAILURE
        }
    }
}

/// The error as JSON on stdout (`--json`).
fn print_json_error(message: &str, causes: &[String]) {
    let v = serde_json::json!({ "error": message, "causes": causes });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Memsim(args) => cmd::memsim::run(args),
        Command::Archs(args) => cmd::archs::run(args),
        Command::Models(args) => cmd::models::run(args),
        Command::Graph(args) => cmd::graph::run(args),
        Command::Compile(args) => cmd::compile::run(args),
        Command::Asm(args) => cmd::asm::run(args),
        Command::Disasm(args) => cmd::disasm::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Plot(args) => cmd::plot::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Explore(args) => cmd::explore::run(args),
    }
}
