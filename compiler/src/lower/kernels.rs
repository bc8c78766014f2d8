//! Op semantics as instructions on DRAM operands: every IR op (except `Reshape`,
//! which is a buffer alias, and the sources) becomes a list of [`Kernel`]s following
//! isa/README.md's table "Lowering the graph IR". The CPU runs them as they are; the
//! NPU stages each through its scratchpad (`npu.rs`), splitting [`Kernel::Rows`]
//! at row boundaries to fit.
//!
//! Broadcasting: an element-wise operand whose shape equals the result is read
//! whole; a scalar, a last-dim row vector or a last-dim-1 column is read with the
//! `scalar` / `row` / `col` mode; anything else is first materialised to the
//! result's shape with a stride-0 `scopy` into a temporary.
//!
//! Fails with [`Error::Lower`] for what the ISA has no form for: softmax / top-k
//! on a non-last axis, negative slice steps, a row or column count beyond `u32`.

use triad_isa::{
    ActFn, Bcast, BinOp, BufId, Bytes, CausalMask, Cmp, CmpOp, Convert, DType, Dequantize, Eltwise,
    Gather, Instruction, LayerNorm, MathFn, MoeCombine, MoeDispatch, QGemm, Quantize, Reduce,
    ReduceOp, RmsNorm, Rope, Select, Slice, Softmax, StridedCopy, TopK, Unary, Values,
};

use super::Lowerer;
use super::layout::{Copy4, broadcast_strides, fold, numel, rows_cols, strides};
use crate::error::Result;
use crate::graph::Node;
use crate::infer::{norm_axis, slice_ranges};
use crate::op::{Op, ReduceKind};

/// A DRAM tensor: its buffer, dtype and shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    /// The buffer.
    pub buf: BufId,
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
}

impl Place {
    /// The slice `elems` elements into the buffer.
    pub fn at(&self, elems: u64) -> Slice {
        Slice {
            buf: self.buf,
            offset: Bytes(self.dtype.bytes_for(elems)),
        }
    }

    /// Elements.
    pub fn numel(&self) -> u64 {
        numel(&self.shape)
    }
}

/// Builds one row range `(first row, rows)` of a row-wise instruction.
pub type RowBuild = Box<dyn Fn(u32, u32) -> Instruction>;

/// One matrix product `out[m×n] = scale · a[m×k] · b[k×n]` on dense row-major tiles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatMul {
    /// Result.
    pub out: Slice,
    /// Left operand.
    pub a: Slice,
    /// Right operand.
    pub b: Slice,
    /// Rows of a.
    pub m: u32,
    /// Columns of b.
    pub n: u32,
    /// Reduction length.
    pub k: u32,
    /// Operand type.
    pub dtype: DType,
    /// Result type.
    pub out_dtype: DType,
    /// Factor of the product.
    pub scale: f32,
}

/// A unit of lowered work on DRAM operands.
pub enum Kernel {
    /// One instruction that is not split.
    Fixed(Instruction),
    /// A row-wise instruction over `rows` rows, splittable at multiples of `group`.
    Rows {
        /// Rows in all.
        rows: u32,
        /// Split granularity (the sequence length of `rope` / `causal_mask`).
        group: u32,
        /// The instruction for a row range.
        build: RowBuild,
    },
    /// A matrix product (the NPU tiles it).
    Gemm(MatMul),
}

impl Kernel {
    /// The kernel as instructions on its DRAM operands, unsplit.
    pub fn whole(&self) -> Instruction {
        match self {
            Kernel::Fixed(i) => i.clone(),
            Kernel::Rows { rows, build, .. } => build(0, *rows),
            Kernel::Gemm(g) => g.insn(),
        }
    }
}

impl MatMul {
    /// The `gemm` instruction.
    pub fn insn(&self) -> Instruction {
        triad_isa::Gemm {
            out: self.out,
            a: self.a,
            b: self.b,
            m: self.m,
            n: self.n,
            k: self.k,
            dtype: self.dtype,
            out_dtype: self.out_dtype,
            accumulate: false,
            scale: self.scale,
        }
        .into()
    }
}

fn off(s: Slice, dtype: DType, elems: u64) -> Slice {
    Slice {
        buf: s.buf,
        offset: Bytes(s.offset.0 + dtype.bytes_for(elems)),
    }
}

/// A slice that advances `per_row` elements per row when `rowwise`, else stays.
fn rowed(s: Slice, dtype: DType, per_row: u64, r0: u32) -> Slice {
    off(s, dtype, per_row * u64::from(r0))
}

/// An operand read in a broadcast mode: where it starts and how it is read.
#[derive(Clone, Copy, Debug)]
struct Operand {
    slice: Slice,
    dtype: DType,
    mode: Bcast,
}

impl Operand {
    /// The operand's slice for rows starting at `r0` of a `cols`-wide tile.
    fn rows(&self, r0: u32, cols: u64) -> Slice {
        match self.mode {
            Bcast::None => rowed(self.slice, self.dtype, cols, r0),
            Bcast::Col => rowed(self.slice, self.dtype, 1, r0),
            Bcast::Row | Bcast::Scalar => self.slice,
        }
    }
}

/// `scopy` kernels for a strided copy of `dims` from `src` to `dst`.
pub fn copy_kernels(
    src: Slice,
    dst: Slice,
    dtype: DType,
    dims: &[usize],
    src_strides: &[u64],
    dst_strides: &[u64],
) -> Vec<Kernel> {
    fold(dims, src_strides, dst_strides)
        .into_iter()
        .map(|c: Copy4| {
            Kernel::Fixed(
                StridedCopy {
                    out: off(dst, dtype, c.dst_off),
                    x: off(src, dtype, c.src_off),
                    dims: c.dims,
                    src_strides: c.src,
                    dst_strides: c.dst,
                    dtype,
                }
                .into(),
            )
        })
        .collect()
}

impl Lowerer<'_> {
    /// `n` as a `u32` count, or [`crate::Error::Lower`].
    pub(super) fn u32(&self, n: u64, what: &str) -> Result<u32> {
        u32::try_from(n)
            .map_err(|_| self.err(format!("{what} = {n} exceeds the ISA's 32-bit counts")))
    }

    /// How `x` is read as an operand of a result of shape `out`, materialising it
    /// to `out`'s shape (kernels pushed to `pre`) when no mode fits.
    fn operand(&mut self, x: &Place, out: &[usize], pre: &mut Vec<Kernel>) -> Result<Operand> {
        let (rows, cols) = rows_cols(out);
        let mode = if x.shape == out {
            Some(Bcast::None)
        } else if x.numel() == 1 {
            Some(Bcast::Scalar)
        } else if x.numel() == cols && x.shape.last().copied() == out.last().copied() {
            Some(Bcast::Row)
        } else if x.numel() == rows
            && x.shape.last() == Some(&1)
            && x.shape.len() == out.len()
            && x.shape[..x.shape.len() - 1] == out[..out.len() - 1]
        {
            Some(Bcast::Col)
        } else {
            None
        };
        if let Some(mode) = mode {
            return Ok(Operand {
                slice: x.at(0),
                dtype: x.dtype,
                mode,
            });
        }
        self.materialised(x, out, pre)
    }

    /// `x` broadcast into a temporary of shape `out` by a strided copy (mode `none`).
    fn materialised(&mut self, x: &Place, out: &[usize], pre: &mut Vec<Kernel>) -> Result<Operand> {
        let t = self.temp(x.dtype, out)?;
        pre.extend(copy_kernels(
            x.at(0),
            t.at(0),
            x.dtype,
            out,
            &broadcast_strides(&x.shape, out),
            &strides(out),
        ));
        Ok(Operand {
            slice: t.at(0),
            dtype: x.dtype,
            mode: Bcast::None,
        })
    }

    /// The operand as a whole (mode `none`) tile of shape `out`.
    fn whole(&mut self, x: &Place, out: &[usize], pre: &mut Vec<Kernel>) -> Result<Operand> {
        let o = self.operand(x, out, pre)?;
        if matches!(o.mode, Bcast::None) {
            return Ok(o);
        }
        self.materialised(x, out, pre)
    }

    fn binary(
        &mut self,
        op: BinOp,
        ins: &[Place],
        out: &Place,
        commutative: bool,
    ) -> Result<Vec<Kernel>> {
        let mut k = Vec::new();
        let (mut a, mut b) = (&ins[0], &ins[1]);
        if a.shape != out.shape && b.shape == out.shape && commutative {
            std::mem::swap(&mut a, &mut b);
        }
        let a = self.whole(a, &out.shape, &mut k)?;
        let b = self.operand(b, &out.shape, &mut k)?;
        let (rows, cols) = rows_cols(&out.shape);
        let (o, dtype) = (out.at(0), ins[0].dtype);
        let (rows, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
        k.push(Kernel::Rows {
            rows,
            group: 1,
            build: Box::new(move |r0, n| {
                Eltwise {
                    op,
                    out: rowed(o, dtype, cols, r0),
                    a: a.rows(r0, cols),
                    b: b.rows(r0, cols),
                    rows: n,
                    cols: c32,
                    dtype,
                    bcast: b.mode,
                }
                .into()
            }),
        });
        Ok(k)
    }

    fn compare(&mut self, op: CmpOp, ins: &[Place], out: &Place) -> Result<Vec<Kernel>> {
        let mut k = Vec::new();
        let a = self.whole(&ins[0], &out.shape, &mut k)?;
        let b = self.operand(&ins[1], &out.shape, &mut k)?;
        let (rows, cols) = rows_cols(&out.shape);
        let (o, dtype) = (out.at(0), ins[0].dtype);
        let (rows, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
        k.push(Kernel::Rows {
            rows,
            group: 1,
            build: Box::new(move |r0, n| {
                Cmp {
                    op,
                    out: rowed(o, DType::Bool, cols, r0),
                    a: a.rows(r0, cols),
                    b: b.rows(r0, cols),
                    rows: n,
                    cols: c32,
                    dtype,
                    bcast: b.mode,
                }
                .into()
            }),
        });
        Ok(k)
    }

    /// A map `f(row range, x slice, out slice)` over rows of `x` (same shape as out).
    fn map(
        &mut self,
        x: &Place,
        out: &Place,
        f: impl Fn(Slice, Slice, u32, u32) -> Instruction + 'static,
    ) -> Result<Vec<Kernel>> {
        let (rows, cols) = rows_cols(&out.shape);
        let (xs, os, xd, od) = (x.at(0), out.at(0), x.dtype, out.dtype);
        let (rows, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
        Ok(vec![Kernel::Rows {
            rows,
            group: 1,
            build: Box::new(move |r0, n| {
                f(rowed(os, od, cols, r0), rowed(xs, xd, cols, r0), n, c32)
            }),
        }])
    }

    /// The kernels of `node` with operands `ins` and results `outs`.
    pub(super) fn kernels(
        &mut self,
        node: &Node,
        ins: &[Place],
        outs: &[Place],
    ) -> Result<Vec<Kernel>> {
        let out = &outs[0];
        let dtype = ins.first().map_or(out.dtype, |p| p.dtype);
        let unary = |func: MathFn| {
            move |o, x, rows, cols| -> Instruction {
                Unary {
                    func,
                    out: o,
                    x,
                    rows,
                    cols,
                    dtype,
                }
                .into()
            }
        };
        let act = |func: ActFn| {
            move |o, x, rows, cols| -> Instruction {
                triad_isa::Act {
                    func,
                    out: o,
                    x,
                    rows,
                    cols,
                    dtype,
                }
                .into()
            }
        };
        let (rows, cols) = rows_cols(&out.shape);
        match &node.op {
            Op::Add => self.binary(BinOp::Add, ins, out, true),
            Op::Sub => self.binary(BinOp::Sub, ins, out, false),
            Op::Mul => self.binary(BinOp::Mul, ins, out, true),
            Op::Div => self.binary(BinOp::Div, ins, out, false),
            Op::Pow => self.binary(BinOp::Pow, ins, out, false),
            Op::Max => self.binary(BinOp::Max, ins, out, true),
            Op::Min => self.binary(BinOp::Min, ins, out, true),
            Op::And => self.binary(BinOp::And, ins, out, true),
            Op::Or => self.binary(BinOp::Or, ins, out, true),
            Op::Equal => self.compare(CmpOp::Eq, ins, out),
            Op::Less => self.compare(CmpOp::Lt, ins, out),
            Op::Greater => self.compare(CmpOp::Gt, ins, out),
            Op::Not => self.map(&ins[0], out, unary(MathFn::Not)),
            Op::Neg => self.map(&ins[0], out, unary(MathFn::Neg)),
            Op::Abs => self.map(&ins[0], out, unary(MathFn::Abs)),
            Op::Sqrt => self.map(&ins[0], out, unary(MathFn::Sqrt)),
            Op::Reciprocal => self.map(&ins[0], out, unary(MathFn::Recip)),
            Op::Exp => self.map(&ins[0], out, unary(MathFn::Exp)),
            Op::Log => self.map(&ins[0], out, unary(MathFn::Log)),
            Op::Erf => self.map(&ins[0], out, unary(MathFn::Erf)),
            Op::Tanh => self.map(&ins[0], out, act(ActFn::Tanh)),
            Op::Sigmoid => self.map(&ins[0], out, act(ActFn::Sigmoid)),
            Op::Relu => self.map(&ins[0], out, act(ActFn::Relu)),
            Op::Silu => self.map(&ins[0], out, act(ActFn::Silu)),
            Op::Gelu { tanh_approx } => self.map(
                &ins[0],
                out,
                act(if *tanh_approx {
                    ActFn::GeluTanh
                } else {
                    ActFn::GeluErf
                }),
            ),
            Op::Cast { to } => {
                let to = *to;
                self.map(&ins[0], out, move |o, x, rows, cols| {
                    Convert {
                        out: o,
                        x,
                        rows,
                        cols,
                        from: dtype,
                        to,
                        scale: 1.0,
                    }
                    .into()
                })
            }
            Op::Where => {
                let mut k = Vec::new();
                let c = self.operand(&ins[0], &out.shape, &mut k)?;
                let a = self.operand(&ins[1], &out.shape, &mut k)?;
                let b = self.operand(&ins[2], &out.shape, &mut k)?;
                let (o, dt) = (out.at(0), out.dtype);
                let (rows, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
                k.push(Kernel::Rows {
                    rows,
                    group: 1,
                    build: Box::new(move |r0, n| {
                        Select {
                            out: rowed(o, dt, cols, r0),
                            cond: c.rows(r0, cols),
                            a: a.rows(r0, cols),
                            b: b.rows(r0, cols),
                            rows: n,
                            cols: c32,
                            dtype: dt,
                            cond_bcast: c.mode,
                            a_bcast: a.mode,
                            b_bcast: b.mode,
                        }
                        .into()
                    }),
                });
                Ok(k)
            }
            Op::Softmax { axis } => {
                self.last_axis(*axis, &out.shape)?;
                self.map(&ins[0], out, move |o, x, rows, cols| {
                    Softmax {
                        out: o,
                        x,
                        rows,
                        cols,
                        dtype,
                    }
                    .into()
                })
            }
            Op::LayerNorm { axis, eps } | Op::RmsNorm { axis, eps } => {
                let x = &ins[0];
                let a = norm_axis(*axis, x.shape.len())
                    .ok_or_else(|| self.err(format!("axis {axis} out of range")))?;
                let cols = numel(&x.shape[a..]);
                let rows = x.numel() / cols.max(1);
                let (xs, os, g, eps) = (x.at(0), out.at(0), ins[1].at(0), *eps);
                let (r32, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
                let build: RowBuild = if matches!(node.op, Op::LayerNorm { .. }) {
                    let beta = match ins.get(2) {
                        Some(b) => b.at(0),
                        None => self.zeros(dtype, cols)?.at(0),
                    };
                    Box::new(move |r0, n| {
                        LayerNorm {
                            out: rowed(os, dtype, cols, r0),
                            x: rowed(xs, dtype, cols, r0),
                            gamma: g,
                            beta,
                            rows: n,
                            cols: c32,
                            dtype,
                            eps,
                        }
                        .into()
                    })
                } else {
                    Box::new(move |r0, n| {
                        RmsNorm {
                            out: rowed(os, dtype, cols, r0),
                            x: rowed(xs, dtype, cols, r0),
                            gamma: g,
                            rows: n,
                            cols: c32,
                            dtype,
                            eps,
                        }
                        .into()
                    })
                };
                Ok(vec![Kernel::Rows {
                    rows: r32,
                    group: 1,
                    build,
                }])
            }
            Op::Rope { theta, rotary_dim } => {
                let x = &ins[0];
                let r = x.shape.len();
                if r < 2 {
                    return Err(self.err("rope needs x of rank >= 2 ([..., S, D])"));
                }
                let seq = self.u32(x.shape[r - 2] as u64, "sequence length")?;
                let rotary = if *rotary_dim == 0 {
                    cols as u32
                } else {
                    *rotary_dim as u32
                };
                let (xs, os, pos, pd, theta) =
                    (x.at(0), out.at(0), ins[1].at(0), ins[1].dtype, *theta);
                let (r32, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
                Ok(vec![Kernel::Rows {
                    rows: r32,
                    group: seq.max(1),
                    build: Box::new(move |r0, n| {
                        Rope {
                            out: rowed(os, dtype, cols, r0),
                            x: rowed(xs, dtype, cols, r0),
                            pos,
                            rows: n,
                            cols: c32,
                            seq,
                            rotary,
                            dtype,
                            pos_dtype: pd,
                            theta,
                        }
                        .into()
                    }),
                }])
            }
            Op::CausalMask => {
                let r = out.shape.len();
                if r < 2 {
                    return Err(self.err("causal mask needs rank >= 2 ([..., Sq, Sk])"));
                }
                let (sq, sk) = (out.shape[r - 2] as u32, out.shape[r - 1] as u32);
                let (xs, os) = (ins[0].at(0), out.at(0));
                let (r32, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
                Ok(vec![Kernel::Rows {
                    rows: r32,
                    group: sq.max(1),
                    build: Box::new(move |r0, n| {
                        CausalMask {
                            out: rowed(os, dtype, cols, r0),
                            x: rowed(xs, dtype, cols, r0),
                            rows: n,
                            cols: c32,
                            seq: sq,
                            q_start: sk.saturating_sub(sq),
                            k_start: 0,
                            dtype,
                        }
                        .into()
                    }),
                }])
            }
            Op::Reduce { kind, axes, .. } => self.reduce(*kind, axes, &ins[0], out),
            Op::Gather { axis } => self.gather(*axis, &ins[0], &ins[1], out),
            Op::TopK { k, axis } => {
                let x = &ins[0];
                self.last_axis(*axis, &x.shape)?;
                let (rows, cols) = rows_cols(&x.shape);
                let (xs, vs, is, idt, k) = (
                    x.at(0),
                    outs[0].at(0),
                    outs[1].at(0),
                    outs[1].dtype,
                    *k as u64,
                );
                let (r32, c32, k32) = (
                    self.u32(rows, "rows")?,
                    self.u32(cols, "cols")?,
                    self.u32(k, "k")?,
                );
                Ok(vec![Kernel::Rows {
                    rows: r32,
                    group: 1,
                    build: Box::new(move |r0, n| {
                        TopK {
                            values: rowed(vs, dtype, k, r0),
                            indices: rowed(is, idt, k, r0),
                            x: rowed(xs, dtype, cols, r0),
                            rows: n,
                            cols: c32,
                            k: k32,
                            dtype,
                            idx_dtype: idt,
                        }
                        .into()
                    }),
                }])
            }
            Op::MoeDispatch { expert, capacity } => {
                let (x, idx) = (&ins[0], &ins[1]);
                let (tokens, hidden) = rows_cols(&x.shape);
                let k = idx.shape.last().copied().unwrap_or(1) as u64;
                Ok(vec![Kernel::Fixed(
                    MoeDispatch {
                        out: out.at(0),
                        x: x.at(0),
                        idx: idx.at(0),
                        tokens: self.u32(tokens, "tokens")?,
                        hidden: self.u32(hidden, "hidden")?,
                        k: self.u32(k, "k")?,
                        expert: self.u32(*expert as u64, "expert")?,
                        capacity: self.u32(*capacity as u64, "capacity")?,
                        dtype: x.dtype,
                        idx_dtype: idx.dtype,
                    }
                    .into(),
                )])
            }
            Op::MoeCombine { experts, capacity } => {
                let (idx, gate) = (&ins[0], &ins[1]);
                let (tokens, hidden) = rows_cols(&out.shape);
                let k = idx.shape.last().copied().unwrap_or(1) as u64;
                let block = (*capacity as u64) * hidden;
                let all = self.temp(out.dtype, &[experts * capacity, hidden as usize])?;
                let mut ks = Vec::new();
                for (e, x) in ins[2..].iter().enumerate() {
                    let dims = [x.numel() as usize];
                    let mut c = copy_kernels(
                        x.at(0),
                        all.at(e as u64 * block),
                        x.dtype,
                        &dims,
                        &[1],
                        &[1],
                    );
                    ks.append(&mut c);
                }
                ks.push(Kernel::Fixed(
                    MoeCombine {
                        out: out.at(0),
                        idx: idx.at(0),
                        gate: gate.at(0),
                        experts_out: all.at(0),
                        tokens: self.u32(tokens, "tokens")?,
                        hidden: self.u32(hidden, "hidden")?,
                        k: self.u32(k, "k")?,
                        experts: self.u32(*experts as u64, "experts")?,
                        capacity: self.u32(*capacity as u64, "capacity")?,
                        dtype: out.dtype,
                        idx_dtype: idx.dtype,
                    }
                    .into(),
                ));
                Ok(ks)
            }
            Op::Transpose { perm } => {
                let x = &ins[0];
                let r = x.shape.len();
                let perm: Vec<usize> = if perm.is_empty() {
                    (0..r).rev().collect()
                } else {
                    perm.clone()
                };
                let s = strides(&x.shape);
                let src: Vec<u64> = perm.iter().map(|&p| s[p]).collect();
                Ok(copy_kernels(
                    x.at(0),
                    out.at(0),
                    x.dtype,
                    &out.shape,
                    &src,
                    &strides(&out.shape),
                ))
            }
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                let x = &ins[0];
                let ranges = slice_ranges(&x.shape, starts, ends, axes, steps)
                    .map_err(|e| self.err(format!("{e:?}")))?;
                let s = strides(&x.shape);
                let mut start = 0u64;
                let mut src = Vec::new();
                for (i, r) in ranges.iter().enumerate() {
                    if r.step < 0 && r.len() > 1 {
                        return Err(self.err("negative slice steps have no strided-copy form"));
                    }
                    if !r.is_empty() {
                        start += r.start as u64 * s[i];
                    }
                    src.push(s[i] * r.step.unsigned_abs());
                }
                Ok(copy_kernels(
                    x.at(start),
                    out.at(0),
                    x.dtype,
                    &out.shape,
                    &src,
                    &strides(&out.shape),
                ))
            }
            Op::Concat { axis } | Op::KvAppend { axis } => {
                let a = norm_axis(*axis, out.shape.len())
                    .ok_or_else(|| self.err(format!("axis {axis} out of range")))?;
                let os = strides(&out.shape);
                let mut at = 0u64;
                let mut ks = Vec::new();
                for x in ins {
                    ks.extend(copy_kernels(
                        x.at(0),
                        out.at(at * os[a]),
                        x.dtype,
                        &x.shape,
                        &strides(&x.shape),
                        &os,
                    ));
                    at += x.shape[a] as u64;
                }
                Ok(ks)
            }
            Op::Split { axis, .. } => {
                let x = &ins[0];
                let a = norm_axis(*axis, x.shape.len())
                    .ok_or_else(|| self.err(format!("axis {axis} out of range")))?;
                let s = strides(&x.shape);
                let mut at = 0u64;
                let mut ks = Vec::new();
                for o in outs {
                    ks.extend(copy_kernels(
                        x.at(at * s[a]),
                        o.at(0),
                        x.dtype,
                        &o.shape,
                        &s,
                        &strides(&o.shape),
                    ));
                    at += o.shape[a] as u64;
                }
                Ok(ks)
            }
            Op::MatMul => self.matmul(ins, out, 1.0),
            Op::Gemm {
                alpha,
                beta,
                trans_a,
                trans_b,
            } => {
                let mut ks = Vec::new();
                let mut op2 = |lw: &mut Self, x: &Place, t: bool| -> Result<Place> {
                    if !t {
                        return Ok(x.clone());
                    }
                    let shape = vec![x.shape[1], x.shape[0]];
                    let tmp = lw.temp(x.dtype, &shape)?;
                    let s = strides(&x.shape);
                    ks.extend(copy_kernels(
                        x.at(0),
                        tmp.at(0),
                        x.dtype,
                        &shape,
                        &[s[1], s[0]],
                        &strides(&shape),
                    ));
                    Ok(tmp)
                };
                let a = op2(self, &ins[0], *trans_a)?;
                if *trans_b {
                    // out^T = B · A^T: the (weight) matrix B [N, K] is read as stored
                    // and only activations are transposed; with one row of A, A^T
                    // and out^T have the bytes of A and out.
                    let (m, n) = (out.shape[0], out.shape[1]);
                    let at = if m == 1 {
                        Place {
                            shape: vec![a.shape[1], 1],
                            ..a.clone()
                        }
                    } else {
                        op2(self, &a, true)?
                    };
                    let b = Place {
                        shape: ins[1].shape.clone(),
                        ..ins[1].clone()
                    };
                    if m == 1 {
                        let ot = Place {
                            shape: vec![n, 1],
                            ..out.clone()
                        };
                        ks.extend(self.matmul(&[b, at], &ot, *alpha)?);
                    } else {
                        let ot = self.temp(out.dtype, &[n, m])?;
                        ks.extend(self.matmul(&[b, at], &ot, *alpha)?);
                        ks.extend(copy_kernels(
                            ot.at(0),
                            out.at(0),
                            out.dtype,
                            &[m, n],
                            &[1, m as u64],
                            &strides(&[m, n]),
                        ));
                    }
                } else {
                    ks.extend(self.matmul(&[a, ins[1].clone()], out, *alpha)?);
                }
                if let Some(c) = ins.get(2) {
                    let c = if *beta == 1.0 {
                        c.clone()
                    } else {
                        let f = self.constant(c.dtype, Values::F32(vec![*beta]))?;
                        let t = self.temp(c.dtype, &c.shape)?;
                        ks.extend(self.binary(BinOp::Mul, &[c.clone(), f], &t, false)?);
                        t
                    };
                    ks.extend(self.binary(BinOp::Add, &[out.clone(), c], out, false)?);
                }
                Ok(ks)
            }
            Op::QMatMul => self.qmatmul(ins, out),
            Op::Quantize { axis, .. } | Op::Dequantize { axis, .. } => {
                self.quant(node, *axis, ins, out)
            }
            Op::Reshape { .. } | Op::Input { .. } | Op::Weight { .. } | Op::Constant { .. } => {
                Ok(Vec::new())
            }
        }
    }

    fn last_axis(&self, axis: i64, shape: &[usize]) -> Result<()> {
        let r = shape.len().max(1);
        if norm_axis(axis, r) != Some(r - 1) {
            return Err(self.err(format!(
                "axis {axis} is not the last axis (the ISA's row instructions work on the last axis)"
            )));
        }
        Ok(())
    }

    fn reduce(
        &mut self,
        kind: ReduceKind,
        axes: &[i64],
        x: &Place,
        out: &Place,
    ) -> Result<Vec<Kernel>> {
        let r = x.shape.len();
        let mut ax: Vec<usize> = if axes.is_empty() {
            (0..r).collect()
        } else {
            axes.iter()
                .map(|&a| norm_axis(a, r).ok_or_else(|| self.err(format!("axis {a} out of range"))))
                .collect::<Result<_>>()?
        };
        ax.sort_unstable();
        ax.dedup();
        let mut ks = Vec::new();
        let trailing = ax.iter().enumerate().all(|(i, &a)| a == r - ax.len() + i);
        let src = if trailing {
            x.clone()
        } else {
            let perm: Vec<usize> = (0..r)
                .filter(|a| !ax.contains(a))
                .chain(ax.iter().copied())
                .collect();
            let shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
            let t = self.temp(x.dtype, &shape)?;
            let s = strides(&x.shape);
            let src: Vec<u64> = perm.iter().map(|&p| s[p]).collect();
            ks.extend(copy_kernels(
                x.at(0),
                t.at(0),
                x.dtype,
                &shape,
                &src,
                &strides(&shape),
            ));
            t
        };
        let cols: u64 = ax.iter().map(|&a| x.shape[a] as u64).product();
        let rows = x.numel() / cols.max(1);
        let op = match kind {
            ReduceKind::Sum => ReduceOp::Sum,
            ReduceKind::Mean => ReduceOp::Mean,
            ReduceKind::Max => ReduceOp::Max,
        };
        let (xs, os, dtype) = (src.at(0), out.at(0), x.dtype);
        let (r32, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
        ks.push(Kernel::Rows {
            rows: r32,
            group: 1,
            build: Box::new(move |r0, n| {
                Reduce {
                    op,
                    out: rowed(os, dtype, 1, r0),
                    x: rowed(xs, dtype, cols, r0),
                    rows: n,
                    cols: c32,
                    dtype,
                }
                .into()
            }),
        });
        Ok(ks)
    }

    fn gather(
        &mut self,
        axis: i64,
        table: &Place,
        idx: &Place,
        out: &Place,
    ) -> Result<Vec<Kernel>> {
        let a = norm_axis(axis, table.shape.len())
            .ok_or_else(|| self.err(format!("axis {axis} out of range")))?;
        if !matches!(idx.dtype, DType::I32 | DType::I64) {
            return Err(self.err(format!(
                "gather indices must be i32 or i64, not {}",
                idx.dtype
            )));
        }
        let outer = numel(&table.shape[..a]);
        let trows = table.shape[a] as u64;
        let inner = numel(&table.shape[a + 1..]);
        let nidx = idx.numel();
        let (t32, c32, r32) = (
            self.u32(trows, "table rows")?,
            self.u32(inner, "cols")?,
            self.u32(nidx, "indices")?,
        );
        let mut ks = Vec::new();
        for o in 0..outer {
            let (ts, is, os, dtype, idt) = (
                table.at(o * trows * inner),
                idx.at(0),
                out.at(o * nidx * inner),
                table.dtype,
                idx.dtype,
            );
            ks.push(Kernel::Rows {
                rows: r32,
                group: 1,
                build: Box::new(move |r0, n| {
                    Gather {
                        out: rowed(os, dtype, inner, r0),
                        table: ts,
                        idx: rowed(is, idt, 1, r0),
                        rows: n,
                        cols: c32,
                        table_rows: t32,
                        dtype,
                        idx_dtype: idt,
                    }
                    .into()
                }),
            });
        }
        Ok(ks)
    }

    /// `MatMul` (and `Gemm`'s product) as one [`MatMul`] per batch index.
    pub(super) fn matmul(&mut self, ins: &[Place], out: &Place, scale: f32) -> Result<Vec<Kernel>> {
        let (a, b) = (&ins[0], &ins[1]);
        let mut ash = a.shape.clone();
        if ash.len() == 1 {
            ash.insert(0, 1);
        }
        let mut bsh = b.shape.clone();
        if bsh.len() == 1 {
            bsh.push(1);
        }
        let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
        let n = bsh[bsh.len() - 1];
        let (m32, n32, k32) = (
            self.u32(m as u64, "m")?,
            self.u32(n as u64, "n")?,
            self.u32(k as u64, "k")?,
        );
        let one = |a_off: u64, b_off: u64, o_off: u64, m: u32| MatMul {
            out: out.at(o_off),
            a: a.at(a_off),
            b: b.at(b_off),
            m,
            n: n32,
            k: k32,
            dtype: a.dtype,
            out_dtype: out.dtype,
            scale,
        };
        if bsh.len() == 2 {
            // Batch dims of A fold into its rows (A is dense row-major).
            let rows = a.numel() / k.max(1) as u64;
            return Ok(vec![Kernel::Gemm(one(0, 0, 0, self.u32(rows, "m")?))]);
        }
        let batch: Vec<usize> = out.shape[..out.shape.len().saturating_sub(2)].to_vec();
        let abs = broadcast_strides(&ash[..ash.len() - 2], &batch);
        let bbs = broadcast_strides(&bsh[..bsh.len() - 2], &batch);
        let (am, bm, om) = ((m * k) as u64, (k * n) as u64, (m * n) as u64);
        let count = numel(&batch);
        let mut ks = Vec::new();
        for flat in 0..count {
            let (mut ao, mut bo, mut rem) = (0u64, 0u64, flat);
            for d in (0..batch.len()).rev() {
                let j = rem % batch[d] as u64;
                rem /= batch[d] as u64;
                ao += j * abs[d];
                bo += j * bbs[d];
            }
            ks.push(Kernel::Gemm(one(ao * am, bo * bm, flat * om, m32)));
        }
        Ok(ks)
    }

    fn qmatmul(&mut self, ins: &[Place], out: &Place) -> Result<Vec<Kernel>> {
        let (a, w, scale) = (&ins[0], &ins[1], &ins[2]);
        let (kk, n) = (w.shape[0] as u64, w.shape[1] as u64);
        let rows = a.numel() / kk.max(1);
        let mut ks = Vec::new();
        let mut per_n = |lw: &mut Self, x: &Place| -> Result<Place> {
            if x.numel() == n {
                return Ok(x.clone());
            }
            let t = lw.temp(x.dtype, &[n as usize])?;
            ks.extend(copy_kernels(
                x.at(0),
                t.at(0),
                x.dtype,
                &[n as usize],
                &[0],
                &[1],
            ));
            Ok(t)
        };
        let scale = per_n(self, scale)?;
        let zero = match ins.get(3) {
            Some(z) => per_n(self, z)?,
            None => self.zeros(w.dtype, n)?,
        };
        let (os, as_, ws, ss, zs, dtype, wdtype) = (
            out.at(0),
            a.at(0),
            w.at(0),
            scale.at(0),
            zero.at(0),
            a.dtype,
            w.dtype,
        );
        let (r32, n32, k32) = (self.u32(rows, "m")?, self.u32(n, "n")?, self.u32(kk, "k")?);
        ks.push(Kernel::Rows {
            rows: r32,
            group: 1,
            build: Box::new(move |r0, m| {
                QGemm {
                    out: rowed(os, dtype, n, r0),
                    a: rowed(as_, dtype, kk, r0),
                    w: ws,
                    scale: ss,
                    zero: zs,
                    m,
                    n: n32,
                    k: k32,
                    dtype,
                    wdtype,
                }
                .into()
            }),
        });
        Ok(ks)
    }

    fn quant(&mut self, node: &Node, axis: i64, ins: &[Place], out: &Place) -> Result<Vec<Kernel>> {
        let (x, scale) = (&ins[0], &ins[1]);
        let quantize = matches!(node.op, Op::Quantize { .. });
        let int_dtype = if quantize { out.dtype } else { x.dtype };
        let (rows, cols) = rows_cols(&x.shape);
        let mut ks = Vec::new();
        // Per tensor: scalar; per channel on the last axis: row; otherwise both are
        // materialised to x's shape.
        let r = x.shape.len();
        let (sb, mode, zero) = if scale.numel() == 1 {
            let z = match ins.get(2) {
                Some(z) => z.clone(),
                None => self.zeros(int_dtype, 1)?,
            };
            (scale.clone(), Bcast::Scalar, z)
        } else {
            let a =
                norm_axis(axis, r).ok_or_else(|| self.err(format!("axis {axis} out of range")))?;
            let zsrc = match ins.get(2) {
                Some(z) => z.clone(),
                None => self.zeros(int_dtype, scale.numel())?,
            };
            if a + 1 == r {
                (scale.clone(), Bcast::Row, zsrc)
            } else {
                let mut chan = vec![1usize; r];
                chan[a] = x.shape[a];
                let s = self.temp(scale.dtype, &x.shape)?;
                let z = self.temp(int_dtype, &x.shape)?;
                let bs = broadcast_strides(&chan, &x.shape);
                let st = strides(&x.shape);
                ks.extend(copy_kernels(
                    scale.at(0),
                    s.at(0),
                    scale.dtype,
                    &x.shape,
                    &bs,
                    &st,
                ));
                ks.extend(copy_kernels(
                    zsrc.at(0),
                    z.at(0),
                    int_dtype,
                    &x.shape,
                    &bs,
                    &st,
                ));
                (s, Bcast::None, z)
            }
        };
        let so = Operand {
            slice: sb.at(0),
            dtype: sb.dtype,
            mode,
        };
        let zo = Operand {
            slice: zero.at(0),
            dtype: int_dtype,
            mode,
        };
        let (xs, os, from, to) = (x.at(0), out.at(0), x.dtype, out.dtype);
        let (r32, c32) = (self.u32(rows, "rows")?, self.u32(cols, "cols")?);
        ks.push(Kernel::Rows {
            rows: r32,
            group: 1,
            build: Box::new(move |r0, n| {
                let (out, x, scale, zero) = (
                    rowed(os, to, cols, r0),
                    rowed(xs, from, cols, r0),
                    so.rows(r0, cols),
                    zo.rows(r0, cols),
                );
                if quantize {
                    Quantize {
                        out,
                        x,
                        scale,
                        zero,
                        rows: n,
                        cols: c32,
                        from,
                        to,
                        sbcast: mode,
                    }
                    .into()
                } else {
                    Dequantize {
                        out,
                        x,
                        scale,
                        zero,
                        rows: n,
                        cols: c32,
                        from,
                        to,
                        sbcast: mode,
                    }
                    .into()
                }
            }),
        });
        Ok(ks)
    }
}
