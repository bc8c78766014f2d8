//! Which bytes of which buffers an instruction reads and writes: the one place the
//! extent of every operand is defined. The verifier checks these spans against the
//! buffers; a timing model counts their bytes; a functional executor or a
//! dependency analysis uses their read/write kind.

use super::*;

/// How an instruction uses an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// Only read.
    Read,
    /// Only written.
    Write,
    /// Read, then written (e.g. `gemm` with `accumulate=true`).
    ReadWrite,
}

/// One buffer operand of an instruction and the span of bytes it touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Operand name (`out`, `a`, `src`, …).
    pub operand: &'static str,
    /// Where the span starts.
    pub slice: Slice,
    /// Length of the span from `slice.offset` (for a strided transfer the whole
    /// span `(rows − 1) · stride + row_bytes`, gaps included); `None` if it does not
    /// fit in 64 bits.
    pub bytes: Option<Bytes>,
    /// Read, write or both.
    pub kind: AccessKind,
    /// The element type the instruction uses it as; `None` for raw bytes (DMA).
    pub dtype: Option<DType>,
}

/// Bytes of a dense tile of `dims` elements of `dtype`, `None` on overflow.
fn tile(dims: &[u32], dtype: DType) -> Option<Bytes> {
    let elems = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(u64::from(d)))?;
    Some(Bytes(elems.checked_mul(dtype.bits())?.div_ceil(8)))
}

/// Bytes spanned by a `rows x cols` matrix of `dtype` whose rows start `ld` elements
/// apart: `(rows − 1) · ld + cols` elements (0 when either count is 0).
fn matrix(rows: u32, cols: u32, ld: u32, dtype: DType) -> Option<Bytes> {
    if rows == 0 || cols == 0 {
        return Some(Bytes(0));
    }
    let last = u64::from(rows - 1).checked_mul(u64::from(ld.max(cols)))?;
    elems(last.checked_add(u64::from(cols))?, dtype)
}

/// Bytes of `n` elements of `dtype`, `None` on overflow.
fn elems(n: u64, dtype: DType) -> Option<Bytes> {
    Some(Bytes(n.checked_mul(dtype.bits())?.div_ceil(8)))
}

/// Bytes spanned by a strided 4-D walk: from the first element to the end of the
/// last, `(Σ (dims[d] − 1) · strides[d] + 1)` elements (0 when a dim is 0).
fn strided(dims: Dims, strides: Strides, dtype: DType) -> Option<Bytes> {
    if dims.0.contains(&0) {
        return Some(Bytes(0));
    }
    let mut last = 0u64;
    for (&d, &s) in dims.0.iter().zip(&strides.0) {
        last = last.checked_add(u64::from(d - 1).checked_mul(s)?)?;
    }
    elems(last.checked_add(1)?, dtype)
}

/// Span of `rows` rows of `row_bytes` bytes placed `stride` apart.
fn span(rows: u32, row_bytes: Bytes, stride: Bytes) -> Option<Bytes> {
    if rows == 0 {
        return Some(Bytes(0));
    }
    let gaps = u64::from(rows - 1).checked_mul(stride.0)?;
    Some(Bytes(gaps.checked_add(row_bytes.0)?))
}

fn acc(
    operand: &'static str,
    slice: Slice,
    bytes: Option<Bytes>,
    kind: AccessKind,
    dtype: Option<DType>,
) -> Access {
    Access {
        operand,
        slice,
        bytes,
        kind,
        dtype,
    }
}

use AccessKind::{Read, ReadWrite, Write};

/// The visitor behind [`Instruction::accesses`].
struct Accesses;

impl Accesses {
    fn xfer(t: Transfer2d) -> Vec<Access> {
        vec![
            acc(
                "dst",
                t.dst,
                span(t.rows, t.row_bytes, t.dst_stride),
                Write,
                None,
            ),
            acc(
                "src",
                t.src,
                span(t.rows, t.row_bytes, t.src_stride),
                Read,
                None,
            ),
        ]
    }

    /// `quantize` / `dequantize`: `out` (of `to`) from `x` (of `from`) over `dims`, with
    /// `scales` f32 scales and zero points of `zero_dtype` (the integer side).
    fn requant(
        [out, x, scale, zero]: [Slice; 4],
        scales: u64,
        dims: [u32; 2],
        from: DType,
        to: DType,
        zero_dtype: DType,
    ) -> Vec<Access> {
        vec![
            acc("out", out, tile(&dims, to), Write, Some(to)),
            acc("x", x, tile(&dims, from), Read, Some(from)),
            acc(
                "scale",
                scale,
                elems(scales, DType::F32),
                Read,
                Some(DType::F32),
            ),
            acc(
                "zero",
                zero,
                elems(scales, zero_dtype),
                Read,
                Some(zero_dtype),
            ),
        ]
    }

    /// `out = f(x)` over rows × cols.
    fn map(out: Slice, x: Slice, rows: u32, cols: u32, d: DType) -> Vec<Access> {
        let t = tile(&[rows, cols], d);
        vec![
            acc("out", out, t, Write, Some(d)),
            acc("x", x, t, Read, Some(d)),
        ]
    }

    /// PIM vector operand of `len` elements.
    fn vec1(name: &'static str, s: Slice, len: u32, kind: AccessKind, d: DType) -> Vec<Access> {
        vec![acc(name, s, tile(&[len], d), kind, Some(d))]
    }

    /// PIM element-wise `out = a op b`.
    fn ew(out: Slice, a: Slice, b: Slice, len: u32, d: DType) -> Vec<Access> {
        let t = tile(&[len], d);
        vec![
            acc("out", out, t, Write, Some(d)),
            acc("a", a, t, Read, Some(d)),
            acc("b", b, t, Read, Some(d)),
        ]
    }
}

impl Visitor for Accesses {
    type Output = Vec<Access>;

    fn signal(&mut self, _: &Signal) -> Vec<Access> {
        Vec::new()
    }
    fn wait(&mut self, _: &Wait) -> Vec<Access> {
        Vec::new()
    }
    fn load(&mut self, i: &Load) -> Vec<Access> {
        Self::xfer(i.into())
    }
    fn store(&mut self, i: &Store) -> Vec<Access> {
        Self::xfer(i.into())
    }
    fn copy(&mut self, i: &DmaCopy) -> Vec<Access> {
        Self::xfer(i.into())
    }
    fn gemm(&mut self, i: &Gemm) -> Vec<Access> {
        let out_kind = if i.accumulate { ReadWrite } else { Write };
        vec![
            acc(
                "out",
                i.out,
                tile(&[i.m, i.n], i.out_dtype),
                out_kind,
                Some(i.out_dtype),
            ),
            acc("a", i.a, tile(&[i.m, i.k], i.dtype), Read, Some(i.dtype)),
            acc("b", i.b, tile(&[i.k, i.n], i.dtype), Read, Some(i.dtype)),
        ]
    }
    fn eltwise(&mut self, i: &Eltwise) -> Vec<Access> {
        let t = tile(&[i.rows, i.cols], i.dtype);
        let b = elems(i.bcast.elems(i.rows, i.cols), i.dtype);
        vec![
            acc("out", i.out, t, Write, Some(i.dtype)),
            acc("a", i.a, t, Read, Some(i.dtype)),
            acc("b", i.b, b, Read, Some(i.dtype)),
        ]
    }
    fn unary(&mut self, i: &Unary) -> Vec<Access> {
        Self::map(i.out, i.x, i.rows, i.cols, i.dtype)
    }
    fn act(&mut self, i: &Act) -> Vec<Access> {
        Self::map(i.out, i.x, i.rows, i.cols, i.dtype)
    }
    fn softmax(&mut self, i: &Softmax) -> Vec<Access> {
        Self::map(i.out, i.x, i.rows, i.cols, i.dtype)
    }
    fn layernorm(&mut self, i: &LayerNorm) -> Vec<Access> {
        let mut v = Self::map(i.out, i.x, i.rows, i.cols, i.dtype);
        let row = tile(&[i.cols], i.dtype);
        v.push(acc("gamma", i.gamma, row, Read, Some(i.dtype)));
        v.push(acc("beta", i.beta, row, Read, Some(i.dtype)));
        v
    }
    fn rmsnorm(&mut self, i: &RmsNorm) -> Vec<Access> {
        let mut v = Self::map(i.out, i.x, i.rows, i.cols, i.dtype);
        v.push(acc(
            "gamma",
            i.gamma,
            tile(&[i.cols], i.dtype),
            Read,
            Some(i.dtype),
        ));
        v
    }
    fn reduce(&mut self, i: &Reduce) -> Vec<Access> {
        vec![
            acc("out", i.out, tile(&[i.rows], i.dtype), Write, Some(i.dtype)),
            acc(
                "x",
                i.x,
                tile(&[i.rows, i.cols], i.dtype),
                Read,
                Some(i.dtype),
            ),
        ]
    }
    fn convert(&mut self, i: &Convert) -> Vec<Access> {
        vec![
            acc(
                "out",
                i.out,
                tile(&[i.rows, i.cols], i.to),
                Write,
                Some(i.to),
            ),
            acc(
                "x",
                i.x,
                tile(&[i.rows, i.cols], i.from),
                Read,
                Some(i.from),
            ),
        ]
    }
    fn transpose(&mut self, i: &Transpose) -> Vec<Access> {
        let t = elems(i.dims.elems(), i.dtype);
        vec![
            acc("out", i.out, t, Write, Some(i.dtype)),
            acc("x", i.x, t, Read, Some(i.dtype)),
        ]
    }
    fn rope(&mut self, i: &Rope) -> Vec<Access> {
        let mut v = Self::map(i.out, i.x, i.rows, i.cols, i.dtype);
        v.push(acc(
            "pos",
            i.pos,
            tile(&[i.seq], i.pos_dtype),
            Read,
            Some(i.pos_dtype),
        ));
        v
    }
    fn gather(&mut self, i: &Gather) -> Vec<Access> {
        vec![
            acc(
                "out",
                i.out,
                tile(&[i.rows, i.cols], i.dtype),
                Write,
                Some(i.dtype),
            ),
            acc(
                "table",
                i.table,
                tile(&[i.table_rows, i.cols], i.dtype),
                Read,
                Some(i.dtype),
            ),
            acc(
                "idx",
                i.idx,
                tile(&[i.rows], i.idx_dtype),
                Read,
                Some(i.idx_dtype),
            ),
        ]
    }
    fn qgemm(&mut self, i: &QGemm) -> Vec<Access> {
        vec![
            acc(
                "out",
                i.out,
                tile(&[i.m, i.n], i.dtype),
                Write,
                Some(i.dtype),
            ),
            acc("a", i.a, tile(&[i.m, i.k], i.dtype), Read, Some(i.dtype)),
            acc("w", i.w, tile(&[i.k, i.n], i.wdtype), Read, Some(i.wdtype)),
            acc(
                "scale",
                i.scale,
                tile(&[i.n], DType::F32),
                Read,
                Some(DType::F32),
            ),
            acc("zero", i.zero, tile(&[i.n], i.wdtype), Read, Some(i.wdtype)),
        ]
    }
    fn cmp(&mut self, i: &Cmp) -> Vec<Access> {
        let t = tile(&[i.rows, i.cols], i.dtype);
        vec![
            acc(
                "out",
                i.out,
                tile(&[i.rows, i.cols], DType::Bool),
                Write,
                Some(DType::Bool),
            ),
            acc("a", i.a, t, Read, Some(i.dtype)),
            acc(
                "b",
                i.b,
                elems(i.bcast.elems(i.rows, i.cols), i.dtype),
                Read,
                Some(i.dtype),
            ),
        ]
    }
    fn select(&mut self, i: &Select) -> Vec<Access> {
        let (r, c, d) = (i.rows, i.cols, i.dtype);
        vec![
            acc("out", i.out, tile(&[r, c], d), Write, Some(d)),
            acc(
                "cond",
                i.cond,
                elems(i.cond_bcast.elems(r, c), DType::Bool),
                Read,
                Some(DType::Bool),
            ),
            acc("a", i.a, elems(i.a_bcast.elems(r, c), d), Read, Some(d)),
            acc("b", i.b, elems(i.b_bcast.elems(r, c), d), Read, Some(d)),
        ]
    }
    fn causal_mask(&mut self, i: &CausalMask) -> Vec<Access> {
        Self::map(i.out, i.x, i.rows, i.cols, i.dtype)
    }
    fn tree_mask(&mut self, i: &TreeMask) -> Vec<Access> {
        let mut v = Self::map(i.out, i.x, i.rows, i.cols, i.dtype);
        v.push(acc(
            "mask",
            i.mask,
            tile(&[i.seq, i.cols], DType::Bool),
            Read,
            Some(DType::Bool),
        ));
        v
    }
    fn topk(&mut self, i: &TopK) -> Vec<Access> {
        vec![
            acc(
                "values",
                i.values,
                tile(&[i.rows, i.k], i.dtype),
                Write,
                Some(i.dtype),
            ),
            acc(
                "indices",
                i.indices,
                tile(&[i.rows, i.k], i.idx_dtype),
                Write,
                Some(i.idx_dtype),
            ),
            acc(
                "x",
                i.x,
                tile(&[i.rows, i.cols], i.dtype),
                Read,
                Some(i.dtype),
            ),
        ]
    }
    fn moe_dispatch(&mut self, i: &MoeDispatch) -> Vec<Access> {
        vec![
            acc(
                "out",
                i.out,
                tile(&[i.capacity, i.hidden], i.dtype),
                Write,
                Some(i.dtype),
            ),
            acc(
                "x",
                i.x,
                tile(&[i.tokens, i.hidden], i.dtype),
                Read,
                Some(i.dtype),
            ),
            acc(
                "idx",
                i.idx,
                tile(&[i.tokens, i.k], i.idx_dtype),
                Read,
                Some(i.idx_dtype),
            ),
        ]
    }
    fn moe_combine(&mut self, i: &MoeCombine) -> Vec<Access> {
        vec![
            acc(
                "out",
                i.out,
                tile(&[i.tokens, i.hidden], i.dtype),
                Write,
                Some(i.dtype),
            ),
            acc(
                "idx",
                i.idx,
                tile(&[i.tokens, i.k], i.idx_dtype),
                Read,
                Some(i.idx_dtype),
            ),
            acc(
                "gate",
                i.gate,
                tile(&[i.tokens, i.k], i.dtype),
                Read,
                Some(i.dtype),
            ),
            acc(
                "experts_out",
                i.experts_out,
                tile(&[i.experts, i.capacity, i.hidden], i.dtype),
                Read,
                Some(i.dtype),
            ),
        ]
    }
    fn quantize(&mut self, i: &Quantize) -> Vec<Access> {
        Self::requant(
            [i.out, i.x, i.scale, i.zero],
            i.sbcast.elems(i.rows, i.cols),
            [i.rows, i.cols],
            i.from,
            i.to,
            i.to,
        )
    }
    fn dequantize(&mut self, i: &Dequantize) -> Vec<Access> {
        Self::requant(
            [i.out, i.x, i.scale, i.zero],
            i.sbcast.elems(i.rows, i.cols),
            [i.rows, i.cols],
            i.from,
            i.to,
            i.from,
        )
    }
    fn scopy(&mut self, i: &StridedCopy) -> Vec<Access> {
        vec![
            acc(
                "out",
                i.out,
                strided(i.dims, i.dst_strides, i.dtype),
                Write,
                Some(i.dtype),
            ),
            acc(
                "x",
                i.x,
                strided(i.dims, i.src_strides, i.dtype),
                Read,
                Some(i.dtype),
            ),
        ]
    }
    fn pim_qgemv(&mut self, i: &PimQGemv) -> Vec<Access> {
        vec![
            acc("out", i.out, tile(&[i.rows], i.dtype), Write, Some(i.dtype)),
            acc(
                "w",
                i.w,
                matrix(i.rows, i.cols, i.ld, i.wdtype),
                Read,
                Some(i.wdtype),
            ),
            acc("x", i.x, tile(&[i.cols], i.dtype), Read, Some(i.dtype)),
            acc(
                "scale",
                i.scale,
                tile(&[i.rows], DType::F32),
                Read,
                Some(DType::F32),
            ),
            acc(
                "zero",
                i.zero,
                tile(&[i.rows], i.wdtype),
                Read,
                Some(i.wdtype),
            ),
        ]
    }
    fn pim_gemv(&mut self, i: &PimGemv) -> Vec<Access> {
        vec![
            acc("out", i.out, tile(&[i.rows], i.dtype), Write, Some(i.dtype)),
            acc(
                "w",
                i.w,
                matrix(i.rows, i.cols, i.ld, i.dtype),
                Read,
                Some(i.dtype),
            ),
            acc("x", i.x, tile(&[i.cols], i.dtype), Read, Some(i.dtype)),
        ]
    }
    fn pim_wr_gb(&mut self, i: &PimWrGb) -> Vec<Access> {
        Self::vec1("src", i.src, i.len, Read, i.dtype)
    }
    fn pim_wr_bias(&mut self, i: &PimWrBias) -> Vec<Access> {
        Self::vec1("src", i.src, i.len, Read, i.dtype)
    }
    fn pim_mac_abk(&mut self, i: &PimMacAbk) -> Vec<Access> {
        weight_region(i.w, i.rows, i.cols, i.ld, i.dtype)
    }
    fn pim_mac_sbk(&mut self, i: &PimMacSbk) -> Vec<Access> {
        weight_region(i.w, i.rows, i.cols, i.ld, i.dtype)
    }
    fn pim_rd_mac(&mut self, i: &PimRdMac) -> Vec<Access> {
        Self::vec1("dst", i.dst, i.len, Write, i.dtype)
    }
    fn pim_af(&mut self, _: &PimAf) -> Vec<Access> {
        Vec::new()
    }
    fn pim_rd_af(&mut self, i: &PimRdAf) -> Vec<Access> {
        Self::vec1("dst", i.dst, i.len, Write, i.dtype)
    }
    fn pim_ewmul(&mut self, i: &PimEwMul) -> Vec<Access> {
        Self::ew(i.out, i.a, i.b, i.len, i.dtype)
    }
    fn pim_ewadd(&mut self, i: &PimEwAdd) -> Vec<Access> {
        Self::ew(i.out, i.a, i.b, i.len, i.dtype)
    }
    fn pim_ewact(&mut self, i: &PimEwAct) -> Vec<Access> {
        let t = tile(&[i.len], i.dtype);
        vec![
            acc("out", i.out, t, Write, Some(i.dtype)),
            acc("a", i.a, t, Read, Some(i.dtype)),
        ]
    }
}

impl Instruction {
    /// Every buffer operand with the span it touches and how (in operand order).
    pub fn accesses(&self) -> Vec<Access> {
        self.accept(&mut Accesses)
    }
}

/// The rows x cols weight region (row stride `ld`) a PIM MAC command reads.
fn weight_region(w: Slice, rows: u32, cols: u32, ld: u32, dtype: DType) -> Vec<Access> {
    vec![acc(
        "w",
        w,
        matrix(rows, cols, ld, dtype),
        Read,
        Some(dtype),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_formulas() {
        let b = BufId(0);
        let load = Instruction::from(Load {
            dst: Slice::at(b),
            src: Slice::at(b),
            rows: 4,
            row_bytes: Bytes(64),
            src_stride: Bytes(1000),
            dst_stride: Bytes(64),
        });
        let a = load.accesses();
        assert_eq!(a[0].bytes, Some(Bytes(3 * 64 + 64)));
        assert_eq!(a[1].bytes, Some(Bytes(3 * 1000 + 64)));
        let gemm = Instruction::from(Gemm {
            out: Slice::at(b),
            a: Slice::at(b),
            b: Slice::at(b),
            m: 3,
            n: 5,
            k: 7,
            dtype: DType::I4,
            out_dtype: DType::I32,
            accumulate: true,
            scale: 1.0,
        });
        let a = gemm.accesses();
        assert_eq!(
            (a[0].bytes, a[0].kind),
            (Some(Bytes(3 * 5 * 4)), AccessKind::ReadWrite)
        );
        assert_eq!(a[1].bytes, Some(Bytes((3 * 7 * 4u64).div_ceil(8)))); // 21 i4 = 11 B
        assert_eq!(a[2].bytes, Some(Bytes((7 * 5 * 4u64).div_ceil(8)))); // 35 i4 = 18 B
        let huge = Instruction::from(Load {
            dst: Slice::at(b),
            src: Slice::at(b),
            rows: u32::MAX,
            row_bytes: Bytes(1),
            src_stride: Bytes(u64::MAX),
            dst_stride: Bytes(1),
        });
        assert_eq!(huge.accesses()[1].bytes, None);
    }
}
