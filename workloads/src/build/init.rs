//! Initialisation recipes of the generated weights: ranges and seed derivation.
//!
//! Weights carry no data, only an `Init::Uniform { seed, low, high }`; the ranges keep
//! activations of order one through any depth of the tiny models, so interpreting
//! them in f16 or bf16 neither overflows nor underflows. Seeds are a pure function
//! of (build seed, tensor name): the same options give the identical graph.

use triad_compiler::DType;

/// Token, position and type embeddings: uniform in `[-EMBED_RANGE, EMBED_RANGE]`.
pub const EMBED_RANGE: f64 = 0.5;
/// Norm gammas: uniform in `[GAMMA_LOW, GAMMA_HIGH]` (around 1).
pub const GAMMA_LOW: f64 = 0.8;
/// Upper bound of norm gammas.
pub const GAMMA_HIGH: f64 = 1.2;
/// Norm betas and linear biases: uniform in `[-BIAS_RANGE, BIAS_RANGE]`.
pub const BIAS_RANGE: f64 = 0.05;
/// Quantisation scales: uniform in `[SCALE_LOW, SCALE_HIGH] / (qmax * sqrt(fan_in))`,
/// so a dequantised weight spans about `±1/sqrt(fan_in)` like a float one.
pub const SCALE_LOW: f64 = 0.5;
/// Upper factor of quantisation scales.
pub const SCALE_HIGH: f64 = 1.5;
/// W8A8: activations are quantised per tensor with scale `W8A8_ACT_CLIP / 127`
/// (values beyond ±`W8A8_ACT_CLIP` saturate).
pub const W8A8_ACT_CLIP: f32 = 8.0;
/// Score of a masked-out key in the verify tree mask: the most negative finite f16,
/// so it survives every activation dtype and softmax gives the key weight 0.
pub const MASK_FILL: f32 = -65504.0;

/// Float linear weights: uniform in `±1/sqrt(fan_in)`.
pub fn linear_range(fan_in: usize) -> (f64, f64) {
    let r = 1.0 / (fan_in as f64).sqrt();
    (-r, r)
}

/// Integer linear weights: the dtype's whole range.
pub fn int_range(dtype: DType) -> (f64, f64) {
    let (lo, hi) = dtype.int_range().unwrap_or((-127, 127));
    (lo as f64, hi as f64)
}

/// Per-output-channel scales of `dtype` weights with `fan_in` inputs, times `extra`
/// (the activation scale for W8A8, 1 otherwise).
pub fn scale_range(dtype: DType, fan_in: usize, extra: f64) -> (f64, f64) {
    let qmax = dtype.int_range().map_or(127, |(_, hi)| hi) as f64;
    let unit = extra / (qmax * (fan_in as f64).sqrt());
    (SCALE_LOW * unit, SCALE_HIGH * unit)
}

/// The seed of tensor `name` under build seed `seed`: FNV-1a of the name mixed with
/// the seed by SplitMix64 (stable across platforms and runs).
pub fn derive_seed(seed: u64, name: &str) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let h = name.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    });
    let mut z = (seed ^ h).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_by_name_and_seed() {
        assert_eq!(derive_seed(1, "a.weight"), derive_seed(1, "a.weight"));
        assert_ne!(derive_seed(1, "a.weight"), derive_seed(1, "b.weight"));
        assert_ne!(derive_seed(1, "a.weight"), derive_seed(2, "a.weight"));
    }

    #[test]
    fn scales_match_fan_in() {
        // i8, fan-in 64: unit = 1 / (127 * 8).
        let (lo, hi) = scale_range(DType::I8, 64, 1.0);
        assert!((lo - 0.5 / 1016.0).abs() < 1e-12 && (hi - 1.5 / 1016.0).abs() < 1e-12);
        assert_eq!(int_range(DType::I4), (-8.0, 7.0));
    }
}
