//! `isa/README.md` cannot rot: every ```` ```tasm ```` block in it assembles, verifies
//! against the arch its `.meta arch=` names, and round-trips; every instruction is
//! documented; the opcode list in the binary-form section matches the code.

use triad_isa::{Arch, Instruction, Program, verify};

const README: &str = include_str!("../README.md");

/// The bodies of the fenced blocks whose info string is exactly `tasm`.
fn tasm_blocks() -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut rest = README;
    while let Some(start) = rest.find("```tasm\n") {
        let body = &rest[start + "```tasm\n".len()..];
        let end = body.find("\n```").expect("unclosed ```tasm block");
        out.push(&body[..end + 1]);
        rest = &body[end + 4..];
    }
    out
}

#[test]
fn readme_examples_assemble_verify_and_round_trip() {
    let blocks = tasm_blocks();
    assert!(
        blocks.len() >= 3,
        "expected at least 3 examples, found {}",
        blocks.len()
    );
    for (i, text) in blocks.iter().enumerate() {
        let p = Program::from_text(text).unwrap_or_else(|e| panic!("example {i}: {e}\n{text}"));
        assert!(!p.meta.arch.is_empty(), "example {i} names no arch");
        let arch = Arch::preset(&p.meta.arch).unwrap();
        let report = verify(&p, &arch).unwrap_or_else(|e| panic!("example {i}: {e}"));
        assert_eq!(report.insns, p.insn_count());
        assert!(
            report.warnings.is_empty(),
            "example {i}: {:?}",
            report.warnings
        );
        assert_eq!(Program::from_text(&p.to_text()).unwrap(), p);
        assert_eq!(Program::from_bytes(&p.to_bytes()).unwrap(), p);
    }
}

#[test]
fn readme_example_byte_counts() {
    // First example: x, w, y of 64·128, 128·64, 64·64 i8 bytes in both memories,
    // laid end to end, so each memory covers 8192 + 8192 + 4096 bytes.
    let p = Program::from_text(tasm_blocks()[0]).unwrap();
    let r = verify(&p, &Arch::preset("mobile-soc").unwrap()).unwrap();
    assert_eq!(r.dram_bytes.0, 64 * 128 + 128 * 64 + 64 * 64);
    assert_eq!(r.spm_bytes.0, 64 * 128 + 128 * 64 + 64 * 64);
    // Third example: `a` aliases `h` (same bytes), so the scratchpad covered is
    // h (16·768·2) + gamma, beta, bias (768·2 each) + n (16·768·2).
    let p = Program::from_text(tasm_blocks()[2]).unwrap();
    let r = verify(&p, &Arch::preset("mobile-soc").unwrap()).unwrap();
    assert_eq!(r.spm_bytes.0, 2 * (16 * 768 * 2) + 3 * (768 * 2));
}

#[test]
fn every_instruction_is_documented() {
    for m in Instruction::MNEMONICS {
        assert!(
            README.contains(&format!("| `{m} ")) || README.contains(&format!("`{m}` ")),
            "`{m}` is not documented"
        );
        assert!(
            README.contains(&format!("`{m}` 0x")),
            "`{m}` has no opcode in the README"
        );
    }
}

#[test]
fn readme_opcodes_match_the_code() {
    let mut seen = 0;
    for piece in README.split('`').collect::<Vec<_>>().windows(2) {
        let (mnemonic, after) = (piece[0], piece[1]);
        let Some(hex) = after.trim_start().strip_prefix("0x") else {
            continue;
        };
        let hex: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        let Ok(op) = u8::from_str_radix(&hex, 16) else {
            continue;
        };
        let idx = Instruction::MNEMONICS.iter().position(|m| *m == mnemonic);
        let idx =
            idx.unwrap_or_else(|| panic!("README lists opcode {op:#04x} for unknown `{mnemonic}`"));
        assert_eq!(Instruction::OPCODES[idx], op, "opcode of `{mnemonic}`");
        seen += 1;
    }
    assert_eq!(seen, Instruction::MNEMONICS.len());
}
