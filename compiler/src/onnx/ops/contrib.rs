//! ONNX Runtime contrib ops (`com.microsoft`) that optimised transformer exports use.
//!
//! - `FastGelu(x[, bias])`: tanh-approximated GELU of `x + bias`.
//! - `Gelu(x)`, `BiasGelu(x, bias)`: exact GELU (of `x + bias`).
//! - `QuickGelu(x)`: `x * sigmoid(alpha * x)` (alpha default 1.702).
//! - `SkipLayerNormalization(x, skip, gamma[, beta[, bias]])` and
//!   `SkipSimplifiedLayerNormalization(x, skip, gamma[, bias])`: `s = x + skip (+ bias)`,
//!   output 0 = LayerNorm/RmsNorm(s), output 3 = s; outputs 1-2 (mean, inverse
//!   std-dev) are not provided.
//! - `SimplifiedLayerNormalization` is mapped with the standard norms (`nn`),
//!   `MatMulNBits` with the quantisation ops (`quant`).

use super::NodeIn;
use crate::error::Result;
use crate::onnx::fold::{Builder, Val};
use crate::op::Op;

/// `x + bias` when input 1 is given.
fn with_bias(b: &mut Builder, n: &NodeIn) -> Result<Val> {
    let x = n.input(0)?;
    match n.opt(1) {
        None => Ok(x),
        Some(bias) => {
            let t = b.tmp(&n.name, "biased");
            b.emit1(&n.name, &t, Op::Add, &[x, bias])
        }
    }
}

/// `FastGelu`.
pub(super) fn fast_gelu(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = with_bias(b, n)?;
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Gelu { tanh_approx: true },
        &[x],
    )?])
}

/// `Gelu` / `BiasGelu`.
pub(super) fn gelu(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = with_bias(b, n)?;
    Ok(vec![b.emit1(
        &n.name,
        &n.out(0),
        Op::Gelu { tanh_approx: false },
        &[x],
    )?])
}

/// `QuickGelu`.
pub(super) fn quick_gelu(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    let alpha = n.attrs().float_or("alpha", 1.702)?;
    let dtype = b.ty(&x).dtype;
    let a = b.scalar_f32(&n.name, alpha);
    let a = if dtype == triad_isa::DType::F32 {
        a
    } else {
        let t = b.tmp(&n.name, "alpha");
        b.emit1(&n.name, &t, Op::Cast { to: dtype }, &[a])?
    };
    let t = b.tmp(&n.name, "ax");
    let ax = b.emit1(&n.name, &t, Op::Mul, &[x.clone(), a])?;
    let t = b.tmp(&n.name, "sigmoid");
    let s = b.emit1(&n.name, &t, Op::Sigmoid, &[ax])?;
    Ok(vec![b.emit1(&n.name, &n.out(0), Op::Mul, &[x, s])?])
}

/// `SkipLayerNormalization` / `SkipSimplifiedLayerNormalization`.
pub(super) fn skip_norm(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let simplified = n.op() == "SkipSimplifiedLayerNormalization";
    let eps = n.attrs().float_or("epsilon", 1e-12)?;
    let (x, skip, gamma) = (n.input(0)?, n.input(1)?, n.input(2)?);
    let (beta, bias) = if simplified {
        (None, n.opt(3))
    } else {
        (n.opt(3), n.opt(4))
    };
    let wants_sum = n.proto.output.get(3).is_some_and(|o| !o.is_empty());
    let sum_name = if wants_sum && bias.is_none() {
        n.out(3)
    } else {
        b.tmp(&n.name, "sum")
    };
    let mut s = b.emit1(&n.name, &sum_name, Op::Add, &[x, skip])?;
    if let Some(bias) = bias {
        let t = if wants_sum {
            n.out(3)
        } else {
            b.tmp(&n.name, "sum_bias")
        };
        s = b.emit1(&n.name, &t, Op::Add, &[s, bias])?;
    }
    let mut ins = vec![s.clone(), gamma];
    ins.extend(beta);
    let ins = super::nn::fit_params(b, n, ins, -1)?;
    let op = if simplified {
        Op::RmsNorm { axis: -1, eps }
    } else {
        Op::LayerNorm { axis: -1, eps }
    };
    let y = b.emit1(&n.name, &n.out(0), op, &ins)?;
    // Outputs 1 and 2 (mean, inverse std-dev) are not provided; output 3 is the sum.
    let missing = |i: usize| n.proto.output.get(i).is_some_and(|o| !o.is_empty());
    if missing(1) || missing(2) {
        return Err(n.err("the mean / inverse std-dev outputs are not supported"));
    }
    Ok(vec![y.clone(), y.clone(), y, s])
}
