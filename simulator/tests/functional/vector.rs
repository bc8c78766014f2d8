//! Vector instructions: element-wise maps bit-exact against f64 formulas rounded
//! once here; row statistics (f32 inside) within one ulp of the dtype of an f64
//! reference, and exact on hand cases; integer paths exact (wrapping as documented).

use triad_isa::DType;
use triad_sim::Error;

use super::{Run, assert_close, assert_same, dec, enc, round_to};

/// Runs one instruction on `npu.vec` with scratchpad buffers `a`, `b`, `c`, `out`
/// (each `n` elements of its dtype) after writing the given inputs.
fn vec1(insn: &str, dts: [DType; 4], n: usize, inputs: [&[f64]; 3]) -> Result<Vec<f64>, Error> {
    let names = ["a", "b", "c", "out"];
    let mut text = String::new();
    for (i, (name, d)) in names.iter().zip(dts).enumerate() {
        text += &format!(
            ".buffer {name}, spm, addr={}, shape=[{n}], dtype={d}\n",
            i * 65536
        );
    }
    text += &format!(".stream npu.vec\n{insn}\n");
    let mut r = Run::new(&text);
    for (i, v) in inputs.iter().enumerate() {
        if !v.is_empty() {
            r.set(names[i], &enc(dts[i], v));
        }
    }
    r.try_run()?;
    Ok(dec(dts[3], &r.get("out"), n))
}

fn f64s(v: &[f64], d: DType) -> Vec<f64> {
    v.iter().map(|&x| round_to(d, x)).collect()
}

/// Values with ties, signs, a zero, small and large magnitudes.
fn sample(d: DType) -> Vec<f64> {
    f64s(
        &[
            1.0, -2.5, 0.1, 3.0, -0.0, 7.75, 1e-3, -100.5, 0.3333, 2.0, -1.0, 0.5,
        ],
        d,
    )
}

#[test]
fn eltwise_float_ops_are_correctly_rounded() {
    for d in [DType::F16, DType::BF16, DType::F32] {
        let a = sample(d);
        let b: Vec<f64> = f64s(
            &a.iter().rev().map(|x| x * 0.7 + 0.2).collect::<Vec<_>>(),
            d,
        );
        for (op, f) in [
            ("add", (|p, q| p + q) as fn(f64, f64) -> f64),
            ("sub", |p, q| p - q),
            ("mul", |p, q| p * q),
            ("div", |p, q| p / q),
            ("max", f64::max),
            ("min", f64::min),
        ] {
            let got = vec1(
                &format!("eltwise {op}, out, a, b, rows=3, cols=4, dtype={d}, bcast=none"),
                [d; 4],
                12,
                [&a, &b, &[]],
            )
            .unwrap();
            let want: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(&p, &q)| round_to(d, f(p, q)))
                .collect();
            assert_same(&got, &want, &format!("{op} {d}"));
            // Broadcast: b's first row (4 elements) for every row.
            let got = vec1(
                &format!("eltwise {op}, out, a, b, rows=3, cols=4, dtype={d}, bcast=row"),
                [d; 4],
                12,
                [&a, &b, &[]],
            )
            .unwrap();
            let want: Vec<f64> = a
                .iter()
                .enumerate()
                .map(|(e, &p)| round_to(d, f(p, b[e % 4])))
                .collect();
            assert_same(&got, &want, &format!("{op} {d} bcast"));
        }
    }
}

#[test]
fn eltwise_integers_wrap_and_truncate() {
    let d = DType::I8;
    let a = [100.0, 16.0, -7.0, -128.0, 5.0, -128.0];
    let b = [100.0, 16.0, 2.0, -1.0, -3.0, 1.0];
    let run = |op: &str| {
        vec1(
            &format!("eltwise {op}, out, a, b, rows=2, cols=3, dtype=i8, bcast=none"),
            [d; 4],
            6,
            [&a, &b, &[]],
        )
    };
    assert_eq!(run("add").unwrap(), [-56.0, 32.0, -5.0, 127.0, 2.0, -127.0]);
    assert_eq!(
        run("mul").unwrap(),
        [16.0, 0.0, -14.0, -128.0, -15.0, -128.0]
    );
    assert_eq!(run("div").unwrap(), [1.0, 1.0, -3.0, -128.0, -1.0, -128.0]);
    assert_eq!(run("sub").unwrap(), [0.0, 0.0, -9.0, -127.0, 8.0, 127.0]);
    assert_eq!(run("max").unwrap(), [100.0, 16.0, 2.0, -1.0, 5.0, 1.0]);
    let zero = vec1(
        "eltwise div, out, a, b, rows=1, cols=2, dtype=i32, bcast=none",
        [DType::I32; 4],
        2,
        [&[1.0, 2.0], &[1.0, 0.0], &[]],
    );
    assert!(
        matches!(&zero, Err(Error::Functional { message, .. }) if message.contains("division by zero")),
        "{zero:?}"
    );
}

#[test]
fn unary_functions_match_f64_formulas() {
    for d in [DType::F16, DType::BF16, DType::F32] {
        let a: Vec<f64> = sample(d)
            .iter()
            .map(|x| x.abs() + 0.01)
            .map(|x| round_to(d, x))
            .collect();
        for (f, g) in [
            ("exp", libm::exp as fn(f64) -> f64),
            ("neg", |x| -x),
            ("abs", f64::abs),
            ("sqrt", f64::sqrt),
            ("rsqrt", |x| 1.0 / x.sqrt()),
            ("recip", |x| 1.0 / x),
            ("square", |x| x * x),
        ] {
            let got = vec1(
                &format!("unary {f}, out, a, rows=2, cols=6, dtype={d}"),
                [d; 4],
                12,
                [&a, &[], &[]],
            )
            .unwrap();
            let want: Vec<f64> = a.iter().map(|&x| round_to(d, g(x))).collect();
            assert_same(&got, &want, &format!("{f} {d}"));
        }
    }
    // sqrt of a negative is NaN.
    let got = vec1(
        "unary sqrt, out, a, rows=1, cols=1, dtype=f32",
        [DType::F32; 4],
        1,
        [&[-4.0], &[], &[]],
    )
    .unwrap();
    assert!(got[0].is_nan());
    // Integers: neg / abs / square wrap; exp is undefined.
    let a = [-128.0, 12.0, -3.0];
    let run = |f: &str| {
        vec1(
            &format!("unary {f}, out, a, rows=1, cols=3, dtype=i8"),
            [DType::I8; 4],
            3,
            [&a, &[], &[]],
        )
    };
    assert_eq!(run("neg").unwrap(), [-128.0, -12.0, 3.0]);
    assert_eq!(run("abs").unwrap(), [-128.0, 12.0, 3.0]);
    assert_eq!(run("square").unwrap(), [0.0, -112.0, 9.0]);
    assert!(matches!(run("exp"), Err(Error::Functional { .. })));
}

fn gelu_tanh(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::tanh((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)))
}

#[test]
fn activations_match_f64_formulas() {
    for d in [DType::F16, DType::BF16, DType::F32] {
        let a = sample(d);
        for (f, g) in [
            (
                "relu",
                (|x: f64| if x > 0.0 { x } else { 0.0 }) as fn(f64) -> f64,
            ),
            ("gelu_tanh", gelu_tanh),
            ("gelu_erf", |x| {
                0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
            }),
            ("silu", |x| x / (1.0 + libm::exp(-x))),
            ("sigmoid", |x| 1.0 / (1.0 + libm::exp(-x))),
            ("tanh", libm::tanh),
        ] {
            let got = vec1(
                &format!("act {f}, out, a, rows=4, cols=3, dtype={d}"),
                [d; 4],
                12,
                [&a, &[], &[]],
            )
            .unwrap();
            let want: Vec<f64> = a.iter().map(|&x| round_to(d, g(x))).collect();
            assert_same(&got, &want, &format!("{f} {d}"));
        }
    }
    let got = vec1(
        "act relu, out, a, rows=1, cols=3, dtype=i32",
        [DType::I32; 4],
        3,
        [&[-5.0, 0.0, 9.0], &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [0.0, 0.0, 9.0]);
    assert!(
        vec1(
            "act gelu_tanh, out, a, rows=1, cols=1, dtype=i8",
            [DType::I8; 4],
            1,
            [&[1.0], &[], &[]]
        )
        .is_err()
    );
}

/// f64 softmax of one row.
fn softmax_ref(row: &[f64]) -> Vec<f64> {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|&x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[test]
fn softmax_is_within_one_ulp_and_exact_on_hand_cases() {
    let d = DType::F16;
    let x = sample(d);
    let got = vec1(
        "softmax out, a, rows=2, cols=6, dtype=f16",
        [d; 4],
        12,
        [&x, &[], &[]],
    )
    .unwrap();
    let want: Vec<f64> = x
        .chunks(6)
        .flat_map(softmax_ref)
        .map(|v| round_to(d, v))
        .collect();
    assert_close(d, &got, &want, 1, "softmax f16");
    // Equal entries: exactly 1/4; −inf: exactly 0 and the rest exactly 1/3.
    let got = vec1(
        "softmax out, a, rows=2, cols=4, dtype=f16",
        [d; 4],
        8,
        [
            &[3.0, 3.0, 3.0, 3.0, 1.0, f64::NEG_INFINITY, 1.0, 1.0],
            &[],
            &[],
        ],
    )
    .unwrap();
    let third = round_to(d, 1.0 / 3.0);
    assert_eq!(got, [0.25, 0.25, 0.25, 0.25, third, 0.0, third, third]);
}

#[test]
fn norms_are_within_one_ulp_of_the_f64_formula() {
    let d = DType::F16;
    let x: Vec<f64> = f64s(&[1.0, 2.0, 3.0, 4.0, -0.5, 0.25, 8.0, -3.0], d);
    let gamma = f64s(&[1.0, 0.5, -2.0, 1.5], d);
    let beta = f64s(&[0.0, 0.125, 1.0, -1.0], d);
    let eps = 1e-5;
    let mut ln = Vec::new();
    let mut rms = Vec::new();
    for row in x.chunks(4) {
        let mean = row.iter().sum::<f64>() / 4.0;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 4.0;
        let ms = row.iter().map(|v| v * v).sum::<f64>() / 4.0;
        for j in 0..4 {
            ln.push(round_to(
                d,
                (row[j] - mean) / (var + eps).sqrt() * gamma[j] + beta[j],
            ));
            rms.push(round_to(d, row[j] / (ms + eps).sqrt() * gamma[j]));
        }
    }
    let mut text = String::from(
        ".buffer x, spm, addr=0, shape=[2, 4], dtype=f16\n\
         .buffer g, spm, addr=64, shape=[4], dtype=f16\n\
         .buffer b, spm, addr=128, shape=[4], dtype=f16\n\
         .buffer y, spm, addr=192, shape=[2, 4], dtype=f16\n\
         .buffer z, dram, addr=0, shape=[2, 4], dtype=f16\n\
         .buffer xd, dram, addr=64, shape=[2, 4], dtype=f16\n\
         .buffer gd, dram, addr=128, shape=[4], dtype=f16\n",
    );
    text += ".stream npu.vec\nlayernorm y, x, g, b, rows=2, cols=4, dtype=f16, eps=1e-5\n";
    text += ".stream cpu.0\nrmsnorm z, xd, gd, rows=2, cols=4, dtype=f16, eps=1e-5\n";
    let mut r = Run::new(&text);
    r.set("x", &enc(d, &x));
    r.set("xd", &enc(d, &x));
    r.set("g", &enc(d, &gamma));
    r.set("gd", &enc(d, &gamma));
    r.set("b", &enc(d, &beta));
    r.run();
    assert_close(d, &dec(d, &r.get("y"), 8), &ln, 1, "layernorm");
    assert_close(d, &dec(d, &r.get("z"), 8), &rms, 1, "rmsnorm");
}

#[test]
fn reductions() {
    let d = DType::F16;
    let x = [1.0, -2.5, 4.0, 0.5, f64::NAN, 3.0, -1.0, 2.0, 0.25];
    let run = |op: &str, d: DType, x: &[f64]| {
        vec1(
            &format!("reduce {op}, out, a, rows=3, cols=3, dtype={d}"),
            [d; 4],
            9,
            [x, &[], &[]],
        )
        .map(|v| v[..3].to_vec())
    };
    assert_same(&run("sum", d, &x).unwrap(), &[2.5, f64::NAN, 1.25], "sum");
    assert_same(
        &run("mean", d, &x).unwrap(),
        &[round_to(d, 2.5 / 3.0), f64::NAN, round_to(d, 1.25 / 3.0)],
        "mean",
    );
    assert_same(&run("max", d, &x).unwrap(), &[4.0, f64::NAN, 2.0], "max");
    assert_same(&run("min", d, &x).unwrap(), &[-2.5, f64::NAN, -1.0], "min");
    let xi = [100.0, 100.0, -3.0, -128.0, 1.0, 2.0, 7.0, 7.0, 7.0];
    assert_eq!(run("sum", DType::I8, &xi).unwrap(), [-59.0, -125.0, 21.0]);
    assert_eq!(run("max", DType::I8, &xi).unwrap(), [100.0, 2.0, 7.0]);
    assert_eq!(run("min", DType::I8, &xi).unwrap(), [-3.0, -128.0, 7.0]);
    assert!(run("mean", DType::I8, &xi).is_err());
}

#[test]
fn convert_rounds_half_even_and_saturates() {
    let f = DType::F32;
    let x = [2.5, 3.5, -2.5, 300.0, -300.0, f64::NAN, 0.49, -0.51];
    let got = vec1(
        "convert out, a, rows=2, cols=4, from=f32, to=i8, scale=1.0",
        [f, f, f, DType::I8],
        8,
        [&x, &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [2.0, 4.0, -2.0, 127.0, -128.0, 0.0, 0.0, -1.0]);
    // Quantise to i4 with a scale: 1.3 · 10 ≈ 13 saturates to 7; 0.25 · 10 = 2.5 → 2.
    let got = vec1(
        "convert out, a, rows=1, cols=2, from=f32, to=i4, scale=10.0",
        [f, f, f, DType::I4],
        2,
        [&[1.3, 0.25], &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [7.0, 2.0]);
    // i32 → i8 with scale 1 wraps (the IR's Cast); i8 → f16 with scale 0.5 dequantises.
    let got = vec1(
        "convert out, a, rows=1, cols=3, from=i32, to=i8, scale=1.0",
        [DType::I32, f, f, DType::I8],
        3,
        [&[1000.0, -1000.0, 5.0], &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [-24.0, 24.0, 5.0]);
    let got = vec1(
        "convert out, a, rows=1, cols=3, from=i8, to=f16, scale=0.5",
        [DType::I8, f, f, DType::F16],
        3,
        [&[-128.0, 3.0, 127.0], &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [-64.0, 1.5, 63.5]);
    // f16 → bf16 ties to even at the bit level: 1 + 2^-8 → 1; 1 + 3·2^-8 → 1 + 2^-6.
    let got = vec1(
        "convert out, a, rows=1, cols=2, from=f16, to=bf16, scale=1.0",
        [DType::F16, f, f, DType::BF16],
        2,
        [&[1.0 + 2f64.powi(-8), 1.0 + 3.0 * 2f64.powi(-8)], &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [1.0, 1.0 + 2f64.powi(-6)]);
    // bool both ways.
    let got = vec1(
        "convert out, a, rows=1, cols=3, from=f32, to=bool, scale=1.0",
        [f, f, f, DType::Bool],
        3,
        [&[0.0, -0.5, 2.0], &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [0.0, 1.0, 1.0]);
    let got = vec1(
        "convert out, a, rows=1, cols=2, from=bool, to=f32, scale=2.0",
        [DType::Bool, f, f, f],
        2,
        [&[1.0, 0.0], &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [2.0, 0.0]);
}

#[test]
fn moe_dispatch_and_combine_route_by_slot() {
    // 4 tokens, k = 2 choices over 3 experts, capacity 2, hidden 2.
    // Choices: t0 {0, 1}, t1 {1, 1}, t2 {0, 2}, t3 {0, 1}.
    // Expert 0: t0 slot 0, t2 slot 1, t3 slot 2 (dropped). Expert 1: t0 0, t1 1, t3
    // dropped. Expert 2: t2 0.
    let text = ".buffer x, dram, addr=0, shape=[4, 2], dtype=f32\n\
                .buffer i, dram, addr=64, shape=[4, 2], dtype=i32\n\
                .buffer d, dram, addr=128, shape=[2, 2], dtype=f32\n\
                .buffer g, dram, addr=192, shape=[4, 2], dtype=f32\n\
                .buffer e, dram, addr=256, shape=[3, 2, 2], dtype=f32\n\
                .buffer o, dram, addr=512, shape=[4, 2], dtype=f32\n\
                .stream cpu.0\n\
                moe_dispatch d, x, i, tokens=4, hidden=2, k=2, expert=0, capacity=2, dtype=f32, idx_dtype=i32\n\
                moe_combine o, i, g, e, tokens=4, hidden=2, k=2, experts=3, capacity=2, dtype=f32, idx_dtype=i32\n";
    let mut r = Run::new(text);
    let x: Vec<f64> = (0..8).map(f64::from).collect();
    r.set("x", &enc(DType::F32, &x));
    r.set(
        "i",
        &enc(DType::I32, &[0.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 1.0]),
    );
    r.set(
        "g",
        &enc(DType::F32, &[0.5, 0.25, 1.0, 2.0, 0.75, 0.125, 3.0, 4.0]),
    );
    let e: Vec<f64> = (0..12).map(|v| f64::from(v) + 100.0).collect();
    r.set("e", &enc(DType::F32, &e));
    r.run();
    assert_eq!(dec(DType::F32, &r.get("d"), 4), [0.0, 1.0, 4.0, 5.0]);
    // out[t] = Σ gate · e[expert][slot]; e[ex][s] starts at (ex·2 + s)·2.
    let row = |ex: usize, s: usize| [e[(ex * 2 + s) * 2], e[(ex * 2 + s) * 2 + 1]];
    let mut want = Vec::new();
    for parts in [
        vec![(0.5, row(0, 0)), (0.25, row(1, 0))],
        vec![(1.0, row(1, 1)), (2.0, row(1, 1))],
        vec![(0.75, row(0, 1)), (0.125, row(2, 0))],
        vec![],
    ]
    .iter()
    {
        for h in 0..2 {
            want.push(parts.iter().map(|(g, r)| g * r[h]).sum::<f64>());
        }
    }
    assert_eq!(dec(DType::F32, &r.get("o"), 8), want);
}

#[test]
fn transpose_permutes_four_axes_including_i4() {
    let d = DType::F16;
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
    let got = vec1(
        "transpose out, a, dims=[1, 1, 2, 3], perm=[0, 1, 3, 2], dtype=f16",
        [d; 4],
        6,
        [&x, &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let x = [-8.0, 1.0, 2.0, 3.0, -4.0, 5.0, 6.0, 7.0, -1.0]; // 3x3 i4
    let got = vec1(
        "transpose out, a, dims=[1, 1, 3, 3], perm=[0, 1, 3, 2], dtype=i4",
        [DType::I4; 4],
        9,
        [&x, &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [-8.0, 3.0, 6.0, 1.0, -4.0, 7.0, 2.0, 5.0, -1.0]);
    // A full 4-D permutation against nested loops: x[a][b][c][e] with dims [2, 3, 2, 2],
    // perm [2, 0, 3, 1]: out[c][a][e][b] = x[a][b][c][e].
    let dims = [2usize, 3, 2, 2];
    let x: Vec<f64> = (0..24).map(f64::from).collect();
    let got = vec1(
        "transpose out, a, dims=[2, 3, 2, 2], perm=[2, 0, 3, 1], dtype=f32",
        [DType::F32; 4],
        24,
        [&x, &[], &[]],
    )
    .unwrap();
    let mut want = vec![0.0; 24];
    for a in 0..2 {
        for b in 0..3 {
            for c in 0..2 {
                for e in 0..2 {
                    let src = ((a * dims[1] + b) * dims[2] + c) * dims[3] + e;
                    let dst = ((c * 2 + a) * 2 + e) * 3 + b;
                    want[dst] = x[src];
                }
            }
        }
    }
    assert_eq!(got, want);
}

#[test]
fn strided_copy_scatters_and_broadcasts() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let got = vec1(
        "scopy out, a, dims=[1, 1, 2, 3], src_strides=[0, 0, 3, 1], dst_strides=[0, 0, 1, 2], dtype=f32",
        [DType::F32; 4],
        6,
        [&x, &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // Stride 0 on the source broadcasts x[0] to every other element; the gaps keep
    // their value (zero here).
    let got = vec1(
        "scopy out, a, dims=[1, 1, 1, 3], src_strides=[0, 0, 0, 0], dst_strides=[0, 0, 0, 2], dtype=f32",
        [DType::F32; 4],
        6,
        [&x, &[], &[]],
    )
    .unwrap();
    assert_eq!(got, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn rope_with_positions_matches_the_formula() {
    let mut r = Run::new(
        ".buffer x, spm, addr=0, shape=[2, 6], dtype=f32\n.buffer p, spm, addr=64, shape=[2], dtype=i32\n\
         .buffer y, spm, addr=128, shape=[2, 6], dtype=f32\n.stream npu.vec\n\
         rope y, x, p, rows=2, cols=6, seq=2, rotary=4, dtype=f32, pos_dtype=i32, theta=10000.0\n",
    );
    let x: Vec<f64> = (0..12).map(|v| f64::from(v) * 0.5 - 2.0).collect();
    r.set("x", &enc(DType::F32, &x));
    r.set("p", &enc(DType::I32, &[0.0, 3.0]));
    r.run();
    let got = dec(DType::F32, &r.get("y"), 12);
    let mut want = x.clone();
    for (row, p) in [(0usize, 0.0f64), (1, 3.0)] {
        for k in 0..2 {
            let a = p * libm::pow(10000.0, -2.0 * k as f64 / 4.0);
            let (x1, x2) = (x[row * 6 + k], x[row * 6 + k + 2]);
            want[row * 6 + k] = round_to(DType::F32, x1 * libm::cos(a) - x2 * libm::sin(a));
            want[row * 6 + k + 2] = round_to(DType::F32, x2 * libm::cos(a) + x1 * libm::sin(a));
        }
    }
    assert_same(&got, &want, "rope");
    assert_eq!(&got[..6], &x[..6], "position 0 is the identity");
}

#[test]
fn gather_looks_up_rows_and_rejects_bad_indices() {
    let text = |idx: &str| {
        format!(
            ".buffer t, dram, addr=0, shape=[4, 3], dtype=bf16\n\
             .buffer i, dram, addr=64, shape=[3], dtype=i32\n\
             .buffer o, dram, addr=128, shape=[3, 3], dtype=bf16\n\
             .stream cpu.1\n{idx}"
        )
    };
    let table: Vec<f64> = (0..12).map(|v| v as f64 * 0.5 - 2.0).collect();
    let mut r = Run::new(&text(
        "gather o, t, i, rows=3, cols=3, table_rows=4, dtype=bf16, idx_dtype=i32\n",
    ));
    r.set("t", &enc(DType::BF16, &table));
    // -1 is the last row (ONNX).
    r.set("i", &enc(DType::I32, &[2.0, 0.0, -1.0]));
    r.run();
    let got = dec(DType::BF16, &r.get("o"), 9);
    let want: Vec<f64> = [2usize, 0, 3]
        .iter()
        .flat_map(|&k| table[k * 3..k * 3 + 3].to_vec())
        .collect();
    assert_eq!(got, want);
    for bad in [4.0, -5.0] {
        let mut r = Run::new(&text(
            "gather o, t, i, rows=3, cols=3, table_rows=4, dtype=bf16, idx_dtype=i32\n",
        ));
        r.set("i", &enc(DType::I32, &[0.0, bad, 1.0]));
        let e = r.try_run().unwrap_err();
        assert!(e.to_string().contains("idx[1]"), "{e}");
    }
}

#[test]
fn operands_outside_their_buffer_are_errors_not_panics() {
    let mut r = Run::new(
        ".buffer a, spm, addr=0, shape=[4], dtype=f16\n\
         .stream npu.vec\nact relu, a, a+4, rows=1, cols=4, dtype=f16\n",
    );
    let e = r.try_run().unwrap_err();
    assert!(
        matches!(&e, Error::Functional { engine, insn, message } if engine == "npu.vec" && insn == "act" && message.contains("`x`")),
        "{e}"
    );
}

#[test]
fn signal_and_wait_change_no_data() {
    let mut r = Run::new(
        ".buffer a, spm, addr=0, shape=[4], dtype=f16\n.sem s, init=1\n\
         .stream npu.vec\nsignal s, value=1\nwait s, value=2\n",
    );
    r.run();
    assert_eq!(r.mem.pages_allocated(triad_isa::Memory::Spm), 0);
}

#[test]
fn topk_sorts_descending_with_nan_first_and_ties_by_index() {
    let mut r = Run::new(
        ".buffer x, spm, addr=0, shape=[2, 5], dtype=f16\n.buffer v, spm, addr=64, shape=[2, 3], dtype=f16\n\
         .buffer i, spm, addr=128, shape=[2, 3], dtype=i64\n.stream npu.vec\n\
         topk v, i, x, rows=2, cols=5, k=3, dtype=f16, idx_dtype=i64\n",
    );
    let x = [1.0, 3.0, f64::NAN, 3.0, -0.0, 0.0, -1.0, -0.0, 2.0, 0.5];
    r.set("x", &enc(DType::F16, &x));
    r.run();
    let v = dec(DType::F16, &r.get("v"), 6);
    let i = dec(DType::I64, &r.get("i"), 6);
    assert_eq!(i, [2.0, 1.0, 3.0, 3.0, 4.0, 0.0]);
    assert!(v[0].is_nan());
    assert_eq!(&v[1..], &[3.0, 3.0, 2.0, 0.5, 0.0]);
}
