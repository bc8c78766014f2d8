//! The energy table: dynamic energy per event in picojoules and static power per
//! component in milliwatts. The simulator multiplies event counts by these and adds
//! static power times elapsed time; nothing else about energy is hard-coded.

use crate::DType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Static (leakage + clock) power per component, in milliwatts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticPower {
    /// CPU static power.
    pub cpu: f64,
    /// NPU static power.
    pub npu: f64,
    /// DRAM static (background) power, all channels.
    pub dram: f64,
    /// PIM logic static power, all units.
    pub pim: f64,
}

/// Energy per event. Keys end in their unit in TOML (`_pj`, `_mw`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Energy {
    /// NPU energy per MAC, per dtype (pJ).
    #[serde(default)]
    pub mac_pj: BTreeMap<DType, f64>,
    /// CPU energy per MAC-equivalent SIMD op, per dtype (pJ).
    #[serde(default)]
    pub cpu_op_pj: BTreeMap<DType, f64>,
    /// Scratchpad / SRAM access energy per byte (pJ).
    pub sram_byte_pj: f64,
    /// Energy of one ACT command (pJ).
    pub dram_act_pj: f64,
    /// Energy of one PRE command (pJ).
    pub dram_pre_pj: f64,
    /// Array read energy per bit (pJ).
    pub dram_rd_bit_pj: f64,
    /// Array write energy per bit (pJ).
    pub dram_wr_bit_pj: f64,
    /// Energy of one all-bank REF command, one rank (pJ).
    pub dram_ref_pj: f64,
    /// Off-chip I/O energy per bit moved over the channel (pJ).
    pub dram_io_bit_pj: f64,
    /// Energy of one PIM MAC, including the bank-internal data movement for it (pJ).
    pub pim_mac_pj: f64,
    /// Interconnect energy per byte (pJ).
    pub link_byte_pj: f64,
    /// Static power per component (mW), TOML table `[energy.static_mw]`.
    pub static_mw: StaticPower,
}

impl Energy {
    /// Every scalar entry with its dotted key, for validation and printing.
    pub fn scalars(&self) -> [(&'static str, f64); 13] {
        [
            ("sram_byte_pj", self.sram_byte_pj),
            ("dram_act_pj", self.dram_act_pj),
            ("dram_pre_pj", self.dram_pre_pj),
            ("dram_rd_bit_pj", self.dram_rd_bit_pj),
            ("dram_wr_bit_pj", self.dram_wr_bit_pj),
            ("dram_ref_pj", self.dram_ref_pj),
            ("dram_io_bit_pj", self.dram_io_bit_pj),
            ("pim_mac_pj", self.pim_mac_pj),
            ("link_byte_pj", self.link_byte_pj),
            ("static_mw.cpu", self.static_mw.cpu),
            ("static_mw.npu", self.static_mw.npu),
            ("static_mw.dram", self.static_mw.dram),
            ("static_mw.pim", self.static_mw.pim),
        ]
    }
}
