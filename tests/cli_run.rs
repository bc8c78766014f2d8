//! End-to-end runs of `triad run`: the report equals `triad compile` followed by
//! `triad sim` on the same step (an independent path through the CLI), the per-token
//! figures follow from the step's by their definitions (batch B decode: B tokens per
//! step), the report is deterministic, and a step an encoder does not take is refused.

mod common;
use common::{fails, ok, triad};
use serde_json::Value;

fn run_json(args: &[&str]) -> Value {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    a.push("--json");
    serde_json::from_str(&ok(&a)).expect("run --json prints JSON")
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("`{k}` is a number: {v}"))
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("`{k}` is a whole number: {v}"))
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-30),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn run_equals_compile_then_sim_and_counts_batch_tokens() {
    let step = [
        "--model",
        "tiny-gpt2",
        "--phase",
        "decode:4",
        "--batch",
        "3",
        "--arch",
        "mobile-soc",
    ];
    let r = run_json(&step);
    // The same step through `compile -o` and `sim --json`.
    let dir = std::env::temp_dir().join(format!("triad-cli-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prog = dir.join("step.tasm");
    let mut c = vec!["compile"];
    c.extend_from_slice(&step);
    c.extend_from_slice(&["-o", prog.to_str().unwrap()]);
    ok(&c);
    let sim: Value = serde_json::from_str(&ok(&["sim", prog.to_str().unwrap(), "--json"])).unwrap();

    assert_eq!(r["model"], "tiny-gpt2");
    assert_eq!(r["phase"], "decode:4");
    assert_eq!(r["batch"], 3);
    assert_eq!(r["dtype"], "f16");
    assert_eq!(r["arch"], "mobile-soc");
    assert_eq!(r["latency_kind"], "per_output_token");
    // Decode: one new token per sequence, 3 sequences.
    assert_eq!(u(&r, "tokens_per_step"), 3);
    let step_ps = u(&r, "step_ps");
    assert_eq!(step_ps, u(&sim, "total_ps"), "run and compile+sim agree");
    assert_eq!(u(&r, "latency_per_token_ps"), step_ps);
    close(
        f(&r, "tokens_per_s"),
        3.0 / (step_ps as f64 * 1e-12),
        "tokens/s",
    );
    let e_step = &r["energy_per_step"];
    close(
        f(e_step, "total_pj"),
        f(&sim["energy"], "total_pj"),
        "step energy",
    );
    close(
        f(&r, "energy_per_token_pj"),
        f(e_step, "total_pj") / 3.0,
        "energy per token",
    );
    let e_tok = &r["energy_per_token"];
    let parts: f64 = e_tok
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "total_pj")
        .map(|(_, v)| v.as_f64().unwrap())
        .sum();
    close(
        parts,
        f(e_tok, "total_pj"),
        "per-token parts sum to the total",
    );
    // Engines: busy share is busy over the step, in sim's stream order.
    let engines = r["engines"].as_array().unwrap();
    let sim_engines = sim["engines"].as_array().unwrap();
    assert_eq!(engines.len(), sim_engines.len());
    for (e, s) in engines.iter().zip(sim_engines) {
        assert_eq!(e["engine"], s["engine"]);
        assert_eq!(u(e, "busy_ps"), u(s, "busy_ps"));
        close(
            f(e, "busy_share"),
            u(s, "busy_ps") as f64 / step_ps as f64,
            "busy share",
        );
    }
    // DRAM: bandwidth = bytes over the step's time.
    let d = &r["dram"];
    assert_eq!(u(d, "bytes"), u(&sim["dram"], "bytes"));
    close(
        f(d, "bandwidth_gb_per_s"),
        u(d, "bytes") as f64 / (step_ps as f64 * 1e-12) / 1e9,
        "bandwidth",
    );
    close(
        f(d, "bandwidth_share"),
        f(d, "bandwidth_gb_per_s") / f(d, "peak_bandwidth_gb_per_s"),
        "bandwidth share",
    );
    // Placement: every op of the program counted once, on a target of the arch.
    let ops = r["placement"]["ops"].as_object().unwrap();
    assert!(
        ops.keys().all(|t| ["cpu", "npu"].contains(&t.as_str())),
        "{ops:?}"
    );
    assert!(ops.values().map(|n| n.as_u64().unwrap()).sum::<u64>() > 0);
}

#[test]
fn prefill_latency_is_the_time_to_first_token() {
    let r = run_json(&[
        "--model",
        "tiny-llama",
        "--phase",
        "prefill:8",
        "--batch",
        "2",
        "--arch",
        "mobile-soc-pim",
        "--objective",
        "energy",
    ]);
    assert_eq!(r["latency_kind"], "time_to_first_token");
    assert_eq!(u(&r, "tokens_per_step"), 16, "2 prompts of 8 tokens");
    assert_eq!(u(&r, "latency_per_token_ps"), u(&r, "step_ps"));
    close(
        f(&r, "tokens_per_s"),
        16.0 / (u(&r, "step_ps") as f64 * 1e-12),
        "prefill tokens/s",
    );
    assert_eq!(r["compile"]["objective"], "energy");
}

#[test]
fn run_is_deterministic_and_prints_a_table() {
    let args = [
        "run", "--model", "tiny-moe", "--phase", "decode:2", "--json",
    ];
    assert_eq!(ok(&args), ok(&args));
    let out = triad(&["run", "--model", "tiny-moe", "--phase", "decode:2"]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    for want in [
        "tiny-moe decode:2 batch 1 f16 on mobile-soc-pim",
        "tokens/s",
        "latency per output token",
        "energy per token",
        "DRAM bandwidth",
        "placement",
        "busy",
    ] {
        assert!(table.contains(want), "`{want}` missing:\n{table}");
    }
    // The spinner draws only on a terminal: piped, stderr stays empty.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_input_is_refused_with_its_name() {
    let err = fails(&["run", "--model", "tiny-bert", "--phase", "decode:4"]);
    assert!(
        err.contains("tiny-bert") && err.contains("decode:4") && err.contains("encoder"),
        "{err}"
    );
    let err = fails(&["run", "--arch", "no-such-soc"]);
    assert!(err.contains("no-such-soc"), "{err}");
    let err = fails(&["run", "--model", "tiny-gpt2", "--node-limit", "0"]);
    assert!(err.contains("--node-limit"), "{err}");
    // Under --json the error is JSON on stdout, with a non-zero exit.
    let out = triad(&["run", "--model", "gpt5", "--json"]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("error JSON");
    assert!(v["error"].as_str().unwrap().contains("gpt5"), "{v}");
}

#[test]
fn no_arguments_run_the_default_step() {
    // `triad run` alone: GPT-2 small decoding after 128 tokens on mobile-soc-pim.
    let r: Value = serde_json::from_str(&ok(&["run", "--json"])).unwrap();
    assert_eq!(r["model"], "gpt2-small");
    assert_eq!(r["phase"], "decode:128");
    assert_eq!(r["arch"], "mobile-soc-pim");
    assert_eq!(u(&r, "tokens_per_step"), 1);
    close(
        f(&r, "tokens_per_s"),
        1e12 / u(&r, "step_ps") as f64,
        "one token per step",
    );
    // The PIM preset gets PIM work, and the weights sit in DRAM: GPT-2 small's
    // layers alone hold 85M parameters, 2 bytes each in f16.
    assert!(u(&r["placement"]["ops"], "pim") > 0, "{}", r["placement"]);
    assert!(u(&r["dram"], "pim_requests") > 0);
    assert!(u(&r["compile"], "static_bytes") >= 2 * 85_000_000);
}
