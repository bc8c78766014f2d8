//! The verifier on programs that must pass, and the rules at their boundaries:
//! counting semaphores, alias families, exact buffer ends, CPU operands in DRAM,
//! problems listed together; plus file-level errors naming the file and position.

use triad_isa::{Arch, Error, Program, verify};

fn arch(name: &str) -> Arch {
    Arch::preset(name).unwrap()
}

fn problems(text: &str, arch_name: &str) -> Vec<String> {
    let p = Program::from_text(text).unwrap();
    match verify(&p, &arch(arch_name)) {
        Ok(_) => Vec::new(),
        Err(Error::Verify(ps)) => ps.list.iter().map(|p| p.to_string()).collect(),
        Err(e) => panic!("not a verification error: {e}"),
    }
}

#[test]
fn counting_semaphores_balance_across_signals_and_init() {
    // One signal of 2 pays for two waits of 1; init=1 pays for a third.
    let ok = "
.sem s, init=1
.stream dma.0
    signal s, value=2
.stream npu.vec
    wait s, value=1
    wait s, value=1
    wait s, value=1
";
    assert_eq!(problems(ok, "mobile-soc"), Vec::<String>::new());
    let short = ok.replace("init=1", "init=0");
    assert_eq!(
        problems(&short, "mobile-soc"),
        vec![
            "semaphore `s`: waits take 3 in total but init + signals give only 2".to_string(),
            "streams: deadlock: every unfinished engine is blocked: npu.vec at #2 `wait s, value=1` (count 0)"
                .to_string(),
        ]
    );
}

#[test]
fn a_pipeline_in_both_directions_is_not_a_deadlock() {
    // Producer and consumer hand a buffer back and forth three times.
    let mut text = String::from(".sem full\n.sem empty, init=1\n.stream dma.0\n");
    for _ in 0..3 {
        text.push_str("    wait empty, value=1\n    signal full, value=1\n");
    }
    text.push_str(".stream npu.mx\n");
    for _ in 0..3 {
        text.push_str("    wait full, value=1\n    signal empty, value=1\n");
    }
    let p = Program::from_text(&text).unwrap();
    let r = verify(&p, &arch("mobile-soc")).unwrap();
    assert_eq!(r.insns, 12);
    assert!(r.warnings.is_empty());
}

#[test]
fn several_waiting_engines_give_a_warning() {
    let text = "
.sem s, init=2
.stream npu.mx
    wait s, value=1
.stream npu.vec
    wait s, value=1
";
    let r = verify(&Program::from_text(text).unwrap(), &arch("mobile-soc")).unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].msg.contains("2 engines (npu.mx, npu.vec)"),
        "{}",
        r.warnings[0]
    );
}

#[test]
fn alias_families_may_overlap_and_others_may_not() {
    // c aliases b which aliases a: one family, all overlapping is fine; d overlaps c.
    let text = "
.buffer a, spm, addr=0, shape=[100], dtype=i8
.buffer b, spm, addr=50, shape=[100], dtype=i8, alias=a
.buffer c, spm, addr=120, shape=[10], dtype=i8, alias=b
.buffer d, spm, addr=125, shape=[10], dtype=i8
";
    assert_eq!(
        problems(text, "mobile-soc"),
        vec![
            "buffer `d`: overlaps buffer `b` in spm (bytes 125..135); mark it `alias=b` if their lifetimes are disjoint",
            "buffer `d`: overlaps buffer `c` in spm (bytes 125..130); mark it `alias=c` if their lifetimes are disjoint",
        ]
    );
    let fixed = text.replace(
        ".buffer d, spm, addr=125, shape=[10], dtype=i8",
        ".buffer d, spm, addr=125, shape=[10], dtype=i8, alias=c",
    );
    assert_eq!(problems(&fixed, "mobile-soc"), Vec::<String>::new());
    // Union of [0,100) ∪ [50,150) ∪ [120,130) ∪ [125,135) = [0,150).
    let r = verify(&Program::from_text(&fixed).unwrap(), &arch("mobile-soc")).unwrap();
    assert_eq!(r.spm_bytes.0, 150);
}

#[test]
fn buffers_may_end_exactly_at_the_end_of_memory() {
    // mobile-soc: 8 MiB scratchpad; DRAM = 4 channels · 16 banks · 65536 rows · 2048 B.
    let spm = 8u64 << 20;
    let dram = 4u64 * 16 * 65536 * 2048;
    let text = format!(
        ".buffer s, spm, addr={}, shape=[16], dtype=i32\n.buffer d, dram, addr={}, shape=[2], dtype=i64\n",
        spm - 64,
        dram - 16
    );
    assert_eq!(problems(&text, "mobile-soc"), Vec::<String>::new());
    let past = text.replace("shape=[2], dtype=i64", "shape=[3], dtype=i64");
    assert_eq!(
        problems(&past, "mobile-soc"),
        vec![format!(
            "buffer `d`: bytes {}..{} exceed the dram of {dram} bytes (dram.capacity_bytes)",
            dram - 16,
            dram + 8
        )]
    );
}

#[test]
fn cpu_cores_compute_on_dram_buffers() {
    let text = "
.buffer a, dram, addr=0, shape=[8, 16], dtype=f32
.buffer b, dram, addr=512, shape=[16, 4], dtype=f32
.buffer c, dram, addr=768, shape=[8, 4], dtype=f32
.buffer t, dram, addr=896, shape=[100, 16], dtype=f32
.buffer i, dram, addr=7296, shape=[8], dtype=i32
.stream cpu.7
    gemm c, a, b, m=8, n=4, k=16, dtype=f32, out_dtype=f32, accumulate=false, scale=1.0
    gather a, t, i, rows=8, cols=16, table_rows=100, dtype=f32, idx_dtype=i32
    reduce sum, c, a, rows=8, cols=16, dtype=f32
";
    assert_eq!(problems(text, "mobile-soc"), Vec::<String>::new());
    // `reduce` writes 8 elements: fine in c (32 elements). bf16 is not a CPU SIMD type.
    let bf = text.replace("f32", "bf16");
    assert!(problems(&bf, "mobile-soc").contains(
        &"cpu.7 #0 `gemm`: cpu.7 of arch `mobile-soc` cannot do matmul in bf16: cluster `a520` has no simd_ops_per_cycle entry for bf16 (has: f32, f16, i8)".to_string()
    ));
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = "
.buffer x, spm, addr=0, shape=[4], dtype=f16
.sem never
.stream npu.vec
    softmax x, x, rows=2, cols=4, dtype=f16
    wait never, value=1
.stream pim.0
";
    let ps = problems(text, "mobile-soc");
    assert_eq!(ps.len(), 5, "{ps:#?}");
    assert_eq!(
        ps[0],
        "stream pim.0: engine does not exist: the arch has no PIM"
    );
    // 2 rows × 4 cols × 2 bytes = 16 bytes, the buffer holds 4 × 2 = 8.
    assert_eq!(
        ps[1],
        "npu.vec #0 `softmax`: `out`: bytes 0..16 lie outside buffer `x` (8 bytes)"
    );
}

#[test]
fn file_errors_name_the_file_and_position() {
    let dir = std::env::temp_dir().join(format!("triad-isa-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tasm = dir.join("bad.tasm");
    std::fs::write(&tasm, ".sem s\n.stream npu.mx\n    wait s, value=-1\n").unwrap();
    let e = Program::load(&tasm).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: line 3, column 19: `wait` operand `value`: expected an unsigned 32-bit integer, found `-1`",
            tasm.display()
        )
    );
    let good = Program::from_text(".sem s\n.stream npu.mx\n    wait s, value=1\n").unwrap();
    let tbin = dir.join("cut.tbin");
    let bytes = good.to_bytes();
    std::fs::write(&tbin, &bytes[..bytes.len() - 1]).unwrap();
    let e = Program::load(&tbin).unwrap_err().to_string();
    // The last byte is the wait's value; it is missing at offset len - 1.
    assert_eq!(
        e,
        format!(
            "{}: byte offset {}: `value`: expected 1 bytes, found 0 (truncated)",
            tbin.display(),
            bytes.len() - 1
        )
    );
    let json = dir.join("p.json");
    std::fs::write(&json, "{\"meta\": 3}").unwrap();
    let e = Program::load(&json).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: program JSON: invalid type", json.display()))
            && e.contains("line 1 column"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_engine_is_reported_once() {
    let text = "
.buffer w, dram, addr=0, shape=[8, 8], dtype=f16
.stream pim.0
    pim.mac_abk w, rows=8, cols=8, ld=8, dtype=f16
    pim.af gelu_tanh, len=8, dtype=f16
";
    assert_eq!(
        problems(text, "mobile-soc"),
        vec!["stream pim.0: engine does not exist: the arch has no PIM"]
    );
    assert_eq!(problems(text, "mobile-soc-pim"), Vec::<String>::new());
}
