//! End-to-end runs of `triad compile`: the program it writes passes `triad verify`
//! and runs in `triad sim`, its labels name the graph's ops, the JSON emits parse,
//! and bad arguments exit non-zero naming the cause.

mod common;
use common::{fails, ok, triad};

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("triad-cli-compile-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn compiled_program_verifies_and_simulates() {
    let d = dir();
    let p = d.join("llama.tasm");
    let ps = p.to_str().unwrap();
    let out = triad(&[
        "compile",
        "--model",
        "tiny-llama",
        "--phase",
        "decode:8",
        "--arch",
        "mobile-soc-pim",
        "-o",
        ps,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wrote") && err.contains("instructions"),
        "{err}"
    );
    let text = std::fs::read_to_string(&p).unwrap();
    // The PIM weight layouts live in the data file the program names.
    assert!(
        text.contains(".init") && text.contains("llama.data.bin"),
        "no data init"
    );
    assert!(d.join("llama.data.bin").exists());
    assert!(
        text.contains(".input \"input_ids\""),
        "graph inputs are ports"
    );
    assert!(
        text.contains(".output \"logits\""),
        "graph outputs are ports"
    );
    assert!(ok(&["verify", ps]).contains("ok on arch `mobile-soc-pim`"));
    let report: serde_json::Value = serde_json::from_str(&ok(&["sim", ps, "--json"])).unwrap();
    assert!(report["total_ps"].as_u64().unwrap() > 0);
    let labels = report["labels"].as_object().unwrap();
    assert!(labels.keys().any(|l| l.contains("q_proj")), "{labels:?}");
    // The binary form verifies too and holds the same program.
    let b = d.join("llama.tbin");
    ok(&[
        "compile",
        "--model",
        "tiny-llama",
        "--phase",
        "decode:8",
        "--arch",
        "mobile-soc-pim",
        "-o",
        b.to_str().unwrap(),
    ]);
    assert!(ok(&["verify", b.to_str().unwrap()]).contains("ok"));
}

#[test]
fn placed_graph_and_stats_are_json() {
    let placed: serde_json::Value = serde_json::from_str(&ok(&[
        "compile",
        "--model",
        "tiny-gpt2",
        "--phase",
        "prefill:8",
        "--arch",
        "mobile-soc",
        "--emit",
        "placed-graph",
    ]))
    .unwrap();
    let placement = placed["placement"].as_object().unwrap();
    assert!(
        placement
            .values()
            .all(|t| ["cpu", "npu"].contains(&t.as_str().unwrap()))
    );
    assert!(placement.contains_key("layer0.attn_norm"));
    let stats: serde_json::Value = serde_json::from_str(&ok(&[
        "compile",
        "--model",
        "tiny-gpt2",
        "--phase",
        "prefill:8",
        "--arch",
        "mobile-soc",
        "--emit",
        "egraph-stats",
        "--objective",
        "energy",
        "--iter-limit",
        "1",
    ]))
    .unwrap();
    assert_eq!(stats["saturation"]["iterations"], 1);
    assert!(stats["lowering"]["ops"]["npu"].as_u64().unwrap() > 0);
}

#[test]
fn bad_arguments_name_the_cause() {
    let d = dir();
    let o = d.join("x.tasm");
    let o = o.to_str().unwrap();
    let base = ["compile", "--model", "tiny-llama", "--phase", "decode:8"];
    let with = |extra: &[&str]| -> String {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        fails(&a)
    };
    assert!(with(&["--arch", "nope", "-o", o]).contains("no arch file or preset named `nope`"));
    assert!(with(&["--arch", "mobile-soc", "--emit", "tasm"]).contains("give -o FILE"));
    assert!(with(&["--arch", "mobile-soc", "--emit", "tbin", "-o", o]).contains(".tbin"));
    assert!(with(&["--arch", "mobile-soc", "-o", o, "--time-limit", "0"]).contains("--time-limit"));
    // A memory-only preset has no engine to run anything on.
    assert!(with(&["--arch", "lpddr5", "-o", o]).contains("no engine of arch `lpddr5`"));
    assert!(
        !std::path::Path::new(o).exists(),
        "a failed compile leaves no file"
    );
}

#[test]
fn explain_names_every_projection_with_its_target_and_costs() {
    let d = dir();
    let p = d.join("explain.tasm");
    let args = [
        "compile",
        "--model",
        "tiny-llama",
        "--phase",
        "decode:8",
        "--arch",
        "mobile-soc-pim",
        "-o",
        p.to_str().unwrap(),
        "--explain",
        "json",
    ];
    let out = ok(&args);
    let e: serde_json::Value = serde_json::from_str(&out).expect("explain JSON");
    let rows = e["rows"].as_array().expect("rows");
    let q = rows
        .iter()
        .find(|r| r["node"] == "layer0.q_proj")
        .expect("q_proj row");
    // A decode projection is a GEMV: PIM runs it, and its cost on every target that
    // can run it is listed so the choice can be checked.
    assert_eq!(q["target"], "pim", "{q}");
    let costs = q["costs"].as_object().expect("costs");
    assert!(
        ["cpu", "npu", "pim"].iter().all(|t| costs.contains_key(*t)),
        "{q}"
    );
    // The plain table names the same op; without -o the flag is refused.
    let table = ok(&args[..args.len() - 1]);
    assert!(
        table.contains("layer0.q_proj") && table.contains("pim"),
        "{table}"
    );
    let err = fails(&[
        "compile",
        "--model",
        "tiny-llama",
        "--phase",
        "decode:8",
        "--arch",
        "mobile-soc-pim",
        "--emit",
        "placed-graph",
        "--explain",
    ]);
    assert!(err.contains("--explain"), "{err}");
}
