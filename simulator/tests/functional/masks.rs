//! Instructions added with the ISA completeness work: comparisons, select, masks,
//! quantisation, broadcast modes and the new element-wise functions, on
//! hand-computed cases.

use triad_isa::DType;

use super::{Run, dec, enc, round_to};

/// One instruction on `npu.vec` over scratchpad buffers `a`, `b`, `c`, `out`.
fn one(insn: &str, dts: [DType; 4], sizes: [usize; 4], inputs: [&[u8]; 3]) -> Vec<f64> {
    let names = ["a", "b", "c", "out"];
    let mut text = String::new();
    for (i, name) in names.iter().enumerate() {
        text += &format!(
            ".buffer {name}, spm, addr={}, shape=[{}], dtype={}\n",
            i * 4096,
            sizes[i],
            dts[i]
        );
    }
    text += &format!(".stream npu.vec\n{insn}\n");
    let mut r = Run::new(&text);
    for (i, b) in inputs.iter().enumerate() {
        if !b.is_empty() {
            r.set(names[i], b);
        }
    }
    r.run();
    dec(dts[3], &r.get("out"), sizes[3])
}

const F16: DType = DType::F16;
const F32: DType = DType::F32;
const B: DType = DType::Bool;

#[test]
fn comparisons_with_nan_and_broadcast() {
    let a = enc(F16, &[1.0, 2.0, f64::NAN, 4.0]);
    let two = enc(F16, &[2.0]);
    let lt = one(
        "cmp lt, out, a, b, rows=2, cols=2, dtype=f16, bcast=scalar",
        [F16, F16, F16, B],
        [4, 1, 1, 4],
        [&a, &two, &[]],
    );
    assert_eq!(lt, [1.0, 0.0, 0.0, 0.0]);
    let ne = one(
        "cmp ne, out, a, b, rows=2, cols=2, dtype=f16, bcast=scalar",
        [F16, F16, F16, B],
        [4, 1, 1, 4],
        [&a, &two, &[]],
    );
    assert_eq!(ne, [1.0, 0.0, 1.0, 1.0]);
    let ge = one(
        "cmp ge, out, a, b, rows=2, cols=2, dtype=f16, bcast=col",
        [F16, F16, F16, B],
        [4, 2, 1, 4],
        [&a, &enc(F16, &[2.0, 3.0]), &[]],
    );
    assert_eq!(ge, [0.0, 1.0, 0.0, 1.0]);
    // i64 compares exactly beyond 2^53.
    let big = 1i64 << 60;
    let a: Vec<u8> = [big, big + 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let b: Vec<u8> = [big, big].iter().flat_map(|v| v.to_le_bytes()).collect();
    let eq = one(
        "cmp eq, out, a, b, rows=1, cols=2, dtype=i64, bcast=none",
        [DType::I64, DType::I64, F16, B],
        [2, 2, 1, 2],
        [&a, &b, &[]],
    );
    assert_eq!(eq, [1.0, 0.0]);
}

#[test]
fn select_reads_each_operand_in_its_mode() {
    // cond per row (col mode), a whole, b one scalar.
    let got = one(
        "select out, a, b, c, rows=2, cols=3, dtype=f32, cond_bcast=col, a_bcast=none, b_bcast=scalar",
        [B, F32, F32, F32],
        [2, 6, 1, 6],
        [
            &[1, 0],
            &enc(F32, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            &enc(F32, &[9.0]),
        ],
    );
    assert_eq!(got, [1.0, 2.0, 3.0, 9.0, 9.0, 9.0]);
}

#[test]
fn causal_and_tree_masks() {
    // Two heads of 2 queries at positions 1, 2 (q_start = 1) over keys 0..3.
    let x: Vec<f64> = (0..12).map(f64::from).collect();
    let got = one(
        "causal_mask out, a, rows=4, cols=3, seq=2, q_start=1, k_start=0, dtype=f16",
        [F16; 4],
        [12, 1, 1, 12],
        [&enc(F16, &x), &[], &[]],
    );
    let ninf = f64::NEG_INFINITY;
    assert_eq!(
        got,
        [
            0.0, 1.0, ninf, 3.0, 4.0, 5.0, 6.0, 7.0, ninf, 9.0, 10.0, 11.0
        ]
    );
    let got = one(
        "tree_mask out, a, b, rows=4, cols=2, seq=2, dtype=f16",
        [F16, B, F16, F16],
        [8, 4, 1, 8],
        [&enc(F16, &x[..8]), &[1, 0, 1, 1], &[]],
    );
    assert_eq!(got, [0.0, ninf, 2.0, 3.0, 4.0, ninf, 6.0, 7.0]);
}

#[test]
fn quantize_and_dequantize_follow_onnx() {
    // x / 0.5 + 3, RNE, saturated; NaN gives the zero point.
    let got = one(
        "quantize out, a, b, c, rows=1, cols=5, from=f32, to=i8, sbcast=scalar",
        [F32, F32, DType::I8, DType::I8],
        [5, 1, 1, 5],
        [
            &enc(F32, &[1.0, -2.6, 1000.0, f64::NAN, 1.25]),
            &enc(F32, &[0.5]),
            &enc(DType::I8, &[3.0]),
        ],
    );
    // 1.25 / 0.5 = 2.5 rounds to even 2, plus 3.
    assert_eq!(got, [5.0, -2.0, 127.0, 3.0, 5.0]);
    // Per-row scales and zeros (col mode): (x − zero) · scale.
    let got = one(
        "dequantize out, a, b, c, rows=2, cols=2, from=i8, to=f16, sbcast=col",
        [DType::I8, F32, DType::I8, F16],
        [4, 2, 2, 4],
        [
            &enc(DType::I8, &[5.0, -2.0, 127.0, -128.0]),
            &enc(F32, &[0.5, 0.25]),
            &enc(DType::I8, &[3.0, -1.0]),
        ],
    );
    assert_eq!(got, [1.0, -2.5, 32.0, round_to(F16, -127.0 * 0.25)]);
}

#[test]
fn new_element_wise_functions() {
    let pow = one(
        "eltwise pow, out, a, b, rows=1, cols=3, dtype=f32, bcast=none",
        [F32; 4],
        [3, 3, 1, 3],
        [
            &enc(F32, &[2.0, 9.0, 10.0]),
            &enc(F32, &[3.0, 0.5, -1.0]),
            &[],
        ],
    );
    assert_eq!(pow, [8.0, 3.0, round_to(F32, 0.1)]);
    let and = one(
        "eltwise and, out, a, b, rows=1, cols=4, dtype=bool, bcast=none",
        [B; 4],
        [4, 4, 1, 4],
        [&[0, 1, 0, 1], &[0, 0, 1, 1], &[]],
    );
    assert_eq!(and, [0.0, 0.0, 0.0, 1.0]);
    let or = one(
        "eltwise or, out, a, b, rows=1, cols=4, dtype=bool, bcast=none",
        [B; 4],
        [4, 4, 1, 4],
        [&[0, 1, 0, 1], &[0, 0, 1, 1], &[]],
    );
    assert_eq!(or, [0.0, 1.0, 1.0, 1.0]);
    let not = one(
        "unary not, out, a, rows=1, cols=2, dtype=bool",
        [B; 4],
        [2, 1, 1, 2],
        [&[0, 1], &[], &[]],
    );
    assert_eq!(not, [1.0, 0.0]);
    let x = [0.5, 2.0, 10.0];
    let log = one(
        "unary log, out, a, rows=1, cols=3, dtype=f16",
        [F16; 4],
        [3, 1, 1, 3],
        [&enc(F16, &x), &[], &[]],
    );
    assert_eq!(log, x.map(|v| round_to(F16, libm::log(v))));
    let erf = one(
        "unary erf, out, a, rows=1, cols=3, dtype=bf16",
        [DType::BF16; 4],
        [3, 1, 1, 3],
        [&enc(DType::BF16, &x), &[], &[]],
    );
    assert_eq!(erf, x.map(|v| round_to(DType::BF16, libm::erf(v))));
}
