//! Energy counters per bank and channel, and their conversion to picojoules with the
//! arch's energy table.
//!
//! Conventions (each entry of the table used once, nothing hard-coded):
//! - ACT / PRE: `dram_act_pj` / `dram_pre_pj` per bank activated / precharged (an
//!   ACT_AB counts one ACT per bank, a PRE_AB one PRE per bank that was open).
//! - RD / WR: `dram_rd_bit_pj` / `dram_wr_bit_pj` per bit of the burst (array
//!   access), plus I/O.
//! - I/O: `dram_io_bit_pj` per bit that crosses the channel: RD, WR, WR_GB,
//!   WR_BIAS, RD_MAC and RD_AF bursts.
//! - WR_GB / WR_BIAS: also `sram_byte_pj` per byte written into the PIM buffer or
//!   accumulators.
//! - REF: `dram_ref_pj` per all-bank REF of one rank; a REFpb costs that divided by
//!   the banks of a rank (it refreshes one bank's share).
//! - PIM MAC: `pim_mac_pj` per MAC (the table's value includes the bank-internal data
//!   movement); one MAC_AB performs `units_per_channel * elems_per_mac` MACs.
//! - EWMUL / EWADD: `pim_mac_pj` per element op (each unit handles `lanes` elements:
//!   the op and the bank-internal read of `a`), plus one more burst read (`b`) and
//!   one burst write (`out`) per unit at the array's per-bit energies.
//! - AF: `pim_mac_pj` per result transformed (one look-up per result), also for
//!   the elements an activating EW_LD (`pim.ewact`) passes through the function.
//! - Background: `static_mw.dram` (and `static_mw.pim` when PIM is enabled) times
//!   elapsed time.

use serde::Serialize;
use triad_isa::{Arch, PicoJoules, Picos};

/// Commands counted for one bank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BankCounts {
    /// ACT (including its share of ACT_AB).
    pub act: u64,
    /// PRE (including its share of PRE_AB).
    pub pre: u64,
    /// RD.
    pub rd: u64,
    /// WR.
    pub wr: u64,
    /// REFpb.
    pub ref_pb: u64,
    /// MAC column reads (MAC_AB that read this bank).
    pub mac: u64,
    /// Element-wise column ops.
    pub ewop: u64,
}

/// Commands counted for one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChannelCounts {
    /// Per bank, flat index `rank * banks_per_rank + bank_group * banks_per_group + bank`.
    pub banks: Vec<BankCounts>,
    /// Ordinary (single-bank) ACT commands.
    pub act: u64,
    /// Ordinary (single-bank) PRE commands.
    pub pre: u64,
    /// All-bank REF commands (one per rank refreshed).
    pub ref_ab: u64,
    /// ACT_AB commands.
    pub act_ab: u64,
    /// PRE_AB commands.
    pub pre_ab: u64,
    /// MAC_AB commands.
    pub mac_ab: u64,
    /// MAC_SB commands.
    pub mac_sb: u64,
    /// EWMUL commands.
    pub ewmul: u64,
    /// EWADD commands.
    pub ewadd: u64,
    /// EW_LD commands (staged element-wise ops: bank to register file).
    pub ew_load: u64,
    /// EW_ST commands (staged element-wise ops: register file to bank).
    pub ew_store: u64,
    /// ACT_UB commands.
    pub act_ub: u64,
    /// PRE_UB commands.
    pub pre_ub: u64,
    /// EWMUL / EWADD of staged element-wise ops (counted in `ewmul` / `ewadd` too).
    pub ew_staged: u64,
    /// PIM mode entries.
    pub pim_enter: u64,
    /// PIM mode exits.
    pub pim_exit: u64,
    /// WR_GB commands.
    pub wr_gb: u64,
    /// WR_BIAS commands.
    pub wr_bias: u64,
    /// AF commands.
    pub af: u64,
    /// RD_MAC commands.
    pub rd_mac: u64,
    /// RD_AF commands.
    pub rd_af: u64,
    /// MACs performed by all units (each MAC_AB adds `units * lanes`, each MAC_SB
    /// `lanes`).
    pub pim_macs: u64,
    /// Element-wise ops performed by all units (each EWMUL / EWADD adds
    /// `units * lanes`).
    pub pim_ew_ops: u64,
    /// Results transformed by AF commands and activating EW_LDs.
    pub pim_af_results: u64,
}

impl ChannelCounts {
    /// Counters for a channel of `banks` banks.
    pub fn new(banks: usize) -> ChannelCounts {
        ChannelCounts {
            banks: vec![BankCounts::default(); banks],
            ..ChannelCounts::default()
        }
    }

    /// Sum over banks.
    pub fn bank_total(&self) -> BankCounts {
        self.banks
            .iter()
            .fold(BankCounts::default(), |a, b| BankCounts {
                act: a.act + b.act,
                pre: a.pre + b.pre,
                rd: a.rd + b.rd,
                wr: a.wr + b.wr,
                ref_pb: a.ref_pb + b.ref_pb,
                mac: a.mac + b.mac,
                ewop: a.ewop + b.ewop,
            })
    }

    /// Bursts that crossed the channel's data bus.
    pub fn io_bursts(&self) -> u64 {
        let b = self.bank_total();
        b.rd + b.wr + self.wr_gb + self.wr_bias + self.rd_mac + self.rd_af
    }
}

/// Energy by category, in picojoules (JSON keys end in `_pj`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct EnergyBreakdown {
    /// Activations.
    #[serde(rename = "act_pj")]
    pub act: PicoJoules,
    /// Precharges.
    #[serde(rename = "pre_pj")]
    pub pre: PicoJoules,
    /// Array reads.
    #[serde(rename = "rd_pj")]
    pub rd: PicoJoules,
    /// Array writes.
    #[serde(rename = "wr_pj")]
    pub wr: PicoJoules,
    /// Refresh.
    #[serde(rename = "refresh_pj")]
    pub refresh: PicoJoules,
    /// Off-chip I/O.
    #[serde(rename = "io_pj")]
    pub io: PicoJoules,
    /// PIM MACs.
    #[serde(rename = "pim_mac_pj")]
    pub pim_mac: PicoJoules,
    /// PIM element-wise ops.
    #[serde(rename = "pim_ewop_pj")]
    pub pim_ewop: PicoJoules,
    /// PIM global-buffer and accumulator writes (WR_GB, WR_BIAS), buffer side.
    #[serde(rename = "pim_buffer_pj")]
    pub pim_buffer: PicoJoules,
    /// PIM activation functions (AF).
    #[serde(rename = "pim_af_pj")]
    pub pim_af: PicoJoules,
    /// DRAM background power x time.
    #[serde(rename = "background_dram_pj")]
    pub background_dram: PicoJoules,
    /// PIM static power x time.
    #[serde(rename = "background_pim_pj")]
    pub background_pim: PicoJoules,
    /// Sum of the above.
    #[serde(rename = "total_pj")]
    pub total: PicoJoules,
}

/// milliwatt x picosecond in picojoules.
const PJ_PER_MW_PS: f64 = 1e-3;

/// Converts counters into energy; `pim_on` says whether PIM static power is charged.
pub(crate) fn energy_of(
    arch: &Arch,
    counts: &[ChannelCounts],
    elapsed: Picos,
    pim_on: bool,
) -> EnergyBreakdown {
    let e = &arch.energy;
    let dram = &arch.dram;
    let burst_bits = (dram.burst_bytes() * 8) as f64;
    let units = arch
        .pim
        .as_ref()
        .map_or(0, |p| u64::from(p.units_per_channel(dram))) as f64;
    let mut out = EnergyBreakdown::default();
    for ch in counts {
        let b = ch.bank_total();
        out.act += PicoJoules(b.act as f64 * e.dram_act_pj);
        out.pre += PicoJoules(b.pre as f64 * e.dram_pre_pj);
        out.rd += PicoJoules(b.rd as f64 * burst_bits * e.dram_rd_bit_pj);
        out.wr += PicoJoules(b.wr as f64 * burst_bits * e.dram_wr_bit_pj);
        out.refresh += PicoJoules(
            ch.ref_ab as f64 * e.dram_ref_pj
                + b.ref_pb as f64 * e.dram_ref_pj / f64::from(dram.banks_per_rank().max(1)),
        );
        out.io += PicoJoules(ch.io_bursts() as f64 * burst_bits * e.dram_io_bit_pj);
        out.pim_mac += PicoJoules(ch.pim_macs as f64 * e.pim_mac_pj);
        let ewops = (ch.ewmul + ch.ewadd) as f64;
        out.pim_ewop += PicoJoules(
            ch.pim_ew_ops as f64 * e.pim_mac_pj
                + (ewops - ch.ew_staged as f64)
                    * units
                    * burst_bits
                    * (e.dram_rd_bit_pj + e.dram_wr_bit_pj)
                + ch.ew_staged as f64 * units * burst_bits * e.dram_rd_bit_pj
                + ch.ew_load as f64 * units * burst_bits * e.dram_rd_bit_pj
                + ch.ew_store as f64 * units * burst_bits * e.dram_wr_bit_pj,
        );
        out.pim_buffer +=
            PicoJoules((ch.wr_gb + ch.wr_bias) as f64 * dram.burst_bytes() as f64 * e.sram_byte_pj);
        out.pim_af += PicoJoules(ch.pim_af_results as f64 * e.pim_mac_pj);
    }
    let ps = elapsed.0 as f64;
    out.background_dram = PicoJoules(e.static_mw.dram * ps * PJ_PER_MW_PS);
    if pim_on && arch.pim.is_some() {
        out.background_pim = PicoJoules(e.static_mw.pim * ps * PJ_PER_MW_PS);
    }
    out.total = out.act
        + out.pre
        + out.rd
        + out.wr
        + out.refresh
        + out.io
        + out.pim_mac
        + out.pim_ewop
        + out.pim_buffer
        + out.pim_af
        + out.background_dram
        + out.background_pim;
    out
}
