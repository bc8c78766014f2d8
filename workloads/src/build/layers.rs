//! Building blocks shared by every generator: linear layers in each weight format,
//! norms and activations.

use triad_compiler::{DType, Op, ValueRef};

use super::Builder;
use super::init;
use crate::config::{Activation, Norm};
use crate::error::Result;
use crate::format::WeightFormat;

impl Builder<'_> {
    /// `x [..., k] -> [..., n]` in the options' weight format; weights `{name}.weight`
    /// (`[k, n]`), `{name}.scale`, `{name}.bias`; the result node is named `name`.
    pub fn linear(
        &mut self,
        name: &str,
        x: ValueRef,
        dims: (usize, usize),
        bias: bool,
    ) -> Result<ValueRef> {
        self.linear_to(name, name, x, dims, bias)
    }

    /// [`Builder::linear`] with the result node named `out`.
    pub fn linear_to(
        &mut self,
        name: &str,
        out: &str,
        x: ValueRef,
        (k, n): (usize, usize),
        bias: bool,
    ) -> Result<ValueRef> {
        let format = self.opts.weights;
        let wdt = format.weight_dtype();
        let product = if bias {
            format!("{name}.mm")
        } else {
            out.to_string()
        };
        let y = match format {
            WeightFormat::F32 | WeightFormat::F16 | WeightFormat::Bf16 => {
                let w = self.weight(
                    &format!("{name}.weight"),
                    wdt,
                    &[k, n],
                    init::linear_range(k),
                )?;
                self.op(&product, Op::MatMul, &[x, w])?
            }
            WeightFormat::W8A16 | WeightFormat::W4A16 => {
                let w = self.weight(
                    &format!("{name}.weight"),
                    wdt,
                    &[k, n],
                    init::int_range(wdt),
                )?;
                let s = self.weight(
                    &format!("{name}.scale"),
                    DType::F32,
                    &[n],
                    init::scale_range(wdt, k, 1.0),
                )?;
                self.op(&product, Op::QMatMul, &[x, w, s])?
            }
            WeightFormat::W8A8 => {
                let a_scale = init::W8A8_ACT_CLIP / 127.0;
                let a = self.constant(
                    &format!("{name}.act_scale"),
                    DType::F32,
                    &[],
                    triad_compiler::Data::F32(vec![a_scale]),
                )?;
                let xq = self.op(
                    &format!("{name}.quant"),
                    Op::Quantize {
                        to: DType::I8,
                        axis: -1,
                    },
                    &[x, a],
                )?;
                let w = self.weight(
                    &format!("{name}.weight"),
                    wdt,
                    &[k, n],
                    init::int_range(wdt),
                )?;
                let acc = self.op(&format!("{name}.mm"), Op::MatMul, &[xq, w])?;
                let dq = if bias {
                    format!("{name}.dequant")
                } else {
                    out.to_string()
                };
                let s = self.weight(
                    &format!("{name}.scale"),
                    DType::F32,
                    &[n],
                    init::scale_range(wdt, k, f64::from(a_scale)),
                )?;
                self.op(
                    &dq,
                    Op::Dequantize {
                        to: self.act,
                        axis: -1,
                    },
                    &[acc, s],
                )?
            }
        };
        if !bias {
            return Ok(y);
        }
        let r = init::BIAS_RANGE;
        let b = self.weight(&format!("{name}.bias"), self.act, &[n], (-r, r))?;
        self.op(out, Op::Add, &[y, b])
    }

    /// The model's norm over the last axis; weights `{name}.gamma` (and `.beta`).
    pub fn norm(&mut self, name: &str, x: ValueRef, width: usize) -> Result<ValueRef> {
        let eps = self.cfg.norm_eps;
        let gamma = self.weight(
            &format!("{name}.gamma"),
            self.act,
            &[width],
            (init::GAMMA_LOW, init::GAMMA_HIGH),
        )?;
        match self.cfg.norm {
            Norm::LayerNorm => {
                let r = init::BIAS_RANGE;
                let beta = self.weight(&format!("{name}.beta"), self.act, &[width], (-r, r))?;
                self.op(name, Op::LayerNorm { axis: -1, eps }, &[x, gamma, beta])
            }
            Norm::RmsNorm => self.op(name, Op::RmsNorm { axis: -1, eps }, &[x, gamma]),
        }
    }

    /// The model's FFN non-linearity.
    pub fn activation(&mut self, name: &str, x: ValueRef) -> Result<ValueRef> {
        let op = match self.cfg.activation {
            Activation::Gelu => Op::Gelu { tanh_approx: false },
            Activation::GeluTanh => Op::Gelu { tanh_approx: true },
            Activation::Relu => Op::Relu,
            Activation::Silu => Op::Silu,
        };
        self.op(name, op, &[x])
    }
}
