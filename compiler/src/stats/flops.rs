//! FLOP counts per op kind: the arithmetic of each op's defining formula.
//!
//! The rule: one FLOP per arithmetic operation (add, subtract, multiply, divide,
//! compare, select, convert, round) on one element, a multiply-add is 2 FLOPs, and
//! each evaluation of an elementary function (exp, log, erf, tanh, sqrt, reciprocal,
//! rsqrt, sin, cos, pow) counts [`SPECIAL_FN_FLOPS`]. Composite ops count the steps of
//! the formula their doc comment gives, e.g. softmax is max, subtract, exp, sum and
//! divide: 4 + 1 special = 5 per element. Pure data movement (layout ops, gather,
//! KV append, MoE dispatch) and source ops are 0 FLOPs. Constants whose count depends
//! on the op's attributes are written next to the op below.

use crate::data::TensorType;
use crate::op::{Op, ReduceKind};

/// FLOPs charged for one evaluation of an elementary function (exp, log, erf, tanh,
/// sqrt, reciprocal, rsqrt, sin, cos, pow). A convention: hardware with a special
/// function unit does one per cycle; a polynomial software version costs 10-20.
pub const SPECIAL_FN_FLOPS: u64 = 1;

/// Per-element cost of an op as (arithmetic operations, elementary functions).
const fn per_elem(arith: u64, special: u64) -> u64 {
    arith + special * SPECIAL_FN_FLOPS
}

/// Softmax per element: max, subtract, exp, sum, divide.
pub const SOFTMAX_PER_ELEM: u64 = per_elem(4, 1);
/// Sigmoid `1 / (1 + e^-x)` per element: negate, add; exp, reciprocal.
pub const SIGMOID_PER_ELEM: u64 = per_elem(2, 2);
/// SiLU `x * sigmoid(x)` per element.
pub const SILU_PER_ELEM: u64 = SIGMOID_PER_ELEM + 1;
/// Exact GELU `x/2 (1 + erf(x / sqrt 2))` per element: 4 arithmetic + erf.
pub const GELU_ERF_PER_ELEM: u64 = per_elem(4, 1);
/// Tanh GELU `0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))` per element: x^3 (2),
/// scale (1), add x (1), scale (1), add 1 (1), times x (1), times 0.5 (1); tanh.
pub const GELU_TANH_PER_ELEM: u64 = per_elem(8, 1);
/// LayerNorm per element: sum, subtract mean, square, sum of squares, times rstd,
/// times gamma (6), plus 1 with beta. Per row on top: [`NORM_PER_ROW`] + 1 divide.
pub const LAYERNORM_PER_ELEM: u64 = 6;
/// RMSNorm per element: square, sum, times rstd, times gamma.
pub const RMSNORM_PER_ELEM: u64 = 4;
/// Per normalised row of a norm: divide by the row length, add eps; rsqrt.
pub const NORM_PER_ROW: u64 = per_elem(2, 1);
/// RoPE per rotated element: `x1 cos - x2 sin` is 3 operations per output element.
pub const ROPE_PER_ELEM: u64 = 3;
/// RoPE table per (position, frequency) pair: position times frequency; cos, sin.
pub const ROPE_TABLE_PER_PAIR: u64 = per_elem(1, 2);
/// Quantize per element: divide by scale, round, clamp (min and max); +1 with a zero point.
pub const QUANTIZE_PER_ELEM: u64 = 4;

fn elems(t: &TensorType) -> u64 {
    t.elems()
}

fn dim(t: &TensorType, from_end: usize) -> u64 {
    t.shape
        .len()
        .checked_sub(from_end)
        .and_then(|i| t.shape.get(i))
        .map_or(1, |&d| d as u64)
}

/// FLOPs of one application of `op` to operands of types `ins` producing `outs`.
///
/// The types are the ones shape inference produced, so ranks and arities are the
/// op's own; a missing operand or result (only possible for an invalid graph)
/// counts as an empty tensor rather than panicking. Every tensor holds at most
/// [`crate::MAX_TENSOR_ELEMS`] elements, so per-element terms cannot overflow;
/// products of two sizes (matmul's n x k) saturate at `u64::MAX`.
pub(crate) fn op_flops(op: &Op, ins: &[&TensorType], outs: &[&TensorType]) -> u64 {
    let empty = TensorType::new(triad_isa::DType::F32, [0usize]);
    let input = |i: usize| ins.get(i).copied().unwrap_or(&empty);
    let out = outs.first().copied().unwrap_or(&empty);
    let n = elems(out);
    match op {
        Op::Input { .. } | Op::Weight { .. } | Op::Constant { .. } => 0,
        // Batched (M x K) x (K x N): one multiply-add per output element and k.
        Op::MatMul => n.saturating_mul(dim(input(0), 1)).saturating_mul(2),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            ..
        } => {
            let k = if *trans_a {
                dim(input(0), 2)
            } else {
                dim(input(0), 1)
            };
            let scale = if *alpha == 1.0 { 0 } else { n };
            let bias = match ins.len() {
                3 if *beta == 1.0 => n,
                3 => 2 * n,
                _ => 0,
            };
            n.saturating_mul(k).saturating_mul(2) + scale + bias
        }
        // A x W with the scale applied to the accumulator (one multiply per output);
        // with a zero point, A x (W - z) = A x W - rowsum(A) z: a row sum over K
        // plus a multiply and a subtract per output.
        Op::QMatMul => {
            let k = dim(input(0), 1);
            let base = n.saturating_mul(k).saturating_mul(2).saturating_add(n);
            if ins.len() == 4 {
                let rows = elems(input(0)) / k.max(1);
                base.saturating_add(rows * k + 2 * n)
            } else {
                base
            }
        }
        Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Max
        | Op::Min
        | Op::Equal
        | Op::Less
        | Op::Greater
        | Op::And
        | Op::Or
        | Op::Not
        | Op::Neg
        | Op::Abs
        | Op::Relu
        | Op::Where
        | Op::Cast { .. }
        | Op::CausalMask => n,
        Op::Pow | Op::Sqrt | Op::Reciprocal | Op::Exp | Op::Log | Op::Erf | Op::Tanh => {
            n * SPECIAL_FN_FLOPS
        }
        Op::Sigmoid => n * SIGMOID_PER_ELEM,
        Op::Silu => n * SILU_PER_ELEM,
        Op::Gelu { tanh_approx } => {
            n * if *tanh_approx {
                GELU_TANH_PER_ELEM
            } else {
                GELU_ERF_PER_ELEM
            }
        }
        Op::Softmax { .. } => n * SOFTMAX_PER_ELEM,
        Op::LayerNorm { axis, .. } | Op::RmsNorm { axis, .. } => {
            let x = input(0);
            let a = crate::infer::norm_axis(*axis, x.rank()).unwrap_or(0);
            let row: u64 = x.shape[a.min(x.rank())..]
                .iter()
                .map(|&d| d as u64)
                .product();
            let rows = n / row.max(1);
            if matches!(op, Op::LayerNorm { .. }) {
                let beta = u64::from(ins.len() == 3);
                // One extra divide per row: the mean and the variance both divide.
                n * (LAYERNORM_PER_ELEM + beta) + rows * (NORM_PER_ROW + 1)
            } else {
                n * RMSNORM_PER_ELEM + rows * NORM_PER_ROW
            }
        }
        Op::Rope { rotary_dim, .. } => {
            let x = input(0);
            let d = dim(x, 1);
            let r = if *rotary_dim == 0 {
                d
            } else {
                *rotary_dim as u64
            };
            let rotated = n / d.max(1) * r;
            let positions = dim(x, 2);
            (rotated * ROPE_PER_ELEM).saturating_add(
                positions
                    .saturating_mul(r / 2)
                    .saturating_mul(ROPE_TABLE_PER_PAIR),
            )
        }
        Op::Reduce { kind, .. } => {
            let mean = if *kind == ReduceKind::Mean { n } else { 0 };
            elems(input(0)) + mean
        }
        Op::Quantize { .. } => n * (QUANTIZE_PER_ELEM + u64::from(ins.len() == 3)),
        Op::Dequantize { .. } => n * (1 + u64::from(ins.len() == 3)),
        // Heap selection: about log2(k) comparisons per input element, at least one.
        Op::TopK { k, .. } => {
            let per = (*k as u64).next_power_of_two().trailing_zeros().max(1) as u64;
            elems(input(0)) * per
        }
        // One multiply-add per token, choice and hidden feature.
        Op::MoeCombine { .. } => elems(input(0))
            .saturating_mul(dim(out, 1))
            .saturating_mul(2),
        Op::MoeDispatch { .. }
        | Op::KvAppend { .. }
        | Op::Transpose { .. }
        | Op::Reshape { .. }
        | Op::Concat { .. }
        | Op::Split { .. }
        | Op::Slice { .. }
        | Op::Gather { .. } => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triad_isa::DType;

    fn t(s: &[usize]) -> TensorType {
        TensorType::new(DType::F32, s.to_vec())
    }

    #[test]
    fn topk_comparisons() {
        // k = 1: one pass of comparisons; k = 2: 1; k = 3, 4: 2; k = 8: 3.
        for (k, per) in [(1, 1), (2, 1), (3, 2), (4, 2), (8, 3)] {
            let x = t(&[2, 8]);
            let f = op_flops(&Op::TopK { k, axis: -1 }, &[&x], &[&t(&[2, k])]);
            assert_eq!(f, 16 * per, "k = {k}");
        }
    }

    #[test]
    fn gemm_epilogue() {
        let (a, b, c, o) = (t(&[3, 4]), t(&[4, 5]), t(&[5]), t(&[3, 5]));
        let g = |alpha: f32, beta: f32| Op::Gemm {
            alpha,
            beta,
            trans_a: false,
            trans_b: false,
        };
        assert_eq!(op_flops(&g(1.0, 1.0), &[&a, &b], &[&o]), 2 * 3 * 4 * 5);
        assert_eq!(op_flops(&g(2.0, 1.0), &[&a, &b, &c], &[&o]), 120 + 15 + 15);
        assert_eq!(op_flops(&g(1.0, 0.5), &[&a, &b, &c], &[&o]), 120 + 30);
    }
}
