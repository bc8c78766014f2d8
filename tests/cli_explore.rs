//! End-to-end runs of `triad explore` on small sweeps of tiny models: bad sweep files
//! fail before any point runs, naming the file, axis and value; the output is the same
//! bytes at any `--jobs`, two shards merged equal the unsharded run, `--resume`
//! finishes an interrupted run without redoing what it holds, and the Pareto column
//! matches a brute-force front.

mod common;
use common::{fails, ok, triad};

use std::path::{Path, PathBuf};

use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("triad-cli-explore-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Eight points: two tiny models x two NPU array shapes (zipped rows and columns)
/// x two decode lengths.
const SWEEP: &str = r#"
arch = "mobile-soc-pim"
model = "tiny-llama"
phase = "decode:8"
pareto = ["latency", "energy"]

[axes]
model = ["tiny-llama", "tiny-gpt2"]
phase = ["decode:8", "decode:32"]

[[zip]]
npu.rows = [16, 64]
npu.cols = [16, 64]
"#;

fn write_sweep(d: &Path, text: &str) -> String {
    let p = d.join("sweep.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Runs `triad explore` with `args` and asserts success; returns stderr.
fn explore(args: &[&str]) -> String {
    let mut all = vec!["explore"];
    all.extend(args);
    let out = triad(&all);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "triad {all:?} failed: {err}");
    err
}

fn read(d: &Path, name: &str) -> String {
    std::fs::read_to_string(d.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", d.join(name).display()))
}

fn records(d: &Path) -> Vec<Value> {
    read(d, "results.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn assert_same_output(a: &Path, b: &Path) {
    for name in ["results.csv", "results.jsonl", "explore.json"] {
        assert!(
            read(a, name) == read(b, name),
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn bad_sweep_files_fail_before_any_point_runs() {
    let d = dir("bad");
    let base = "arch = \"mobile-soc-pim\"\nmodel = \"tiny-llama\"\nphase = \"decode:8\"\n";
    let cases: [(&str, &[&str]); 9] = [
        ("colour = \"red\"\n", &["unknown field `colour`"]),
        (
            "[axes]\nnpu.rowz = [16, 32]\n",
            &["axis `npu.rowz` = 16", "unknown field `rowz`"],
        ),
        (
            "[axes]\nnpu.rows = [16, 0]\n",
            &["axis `npu.rows` = 0", "npu.rows: must be at least 1"],
        ),
        (
            "[axes]\nbatch = [1, 0]\n",
            &["axis `batch` value 0", ">= 1"],
        ),
        (
            "[axes]\nphase = [\"decode:8\", \"decoded:9\"]\n",
            &["axis `phase`", "decoded"],
        ),
        (
            "[axes]\ndram.channels = []\n",
            &["axis `dram.channels` is empty"],
        ),
        (
            "[axes]\nmodel = [\"tiny-llama\", \"tiny-bert\"]\n",
            &["point 1 (model = \"tiny-bert\")", "encoder"],
        ),
        (
            "[axes]\nphase = [\"decode:8\", \"decode:512\"]\n",
            &["point 1 (phase = \"decode:512\")", "needs 513 positions"],
        ),
        (
            "[[zip]]\nnpu.rows = [16, 32]\nnpu.cols = [16]\n",
            &["zip group 1", "npu.cols", "has 1 values"],
        ),
    ];
    for (extra, wants) in cases {
        let sweep = write_sweep(&d, &format!("{base}{extra}"));
        let out = d.join("out");
        let err = fails(&["explore", &sweep, "-o", out.to_str().unwrap()]);
        assert!(
            err.contains("sweep.toml"),
            "{extra}: the file is not named: {err}"
        );
        for w in wants {
            assert!(err.contains(w), "{extra}: `{w}` missing from: {err}");
        }
        assert!(!out.exists(), "{extra}: a point ran before the error");
    }
}

#[test]
fn jobs_shards_merge_resume_and_pareto_agree() {
    let d = dir("agree");
    let sweep = write_sweep(&d, SWEEP);
    let o = |name: &str| d.join(name).to_str().unwrap().to_string();

    let check = ok(&[
        "explore",
        &sweep,
        "-o",
        &o("c"),
        "--check",
        "--shard",
        "1/3",
    ]);
    assert!(check.contains("8 points, 3 in shard 1/3"), "{check}");
    assert!(!d.join("c").exists(), "--check ran points");

    explore(&[&sweep, "-o", &o("j1"), "--jobs", "1"]);
    explore(&[&sweep, "-o", &o("j2"), "--jobs", "2"]);
    assert_same_output(&d.join("j1"), &d.join("j2"));

    explore(&[&sweep, "-o", &o("s0"), "--shard", "0/2", "--jobs", "2"]);
    explore(&[&sweep, "-o", &o("s1"), "--shard", "1/2", "--jobs", "1"]);
    assert_eq!(records(&d.join("s0")).len(), 4);
    let out = triad(&["explore", "merge", &o("s1"), &o("s0"), "-o", &o("merged")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_output(&d.join("j1"), &d.join("merged"));

    let all = records(&d.join("j1"));
    assert_eq!(all.len(), 8);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r["index"], i);
        assert!(r["error"].is_null(), "point {i} failed: {}", r["error"]);
    }
    // The CSV has one header and one row per point.
    assert_eq!(read(&d.join("j1"), "results.csv").lines().count(), 9);

    // Pareto over (latency, energy) by brute force: on the front iff no point is
    // <= in both and < in one.
    let cost = |r: &Value| {
        let m = &r["metrics"];
        (
            m["latency_per_token_ps"].as_f64().unwrap(),
            m["energy_per_token_pj"].as_f64().unwrap(),
        )
    };
    for r in &all {
        let (l, e) = cost(r);
        let dominated = all.iter().any(|s| {
            let (l2, e2) = cost(s);
            l2 <= l && e2 <= e && (l2 < l || e2 < e)
        });
        assert_eq!(r["pareto"], !dominated, "point {}", r["index"]);
    }
    assert!(all.iter().any(|r| r["pareto"] == true));
}

#[test]
fn resume_finishes_an_interrupted_run_without_redoing_it() {
    let d = dir("resume");
    let sweep = write_sweep(&d, SWEEP);
    let full = d.join("full");
    explore(&[&sweep, "-o", full.to_str().unwrap()]);

    // An interrupted run: the manifest, three finished points (one of them marked
    // so that a recomputation would show) and a torn fourth line.
    let cut = d.join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::copy(full.join("explore.json"), cut.join("explore.json")).unwrap();
    let mut kept: Vec<Value> = records(&full).into_iter().take(3).collect();
    for r in &mut kept {
        r.as_object_mut().unwrap().remove("pareto");
    }
    kept[1]["metrics"]["dram_bytes"] = 7.into();
    let mut partial: String = kept.iter().map(|r| format!("{r}\n")).collect();
    partial.push_str("{\"index\": 5, \"id\": \"tor");
    std::fs::write(cut.join("results.jsonl.partial"), partial).unwrap();

    let cuts = cut.to_str().unwrap();
    let err = fails(&["explore", &sweep, "-o", cuts]);
    assert!(err.contains("--resume"), "{err}");
    let err = explore(&[&sweep, "-o", cuts, "--resume", "--jobs", "2"]);
    assert!(err.contains("3 already done, 5 to run"), "{err}");
    assert!(!cut.join("results.jsonl.partial").exists());

    let resumed = records(&cut);
    let want = records(&full);
    assert_eq!(resumed.len(), 8);
    assert_eq!(
        resumed[1]["metrics"]["dram_bytes"], 7,
        "point 1 was recomputed"
    );
    for (i, (a, b)) in resumed.iter().zip(&want).enumerate() {
        if i != 1 {
            assert_eq!(a["metrics"], b["metrics"], "point {i}");
        }
    }
    // Resuming a finished run runs nothing and rewrites the same files.
    let before = read(&cut, "results.jsonl");
    let err = explore(&[&sweep, "-o", cuts, "--resume"]);
    assert!(err.contains("8 already done, 0 to run"), "{err}");
    assert_eq!(read(&cut, "results.jsonl"), before);
}

#[test]
fn merge_refuses_outputs_of_different_sweeps() {
    let d = dir("mix");
    let a = d.join("a");
    let b = d.join("b");
    let one = write_sweep(
        &d,
        "arch = \"mobile-soc-pim\"\nmodel = \"tiny-llama\"\nphase = \"decode:8\"\n",
    );
    explore(&[&one, "-o", a.to_str().unwrap()]);
    let two = write_sweep(
        &d,
        "arch = \"mobile-soc-pim\"\nmodel = \"tiny-gpt2\"\nphase = \"decode:8\"\n",
    );
    explore(&[&two, "-o", b.to_str().unwrap()]);
    let err = fails(&[
        "explore",
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        d.join("m").to_str().unwrap(),
    ]);
    assert!(err.contains("another sweep"), "{err}");
}
