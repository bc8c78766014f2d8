//! Functional mode: the values every instruction computes, on real bytes in
//! simulated DRAM, scratchpad and PIM channel buffers.
//!
//! The timing engines call [`execute`] once per instruction, at the instruction's
//! start time, with the one [`DataMemory`] of the run. That order is correct for
//! race-free programs: semaphores order every pair of conflicting accesses, so an
//! instruction sees exactly the writes that happen before it. Nothing here affects
//! timing; timing mode never calls it. `signal` and `wait` are no-ops here (the
//! engines own the semaphores).
//!
//! Every instruction first checks each operand span ([`Instruction::accesses`])
//! against its buffer, then reads all its inputs before writing any output, so
//! in-place forms (`act gelu, a, a`) are well defined. Bad input (an operand outside
//! its buffer, a dtype an operation has no meaning for, an integer division by zero,
//! a gather index out of range, a PIM read-out of results never computed) is
//! [`Error::Functional`] naming the engine, the mnemonic and the reason; nothing
//! panics.
//!
//! # Numerics (isa/README.md is the contract)
//!
//! - `gemm` (`gemm.rs`): products accumulate in index order (k ascending) in i32 for
//!   i4 / i8 / i32 inputs (wrapping, as an i32 accumulator does), i64 for i64, f32
//!   for f32 / f16 / bf16 (each product and each sum rounded to f32, no fused
//!   multiply-add). Then `scale · acc` (in f32 for float inputs, exactly in f64 for
//!   integers) plus the old `out` when `accumulate`, rounded **once** to `out_dtype`:
//!   nearest-even for floats, nearest-even and saturating for integers. With
//!   `scale = 1` an integer result is exact.
//! - Element-wise maps (`eltwise`, `unary`, `act`, `convert`, `rope`, `pim.ewadd`,
//!   `pim.ewmul`, `pim.ewact`, `pim.af`): each result is the operation evaluated in f64 on the
//!   exact operand values (transcendentals from the pure-Rust `libm`) and rounded
//!   once to the result dtype. This is what an f32 datapath rounding once gives for
//!   `+ − × ÷ √` on every dtype (correct rounding), and it makes these instructions
//!   **bit-identical** to the compiler's reference interpreter, which evaluates the
//!   same formulas in f64 and rounds once per op. Integer `+ − ×` wrap to the
//!   dtype's width, `div` truncates; `gelu` is the tanh approximation (ISA).
//! - Row statistics (`softmax`, `layernorm`, `rmsnorm`, `reduce sum / mean`) and
//!   PIM MACs run in f32 as vector hardware does: every intermediate is an f32,
//!   sums accumulate in index order, the result is rounded once to the dtype.
//!   `max` / `min` are exact (NaN propagates).
//! - Data movement (DMA, `transpose`, `scopy`, `gather`, `select`, `topk` values,
//!   `moe_dispatch`) copies bit patterns.
//! - `qgemm` / `pim.qgemv`, `quantize` / `dequantize`, `convert`, `rope`, `topk`,
//!   `moe_combine` and the masks follow isa/README.md's formulas (see each function's
//!   docs); `moe_combine` accumulates in f32.
//!
//! # Tolerance against the reference interpreter (f64, one rounding per op)
//!
//! Integer paths are exact. Element-wise maps are bit-identical. For the f32
//! accumulations: with f16 / bf16 results, each element is within 1 ulp of the
//! dtype of the interpreter's, except where an accumulation of `n` terms cancels
//! (there the bound is the f32 one); with f32 results, the relative error of a dot
//! product or row sum of `n` terms is at most about `n · 2^-24 · Σ|terms| / |sum|`,
//! and softmax / norms are within a few f32 ulp times `n`. A compiler test comparing
//! whole programs should allow, per output element, `(n + 2) · 2^-24 · Σ|terms|`
//! plus one ulp of the output dtype, with `n` the longest reduction feeding it.

mod dma;
mod elem;
mod gemm;
mod memory;
mod pim;
mod vector;

pub use memory::DataMemory;

use triad_isa::{
    Act, Arch, CausalMask, Cmp, Convert, Dequantize, DmaCopy, Eltwise, Engine, Gather, Gemm,
    Instruction, LayerNorm, Load, Memory, MoeCombine, MoeDispatch, PimAf, PimEwAct, PimEwAdd,
    PimEwMul, PimGemv, PimMacAbk, PimMacSbk, PimQGemv, PimRdAf, PimRdMac, PimWrBias, PimWrGb,
    Program, QGemm, Quantize, Reduce, RmsNorm, Rope, Select, Signal, Slice, Softmax, Store,
    StridedCopy, TopK, Transpose, TreeMask, Unary, Visitor, Wait,
};

use crate::{Error, Result};
use elem::Vals;

/// Executes `insn` (running on `engine`) on `mem`: the values every instruction
/// computes, per isa/README.md and the module docs. `program` resolves buffer
/// operands; `arch` gives the PIM global buffer size and the DRAM address mapping.
pub fn execute(
    engine: Engine,
    insn: &Instruction,
    program: &Program,
    mem: &mut DataMemory,
    arch: &Arch,
) -> Result<()> {
    let mut ex = Exec {
        engine,
        mnemonic: insn.mnemonic(),
        program,
        mem,
        arch,
    };
    ex.check_operands(insn)?;
    insn.accept(&mut ex)
}

/// One instruction's execution context, shared by the family modules.
pub(crate) struct Exec<'a> {
    pub(crate) engine: Engine,
    pub(crate) mnemonic: &'static str,
    pub(crate) program: &'a Program,
    pub(crate) mem: &'a mut DataMemory,
    pub(crate) arch: &'a Arch,
}

impl Exec<'_> {
    /// A [`Error::Functional`] for this instruction.
    pub(crate) fn err(&self, message: impl Into<String>) -> Error {
        Error::Functional {
            engine: self.engine.to_string(),
            insn: self.mnemonic.to_string(),
            message: message.into(),
        }
    }

    /// Every operand span lies inside its buffer.
    fn check_operands(&self, insn: &Instruction) -> Result<()> {
        for a in insn.accesses() {
            let b = self.program.buffer(a.slice.buf).ok_or_else(|| {
                self.err(format!(
                    "`{}`: buffer #{} does not exist ({} buffers)",
                    a.operand,
                    a.slice.buf.0,
                    self.program.buffers.len()
                ))
            })?;
            let end = a.bytes.and_then(|n| a.slice.offset.0.checked_add(n.0));
            let size = b.size().map(|s| s.0);
            match (end, size) {
                (Some(e), Some(s)) if e <= s => {}
                _ => {
                    return Err(self.err(format!(
                        "`{}`: {} bytes at offset {} do not fit in buffer `{}` ({} bytes)",
                        a.operand,
                        a.bytes.map_or("2^64 or more".into(), |n| n.0.to_string()),
                        a.slice.offset.0,
                        b.name,
                        size.map_or("2^64 or more".into(), |s| s.to_string()),
                    )));
                }
            }
        }
        Ok(())
    }

    /// Memory and byte address of a slice (its buffer exists: operands are checked).
    pub(crate) fn place(&self, s: Slice) -> (Memory, u64) {
        match self.program.buffer(s.buf) {
            Some(b) => (b.mem, b.addr.0.saturating_add(s.offset.0)),
            None => (Memory::Dram, u64::MAX),
        }
    }

    /// `n` elements of `dtype` at `s`.
    pub(crate) fn load(&self, s: Slice, dtype: triad_isa::DType, n: u64) -> Result<Vals> {
        let (mem, addr) = self.place(s);
        let n = self.count(n)?;
        self.mem.read_elems(mem, addr, dtype, n)
    }

    /// `n` elements of float `dtype` at `s`; an error for other dtypes.
    pub(crate) fn floats(&self, s: Slice, dtype: triad_isa::DType, n: u64) -> Result<Vec<f32>> {
        match self.load(s, dtype, n)? {
            Vals::Float(v) => Ok(v),
            Vals::Int(_) => Err(self.err(format!("is defined on f32, f16 and bf16, not {dtype}"))),
        }
    }

    /// Write `v` as `dtype` at `s`.
    pub(crate) fn store(&mut self, s: Slice, dtype: triad_isa::DType, v: &Vals) -> Result<()> {
        let (mem, addr) = self.place(s);
        self.mem.write_elems(mem, addr, dtype, v)
    }

    /// An element count as `usize` (always fits on 64-bit hosts).
    pub(crate) fn count(&self, n: u64) -> Result<usize> {
        usize::try_from(n).map_err(|_| self.err(format!("{n} elements exceed the host's memory")))
    }
}

impl Visitor for Exec<'_> {
    type Output = Result<()>;

    fn signal(&mut self, _: &Signal) -> Result<()> {
        Ok(())
    }
    fn wait(&mut self, _: &Wait) -> Result<()> {
        Ok(())
    }
    fn load(&mut self, i: &Load) -> Result<()> {
        dma::transfer(self, i.into())
    }
    fn store(&mut self, i: &Store) -> Result<()> {
        dma::transfer(self, i.into())
    }
    fn copy(&mut self, i: &DmaCopy) -> Result<()> {
        dma::transfer(self, i.into())
    }
    fn gemm(&mut self, i: &Gemm) -> Result<()> {
        gemm::gemm(self, i)
    }
    fn eltwise(&mut self, i: &Eltwise) -> Result<()> {
        vector::eltwise(self, i)
    }
    fn unary(&mut self, i: &Unary) -> Result<()> {
        vector::unary(self, i)
    }
    fn act(&mut self, i: &Act) -> Result<()> {
        vector::act(self, i)
    }
    fn softmax(&mut self, i: &Softmax) -> Result<()> {
        vector::softmax(self, i)
    }
    fn layernorm(&mut self, i: &LayerNorm) -> Result<()> {
        vector::layernorm(self, i)
    }
    fn rmsnorm(&mut self, i: &RmsNorm) -> Result<()> {
        vector::rmsnorm(self, i)
    }
    fn reduce(&mut self, i: &Reduce) -> Result<()> {
        vector::reduce(self, i)
    }
    fn convert(&mut self, i: &Convert) -> Result<()> {
        vector::convert(self, i)
    }
    fn transpose(&mut self, i: &Transpose) -> Result<()> {
        vector::transpose(self, i)
    }
    fn rope(&mut self, i: &Rope) -> Result<()> {
        vector::rope(self, i)
    }
    fn gather(&mut self, i: &Gather) -> Result<()> {
        vector::gather(self, i)
    }
    fn qgemm(&mut self, i: &QGemm) -> Result<()> {
        gemm::qgemm(self, i)
    }
    fn cmp(&mut self, i: &Cmp) -> Result<()> {
        vector::cmp(self, i)
    }
    fn select(&mut self, i: &Select) -> Result<()> {
        vector::select(self, i)
    }
    fn causal_mask(&mut self, i: &CausalMask) -> Result<()> {
        vector::causal_mask(self, i)
    }
    fn tree_mask(&mut self, i: &TreeMask) -> Result<()> {
        vector::tree_mask(self, i)
    }
    fn topk(&mut self, i: &TopK) -> Result<()> {
        vector::topk(self, i)
    }
    fn moe_dispatch(&mut self, i: &MoeDispatch) -> Result<()> {
        vector::moe_dispatch(self, i)
    }
    fn moe_combine(&mut self, i: &MoeCombine) -> Result<()> {
        vector::moe_combine(self, i)
    }
    fn quantize(&mut self, i: &Quantize) -> Result<()> {
        vector::quantize(self, i)
    }
    fn dequantize(&mut self, i: &Dequantize) -> Result<()> {
        vector::dequantize(self, i)
    }
    fn scopy(&mut self, i: &StridedCopy) -> Result<()> {
        vector::scopy(self, i)
    }
    fn pim_qgemv(&mut self, i: &PimQGemv) -> Result<()> {
        pim::qgemv(self, i)
    }
    fn pim_gemv(&mut self, i: &PimGemv) -> Result<()> {
        pim::gemv(self, i)
    }
    fn pim_wr_gb(&mut self, i: &PimWrGb) -> Result<()> {
        pim::wr_gb(self, i)
    }
    fn pim_wr_bias(&mut self, i: &PimWrBias) -> Result<()> {
        pim::wr_bias(self, i)
    }
    fn pim_mac_abk(&mut self, i: &PimMacAbk) -> Result<()> {
        pim::mac_abk(self, i)
    }
    fn pim_mac_sbk(&mut self, i: &PimMacSbk) -> Result<()> {
        pim::mac_sbk(self, i)
    }
    fn pim_rd_mac(&mut self, i: &PimRdMac) -> Result<()> {
        pim::rd_mac(self, i)
    }
    fn pim_af(&mut self, i: &PimAf) -> Result<()> {
        pim::af(self, i)
    }
    fn pim_rd_af(&mut self, i: &PimRdAf) -> Result<()> {
        pim::rd_af(self, i)
    }
    fn pim_ewmul(&mut self, i: &PimEwMul) -> Result<()> {
        pim::ewop(self, i.out, i.a, i.b, i.len, i.dtype, pim::EwOp::Mul)
    }
    fn pim_ewadd(&mut self, i: &PimEwAdd) -> Result<()> {
        pim::ewop(self, i.out, i.a, i.b, i.len, i.dtype, pim::EwOp::Add)
    }
    fn pim_ewact(&mut self, i: &PimEwAct) -> Result<()> {
        pim::ewact(self, i)
    }
}
