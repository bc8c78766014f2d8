//! End-to-end runs of the `triad` binary for the commands other than `graph`:
//! `eval` (against ONNX Runtime's outputs), ONNX export through `graph`, `memsim`
//! (against numbers derived from the arch's timing), `archs`, `asm`/`disasm`/`verify`.
//! Each checks behaviour a user relies on, and that bad input exits non-zero with a
//! message naming what was wrong.

use std::path::{Path, PathBuf};

mod common;
use common::{fails, ok};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx/models")
        .join(rel)
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triad-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Parse a little-endian f32 `.npy` (v1) file: the header says `<f4`, C order.
fn read_f32_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(
        header.contains("'<f4'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    let shape_txt = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape = shape_txt
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, data)
}

#[test]
fn eval_matches_onnx_runtime_on_the_tiny_gpt_fixture() {
    let dir = fixture("tiny_gpt");
    let dims = std::fs::read_to_string(dir.join("dims.txt")).unwrap();
    let out = tmpdir("eval");
    let mut args: Vec<String> = vec!["eval".into(), "--onnx".into()];
    args.push(dir.join("model.onnx").display().to_string());
    for d in dims.lines().filter(|l| !l.trim().is_empty()) {
        args.push("--dim".into());
        args.push(d.trim().into());
    }
    args.push("--input".into());
    args.push(format!(
        "input_ids={}",
        dir.join("input_input_ids.npy").display()
    ));
    args.push("-o".into());
    args.push(out.display().to_string());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&argv);
    let (shape, got) = read_f32_npy(&out.join("logits.npy"));
    let (want_shape, want) = read_f32_npy(&dir.join("output_logits.npy"));
    assert_eq!(shape, want_shape);
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err <= 1e-4, "max abs error {err} against ONNX Runtime");

    // Without the input: the error lists what the graph expects.
    let missing: Vec<&str> = argv
        .iter()
        .copied()
        .filter(|a| *a != "--input" && !a.starts_with("input_ids="))
        .collect();
    let err = fails(&missing);
    assert!(err.contains("input_ids") && err.contains("i64["), "{err}");
}

#[test]
fn eval_file_names_and_zoo_models() {
    // A zoo model with no inputs given: the message names every expected input.
    let out = tmpdir("zoo");
    let err = fails(&[
        "eval",
        "--model",
        "tiny-llama",
        "--phase",
        "decode:4",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("input_ids") && err.contains("layer0.past_k"),
        "{err}"
    );
    let err = fails(&["eval", "--onnx", "/nonexistent/m.onnx", "-o", "x"]);
    assert!(err.contains("/nonexistent/m.onnx"), "{err}");
    let err = fails(&[
        "eval", "--graph", "g.json", "--phase", "decode:4", "-o", "x",
    ]);
    assert!(err.contains("--phase applies to --model"), "{err}");
}

#[test]
fn zoo_model_exports_to_onnx_and_reimports() {
    let dir = tmpdir("export");
    let file = dir.join("tiny.onnx");
    let f = file.to_str().unwrap();
    ok(&[
        "graph",
        "--model",
        "tiny-gpt2",
        "--phase",
        "prefill:6",
        "--dtype",
        "f32",
        "--format",
        "onnx",
        "-o",
        f,
    ]);
    assert_eq!(
        &std::fs::read(&file).unwrap()[..2],
        b"\x08\x0a",
        "starts with ir_version 10"
    );
    // The re-imported file has the same weights: weight bytes agree with the zoo graph.
    let weights = |args: &[&str]| -> u64 {
        let mut a = vec!["graph"];
        a.extend_from_slice(args);
        a.push("--json");
        let v: serde_json::Value = serde_json::from_str(&ok(&a)).unwrap();
        v["total"]["unfused"]["weights"]
            .as_u64()
            .expect("weights bytes")
    };
    let zoo = weights(&[
        "--model",
        "tiny-gpt2",
        "--phase",
        "prefill:6",
        "--dtype",
        "f32",
    ]);
    assert_eq!(weights(&["--onnx", f]), zoo);
    let err = fails(&[
        "graph",
        "--model",
        "tiny-gpt2",
        "--phase",
        "prefill:6",
        "--format",
        "onnx",
    ]);
    assert!(err.contains("-o"), "{err}");
    let err = fails(&["graph", "--onnx", f, "--dim", "oops"]);
    assert!(err.contains("NAME=N"), "{err}");
}

#[test]
fn memsim_reports_timing_derived_from_the_arch() {
    // One read to a closed bank: 1 + tRCD + CL + burst cycles (hbm2: 1 + 14 + 14 +
    // BL4/2; the 1: a request enters its command queue the cycle it arrives and
    // issues from the next, as in DRAMsim3).
    let dir = tmpdir("memsim");
    let trace = dir.join("one.trc");
    std::fs::write(&trace, "0x0 READ 0\n").unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "memsim",
        trace.to_str().unwrap(),
        "--arch",
        "hbm2",
        "--json",
        "--check",
    ]))
    .unwrap();
    let arch: serde_json::Value =
        serde_json::from_str(&ok(&["archs", "show", "hbm2", "--json"])).unwrap();
    let t = &arch["arch"]["dram"]["timing_ck"];
    let burst = arch["arch"]["dram"]["burst_length"].as_u64().unwrap()
        / arch["arch"]["dram"]["transfers_per_clock"]
            .as_u64()
            .unwrap();
    let expect = 1 + t["trcd_rd"].as_u64().unwrap() + t["cl"].as_u64().unwrap() + burst;
    assert_eq!(
        v["read_latency"]["min_cycles"].as_u64(),
        Some(expect),
        "{v}"
    );
    assert_eq!(v["reads"].as_u64(), Some(1));
    assert_eq!(v["commands"]["ACT"].as_u64(), Some(1));

    std::fs::write(&trace, "0x0 READ 0\nnot a line\n").unwrap();
    let err = fails(&["memsim", trace.to_str().unwrap(), "--arch", "hbm2"]);
    assert!(err.contains("one.trc:2"), "{err}");

    // hbm2 holds 8 GiB: an address at the capacity names its line (the former
    // `--trace FILE` spelling still works).
    std::fs::write(&trace, "0x0 READ 0\n0x200000000 READ 1\n").unwrap();
    let err = fails(&[
        "memsim",
        "--trace",
        trace.to_str().unwrap(),
        "--arch",
        "hbm2",
    ]);
    assert!(
        err.contains("one.trc:2") && err.contains("beyond the DRAM capacity"),
        "{err}"
    );
}

#[test]
fn archs_list_and_show() {
    let list = ok(&["archs"]);
    for name in [
        "mobile-soc",
        "mobile-soc-pim",
        "pim-gpt",
        "hbm-pim",
        "neupims",
        "attacc",
        "duplex",
    ] {
        assert!(list.contains(name), "{name} listed");
    }
    // `show --toml` prints a file that loads back as the same arch.
    let dir = tmpdir("archs");
    let file = dir.join("soc.toml");
    std::fs::write(&file, ok(&["archs", "show", "mobile-soc", "--toml"])).unwrap();
    let a: serde_json::Value =
        serde_json::from_str(&ok(&["archs", "show", file.to_str().unwrap(), "--json"])).unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&ok(&["archs", "show", "mobile-soc", "--json"])).unwrap();
    assert_eq!(a, b);
    let err = fails(&["archs", "show", "no-such-soc"]);
    assert!(err.contains("presets:"), "{err}");
}

#[test]
fn asm_disasm_verify_round_trip() {
    let dir = tmpdir("asm");
    let src = dir.join("p.tasm");
    std::fs::write(
        &src,
        r#".meta model="cli test", arch="mobile-soc", compiler="hand-written"
.buffer x,   dram, addr=0,    shape=[16, 32], dtype=i8
.buffer x_s, spm,  addr=0,    shape=[16, 32], dtype=i8
.sem loaded, init=0

.stream dma.0
    load x_s, x, rows=16, row_bytes=32, src_stride=32, dst_stride=32
    signal loaded, value=1

.stream npu.vec
    wait loaded, value=1
"#,
    )
    .unwrap();
    let bin = dir.join("p.tbin");
    ok(&["asm", src.to_str().unwrap(), "-o", bin.to_str().unwrap()]);
    let text = ok(&["disasm", bin.to_str().unwrap()]);
    let src2 = dir.join("p2.tasm");
    std::fs::write(&src2, &text).unwrap();
    let bin2 = dir.join("p2.tbin");
    ok(&["asm", src2.to_str().unwrap(), "-o", bin2.to_str().unwrap()]);
    assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(&bin2).unwrap());
    ok(&["verify", bin.to_str().unwrap(), "--arch", "mobile-soc"]);
    // The same program on a memory-only arch: there is no NPU to run it.
    let err = fails(&["verify", bin.to_str().unwrap(), "--arch", "hbm2"]);
    assert!(err.contains("NPU"), "{err}");
    // A syntax error names the line and column.
    std::fs::write(&src, ".buffer x dram\n").unwrap();
    let err = fails(&["asm", src.to_str().unwrap(), "-o", bin.to_str().unwrap()]);
    assert!(err.contains("line 1, column"), "{err}");
}
