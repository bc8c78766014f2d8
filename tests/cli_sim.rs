//! End-to-end runs of `triad sim`: the table, the JSON report (numbers derived from
//! the arch), the trace file, and bad input exiting non-zero with a named cause.

mod common;
use common::{fails, ok};

fn tmpfile(name: &str, text: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("triad-cli-sim-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A layernorm on the NPU vector unit: 16 x 768 f16, 3 passes over 128 lanes = 288
/// cycles of 727 ps on mobile-soc.
const LAYERNORM: &str = ".meta model=\"ln\", arch=\"mobile-soc\"\n\
    .buffer h, spm, addr=0, shape=[16, 768], dtype=f16\n\
    .buffer g, spm, addr=24576, shape=[768], dtype=f16\n\
    .buffer b, spm, addr=26112, shape=[768], dtype=f16\n\
    .buffer n, spm, addr=27648, shape=[16, 768], dtype=f16\n\
    .stream npu.vec\n\
    norm:\n\
    layernorm n, h, g, b, rows=16, cols=768, dtype=f16, eps=1e-5\n";

#[test]
fn sim_reports_time_engines_and_energy() {
    let p = tmpfile("ln.tasm", LAYERNORM);
    let p = p.to_str().unwrap();
    let table = ok(&["sim", p]);
    assert!(table.contains("ln on mobile-soc"), "{table}");
    assert!(table.contains("npu.vec"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["sim", p, "--json", "--check"])).unwrap();
    assert_eq!(json["total_ps"], 288 * 727);
    assert_eq!(json["engines"][0]["engine"], "npu.vec");
    assert_eq!(json["labels"]["norm"]["instructions"], 1);
    assert_eq!(json["timing_violations"], 0);
    let parts: f64 = [
        "cpu_pj",
        "npu_array_pj",
        "npu_vector_pj",
        "sram_pj",
        "dram_core_pj",
        "dram_io_pj",
        "pim_pj",
        "links_pj",
        "static_pj",
    ]
    .iter()
    .map(|k| json["energy"][k].as_f64().unwrap())
    .sum();
    // The report sums exactly; serde_json's float parsing may be off by an ulp.
    let total = json["energy"]["total_pj"].as_f64().unwrap();
    assert!((parts - total).abs() <= 1e-12 * total, "{parts} vs {total}");
    // 3 x 12288 element-passes at the f16 MAC energy.
    assert_eq!(
        json["energy"]["npu_vector_pj"].as_f64().unwrap(),
        36864.0 * 1.5
    );
}

#[test]
fn sim_writes_a_trace_perfetto_can_open() {
    let p = tmpfile("ln2.tasm", LAYERNORM);
    let t = p.with_file_name("trace.json");
    ok(&["sim", p.to_str().unwrap(), "--trace", t.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&t).unwrap()).unwrap();
    assert!(
        v["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "layernorm")
    );
}

#[test]
fn sim_refuses_bad_input_by_name() {
    let err = fails(&["sim", "/nonexistent/p.tasm"]);
    assert!(err.contains("p.tasm"), "{err}");
    let p = tmpfile("bad.tasm", ".stream npu.vec\n  bogus x\n");
    let err = fails(&["sim", p.to_str().unwrap(), "--arch", "mobile-soc"]);
    assert!(err.contains("line 2"), "{err}");
    let p = tmpfile("noarch.tasm", ".stream npu.vec\n");
    let err = fails(&["sim", p.to_str().unwrap()]);
    assert!(err.contains("--arch"), "{err}");
    let p = tmpfile("dead.tasm", ".sem s\n.stream npu.mx\nwait s, value=1\n");
    let err = fails(&["sim", p.to_str().unwrap(), "--arch", "mobile-soc"]);
    assert!(err.contains("wait"), "{err}");
}

#[test]
fn sim_functional_writes_the_program_outputs() {
    let text = ".meta arch=\"mobile-soc\"\n\
        .buffer x, dram, addr=0, shape=[4, 8], dtype=f32\n\
        .buffer y, dram, addr=128, shape=[4, 8], dtype=f32\n\
        .buffer z, dram, addr=256, shape=[4, 8], dtype=f32\n\
        .init x, uniform=[-1.0, 1.0], seed=1\n\
        .init y, uniform=[-1.0, 1.0], seed=2\n\
        .output \"sum\", z\n\
        .stream cpu.0\n\
        eltwise add, z, x, y, rows=4, cols=8, dtype=f32, bcast=none\n";
    let p = tmpfile("add.tasm", text);
    let dir = p.with_file_name("outs");
    let timing: serde_json::Value =
        serde_json::from_str(&ok(&["sim", p.to_str().unwrap(), "--json"])).unwrap();
    let functional: serde_json::Value = serde_json::from_str(&ok(&[
        "sim",
        p.to_str().unwrap(),
        "--json",
        "--functional",
        "-o",
        dir.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(
        timing, functional,
        "functional mode changes no number of the report"
    );
    let t = triad_compiler::onnx::npy::read_npy(&dir.join("sum.npy")).unwrap();
    let (triad_isa::Values::F32(x), triad_isa::Values::F32(y)) = (
        triad_isa::uniform(triad_isa::DType::F32, 32, 1, -1.0, 1.0),
        triad_isa::uniform(triad_isa::DType::F32, 32, 2, -1.0, 1.0),
    ) else {
        panic!("float values")
    };
    let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
    assert_eq!(t.shape(), &[4, 8]);
    assert_eq!(t.f32s().unwrap(), want);
    let err = fails(&["sim", p.to_str().unwrap(), "-o", dir.to_str().unwrap()]);
    assert!(err.contains("--functional"), "{err}");
}
