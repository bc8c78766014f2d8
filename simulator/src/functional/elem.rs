//! Element codecs and the numeric conversions every instruction shares.
//!
//! In memory, elements are little-endian: f32 as IEEE binary32, f16 as binary16,
//! bf16 as the high half of a binary32, integers in two's complement, bool as one
//! byte (0 = false, anything else reads as true, true is written as 1), and i4 two
//! per byte, **low nibble first** (element 2k in bits 0..4 of byte k, element 2k + 1
//! in bits 4..8), the ONNX int4 packing the compiler's ONNX reader uses.
//!
//! Conversions: to a float dtype, round to nearest, ties to even (from f64 exactly,
//! through round-to-odd to f32 first, so the result is correctly rounded; overflow
//! gives infinity); to an integer dtype, round half to even and saturate to the
//! dtype's range (NaN gives 0); to bool, `x != 0`.

use triad_isa::DType;

/// Decoded element values: floats as f32 (every f16 / bf16 value is exactly an f32),
/// integers and bools as i64.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Vals {
    /// f32, f16 or bf16 values.
    Float(Vec<f32>),
    /// i4, i8, i32, i64 values, or bools as 0 / 1.
    Int(Vec<i64>),
}

impl Vals {
    /// Values as f64 (integers exactly up to 2^53).
    pub(crate) fn to_f64(&self) -> Vec<f64> {
        match self {
            Vals::Float(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Vals::Int(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }
}

/// Bits of storage of `n` elements of `dtype`, as bytes (i4 rounds up).
pub(crate) fn bytes_for(dtype: DType, n: usize) -> usize {
    (n * dtype.bits() as usize).div_ceil(8)
}

/// Decode the first `n` elements of `dtype` from `bytes` (which holds at least
/// `bytes_for(dtype, n)` bytes).
pub(crate) fn decode(dtype: DType, bytes: &[u8], n: usize) -> Vals {
    let w = |i: usize, k: usize| &bytes[i * k..i * k + k];
    match dtype {
        DType::F32 => Vals::Float(
            (0..n)
                .map(|i| f32::from_le_bytes(w(i, 4).try_into().unwrap_or([0; 4])))
                .collect(),
        ),
        DType::F16 => Vals::Float(
            (0..n)
                .map(|i| half::f16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]).to_f32())
                .collect(),
        ),
        DType::BF16 => Vals::Float(
            (0..n)
                .map(|i| half::bf16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]).to_f32())
                .collect(),
        ),
        DType::I8 => Vals::Int(bytes[..n].iter().map(|&b| i64::from(b as i8)).collect()),
        DType::Bool => Vals::Int(bytes[..n].iter().map(|&b| i64::from(b != 0)).collect()),
        DType::I4 => Vals::Int((0..n).map(|i| nibble(bytes[i / 2], i % 2)).collect()),
        DType::I32 => Vals::Int(
            (0..n)
                .map(|i| i64::from(i32::from_le_bytes(w(i, 4).try_into().unwrap_or([0; 4]))))
                .collect(),
        ),
        DType::I64 => Vals::Int(
            (0..n)
                .map(|i| i64::from_le_bytes(w(i, 8).try_into().unwrap_or([0; 8])))
                .collect(),
        ),
    }
}

/// The signed value of nibble `half` (0 = low) of `byte`.
fn nibble(byte: u8, half: usize) -> i64 {
    let v = if half == 0 { byte & 0xf } else { byte >> 4 };
    i64::from(((v << 4) as i8) >> 4)
}

/// Encode float values that are already representable in float dtype `dtype`
/// (rounding again is exact, so this is a plain re-encoding).
fn encode_float_exact(dtype: DType, v: &[f32], out: &mut Vec<u8>) {
    for &x in v {
        match dtype {
            DType::F16 => out.extend_from_slice(&half::f16::from_f32(x).to_le_bytes()),
            DType::BF16 => out.extend_from_slice(&half::bf16::from_f32(x).to_le_bytes()),
            _ => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
}

/// Encode integers (already in `dtype`'s range; out-of-range values wrap to its
/// width, bools are `v != 0`).
fn encode_int(dtype: DType, v: &[i64], out: &mut Vec<u8>) {
    match dtype {
        DType::I4 => {
            for pair in v.chunks(2) {
                let lo = (pair[0] & 0xf) as u8;
                let hi = pair.get(1).map_or(0, |&x| (x & 0xf) as u8);
                out.push(lo | (hi << 4));
            }
        }
        DType::I8 => out.extend(v.iter().map(|&x| x as i8 as u8)),
        DType::Bool => out.extend(v.iter().map(|&x| u8::from(x != 0))),
        DType::I32 => v
            .iter()
            .for_each(|&x| out.extend_from_slice(&(x as i32).to_le_bytes())),
        _ => v
            .iter()
            .for_each(|&x| out.extend_from_slice(&x.to_le_bytes())),
    }
}

/// Encode `v` as `dtype`: floats are re-encoded exactly, integers wrap to the width.
/// Callers round or saturate first ([`from_f64`], [`saturate`]).
pub(crate) fn encode(dtype: DType, v: &Vals) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes_for(dtype, len(v)));
    match v {
        Vals::Float(f) if dtype.is_float() => encode_float_exact(dtype, f, &mut out),
        Vals::Float(f) => {
            let i: Vec<i64> = f
                .iter()
                .map(|&x| float_to_int(dtype, f64::from(x)))
                .collect();
            encode_int(dtype, &i, &mut out);
        }
        Vals::Int(i) if dtype.is_float() => {
            let f: Vec<f32> = i.iter().map(|&x| round_f64(dtype, x as f64)).collect();
            encode_float_exact(dtype, &f, &mut out);
        }
        Vals::Int(i) => encode_int(dtype, i, &mut out),
    }
    out
}

fn len(v: &Vals) -> usize {
    match v {
        Vals::Float(f) => f.len(),
        Vals::Int(i) => i.len(),
    }
}

/// Convert real results to `dtype` with one rounding: floats correctly rounded
/// (ties to even), integers rounded half to even and saturated, bools `x != 0`.
pub(crate) fn from_f64(dtype: DType, v: impl IntoIterator<Item = f64>) -> Vals {
    if dtype.is_float() {
        Vals::Float(v.into_iter().map(|x| round_f64(dtype, x)).collect())
    } else if dtype == DType::Bool {
        Vals::Int(v.into_iter().map(|x| i64::from(x != 0.0)).collect())
    } else {
        Vals::Int(v.into_iter().map(|x| float_to_int(dtype, x)).collect())
    }
}

/// Round an f64 to the nearest value of float `dtype` (ties to even), exactly: round
/// to f32 with round-to-odd first, which keeps enough bits for the second rounding
/// (to f16 / bf16) to be correct. For f32 this is the ordinary conversion.
pub(crate) fn round_f64(dtype: DType, x: f64) -> f32 {
    let f = x as f32;
    match dtype {
        DType::F16 | DType::BF16 => round_f32(dtype, round_to_odd(x, f)),
        _ => f,
    }
}

/// Round an f32 to float `dtype` (ties to even); other dtypes return it unchanged.
pub(crate) fn round_f32(dtype: DType, x: f32) -> f32 {
    match dtype {
        DType::F16 => half::f16::from_f32(x).to_f32(),
        DType::BF16 => half::bf16::from_f32(x).to_f32(),
        _ => x,
    }
}

/// Round-to-odd of `x` given its round-to-nearest f32 `f`.
fn round_to_odd(x: f64, f: f32) -> f32 {
    if x.is_nan() || f64::from(f) == x {
        return f;
    }
    let mut bits = f.to_bits();
    if f.is_infinite() || f64::from(f).abs() > x.abs() {
        // Rounded away from zero (or overflowed): one step back toward zero.
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// Float to integer `dtype`: round half to even, saturate, NaN to 0.
pub(crate) fn float_to_int(dtype: DType, x: f64) -> i64 {
    let (lo, hi) = dtype.int_range().unwrap_or((0, 1));
    if x.is_nan() {
        return 0;
    }
    let r = x.round_ties_even();
    if r <= lo as f64 {
        lo
    } else if r >= hi as f64 {
        hi
    } else {
        r as i64
    }
}

/// Saturate an integer to `dtype`'s range (bool: 0 / 1 as `v != 0`).
pub(crate) fn saturate(dtype: DType, v: i64) -> i64 {
    match dtype.int_range() {
        Some((lo, hi)) => v.clamp(lo, hi),
        None => i64::from(v != 0),
    }
}

/// Wrap an integer to `dtype`'s two's complement width (integer hardware arithmetic).
pub(crate) fn wrap(dtype: DType, v: i64) -> i64 {
    match dtype {
        DType::I4 => v.wrapping_shl(60) >> 60,
        DType::I8 => i64::from(v as i8),
        DType::I32 => i64::from(v as i32),
        DType::Bool => i64::from(v != 0),
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i4_packs_low_nibble_first() {
        let v = Vals::Int(vec![-1, 7, -8, 2, 3]);
        let b = encode(DType::I4, &v);
        assert_eq!(b, vec![0x7f, 0x28, 0x03]);
        assert_eq!(decode(DType::I4, &b, 5), v);
    }

    #[test]
    fn f64_rounding_is_single() {
        // 1 + 2^-11 + 2^-40 is just above the f16 half-way point: rounds up, which a
        // double rounding through f32 (to exactly 1 + 2^-11, then ties-to-even) misses.
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(round_f64(DType::F16, x), 1.0 + 2f32.powi(-10));
        assert_eq!(round_f64(DType::F16, 1.0 + 2f64.powi(-11)), 1.0);
        assert_eq!(float_to_int(DType::I8, 2.5), 2);
        assert_eq!(float_to_int(DType::I8, -300.0), -128);
        assert_eq!(float_to_int(DType::I4, f64::NAN), 0);
    }
}
