//! The leaf of the crate's codecs: the primitive encodings every form shares and
//! nothing else. The binary form's LEB128 [`Writer`] / [`Reader`] (minimal
//! encodings, bounds-checked, never panicking) and the text form's parsed operand
//! [`Value`]. It imports only the error type, so the instruction table (`insn`), the
//! program container (`program`) and the file forms (`binary`, `asm`) can all use
//! it without importing each other in a circle.

use crate::{Error, Result};

/// Longest LEB128 encoding of a u64.
const MAX_VARINT_BYTES: usize = 10;

/// An operand value as written in text assembly.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// A bare word: a name, dtype, op, engine, `true`/`false`.
    Word(String),
    /// A number as written.
    Num(String),
    /// A string literal.
    Str(String),
    /// `[v, v, …]`
    List(Vec<Value>),
    /// `name+offset`
    Ref(String, u64),
}

impl Value {
    /// The value as written, for "found …" in messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Word(w) => format!("`{w}`"),
            Value::Num(n) => format!("`{n}`"),
            Value::Str(s) => format!("string {s:?}"),
            Value::List(_) => "a list".into(),
            Value::Ref(n, o) => format!("`{n}+{o}`"),
        }
    }
}

/// Parse an unsigned integer in decimal or `0x` hex (`_` separators allowed).
pub(crate) fn parse_uint(text: &str) -> Option<u64> {
    let t = text.replace('_', "");
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        // from_str_radix alone would also accept a leading `+`.
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    } else if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse().ok()
    } else {
        None
    }
}

/// Appends binary items to a byte vector.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// The bytes written so far.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// An f64 as 8 little-endian bytes.
    pub(crate) fn f64(&mut self, x: f64) {
        self.bytes(&x.to_le_bytes());
    }

    pub(crate) fn u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn varint(&mut self, mut n: u64) {
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.buf.push(low);
                return;
            }
            self.buf.push(low | 0x80);
        }
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

/// Reads binary items from a byte slice, with bounds and canonical-form checks.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// Current byte offset.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// An error at byte offset `at`.
    pub(crate) fn error_at(&self, at: usize, msg: String) -> Error {
        Error::Binary { offset: at, msg }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error_at(
                self.pos,
                format!(
                    "`{what}`: expected {n} bytes, found {} (truncated)",
                    self.remaining()
                ),
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16_le(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// An f64 from 8 little-endian bytes.
    pub(crate) fn f64(&mut self, what: &str) -> Result<f64> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    pub(crate) fn varint(&mut self, what: &str) -> Result<u64> {
        let at = self.pos;
        let mut n: u64 = 0;
        for i in 0..MAX_VARINT_BYTES {
            let b = self.u8(what)?;
            let part = (b & 0x7f) as u64;
            if i == MAX_VARINT_BYTES - 1 && part > 1 {
                return Err(self.error_at(at, format!("`{what}`: varint overflows 64 bits")));
            }
            n |= part << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(
                        self.error_at(at, format!("`{what}`: varint is not minimally encoded"))
                    );
                }
                return Ok(n);
            }
        }
        Err(self.error_at(
            at,
            format!("`{what}`: varint longer than {MAX_VARINT_BYTES} bytes"),
        ))
    }

    pub(crate) fn str(&mut self, what: &str) -> Result<String> {
        let at = self.pos;
        let len = self.varint(what)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| self.error_at(at, format!("`{what}`: not UTF-8 ({e})")))
    }

    /// A count of items each at least `min_bytes` long, checked against the input left.
    pub(crate) fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.varint(what)?;
        let most = self.remaining() / min_bytes.max(1);
        if n > most as u64 {
            return Err(self.error_at(
                at,
                format!(
                    "`{what}`: count {n} exceeds what the remaining {} bytes can hold",
                    self.remaining()
                ),
            ));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(n: u64) -> Vec<u8> {
        let mut w = Writer::default();
        w.varint(n);
        w.into_bytes()
    }

    #[test]
    fn varints_round_trip_and_are_minimal() {
        for n in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let b = varint_bytes(n);
            // LEB128 length is ceil(bits / 7), at least 1.
            let bits = 64 - n.leading_zeros() as usize;
            assert_eq!(b.len(), bits.div_ceil(7).max(1));
            assert_eq!(Reader::new(&b).varint("n").unwrap(), n);
        }
        assert!(Reader::new(&[0x80, 0x00]).varint("n").is_err()); // non-minimal zero
        assert!(Reader::new(&[0xff; 10]).varint("n").is_err()); // > 64 bits
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert!(Reader::new(&over).varint("n").is_err());
        assert!(Reader::new(&[0x80]).varint("n").is_err()); // truncated
    }
}
