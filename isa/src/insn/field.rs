//! How one operand type is printed, parsed, encoded, decoded, checked and
//! synthesised. Each instruction is a struct of fields; the `instruction_set!` macro
//! walks them through the [`Field`] trait so every codec treats every operand alike.
//!
//! Text forms: integers in decimal (`0x` hex accepted on input), `true`/`false`,
//! dtype and op names as words, floats in Rust's shortest round-trip form, buffers as
//! `name` or `name+offset`, semaphores by name. Binary forms: LEB128 varints (minimal
//! encoding required), one tag byte per enum or bool, four little-endian bytes per f32.

use super::types::{BufId, Dims, Perm, SemId, Slice, Strides};
use crate::codec::{Reader, Value, Writer, parse_uint};
use crate::ops::{ActFn, Bcast, BinOp, CmpOp, MathFn, PimFn, ReduceOp};
use crate::{Bytes, DType};
use std::collections::BTreeMap;

/// Names of a program's buffers and semaphores, for printing and checking operands.
pub(crate) struct Names<'a> {
    /// Buffer names, indexed by [`BufId`].
    pub buffers: Vec<&'a str>,
    /// Semaphore names, indexed by [`SemId`].
    pub sems: Vec<&'a str>,
}

/// Where the assembler's bound operands come from: the text form implements it, so
/// the instruction table builds instructions without knowing the parser.
pub(crate) trait Operands {
    /// Remove and convert the required operand `name`; the error names the operand,
    /// the line and the column.
    fn take<T: Field>(&mut self, name: &str, scope: &Scope) -> crate::Result<T>;
}

/// Name → id tables the assembler fills as declarations are read.
#[derive(Default)]
pub(crate) struct Scope {
    /// Declared buffers.
    pub buffers: BTreeMap<String, BufId>,
    /// Declared semaphores.
    pub sems: BTreeMap<String, SemId>,
}

/// A source of random operand values, for property tests and fuzzers
/// ([`crate::Instruction::synthesize`]).
pub trait Synth {
    /// A uniformly random integer in `lo..=hi`.
    fn int(&mut self, lo: u64, hi: u64) -> u64;
    /// A buffer id valid in the program being built.
    fn buf(&mut self) -> BufId;
    /// A semaphore id valid in the program being built.
    fn sem(&mut self) -> SemId;
}

/// One operand type (see the module docs for its forms).
pub(crate) trait Field: Sized {
    /// Printed bare (positionally) rather than as `name=value`.
    const POSITIONAL: bool = false;
    /// Append the text form.
    fn print(&self, names: &Names<'_>, out: &mut String);
    /// Read the text form; the error says what was expected and what was found.
    fn parse(v: &Value, scope: &Scope) -> Result<Self, String>;
    /// Append the binary form.
    fn encode(&self, w: &mut Writer);
    /// Read the binary form; `what` names the operand in errors.
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self>;
    /// Structural check against the program's tables.
    fn check(&self, _names: &Names<'_>) -> Result<(), String> {
        Ok(())
    }
    /// A random value.
    fn synth(g: &mut dyn Synth) -> Self;
    /// The slice, if this operand is one.
    fn as_slice(&self) -> Option<Slice> {
        None
    }
}

fn expect_uint(v: &Value, max: u64, what: &str) -> Result<u64, String> {
    match v {
        Value::Num(t) => match parse_uint(t) {
            Some(n) if n <= max => Ok(n),
            Some(n) => Err(format!("expected {what} (at most {max}), found {n}")),
            None => Err(format!("expected {what}, found `{t}`")),
        },
        other => Err(format!("expected {what}, found {}", other.describe())),
    }
}

fn expect_word<'v>(v: &'v Value, what: &str) -> Result<&'v str, String> {
    match v {
        Value::Word(w) => Ok(w),
        other => Err(format!("expected {what}, found {}", other.describe())),
    }
}

/// A random count: mostly small, sometimes anywhere up to `max`.
fn synth_count(g: &mut dyn Synth, max: u64) -> u64 {
    if g.int(0, 3) == 0 {
        g.int(0, max)
    } else {
        g.int(1, 256.min(max))
    }
}

macro_rules! uint_field {
    ($t:ty, $what:literal) => {
        impl Field for $t {
            fn print(&self, _: &Names<'_>, out: &mut String) {
                out.push_str(&self.to_string());
            }
            fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
                expect_uint(v, <$t>::MAX as u64, $what).map(|n| n as $t)
            }
            fn encode(&self, w: &mut Writer) {
                w.varint(*self as u64);
            }
            fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
                let at = r.pos();
                let n = r.varint(what)?;
                <$t>::try_from(n)
                    .map_err(|_| r.error_at(at, format!("`{what}`: {n} exceeds {}", <$t>::MAX)))
            }
            fn synth(g: &mut dyn Synth) -> Self {
                synth_count(g, <$t>::MAX as u64) as $t
            }
        }
    };
}

uint_field!(u16, "an unsigned 16-bit integer");
uint_field!(u32, "an unsigned 32-bit integer");

impl Field for Bytes {
    fn print(&self, _: &Names<'_>, out: &mut String) {
        out.push_str(&self.0.to_string());
    }
    fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
        expect_uint(v, u64::MAX, "a byte count").map(Bytes)
    }
    fn encode(&self, w: &mut Writer) {
        w.varint(self.0);
    }
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
        r.varint(what).map(Bytes)
    }
    fn synth(g: &mut dyn Synth) -> Self {
        Bytes(synth_count(g, u64::MAX))
    }
}

impl Field for bool {
    fn print(&self, _: &Names<'_>, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
    fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
        match expect_word(v, "`true` or `false`")? {
            "true" => Ok(true),
            "false" => Ok(false),
            w => Err(format!("expected `true` or `false`, found `{w}`")),
        }
    }
    fn encode(&self, w: &mut Writer) {
        w.u8(*self as u8);
    }
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
        let at = r.pos();
        match r.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(r.error_at(at, format!("`{what}`: expected a bool (0 or 1), found {b}"))),
        }
    }
    fn synth(g: &mut dyn Synth) -> Self {
        g.int(0, 1) == 1
    }
}

impl Field for f32 {
    fn print(&self, _: &Names<'_>, out: &mut String) {
        // Debug is Rust's shortest representation that parses back to the same bits.
        out.push_str(&format!("{self:?}"));
    }
    fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
        match v {
            Value::Num(t) => match t.parse::<f32>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(format!("expected a finite number, found `{t}`")),
            },
            other => Err(format!(
                "expected a finite number, found {}",
                other.describe()
            )),
        }
    }
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.to_bits().to_le_bytes());
    }
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
        let at = r.pos();
        let b = r.take(4, what)?;
        let x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if x.is_finite() {
            Ok(x)
        } else {
            Err(r.error_at(at, format!("`{what}`: expected a finite f32, found {x}")))
        }
    }
    fn check(&self, _: &Names<'_>) -> Result<(), String> {
        if self.is_finite() {
            Ok(())
        } else {
            Err(format!("expected a finite number, found {self}"))
        }
    }
    fn synth(g: &mut dyn Synth) -> Self {
        match g.int(0, 2) {
            0 => 1.0,
            1 => g.int(1, 1 << 20) as f32 / 1024.0,
            _ => {
                let x = f32::from_bits(g.int(0, u32::MAX as u64) as u32);
                if x.is_finite() { x } else { 0.5 }
            }
        }
    }
}

impl Field for DType {
    fn print(&self, _: &Names<'_>, out: &mut String) {
        out.push_str(self.name());
    }
    fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
        expect_word(v, "a dtype")?
            .parse::<DType>()
            .map_err(|e| e.to_string())
    }
    fn encode(&self, w: &mut Writer) {
        w.u8(DType::ALL.iter().position(|d| d == self).unwrap_or(0) as u8);
    }
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
        let at = r.pos();
        let t = r.u8(what)?;
        DType::ALL
            .get(t as usize)
            .copied()
            .ok_or_else(|| r.error_at(at, format!("`{what}`: unknown dtype tag {t}")))
    }
    fn synth(g: &mut dyn Synth) -> Self {
        DType::ALL[g.int(0, DType::ALL.len() as u64 - 1) as usize]
    }
}

impl Field for Slice {
    const POSITIONAL: bool = true;
    fn print(&self, names: &Names<'_>, out: &mut String) {
        match names.buffers.get(self.buf.0 as usize) {
            Some(b) => out.push_str(b),
            // Only reachable for a program that fails `Program::validate`.
            None => out.push_str(&format!("?buffer{}", self.buf.0)),
        }
        if self.offset.0 != 0 {
            out.push_str(&format!("+{}", self.offset.0));
        }
    }
    fn parse(v: &Value, scope: &Scope) -> Result<Self, String> {
        let (name, offset) = match v {
            Value::Word(w) => (w.as_str(), 0),
            Value::Ref(w, off) => (w.as_str(), *off),
            other => {
                return Err(format!(
                    "expected a buffer (`name` or `name+offset`), found {}",
                    other.describe()
                ));
            }
        };
        let buf = *scope.buffers.get(name).ok_or_else(|| {
            format!("unknown buffer `{name}` (buffers must be declared with .buffer before use)")
        })?;
        Ok(Slice {
            buf,
            offset: Bytes(offset),
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.varint(self.buf.0 as u64);
        w.varint(self.offset.0);
    }
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
        let at = r.pos();
        let b = r.varint(what)?;
        let buf = u32::try_from(b)
            .map_err(|_| r.error_at(at, format!("`{what}`: buffer index {b} too large")))?;
        let offset = r.varint(what)?;
        Ok(Slice {
            buf: BufId(buf),
            offset: Bytes(offset),
        })
    }
    fn check(&self, names: &Names<'_>) -> Result<(), String> {
        if (self.buf.0 as usize) < names.buffers.len() {
            Ok(())
        } else {
            Err(format!(
                "buffer index {} out of range ({} buffers)",
                self.buf.0,
                names.buffers.len()
            ))
        }
    }
    fn synth(g: &mut dyn Synth) -> Self {
        let buf = g.buf();
        let offset = if g.int(0, 1) == 0 {
            0
        } else {
            g.int(1, 1 << 16)
        };
        Slice {
            buf,
            offset: Bytes(offset),
        }
    }
    fn as_slice(&self) -> Option<Slice> {
        Some(*self)
    }
}

impl Field for SemId {
    const POSITIONAL: bool = true;
    fn print(&self, names: &Names<'_>, out: &mut String) {
        match names.sems.get(self.0 as usize) {
            Some(s) => out.push_str(s),
            None => out.push_str(&format!("?sem{}", self.0)),
        }
    }
    fn parse(v: &Value, scope: &Scope) -> Result<Self, String> {
        let name = expect_word(v, "a semaphore name")?;
        scope.sems.get(name).copied().ok_or_else(|| {
            format!("unknown semaphore `{name}` (semaphores must be declared with .sem before use)")
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.varint(self.0 as u64);
    }
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
        let at = r.pos();
        let n = r.varint(what)?;
        u32::try_from(n)
            .map(SemId)
            .map_err(|_| r.error_at(at, format!("`{what}`: semaphore index {n} too large")))
    }
    fn check(&self, names: &Names<'_>) -> Result<(), String> {
        if (self.0 as usize) < names.sems.len() {
            Ok(())
        } else {
            Err(format!(
                "semaphore index {} out of range ({} semaphores)",
                self.0,
                names.sems.len()
            ))
        }
    }
    fn synth(g: &mut dyn Synth) -> Self {
        g.sem()
    }
}

/// An enum operand; `$positional` says whether it prints bare (an op such as `add`)
/// or as `name=value` (a mode such as `bcast=row`).
macro_rules! enum_field {
    ($t:ty) => {
        enum_field!($t, true);
    };
    ($t:ty, $positional:expr) => {
        impl Field for $t {
            const POSITIONAL: bool = $positional;
            fn print(&self, _: &Names<'_>, out: &mut String) {
                out.push_str(self.name());
            }
            fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
                expect_word(v, <$t>::WHAT)?.parse::<$t>()
            }
            fn encode(&self, w: &mut Writer) {
                w.u8(self.tag());
            }
            fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
                let at = r.pos();
                let t = r.u8(what)?;
                <$t>::from_tag(t).ok_or_else(|| {
                    r.error_at(at, format!("`{what}`: unknown {} tag {t}", <$t>::WHAT))
                })
            }
            fn synth(g: &mut dyn Synth) -> Self {
                <$t>::ALL[g.int(0, <$t>::ALL.len() as u64 - 1) as usize]
            }
        }
    };
}

enum_field!(BinOp);
enum_field!(MathFn);
enum_field!(ActFn);
enum_field!(ReduceOp);
enum_field!(PimFn);
enum_field!(CmpOp);
enum_field!(Bcast, false);

/// A four-entry list operand: text `[a, b, c, d]`, binary four varints.
macro_rules! list4_field {
    ($t:ident, $e:ty, $what:literal, $max_synth:expr) => {
        impl Field for $t {
            fn print(&self, _: &Names<'_>, out: &mut String) {
                let items: Vec<String> = self.0.iter().map(|x| x.to_string()).collect();
                out.push_str(&format!("[{}]", items.join(", ")));
            }
            fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
                let Value::List(items) = v else {
                    return Err(format!("expected {}, found {}", $what, v.describe()));
                };
                if items.len() != 4 {
                    return Err(format!("expected {}, found {} entries", $what, items.len()));
                }
                let mut a = [<$e>::default(); 4];
                for (slot, item) in a.iter_mut().zip(items) {
                    *slot = expect_uint(item, <$e>::MAX as u64, $what)? as $e;
                }
                Ok($t(a))
            }
            fn encode(&self, w: &mut Writer) {
                for &x in &self.0 {
                    w.varint(x as u64);
                }
            }
            fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
                let mut a = [<$e>::default(); 4];
                for slot in a.iter_mut() {
                    let at = r.pos();
                    let n = r.varint(what)?;
                    *slot = <$e>::try_from(n).map_err(|_| {
                        r.error_at(at, format!("`{what}`: {n} exceeds {}", <$e>::MAX))
                    })?;
                }
                Ok($t(a))
            }
            fn synth(g: &mut dyn Synth) -> Self {
                let mut a = [<$e>::default(); 4];
                for slot in a.iter_mut() {
                    *slot = g.int(0, $max_synth) as $e;
                }
                $t(a)
            }
        }
    };
}

list4_field!(Dims, u32, "four dimensions like `[1, 1, 64, 128]`", 300);
list4_field!(
    Strides,
    u64,
    "four element strides like `[0, 0, 128, 1]`",
    1 << 20
);

impl Field for Perm {
    fn print(&self, _: &Names<'_>, out: &mut String) {
        let items: Vec<String> = self.0.iter().map(|x| x.to_string()).collect();
        out.push_str(&format!("[{}]", items.join(", ")));
    }
    fn parse(v: &Value, _: &Scope) -> Result<Self, String> {
        const WHAT: &str = "a permutation of the axes 0..3 like `[0, 2, 1, 3]`";
        let Value::List(items) = v else {
            return Err(format!("expected {WHAT}, found {}", v.describe()));
        };
        if items.len() != 4 {
            return Err(format!("expected {WHAT}, found {} entries", items.len()));
        }
        let mut a = [0u8; 4];
        for (slot, item) in a.iter_mut().zip(items) {
            *slot = expect_uint(item, 3, WHAT)? as u8;
        }
        let p = Perm(a);
        if p.is_valid() {
            Ok(p)
        } else {
            Err(format!("expected {WHAT}, found {a:?} (an axis repeats)"))
        }
    }
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.0);
    }
    fn decode(r: &mut Reader<'_>, what: &str) -> crate::Result<Self> {
        let at = r.pos();
        let b = r.take(4, what)?;
        let p = Perm([b[0], b[1], b[2], b[3]]);
        if p.is_valid() {
            Ok(p)
        } else {
            Err(r.error_at(
                at,
                format!("`{what}`: {:?} is not a permutation of 0..3", p.0),
            ))
        }
    }
    fn check(&self, _: &Names<'_>) -> Result<(), String> {
        if self.is_valid() {
            Ok(())
        } else {
            Err(format!("{:?} is not a permutation of 0..3", self.0))
        }
    }
    fn synth(g: &mut dyn Synth) -> Self {
        let mut a = [0u8, 1, 2, 3];
        for i in (1..4).rev() {
            let j = g.int(0, i as u64) as usize;
            a.swap(i, j);
        }
        Perm(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uints_parse_decimal_and_hex_only() {
        use crate::codec::parse_uint;
        assert_eq!(parse_uint("4096"), Some(4096));
        assert_eq!(parse_uint("0x1000"), Some(4096));
        assert_eq!(parse_uint("1_000"), Some(1000));
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("0x+10"), None);
        assert_eq!(parse_uint("+10"), None);
        assert_eq!(parse_uint("1.5"), None);
        assert_eq!(parse_uint("18446744073709551616"), None);
        let s = Scope::default();
        assert!(
            u16::parse(&Value::Num("65536".into()), &s)
                .unwrap_err()
                .contains("at most 65535")
        );
    }

    #[test]
    fn floats_print_to_the_same_bits() {
        let s = Scope::default();
        let names = Names {
            buffers: Vec::new(),
            sems: Vec::new(),
        };
        for x in [
            1.0f32,
            0.1,
            -0.0,
            1e-38,
            3.4028235e38,
            1.1754944e-38,
            1e-45,
            0.007874016,
        ] {
            let mut t = String::new();
            x.print(&names, &mut t);
            let y = f32::parse(&Value::Num(t.clone()), &s).unwrap();
            assert_eq!(x.to_bits(), y.to_bits(), "{t}");
        }
        assert!(f32::parse(&Value::Num("1e39".into()), &s).is_err());
    }
}
