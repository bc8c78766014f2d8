//! The assembler: text lines → [`Program`].
//!
//! Each line is empty, a comment, a directive (`.meta`, `.buffer`, `.init`, `.sem`,
//! `.stream`), a label (`name:`) or an instruction (`mnemonic operands`). Operands are
//! comma separated; each is either positional (bound to the next operand name in the
//! instruction's order) or `name=value`, and no positional operand may follow a
//! named one. Every error carries the line and column of the token at fault and says
//! what was expected there. See `isa/README.md` for the full grammar.

use super::lexer::{Tok, Token, lex_line};
use crate::codec::{Value, parse_uint};
use crate::insn::{Engine, Field, Instruction, Operands, Scope};
use crate::program::{Buffer, InitData, Label, Memory, Semaphore, Stream, is_identifier};
use crate::{Bytes, DType, Error, Program, Result};
use std::collections::{BTreeMap, BTreeSet};

/// One operand as written: optional `name=`, the value, and the value's column.
#[derive(Clone, Debug)]
struct Arg {
    key: Option<(String, usize)>,
    value: Value,
    col: usize,
}

fn err(line: usize, column: usize, msg: impl Into<String>) -> Error {
    Error::Asm {
        line,
        column,
        msg: msg.into(),
    }
}

/// The operands of one line, bound to operand names.
pub(crate) struct Bound {
    line: usize,
    /// Column just past the line's last token, where "missing" errors point.
    end: usize,
    head: String,
    slots: BTreeMap<&'static str, Arg>,
}

impl Bound {
    /// Bind `args` to `params` (positional in order, or by name).
    fn new(
        line: usize,
        end: usize,
        head: &str,
        params: &[&'static str],
        args: Vec<Arg>,
    ) -> Result<Bound> {
        let mut slots = BTreeMap::new();
        let mut next = 0;
        let mut named_seen = false;
        for a in args {
            let name = match &a.key {
                None => {
                    if named_seen {
                        return Err(err(
                            line,
                            a.col,
                            format!(
                                "`{head}`: positional operand after a named one (expected `name=value`)"
                            ),
                        ));
                    }
                    let Some(&p) = params.get(next) else {
                        return Err(err(
                            line,
                            a.col,
                            format!(
                                "`{head}` takes {} operand{} ({}), found more",
                                params.len(),
                                if params.len() == 1 { "" } else { "s" },
                                params.join(", ")
                            ),
                        ));
                    };
                    next += 1;
                    p
                }
                Some((k, kcol)) => {
                    named_seen = true;
                    let Some(&p) = params.iter().find(|p| **p == k.as_str()) else {
                        return Err(err(
                            line,
                            *kcol,
                            format!(
                                "`{head}` has no operand `{k}` (expected one of {})",
                                params.join(", ")
                            ),
                        ));
                    };
                    p
                }
            };
            if slots.contains_key(name) {
                let col = a.key.as_ref().map_or(a.col, |k| k.1);
                return Err(err(
                    line,
                    col,
                    format!("`{head}`: operand `{name}` given twice"),
                ));
            }
            slots.insert(name, a);
        }
        Ok(Bound {
            line,
            end,
            head: head.to_string(),
            slots,
        })
    }

    fn opt(&mut self, name: &str) -> Option<Arg> {
        self.slots.remove(name)
    }

    fn req(&mut self, name: &str) -> Result<Arg> {
        self.opt(name).ok_or_else(|| {
            err(
                self.line,
                self.end,
                format!(
                    "`{}`: missing operand `{name}` (expected `{name}=…`)",
                    self.head
                ),
            )
        })
    }

    fn bad(&self, a: &Arg, name: &str, expected: &str) -> Error {
        err(
            self.line,
            a.col,
            format!(
                "`{}` operand `{name}`: expected {expected}, found {}",
                self.head,
                a.value.describe()
            ),
        )
    }

    fn uint(&self, a: &Arg, name: &str, max: u64) -> Result<u64> {
        match &a.value {
            Value::Num(t) => parse_uint(t).filter(|&n| n <= max),
            _ => None,
        }
        .ok_or_else(|| self.bad(a, name, &format!("an unsigned integer at most {max}")))
    }

    fn string(&self, a: Arg, name: &str) -> Result<String> {
        match a.value {
            Value::Str(s) => Ok(s),
            _ => Err(self.bad(&a, name, "a quoted string")),
        }
    }

    fn word(&self, a: &Arg, name: &str, expected: &str) -> Result<String> {
        match &a.value {
            Value::Word(w) => Ok(w.clone()),
            _ => Err(self.bad(a, name, expected)),
        }
    }

    fn ident(&self, a: &Arg, name: &str) -> Result<String> {
        let w = self.word(a, name, "a name")?;
        if is_identifier(&w) {
            Ok(w)
        } else {
            Err(self.bad(a, name, "a name (`[A-Za-z_][A-Za-z0-9_.]*`)"))
        }
    }
}

impl Operands for Bound {
    fn take<T: Field>(&mut self, name: &str, scope: &Scope) -> Result<T> {
        let a = self.slots.remove(name).ok_or_else(|| {
            err(
                self.line,
                self.end,
                format!(
                    "`{}`: missing operand `{name}` (expected `{name}=…`)",
                    self.head
                ),
            )
        })?;
        T::parse(&a.value, scope).map_err(|m| {
            err(
                self.line,
                a.col,
                format!("`{}` operand `{name}`: {m}", self.head),
            )
        })
    }
}

/// Parse a value starting at `toks[*i]`.
fn parse_value(toks: &[Token], i: &mut usize, line: usize, end: usize) -> Result<Value> {
    let Some(t) = toks.get(*i) else {
        return Err(err(line, end, "expected a value, found end of line"));
    };
    *i += 1;
    match &t.tok {
        Tok::Word(w) => {
            if matches!(toks.get(*i), Some(Token { tok: Tok::Plus, .. })) {
                *i += 1;
                match toks.get(*i) {
                    Some(Token {
                        tok: Tok::Num(n),
                        col,
                    }) => {
                        let off = parse_uint(n).ok_or_else(|| {
                            err(
                                line,
                                *col,
                                format!("expected a byte offset after `{w}+`, found `{n}`"),
                            )
                        })?;
                        *i += 1;
                        Ok(Value::Ref(w.clone(), off))
                    }
                    Some(o) => Err(err(
                        line,
                        o.col,
                        format!(
                            "expected a byte offset after `{w}+`, found {}",
                            o.tok.describe()
                        ),
                    )),
                    None => Err(err(
                        line,
                        end,
                        format!("expected a byte offset after `{w}+`, found end of line"),
                    )),
                }
            } else {
                Ok(Value::Word(w.clone()))
            }
        }
        Tok::Num(n) => Ok(Value::Num(n.clone())),
        Tok::Str(s) => Ok(Value::Str(s.clone())),
        Tok::LBrack => {
            let mut items = Vec::new();
            if matches!(
                toks.get(*i),
                Some(Token {
                    tok: Tok::RBrack,
                    ..
                })
            ) {
                *i += 1;
                return Ok(Value::List(items));
            }
            loop {
                // Lists hold scalars only (shapes), which also bounds the recursion
                // depth on hostile input.
                if let Some(Token {
                    tok: Tok::LBrack,
                    col,
                }) = toks.get(*i)
                {
                    return Err(err(
                        line,
                        *col,
                        "expected a number or name inside `[…]`, found a nested list",
                    ));
                }
                items.push(parse_value(toks, i, line, end)?);
                match toks.get(*i) {
                    Some(Token {
                        tok: Tok::Comma, ..
                    }) => *i += 1,
                    Some(Token {
                        tok: Tok::RBrack, ..
                    }) => {
                        *i += 1;
                        return Ok(Value::List(items));
                    }
                    Some(o) => {
                        return Err(err(
                            line,
                            o.col,
                            format!("expected `,` or `]`, found {}", o.tok.describe()),
                        ));
                    }
                    None => return Err(err(line, end, "expected `]`, found end of line")),
                }
            }
        }
        other => Err(err(
            line,
            t.col,
            format!("expected a value, found {}", other.describe()),
        )),
    }
}

/// Parse the comma-separated operands in `toks[i..]`.
fn parse_args(toks: &[Token], mut i: usize, line: usize, end: usize) -> Result<Vec<Arg>> {
    let mut args = Vec::new();
    if i >= toks.len() {
        return Ok(args);
    }
    loop {
        let key = match (toks.get(i), toks.get(i + 1)) {
            (
                Some(Token {
                    tok: Tok::Word(k),
                    col,
                }),
                Some(Token { tok: Tok::Eq, .. }),
            ) => {
                i += 2;
                Some((k.clone(), *col))
            }
            _ => None,
        };
        let col = toks.get(i).map_or(end, |t| t.col);
        let value = parse_value(toks, &mut i, line, end)?;
        args.push(Arg { key, value, col });
        match toks.get(i) {
            None => return Ok(args),
            Some(Token {
                tok: Tok::Comma, ..
            }) => i += 1,
            Some(o) => {
                return Err(err(
                    line,
                    o.col,
                    format!("expected `,` or end of line, found {}", o.tok.describe()),
                ));
            }
        }
    }
}

/// Assembler state while reading lines.
#[derive(Default)]
struct Asm {
    prog: Program,
    scope: Scope,
    meta_seen: BTreeSet<&'static str>,
    current: Option<usize>,
    labels: Vec<BTreeSet<String>>,
}

impl Asm {
    fn directive(
        &mut self,
        head: &str,
        head_col: usize,
        toks: &[Token],
        line: usize,
        end: usize,
    ) -> Result<()> {
        let params: &[&'static str] = match head {
            ".meta" => &["model", "arch", "compiler"],
            ".buffer" => &["name", "mem", "addr", "shape", "dtype", "alias"],
            ".init" => &["name", "file", "offset", "uniform", "seed"],
            ".input" | ".output" => &["name", "buf"],
            ".sem" => &["name", "init"],
            ".stream" => &["engine"],
            _ => {
                return Err(err(
                    line,
                    head_col,
                    format!(
                        "unknown directive `{head}` (expected .meta, .buffer, .init, .input, .output, .sem or .stream)"
                    ),
                ));
            }
        };
        let args = parse_args(toks, 1, line, end)?;
        let mut b = Bound::new(line, end, head, params, args)?;
        match head {
            ".meta" => {
                for key in ["model", "arch", "compiler"] {
                    if let Some(a) = b.opt(key) {
                        let col = a.key.as_ref().map_or(a.col, |k| k.1);
                        if !self.meta_seen.insert(key) {
                            return Err(err(line, col, format!("`.meta`: `{key}` already set")));
                        }
                        let v = b.string(a, key)?;
                        match key {
                            "model" => self.prog.meta.model = v,
                            "arch" => self.prog.meta.arch = v,
                            _ => self.prog.meta.compiler = v,
                        }
                    }
                }
            }
            ".buffer" => self.buffer(&mut b)?,
            ".init" => self.init(&mut b)?,
            ".input" | ".output" => self.port(head, &mut b)?,
            ".sem" => {
                let a = b.req("name")?;
                let name = b.ident(&a, "name")?;
                if self.scope.sems.contains_key(&name) {
                    return Err(err(
                        line,
                        a.col,
                        format!("semaphore `{name}` already declared"),
                    ));
                }
                let init = match b.opt("init") {
                    Some(a) => b.uint(&a, "init", u32::MAX as u64)? as u32,
                    None => 0,
                };
                let id = crate::SemId(self.prog.sems.len() as u32);
                self.scope.sems.insert(name.clone(), id);
                self.prog.sems.push(Semaphore { name, init });
            }
            _ => {
                let a = b.req("engine")?;
                let w = b.word(
                    &a,
                    "engine",
                    "an engine (cpu.N, npu.mx, npu.vec, dma.N, pim.N)",
                )?;
                let engine: Engine = w
                    .parse()
                    .map_err(|e: crate::UnknownEngine| err(line, a.col, e.to_string()))?;
                if self.prog.stream(engine).is_some() {
                    return Err(err(
                        line,
                        a.col,
                        format!("engine {engine} already has a .stream"),
                    ));
                }
                self.prog.streams.push(Stream {
                    engine,
                    labels: Vec::new(),
                    insns: Vec::new(),
                });
                self.labels.push(BTreeSet::new());
                self.current = Some(self.prog.streams.len() - 1);
            }
        }
        Ok(())
    }

    fn buffer(&mut self, b: &mut Bound) -> Result<()> {
        let a = b.req("name")?;
        let name = b.ident(&a, "name")?;
        if self.scope.buffers.contains_key(&name) {
            return Err(err(
                b.line,
                a.col,
                format!("buffer `{name}` already declared"),
            ));
        }
        let a = b.req("mem")?;
        let mem = match b.word(&a, "mem", "`dram` or `spm`")?.as_str() {
            "dram" => Memory::Dram,
            "spm" => Memory::Spm,
            _ => return Err(b.bad(&a, "mem", "`dram` or `spm`")),
        };
        let a = b.req("addr")?;
        let addr = Bytes(b.uint(&a, "addr", u64::MAX)?);
        let a = b.req("shape")?;
        let shape = match &a.value {
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::Num(t) => parse_uint(t),
                    _ => None,
                })
                .collect::<Option<Vec<u64>>>(),
            _ => None,
        }
        .ok_or_else(|| b.bad(&a, "shape", "a list of unsigned integers like `[4, 64]`"))?;
        let a = b.req("dtype")?;
        let dtype: DType = b
            .word(&a, "dtype", "a dtype")?
            .parse()
            .map_err(|e: crate::UnknownDType| err(b.line, a.col, e.to_string()))?;
        let alias = match b.opt("alias") {
            None => None,
            Some(a) => {
                let target = b.word(&a, "alias", "the name of an earlier buffer")?;
                let id = *self.scope.buffers.get(&target).ok_or_else(|| {
                    err(b.line, a.col, format!("`.buffer` operand `alias`: unknown buffer `{target}` (expected an earlier buffer)"))
                })?;
                let tmem = self.prog.buffers[id.0 as usize].mem;
                if tmem != mem {
                    return Err(err(
                        b.line,
                        a.col,
                        format!(
                            "buffer `{name}` ({mem}) cannot alias `{target}` in another memory ({tmem})"
                        ),
                    ));
                }
                Some(id)
            }
        };
        let id = crate::BufId(self.prog.buffers.len() as u32);
        self.scope.buffers.insert(name.clone(), id);
        self.prog.buffers.push(Buffer {
            name,
            mem,
            addr,
            shape,
            dtype,
            alias,
            init: None,
        });
        Ok(())
    }

    fn init(&mut self, b: &mut Bound) -> Result<()> {
        let a = b.req("name")?;
        let name = b.word(&a, "name", "a buffer name")?;
        let id = *self.scope.buffers.get(&name).ok_or_else(|| {
            err(
                b.line,
                a.col,
                format!("`.init`: unknown buffer `{name}` (declare it with .buffer first)"),
            )
        })?;
        if self.prog.buffers[id.0 as usize].init.is_some() {
            return Err(err(
                b.line,
                a.col,
                format!("`.init`: buffer `{name}` already has initial data"),
            ));
        }
        let (file, offset, uniform, seed) = (
            b.opt("file"),
            b.opt("offset"),
            b.opt("uniform"),
            b.opt("seed"),
        );
        if let (Some(f), Some(u)) = (&file, &uniform) {
            let col = u.key.as_ref().map_or(u.col, |k| k.1).max(f.col);
            return Err(err(
                b.line,
                col,
                "`.init`: expected one of `file=` or `uniform=`, found both",
            ));
        }
        if let Some(u) = uniform {
            let bounds = match &u.value {
                Value::List(items) if items.len() == 2 => items
                    .iter()
                    .map(|v| match v {
                        Value::Num(t) => t.parse::<f64>().ok().filter(|x| x.is_finite()),
                        _ => None,
                    })
                    .collect::<Option<Vec<f64>>>(),
                _ => None,
            }
            .ok_or_else(|| b.bad(&u, "uniform", "`[low, high]` with two finite numbers"))?;
            let Some(s) = seed else {
                return Err(err(b.line, b.end, "`.init`: `uniform=` needs `seed=N`"));
            };
            if let Some(o) = offset {
                return Err(err(b.line, o.col, "`.init`: `offset` needs `file=`"));
            }
            self.prog.buffers[id.0 as usize].init = Some(InitData::Uniform {
                seed: b.uint(&s, "seed", u64::MAX)?,
                low: bounds[0],
                high: bounds[1],
            });
            return Ok(());
        }
        let init = match (file, offset, seed) {
            (Some(f), off, None) => {
                let offset = match off {
                    Some(o) => b.uint(&o, "offset", u64::MAX)?,
                    None => 0,
                };
                InitData::File {
                    path: b.string(f, "file")?,
                    offset: Bytes(offset),
                }
            }
            (None, None, Some(s)) => {
                return Err(err(
                    b.line,
                    s.col,
                    "`.init`: `seed=` needs `uniform=[low, high]`",
                ));
            }
            (None, Some(o), _) => {
                return Err(err(b.line, o.col, "`.init`: `offset` needs `file=`"));
            }
            (Some(_), _, Some(s)) => {
                return Err(err(
                    b.line,
                    s.col,
                    "`.init`: `seed=` does not go with `file=`",
                ));
            }
            (None, None, None) => {
                return Err(err(
                    b.line,
                    b.end,
                    "`.init`: expected `file=\"…\"` or `uniform=[low, high], seed=N`",
                ));
            }
        };
        self.prog.buffers[id.0 as usize].init = Some(init);
        Ok(())
    }

    /// `.input "name", buf` / `.output "name", buf`.
    fn port(&mut self, head: &str, b: &mut Bound) -> Result<()> {
        let a = b.req("name")?;
        let col = a.col;
        let name = b.string(a, "name")?;
        let dir = &head[1..];
        let ports = if dir == "input" {
            &self.prog.inputs
        } else {
            &self.prog.outputs
        };
        if name.is_empty() {
            return Err(err(
                b.line,
                col,
                format!("`{head}`: the name must not be empty"),
            ));
        }
        if ports.iter().any(|p| p.name == name) {
            return Err(err(b.line, col, format!("{dir} `{name}` already declared")));
        }
        let a = b.req("buf")?;
        let buf_name = b.word(&a, "buf", "a buffer name")?;
        let buf = *self.scope.buffers.get(&buf_name).ok_or_else(|| {
            err(
                b.line,
                a.col,
                format!("`{head}`: unknown buffer `{buf_name}` (declare it with .buffer first)"),
            )
        })?;
        let port = crate::Port { name, buf };
        if dir == "input" {
            self.prog.inputs.push(port);
        } else {
            self.prog.outputs.push(port);
        }
        Ok(())
    }

    fn line(&mut self, toks: &[Token], line: usize, end: usize) -> Result<()> {
        let Some(first) = toks.first() else {
            return Ok(());
        };
        let Tok::Word(head) = &first.tok else {
            return Err(err(
                line,
                first.col,
                format!(
                    "expected a directive, label or instruction, found {}",
                    first.tok.describe()
                ),
            ));
        };
        if head.starts_with('.') {
            return self.directive(head, first.col, toks, line, end);
        }
        if matches!(
            toks.get(1),
            Some(Token {
                tok: Tok::Colon,
                ..
            })
        ) {
            if let Some(extra) = toks.get(2) {
                return Err(err(
                    line,
                    extra.col,
                    format!(
                        "expected end of line after label, found {}",
                        extra.tok.describe()
                    ),
                ));
            }
            let Some(cur) = self.current else {
                return Err(err(
                    line,
                    first.col,
                    format!("label `{head}` outside a stream (expected `.stream ENGINE` first)"),
                ));
            };
            if !is_identifier(head) {
                return Err(err(
                    line,
                    first.col,
                    format!("label `{head}` is not a name (`[A-Za-z_][A-Za-z0-9_.]*`)"),
                ));
            }
            if !self.labels[cur].insert(head.clone()) {
                return Err(err(
                    line,
                    first.col,
                    format!("label `{head}` already defined in this stream"),
                ));
            }
            let s = &mut self.prog.streams[cur];
            s.labels.push(Label {
                name: head.clone(),
                at: s.insns.len() as u32,
            });
            return Ok(());
        }
        let Some(fields) = Instruction::fields_of(head) else {
            return Err(err(
                line,
                first.col,
                format!(
                    "unknown instruction `{head}` (expected one of {})",
                    Instruction::MNEMONICS.join(", ")
                ),
            ));
        };
        let Some(cur) = self.current else {
            return Err(err(
                line,
                first.col,
                format!("instruction `{head}` outside a stream (expected `.stream ENGINE` first)"),
            ));
        };
        let engine = self.prog.streams[cur].engine;
        let class = Instruction::class_of(head).unwrap_or(crate::InsnClass::Sync);
        if !class.runs_on(engine) {
            return Err(err(
                line,
                first.col,
                format!(
                    "`{head}` cannot run on {engine} (it runs on {})",
                    class.engines()
                ),
            ));
        }
        let args = parse_args(toks, 1, line, end)?;
        let mut b = Bound::new(line, end, head, fields, args)?;
        let insn = Instruction::assemble(head, &mut b, &self.scope)?
            .ok_or_else(|| err(line, first.col, format!("unknown instruction `{head}`")))?;
        let s = &mut self.prog.streams[cur];
        if s.insns.len() >= u32::MAX as usize {
            return Err(err(
                line,
                first.col,
                "stream longer than 2^32 - 1 instructions",
            ));
        }
        s.insns.push(insn);
        Ok(())
    }
}

/// Assemble `text` into a program (validated).
pub(crate) fn parse(text: &str) -> Result<Program> {
    let mut asm = Asm::default();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let (toks, end) = lex_line(raw, line)?;
        asm.line(&toks, line, end)?;
    }
    asm.prog.validate()?;
    Ok(asm.prog)
}
