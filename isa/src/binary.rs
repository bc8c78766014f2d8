//! The compact binary form of a [`Program`] (`.tbin`).
//!
//! Layout (all integers are unsigned LEB128 varints unless noted, and must use the
//! fewest bytes, so every accepted file re-encodes to the same bytes):
//!
//! ```text
//! header   "TBIN" | version: u16 LE (= 3) | flags: u16 LE (= 0)
//! meta     str model | str arch | str compiler            (str = len, UTF-8 bytes)
//! buffers  count, then per buffer: str name | u8 memory | addr | ndims, dims…
//!          | u8 dtype | alias: u8 0, or u8 1 + index
//!          | init: u8 0, or u8 1 + str path + offset,
//!            or u8 2 + seed + low f64 LE + high f64 LE
//! inputs   count, then per input: str name | buffer index
//! outputs  count, then per output: str name | buffer index
//! sems     count, then per semaphore: str name | init
//! streams  count, then per stream: u8 engine kind | engine index
//!          | label count, then per label: str name | position
//!          | instruction count, then per instruction: u8 opcode | operands…
//! ```
//!
//! Decoding never panics and never allocates more than the input could describe:
//! every count is checked against the bytes that remain before anything is reserved.
//! Errors give the byte offset of the item at fault. After decoding, the program is
//! checked with [`Program::validate`].

use crate::codec::{Reader, Writer};
use crate::insn::{BufId, Engine, Instruction};
use crate::program::{Buffer, InitData, Label, Memory, Meta, Port, Semaphore, Stream};
use crate::{Bytes, DType, Program, Result};

/// First four bytes of every `.tbin` file.
pub const MAGIC: [u8; 4] = *b"TBIN";
/// The format version this crate reads and writes.
pub const VERSION: u16 = 3;
/// Most elements reserved up front for any list. Counts are already capped by the
/// bytes left, but an element in memory can be much larger than its encoding (an
/// instruction is 88 bytes, its smallest encoding 3), so lists grow past this only
/// as elements are actually decoded.
const MAX_PREALLOC: usize = 4096;

/// Encode `p` as `.tbin` bytes.
pub fn encode(p: &Program) -> Vec<u8> {
    let mut w = Writer::default();
    w.bytes(&MAGIC);
    w.bytes(&VERSION.to_le_bytes());
    w.bytes(&0u16.to_le_bytes());
    w.str(&p.meta.model);
    w.str(&p.meta.arch);
    w.str(&p.meta.compiler);
    w.varint(p.buffers.len() as u64);
    for b in &p.buffers {
        w.str(&b.name);
        w.u8(match b.mem {
            Memory::Dram => 0,
            Memory::Spm => 1,
        });
        w.varint(b.addr.0);
        w.varint(b.shape.len() as u64);
        for &d in &b.shape {
            w.varint(d);
        }
        w.u8(DType::ALL.iter().position(|&d| d == b.dtype).unwrap_or(0) as u8);
        match b.alias {
            None => w.u8(0),
            Some(a) => {
                w.u8(1);
                w.varint(a.0 as u64);
            }
        }
        match &b.init {
            None => w.u8(0),
            Some(InitData::File { path, offset }) => {
                w.u8(1);
                w.str(path);
                w.varint(offset.0);
            }
            Some(InitData::Uniform { seed, low, high }) => {
                w.u8(2);
                w.varint(*seed);
                w.f64(*low);
                w.f64(*high);
            }
        }
    }
    for ports in [&p.inputs, &p.outputs] {
        w.varint(ports.len() as u64);
        for port in ports {
            w.str(&port.name);
            w.varint(u64::from(port.buf.0));
        }
    }
    w.varint(p.sems.len() as u64);
    for s in &p.sems {
        w.str(&s.name);
        w.varint(s.init as u64);
    }
    w.varint(p.streams.len() as u64);
    for s in &p.streams {
        let (kind, n) = s.engine.kind_tag();
        w.u8(kind);
        w.varint(n as u64);
        w.varint(s.labels.len() as u64);
        for l in &s.labels {
            w.str(&l.name);
            w.varint(l.at as u64);
        }
        w.varint(s.insns.len() as u64);
        for i in &s.insns {
            i.encode(&mut w);
        }
    }
    w.into_bytes()
}

fn u32_field(r: &mut Reader<'_>, what: &str) -> Result<u32> {
    let at = r.pos();
    let n = r.varint(what)?;
    u32::try_from(n).map_err(|_| r.error_at(at, format!("`{what}`: {n} exceeds {}", u32::MAX)))
}

fn decode_buffer(r: &mut Reader<'_>) -> Result<Buffer> {
    let name = r.str("buffer name")?;
    let at = r.pos();
    let mem = match r.u8("buffer memory")? {
        0 => Memory::Dram,
        1 => Memory::Spm,
        m => {
            return Err(r.error_at(
                at,
                format!("buffer `{name}`: unknown memory tag {m} (0 dram, 1 spm)"),
            ));
        }
    };
    let addr = Bytes(r.varint("buffer address")?);
    let ndims = r.count("buffer rank", 1)?;
    let mut shape = Vec::with_capacity(ndims.min(MAX_PREALLOC));
    for _ in 0..ndims {
        shape.push(r.varint("buffer dimension")?);
    }
    let at = r.pos();
    let t = r.u8("buffer dtype")?;
    let dtype = *DType::ALL
        .get(t as usize)
        .ok_or_else(|| r.error_at(at, format!("buffer `{name}`: unknown dtype tag {t}")))?;
    let at = r.pos();
    let alias = match r.u8("buffer alias flag")? {
        0 => None,
        1 => Some(BufId(u32_field(r, "buffer alias")?)),
        f => {
            return Err(r.error_at(
                at,
                format!("buffer `{name}`: alias flag must be 0 or 1, found {f}"),
            ));
        }
    };
    let at = r.pos();
    let init = match r.u8("buffer init tag")? {
        0 => None,
        1 => Some(InitData::File {
            path: r.str("init path")?,
            offset: Bytes(r.varint("init offset")?),
        }),
        2 => Some(InitData::Uniform {
            seed: r.varint("init seed")?,
            low: r.f64("init low")?,
            high: r.f64("init high")?,
        }),
        t => {
            return Err(r.error_at(
                at,
                format!("buffer `{name}`: unknown init tag {t} (0 none, 1 file, 2 uniform)"),
            ));
        }
    };
    Ok(Buffer {
        name,
        mem,
        addr,
        shape,
        dtype,
        alias,
        init,
    })
}

/// A list of graph inputs or outputs: count, then per port: str name | buffer index.
fn decode_ports(r: &mut Reader<'_>, what: &str) -> Result<Vec<Port>> {
    // A port is at least 2 bytes (empty name + index).
    let n = r.count(&format!("{what} count"), 2)?;
    let mut out = Vec::with_capacity(n.min(MAX_PREALLOC));
    for _ in 0..n {
        out.push(Port {
            name: r.str(&format!("{what} name"))?,
            buf: BufId(u32_field(r, &format!("{what} buffer"))?),
        });
    }
    Ok(out)
}

fn decode_stream(r: &mut Reader<'_>) -> Result<Stream> {
    let at = r.pos();
    let kind = r.u8("engine kind")?;
    let n = r.varint("engine index")?;
    let engine = u16::try_from(n)
        .ok()
        .and_then(|n| Engine::from_kind_tag(kind, n))
        .ok_or_else(|| r.error_at(at, format!("unknown engine (kind {kind}, index {n})")))?;
    // A label is at least 2 bytes (empty name + position), an instruction 1 (opcode).
    let nlabels = r.count("label count", 2)?;
    let mut labels = Vec::with_capacity(nlabels.min(MAX_PREALLOC));
    for _ in 0..nlabels {
        labels.push(Label {
            name: r.str("label name")?,
            at: u32_field(r, "label position")?,
        });
    }
    let ninsns = r.count("instruction count", 1)?;
    let mut insns = Vec::with_capacity(ninsns.min(MAX_PREALLOC));
    for _ in 0..ninsns {
        insns.push(Instruction::decode(r)?);
    }
    Ok(Stream {
        engine,
        labels,
        insns,
    })
}

/// Decode `.tbin` bytes (see the module docs); the result is validated.
pub fn decode(bytes: &[u8]) -> Result<Program> {
    let mut r = Reader::new(bytes);
    let magic = r.take(4, "magic")?;
    if magic != MAGIC {
        return Err(r.error_at(
            0,
            format!("not a Triad binary program: magic {magic:02x?}, expected \"TBIN\""),
        ));
    }
    let version = r.u16_le("version")?;
    if version != VERSION {
        return Err(r.error_at(
            4,
            format!("unsupported .tbin version {version} (this build reads {VERSION})"),
        ));
    }
    let flags = r.u16_le("flags")?;
    if flags != 0 {
        return Err(r.error_at(6, format!("reserved flags must be 0, found {flags:#06x}")));
    }
    let meta = Meta {
        model: r.str("meta model")?,
        arch: r.str("meta arch")?,
        compiler: r.str("meta compiler")?,
    };
    // Smallest buffer: name len, mem, addr, rank, dtype, alias flag, init tag = 7 bytes.
    let nbuf = r.count("buffer count", 7)?;
    let mut buffers = Vec::with_capacity(nbuf.min(MAX_PREALLOC));
    for _ in 0..nbuf {
        buffers.push(decode_buffer(&mut r)?);
    }
    let inputs = decode_ports(&mut r, "input")?;
    let outputs = decode_ports(&mut r, "output")?;
    let nsem = r.count("semaphore count", 2)?;
    let mut sems = Vec::with_capacity(nsem.min(MAX_PREALLOC));
    for _ in 0..nsem {
        sems.push(Semaphore {
            name: r.str("semaphore name")?,
            init: u32_field(&mut r, "semaphore init")?,
        });
    }
    // Smallest stream: kind, index, label count, instruction count = 4 bytes.
    let nstreams = r.count("stream count", 4)?;
    let mut streams = Vec::with_capacity(nstreams.min(MAX_PREALLOC));
    for _ in 0..nstreams {
        streams.push(decode_stream(&mut r)?);
    }
    if r.remaining() != 0 {
        return Err(r.error_at(
            r.pos(),
            format!("{} trailing bytes after the last stream", r.remaining()),
        ));
    }
    let p = Program {
        meta,
        buffers,
        inputs,
        outputs,
        sems,
        streams,
    };
    p.validate()?;
    Ok(p)
}

impl Program {
    /// Decode the `.tbin` binary form (checks magic, version and every length).
    pub fn from_bytes(bytes: &[u8]) -> Result<Program> {
        decode(bytes)
    }

    /// Encode as `.tbin`: `from_bytes(p.to_bytes()) == p`.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }
}

/// True if `bytes` starts with the `.tbin` magic.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_checked() {
        let good = encode(&Program::default());
        assert_eq!(decode(&good).unwrap(), Program::default());
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(decode(&bad).unwrap_err().to_string().contains("magic"));
        let mut bad = good.clone();
        bad[4] = 2;
        assert!(decode(&bad).unwrap_err().to_string().contains("version 2"));
        let mut bad = good.clone();
        bad.push(0);
        assert!(decode(&bad).unwrap_err().to_string().contains("trailing"));
    }

    #[test]
    fn huge_counts_are_rejected_before_allocating() {
        let mut w = Writer::default();
        w.bytes(&MAGIC);
        w.bytes(&VERSION.to_le_bytes());
        w.bytes(&0u16.to_le_bytes());
        for _ in 0..3 {
            w.str("");
        }
        w.varint(u64::MAX); // buffer count
        let e = decode(&w.into_bytes()).unwrap_err().to_string();
        assert!(e.contains("byte offset 11") && e.contains("exceeds"), "{e}");
    }
}
