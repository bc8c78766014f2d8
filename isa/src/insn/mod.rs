//! The instruction set: one [`Instruction`] enum, one struct of operands per
//! instruction, and the [`Visitor`] trait every consumer (timing model, functional
//! executor, disassembler, verifier) implements.
//!
//! The table below is the single definition: the `instruction_set!` macro turns each
//! row into a struct, an enum variant, a visitor method, an opcode, a mnemonic and the
//! text/binary codecs. `isa/README.md` documents the semantics of every row.
//!
//! Conventions: every tensor operand is a [`Slice`] (buffer + byte offset); tiles are
//! dense row-major; element counts are `u32`, byte counts and strides are
//! [`Bytes`]; `dtype` names the element type the instruction reads (and writes,
//! unless an `out_dtype`/`to` operand says otherwise).

#[macro_use]
mod macros;
mod access;
mod field;
mod types;

pub use access::{Access, AccessKind};
pub use field::Synth;
pub(crate) use field::{Field, Names, Scope, parse_uint};
pub use types::{
    ActFn, BinOp, BufId, Engine, InsnClass, MathFn, PimFn, ReduceOp, SemId, Slice, UnknownEngine,
};

use crate::asm::Bound;
use crate::binary::{Reader, Writer};
use crate::{Bytes, DType};

instruction_set! {
    /// `signal sem, value=V`: add V to counting semaphore `sem` (never blocks).
    Signal => signal, 0x01, "signal", Sync {
        /// The semaphore.
        sem: SemId,
        /// Amount added to its count.
        value: u32,
    }
    /// `wait sem, value=V`: block this engine until `sem`'s count is at least V, then
    /// subtract V.
    Wait => wait, 0x02, "wait", Sync {
        /// The semaphore.
        sem: SemId,
        /// Amount taken from its count.
        value: u32,
    }

    /// `load dst, src, …`: 2-D strided copy from a DRAM buffer into a scratchpad buffer.
    Load => load, 0x10, "load", Dma {
        /// Scratchpad destination.
        dst: Slice,
        /// DRAM source.
        src: Slice,
        /// Number of rows copied.
        rows: u32,
        /// Bytes per row.
        row_bytes: Bytes,
        /// Distance between row starts in the source.
        src_stride: Bytes,
        /// Distance between row starts in the destination.
        dst_stride: Bytes,
    }
    /// `store dst, src, …`: 2-D strided copy from a scratchpad buffer to a DRAM buffer.
    Store => store, 0x11, "store", Dma {
        /// DRAM destination.
        dst: Slice,
        /// Scratchpad source.
        src: Slice,
        /// Number of rows copied.
        rows: u32,
        /// Bytes per row.
        row_bytes: Bytes,
        /// Distance between row starts in the source.
        src_stride: Bytes,
        /// Distance between row starts in the destination.
        dst_stride: Bytes,
    }
    /// `copy dst, src, …`: 2-D strided copy within one memory (DRAM to DRAM or
    /// scratchpad to scratchpad), e.g. appending to a KV cache.
    DmaCopy => copy, 0x12, "copy", Dma {
        /// Destination.
        dst: Slice,
        /// Source, in the same memory as `dst`.
        src: Slice,
        /// Number of rows copied.
        rows: u32,
        /// Bytes per row.
        row_bytes: Bytes,
        /// Distance between row starts in the source.
        src_stride: Bytes,
        /// Distance between row starts in the destination.
        dst_stride: Bytes,
    }

    /// `gemm out, a, b, …`: out[m×n] = convert(scale · a[m×k]·b[k×n] + (accumulate ?
    /// out : 0)) with a wide accumulator (i32 for integer inputs, f32 for floats).
    Gemm => gemm, 0x20, "gemm", Matrix {
        /// Result tile, `m×n` of `out_dtype`.
        out: Slice,
        /// Left operand, `m×k` of `dtype`.
        a: Slice,
        /// Right operand, `k×n` of `dtype`.
        b: Slice,
        /// Rows of `a` and `out`.
        m: u32,
        /// Columns of `b` and `out`.
        n: u32,
        /// Reduction length.
        k: u32,
        /// Element type of `a` and `b`.
        dtype: DType,
        /// Element type of `out`.
        out_dtype: DType,
        /// Add the product to the existing contents of `out`.
        accumulate: bool,
        /// Requantisation factor applied to the product before conversion (1 for none).
        scale: f32,
    }

    /// `eltwise op, out, a, b, …`: out = a op b element-wise over rows×cols; with
    /// `bcast=true`, `b` is one row of `cols` elements reused for every row.
    Eltwise => eltwise, 0x30, "eltwise", Vector {
        /// The operation.
        op: BinOp,
        /// Result, rows×cols.
        out: Slice,
        /// Left operand, rows×cols.
        a: Slice,
        /// Right operand, rows×cols (or cols when `bcast`).
        b: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Element type of every operand.
        dtype: DType,
        /// Broadcast `b` over rows.
        bcast: bool,
    }
    /// `unary func, out, x, …`: out = func(x) element-wise.
    Unary => unary, 0x31, "unary", Vector {
        /// The function.
        func: MathFn,
        /// Result, rows×cols.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `act func, out, x, …`: out = func(x) element-wise, for activation functions.
    Act => act, 0x32, "act", Vector {
        /// The activation.
        func: ActFn,
        /// Result, rows×cols.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `softmax out, x, …`: numerically stable softmax of each row.
    Softmax => softmax, 0x33, "softmax", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Rows.
        rows: u32,
        /// Columns (the softmax axis).
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `layernorm out, x, gamma, beta, …`: per row, (x − mean)/sqrt(var + eps)·gamma + beta.
    LayerNorm => layernorm, 0x34, "layernorm", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Scale, cols.
        gamma: Slice,
        /// Shift, cols.
        beta: Slice,
        /// Rows.
        rows: u32,
        /// Columns (the normalised axis).
        cols: u32,
        /// Element type.
        dtype: DType,
        /// Added to the variance.
        eps: f32,
    }
    /// `rmsnorm out, x, gamma, …`: per row, x / sqrt(mean(x²) + eps) · gamma.
    RmsNorm => rmsnorm, 0x35, "rmsnorm", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Scale, cols.
        gamma: Slice,
        /// Rows.
        rows: u32,
        /// Columns (the normalised axis).
        cols: u32,
        /// Element type.
        dtype: DType,
        /// Added to the mean square.
        eps: f32,
    }
    /// `reduce op, out, x, …`: `out[r] = op(x[r, 0..cols])`.
    Reduce => reduce, 0x36, "reduce", Vector {
        /// The reduction.
        op: ReduceOp,
        /// Result, rows elements.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Rows.
        rows: u32,
        /// Columns (the reduced axis).
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `convert out, x, …`: out = to(x · scale) element-wise, rounding to nearest even
    /// and saturating for integer `to` (quantise, dequantise, cast).
    Convert => convert, 0x37, "convert", Vector {
        /// Result, rows×cols of `to`.
        out: Slice,
        /// Input, rows×cols of `from`.
        x: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Input element type.
        from: DType,
        /// Output element type.
        to: DType,
        /// Factor applied before conversion.
        scale: f32,
    }
    /// `transpose out, x, …`: `out[c, r] = x[r, c]`.
    Transpose => transpose, 0x38, "transpose", Vector {
        /// Result, cols×rows.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Rows of `x`.
        rows: u32,
        /// Columns of `x`.
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `rope out, x, cos, sin, …`: rotary embedding, out = x·cos + rotate_half(x)·sin
    /// per row, with rotate_half(x) = [−x₂, x₁] over the two halves of the row.
    Rope => rope, 0x39, "rope", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Cosine table, rows×cols.
        cos: Slice,
        /// Sine table, rows×cols.
        sin: Slice,
        /// Rows (positions).
        rows: u32,
        /// Columns (head dimension, even).
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `gather out, table, idx, …`: `out[r] = table[idx[r]]` (row lookup, e.g. an
    /// embedding); `idx` holds `rows` i32 indices below `table_rows`.
    Gather => gather, 0x3a, "gather", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Table, table_rows×cols.
        table: Slice,
        /// Indices, rows elements of i32.
        idx: Slice,
        /// Number of rows looked up.
        rows: u32,
        /// Row length.
        cols: u32,
        /// Rows in the table.
        table_rows: u32,
        /// Element type of `table` and `out`.
        dtype: DType,
    }

    /// `pim.gemv out, w, x, …`: `out[rows] = w[rows×cols] · x[cols]` inside the DRAM
    /// channel's banks (expands to WR_GB, MAC_ABK per row group, RD_MAC).
    PimGemv => pim_gemv, 0x40, "pim.gemv", Pim {
        /// Result vector, rows elements.
        out: Slice,
        /// Weight matrix laid out in the channel's banks, rows×cols.
        w: Slice,
        /// Input vector, cols elements.
        x: Slice,
        /// Output length.
        rows: u32,
        /// Input length.
        cols: u32,
        /// Element type of every operand.
        dtype: DType,
    }
    /// `pim.wr_gb src, …` (AiM WR_GB): write `len` elements into the channel's global
    /// buffer, broadcast to every bank's MAC unit.
    PimWrGb => pim_wr_gb, 0x41, "pim.wr_gb", Pim {
        /// Source vector.
        src: Slice,
        /// Elements written.
        len: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.wr_bias src, …` (AiM WR_BIAS): preload the MAC accumulators with `len`
    /// bias values.
    PimWrBias => pim_wr_bias, 0x42, "pim.wr_bias", Pim {
        /// Bias values.
        src: Slice,
        /// Elements written.
        len: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.mac_abk w, …` (AiM MAC_ABK): every bank multiplies its share of the rows of
    /// `w` with the global buffer and accumulates, all banks in lock step.
    PimMacAbk => pim_mac_abk, 0x43, "pim.mac_abk", Pim {
        /// Weight region, rows×cols, rows spread over the banks.
        w: Slice,
        /// Rows of the region.
        rows: u32,
        /// Columns (elements multiplied per row).
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.mac_sbk w, bank=B, …` (AiM MAC_SBK): as `pim.mac_abk` in one bank only.
    PimMacSbk => pim_mac_sbk, 0x44, "pim.mac_sbk", Pim {
        /// Weight region, rows×cols, all in bank `bank`.
        w: Slice,
        /// The bank.
        bank: u16,
        /// Rows of the region.
        rows: u32,
        /// Columns (elements multiplied per row).
        cols: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.rd_mac dst, …` (AiM RD_MAC): read `len` accumulator results out to `dst`.
    PimRdMac => pim_rd_mac, 0x45, "pim.rd_mac", Pim {
        /// Destination.
        dst: Slice,
        /// Elements read.
        len: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.af func, …` (AiM AF): apply the activation look-up table to `len`
    /// accumulator results in place.
    PimAf => pim_af, 0x46, "pim.af", Pim {
        /// The activation.
        func: PimFn,
        /// Results transformed.
        len: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.rd_af dst, …` (AiM RD_AF): read `len` activation results out to `dst`.
    PimRdAf => pim_rd_af, 0x47, "pim.rd_af", Pim {
        /// Destination.
        dst: Slice,
        /// Elements read.
        len: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.ewmul out, a, b, …` (AiM EWMUL): out = a · b element-wise inside the banks.
    PimEwMul => pim_ewmul, 0x48, "pim.ewmul", Pim {
        /// Result.
        out: Slice,
        /// Left operand.
        a: Slice,
        /// Right operand.
        b: Slice,
        /// Elements.
        len: u32,
        /// Element type.
        dtype: DType,
    }
    /// `pim.ewadd out, a, b, …` (AiM EWADD): out = a + b element-wise inside the banks.
    PimEwAdd => pim_ewadd, 0x49, "pim.ewadd", Pim {
        /// Result.
        out: Slice,
        /// Left operand.
        a: Slice,
        /// Right operand.
        b: Slice,
        /// Elements.
        len: u32,
        /// Element type.
        dtype: DType,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_and_mnemonics_are_unique() {
        let mut ops = Instruction::OPCODES.to_vec();
        ops.sort_unstable();
        ops.dedup();
        assert_eq!(ops.len(), Instruction::OPCODES.len());
        let mut m = Instruction::MNEMONICS.to_vec();
        m.sort_unstable();
        m.dedup();
        assert_eq!(m.len(), Instruction::MNEMONICS.len());
    }

    #[test]
    fn visitor_dispatches_to_the_matching_method() {
        struct Name;
        macro_rules! names {
            ($($m:ident: $t:ident),*) => {
                impl Visitor for Name {
                    type Output = &'static str;
                    $(fn $m(&mut self, _: &$t) -> &'static str { $t::MNEMONIC })*
                }
            };
        }
        names!(signal: Signal, wait: Wait, load: Load, store: Store, copy: DmaCopy, gemm: Gemm,
            eltwise: Eltwise, unary: Unary, act: Act, softmax: Softmax, layernorm: LayerNorm,
            rmsnorm: RmsNorm, reduce: Reduce, convert: Convert, transpose: Transpose,
            rope: Rope, gather: Gather, pim_gemv: PimGemv, pim_wr_gb: PimWrGb,
            pim_wr_bias: PimWrBias, pim_mac_abk: PimMacAbk, pim_mac_sbk: PimMacSbk,
            pim_rd_mac: PimRdMac, pim_af: PimAf, pim_rd_af: PimRdAf, pim_ewmul: PimEwMul,
            pim_ewadd: PimEwAdd);
        struct Fixed(u64);
        impl Synth for Fixed {
            fn int(&mut self, lo: u64, hi: u64) -> u64 {
                self.0 = self.0.wrapping_add(1);
                lo + self.0 % (hi - lo + 1)
            }
            fn buf(&mut self) -> BufId {
                BufId(0)
            }
            fn sem(&mut self) -> SemId {
                SemId(0)
            }
        }
        for &op in Instruction::OPCODES {
            let i = Instruction::synthesize(op, &mut Fixed(0)).unwrap();
            assert_eq!(i.opcode(), op);
            assert_eq!(i.accept(&mut Name), i.mnemonic());
        }
        assert!(Instruction::synthesize(0xff, &mut Fixed(0)).is_none());
    }
}
