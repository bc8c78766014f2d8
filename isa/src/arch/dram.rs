//! The DRAM part of the machine description: standard, geometry, clock, every
//! timing parameter in command-clock cycles, the address mapping, refresh and the
//! memory controller's queue configuration.
//!
//! Geometry follows DRAMsim3's conventions so that its configs translate one to one:
//! a *channel* is an independent command/data bus `bus_bits` wide; `row_bytes` is
//! the size of one row (page) of one bank as the channel sees it (all devices of a
//! rank together, i.e. DRAMsim3's `columns * bus_width / 8`); one *burst* moves
//! `bus_bits / 8 * burst_length` bytes, and a row holds `row_bytes / burst_bytes`
//! bursts ("columns" in this crate). Addresses are split into fields with
//! [`AddressMapping`], read MSB to LSB like DRAMsim3's `address_mapping` string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A DRAM standard. It names the device family; every number that matters is given
/// explicitly in [`Dram`], so the standard is a label plus a sanity check source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DramStandard {
    /// LPDDR4 / LPDDR4X.
    Lpddr4,
    /// LPDDR5.
    Lpddr5,
    /// LPDDR5X.
    Lpddr5x,
    /// DDR4.
    Ddr4,
    /// DDR5.
    Ddr5,
    /// HBM2 / HBM2E (one channel here = one pseudo-channel where the preset says so).
    Hbm2,
    /// HBM3.
    Hbm3,
    /// GDDR6.
    Gddr6,
}

impl DramStandard {
    /// The lower-case name used in TOML (`lpddr5x`, `hbm2`, …).
    pub fn name(self) -> &'static str {
        match self {
            DramStandard::Lpddr4 => "lpddr4",
            DramStandard::Lpddr5 => "lpddr5",
            DramStandard::Lpddr5x => "lpddr5x",
            DramStandard::Ddr4 => "ddr4",
            DramStandard::Ddr5 => "ddr5",
            DramStandard::Hbm2 => "hbm2",
            DramStandard::Hbm3 => "hbm3",
            DramStandard::Gddr6 => "gddr6",
        }
    }
}

impl fmt::Display for DramStandard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of a physical DRAM address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddrField {
    /// Row within a bank (`ro`).
    Row,
    /// Rank within a channel (`ra`).
    Rank,
    /// Bank group within a rank (`bg`).
    BankGroup,
    /// Bank within a bank group (`ba`).
    Bank,
    /// Channel (`ch`).
    Channel,
    /// Column, counted in bursts (`co`).
    Column,
}

impl AddrField {
    /// Every field, in the order of DRAMsim3's default `rorabgbachco`.
    pub const ALL: [AddrField; 6] = [
        AddrField::Row,
        AddrField::Rank,
        AddrField::BankGroup,
        AddrField::Bank,
        AddrField::Channel,
        AddrField::Column,
    ];

    /// The two-letter code DRAMsim3 uses (`ro`, `ra`, `bg`, `ba`, `ch`, `co`).
    pub fn code(self) -> &'static str {
        match self {
            AddrField::Row => "ro",
            AddrField::Rank => "ra",
            AddrField::BankGroup => "bg",
            AddrField::Bank => "ba",
            AddrField::Channel => "ch",
            AddrField::Column => "co",
        }
    }
}

/// The order in which address bits select row, rank, bank group, bank, channel and
/// column, MSB first. Written in TOML as DRAMsim3's string, e.g. `"rorabgbachco"`.
///
/// Parsing only checks that the string is made of known two-letter codes; that
/// every field appears exactly once is a validation rule (so the error can name the
/// field path), see [`crate::Arch::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressMapping {
    /// The fields, most significant first.
    pub fields: Vec<AddrField>,
}

/// The text was not a sequence of two-letter address field codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad address mapping `{text}`: {reason} (expected two-letter codes ro, ra, bg, ba, ch, co, e.g. \"rorabgbachco\")"
)]
pub struct BadAddressMapping {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for AddressMapping {
    type Err = BadAddressMapping;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| BadAddressMapping {
            text: s.to_string(),
            reason,
        };
        if !s.is_ascii() || !s.len().is_multiple_of(2) {
            return Err(bad("length is not a multiple of two ASCII letters".into()));
        }
        let fields = (0..s.len() / 2)
            .map(|i| {
                let code = &s[2 * i..2 * i + 2];
                AddrField::ALL
                    .into_iter()
                    .find(|f| f.code() == code)
                    .ok_or_else(|| {
                        bad(format!("unknown field code `{code}` at position {}", 2 * i))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AddressMapping { fields })
    }
}

impl fmt::Display for AddressMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fields.iter().try_for_each(|x| f.write_str(x.code()))
    }
}

impl Serialize for AddressMapping {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AddressMapping {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How the controller refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshMode {
    /// REFab every `trefi` cycles, blocking the rank for `trfc`.
    AllBank,
    /// REFpb every `trefi_pb` cycles, blocking one bank for `trfc_pb`.
    PerBank,
    /// No refresh (for comparisons against models that do not refresh).
    Off,
}

/// Every DRAM timing parameter, in DRAM command-clock cycles (`tck_ps` each).
/// The TOML table is `[dram.timing_ck]` so the unit is in the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DramTiming {
    /// CAS (read) latency: RD to first data.
    pub cl: u32,
    /// CAS write latency: WR to first data.
    pub cwl: u32,
    /// ACT to RD on the same bank.
    pub trcd_rd: u32,
    /// ACT to WR on the same bank.
    pub trcd_wr: u32,
    /// PRE to ACT on the same bank.
    pub trp: u32,
    /// ACT to PRE on the same bank (minimum row-open time).
    pub tras: u32,
    /// ACT to ACT on the same bank.
    pub trc: u32,
    /// Column command to column command, different bank groups.
    pub tccd_s: u32,
    /// Column command to column command, same bank group.
    pub tccd_l: u32,
    /// ACT to ACT, different bank groups of one rank.
    pub trrd_s: u32,
    /// ACT to ACT, same bank group.
    pub trrd_l: u32,
    /// Window in which at most four ACTs may be issued to one rank.
    pub tfaw: u32,
    /// Write recovery: end of write data to PRE.
    pub twr: u32,
    /// End of write data to RD, different bank groups.
    pub twtr_s: u32,
    /// End of write data to RD, same bank group.
    pub twtr_l: u32,
    /// RD to PRE.
    pub trtp: u32,
    /// RD to WR command spacing on one channel (DRAMsim3's `read_to_write`:
    /// CL + burst cycles - CWL + tRTRS).
    pub trtw: u32,
    /// All-bank refresh cycle time.
    pub trfc: u32,
    /// All-bank refresh interval.
    pub trefi: u32,
    /// Per-bank refresh cycle time.
    pub trfc_pb: u32,
    /// Per-bank refresh interval (between REFpb commands to the rank).
    pub trefi_pb: u32,
    /// Window in which at most 32 ACTs may be issued to one rank (GDDR6's t32AW);
    /// 0 = no such window (default).
    #[serde(default)]
    pub t32aw: u32,
    /// Rank-to-rank switch: idle data-bus cycles between a burst of one rank and a
    /// burst of another, except between two writes (DRAMsim3's tRTRS, which it does
    /// not apply to WR → WR); 0 = none (default).
    #[serde(default)]
    pub trtrs: u32,
}

/// How the controller's command queues are organised (DRAMsim3's `queue_structure`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueStructure {
    /// One command queue per bank (DRAMsim3 `PER_BANK`).
    #[default]
    PerBank,
    /// One command queue per rank (DRAMsim3 `PER_RANK`).
    PerRank,
}

/// The cap on row hits a bank serves while an older request to another row of the
/// same bank waits. Written in TOML as an integer or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowHitCap {
    /// After this many column commands since the row opened, a waiting miss may
    /// precharge the bank even though hits are still queued.
    Hits(u32),
    /// Hits are served as long as any is queued (a miss waits for all of them).
    None,
}

impl RowHitCap {
    /// True when a bank that has served `streak` column commands since its ACT has
    /// reached the cap.
    pub fn reached(self, streak: u32) -> bool {
        match self {
            RowHitCap::Hits(n) => streak >= n,
            RowHitCap::None => false,
        }
    }
}

impl Serialize for RowHitCap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RowHitCap::Hits(n) => s.serialize_u32(*n),
            RowHitCap::None => s.serialize_str("none"),
        }
    }
}

impl<'de> Deserialize<'de> for RowHitCap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RowHitCap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer or \"none\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RowHitCap, E> {
                u32::try_from(v)
                    .map(RowHitCap::Hits)
                    .map_err(|_| E::custom(format!("row_hit_cap {v} does not fit in 32 bits")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RowHitCap, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("row_hit_cap {v} is negative")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RowHitCap, E> {
                if v == "none" {
                    Ok(RowHitCap::None)
                } else {
                    Err(E::custom(format!(
                        "row_hit_cap `{v}`: expected an integer or \"none\""
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The memory controller's configuration (one controller per channel). The model
/// is DRAMsim3's: requests wait in a read queue and a write buffer (its
/// `trans_queue_size` each); one request per cycle moves into the command queue of
/// its bank (or rank), `command_queue` entries deep; the command queues are served
/// round robin, each issuing its oldest ready command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerConfig {
    /// Read transaction queue entries (DRAMsim3 `trans_queue_size`).
    pub read_queue: u32,
    /// Write buffer entries (DRAMsim3 `trans_queue_size`).
    pub write_queue: u32,
    /// Command queues per bank or per rank (DRAMsim3 `queue_structure`; default per bank).
    #[serde(default)]
    pub queue_structure: QueueStructure,
    /// Entries of each command queue (DRAMsim3 `cmd_queue_size`; default 8).
    #[serde(default = "default_command_queue")]
    pub command_queue: u32,
    /// Column commands a bank serves after its ACT before an older miss to another
    /// row may precharge it while hits are still queued (DRAMsim3: 4).
    pub row_hit_cap: RowHitCap,
    /// Write-buffer occupancy at which the controller starts draining writes.
    pub write_drain_high: u32,
    /// A drain stops early when the write buffer falls to this occupancy.
    pub write_drain_low: u32,
    /// A drain also starts when the write buffer holds more than this many entries
    /// and every command queue is empty (DRAMsim3: 8; default 8).
    #[serde(default = "default_drain_idle")]
    pub write_drain_idle: u32,
    /// A row command (ACT / PRE) and a column command (RD / WR) may issue in the
    /// same cycle (HBM's separate row and column command buses; DRAMsim3
    /// `hbm_dual_cmd`, on for HBM). Default false: one command per cycle.
    #[serde(default)]
    pub dual_command: bool,
    /// Cycle at which each rank's first refresh is due (its refresh phase); absent:
    /// one refresh interval (`trefi`, or `trefi_pb` per bank) after the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_refresh_ck: Option<u32>,
}

fn default_command_queue() -> u32 {
    8
}

fn default_drain_idle() -> u32 {
    8
}

/// Largest number of channels an arch may have (the model allocates per channel).
pub const MAX_CHANNELS: u32 = 1024;
/// Largest number of ranks per channel.
pub const MAX_RANKS: u32 = 16;
/// Largest number of banks per rank (bank groups x banks per group).
pub const MAX_BANKS_PER_RANK: u32 = 256;
/// Largest number of rows per bank.
pub const MAX_ROWS: u32 = 1 << 24;
/// Largest transaction-queue or command-queue depth.
pub const MAX_QUEUE: u32 = 4096;

/// The DRAM system: standard, geometry, clock, timing, mapping, refresh, controller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dram {
    /// Device family.
    pub standard: DramStandard,
    /// Independent channels (each with its own controller and bus).
    pub channels: u32,
    /// Ranks per channel.
    pub ranks: u32,
    /// Bank groups per rank.
    pub bank_groups: u32,
    /// Banks per bank group.
    pub banks_per_group: u32,
    /// Rows per bank.
    pub rows: u32,
    /// Bytes in one row of one bank as seen by the channel (page size).
    pub row_bytes: u32,
    /// Data bus width of one channel, in bits.
    pub bus_bits: u32,
    /// Burst length in transfers.
    pub burst_length: u32,
    /// DRAM command clock period in picoseconds.
    pub tck_ps: u64,
    /// Data transfers per command clock per pin: 2 for DDR/LPDDR/HBM, 16 for GDDR6 as
    /// DRAMsim3 models it, 8 for LPDDR5X at a 4:1 WCK:CK ratio.
    pub transfers_per_clock: u32,
    /// Address bit order, MSB first (`"rorabgbachco"`).
    pub address_mapping: AddressMapping,
    /// Refresh policy.
    pub refresh: RefreshMode,
    /// Timing parameters in cycles (TOML table `[dram.timing_ck]`).
    #[serde(rename = "timing_ck")]
    pub timing: DramTiming,
    /// Controller queues and scheduling caps.
    pub controller: ControllerConfig,
}

impl Dram {
    /// Banks in one rank (`bank_groups * banks_per_group`, saturating).
    pub fn banks_per_rank(&self) -> u32 {
        self.bank_groups.saturating_mul(self.banks_per_group)
    }

    /// Banks in one channel (all ranks, saturating).
    pub fn banks_per_channel(&self) -> u32 {
        self.ranks.saturating_mul(self.banks_per_rank())
    }

    /// Bytes moved by one burst on one channel (`bus_bits / 8 * burst_length`).
    pub fn burst_bytes(&self) -> u64 {
        u64::from(self.bus_bits) / 8 * u64::from(self.burst_length)
    }

    /// Command-clock cycles one burst occupies the data bus
    /// (`burst_length / transfers_per_clock`, at least 1).
    pub fn burst_cycles(&self) -> u32 {
        (self.burst_length / self.transfers_per_clock.max(1)).max(1)
    }

    /// Bursts in one row (the column count of the address mapping).
    pub fn columns_per_row(&self) -> u32 {
        let burst = self.burst_bytes();
        if burst == 0 {
            return 0;
        }
        u32::try_from(u64::from(self.row_bytes) / burst).unwrap_or(u32::MAX)
    }

    /// Total capacity of all channels, in bytes (saturating at `u64::MAX`).
    pub fn capacity_bytes(&self) -> u64 {
        [
            self.channels,
            self.ranks,
            self.bank_groups,
            self.banks_per_group,
            self.rows,
            self.row_bytes,
        ]
        .into_iter()
        .fold(1u64, |acc, x| acc.saturating_mul(u64::from(x)))
    }

    /// Peak external bandwidth of all channels in bytes per second:
    /// `channels * bus_bits / 8 * transfers_per_clock / tCK`.
    pub fn peak_bandwidth_bytes_per_s(&self) -> f64 {
        if self.tck_ps == 0 {
            return 0.0;
        }
        f64::from(self.channels) * f64::from(self.bus_bits) / 8.0
            * f64::from(self.transfers_per_clock)
            / (self.tck_ps as f64 * 1e-12)
    }

    /// The timing as the controller and the checker apply it: with a single bank
    /// group every bank is in "another" group as far as the `_l` constraints go, so
    /// tCCD_L, tRRD_L and tWTR_L take the `_s` values (DRAMsim3's rule for
    /// `bankgroup_enable = false`: the device then runs at the short spacing).
    pub fn effective_timing(&self) -> DramTiming {
        let mut t = self.timing.clone();
        if self.bank_groups == 1 {
            t.tccd_l = t.tccd_s;
            t.trrd_l = t.trrd_s;
            t.twtr_l = t.twtr_s;
        }
        t
    }

    /// Data-bus cycles between two bursts the channel can sustain at best: one
    /// burst every `max(burst_cycles, tCCD)`, tCCD_S when bank groups alternate.
    pub fn min_burst_spacing(&self) -> u32 {
        let t = self.effective_timing();
        self.burst_cycles().max(t.tccd_s).max(1)
    }

    /// Peak bandwidth the command spacing allows, all channels, bytes per second:
    /// one burst per [`Dram::min_burst_spacing`] cycles. At most
    /// [`Dram::peak_bandwidth_bytes_per_s`] (the pin rate); below it when tCCD
    /// exceeds the burst's bus time (GDDR6 as DRAMsim3 models it).
    pub fn reachable_bandwidth_bytes_per_s(&self) -> f64 {
        if self.tck_ps == 0 {
            return 0.0;
        }
        f64::from(self.channels) * self.burst_bytes() as f64
            / (f64::from(self.min_burst_spacing()) * self.tck_ps as f64 * 1e-12)
    }

    /// The command clock period as a typed time.
    pub fn tck(&self) -> crate::Picos {
        crate::Picos(self.tck_ps)
    }

    /// Bits of the (burst-aligned) address one field takes under the mapping.
    /// Only meaningful after validation (all counts powers of two).
    pub fn field_bits(&self, field: AddrField) -> u32 {
        let count = match field {
            AddrField::Row => self.rows,
            AddrField::Rank => self.ranks,
            AddrField::BankGroup => self.bank_groups,
            AddrField::Bank => self.banks_per_group,
            AddrField::Channel => self.channels,
            AddrField::Column => self.columns_per_row(),
        };
        count.max(1).ilog2()
    }
}
