//! [`DataMemory`]: the real contents of DRAM, the NPU scratchpad and the PIM
//! channels' buffers during a functional run.
//!
//! Both memories are sparse: bytes live in 4 KiB pages allocated on the first write
//! to them; every byte never written reads as zero. Reading untouched memory
//! allocates nothing, so a program over a 7B-parameter model holds only the pages
//! that `.init`s and instructions actually wrote. Page lookups go through a
//! `BTreeMap`, so nothing depends on hashing and every run is bit-identical.
//!
//! Every access is bounds-checked against the memory's size (DRAM:
//! `dram.capacity_bytes()`, scratchpad: `npu.spm_bytes`, zero without an NPU) and
//! fails with [`Error::DataAddress`]; nothing panics on a bad address.
//!
//! Initial contents ([`DataMemory::load_inits`]): `file=` reads the buffer's bytes
//! from the file (relative paths against the program's directory) starting at
//! `offset=`; a file too short is [`Error::Init`]. `uniform=[low, high], seed=S`
//! fills the buffer with exactly `triad_isa::uniform`'s values (the graph IR's
//! `Init::Uniform`), generated in chunks so a huge buffer needs no huge vector.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triad_isa::{Arch, BufId, Buffer, DType, InitData, Memory, Program};

use super::elem::{self, Vals};
use super::pim::Channel;
use crate::{Error, Result};

/// Bytes per page of the sparse stores.
const PAGE: u64 = 4096;

/// Elements generated or copied per step while applying an `.init` (bounds the
/// temporary memory of initialising a huge buffer).
const INIT_CHUNK: u64 = 1 << 16;

/// A sparse byte store of a fixed capacity.
#[derive(Clone, Debug, Default)]
struct Pages {
    capacity: u64,
    pages: BTreeMap<u64, Box<[u8]>>,
}

impl Pages {
    fn check(&self, mem: Memory, addr: u64, len: usize) -> Result<()> {
        let end = addr.checked_add(len as u64);
        if end.is_none_or(|e| e > self.capacity) {
            return Err(Error::DataAddress {
                mem: mem.name().to_string(),
                addr,
                len: len as u64,
                capacity: self.capacity,
            });
        }
        Ok(())
    }

    fn read(&self, addr: u64, out: &mut [u8]) {
        let mut done = 0usize;
        while done < out.len() {
            let a = addr + done as u64;
            let (page, off) = (a / PAGE, (a % PAGE) as usize);
            let n = (PAGE as usize - off).min(out.len() - done);
            match self.pages.get(&page) {
                Some(p) => out[done..done + n].copy_from_slice(&p[off..off + n]),
                None => out[done..done + n].fill(0),
            }
            done += n;
        }
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) {
        let mut done = 0usize;
        while done < bytes.len() {
            let a = addr + done as u64;
            let (page, off) = (a / PAGE, (a % PAGE) as usize);
            let n = (PAGE as usize - off).min(bytes.len() - done);
            let p = self
                .pages
                .entry(page)
                .or_insert_with(|| vec![0u8; PAGE as usize].into_boxed_slice());
            p[off..off + n].copy_from_slice(&bytes[done..done + n]);
            done += n;
        }
    }
}

/// Real contents of DRAM (sparse pages, allocated on first write, zero elsewhere),
/// the NPU scratchpad (likewise) and the state of each PIM channel (global buffer,
/// accumulators). See the module docs.
#[derive(Clone, Debug)]
pub struct DataMemory {
    dram: Pages,
    spm: Pages,
    /// PIM channel state, created on a channel's first PIM instruction.
    pub(crate) pim: BTreeMap<u16, Channel>,
}

impl DataMemory {
    /// Empty (all-zero) memories sized for `arch`.
    pub fn new(arch: &Arch) -> DataMemory {
        DataMemory {
            dram: Pages {
                capacity: arch.dram.capacity_bytes(),
                pages: BTreeMap::new(),
            },
            spm: Pages {
                capacity: arch.npu.as_ref().map_or(0, |n| n.spm_bytes),
                pages: BTreeMap::new(),
            },
            pim: BTreeMap::new(),
        }
    }

    fn store(&self, mem: Memory) -> &Pages {
        match mem {
            Memory::Dram => &self.dram,
            Memory::Spm => &self.spm,
        }
    }

    /// `len` bytes of `mem` from `addr` (zero where never written). Fails with
    /// [`Error::DataAddress`] outside the memory.
    pub fn read(&self, mem: Memory, addr: u64, len: usize) -> Result<Vec<u8>> {
        let s = self.store(mem);
        s.check(mem, addr, len)?;
        let mut out = vec![0u8; len];
        s.read(addr, &mut out);
        Ok(out)
    }

    /// Write `bytes` to `mem` at `addr`. Fails with [`Error::DataAddress`] outside the
    /// memory (and then writes nothing).
    pub fn write(&mut self, mem: Memory, addr: u64, bytes: &[u8]) -> Result<()> {
        let s = match mem {
            Memory::Dram => &mut self.dram,
            Memory::Spm => &mut self.spm,
        };
        s.check(mem, addr, bytes.len())?;
        s.write(addr, bytes);
        Ok(())
    }

    /// Number of 4 KiB pages materialised so far in `mem` (for tests and reports:
    /// reading never materialises a page).
    pub fn pages_allocated(&self, mem: Memory) -> usize {
        self.store(mem).pages.len()
    }

    /// `n` elements of `dtype` starting at byte `addr` of `mem`.
    pub(crate) fn read_elems(
        &self,
        mem: Memory,
        addr: u64,
        dtype: DType,
        n: usize,
    ) -> Result<Vals> {
        let bytes = self.read(mem, addr, elem::bytes_for(dtype, n))?;
        Ok(elem::decode(dtype, &bytes, n))
    }

    /// Write `v` as `dtype` at byte `addr` of `mem`. An odd number of i4 elements
    /// leaves the high nibble of the last byte as it was.
    pub(crate) fn write_elems(
        &mut self,
        mem: Memory,
        addr: u64,
        dtype: DType,
        v: &Vals,
    ) -> Result<()> {
        let mut bytes = elem::encode(dtype, v);
        let n = match v {
            Vals::Float(f) => f.len(),
            Vals::Int(i) => i.len(),
        };
        if dtype == DType::I4 && n % 2 == 1 {
            let last = addr + bytes.len() as u64 - 1;
            let old = self.read(mem, last, 1)?[0];
            if let Some(b) = bytes.last_mut() {
                *b = (*b & 0x0f) | (old & 0xf0);
            }
        }
        self.write(mem, addr, &bytes)
    }

    /// Write `v` as `dtype` at element index `first` of the tensor starting at byte
    /// `base` (an i4 run may start on a high nibble; its neighbours are kept).
    pub(crate) fn write_elems_at(
        &mut self,
        mem: Memory,
        base: u64,
        dtype: DType,
        first: u64,
        v: &Vals,
    ) -> Result<()> {
        if dtype != DType::I4 {
            return self.write_elems(mem, base + dtype.bytes_for(first), dtype, v);
        }
        let Vals::Int(ints) = v else {
            return self.write_elems(mem, base + first / 2, dtype, v);
        };
        if first.is_multiple_of(2) || ints.is_empty() {
            return self.write_elems(mem, base + first / 2, dtype, v);
        }
        let at = base + first / 2;
        let old = self.read(mem, at, 1)?[0];
        self.write(mem, at, &[(old & 0x0f) | (((ints[0] & 0xf) as u8) << 4)])?;
        self.write_elems(mem, at + 1, dtype, &Vals::Int(ints[1..].to_vec()))
    }

    /// Applies every buffer's `.init` of `program`, in buffer order: `file=` paths are
    /// resolved against `base_dir`, `uniform=` uses the generator in the module docs.
    pub fn load_inits(&mut self, program: &Program, base_dir: &Path) -> Result<()> {
        for b in &program.buffers {
            match &b.init {
                None => {}
                Some(InitData::File { path, offset }) => {
                    self.init_file(b, &base_dir.join(path), offset.0)?
                }
                Some(InitData::Uniform { seed, low, high }) => {
                    self.init_uniform(b, *seed, *low, *high)?
                }
            }
        }
        Ok(())
    }

    fn size(b: &Buffer) -> Result<(u64, u64)> {
        match (b.elems(), b.size()) {
            (Some(n), Some(s)) => Ok((n, s.0)),
            _ => Err(Error::Init {
                buffer: b.name.clone(),
                message: "the buffer's size overflows 64 bits".into(),
            }),
        }
    }

    fn init_file(&mut self, b: &Buffer, path: &Path, offset: u64) -> Result<()> {
        let (_, size) = Self::size(b)?;
        self.store(b.mem)
            .check(b.mem, b.addr.0, usize::try_from(size).unwrap_or(usize::MAX))?;
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        if offset.checked_add(size).is_none_or(|end| end > len) {
            return Err(Error::Init {
                buffer: b.name.clone(),
                message: format!(
                    "{} holds {len} bytes; {size} bytes from offset {offset} are needed",
                    path.display()
                ),
            });
        }
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut done = 0u64;
        let mut chunk = vec![0u8; (INIT_CHUNK as usize).min(size as usize)];
        while done < size {
            let n = (size - done).min(INIT_CHUNK) as usize;
            f.read_exact(&mut chunk[..n]).map_err(io)?;
            self.write(b.mem, b.addr.0 + done, &chunk[..n])?;
            done += n as u64;
        }
        Ok(())
    }

    /// Fill `b` with the graph IR's `Init::Uniform { seed, low, high }` values:
    /// independent draws from a ChaCha8 stream seeded with `seed`, floats
    /// `low + (high − low) · u` (u an f32 in [0, 1)) rounded to the dtype, integers
    /// uniform over the integers in [low, high] clamped to the dtype's range, bools
    /// true with probability `high` clamped to [0, 1].
    pub fn init_uniform(&mut self, b: &Buffer, seed: u64, low: f64, high: f64) -> Result<()> {
        let (n, size) = Self::size(b)?;
        self.store(b.mem)
            .check(b.mem, b.addr.0, usize::try_from(size).unwrap_or(usize::MAX))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut done = 0u64;
        while done < n {
            // Chunks hold an even number of elements, so i4 chunks start on a byte.
            let k = (n - done).min(INIT_CHUNK) as usize;
            let vals = if b.dtype.is_float() {
                let (lo, hi) = (low as f32, high as f32);
                Vals::Float(
                    (0..k)
                        .map(|_| elem::round_f32(b.dtype, lo + (hi - lo) * rng.random::<f32>()))
                        .collect(),
                )
            } else if b.dtype.is_int() {
                let (rlo, rhi) = b.dtype.int_range().unwrap_or((i64::MIN, i64::MAX));
                let lo = (low.ceil() as i64).clamp(rlo, rhi);
                let hi = (high.floor() as i64).clamp(lo, rhi);
                Vals::Int((0..k).map(|_| rng.random_range(lo..=hi)).collect())
            } else {
                let p = high.clamp(0.0, 1.0);
                Vals::Int((0..k).map(|_| i64::from(rng.random_bool(p))).collect())
            };
            let at = b.addr.0 + b.dtype.bytes_for(done);
            self.write_elems(b.mem, at, b.dtype, &vals)?;
            done += k as u64;
        }
        Ok(())
    }

    /// The bytes of buffer `buf` (for reading outputs). Fails for an unknown id or a
    /// buffer outside its memory.
    pub fn buffer_bytes(&self, program: &Program, buf: BufId) -> Result<Vec<u8>> {
        let b = program.buffer(buf).ok_or_else(|| Error::Init {
            buffer: format!("#{}", buf.0),
            message: format!("no such buffer ({} buffers)", program.buffers.len()),
        })?;
        let (_, size) = Self::size(b)?;
        let len = usize::try_from(size).map_err(|_| Error::DataAddress {
            mem: b.mem.name().to_string(),
            addr: b.addr.0,
            len: size,
            capacity: self.store(b.mem).capacity,
        })?;
        self.read(b.mem, b.addr.0, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i4_runs_may_start_on_a_high_nibble() {
        let arch = Arch::preset("mobile-soc").unwrap();
        let mut m = DataMemory::new(&arch);
        m.write(Memory::Dram, 100, &[0xab, 0xcd, 0xef]).unwrap();
        // Elements 1..4 (high nibble of byte 0 through low nibble of byte 2).
        m.write_elems_at(
            Memory::Dram,
            100,
            DType::I4,
            1,
            &Vals::Int(vec![1, -2, 3, -8]),
        )
        .unwrap();
        assert_eq!(m.read(Memory::Dram, 100, 3).unwrap(), [0x1b, 0x3e, 0xe8]);
        // An even start with an odd count keeps the last byte's high nibble.
        m.write_elems_at(Memory::Dram, 100, DType::I4, 4, &Vals::Int(vec![5]))
            .unwrap();
        assert_eq!(m.read(Memory::Dram, 100, 3).unwrap(), [0x1b, 0x3e, 0xe5]);
    }
}
