//! The disassembler: [`Program`] → canonical text assembly.
//!
//! Canonical means one spelling per program: sections in a fixed order (`.meta`,
//! buffers, initial data, inputs, outputs, semaphores, streams), every operand present, positional
//! operands bare and the rest as `name=value`, numbers in decimal, floats in their
//! shortest round-trip form. So `print(parse(print(p))) == print(p)` and
//! `parse(print(p)) == p` for every valid program.

use super::lexer::quote;
use crate::Program;
use crate::program::InitData;

/// Indentation of instructions under their stream (labels are not indented).
const INDENT: &str = "    ";

/// Print `p` as text assembly.
pub(crate) fn print(p: &Program) -> String {
    let mut out = String::new();
    let meta: Vec<String> = [
        ("model", &p.meta.model),
        ("arch", &p.meta.arch),
        ("compiler", &p.meta.compiler),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", quote(v)))
    .collect();
    if !meta.is_empty() {
        out.push_str(&format!(".meta {}\n", meta.join(", ")));
    }
    let section = |out: &mut String| {
        if !out.is_empty() {
            out.push('\n');
        }
    };
    if !p.buffers.is_empty() {
        section(&mut out);
    }
    for b in &p.buffers {
        let dims: Vec<String> = b.shape.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            ".buffer {}, {}, addr={}, shape=[{}], dtype={}",
            b.name,
            b.mem,
            b.addr.0,
            dims.join(", "),
            b.dtype
        ));
        if let Some(a) = b.alias {
            match p.buffer(a) {
                Some(t) => out.push_str(&format!(", alias={}", t.name)),
                None => out.push_str(&format!(", alias=?buffer{}", a.0)),
            }
        }
        out.push('\n');
    }
    for b in &p.buffers {
        match &b.init {
            None => {}
            Some(InitData::File { path, offset }) => {
                out.push_str(&format!(
                    ".init {}, file={}, offset={}\n",
                    b.name,
                    quote(path),
                    offset.0
                ));
            }
            Some(InitData::Uniform { seed, low, high }) => out.push_str(&format!(
                ".init {}, uniform=[{low:?}, {high:?}], seed={seed}\n",
                b.name
            )),
        }
    }
    for (dir, ports) in [("input", &p.inputs), ("output", &p.outputs)] {
        for port in ports {
            let buf = p
                .buffer(port.buf)
                .map_or(format!("?buffer{}", port.buf.0), |b| b.name.clone());
            out.push_str(&format!(".{dir} {}, {buf}\n", quote(&port.name)));
        }
    }
    if !p.sems.is_empty() {
        section(&mut out);
    }
    for s in &p.sems {
        out.push_str(&format!(".sem {}, init={}\n", s.name, s.init));
    }
    let names = p.names();
    for s in &p.streams {
        section(&mut out);
        out.push_str(&format!(".stream {}\n", s.engine));
        let mut labels = s.labels.iter().peekable();
        for (i, insn) in s.insns.iter().enumerate() {
            while let Some(l) = labels.next_if(|l| l.at as usize <= i) {
                out.push_str(&format!("{}:\n", l.name));
            }
            out.push_str(INDENT);
            out.push_str(insn.mnemonic());
            insn.print_operands(&names, &mut out);
            out.push('\n');
        }
        for l in labels {
            out.push_str(&format!("{}:\n", l.name));
        }
    }
    out
}
