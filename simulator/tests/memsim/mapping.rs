//! The address mapper follows DRAMsim3: drop log2(burst bytes) bits, then split the
//! rest MSB to LSB by the mapping string.

use crate::common::*;
use triad_sim::{MemoryOptions, MemorySystem};

#[test]
fn hbm2_rorabgbachco_bit_fields() {
    let a = preset("hbm2");
    let m = MemorySystem::new(&a, MemoryOptions::default()).unwrap();
    // HBM2 x128 BL4: 64 B bursts (6 bits); 2048 B rows = 32 columns (5 bits);
    // 8 channels (3), 4 banks (2), 4 bank groups (2), 1 rank (0), then the row.
    let (co, ch, ba, bg, ro) = (5u64, 6u64, 3u64, 2u64, 1234u64);
    let addr = 0x2a | co << 6 | ch << 11 | ba << 14 | bg << 16 | ro << 18;
    let loc = m.mapper().decode(addr).unwrap();
    assert_eq!(
        (
            loc.column,
            loc.channel,
            loc.bank,
            loc.bank_group,
            loc.rank,
            loc.row
        ),
        (5, 6, 3, 2, 0, 1234)
    );
    assert_eq!(m.mapper().encode(&loc), addr & !0x3f);
}

#[test]
fn lpddr4_rochrababgco_bit_fields() {
    let a = preset("lpddr4");
    let m = MemorySystem::new(&a, MemoryOptions::default()).unwrap();
    // 64-bit bus x BL16 = 128 B bursts (7 bits); 8192 B rows = 64 columns (6 bits);
    // then 2 bank groups (1), 4 banks (2), 2 ranks (1), 1 channel (0), row.
    let addr = 3u64 << 7 | 1 << 13 | 2 << 14 | 1 << 16 | 77 << 17;
    let loc = m.mapper().decode(addr).unwrap();
    assert_eq!(
        (loc.column, loc.bank_group, loc.bank, loc.rank, loc.row),
        (3, 1, 2, 1, 77)
    );
}

#[test]
fn addresses_beyond_capacity_are_errors() {
    let a = preset("hbm2");
    let m = MemorySystem::new(&a, MemoryOptions::default()).unwrap();
    let cap = a.dram.capacity_bytes();
    assert!(matches!(
        m.mapper().decode(cap),
        Err(triad_isa::Error::AddressOutOfRange { .. })
    ));
    assert!(m.mapper().decode(cap - 1).is_ok());
}
