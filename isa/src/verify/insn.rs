//! Per-instruction checks. Operand spans come from [`Instruction::accesses`]: each
//! must lie in the memory the engine reads (scratchpad for `npu.*`, DRAM for
//! `cpu.N` and `pim.N`; DMA moves between the two), inside its buffer, with the
//! buffer's dtype. The rest is a [`Visitor`]: counts are non-zero, and the unit
//! supports the dtype and the operation.

use crate::insn::*;
use crate::program::Memory;
use crate::{AddrField, AddressMapper, Arch, Capability, DType, Program, Unit};

/// Checks one instruction at a time; problems for the current one collect in `out`.
pub(super) struct Checker<'a> {
    pub p: &'a Program,
    pub arch: &'a Arch,
    /// The arch's address mapper (`None` only for an arch that fails validation).
    pub mapper: Option<&'a AddressMapper>,
    pub engine: Engine,
    pub out: Vec<String>,
    /// Doubts about the current instruction that are not errors.
    pub warn: Vec<String>,
}

/// The lowest address bit of the fields that name a bank within a channel (rank,
/// bank group, bank) whose count exceeds 1: a byte range stays in one bank exactly
/// when its ends agree from this bit up (`None`: one bank per channel).
fn bank_shift(m: &AddressMapper) -> Option<u32> {
    [AddrField::Rank, AddrField::BankGroup, AddrField::Bank]
        .into_iter()
        .map(|f| m.field(f))
        .filter(|&(_, bits)| bits > 0)
        .map(|(shift, _)| shift)
        .min()
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

    /// The DRAM byte address of a slice (`None` if its buffer is missing).
    fn addr(&self, s: Slice) -> Option<u64> {
        let b = self.p.buffer(s.buf)?;
        b.addr.0.checked_add(s.offset.0)
    }

    /// PIM weight rows (PIM_SEMANTICS.md): every matrix row of `w` must lie in one
    /// channel; warns when channel N owns none of them (or, for `bank`, none in
    /// that bank).
    #[allow(clippy::too_many_arguments)]
    fn pim_rows(
        &mut self,
        w: Slice,
        rows: u32,
        cols: u32,
        ld: u32,
        dtype: DType,
        bank: Option<u16>,
    ) {
        if ld < cols {
            self.out.push(format!(
                "`ld` {ld} is less than `cols` {cols} (rows of `w` would overlap)"
            ));
            return;
        }
        let (Some(m), Some(base), Engine::Pim(n)) = (self.mapper, self.addr(w), self.engine) else {
            return;
        };
        let bits = u64::from(ld) * dtype.bits();
        if !bits.is_multiple_of(8) {
            self.out.push(format!(
                "`w`: a matrix row stride of {ld} {dtype} is not a whole number of bytes"
            ));
            return;
        }
        let stride = bits / 8;
        let row_bytes = dtype.bytes_for(u64::from(cols));
        let (cshift, cbits) = m.field(AddrField::Channel);
        let bshift = bank_shift(m);
        let (mut owned, mut in_bank) = (0u64, 0u64);
        for i in 0..u64::from(rows) {
            let s = base + i * stride;
            let e = s + row_bytes - 1;
            let (Ok(first), Ok(last)) = (m.decode(s), m.decode(e)) else {
                return; // out of range: the bounds check reports it
            };
            if cbits > 0 && s >> cshift != e >> cshift {
                self.out.push(format!(
                    "`w`: matrix row {i} (bytes {s:#x}..={e:#x}) straddles channels {} and {} (every row must lie in one channel)",
                    first.channel, last.channel
                ));
                return;
            }
            if first.channel != u32::from(n) {
                continue;
            }
            owned += 1;
            if let Some(b) = bank {
                let one_bank = bshift.is_none_or(|sh| s >> sh == e >> sh);
                if one_bank && self.flat_bank(&first) == u32::from(b) {
                    in_bank += 1;
                }
            }
        }
        if owned == 0 {
            self.warn.push(format!(
                "channel {n} owns none of the {rows} rows of `w` (the instruction does nothing)"
            ));
        } else if let Some(b) = bank
            && in_bank == 0
        {
            self.warn.push(format!(
                "none of the rows of `w` that channel {n} owns lie in bank {b} (the instruction does nothing)"
            ));
        }
    }

    /// Flat bank index within a channel: rank·banks_per_rank + group·banks_per_group + bank.
    fn flat_bank(&self, l: &crate::Location) -> u32 {
        let d = &self.arch.dram;
        (l.rank * d.bank_groups + l.bank_group) * d.banks_per_group + l.bank
    }

    /// `pim.ewmul` / `pim.ewadd` / `pim.ewact`: operands burst-aligned, and burst k
    /// of `a`, of `b` (when the op has one) and of `out` in the same channel and bank
    /// (in-bank compute); warns when no burst of `a` lies in channel N.
    fn pim_ew(&mut self, out: Slice, a: Slice, b: Option<Slice>, len: u32, dtype: DType) {
        let (Some(m), Engine::Pim(n)) = (self.mapper, self.engine) else {
            return;
        };
        let mut ops = vec![("a", a)];
        ops.extend(b.map(|b| ("b", b)));
        ops.push(("out", out));
        let mut addrs = Vec::with_capacity(ops.len());
        for &(name, s) in &ops {
            let Some(x) = self.addr(s) else {
                return;
            };
            addrs.push((name, x));
        }
        let burst = self.arch.dram.burst_bytes();
        let mut aligned = true;
        for &(name, addr) in &addrs {
            if !addr.is_multiple_of(burst) {
                self.out.push(format!(
                    "`{name}` at {addr:#x} is not aligned to a {burst}-byte burst"
                ));
                aligned = false;
            }
        }
        if !aligned {
            return;
        }
        let place = |l: &crate::Location| (l.channel, self.flat_bank(l));
        let bursts = dtype.bytes_for(u64::from(len)).div_ceil(burst);
        let mut mine = 0u64;
        for k in 0..bursts {
            let off = k * burst;
            let mut locs = Vec::with_capacity(addrs.len());
            for &(name, x) in &addrs {
                let Ok(l) = m.decode(x + off) else {
                    return; // out of range: the bounds check reports it
                };
                locs.push((name, place(&l), l.channel));
            }
            let (_, pa, ch) = locs[0];
            if locs.iter().any(|&(_, p, _)| p != pa) {
                let names: Vec<String> = locs.iter().map(|(n, _, _)| format!("`{n}`")).collect();
                let places: Vec<String> = locs.iter().map(|(_, p, _)| format!("{p:?}")).collect();
                self.out.push(format!(
                    "burst {k}: {} lie in (channel, bank) {}; in-bank compute needs one",
                    names.join(", "),
                    places.join(", ")
                ));
                return;
            }
            if ch == u32::from(n) {
                mine += 1;
            }
        }
        if mine == 0 {
            self.warn.push(format!(
                "no burst of `a` lies in channel {n} (the instruction does nothing)"
            ));
        }
    }

    /// `cols` elements must fit the channel's global buffer (a MAC reads its input
    /// vector from there).
    fn gb_cols(&mut self, cols: u32, dtype: DType) {
        if let Some(p) = &self.arch.pim {
            let bytes = dtype.bytes_for(u64::from(cols));
            if bytes > p.global_buffer_bytes {
                self.out.push(format!(
                    "`cols` {cols} of {dtype} ({bytes} bytes) exceed the PIM global buffer ({} bytes, pim.global_buffer_bytes)",
                    p.global_buffer_bytes
                ));
            }
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
        if i.wdtype == DType::I4 && !i.ld.is_multiple_of(2) {
            self.out.push(format!(
                "`ld` {} must be even for i4 weights (each matrix row starts on a byte)",
                i.ld
            ));
        } else {
            self.pim_rows(i.w, i.rows, i.cols, i.ld, i.wdtype, None);
        }
    }
    fn pim_gemv(&mut self, i: &PimGemv) {
        self.rows_cols(i.rows, i.cols);
        self.pim_rows(i.w, i.rows, i.cols, i.ld, i.dtype, None);
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
        self.gb_cols(i.cols, i.dtype);
        self.pim_rows(i.w, i.rows, i.cols, i.ld, i.dtype, None);
    }
    fn pim_mac_sbk(&mut self, i: &PimMacSbk) {
        self.rows_cols(i.rows, i.cols);
        let banks = self.arch.dram.banks_per_channel();
        if u32::from(i.bank) >= banks {
            self.out.push(format!(
                "`bank` {} does not exist (a channel has {banks} banks)",
                i.bank
            ));
        } else {
            self.pim_rows(i.w, i.rows, i.cols, i.ld, i.dtype, Some(i.bank));
        }
        self.gb_cols(i.cols, i.dtype);
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
        self.pim_ew(i.out, i.a, Some(i.b), i.len, i.dtype);
    }
    fn pim_ewadd(&mut self, i: &PimEwAdd) {
        self.pim_len(i.len);
        self.pim_ew(i.out, i.a, Some(i.b), i.len, i.dtype);
    }
    fn pim_ewact(&mut self, i: &PimEwAct) {
        self.pim_len(i.len);
        self.pim_ew(i.out, i.a, None, i.len, i.dtype);
    }
}
