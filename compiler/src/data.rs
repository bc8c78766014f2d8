//! Tensor types and tensor contents as the IR stores them.
//!
//! A [`TensorType`] is a static shape plus a dtype. Contents ([`Data`]) are kept in
//! three carriers: `f32` for every float dtype (an f16 or bf16 value is exactly an
//! f32), `i64` for every integer dtype, and `bool`. Weights of large models carry no
//! data, only an [`Init`] recipe (uniform random from a seed), so a 7B-parameter
//! graph is a few megabytes until someone interprets it.

use serde::{Deserialize, Serialize};
use std::fmt;
use triad_isa::DType;

/// The largest tensor a graph may hold, in elements (2^48: a million-token prompt's
/// logits over a 128k vocabulary is 2^37). Every size computed from graph types then
/// fits in a `u64` with room to spare; a larger tensor is a typed error naming its node.
pub const MAX_TENSOR_ELEMS: u64 = 1 << 48;

/// A static tensor type: dtype and shape (row-major, dims in elements).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TensorType {
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
}

impl TensorType {
    /// A tensor type from a dtype and dims.
    pub fn new(dtype: DType, shape: impl Into<Vec<usize>>) -> Self {
        TensorType {
            dtype,
            shape: shape.into(),
        }
    }

    /// Number of elements (saturating at `u64::MAX`; graphs never hold a tensor
    /// above [`MAX_TENSOR_ELEMS`]).
    pub fn elems(&self) -> u64 {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .unwrap_or(u64::MAX)
    }

    /// Storage size in bytes (i4 packed two per byte).
    pub fn bytes(&self) -> u64 {
        self.dtype.bytes_for(self.elems())
    }

    /// Rank (number of dims).
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[", self.dtype)?;
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// Tensor contents, flat in row-major order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Data {
    /// Values of an f32, f16 or bf16 tensor (already representable in that dtype).
    F32(Vec<f32>),
    /// Values of an i4, i8, i32 or i64 tensor (within that dtype's range).
    I64(Vec<i64>),
    /// Values of a bool tensor.
    Bool(Vec<bool>),
}

impl Data {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::Bool(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when this carrier is the one `dtype` uses.
    pub fn fits(&self, dtype: DType) -> bool {
        match self {
            Data::F32(_) => dtype.is_float(),
            Data::I64(_) => dtype.is_int(),
            Data::Bool(_) => dtype == DType::Bool,
        }
    }
}

/// Where the values of a weight or constant come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Init {
    /// Explicit values.
    Data(Data),
    /// Independent uniform draws in `[low, high]` from a ChaCha8 stream seeded with
    /// `seed`: floats uniform then rounded to the dtype, integers uniform over the
    /// integers in the interval, bools true with probability `high` clamped to [0, 1].
    Uniform {
        /// RNG seed.
        seed: u64,
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
}

impl Init {
    /// Materialise `n` values for `dtype`. Float values are rounded to `dtype`.
    /// Explicit data is returned as stored (its length is checked by validation).
    pub fn materialise(&self, dtype: DType, n: usize) -> Data {
        match self {
            Init::Data(d) => d.clone(),
            Init::Uniform { seed, low, high } => {
                // One generator for compiler and simulator: `triad_isa::uniform`.
                match triad_isa::uniform(dtype, n, *seed, *low, *high) {
                    triad_isa::Values::F32(v) => Data::F32(v),
                    triad_isa::Values::I64(v) => Data::I64(v),
                    triad_isa::Values::Bool(v) => Data::Bool(v),
                }
            }
        }
    }
}

/// Round an f32 to the nearest value of a float dtype (round half to even); other
/// dtypes return the value unchanged (the definition shared with the simulator).
pub use triad_isa::round_to;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_deterministic_and_in_range() {
        let init = Init::Uniform {
            seed: 7,
            low: -0.5,
            high: 0.5,
        };
        let a = init.materialise(DType::F16, 100);
        assert_eq!(a, init.materialise(DType::F16, 100));
        let Data::F32(v) = a else {
            panic!("float data")
        };
        assert!(v.iter().all(|x| (-0.5..=0.5).contains(x)));
        assert!(v.iter().all(|&x| round_to(DType::F16, x) == x));
        let Data::I64(q) = (Init::Uniform {
            seed: 1,
            low: -100.0,
            high: 100.0,
        })
        .materialise(DType::I4, 50) else {
            panic!("int data")
        };
        assert!(q.iter().all(|x| (-8..=7).contains(x)));
    }

    #[test]
    fn rounding() {
        // 1 + 2^-11 is exactly half-way between two f16 values: ties to even (1.0).
        assert_eq!(round_to(DType::F16, 1.0 + 2f32.powi(-11)), 1.0);
        // bf16 keeps 8 bits of mantissa: 1 + 2^-8 rounds to 1.0, 1 + 2^-7 stays.
        assert_eq!(round_to(DType::BF16, 1.0 + 2f32.powi(-8)), 1.0);
        assert_eq!(
            round_to(DType::BF16, 1.0 + 2f32.powi(-7)),
            1.0 + 2f32.powi(-7)
        );
        assert_eq!(round_to(DType::F32, 0.1), 0.1);
    }
}
