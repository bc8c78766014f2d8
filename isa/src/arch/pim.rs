//! Processing-in-memory units inside the DRAM: where they sit (next to each bank,
//! per bank group, or on the buffer die), how wide they are, which dtypes they
//! compute in, their clock, global buffer and the timing of the PIM command
//! families (MAC column commands, global-buffer writes, result reads, activation
//! functions, element-wise ops), after GDDR6-AiM, HBM-PIM and AttAcc.
//!
//! Counts here are per *unit*; how many units exist follows from the placement and
//! the DRAM geometry ([`Pim::units_per_channel`]).

use crate::DType;
use crate::arch::Dram;
use crate::ops::PimFn;
use serde::{Deserialize, Serialize};

/// Where the PIM units sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PimPlacement {
    /// Next to the bank's row buffer (AiM, HBM-PIM); one unit per `banks_per_unit`
    /// banks of a bank group.
    Bank,
    /// At the bank-group I/O mux, one unit per bank group (AttAcc's BG-PIM).
    BankGroup,
    /// On the buffer (base) die, one unit per channel (AttAcc's buffer-die PIM,
    /// Duplex's Logic-PIM).
    BufferDie,
}

/// Timing of the PIM commands, in DRAM command-clock cycles (TOML `[pim.timing_ck]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PimTiming {
    /// Cycles between consecutive MAC column commands (all-bank MAC).
    pub tccd_mac: u32,
    /// Cycles per global-buffer burst write.
    pub twr_gb: u32,
    /// Cycles from RD_MAC to result data.
    pub trd_mac: u32,
    /// Activation-function latency.
    pub taf: u32,
    /// Cycles of one element-wise op per column.
    pub tewop: u32,
    /// Cycles a channel needs to enter PIM mode before its first PIM command after
    /// ordinary traffic (HBM-PIM's SB -> HAB -> HAB_PIM switch); 0 with `tmode_exit`
    /// 0: the device has no modes and PIM and ordinary commands interleave freely.
    #[serde(default)]
    pub tmode_enter: u32,
    /// Cycles a channel needs to leave PIM mode (HBM-PIM's HAB_PIM -> HAB -> SB).
    #[serde(default)]
    pub tmode_exit: u32,
}

impl PimTiming {
    /// True when the device switches between an ordinary and a PIM mode.
    pub fn has_modes(&self) -> bool {
        self.tmode_enter > 0 || self.tmode_exit > 0
    }
}

/// A PIM configuration (the same unit replicated across all channels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pim {
    /// Where the units sit.
    pub placement: PimPlacement,
    /// Banks sharing one unit (1 for AiM, 2 for HBM-PIM; banks per group for
    /// bank-group placement; banks per channel for buffer-die placement).
    pub banks_per_unit: u32,
    /// MACs one unit performs per MAC column command.
    pub mac_lanes: u32,
    /// Dtypes the MAC units compute in.
    pub dtypes: Vec<DType>,
    /// PIM logic clock period in picoseconds.
    pub tck_ps: u64,
    /// Global buffer (input-vector buffer) bytes per channel.
    pub global_buffer_bytes: u64,
    /// Command timings in DRAM cycles.
    #[serde(rename = "timing_ck")]
    pub timing: PimTiming,
    /// Activation functions available (TOML: their names, e.g. `"gelu_tanh"`).
    pub activation_functions: Vec<PimFn>,
}

impl Pim {
    /// PIM units in one channel under this placement and DRAM geometry.
    pub fn units_per_channel(&self, dram: &Dram) -> u32 {
        match self.placement {
            PimPlacement::Bank => dram.banks_per_channel() / self.banks_per_unit.max(1),
            PimPlacement::BankGroup => dram.ranks.saturating_mul(dram.bank_groups),
            PimPlacement::BufferDie => 1,
        }
    }

    /// PIM units in the whole memory system.
    pub fn total_units(&self, dram: &Dram) -> u64 {
        u64::from(dram.channels) * u64::from(self.units_per_channel(dram))
    }

    /// Whether the units compute in `dtype`.
    pub fn supports(&self, dtype: DType) -> bool {
        self.dtypes.contains(&dtype)
    }

    /// The PIM clock period as a typed time.
    pub fn tck(&self) -> crate::Picos {
        crate::Picos(self.tck_ps)
    }
}
