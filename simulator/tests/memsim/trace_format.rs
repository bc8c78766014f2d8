//! DRAMsim3 trace lines parse; malformed lines give `file:line` errors.

use triad_sim::{Direction, Error, TraceOp, parse_trace};

#[test]
fn parses_dramsim3_lines() {
    let t = "# comment\n0x1F40 READ 10\n\n2a write 12\n";
    let r = parse_trace(t, "t.trc").unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].op, TraceOp::Burst(Direction::Read, 0x1f40));
    assert_eq!(r[0].cycle.0, 10);
    assert_eq!(r[1].op, TraceOp::Burst(Direction::Write, 0x2a));
}

#[test]
fn malformed_lines_name_file_and_line() {
    for (text, line, needle) in [
        ("0x10 READ 1\n0x20 FETCH 2\n", 2, "neither READ nor WRITE"),
        ("0xZZ READ 1\n", 1, "not a 64-bit hex number"),
        ("0x10 READ\n", 1, "found 2 fields"),
        (
            "0x10 READ 1\n\n0x10 WRITE -3\n",
            3,
            "not a non-negative integer",
        ),
    ] {
        let e = parse_trace(text, "bad.trc").unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, Error::Trace { line: l, .. } if l == line),
            "{msg}"
        );
        assert!(msg.starts_with(&format!("bad.trc:{line}: ")), "{msg}");
        assert!(msg.contains(needle), "{msg}");
    }
}

#[test]
fn far_future_cycles_are_rejected_with_the_line() {
    let text = format!("0x0 READ 0\n0x40 READ {}\n", triad_sim::MAX_TRACE_CYCLE + 1);
    let e = triad_sim::parse_trace(&text, "late.trc").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("late.trc:2") && msg.contains("beyond the limit"),
        "{msg}"
    );
    // The limit itself is accepted, and a caller may choose another.
    let ok = format!("0x0 READ {}\n", triad_sim::MAX_TRACE_CYCLE);
    assert_eq!(triad_sim::parse_trace(&ok, "t").unwrap().len(), 1);
    assert!(triad_sim::parse_trace_until("0x0 READ 11\n", "t", 10).is_err());
}

/// Every spelling of a burst line the format allows (prefix or not, either case,
/// spaces or tabs, surrounding whitespace, `\r\n` endings, no final newline) reads
/// as the same request, whether the byte-level fast path or the general path
/// takes it.
#[test]
fn burst_line_spellings_agree() {
    let spellings = [
        "0x1F READ 3",
        "0X1f read 3",
        "1f Read 3",
        "0x001F\tREAD\t3",
        "  0x1f READ 3",
        "0x1f  READ   3   ",
        "0x1f READ 3\r",
        "0x1f READ 3 \u{0c}",
        "\t0x1f READ 03",
    ];
    for s in spellings {
        for ending in ["\n", "\r\n", ""] {
            let text = format!("# c\n{s}{ending}");
            let r = parse_trace(&text, "s.trc").unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(r.len(), 1, "{s:?}");
            assert_eq!(r[0].cycle.0, 3, "{s:?}");
            assert_eq!(r[0].op, TraceOp::Burst(Direction::Read, 0x1f), "{s:?}");
        }
    }
    // Lines counted as `str::lines` counts them, blank and `\r\n` ones included.
    let e = parse_trace("0 READ 0\r\n\n\r\n0 READ\n", "n.trc").unwrap_err();
    assert!(e.to_string().starts_with("n.trc:4: "), "{e}");
    // A 17-digit address overflows 64 bits on either path.
    let e = parse_trace("0x10000000000000000 READ 0\n", "o.trc").unwrap_err();
    assert!(e.to_string().contains("not a 64-bit hex number"), "{e}");
}

#[test]
fn addresses_beyond_capacity_are_rejected_with_the_line() {
    let a = crate::common::preset("hbm2");
    let cap = a.dram.capacity_bytes();
    assert_eq!(
        cap,
        8 << 30,
        "hbm2: 8 channels x 1 GiB (DRAMsim3 channel_size 1024 MB)"
    );
    let last = cap - a.dram.burst_bytes();
    let text = format!("0x0 READ 0\n# note\n{last:#x} WRITE 1\n{cap:#x} READ 2\n");
    let e = triad_sim::parse_trace_for(&text, "big.trc", &a).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Trace { line: 4, .. }), "{msg}");
    assert!(
        msg.starts_with("big.trc:4: ") && msg.contains("beyond the DRAM capacity of 8589934592"),
        "{msg}"
    );
    // Without the last line the trace is accepted, and plain parsing has no arch.
    let ok: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        triad_sim::parse_trace_for(&ok, "big.trc", &a)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(parse_trace(&text, "big.trc").unwrap().len(), 3);
}

#[test]
fn pim_lines_name_an_instruction_and_channels() {
    use triad_sim::PimChannels;
    let t = "PIM 7 * pim.gemv dram+65536, dram+0x400000, dram, rows=256, cols=512, ld=512, dtype=f16\n\
             pim 9 3 pim.ewadd dram+64, dram, dram+32, len=16, dtype=f16\n";
    let r = parse_trace(t, "p.trc").unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].cycle.0, 7);
    let TraceOp::Pim { channels, insn } = &r[0].op else {
        panic!("{:?}", r[0].op)
    };
    assert_eq!(*channels, PimChannels::All);
    let triad_isa::Instruction::PimGemv(g) = &**insn else {
        panic!("{insn:?}")
    };
    assert_eq!(
        (g.out.offset.0, g.w.offset.0, g.x.offset.0),
        (65536, 0x400000, 0)
    );
    assert_eq!((g.rows, g.cols, g.dtype), (256, 512, triad_isa::DType::F16));
    assert!(matches!(
        &r[1].op,
        TraceOp::Pim {
            channels: PimChannels::One(3),
            insn,
        } if matches!(**insn, triad_isa::Instruction::PimEwAdd(_))
    ));
    for (text, needle) in [
        (
            "PIM 0 x pim.rd_mac dram, len=4, dtype=f16\n",
            "neither `*` nor a channel number",
        ),
        (
            "PIM 0 0 gemm dram, dram, dram, m=1, n=1, k=1, dtype=f16, out_dtype=f16, accumulate=false, scale=1\n",
            "cannot run on pim.0",
        ),
        ("PIM 0 0 pim.rd_mac nowhere, len=4, dtype=f16\n", "nowhere"),
        ("PIM 0\n", "expected `PIM <cycle> <channel|*>"),
    ] {
        let e = parse_trace(text, "bad.trc").unwrap_err().to_string();
        assert!(
            e.starts_with("bad.trc:1: ") && e.contains(needle),
            "{needle}: {e}"
        );
    }
}
