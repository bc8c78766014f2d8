//! Per-instruction checks. Operand spans come from [`Instruction::accesses`]: each
//! must lie in the memory the engine reads (scratchpad for `npu.*`, DRAM for
//! `cpu.N` and `pim.N`; DMA moves between the two), inside its buffer, with the
//! buffer's dtype. The rest is a [`Visitor`]: counts are non-zero, and the unit
//! supports the dtype and the operation.

use crate::insn::*;
use crate::program::Memory;
use crate::{Arch, Capability, DType, Program, Unit};

/// Checks one instruction at a time; problems for the current one collect in `out`.
pub(super) struct Checker<'a> {
    pub p: &'a Program,
    pub arch: &'a Arch,
    pub engine: Engine,
    pub out: Vec<String>,
}

impl Checker<'_> {
    /// The memory this engine's compute operands live in.
    fn home(&self) -> Memory {
        match self.engine {
            Engine::NpuMx | Engine::NpuVec => Memory::Spm,
            _ => Memory::Dram,
        }
    }

    /// The memory operand `a` of `insn` must be in.
    fn expected_memory(&self, insn: &Instruction, a: &Access) -> Memory {
        match insn {
            Instruction::Load(_) if a.operand == "dst" => Memory::Spm,
            Instruction::Load(_) => Memory::Dram,
            Instruction::Store(_) if a.operand == "dst" => Memory::Dram,
            Instruction::Store(_) => Memory::Spm,
            // `copy` stays within the destination's memory.
            Instruction::DmaCopy(i) => self.p.buffer(i.dst.buf).map_or(Memory::Dram, |b| b.mem),
            _ => self.home(),
        }
    }

    /// Check every operand span of `insn`: memory, dtype, bounds.
    pub(super) fn accesses(&mut self, insn: &Instruction) {
        for a in insn.accesses() {
            let name = a.operand;
            let Some(b) = self.p.buffer(a.slice.buf) else {
                self.out.push(format!(
                    "`{name}`: buffer #{} does not exist",
                    a.slice.buf.0
                ));
                continue;
            };
            let mem = self.expected_memory(insn, &a);
            if b.mem != mem {
                self.out.push(format!(
                    "`{name}`: buffer `{}` is in {} but {} reads {mem} here",
                    b.name, b.mem, self.engine
                ));
            }
            if let Some(d) = a.dtype
                && b.dtype != d
            {
                self.out.push(format!(
                    "`{name}`: buffer `{}` holds {} but the instruction uses {d}",
                    b.name, b.dtype
                ));
            }
            let Some(ext) = a.bytes else {
                self.out.push(format!("`{name}`: size overflows 64 bits"));
                continue;
            };
            if let Some(size) = b.size() {
                let end = a.slice.offset.0.checked_add(ext.0);
                if end.is_none_or(|e| e > size.0) {
                    self.out.push(format!(
                        "`{name}`: bytes {}..{} lie outside buffer `{}` ({} bytes)",
                        a.slice.offset.0,
                        end.map_or("overflow".to_string(), |e| e.to_string()),
                        b.name,
                        size.0
                    ));
                }
            }
        }
    }

    fn nonzero(&mut self, pairs: &[(&str, u64)]) {
        for (name, v) in pairs {
            if *v == 0 {
                self.out.push(format!("`{name}` must be at least 1"));
            }
        }
    }

    fn rows_cols(&mut self, rows: u32, cols: u32) {
        self.nonzero(&[("rows", u64::from(rows)), ("cols", u64::from(cols))]);
    }

    /// The engine's unit must be able to do what the instruction needs
    /// ([`Arch::supports`], the one capability query).
    pub(super) fn capability(&mut self, insn: &Instruction) {
        let (cap, dtype) = Capability::of(insn);
        if let Err(e) = self.arch.supports(Unit::of(self.engine), cap, dtype) {
            self.out.push(format!(
                "{} of arch `{}` cannot do {cap}{}: {}",
                self.engine,
                self.arch.name,
                dtype.map_or(String::new(), |d| format!(" in {d}")),
                e.why
            ));
        }
    }

    /// `dtype` (operand `what`) must be a float type.
    fn float(&mut self, what: &str, dtype: DType) {
        if !dtype.is_float() {
            self.out
                .push(format!("`{what}` must be a float dtype, not {dtype}"));
        }
    }

    /// Index operands are i32 or i64.
    fn index_dtype(&mut self, what: &str, dtype: DType) {
        if !matches!(dtype, DType::I32 | DType::I64) {
            self.out
                .push(format!("`{what}` must be i32 or i64, not {dtype}"));
        }
    }

    /// Mixed-precision weights are i8 or i4.
    fn weights(&mut self, dtype: DType) {
        if !matches!(dtype, DType::I8 | DType::I4) {
            self.out
                .push(format!("`wdtype` must be i8 or i4, not {dtype}"));
        }
    }

    /// Every dimension of a 4-D index space is at least 1.
    fn dims(&mut self, dims: Dims) {
        if dims.0.contains(&0) {
            self.out
                .push(format!("`dims` {:?} has a zero dimension", dims.0));
        }
    }

    fn xfer(&mut self, rows: u32, row_bytes: crate::Bytes, dst_stride: crate::Bytes) {
        self.nonzero(&[("rows", u64::from(rows)), ("row_bytes", row_bytes.0)]);
        if rows > 1 && dst_stride.0 < row_bytes.0 {
            self.out.push(format!(
                "`dst_stride` {} is less than `row_bytes` {}: destination rows overlap",
                dst_stride.0, row_bytes.0
            ));
        }
    }

    fn pim_len(&mut self, len: u32) {
        self.nonzero(&[("len", u64::from(len))]);
    }

    /// `len` elements must fit the channel's PIM global buffer.
    fn global_buffer(&mut self, len: u32, dtype: DType) {
        if let Some(p) = &self.arch.pim {
            let bytes = dtype.bytes_for(u64::from(len));
            if bytes > p.global_buffer_bytes {
                self.out.push(format!(
                    "input of {bytes} bytes exceeds the PIM global buffer ({} bytes, pim.global_buffer_bytes)",
                    p.global_buffer_bytes
                ));
            }
        }
    }
}

impl Visitor for Checker<'_> {
    type Output = ();

    fn signal(&mut self, i: &Signal) {
        self.nonzero(&[("value", u64::from(i.value))]);
    }
    fn wait(&mut self, i: &Wait) {
        self.nonzero(&[("value", u64::from(i.value))]);
    }
    fn load(&mut self, i: &Load) {
        self.xfer(i.rows, i.row_bytes, i.dst_stride);
    }
    fn store(&mut self, i: &Store) {
        self.xfer(i.rows, i.row_bytes, i.dst_stride);
    }
    fn copy(&mut self, i: &DmaCopy) {
        self.xfer(i.rows, i.row_bytes, i.dst_stride);
    }
    fn gemm(&mut self, i: &Gemm) {
        self.nonzero(&[
            ("m", u64::from(i.m)),
            ("n", u64::from(i.n)),
            ("k", u64::from(i.k)),
        ]);
    }
    fn eltwise(&mut self, i: &Eltwise) {
        self.rows_cols(i.rows, i.cols);
        match i.op {
            BinOp::And | BinOp::Or if i.dtype != DType::Bool => self
                .out
                .push(format!("`{}` needs bool operands, not {}", i.op, i.dtype)),
            BinOp::Pow => self.float("dtype", i.dtype),
            BinOp::And | BinOp::Or => {}
            _ if i.dtype == DType::Bool => {
                self.out.push(format!("`{}` is not defined on bool", i.op))
            }
            _ => {}
        }
    }
    fn unary(&mut self, i: &Unary) {
        self.rows_cols(i.rows, i.cols);
        match i.func {
            MathFn::Not if i.dtype != DType::Bool => {
                self.out.push(format!("`not` needs bool, not {}", i.dtype))
            }
            MathFn::Not => {}
            MathFn::Neg | MathFn::Abs | MathFn::Square if i.dtype == DType::Bool => self
                .out
                .push(format!("`{}` is not defined on bool", i.func)),
            MathFn::Neg | MathFn::Abs | MathFn::Square => {}
            _ => self.float("dtype", i.dtype),
        }
    }
    fn act(&mut self, i: &Act) {
        self.rows_cols(i.rows, i.cols);
    }
    fn softmax(&mut self, i: &Softmax) {
        self.rows_cols(i.rows, i.cols);
    }
    fn layernorm(&mut self, i: &LayerNorm) {
        self.rows_cols(i.rows, i.cols);
    }
    fn rmsnorm(&mut self, i: &RmsNorm) {
        self.rows_cols(i.rows, i.cols);
    }
    fn reduce(&mut self, i: &Reduce) {
        self.rows_cols(i.rows, i.cols);
    }
    fn convert(&mut self, i: &Convert) {
        self.rows_cols(i.rows, i.cols);
    }
    fn transpose(&mut self, i: &Transpose) {
        self.dims(i.dims);
    }
    fn rope(&mut self, i: &Rope) {
        self.rows_cols(i.rows, i.cols);
        self.nonzero(&[("seq", u64::from(i.seq))]);
        if i.rotary == 0 || !i.rotary.is_multiple_of(2) || i.rotary > i.cols {
            self.out.push(format!(
                "`rotary` {} must be even, at least 2 and at most `cols` {}",
                i.rotary, i.cols
            ));
        }
        self.float("dtype", i.dtype);
        self.index_dtype("pos_dtype", i.pos_dtype);
    }
    fn gather(&mut self, i: &Gather) {
        self.rows_cols(i.rows, i.cols);
        self.nonzero(&[("table_rows", u64::from(i.table_rows))]);
        self.index_dtype("idx_dtype", i.idx_dtype);
    }
    fn qgemm(&mut self, i: &QGemm) {
        self.nonzero(&[
            ("m", u64::from(i.m)),
            ("n", u64::from(i.n)),
            ("k", u64::from(i.k)),
        ]);
        self.float("dtype", i.dtype);
        self.weights(i.wdtype);
    }
    fn cmp(&mut self, i: &Cmp) {
        self.rows_cols(i.rows, i.cols);
        if i.dtype == DType::Bool && !matches!(i.op, CmpOp::Eq | CmpOp::Ne) {
            self.out
                .push(format!("`{}` does not order bools (use eq or ne)", i.op));
        }
    }
    fn select(&mut self, i: &Select) {
        self.rows_cols(i.rows, i.cols);
    }
    fn causal_mask(&mut self, i: &CausalMask) {
        self.rows_cols(i.rows, i.cols);
        self.nonzero(&[("seq", u64::from(i.seq))]);
        self.float("dtype", i.dtype);
    }
    fn tree_mask(&mut self, i: &TreeMask) {
        self.rows_cols(i.rows, i.cols);
        self.nonzero(&[("seq", u64::from(i.seq))]);
        self.float("dtype", i.dtype);
    }
    fn topk(&mut self, i: &TopK) {
        self.rows_cols(i.rows, i.cols);
        if i.k == 0 || i.k > i.cols {
            self.out
                .push(format!("`k` {} must be in 1..={}", i.k, i.cols));
        }
        self.index_dtype("idx_dtype", i.idx_dtype);
    }
    fn moe_dispatch(&mut self, i: &MoeDispatch) {
        self.nonzero(&[
            ("tokens", u64::from(i.tokens)),
            ("hidden", u64::from(i.hidden)),
            ("k", u64::from(i.k)),
            ("capacity", u64::from(i.capacity)),
        ]);
        self.index_dtype("idx_dtype", i.idx_dtype);
    }
    fn moe_combine(&mut self, i: &MoeCombine) {
        self.nonzero(&[
            ("tokens", u64::from(i.tokens)),
            ("hidden", u64::from(i.hidden)),
            ("k", u64::from(i.k)),
            ("experts", u64::from(i.experts)),
            ("capacity", u64::from(i.capacity)),
        ]);
        self.float("dtype", i.dtype);
        self.index_dtype("idx_dtype", i.idx_dtype);
    }
    fn quantize(&mut self, i: &Quantize) {
        self.rows_cols(i.rows, i.cols);
        self.float("from", i.from);
        if !matches!(i.to, DType::I4 | DType::I8 | DType::I32) {
            self.out
                .push(format!("`to` must be i4, i8 or i32, not {}", i.to));
        }
    }
    fn dequantize(&mut self, i: &Dequantize) {
        self.rows_cols(i.rows, i.cols);
        if !matches!(i.from, DType::I4 | DType::I8 | DType::I32) {
            self.out
                .push(format!("`from` must be i4, i8 or i32, not {}", i.from));
        }
        self.float("to", i.to);
    }
    fn scopy(&mut self, i: &StridedCopy) {
        self.dims(i.dims);
        // Writes must not collide: ordered by stride, each dim's stride must clear
        // the extent of the dims below it (dims of size 1 never step).
        let mut steps: Vec<(u64, u64)> = i
            .dims
            .0
            .iter()
            .zip(&i.dst_strides.0)
            .filter(|(d, _)| **d > 1)
            .map(|(&d, &s)| (s, u64::from(d)))
            .collect();
        steps.sort_unstable();
        let mut extent = 1u64;
        for (s, d) in steps {
            if s < extent {
                self.out.push(format!(
                    "`dst_strides` {:?} make two elements land on one place (dims {:?})",
                    i.dst_strides.0, i.dims.0
                ));
                break;
            }
            extent = s.saturating_mul(d - 1).saturating_add(extent);
        }
    }
    fn pim_qgemv(&mut self, i: &PimQGemv) {
        self.rows_cols(i.rows, i.cols);
        self.float("dtype", i.dtype);
        self.weights(i.wdtype);
        if i.wdtype == DType::I4 && !i.cols.is_multiple_of(2) {
            self.out.push(format!(
                "`cols` {} must be even for i4 weights (each matrix row starts on a byte)",
                i.cols
            ));
        }
    }
    fn pim_gemv(&mut self, i: &PimGemv) {
        self.rows_cols(i.rows, i.cols);
    }
    fn pim_wr_gb(&mut self, i: &PimWrGb) {
        self.pim_len(i.len);
        self.global_buffer(i.len, i.dtype);
    }
    fn pim_wr_bias(&mut self, i: &PimWrBias) {
        self.pim_len(i.len);
    }
    fn pim_mac_abk(&mut self, i: &PimMacAbk) {
        self.rows_cols(i.rows, i.cols);
    }
    fn pim_mac_sbk(&mut self, i: &PimMacSbk) {
        self.rows_cols(i.rows, i.cols);
        let banks = self.arch.dram.banks_per_channel();
        if u32::from(i.bank) >= banks {
            self.out.push(format!(
                "`bank` {} does not exist (a channel has {banks} banks)",
                i.bank
            ));
        }
    }
    fn pim_rd_mac(&mut self, i: &PimRdMac) {
        self.pim_len(i.len);
    }
    fn pim_af(&mut self, i: &PimAf) {
        self.pim_len(i.len);
    }
    fn pim_rd_af(&mut self, i: &PimRdAf) {
        self.pim_len(i.len);
    }
    fn pim_ewmul(&mut self, i: &PimEwMul) {
        self.pim_len(i.len);
    }
    fn pim_ewadd(&mut self, i: &PimEwAdd) {
        self.pim_len(i.len);
    }
}
