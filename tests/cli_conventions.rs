//! The conventions every `triad` subcommand keeps (README, "Conventions"): the main
//! output path is `-o/--output`, `--json` prints the command's report as JSON on
//! stdout and, on failure, an `{"error": ...}` object there with a non-zero exit;
//! JSON numbers are numbers; a phase a model does not take is refused by name.

mod common;
use common::{fails, ok, triad};
use serde_json::Value;

/// The subcommands `triad --help` lists.
fn subcommands() -> Vec<String> {
    let help = ok(&["--help"]);
    let list = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .split("Options:")
        .next()
        .unwrap();
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 11, "{names:?}");
    names
}

#[test]
fn every_output_path_is_dash_o() {
    // The commands that write files.
    let writers = ["graph", "compile", "asm", "disasm", "eval", "sim"];
    for cmd in subcommands() {
        let help = ok(&[&cmd, "--help"]);
        if writers.contains(&cmd.as_str()) {
            assert!(
                help.contains("-o, --output <"),
                "{cmd}: no -o/--output\n{help}"
            );
        }
        // No other spelling of an output path.
        for other in ["--out <", "--out-dir", "--output-dir", "--outdir"] {
            assert!(!help.contains(other), "{cmd} has `{other}`\n{help}");
        }
        // `--json` means the report as JSON, never a file form.
        if let Some(line) = help.lines().find(|l| l.trim_start().starts_with("--json")) {
            let next = help
                .lines()
                .skip_while(|l| !l.trim_start().starts_with("--json"))
                .nth(1)
                .unwrap_or_default();
            let text = format!("{line} {next}");
            assert!(
                text.contains("JSON") && (text.contains("report") || text.contains("list")),
                "{cmd}: --json is not the report as JSON: {text}"
            );
        }
    }
}

#[test]
fn report_commands_take_json() {
    for cmd in ["archs", "models", "graph", "verify", "sim", "memsim", "run"] {
        let help = ok(&[cmd, "--help"]);
        assert!(help.contains("--json"), "{cmd} has no --json\n{help}");
    }
}

/// Run a failing command under `--json`: stdout is one JSON object naming `what`.
fn json_error(args: &[&str], what: &str) {
    let out = triad(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {:?}", out.stdout));
    let msg = v["error"].as_str().expect("an error message");
    assert!(
        msg.contains(what),
        "{args:?}: `{msg}` does not name `{what}`"
    );
    assert!(v["causes"].is_array(), "{v}");
}

#[test]
fn errors_under_json_are_json_on_stdout() {
    json_error(&["verify", "/nonexistent/p.tasm", "--json"], "p.tasm");
    json_error(&["sim", "/nonexistent/p.tasm", "--json"], "p.tasm");
    json_error(&["memsim", "/nonexistent/t.trc", "--json"], "t.trc");
    json_error(&["archs", "show", "no-such-soc", "--json"], "no-such-soc");
    json_error(
        &["graph", "--model", "gpt5", "--phase", "decode:1", "--json"],
        "gpt5",
    );
    json_error(&["run", "--arch", "no-such-soc", "--json"], "no-such-soc");
    // An argument error too (exit 2, as clap's).
    json_error(&["models", "--json", "--bogus"], "--bogus");
    let out = triad(&["models", "--json", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    // Without --json, stdout stays empty on failure.
    let out = triad(&["verify", "/nonexistent/p.tasm"]);
    assert!(out.stdout.is_empty());
}

#[test]
fn archs_lists_as_json() {
    let v: Value = serde_json::from_str(&ok(&["archs", "--json"])).unwrap();
    let rows = v.as_array().expect("a list");
    let text = ok(&["archs"]);
    assert_eq!(rows.len(), text.lines().count());
    for r in rows {
        let name = r["name"].as_str().unwrap();
        assert!(text.lines().any(|l| l.starts_with(name)), "{name}");
        let shown: Value = serde_json::from_str(&ok(&["archs", "show", name, "--json"])).unwrap();
        assert_eq!(shown["arch"]["name"], name);
        assert_eq!(shown["arch"]["description"], r["description"]);
    }
}

#[test]
fn memsim_json_keys_carry_units() {
    // memsim: latency in named cycles, energy in pJ (one read: ACT + RD, no write).
    let dir = std::env::temp_dir().join(format!("triad-cli-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("one.trc");
    std::fs::write(&trace, "0x0 READ 0\n").unwrap();
    let t = trace.to_str().unwrap();
    let m: Value = serde_json::from_str(&ok(&["memsim", t, "--arch", "hbm2", "--json"])).unwrap();
    for k in ["avg_cycles", "min_cycles", "max_cycles"] {
        assert!(
            m["read_latency"][k].is_number(),
            "{k}: {}",
            m["read_latency"]
        );
    }
    let e = m["energy"].as_object().unwrap();
    assert!(e.keys().all(|k| k.ends_with("_pj")), "{e:?}");
    assert!(m["energy"]["act_pj"].as_f64().unwrap() > 0.0);
    assert_eq!(m["energy"]["wr_pj"].as_f64(), Some(0.0));
    // The former `--trace FILE` spelling is the same run.
    assert_eq!(
        ok(&["memsim", "--trace", t, "--arch", "hbm2", "--json"]),
        ok(&["memsim", t, "--arch", "hbm2", "--json"])
    );
}

#[test]
fn a_phase_the_model_does_not_take_is_refused() {
    for phase in ["decode:16", "verify:3/kv:8", "prefill:16/chunk:4"] {
        for cmd in ["graph", "run"] {
            let err = fails(&[cmd, "--model", "tiny-bert", "--phase", phase]);
            assert!(
                err.contains("tiny-bert") && err.contains(phase) && err.contains("encoder"),
                "{cmd} {phase}: {err}"
            );
        }
    }
    // Prefill is what an encoder does.
    ok(&["graph", "--model", "tiny-bert", "--phase", "prefill:16"]);
}
