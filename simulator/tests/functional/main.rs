//! Functional mode: hand-written programs covering every instruction, run with
//! `triad_sim::execute` on a `DataMemory`; expected values are computed here,
//! independently (plain loops in f64 or exact integers, hand-computed cases), and
//! float results are compared bit for bit after a correct rounding done by this
//! file's own `round_to` (nearest of the candidate neighbours, ties to even).

mod dma;
mod gemm;
mod masks;
mod memory;
mod pim;
mod vector;

use std::path::Path;

use triad_isa::{Arch, DType, Memory, Program};
use triad_sim::{DataMemory, Error, execute};

/// The preset every test uses unless it says otherwise: NPU, CPU and PIM.
pub fn arch() -> Arch {
    Arch::preset("mobile-soc-pim").expect("preset")
}

/// A program with its memory.
pub struct Run {
    pub prog: Program,
    pub mem: DataMemory,
    pub arch: Arch,
}

impl Run {
    /// Parse `text` (a .tasm program) for `arch`; memory all zero, inits applied.
    pub fn with_arch(text: &str, arch: Arch) -> Run {
        let prog = Program::from_text(text).expect("test program parses");
        let mut mem = DataMemory::new(&arch);
        mem.load_inits(&prog, Path::new(".")).expect("inits");
        Run { prog, mem, arch }
    }

    /// As [`Run::with_arch`] on [`arch`].
    pub fn new(text: &str) -> Run {
        Run::with_arch(text, arch())
    }

    fn buf(&self, name: &str) -> (Memory, u64) {
        let b = &self.prog.buffers[self.prog.buffer_id(name).expect("buffer").0 as usize];
        (b.mem, b.addr.0)
    }

    /// Write raw bytes at the start of buffer `name`.
    pub fn set(&mut self, name: &str, bytes: &[u8]) {
        let (m, a) = self.buf(name);
        self.mem.write(m, a, bytes).expect("write");
    }

    /// The whole buffer's bytes.
    pub fn get(&self, name: &str) -> Vec<u8> {
        let id = self.prog.buffer_id(name).expect("buffer");
        self.mem.buffer_bytes(&self.prog, id).expect("read")
    }

    /// Execute every stream's instructions, streams in program order.
    pub fn try_run(&mut self) -> Result<(), Error> {
        for s in &self.prog.streams {
            for i in &s.insns {
                execute(s.engine, i, &self.prog, &mut self.mem, &self.arch)?;
            }
        }
        Ok(())
    }

    /// As [`Run::try_run`], panicking with the error.
    pub fn run(&mut self) {
        if let Err(e) = self.try_run() {
            panic!("execute failed: {e}");
        }
    }
}

/// Little-endian encodings done here, independently of the simulator.
pub fn enc(dtype: DType, v: &[f64]) -> Vec<u8> {
    let mut out = Vec::new();
    match dtype {
        DType::F32 => v
            .iter()
            .for_each(|&x| out.extend((round_to(dtype, x) as f32).to_le_bytes())),
        DType::F16 => v
            .iter()
            .for_each(|&x| out.extend(half::f16::from_f64(round_to(dtype, x)).to_le_bytes())),
        DType::BF16 => v
            .iter()
            .for_each(|&x| out.extend(half::bf16::from_f64(round_to(dtype, x)).to_le_bytes())),
        DType::I8 | DType::Bool => out.extend(v.iter().map(|&x| x as i64 as i8 as u8)),
        DType::I32 => v
            .iter()
            .for_each(|&x| out.extend((x as i64 as i32).to_le_bytes())),
        DType::I64 => v.iter().for_each(|&x| out.extend((x as i64).to_le_bytes())),
        DType::I4 => {
            for p in v.chunks(2) {
                let lo = (p[0] as i64 & 0xf) as u8;
                let hi = p.get(1).map_or(0, |&x| (x as i64 & 0xf) as u8);
                out.push(lo | hi << 4);
            }
        }
    }
    out
}

/// Decode `n` elements (independently of the simulator).
pub fn dec(dtype: DType, b: &[u8], n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match dtype {
            DType::F32 => f32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap()) as f64,
            DType::F16 => half::f16::from_le_bytes([b[2 * i], b[2 * i + 1]]).to_f64(),
            DType::BF16 => half::bf16::from_le_bytes([b[2 * i], b[2 * i + 1]]).to_f64(),
            DType::I8 => b[i] as i8 as f64,
            DType::Bool => b[i] as f64,
            DType::I32 => i32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap()) as f64,
            DType::I64 => i64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()) as f64,
            DType::I4 => {
                let byte = b[i / 2];
                let nib = if i % 2 == 0 { byte & 0xf } else { byte >> 4 };
                (((nib << 4) as i8) >> 4) as f64
            }
        })
        .collect()
}

/// Bits of a float value in `dtype` (for bit-level comparisons).
fn bits(dtype: DType, x: f64) -> u32 {
    match dtype {
        DType::F16 => half::f16::from_f64(x).to_bits() as u32,
        DType::BF16 => half::bf16::from_f64(x).to_bits() as u32,
        _ => (x as f32).to_bits(),
    }
}

fn from_bits(dtype: DType, b: u32) -> f64 {
    match dtype {
        DType::F16 => half::f16::from_bits(b as u16).to_f64(),
        DType::BF16 => half::bf16::from_bits(b as u16).to_f64(),
        _ => f32::from_bits(b) as f64,
    }
}

/// Correct rounding of `x` to float `dtype` (nearest; ties to the even bit
/// pattern), by comparing the naive conversion with its two neighbours exactly in
/// f64. Integer dtypes: round half to even and saturate.
pub fn round_to(dtype: DType, x: f64) -> f64 {
    if let Some((lo, hi)) = dtype.int_range() {
        if x.is_nan() {
            return 0.0;
        }
        // `+ 0.0` turns −0 into 0: integers have no negative zero.
        return x.round_ties_even().clamp(lo as f64, hi as f64) + 0.0;
    }
    if x.is_nan() || x.is_infinite() {
        return x;
    }
    let b = bits(dtype, x);
    if from_bits(dtype, b).is_infinite() {
        // Overflow: infinity unless |x| is below the midpoint between the largest
        // finite value and the next power of the format's grid (IEEE 754 RNE).
        // ±inf − 1 is ±max finite (sign-magnitude bits), − 2 the value below it.
        let max = from_bits(dtype, b - 1);
        let step = (max - from_bits(dtype, b - 2)).abs();
        return if x.abs() >= max.abs() + step / 2.0 {
            from_bits(dtype, b)
        } else {
            max
        };
    }
    let mut best = from_bits(dtype, b);
    let mut best_bits = b;
    for nb in [b.wrapping_sub(1), b.wrapping_add(1)] {
        let c = from_bits(dtype, nb);
        if c.is_nan() {
            continue;
        }
        let (dc, db) = ((c - x).abs(), (best - x).abs());
        if dc < db || (dc == db && nb % 2 == 0 && best_bits % 2 == 1) {
            best = c;
            best_bits = nb;
        }
    }
    best
}

/// Asserts `got` equals `want` element by element, bit for bit (NaN == NaN).
pub fn assert_same(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g.is_nan() && w.is_nan()) || g.to_bits() == w.to_bits(),
            "{what}[{i}]: got {g:e}, want {w:e}"
        );
    }
}

/// Asserts each element is within `ulps` steps of `dtype` of `want`.
pub fn assert_close(dtype: DType, got: &[f64], want: &[f64], ulps: u32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let step = ulp(dtype, w);
        assert!(
            (g - w).abs() <= step * f64::from(ulps),
            "{what}[{i}]: got {g:e}, want {w:e} (±{ulps} ulp of {dtype} = {:e})",
            step * f64::from(ulps)
        );
    }
}

/// One ulp of `dtype` at `x`.
pub fn ulp(dtype: DType, x: f64) -> f64 {
    let r = round_to(dtype, x);
    let b = bits(dtype, r.abs());
    from_bits(dtype, b + 1) - from_bits(dtype, b)
}
