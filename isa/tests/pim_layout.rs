//! The verifier's PIM layout rules (PIM_SEMANTICS.md) on mobile-soc-pim, whose
//! mapping "rorabachcobg" with 32-byte bursts, 4 bank groups, 64 columns of a
//! 2048-byte page, 4 channels and 4 banks per group puts, from bit 0 up: 5 offset
//! bits, 2 bank-group bits (5..7), 6 column bits (7..13), 2 channel bits (13..15),
//! 2 bank bits (15..17), then the row. So an aligned 8 KiB block is one channel, and
//! the channel of address A is (A >> 13) & 3, its bank (A >> 15) & 3.

use triad_isa::{Arch, Error, Program, verify};

fn run(text: &str) -> (Vec<String>, Vec<String>) {
    let p = Program::from_text(text).unwrap();
    match verify(&p, &Arch::preset("mobile-soc-pim").unwrap()) {
        Ok(r) => (
            Vec::new(),
            r.warnings.iter().map(|w| w.to_string()).collect(),
        ),
        Err(Error::Verify(ps)) => (ps.list.iter().map(|p| p.to_string()).collect(), Vec::new()),
        Err(e) => panic!("not a verification error: {e}"),
    }
}

const GEMV: &str = "
.buffer x, dram, addr=0,       shape=[1024],    dtype=f16
.buffer y, dram, addr=4096,    shape=[4],       dtype=f16
.buffer w, dram, addr=WADDR,   shape=[4, 1024], dtype=f16
.stream ENGINE
    pim.gemv y, w, x, rows=4, cols=1024, ld=1024, dtype=f16
";

#[test]
fn weight_rows_must_lie_in_one_channel() {
    // 1 MiB = block 128 of 8 KiB: channel 128 & 3 = 0 for all four 2 KiB rows.
    let ok = GEMV.replace("WADDR", "1048576").replace("ENGINE", "pim.0");
    assert_eq!(run(&ok), (vec![], vec![]));
    // Rows start at 7168: row 0 is bytes 7168..=9215, across the 8 KiB boundary
    // between channel 0 and channel 1.
    let bad = GEMV.replace("WADDR", "7168").replace("ENGINE", "pim.0");
    assert_eq!(
        run(&bad).0,
        vec![
            "pim.0 #0 `pim.gemv`: `w`: matrix row 0 (bytes 0x1c00..=0x23ff) straddles channels 0 and 1 (every row must lie in one channel)"
                .to_string()
        ]
    );
}

#[test]
fn a_channel_that_owns_no_rows_is_a_warning() {
    let text = GEMV.replace("WADDR", "1048576").replace("ENGINE", "pim.3");
    assert_eq!(
        run(&text),
        (
            vec![],
            vec![
                "pim.3 #0 `pim.gemv`: channel 3 owns none of the 4 rows of `w` (the instruction does nothing)"
                    .to_string()
            ]
        )
    );
    // Moving w up by 3 blocks of 8 KiB hands the rows to channel 3.
    let moved = GEMV
        .replace("WADDR", &(1048576 + 3 * 8192).to_string())
        .replace("ENGINE", "pim.3");
    assert_eq!(run(&moved), (vec![], vec![]));
}

#[test]
fn mac_reads_its_input_from_the_global_buffer() {
    // 2048 f16 = 4096 bytes > the 2048-byte global buffer.
    let text = "
.buffer w, dram, addr=1048576, shape=[4, 2048], dtype=f16
.stream pim.0
    pim.mac_abk w, rows=1, cols=2048, ld=2048, dtype=f16
";
    let (errors, _) = run(text);
    assert_eq!(
        errors,
        vec![
            "pim.0 #0 `pim.mac_abk`: `cols` 2048 of f16 (4096 bytes) exceed the PIM global buffer (2048 bytes, pim.global_buffer_bytes)"
                .to_string()
        ]
    );
    // With bank groups in the lowest bits every 2 KiB row spans all four groups, so
    // no row lies in a single bank: a single-bank MAC has nothing to do.
    let sbk = "
.buffer w, dram, addr=1048576, shape=[4, 1024], dtype=f16
.stream pim.0
    pim.mac_sbk w, bank=0, rows=4, cols=1024, ld=1024, dtype=f16
";
    assert_eq!(
        run(sbk),
        (
            vec![],
            vec![
                "pim.0 #0 `pim.mac_sbk`: none of the rows of `w` that channel 0 owns lie in bank 0 (the instruction does nothing)"
                    .to_string()
            ]
        )
    );
}

#[test]
fn elementwise_operands_share_channel_and_bank_burst_by_burst() {
    // a at 0 (channel 0, bank 0); b at 0x20000 = 131072: (>> 13) & 3 = 0, (>> 15) & 3
    // = 0; out at 0x40000 likewise. 16 f16 = one 32-byte burst.
    let base = "
.buffer a, dram, addr=0,      shape=[32], dtype=f16
.buffer b, dram, addr=BADDR,  shape=[32], dtype=f16
.buffer o, dram, addr=262144, shape=[32], dtype=f16
.stream pim.0
    pim.ewadd o, A, b, len=16, dtype=f16
";
    let ok = base.replace("BADDR", "131072").replace("A,", "a,");
    assert_eq!(run(&ok), (vec![], vec![]));
    // b at 0x8000 = 32768 is bank (32768 >> 15) & 3 = 1.
    let other_bank = base.replace("BADDR", "32768").replace("A,", "a,");
    assert_eq!(
        run(&other_bank).0,
        vec![
            "pim.0 #0 `pim.ewadd`: burst 0: `a`, `b`, `out` lie in (channel, bank) (0, 0), (0, 1), (0, 0); in-bank compute needs one"
                .to_string()
        ]
    );
    // Half a burst in: not aligned.
    let unaligned = base.replace("BADDR", "131072").replace("A,", "a+16,");
    assert_eq!(
        run(&unaligned).0,
        vec!["pim.0 #0 `pim.ewadd`: `a` at 0x10 is not aligned to a 32-byte burst".to_string()]
    );
    // Channel 2 holds none of a's bursts.
    let other = ok.replace("pim.0", "pim.2");
    assert_eq!(
        run(&other).1,
        vec![
            "pim.2 #0 `pim.ewadd`: no burst of `a` lies in channel 2 (the instruction does nothing)"
                .to_string()
        ]
    );
}

#[test]
fn elementwise_activation_checks_function_dtype_and_banks() {
    // Same places as above: a and out in (channel 0, bank 0).
    let base = "
.buffer a, dram, addr=0,      shape=[32], dtype=DT
.buffer o, dram, addr=OADDR,  shape=[32], dtype=DT
.stream pim.0
    pim.ewact F, o, a, len=16, dtype=DT
";
    let text = |f: &str, dt: &str, o: &str| {
        base.replace("F,", &format!("{f},"))
            .replace("DT", dt)
            .replace("OADDR", o)
    };
    assert_eq!(run(&text("relu", "f16", "262144")), (vec![], vec![]));
    assert_eq!(run(&text("gelu_erf", "f16", "262144")), (vec![], vec![]));
    // out at 0x8000: bank 1.
    assert_eq!(
        run(&text("relu", "f16", "32768")).0,
        vec![
            "pim.0 #0 `pim.ewact`: burst 0: `a`, `out` lie in (channel, bank) (0, 0), (0, 1); in-bank compute needs one"
                .to_string()
        ]
    );
    // tanh is not one of mobile-soc-pim's activation functions: the error names them.
    let errors = run(&text("tanh", "f16", "262144")).0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(
            "pim.activation_functions lacks `tanh` (has: gelu_tanh, gelu_erf, silu, relu)"
        ),
        "{errors:?}"
    );
    // f32 is not in pim.dtypes.
    let errors = run(&text("relu", "f32", "262144")).0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("pim.dtypes lacks f32"), "{errors:?}");
    // Channel 2 holds none of a's bursts.
    let other = text("relu", "f16", "262144").replace("pim.0", "pim.2");
    assert_eq!(
        run(&other).1,
        vec![
            "pim.2 #0 `pim.ewact`: no burst of `a` lies in channel 2 (the instruction does nothing)"
                .to_string()
        ]
    );
}

#[test]
fn softmax_is_no_pim_activation() {
    // A look-up table maps one element; a row softmax needs the row's sum.
    let e = Program::from_text(".buffer a, dram, addr=0, shape=[16], dtype=f16\n.stream pim.0\n    pim.af softmax, len=16, dtype=f16\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown PIM activation `softmax`")
            && e.contains("relu, gelu_erf, gelu_tanh, silu, sigmoid, tanh, exp"),
        "{e}"
    );
}
