//! Element types shared by the graph IR, the machine description and the ISA.
//!
//! The set is the one on-device inference uses: IEEE floats (f32, f16), bfloat16,
//! signed integers (i4, i8, i32, i64) and bool. `i4` is packed two to a byte in
//! memory, so sizes are counted in bits.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE-754 binary32.
    F32,
    /// IEEE-754 binary16.
    F16,
    /// bfloat16 (8-bit exponent, 7-bit mantissa).
    BF16,
    /// 8-bit two's complement integer.
    I8,
    /// 4-bit two's complement integer, packed two per byte.
    I4,
    /// 32-bit two's complement integer.
    I32,
    /// 64-bit two's complement integer.
    I64,
    /// Boolean, one byte per element.
    Bool,
}

impl DType {
    /// Every element type, in declaration order.
    pub const ALL: [DType; 8] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::I8,
        DType::I4,
        DType::I32,
        DType::I64,
        DType::Bool,
    ];

    /// Storage size of one element in bits.
    pub fn bits(self) -> u64 {
        match self {
            DType::F32 | DType::I32 => 32,
            DType::F16 | DType::BF16 => 16,
            DType::I8 | DType::Bool => 8,
            DType::I4 => 4,
            DType::I64 => 64,
        }
    }

    /// Bytes needed to store `elems` elements (i4 rounds up to whole bytes;
    /// saturates at `u64::MAX`).
    pub fn bytes_for(self, elems: u64) -> u64 {
        elems.saturating_mul(self.bits()).div_ceil(8)
    }

    /// True for f32, f16 and bf16.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }

    /// True for the signed integer types.
    pub fn is_int(self) -> bool {
        matches!(self, DType::I4 | DType::I8 | DType::I32 | DType::I64)
    }

    /// The lower-case name used in every text format (`f16`, `i8`, …).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I8 => "i8",
            DType::I4 => "i4",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }

    /// Inclusive value range of an integer type, `None` for floats and bool.
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            DType::I4 => Some((-8, 7)),
            DType::I8 => Some((i8::MIN as i64, i8::MAX as i64)),
            DType::I32 => Some((i32::MIN as i64, i32::MAX as i64)),
            DType::I64 => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text was not the name of an element type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown dtype `{0}` (expected one of f32, f16, bf16, i8, i4, i32, i64, bool)")]
pub struct UnknownDType(pub String);

impl FromStr for DType {
    type Err = UnknownDType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDType(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(d.name().parse::<DType>().unwrap(), d);
        }
        assert!("f64".parse::<DType>().is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(DType::I4.bytes_for(3), 2);
        assert_eq!(DType::F16.bytes_for(3), 6);
        assert_eq!(DType::I64.bytes_for(1), 8);
    }
}
