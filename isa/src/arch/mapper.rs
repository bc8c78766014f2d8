//! The address mapper: a physical byte address to channel, rank, bank group, bank,
//! row and column, with DRAMsim3's semantics.
//!
//! The low `log2(burst_bytes)` bits (the byte offset inside one burst) are dropped;
//! the remaining bits are split into the arch's [`AddressMapping`] fields read from
//! the most significant field to the least (`"rorabgbachco"`: column in the lowest
//! bits, then channel, bank, bank group, rank, row). Every count must be a power of
//! two (the arch validation enforces it; the mapper re-checks and names the field).
//!
//! It lives in `isa` because it is part of the contract: the simulator decodes every
//! access with it, the verifier checks PIM operands with it, and the compiler lays out
//! PIM weights with it.

use super::{AddrField, Dram};
use crate::{Error, Result};

/// Where an address lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// Channel.
    pub channel: u32,
    /// Rank within the channel.
    pub rank: u32,
    /// Bank group within the rank.
    pub bank_group: u32,
    /// Bank within the group.
    pub bank: u32,
    /// Row within the bank.
    pub row: u32,
    /// Column within the row, in bursts.
    pub column: u32,
}

/// Splits addresses according to an arch's mapping.
#[derive(Clone, Debug)]
pub struct AddressMapper {
    /// `(field, shift, mask)` for each field, LSB-first shifts.
    fields: Vec<(AddrField, u32, u64)>,
    offset_bits: u32,
    capacity: u64,
}

fn pow2_bits(arch: &str, field: &str, count: u64) -> Result<u32> {
    if count == 0 || !count.is_power_of_two() {
        return Err(Error::ArchInvalid {
            arch: arch.to_string(),
            field: field.to_string(),
            rule: format!("{count} is not a power of two (the address mapper splits bits)"),
        });
    }
    Ok(count.ilog2())
}

impl AddressMapper {
    /// A mapper for `dram` (`arch` names the arch in errors).
    pub fn new(arch: &str, dram: &Dram) -> Result<AddressMapper> {
        let offset_bits = pow2_bits(arch, "dram.burst_bytes", dram.burst_bytes())?;
        let count = |f: AddrField| -> (u64, &'static str) {
            match f {
                AddrField::Row => (u64::from(dram.rows), "dram.rows"),
                AddrField::Rank => (u64::from(dram.ranks), "dram.ranks"),
                AddrField::BankGroup => (u64::from(dram.bank_groups), "dram.bank_groups"),
                AddrField::Bank => (u64::from(dram.banks_per_group), "dram.banks_per_group"),
                AddrField::Channel => (u64::from(dram.channels), "dram.channels"),
                AddrField::Column => (u64::from(dram.columns_per_row()), "dram.row_bytes"),
            }
        };
        for f in AddrField::ALL {
            if dram
                .address_mapping
                .fields
                .iter()
                .filter(|&&x| x == f)
                .count()
                != 1
            {
                return Err(Error::ArchInvalid {
                    arch: arch.to_string(),
                    field: "dram.address_mapping".into(),
                    rule: format!("field `{}` must appear exactly once", f.code()),
                });
            }
        }
        let mut shift = offset_bits;
        let mut fields = Vec::with_capacity(6);
        for &f in dram.address_mapping.fields.iter().rev() {
            let (n, name) = count(f);
            let bits = pow2_bits(arch, name, n)?;
            fields.push((f, shift, (1u64 << bits) - 1));
            shift += bits;
        }
        Ok(AddressMapper {
            fields,
            offset_bits,
            capacity: dram.capacity_bytes(),
        })
    }

    /// Capacity covered by the mapping, in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bits of byte offset inside one burst.
    pub fn offset_bits(&self) -> u32 {
        self.offset_bits
    }

    /// Where field `f` sits in an address: `(shift, bits)`, the field's value being
    /// `(addr >> shift) & (2^bits − 1)`. An address range keeps one value of a field
    /// exactly when its first and last byte agree on every bit from `shift` up.
    pub fn field(&self, f: AddrField) -> (u32, u32) {
        self.fields
            .iter()
            .find(|(g, _, _)| *g == f)
            .map_or((0, 0), |&(_, shift, mask)| (shift, mask.count_ones()))
    }

    /// Decodes `addr`; addresses beyond the capacity are an error.
    pub fn decode(&self, addr: u64) -> Result<Location> {
        if addr >= self.capacity {
            return Err(Error::AddressOutOfRange {
                addr,
                capacity: self.capacity,
            });
        }
        let mut loc = Location {
            channel: 0,
            rank: 0,
            bank_group: 0,
            bank: 0,
            row: 0,
            column: 0,
        };
        for &(f, shift, mask) in &self.fields {
            // Each field is at most 32 bits wide because its count is a u32.
            let v = ((addr >> shift) & mask) as u32;
            match f {
                AddrField::Row => loc.row = v,
                AddrField::Rank => loc.rank = v,
                AddrField::BankGroup => loc.bank_group = v,
                AddrField::Bank => loc.bank = v,
                AddrField::Channel => loc.channel = v,
                AddrField::Column => loc.column = v,
            }
        }
        Ok(loc)
    }

    /// The address of the first byte of the burst at `loc` (inverse of `decode`).
    pub fn encode(&self, loc: &Location) -> u64 {
        self.fields.iter().fold(0u64, |acc, &(f, shift, mask)| {
            let v = match f {
                AddrField::Row => loc.row,
                AddrField::Rank => loc.rank,
                AddrField::BankGroup => loc.bank_group,
                AddrField::Bank => loc.bank,
                AddrField::Channel => loc.channel,
                AddrField::Column => loc.column,
            };
            acc | ((u64::from(v) & mask) << shift)
        })
    }
}
