//! PIM lowering: GEMV weights laid out in the DRAM banks, PIM-GPT style.
//!
//! A `MatMul` by a 2-D weight `W [K, N]` runs as `pim.gemv` on `W^T [N, K]`: each
//! channel owns a contiguous slice of the N output rows (row partitioning, as
//! PIM-GPT maps a matrix so every channel works on its own rows and no partial
//! sums cross channels), and each of its rows lies whole in that channel. The
//! address mapper decides what "in a channel" means: addresses below the channel
//! field's bit position form a *granule* that stays in one channel, and granule j of
//! a region aligned to `channels × granule` belongs to channel `j mod channels`.
//! A channel's rows fill its granules densely, `granule / (K · element)` rows each,
//! so consecutive rows share DRAM rows (row locality); one `pim.gemv` per granule
//! and activation row reads `x` from DRAM and writes its results in place.
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
//! Limits: a weight row longer than a granule, a weight that is not a graph
//! `Weight` / `Constant`, quantised weights and broadcasting element-wise ops are
//! not PIM-lowerable here ([`Pim::gemv_layout`] / [`Pim::ew_channels`] say `None`);
//! the caller falls back to another engine.

use triad_isa::{AddrField, AddressMapper, Arch, Capability, DType, Unit};

/// Most bytes of weight data the compiler writes into a program's data file.
pub const DATA_LIMIT: u64 = 512 << 20;

/// One granule's share of a PIM weight: channel, first row of `W^T`, rows, and the
/// element offset of its first row in the layout buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// The channel.
    pub channel: u16,
    /// First output row.
    pub row0: u32,
    /// Rows.
    pub rows: u32,
    /// Element offset in the layout.
    pub elem: u64,
}

/// A weight's PIM layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of the layout region.
    pub bytes: u64,
    /// Alignment the region needs.
    pub align: u64,
    /// The granules, channel by channel.
    pub tiles: Vec<Tile>,
}

/// The PIM side of an arch.
pub struct Pim {
    channels: u64,
    granule: u64,
    burst: u64,
    mapper: AddressMapper,
}

impl Pim {
    /// The PIM description of `arch`, `None` without PIM.
    pub fn new(arch: &Arch) -> Option<Pim> {
        arch.pim.as_ref()?;
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

    /// The layout of `W^T [n, k]` of `dtype`, `None` if a row does not fit a granule.
    pub fn gemv_layout(&self, n: u64, k: u64, dtype: DType) -> Option<Layout> {
        let row_bytes = dtype.bytes_for(k);
        if dtype.bits() < 8 || row_bytes == 0 || row_bytes > self.granule {
            return None;
        }
        let per_granule = (self.granule / row_bytes).min(n.max(1));
        let per_elem = dtype.bytes_for(1);
        let mut tiles = Vec::new();
        let mut most = 0;
        for c in 0..self.channels {
            let r0 = n * c / self.channels;
            let r1 = n * (c + 1) / self.channels;
            let mut i = 0;
            let mut r = r0;
            while r < r1 {
                let rows = per_granule.min(r1 - r);
                let addr = (i * self.channels + c) * self.granule;
                tiles.push(Tile {
                    channel: c as u16,
                    row0: r as u32,
                    rows: rows as u32,
                    elem: addr / per_elem,
                });
                r += rows;
                i += 1;
            }
            most = most.max(i);
        }
        let bytes = if self.channels == 1 {
            n * row_bytes
        } else {
            most * self.channels * self.granule
        };
        Some(Layout {
            bytes: bytes.max(1),
            align: (self.channels * self.granule).min(self.mapper.capacity()),
            tiles,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stay_in_their_channel() {
        let arch = Arch::preset("mobile-soc-pim").unwrap();
        let pim = Pim::new(&arch).unwrap();
        let mapper = AddressMapper::new(&arch.name, &arch.dram).unwrap();
        let (n, k) = (200u64, 176u64);
        let l = pim.gemv_layout(n, k, DType::F16).unwrap();
        let base = l.align * 3;
        let mut covered = vec![false; n as usize];
        for t in &l.tiles {
            for r in 0..t.rows {
                covered[(t.row0 + r) as usize] = true;
                let start = base + (t.elem + u64::from(r) * k) * 2;
                for b in [start, start + k * 2 - 1] {
                    assert_eq!(mapper.decode(b).unwrap().channel, u32::from(t.channel));
                }
            }
        }
        assert!(covered.iter().all(|&c| c));
        // Row partitioning: each channel owns one contiguous slice of the rows.
        let chans: Vec<u16> = l.tiles.iter().map(|t| t.channel).collect();
        assert!(chans.windows(2).all(|w| w[0] <= w[1]));
    }
}
