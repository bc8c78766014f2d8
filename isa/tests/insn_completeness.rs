//! The instructions that lower the rest of the graph IR (mixed-precision GEMM,
//! comparisons, select, masks, N-D transpose, strided copy, rope with positions,
//! gather with i64 indices, top-k, MoE routing, quantisation): a program using all
//! of them assembles, round-trips through text, binary and JSON, and verifies on
//! the CPU and on the NPU; bad operands are named.

use triad_isa::{Arch, Error, Program, verify};

/// Every new vector instruction on ENGINE over buffers in MEM.
const VECTOR: &str = "
.buffer s,    MEM, addr=0,     shape=[8, 16],    dtype=f16   ; scores / activations
.buffer t,    MEM, addr=256,   shape=[8, 16],    dtype=f16
.buffer m,    MEM, addr=512,   shape=[8, 16],    dtype=bool
.buffer pos,  MEM, addr=640,   shape=[8],        dtype=i64
.buffer ids,  MEM, addr=704,   shape=[8],        dtype=i64
.buffer tab,  MEM, addr=768,   shape=[100, 16],  dtype=f16
.buffer v,    MEM, addr=4096,  shape=[8, 2],     dtype=f16
.buffer vi,   MEM, addr=4160,  shape=[8, 2],     dtype=i32
.buffer q,    MEM, addr=4224,  shape=[8, 16],    dtype=i8
.buffer sc,   MEM, addr=4352,  shape=[16],       dtype=f32
.buffer zp,   MEM, addr=4416,  shape=[16],       dtype=i8
.buffer eo,   MEM, addr=4480,  shape=[4, 4, 16], dtype=f16
.buffer g,    MEM, addr=5120,  shape=[8, 2],     dtype=f16
.buffer one,  MEM, addr=5184,  shape=[1],        dtype=f16
.stream ENGINE
    cmp lt, m, s, t, rows=8, cols=16, dtype=f16, bcast=none
    select t, m, s, one, rows=8, cols=16, dtype=f16, cond_bcast=none, a_bcast=none, b_bcast=scalar
    causal_mask s, s, rows=8, cols=16, seq=4, q_start=12, k_start=0, dtype=f16
    tree_mask s, s, m, rows=8, cols=16, seq=8, dtype=f16
    transpose t, s, dims=[1, 2, 4, 16], perm=[0, 2, 1, 3], dtype=f16
    scopy t, s, dims=[1, 1, 8, 8], src_strides=[0, 0, 16, 2], dst_strides=[0, 0, 8, 1], dtype=f16
    rope t, s, pos, rows=8, cols=16, seq=8, rotary=16, dtype=f16, pos_dtype=i64, theta=10000.0
    gather s, tab, ids, rows=8, cols=16, table_rows=100, dtype=f16, idx_dtype=i64
    topk v, vi, s, rows=8, cols=16, k=2, dtype=f16, idx_dtype=i32
    quantize q, s, sc, zp, rows=8, cols=16, from=f16, to=i8, sbcast=row
    dequantize s, q, sc, zp, rows=8, cols=16, from=i8, to=f16, sbcast=row
    moe_dispatch eo, s, vi, tokens=8, hidden=16, k=2, expert=1, capacity=4, dtype=f16, idx_dtype=i32
    moe_combine s, vi, g, eo, tokens=8, hidden=16, k=2, experts=4, capacity=4, dtype=f16, idx_dtype=i32
    eltwise pow, s, s, t, rows=8, cols=16, dtype=f16, bcast=col
    unary erf, s, s, rows=8, cols=16, dtype=f16
    act gelu_erf, s, s, rows=8, cols=16, dtype=f16
";

fn check(text: &str, arch: &str) -> Vec<String> {
    let p = Program::from_text(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(Program::from_text(&p.to_text()).unwrap(), p);
    assert_eq!(Program::from_bytes(&p.to_bytes()).unwrap(), p);
    assert_eq!(Program::from_json(&p.to_json().unwrap()).unwrap(), p);
    match verify(&p, &Arch::preset(arch).unwrap()) {
        Ok(r) => {
            assert!(r.warnings.is_empty(), "{:?}", r.warnings);
            Vec::new()
        }
        Err(Error::Verify(ps)) => ps.list.iter().map(|p| p.to_string()).collect(),
        Err(e) => panic!("not a verification error: {e}"),
    }
}

#[test]
fn every_new_vector_instruction_runs_on_cpu_and_npu() {
    let cpu = VECTOR.replace("MEM", "dram").replace("ENGINE", "cpu.0");
    assert_eq!(check(&cpu, "mobile-soc"), Vec::<String>::new());
    // attacc's vector unit (programmable CUDA cores) lists every vector op.
    let npu = VECTOR.replace("MEM", "spm").replace("ENGINE", "npu.vec");
    assert_eq!(check(&npu, "attacc"), Vec::<String>::new());
    // mobile-soc's NPU (the QNN HTP op set) lacks the masks, rope, MoE routing and
    // a standalone erf: each is a named error on npu.vec (they belong on the CPU).
    let lacks: Vec<String> = check(&npu, "mobile-soc")
        .iter()
        .map(|e| {
            let (_, rest) = e.split_once("npu.vector_ops lacks `").expect(e);
            rest.split('`').next().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        lacks,
        [
            "causal_mask",
            "tree_mask",
            "rope",
            "moe_dispatch",
            "moe_combine",
            "erf"
        ]
    );
}

#[test]
fn mixed_precision_gemm_on_npu_cpu_and_pim() {
    let qgemm = "
.buffer a,  MEM, addr=0,    shape=[4, 64],  dtype=f16
.buffer w,  MEM, addr=512,  shape=[64, 32], dtype=i4
.buffer sc, MEM, addr=1536, shape=[32],     dtype=f32
.buffer zp, MEM, addr=1664, shape=[32],     dtype=i4
.buffer o,  MEM, addr=1792, shape=[4, 32],  dtype=f16
.stream ENGINE
    qgemm o, a, w, sc, zp, m=4, n=32, k=64, dtype=f16, wdtype=i4
";
    let npu = qgemm.replace("MEM", "spm").replace("ENGINE", "npu.mx");
    assert_eq!(check(&npu, "mobile-soc"), Vec::<String>::new());
    let cpu = qgemm.replace("MEM", "dram").replace("ENGINE", "cpu.1");
    assert_eq!(check(&cpu, "mobile-soc"), Vec::<String>::new());
    // f16 weights are not mixed precision.
    let bad = npu
        .replace("dtype=i4", "dtype=f16")
        .replace("wdtype=i4", "wdtype=f16");
    let errs = check(&bad, "mobile-soc");
    assert!(
        errs.contains(&"npu.mx #0 `qgemm`: `wdtype` must be i8 or i4, not f16".to_string()),
        "{errs:?}"
    );
    // PIM: 4 rows of 1024 i8 weights (1 KiB each) at 1 MiB, all in channel 0.
    let pim = "
.buffer x,  dram, addr=0,       shape=[1024],    dtype=f16
.buffer y,  dram, addr=4096,    shape=[4],       dtype=f16
.buffer sc, dram, addr=4160,    shape=[4],       dtype=f32
.buffer zp, dram, addr=4192,    shape=[4],       dtype=i8
.buffer w,  dram, addr=1048576, shape=[4, 1024], dtype=i8
.stream pim.0
    pim.qgemv y, w, x, sc, zp, rows=4, cols=1024, ld=1024, dtype=f16, wdtype=i8
";
    assert_eq!(check(pim, "mobile-soc-pim"), Vec::<String>::new());
}

#[test]
fn bad_operands_are_named() {
    let base = VECTOR.replace("MEM", "dram").replace("ENGINE", "cpu.0");
    for (from, to, want) in [
        (
            "k=2, dtype=f16, idx_dtype=i32",
            "k=17, dtype=f16, idx_dtype=i32",
            "cpu.0 #8 `topk`: `k` 17 must be in 1..=16",
        ),
        (
            "idx_dtype=i64\n",
            "idx_dtype=i8\n",
            "cpu.0 #7 `gather`: `idx_dtype` must be i32 or i64, not i8",
        ),
        (
            "rotary=16",
            "rotary=15",
            "cpu.0 #6 `rope`: `rotary` 15 must be even, at least 2 and at most `cols` 16",
        ),
        (
            "dst_strides=[0, 0, 8, 1]",
            "dst_strides=[0, 0, 4, 1]",
            "cpu.0 #5 `scopy`: `dst_strides` [0, 0, 4, 1] make two elements land on one place (dims [1, 1, 8, 8])",
        ),
        (
            "to=i8, sbcast=row",
            "to=f16, sbcast=row",
            "cpu.0 #9 `quantize`: `to` must be i4, i8 or i32, not f16",
        ),
        (
            "q_start=12, k_start=0, dtype=f16",
            "q_start=12, k_start=0, dtype=i8",
            "cpu.0 #2 `causal_mask`: `dtype` must be a float dtype, not i8",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let errs = check(&text, "mobile-soc");
        assert!(errs.contains(&want.to_string()), "{want}\n{errs:#?}");
    }
    // A non-permutation does not even assemble.
    let e = Program::from_text(&base.replace("perm=[0, 2, 1, 3]", "perm=[0, 2, 2, 3]"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("an axis repeats"), "{e}");
}
