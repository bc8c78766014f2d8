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
mod transfer;
mod types;

pub use crate::ops::{ActFn, Bcast, BinOp, CmpOp, MathFn, PimFn, ReduceOp};
pub use access::{Access, AccessKind};
pub use field::Synth;
pub(crate) use field::{Field, Names, Operands, Scope};
pub use transfer::Transfer2d;
pub use types::{BufId, Dims, Engine, InsnClass, Perm, SemId, Slice, Strides, UnknownEngine};

use crate::codec::{Reader, Writer};
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

    /// `qgemm out, a, w, scale, zero, …`: mixed-precision GEMM (W8A16 / W4A16):
    /// `out[i, j] = round(scale[j] · Σ_k a[i, k] · (w[k, j] − zero[j]))`.
    QGemm => qgemm, 0x21, "qgemm", Matrix {
        /// Result, m×n of `dtype`.
        out: Slice,
        /// Activations, m×k of `dtype` (float).
        a: Slice,
        /// Quantised weights, k×n of `wdtype` (i8 or i4).
        w: Slice,
        /// Per-output-channel scales, n of f32.
        scale: Slice,
        /// Per-output-channel zero points, n of `wdtype` (zeros if symmetric).
        zero: Slice,
        /// Rows of `a` and `out`.
        m: u32,
        /// Columns of `w` and `out`.
        n: u32,
        /// Reduction length.
        k: u32,
        /// Activation and result type.
        dtype: DType,
        /// Weight type.
        wdtype: DType,
    }

    /// `eltwise op, out, a, b, …`: out = a op b element-wise over rows×cols; `b` is
    /// read whole or broadcast (`bcast`: none, row, col, scalar).
    Eltwise => eltwise, 0x30, "eltwise", Vector {
        /// The operation.
        op: BinOp,
        /// Result, rows×cols.
        out: Slice,
        /// Left operand, rows×cols.
        a: Slice,
        /// Right operand, as `bcast` says.
        b: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Element type of every operand.
        dtype: DType,
        /// How `b` is read.
        bcast: Bcast,
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
    /// `convert out, x, …`: a cast, `out = cast_to(x)` (scale 1) or
    /// `cast_to(f32(x) · scale)`, with the IR's `Cast` rules (isa/README.md).
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
    /// `transpose out, x, dims, perm, dtype`: N-D (up to 4-D) permutation of axes:
    /// out has dims `dims[perm[k]]` and `out[j] = x[i]` with `i[perm[k]] = j[k]`.
    Transpose => transpose, 0x38, "transpose", Vector {
        /// Result, the permuted dims.
        out: Slice,
        /// Input, `dims` dense row-major.
        x: Slice,
        /// Input dims, outermost first (pad with leading 1s).
        dims: Dims,
        /// Output axis k is input axis `perm[k]`.
        perm: Perm,
        /// Element type.
        dtype: DType,
    }
    /// `rope out, x, pos, …`: rotary position embedding (rotate-half form) of each
    /// row of x, row r at position `pos[r mod seq]`, frequencies `theta^(-2i/rotary)`.
    Rope => rope, 0x39, "rope", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Input, rows×cols (rows = every leading dim × seq).
        x: Slice,
        /// Positions, seq integers of `pos_dtype`.
        pos: Slice,
        /// Rows.
        rows: u32,
        /// Columns (head dimension).
        cols: u32,
        /// Positions per cycle of rows (the sequence length).
        seq: u32,
        /// Rotated features, even, at most cols (the IR's rotary_dim, or cols).
        rotary: u32,
        /// Element type of x and out.
        dtype: DType,
        /// Element type of pos: i32 or i64.
        pos_dtype: DType,
        /// Frequency base (10000 for Llama-2).
        theta: f32,
    }
    /// `gather out, table, idx, …`: `out[r] = table[idx[r]]` (row lookup, e.g. an
    /// embedding); `idx` holds `rows` indices of `idx_dtype` in
    /// `-table_rows..table_rows`, a negative one counting from the end (ONNX).
    Gather => gather, 0x3a, "gather", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Table, table_rows×cols.
        table: Slice,
        /// Indices, rows elements of `idx_dtype`.
        idx: Slice,
        /// Number of rows looked up.
        rows: u32,
        /// Row length.
        cols: u32,
        /// Rows in the table.
        table_rows: u32,
        /// Element type of `table` and `out`.
        dtype: DType,
        /// Element type of `idx`: i32 or i64.
        idx_dtype: DType,
    }
    /// `cmp op, out, a, b, …`: out = (a op b) as bool, element-wise; `b` broadcast
    /// as `bcast` says.
    Cmp => cmp, 0x3b, "cmp", Vector {
        /// The comparison.
        op: CmpOp,
        /// Result, rows×cols of bool.
        out: Slice,
        /// Left operand, rows×cols.
        a: Slice,
        /// Right operand, as `bcast` says.
        b: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Element type of `a` and `b`.
        dtype: DType,
        /// How `b` is read.
        bcast: Bcast,
    }
    /// `select out, cond, a, b, …`: out = cond ? a : b element-wise (ONNX `Where`),
    /// each input read whole or broadcast.
    Select => select, 0x3c, "select", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Condition, bool, as `cond_bcast` says.
        cond: Slice,
        /// Taken where cond is true, as `a_bcast` says.
        a: Slice,
        /// Taken where cond is false, as `b_bcast` says.
        b: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Element type of `a`, `b` and `out`.
        dtype: DType,
        /// How `cond` is read.
        cond_bcast: Bcast,
        /// How `a` is read.
        a_bcast: Bcast,
        /// How `b` is read.
        b_bcast: Bcast,
    }
    /// `causal_mask out, x, …`: out = x, except −inf where the key's position
    /// `k_start + c` exceeds the query's `q_start + (r mod seq)`.
    CausalMask => causal_mask, 0x3d, "causal_mask", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Attention scores, rows×cols (rows = heads × seq queries, cols keys).
        x: Slice,
        /// Rows.
        rows: u32,
        /// Columns (keys).
        cols: u32,
        /// Queries per head: row r is query r mod seq.
        seq: u32,
        /// Position of query 0 (the KV-cache length before these queries).
        q_start: u32,
        /// Position of key column 0.
        k_start: u32,
        /// Element type (float).
        dtype: DType,
    }
    /// `tree_mask out, x, mask, …`: out = x where `mask[r mod seq, c]`, else −inf
    /// (tree attention of speculative decoding; any explicit boolean mask).
    TreeMask => tree_mask, 0x3e, "tree_mask", Vector {
        /// Result, rows×cols.
        out: Slice,
        /// Attention scores, rows×cols.
        x: Slice,
        /// Which keys each query sees, seq×cols of bool.
        mask: Slice,
        /// Rows.
        rows: u32,
        /// Columns (keys).
        cols: u32,
        /// Rows of the mask: row r uses mask row r mod seq.
        seq: u32,
        /// Element type (float).
        dtype: DType,
    }
    /// `topk values, indices, x, …`: the k largest of each row, sorted descending,
    /// ties by lower index, NaN largest.
    TopK => topk, 0x3f, "topk", Vector {
        /// Values, rows×k of `dtype`.
        values: Slice,
        /// Column indices, rows×k of `idx_dtype`.
        indices: Slice,
        /// Input, rows×cols.
        x: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Kept per row, 1..=cols.
        k: u32,
        /// Element type of x and values.
        dtype: DType,
        /// Element type of indices: i32 or i64.
        idx_dtype: DType,
    }

    /// `moe_dispatch out, x, idx, …`: the `[capacity, hidden]` block of tokens
    /// routed to `expert` (GShard order and capacity dropping).
    MoeDispatch => moe_dispatch, 0x50, "moe_dispatch", Vector {
        /// Result, capacity×hidden.
        out: Slice,
        /// Tokens, tokens×hidden.
        x: Slice,
        /// Top-k expert choices, tokens×k of `idx_dtype`.
        idx: Slice,
        /// Tokens.
        tokens: u32,
        /// Row length.
        hidden: u32,
        /// Choices per token.
        k: u32,
        /// The expert.
        expert: u32,
        /// Rows of the result.
        capacity: u32,
        /// Element type of x and out.
        dtype: DType,
        /// Element type of idx: i32 or i64.
        idx_dtype: DType,
    }
    /// `moe_combine out, idx, gate, experts_out, …`: token t gets
    /// `Σ_j gate[t, j] · experts_out[e_j, slot(t, e_j)]` over its non-dropped choices.
    MoeCombine => moe_combine, 0x51, "moe_combine", Vector {
        /// Result, tokens×hidden.
        out: Slice,
        /// Top-k expert choices, tokens×k of `idx_dtype`.
        idx: Slice,
        /// Gate weights, tokens×k of `dtype`.
        gate: Slice,
        /// Expert results, experts×capacity×hidden (expert e's block at e·capacity rows).
        experts_out: Slice,
        /// Tokens.
        tokens: u32,
        /// Row length.
        hidden: u32,
        /// Choices per token.
        k: u32,
        /// Experts.
        experts: u32,
        /// Rows per expert block.
        capacity: u32,
        /// Element type of gate, experts_out and out.
        dtype: DType,
        /// Element type of idx: i32 or i64.
        idx_dtype: DType,
    }
    /// `quantize out, x, scale, zero, …`: `out = saturate(RNE(x / scale) + zero)`
    /// (ONNX `QuantizeLinear`), scale and zero broadcast as `sbcast` says.
    Quantize => quantize, 0x52, "quantize", Vector {
        /// Result, rows×cols of `to`.
        out: Slice,
        /// Input, rows×cols of `from` (float).
        x: Slice,
        /// Scales, f32, as `sbcast` says.
        scale: Slice,
        /// Zero points, of `to`, as `sbcast` says.
        zero: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Input type (float).
        from: DType,
        /// Result type (i4, i8 or i32).
        to: DType,
        /// How scale and zero are read (per tensor: scalar; per channel: row or col).
        sbcast: Bcast,
    }
    /// `dequantize out, x, scale, zero, …`: `out = round((x − zero) · scale)`
    /// (ONNX `DequantizeLinear`).
    Dequantize => dequantize, 0x53, "dequantize", Vector {
        /// Result, rows×cols of `to` (float).
        out: Slice,
        /// Input, rows×cols of `from` (integer).
        x: Slice,
        /// Scales, f32, as `sbcast` says.
        scale: Slice,
        /// Zero points, of `from`, as `sbcast` says.
        zero: Slice,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
        /// Input type (i4, i8, i32).
        from: DType,
        /// Result type (float).
        to: DType,
        /// How scale and zero are read.
        sbcast: Bcast,
    }
    /// `scopy out, x, dims, src_strides, dst_strides, dtype`: 4-D strided copy in
    /// elements: `out[Σ j_d·dst_strides[d]] = x[Σ j_d·src_strides[d]]` for every index
    /// j < dims (slice with steps, concat, split, broadcast with stride 0, permute).
    StridedCopy => scopy, 0x54, "scopy", Vector {
        /// Destination start.
        out: Slice,
        /// Source start.
        x: Slice,
        /// Index space, outermost first.
        dims: Dims,
        /// Source stride of each dim, in elements.
        src_strides: Strides,
        /// Destination stride of each dim, in elements (no two indices may land on
        /// one element).
        dst_strides: Strides,
        /// Element type.
        dtype: DType,
    }

    /// `pim.gemv out, w, x, …`: `out[rows] = w[rows×cols] · x[cols]` inside the DRAM
    /// channel's banks (expands to WR_GB, MAC_ABK per row group, RD_MAC), for the
    /// rows channel N owns; row i of `w` starts at element `i·ld`.
    PimGemv => pim_gemv, 0x40, "pim.gemv", Pim {
        /// Result vector, rows elements.
        out: Slice,
        /// Weight matrix laid out in the channel's banks, rows×cols with row stride
        /// `ld`.
        w: Slice,
        /// Input vector, cols elements.
        x: Slice,
        /// Output length.
        rows: u32,
        /// Input length.
        cols: u32,
        /// Leading dimension of `w`: elements between row starts (`ld >= cols`).
        ld: u32,
        /// Element type of every operand.
        dtype: DType,
    }
    /// `pim.qgemv out, w, x, scale, zero, …`: mixed-precision `pim.gemv` (W8A16 /
    /// W4A16): `out[i] = round(scale[i] · Σ_j (w[i, j] − zero[i]) · x[j])` for the
    /// rows channel N owns.
    PimQGemv => pim_qgemv, 0x4a, "pim.qgemv", Pim {
        /// Result vector, rows elements of `dtype`.
        out: Slice,
        /// Quantised weights in the channel's banks, rows×cols of `wdtype`, row
        /// stride `ld`.
        w: Slice,
        /// Input vector, cols elements of `dtype`.
        x: Slice,
        /// Per-row scales, rows of f32.
        scale: Slice,
        /// Per-row zero points, rows of `wdtype`.
        zero: Slice,
        /// Output length.
        rows: u32,
        /// Input length.
        cols: u32,
        /// Leading dimension of `w`: elements between row starts (`ld >= cols`).
        ld: u32,
        /// Activation and result type.
        dtype: DType,
        /// Weight type (i8 or i4).
        wdtype: DType,
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
        /// Leading dimension of `w`: elements between row starts (`ld >= cols`).
        ld: u32,
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
        /// Leading dimension of `w`: elements between row starts (`ld >= cols`).
        ld: u32,
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
    /// `pim.ewact F, out, a, …` (HBM-PIM FILL with its activation flag, then a store):
    /// out = F(a) element-wise inside the banks.
    PimEwAct => pim_ewact, 0x4b, "pim.ewact", Pim {
        /// The activation (one of the arch's `pim.activation_functions`).
        func: PimFn,
        /// Result.
        out: Slice,
        /// Operand.
        a: Slice,
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
            rope: Rope, gather: Gather, qgemm: QGemm, cmp: Cmp, select: Select,
            causal_mask: CausalMask, tree_mask: TreeMask, topk: TopK, moe_dispatch: MoeDispatch,
            moe_combine: MoeCombine, quantize: Quantize, dequantize: Dequantize,
            scopy: StridedCopy, pim_qgemv: PimQGemv, pim_gemv: PimGemv, pim_wr_gb: PimWrGb,
            pim_wr_bias: PimWrBias, pim_mac_abk: PimMacAbk, pim_mac_sbk: PimMacSbk,
            pim_rd_mac: PimRdMac, pim_af: PimAf, pim_rd_af: PimRdAf, pim_ewmul: PimEwMul,
            pim_ewadd: PimEwAdd, pim_ewact: PimEwAct);
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
