//! PIM lowering: GEMV weights laid out in the DRAM banks, PIM-GPT style.
//!
//! A `MatMul` by a 2-D weight `W [K, N]` runs as a GEMV on `W^T [N, K]`. Each row
//! of `W^T` lies whole in one channel and no partial sums cross channels (PIM-GPT's
//! row partitioning). The address mapper decides what "in a channel" means:
//! addresses below the channel field's bit position form a *granule* that stays in
//! one channel, and granule j of a region aligned to `channels × granule` belongs
//! to channel `j mod channels`.
//!
//! # Layout
//! Rows start `S` bytes apart (the instructions' leading dimension `ld = S / e`),
//! `S` a power of two so no row crosses a granule:
//! - a row of at most a granule: `S` is its bytes rounded up to a power of two
//!   (GPT-2's 768 f16 = 1536 B rows get `S` = 2048, 25 % of the region padding,
//!   never read); `G / S` rows share a granule;
//! - a longer row (a 4096-bf16 row on pim-gpt's 2 KiB granules, Llama's 11008-wide
//!   down projection on 8 KiB): cut into column blocks of `S` bytes, `S` the
//!   largest power of two within both the granule and the global buffer; each
//!   block is a matrix of its own, padded to the region's alignment so row `i`
//!   sits in the same channel in every block.
//!
//! # Why one instruction per channel
//! `pim.gemv` on `pim.N` computes the rows of its matrix that channel N owns, and
//! issues one MAC_AB per distinct (DRAM row, bank within unit, column) of them,
//! every unit of the channel in lock step. The granules of one channel follow each
//! other through the bank (and bank-group) bits before the row bits on every
//! preset mapping, so consecutive granules of a channel are the same DRAM row and
//! columns in *different banks*: when one instruction covers all of a channel's
//! rows, each MAC_AB does useful work in every unit and a channel issues
//! `rows·cols·e / (units·burst)` MAC_AB for its rows (the AiM / PIM-GPT ideal),
//! where one instruction per granule kept a fraction of the units busy and
//! serialised the rest. So the lowering emits, per channel that owns a row and
//! per activation row, the *same* instruction over the whole matrix: one
//! `pim.gemv` (one block), or per block a `pim.wr_gb` of its slice of the
//! activations and a `pim.mac_abk` (the accumulators add the blocks' partial
//! sums, PIM-GPT's multi-chunk GEMV) then one `pim.rd_mac`.
//!
//! The weight values are the graph's (the interpreter's `Init`), transposed and
//! placed by the compiler into the program's data file (`.init file=`); past
//! [`DATA_LIMIT`] bytes of data in all the weights are left uninitialised (the
//! program still times correctly; functional runs need the data).
//!
//! Element-wise `Add` / `Mul` of equal shapes run as `pim.ewadd` / `pim.ewmul`: the
//! memory plan aligns every buffer to the period of the channel and bank bits, so
//! equal element offsets share channel and bank; each channel that holds a burst of
//! the operands runs the instruction on its bursts.
//!
//! A `QMatMul` with i8 weights (W8A16) and per-column f32 scales runs as
//! `pim.qgemv`, one per channel and activation row, when its rows fit a granule
//! (one block: the dequantising scale is applied once to the whole row's sum).
//!
//! Limits: sub-byte weights (i4), a quantised row longer than a granule, a weight
//! that is not a graph `Weight` / `Constant` and broadcasting element-wise ops are
//! not PIM-lowerable here
//! ([`Pim::gemv_layout`] / [`Pim::ew_channels`] say `None`); the caller falls back
//! to another engine.

use super::kernels::Place;
use triad_isa::{
    AddrField, AddressMapper, Arch, Capability, DType, Instruction, PimGemv, PimMacAbk, PimQGemv,
    PimRdMac, PimWrGb, Unit,
};

/// Most bytes of weight data the compiler writes into a program's data file.
pub const DATA_LIMIT: u64 = 512 << 20;

/// One column block of a PIM weight: columns `[col0, col0 + cols)` of every row of
/// `W^T`, laid out from element `elem` of the layout buffer with row stride
/// [`Layout::ld`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// First column (element of the input vector).
    pub col0: u32,
    /// Columns.
    pub cols: u32,
    /// Element offset of the block's row 0 in the layout.
    pub elem: u64,
}

/// A weight's PIM layout: `W^T [rows, k]` as column blocks, each a row-major matrix
/// whose rows start `ld` elements apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of the layout region.
    pub bytes: u64,
    /// Alignment the region needs.
    pub align: u64,
    /// Rows of `W^T` (the GEMV's outputs).
    pub rows: u32,
    /// Elements between row starts, in every block.
    pub ld: u32,
    /// The column blocks, in column order. One block: the whole row fits a
    /// granule and one `pim.gemv` per channel covers it; several: each fits the
    /// global buffer and a `pim.wr_gb` / `pim.mac_abk` pair per block accumulates.
    pub blocks: Vec<Block>,
    /// The channels that own at least one row, ascending.
    pub channels: Vec<u16>,
}

/// The PIM side of an arch.
pub struct Pim {
    channels: u64,
    granule: u64,
    burst: u64,
    /// Bytes of a channel's global buffer.
    gb: u64,
    mapper: AddressMapper,
}

impl Pim {
    /// The PIM description of `arch`, `None` without PIM.
    pub fn new(arch: &Arch) -> Option<Pim> {
        let gb = arch.pim.as_ref()?.global_buffer_bytes;
        let mapper = AddressMapper::new(&arch.name, &arch.dram).ok()?;
        let channels = u64::from(arch.dram.channels.max(1));
        let (shift, bits) = mapper.field(AddrField::Channel);
        let granule = if bits == 0 {
            mapper.capacity()
        } else {
            1u64 << shift
        };
        Some(Pim {
            channels,
            granule,
            burst: arch.dram.burst_bytes().max(1),
            gb: gb.max(1),
            mapper,
        })
    }

    /// The alignment that puts equal offsets of two buffers in one channel and bank:
    /// the period of the channel, bank, bank-group and rank address bits.
    pub fn bank_period(&self) -> u64 {
        [
            AddrField::Channel,
            AddrField::Bank,
            AddrField::BankGroup,
            AddrField::Rank,
        ]
        .into_iter()
        .map(|f| {
            let (s, b) = self.mapper.field(f);
            if b == 0 { 1 } else { 1u64 << (s + b) }
        })
        .max()
        .unwrap_or(1)
        .max(self.burst)
    }

    /// Whether the PIM units run MACs in `dtype`.
    pub fn macs(arch: &Arch, dtype: DType) -> bool {
        arch.supports(Unit::Pim, Capability::PimMac, Some(dtype))
            .is_ok()
    }

    /// The layout of `W^T [n, k]` of `dtype`, `None` if the rows cannot be placed
    /// (sub-byte or empty rows, more than `u32::MAX` elements).
    ///
    /// Rows start `S` bytes apart, `S` a power of two, so a row never crosses a
    /// granule: `S` is the row's bytes rounded up to a power of two when that fits a
    /// granule; otherwise the row is cut into column blocks of `S` bytes, `S` the
    /// largest power of two within both the granule and the global buffer, and
    /// every block is a matrix of its own, aligned like the region so row `i` is in
    /// the same channel in every block.
    pub fn gemv_layout(&self, n: u64, k: u64, dtype: DType) -> Option<Layout> {
        let bits = dtype.bits();
        let row_bytes = dtype.bytes_for(k);
        if bits < 8 || row_bytes == 0 || n == 0 {
            return None;
        }
        let e = bits / 8;
        let (stride, kb) = if row_bytes <= self.granule {
            (row_bytes.next_power_of_two(), k)
        } else {
            let s = prev_power_of_two(self.granule.min(self.gb));
            if s < e {
                return None;
            }
            (s, s / e)
        };
        let ld = stride / e;
        let align = (self.channels * self.granule).min(self.mapper.capacity());
        let block_bytes = (n * stride).next_multiple_of(align);
        let mut blocks = Vec::new();
        let mut c0 = 0;
        while c0 < k {
            let cols = kb.min(k - c0);
            blocks.push(Block {
                col0: u32::try_from(c0).ok()?,
                cols: u32::try_from(cols).ok()?,
                elem: blocks.len() as u64 * block_bytes / e,
            });
            c0 += cols;
        }
        // Granule g of a block (from an aligned start) is channel g mod channels.
        let granules = n.div_ceil((self.granule / stride).max(1));
        let channels = (0..granules.min(self.channels)).map(|c| c as u16).collect();
        Some(Layout {
            bytes: blocks.len() as u64 * block_bytes,
            align,
            rows: u32::try_from(n).ok()?,
            ld: u32::try_from(ld).ok()?,
            blocks,
            channels,
        })
    }

    /// The channels holding a burst of the first `bytes` bytes of a buffer aligned
    /// to [`Pim::bank_period`].
    pub fn ew_channels(&self, bytes: u64) -> Vec<u16> {
        let mut chans: Vec<u16> = (0..bytes
            .div_ceil(self.burst)
            .min(self.bank_period() / self.burst))
            .filter_map(|i| self.mapper.decode(i * self.burst).ok())
            .map(|l| l.channel as u16)
            .collect();
        chans.sort_unstable();
        chans.dedup();
        chans
    }
}

/// One channel's instructions for activation row `r` of `out = a · W` (`a` of `k`
/// columns, `W^T` in `layout` at `w`): the same on every channel, each computing
/// the rows it owns. One block: one `pim.gemv`. Several: per block `pim.wr_gb` of
/// its slice of `a` and `pim.mac_abk` (the accumulators sum across blocks), then
/// one `pim.rd_mac`.
pub fn gemv_insns(
    layout: &Layout,
    out: &Place,
    w: &Place,
    a: &Place,
    r: u64,
    k: u64,
) -> Vec<Instruction> {
    let (rows, ld, dtype) = (layout.rows, layout.ld, a.dtype);
    let out = out.at(r * u64::from(rows));
    if let [b] = layout.blocks[..] {
        return vec![
            PimGemv {
                out,
                w: w.at(b.elem),
                x: a.at(r * k),
                rows,
                cols: b.cols,
                ld,
                dtype,
            }
            .into(),
        ];
    }
    let mut v = Vec::with_capacity(2 * layout.blocks.len() + 1);
    for b in &layout.blocks {
        v.push(
            PimWrGb {
                src: a.at(r * k + u64::from(b.col0)),
                len: b.cols,
                dtype,
            }
            .into(),
        );
        v.push(
            PimMacAbk {
                w: w.at(b.elem),
                rows,
                cols: b.cols,
                ld,
                dtype,
            }
            .into(),
        );
    }
    v.push(
        PimRdMac {
            dst: out,
            len: rows,
            dtype,
        }
        .into(),
    );
    v
}

/// One channel's `pim.qgemv` for activation row `r` of `out = a · dequant(W)`, the
/// layout one block (`scale`, `zero`: f32 scales and zero points per row of `W^T`).
pub fn qgemv_insn(
    layout: &Layout,
    out: &Place,
    w: &Place,
    a: &Place,
    (scale, zero): (&Place, &Place),
    r: u64,
    k: u64,
) -> Instruction {
    let b = layout.blocks[0];
    PimQGemv {
        out: out.at(r * u64::from(layout.rows)),
        w: w.at(b.elem),
        x: a.at(r * k),
        scale: scale.at(0),
        zero: zero.at(0),
        rows: layout.rows,
        cols: b.cols,
        ld: layout.ld,
        dtype: a.dtype,
        wdtype: w.dtype,
    }
    .into()
}

/// The largest power of two not above `x` (`x` > 0).
fn prev_power_of_two(x: u64) -> u64 {
    1 << (63 - x.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use triad_isa::BufId;

    /// Every row of every block lies in one channel, the same channel in every
    /// block; the blocks cover the columns once; `channels` lists the owners.
    fn check(arch: &str, n: u64, k: u64, dtype: DType) -> Layout {
        let arch = Arch::preset(arch).unwrap();
        let pim = Pim::new(&arch).unwrap();
        let mapper = AddressMapper::new(&arch.name, &arch.dram).unwrap();
        let l = pim.gemv_layout(n, k, dtype).unwrap();
        let e = dtype.bytes_for(1);
        let base = l.align * 3;
        assert!(u64::from(l.ld) >= u64::from(l.blocks[0].cols));
        let mut next = 0;
        for b in &l.blocks {
            assert_eq!(u64::from(b.col0), next);
            next += u64::from(b.cols);
        }
        assert_eq!(next, k);
        let mut owners = Vec::new();
        for r in 0..n {
            let mut home = None;
            for b in &l.blocks {
                let start = base + (b.elem + r * u64::from(l.ld)) * e;
                assert!(start + u64::from(b.cols) * e <= base + l.bytes);
                let first = mapper.decode(start).unwrap().channel;
                let last = mapper.decode(start + u64::from(b.cols) * e - 1).unwrap();
                assert_eq!(first, last.channel, "row {r} straddles channels");
                assert_eq!(*home.get_or_insert(first), first, "row {r} moves channel");
            }
            owners.push(home.unwrap() as u16);
        }
        owners.sort_unstable();
        owners.dedup();
        assert_eq!(owners, l.channels);
        l
    }

    #[test]
    fn rows_stay_in_their_channel() {
        for (arch, n, k, d) in [
            ("mobile-soc-pim", 200, 176, DType::F16),
            ("mobile-soc-pim", 2304, 768, DType::F16),
            ("mobile-soc-pim", 4096, 11008, DType::F16),
            ("mobile-soc-pim", 3, 16, DType::F16),
            ("pim-gpt", 300, 4096, DType::BF16),
            ("hbm-pim", 96, 1000, DType::F16),
        ] {
            check(arch, n, k, d);
        }
    }

    #[test]
    fn rows_are_padded_to_a_power_of_two_or_cut_into_blocks() {
        // GPT-2: 768 f16 = 1536 B per row, stride 2048 B; 8 KiB granules.
        let l = check("mobile-soc-pim", 768, 768, DType::F16);
        assert_eq!((l.ld, l.blocks.len()), (1024, 1));
        assert_eq!(l.channels, vec![0, 1, 2, 3]);
        // Llama down projection: 11008 f16 = 22016 B > 8 KiB granule: blocks of the
        // 2 KiB global buffer, ceil(11008 / 1024) = 11 of them.
        let l = check("mobile-soc-pim", 4096, 11008, DType::F16);
        assert_eq!((l.ld, l.blocks.len()), (1024, 11));
        assert_eq!(l.blocks[10].cols, 11008 - 10 * 1024);
        // pim-gpt: a 4096-bf16 row (8 KiB) over its 2 KiB granule: 4 blocks.
        let l = check("pim-gpt", 4096, 4096, DType::BF16);
        assert_eq!((l.ld, l.blocks.len()), (1024, 4));
    }

    #[test]
    fn one_instruction_per_block_and_activation_row() {
        let arch = Arch::preset("pim-gpt").unwrap();
        let pim = Pim::new(&arch).unwrap();
        let place = |d| Place {
            buf: BufId(0),
            dtype: d,
            shape: vec![1 << 20],
        };
        let l = pim.gemv_layout(64, 4096, DType::BF16).unwrap();
        let v = gemv_insns(
            &l,
            &place(DType::BF16),
            &place(DType::BF16),
            &place(DType::BF16),
            1,
            4096,
        );
        // 4 blocks: 4 x (wr_gb, mac_abk) + rd_mac.
        assert_eq!(v.len(), 9);
        let l = pim.gemv_layout(64, 1000, DType::BF16).unwrap();
        let v = gemv_insns(
            &l,
            &place(DType::BF16),
            &place(DType::BF16),
            &place(DType::BF16),
            1,
            1000,
        );
        assert_eq!(v.len(), 1);
    }
}
