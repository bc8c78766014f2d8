//! The one capability query, `Arch::supports`, and the verifier asking it for every
//! instruction: ops that used to go unchecked (`neg`, `abs`, `sqrt`, `square`,
//! reduce `min` / `mean`) are checked like the rest, and errors name the arch field.

use triad_isa::{Arch, Capability, DType, Error, Program, Unit, VectorOp, verify};

fn arch(name: &str) -> Arch {
    Arch::preset(name).unwrap()
}

/// mobile-soc with its vector unit limited to `ops`.
fn with_vector_ops(ops: &[VectorOp]) -> Arch {
    let mut a = arch("mobile-soc");
    a.npu.as_mut().unwrap().vector_ops = ops.to_vec();
    a
}

fn problems(text: &str, a: &Arch) -> Vec<String> {
    let p = Program::from_text(text).unwrap();
    match verify(&p, a) {
        Ok(_) => Vec::new(),
        Err(Error::Verify(ps)) => ps.list.iter().map(|p| p.to_string()).collect(),
        Err(e) => panic!("not a verification error: {e}"),
    }
}

#[test]
fn every_vector_instruction_is_checked_against_vector_ops() {
    let a = with_vector_ops(&[VectorOp::Add]);
    for (insn, cap) in [
        ("unary neg, y, x, rows=2, cols=8, dtype=f16", "neg"),
        ("unary abs, y, x, rows=2, cols=8, dtype=f16", "abs"),
        ("unary sqrt, y, x, rows=2, cols=8, dtype=f16", "sqrt"),
        ("unary square, y, x, rows=2, cols=8, dtype=f16", "square"),
        ("reduce min, y, x, rows=2, cols=8, dtype=f16", "reduce_min"),
        (
            "reduce mean, y, x, rows=2, cols=8, dtype=f16",
            "reduce_mean",
        ),
        (
            "transpose y, x, dims=[1, 1, 2, 8], perm=[0, 1, 3, 2], dtype=f16",
            "transpose",
        ),
    ] {
        let text = format!(
            ".buffer x, spm, addr=0, shape=[2, 8], dtype=f16\n\
             .buffer y, spm, addr=64, shape=[2, 8], dtype=f16\n\
             .stream npu.vec\n    {insn}\n"
        );
        assert_eq!(
            problems(&text, &a),
            vec![format!(
                "npu.vec #0 `{}`: npu.vec of arch `mobile-soc` cannot do vector op `{cap}` in f16: npu.vector_ops lacks `{cap}` (has: add)",
                insn.split_whitespace().next().unwrap()
            )],
            "{insn}"
        );
        // The same instruction on a CPU core (DRAM operands) needs no listing.
        let cpu = text.replace("spm", "dram").replace("npu.vec", "cpu.0");
        assert_eq!(problems(&cpu, &a), Vec::<String>::new(), "{insn} on cpu.0");
    }
}

#[test]
fn supports_names_the_field_and_the_values() {
    let m = arch("mobile-soc");
    let e = m
        .supports(Unit::NpuMatrix, Capability::Matmul, Some(DType::F32))
        .unwrap_err();
    assert_eq!(e.why, "npu.dtypes lacks f32 (has: i8, f16)");
    assert_eq!(
        e.to_string(),
        "npu.mx of arch `mobile-soc` cannot do matmul in f32: npu.dtypes lacks f32 (has: i8, f16)"
    );
    assert!(
        m.supports(Unit::NpuMatrix, Capability::Matmul, Some(DType::I8))
            .is_ok()
    );
    // Vector work never runs on the matrix unit and vice versa.
    assert!(
        m.supports(
            Unit::NpuMatrix,
            Capability::Vector(VectorOp::Add),
            Some(DType::F16)
        )
        .is_err()
    );
    assert!(
        m.supports(Unit::NpuVector, Capability::Matmul, Some(DType::F16))
            .is_err()
    );
    // CPU: the core must exist; matmul needs a SIMD entry for the dtype.
    let cores = m.cpu.as_ref().unwrap().total_cores();
    let e = m
        .supports(Unit::Cpu(cores), Capability::Move, None)
        .unwrap_err();
    assert_eq!(e.why, format!("the CPU has {cores} cores"));
    assert!(
        m.supports(Unit::Cpu(0), Capability::Matmul, Some(DType::Bool))
            .unwrap_err()
            .why
            .contains("no simd_ops_per_cycle entry for bool")
    );
    assert!(
        m.supports(
            Unit::Cpu(0),
            Capability::Vector(VectorOp::Erf),
            Some(DType::F32)
        )
        .is_ok()
    );
    // Mixed precision: weights must be i8 or i4.
    let e = m
        .supports(
            Unit::NpuMatrix,
            Capability::QMatmul {
                weights: DType::F16,
            },
            Some(DType::F16),
        )
        .unwrap_err();
    assert_eq!(e.why, "weights must be i8 or i4, not f16");
    // PIM: absent on mobile-soc; on mobile-soc-pim the LUT list is consulted.
    assert_eq!(
        m.supports(Unit::Pim, Capability::PimMac, Some(DType::F16))
            .unwrap_err()
            .why,
        "the arch has no PIM"
    );
    let p = arch("mobile-soc-pim");
    let e = p
        .supports(
            Unit::Pim,
            Capability::PimAf(triad_isa::PimFn::Tanh),
            Some(DType::F16),
        )
        .unwrap_err();
    assert!(
        e.why
            .starts_with("pim.activation_functions lacks `tanh` (has: ")
    );
    assert!(
        p.supports(Unit::Dma, Capability::Move, None).is_ok()
            && p.supports(Unit::Dma, Capability::Matmul, Some(DType::I8))
                .is_err()
    );
}

#[test]
fn capability_of_names_the_instruction_op() {
    let p = Program::from_text(
        ".buffer x, spm, addr=0, shape=[8], dtype=f16\n.stream npu.vec\n    \
         reduce mean, x, x, rows=1, cols=8, dtype=f16\n    act gelu_erf, x, x, rows=1, cols=8, dtype=f16\n",
    )
    .unwrap();
    let caps: Vec<_> = p.streams[0].insns.iter().map(Capability::of).collect();
    assert_eq!(
        caps,
        vec![
            (Capability::Vector(VectorOp::ReduceMean), Some(DType::F16)),
            (Capability::Vector(VectorOp::GeluErf), Some(DType::F16)),
        ]
    );
}
