//! Weight formats: how the linear layers store their weights and compute.
//!
//! | name | linear weights | activations | linear op |
//! | --- | --- | --- | --- |
//! | `f32` | f32 | f32 | `MatMul` (reference, for exact interpreter tests) |
//! | `f16` | f16 | f16 | `MatMul` |
//! | `bf16` | bf16 | bf16 | `MatMul` |
//! | `w8a16` | i8 + f32 per-output-channel scale | f16 | `QMatMul` |
//! | `w4a16` | i4 + f32 per-output-channel scale | f16 | `QMatMul` |
//! | `w8a8` | i8 | i8 into the matmul, f16 elsewhere | `Quantize` (per-tensor), `MatMul` i8 x i8 -> i32, `Dequantize` (per channel) |
//!
//! Embedding tables, norms, softmax, the attention score/value products, the MoE
//! router and a tied LM head (which reads the embedding table) stay in the float
//! activation dtype in every format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use triad_compiler::DType;

use crate::error::{Error, Result};

/// Storage and compute format of the linear layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    /// f32 weights and activations (reference format for interpreter tests).
    F32,
    /// f16 weights and activations.
    F16,
    /// bf16 weights and activations.
    Bf16,
    /// i8 weights, activations quantised to i8 per tensor before each linear layer.
    W8A8,
    /// i8 weight-only quantisation, f16 activations.
    W8A16,
    /// i4 weight-only quantisation, f16 activations.
    W4A16,
}

impl WeightFormat {
    /// Every format, in declaration order.
    pub const ALL: [WeightFormat; 6] = [
        WeightFormat::F32,
        WeightFormat::F16,
        WeightFormat::Bf16,
        WeightFormat::W8A8,
        WeightFormat::W8A16,
        WeightFormat::W4A16,
    ];

    /// The lower-case name users type.
    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::F16 => "f16",
            WeightFormat::Bf16 => "bf16",
            WeightFormat::W8A8 => "w8a8",
            WeightFormat::W8A16 => "w8a16",
            WeightFormat::W4A16 => "w4a16",
        }
    }

    /// Float dtype of activations, norms, embeddings and the KV cache.
    pub fn act_dtype(self) -> DType {
        match self {
            WeightFormat::F32 => DType::F32,
            WeightFormat::Bf16 => DType::BF16,
            WeightFormat::F16 | WeightFormat::W8A8 | WeightFormat::W8A16 | WeightFormat::W4A16 => {
                DType::F16
            }
        }
    }

    /// Dtype of the linear layers' weight matrices.
    pub fn weight_dtype(self) -> DType {
        match self {
            WeightFormat::W8A8 | WeightFormat::W8A16 => DType::I8,
            WeightFormat::W4A16 => DType::I4,
            other => other.act_dtype(),
        }
    }

    /// True when linear weights are integers with per-channel scales.
    pub fn is_quantised(self) -> bool {
        self.weight_dtype().is_int()
    }
}

impl fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WeightFormat {
    type Err = Error;

    /// Parse `f32`, `f16`, `bf16`, `w8a8`, `w8a16` or `w4a16` (case-insensitive).
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        WeightFormat::ALL
            .into_iter()
            .find(|w| w.name() == lower)
            .ok_or_else(|| Error::WeightFormat(s.to_string()))
    }
}
