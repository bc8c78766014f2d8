//! Per-instruction checks. Operand spans come from [`Instruction::accesses`]: each
//! must lie in the memory the engine reads (scratchpad for `npu.*`, DRAM for
//! `cpu.N` and `pim.N`; DMA moves between the two), inside its buffer, with the
//! buffer's dtype. The rest is a [`Visitor`]: counts are non-zero, and the unit
//! supports the dtype and the operation.

use crate::insn::*;
use crate::program::Memory;
use crate::{Arch, DType, Program};

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

    /// The engine's unit must compute in `dtype`.
    fn unit_dtype(&mut self, dtype: DType) {
        let (ok, field) = match self.engine {
            Engine::NpuMx => (
                self.arch.npu.as_ref().is_some_and(|n| n.supports(dtype)),
                "npu.dtypes",
            ),
            Engine::Cpu(_) => (
                self.arch.cpu.as_ref().is_some_and(|c| c.supports(dtype)),
                "cpu.clusters.simd_ops_per_cycle",
            ),
            Engine::Pim(_) => (
                self.arch.pim.as_ref().is_some_and(|p| p.supports(dtype)),
                "pim.dtypes",
            ),
            _ => (true, ""),
        };
        if !ok {
            self.out.push(format!(
                "{} does not compute in {dtype} (arch `{}` {field})",
                self.engine, self.arch.name
            ));
        }
    }

    /// On `npu.vec`, the arch's `npu.vector_ops` must list `op`.
    fn vector_op(&mut self, op: &str) {
        if self.engine != Engine::NpuVec {
            return;
        }
        if let Some(n) = &self.arch.npu
            && !n.vector_ops.iter().any(|o| o == op)
        {
            self.out.push(format!(
                "npu.vec of arch `{}` lacks `{op}` (npu.vector_ops: {})",
                self.arch.name,
                n.vector_ops.join(", ")
            ));
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

    fn pim_len(&mut self, len: u32, dtype: DType) {
        self.nonzero(&[("len", u64::from(len))]);
        self.unit_dtype(dtype);
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
        self.unit_dtype(i.dtype);
    }
    fn eltwise(&mut self, i: &Eltwise) {
        self.vector_op(i.op.name());
        self.rows_cols(i.rows, i.cols);
    }
    fn unary(&mut self, i: &Unary) {
        if matches!(i.func, MathFn::Exp | MathFn::Recip | MathFn::Rsqrt) {
            self.vector_op(i.func.name());
        }
        self.rows_cols(i.rows, i.cols);
    }
    fn act(&mut self, i: &Act) {
        self.vector_op(i.func.name());
        self.rows_cols(i.rows, i.cols);
    }
    fn softmax(&mut self, i: &Softmax) {
        self.vector_op("softmax");
        self.rows_cols(i.rows, i.cols);
    }
    fn layernorm(&mut self, i: &LayerNorm) {
        self.vector_op("layernorm");
        self.rows_cols(i.rows, i.cols);
    }
    fn rmsnorm(&mut self, i: &RmsNorm) {
        self.vector_op("rmsnorm");
        self.rows_cols(i.rows, i.cols);
    }
    fn reduce(&mut self, i: &Reduce) {
        match i.op {
            ReduceOp::Sum => self.vector_op("reduce_sum"),
            ReduceOp::Max => self.vector_op("reduce_max"),
            _ => {}
        }
        self.rows_cols(i.rows, i.cols);
    }
    fn convert(&mut self, i: &Convert) {
        self.vector_op("requant");
        self.rows_cols(i.rows, i.cols);
    }
    fn transpose(&mut self, i: &Transpose) {
        self.rows_cols(i.rows, i.cols);
    }
    fn rope(&mut self, i: &Rope) {
        if !i.cols.is_multiple_of(2) {
            self.out.push(format!(
                "`cols` {} must be even (rotate_half splits the row)",
                i.cols
            ));
        }
        self.rows_cols(i.rows, i.cols);
    }
    fn gather(&mut self, i: &Gather) {
        self.rows_cols(i.rows, i.cols);
        self.nonzero(&[("table_rows", u64::from(i.table_rows))]);
    }
    fn pim_gemv(&mut self, i: &PimGemv) {
        self.rows_cols(i.rows, i.cols);
        self.unit_dtype(i.dtype);
    }
    fn pim_wr_gb(&mut self, i: &PimWrGb) {
        self.pim_len(i.len, i.dtype);
        self.global_buffer(i.len, i.dtype);
    }
    fn pim_wr_bias(&mut self, i: &PimWrBias) {
        self.pim_len(i.len, i.dtype);
    }
    fn pim_mac_abk(&mut self, i: &PimMacAbk) {
        self.rows_cols(i.rows, i.cols);
        self.unit_dtype(i.dtype);
    }
    fn pim_mac_sbk(&mut self, i: &PimMacSbk) {
        self.rows_cols(i.rows, i.cols);
        self.unit_dtype(i.dtype);
        let banks = self.arch.dram.banks_per_channel();
        if u32::from(i.bank) >= banks {
            self.out.push(format!(
                "`bank` {} does not exist (a channel has {banks} banks)",
                i.bank
            ));
        }
    }
    fn pim_rd_mac(&mut self, i: &PimRdMac) {
        self.pim_len(i.len, i.dtype);
    }
    fn pim_af(&mut self, i: &PimAf) {
        self.pim_len(i.len, i.dtype);
        if let Some(p) = &self.arch.pim
            && !p.activation_functions.iter().any(|f| f == i.func.name())
        {
            self.out.push(format!(
                "PIM of arch `{}` has no `{}` activation (pim.activation_functions: {})",
                self.arch.name,
                i.func,
                p.activation_functions.join(", ")
            ));
        }
    }
    fn pim_rd_af(&mut self, i: &PimRdAf) {
        self.pim_len(i.len, i.dtype);
    }
    fn pim_ewmul(&mut self, i: &PimEwMul) {
        self.pim_len(i.len, i.dtype);
    }
    fn pim_ewadd(&mut self, i: &PimEwAdd) {
        self.pim_len(i.len, i.dtype);
    }
}
