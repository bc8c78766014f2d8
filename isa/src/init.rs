//! The one definition of generated tensor contents, shared by the compiler (a graph's
//! `Init::Uniform` weights) and the simulator (a program's `.init NAME,
//! uniform=[low, high], seed=S`), so both see the same values bit for bit.
//!
//! [`uniform`]: `n` independent draws from a ChaCha8 stream seeded with `seed`
//! (`rand_chacha::ChaCha8Rng::seed_from_u64`):
//! - floats (f32, f16, bf16): `low + (high − low) · u` in f32 with `u` the generator's
//!   uniform f32 in [0, 1) (`low`, `high` first narrowed to f32), then rounded to the
//!   dtype (round to nearest, ties to even);
//! - integers: uniform over the integers in `[ceil(low), floor(high)]`, that range
//!   first clamped to the dtype's (`hi` at least `lo`);
//! - bool: true with probability `high` clamped to [0, 1].
//!
//! [`Values::to_bytes`] is the memory image of the values: little-endian, f16 and
//! bf16 as their bit patterns, bool one byte (0 or 1), i4 two per byte with the
//! even-indexed element in the low nibble (two's complement nibbles).

use crate::DType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Generated values in the carrier their dtype uses: f32 for every float dtype (each
/// value already representable in the dtype), i64 for every integer dtype (each
/// within its range), bool.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// f32, f16 or bf16 values.
    F32(Vec<f32>),
    /// i4, i8, i32 or i64 values.
    I64(Vec<i64>),
    /// bool values.
    Bool(Vec<bool>),
}

/// Round an f32 to the nearest value of a float dtype (ties to even); other dtypes
/// return the value unchanged.
pub fn round_to(dtype: DType, x: f32) -> f32 {
    match dtype {
        DType::F16 => half::f16::from_f32(x).to_f32(),
        DType::BF16 => half::bf16::from_f32(x).to_f32(),
        _ => x,
    }
}

/// `n` values of `dtype` drawn uniformly from `[low, high]` with the generator seeded
/// by `seed` (rules in the module docs).
pub fn uniform(dtype: DType, n: usize, seed: u64, low: f64, high: f64) -> Values {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    if dtype.is_float() {
        let (lo, hi) = (low as f32, high as f32);
        Values::F32(
            (0..n)
                .map(|_| round_to(dtype, lo + (hi - lo) * rng.random::<f32>()))
                .collect(),
        )
    } else if dtype.is_int() {
        let (rlo, rhi) = dtype.int_range().unwrap_or((i64::MIN, i64::MAX));
        let lo = (low.ceil() as i64).clamp(rlo, rhi);
        let hi = (high.floor() as i64).clamp(lo, rhi);
        Values::I64((0..n).map(|_| rng.random_range(lo..=hi)).collect())
    } else {
        let p = high.clamp(0.0, 1.0);
        Values::Bool((0..n).map(|_| rng.random_bool(p)).collect())
    }
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory image of the values as elements of `dtype` (layout in the module
    /// docs; `dtype.bytes_for(len)` bytes). Values of another carrier than `dtype`'s
    /// are converted as a cast would (floats to integers truncate toward zero and
    /// saturate, numbers to bool are `!= 0`, integers wrap to the width).
    pub fn to_bytes(&self, dtype: DType) -> Vec<u8> {
        let n = self.len();
        let f = |i: usize| -> f64 {
            match self {
                Values::F32(v) => f64::from(v[i]),
                Values::I64(v) => v[i] as f64,
                Values::Bool(v) => f64::from(u8::from(v[i])),
            }
        };
        let int = |i: usize| -> i64 {
            match self {
                Values::F32(v) => v[i] as i64,
                Values::I64(v) => v[i],
                Values::Bool(v) => i64::from(v[i]),
            }
        };
        let mut out = Vec::with_capacity(usize::try_from(dtype.bytes_for(n as u64)).unwrap_or(0));
        for i in 0..n {
            match dtype {
                DType::F32 => out.extend_from_slice(&(f(i) as f32).to_le_bytes()),
                DType::F16 => {
                    out.extend_from_slice(&half::f16::from_f32(f(i) as f32).to_le_bytes())
                }
                DType::BF16 => {
                    out.extend_from_slice(&half::bf16::from_f32(f(i) as f32).to_le_bytes())
                }
                DType::I8 => out.push(int(i) as u8),
                DType::I32 => out.extend_from_slice(&(int(i) as i32).to_le_bytes()),
                DType::I64 => out.extend_from_slice(&int(i).to_le_bytes()),
                DType::Bool => out.push(u8::from(f(i) != 0.0)),
                DType::I4 => {
                    let nib = (int(i) as u8) & 0x0f;
                    if i % 2 == 0 {
                        out.push(nib);
                    } else if let Some(last) = out.last_mut() {
                        *last |= nib << 4;
                    }
                }
            }
        }
        out
    }

    /// The `n` elements of `dtype` in the memory image `bytes` (the inverse of
    /// [`Values::to_bytes`]); `None` when `bytes` is shorter than `n` elements.
    pub fn from_bytes(dtype: DType, bytes: &[u8], n: usize) -> Option<Values> {
        let need = usize::try_from(dtype.bytes_for(n as u64)).ok()?;
        let b = bytes.get(..need)?;
        let le2 = |i: usize| [b[2 * i], b[2 * i + 1]];
        Some(match dtype {
            DType::F32 => Values::F32(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::F16 => Values::F32(
                (0..n)
                    .map(|i| half::f16::from_le_bytes(le2(i)).to_f32())
                    .collect(),
            ),
            DType::BF16 => Values::F32(
                (0..n)
                    .map(|i| half::bf16::from_le_bytes(le2(i)).to_f32())
                    .collect(),
            ),
            DType::I8 => Values::I64(b.iter().map(|&x| i64::from(x as i8)).collect()),
            DType::I32 => Values::I64(
                b.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            DType::I64 => Values::I64(
                b.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                    .collect(),
            ),
            DType::Bool => Values::Bool(b.iter().map(|&x| x != 0).collect()),
            DType::I4 => Values::I64(
                (0..n)
                    .map(|i| {
                        let byte = b[i / 2];
                        let nib = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
                        // Sign-extend the nibble.
                        i64::from(((nib << 4) as i8) >> 4)
                    })
                    .collect(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_images_read_back() {
        for d in [
            DType::F32,
            DType::F16,
            DType::BF16,
            DType::I8,
            DType::I4,
            DType::I32,
            DType::I64,
            DType::Bool,
        ] {
            let v = uniform(d, 37, 3, -7.0, 7.0);
            let bytes = v.to_bytes(d);
            assert_eq!(Values::from_bytes(d, &bytes, 37), Some(v), "{d}");
            assert_eq!(
                Values::from_bytes(d, &bytes[..bytes.len() - 1], 37),
                None,
                "{d}"
            );
        }
    }

    #[test]
    fn uniform_is_deterministic_and_in_range() {
        let a = uniform(DType::F16, 100, 7, -0.5, 0.5);
        assert_eq!(a, uniform(DType::F16, 100, 7, -0.5, 0.5));
        let Values::F32(v) = a else {
            panic!("float values")
        };
        assert!(v.iter().all(|x| (-0.5..=0.5).contains(x)));
        assert!(v.iter().all(|&x| round_to(DType::F16, x) == x));
        let Values::I64(q) = uniform(DType::I4, 50, 1, -100.0, 100.0) else {
            panic!("int values")
        };
        assert!(q.iter().all(|x| (-8..=7).contains(x)));
        // Every value of the tiny range [-8, 7] appears in 50 draws' worth? Not
        // guaranteed; but both ends are reachable: check with more draws.
        let Values::I64(q) = uniform(DType::I4, 2000, 1, -100.0, 100.0) else {
            panic!("int values")
        };
        assert!(q.contains(&-8) && q.contains(&7));
    }

    #[test]
    fn memory_image_by_hand() {
        assert_eq!(
            Values::I64(vec![1, -1, 7]).to_bytes(DType::I4),
            vec![0xf1, 0x07]
        );
        assert_eq!(
            Values::F32(vec![1.0, -2.0]).to_bytes(DType::F16),
            vec![0x00, 0x3c, 0x00, 0xc0]
        );
        assert_eq!(
            Values::F32(vec![1.0]).to_bytes(DType::BF16),
            vec![0x80, 0x3f]
        );
        assert_eq!(
            Values::I64(vec![-2]).to_bytes(DType::I32),
            vec![0xfe, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            Values::Bool(vec![true, false]).to_bytes(DType::Bool),
            vec![1, 0]
        );
    }
}
