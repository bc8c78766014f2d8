//! PIM requests and how the PIM controller expands them into commands.
//!
//! # Weight layout of a GEMV (PIM-GPT style row partitioning)
//! `y = W x` with `W` of `rows x cols` elements. Matrix rows are dealt round-robin
//! over every PIM unit of the system, channel-major: row `r` goes to global unit
//! `u = r % total_units` (channel `u / units_per_channel`, unit `u % units_per_channel`)
//! as that unit's `k = r / total_units`-th row. So every unit holds
//! `rows_per_unit = ceil(rows / total_units)` rows (the last units may hold one
//! padding row less; all units run in lock-step, so the count is the same).
//!
//! The input vector is broadcast to each channel's global buffer in *chunks* of
//! `chunk_cols` elements (as many as the buffer holds, a multiple of the elements one
//! MAC consumes). Inside a unit the weights are stored chunk-major: for chunk `c`,
//! for each of its rows `k`, the `ceil(chunk_len / elems_per_mac)` bursts of
//! `W[r, c*chunk_cols ..]`, one burst per MAC column command. This stream of bursts
//! fills the unit's DRAM rows column by column, first in the first bank of the unit,
//! then in its next bank (same row index), so one ACT_AB opens
//! `banks_per_unit * columns_per_row` bursts per unit. Every unit's stream starts at
//! DRAM row `base_row` of its banks.
//!
//! # Command expansion (per channel, all channels in parallel)
//! For each chunk: `ceil(chunk_len * elem_bytes / burst_bytes)` WR_GB; then for each
//! row slot `k`: one MAC_AB per burst of the row chunk (the controller inserts
//! PRE_AB / ACT_AB whenever the stream crosses into a new DRAM row), then
//! `ceil(units_per_channel * elem_bytes / burst_bytes)` read-outs of the partial
//! sums (RD_MAC; RD_AF when an activation function is requested, which needs the
//! whole row in one chunk). The controller issues them in order, each as early as
//! the timing rules allow.
//!
//! A MAC column command consumes `min(mac_lanes, burst_bytes * 8 / dtype bits)`
//! elements per unit (one burst read from the bank).
//!
//! In [`PimMode::SingleBank`] every MAC_AB becomes one MAC_SB per unit (unit 0
//! first), and the rows are opened and closed bank by bank with ACT / PRE.

use crate::error::{Error, Result};
use triad_isa::{Arch, DType};

/// How MAC commands address the banks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PimMode {
    /// One MAC_AB drives every unit of a channel; ACT_AB / PRE_AB open and close
    /// all banks at once (exempt from tRRD / tFAW).
    #[default]
    AllBank,
    /// One MAC_SB per unit, each addressed to one bank; banks are opened and closed
    /// with ordinary ACT / PRE (tRRD and tFAW apply), units take turns on the
    /// command bus.
    SingleBank,
}

/// A GEMV `y = act(W x)` over every PIM unit of the system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PimGemv {
    /// Rows of `W` (outputs).
    pub rows: u64,
    /// Columns of `W` (inputs).
    pub cols: u64,
    /// Element type of `W`, `x` and `y`.
    pub dtype: DType,
    /// Activation applied on read-out (a name from the arch's list), if any.
    pub activation: Option<String>,
    /// First DRAM row of every unit's weight stream.
    pub base_row: u32,
    /// All-bank or single-bank MAC commands.
    pub mode: PimMode,
}

/// An element-wise op (EWMUL / EWADD) over `elems` elements spread over all units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PimElementwise {
    /// Elements processed.
    pub elems: u64,
    /// Element type.
    pub dtype: DType,
    /// First DRAM row of every unit's operand stream.
    pub base_row: u32,
}

/// One request to the PIM controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PimRequest {
    /// Matrix-vector product.
    Gemv(PimGemv),
    /// Element-wise op.
    Elementwise(PimElementwise),
}

impl PimRequest {
    /// A short description for errors and logs.
    pub fn describe(&self) -> String {
        match self {
            PimRequest::Gemv(g) => format!("gemv {}x{} {}", g.rows, g.cols, g.dtype),
            PimRequest::Elementwise(e) => format!("elementwise {} {}", e.elems, e.dtype),
        }
    }
}

/// How a PIM request maps onto the units (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PimLayout {
    /// PIM units per channel.
    pub units_per_channel: u64,
    /// PIM units in the system.
    pub total_units: u64,
    /// Banks per unit (`banks_per_channel / units_per_channel`).
    pub sub_banks: u64,
    /// Bursts in one row of one bank.
    pub columns_per_row: u64,
    /// Elements one MAC (or EWOP) column command consumes per unit.
    pub elems_per_mac: u64,
    /// Rows of `W` per unit (GEMV) or 1 (element-wise).
    pub rows_per_unit: u64,
    /// Elements per global-buffer chunk.
    pub chunk_cols: u64,
    /// Matrix columns (GEMV) or elements per unit (element-wise).
    pub cols: u64,
    /// Number of chunks.
    pub chunks: u64,
    /// Bytes per element (at least 1).
    pub elem_bytes: u64,
    /// Bytes per burst.
    pub burst_bytes: u64,
    /// Read-out commands per row slot.
    pub readouts_per_row: u64,
    /// True when read-outs go through the activation function.
    pub activation: bool,
    /// First DRAM row used.
    pub base_row: u64,
    /// Column commands in one unit's whole stream.
    pub stream_len: u64,
    /// True for GEMV, false for element-wise.
    pub gemv: bool,
    /// True when MACs are single-bank commands.
    pub single_bank: bool,
}

/// Location of one weight in DRAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightLocation {
    /// Channel.
    pub channel: u64,
    /// Unit within the channel.
    pub unit: u64,
    /// DRAM row.
    pub row: u64,
    /// Bank within the unit.
    pub sub_bank: u64,
    /// Burst column within the row.
    pub column: u64,
}

impl PimLayout {
    /// The layout of `req` on `arch`, or why it cannot run there.
    pub fn new(arch: &Arch, req: &PimRequest) -> Result<PimLayout> {
        let fail = |message: String| Error::Pim {
            request: req.describe(),
            message,
        };
        let pim = arch
            .pim
            .as_ref()
            .ok_or_else(|| fail(format!("arch `{}` has no PIM units", arch.name)))?;
        let dram = &arch.dram;
        let (dtype, base_row) = match req {
            PimRequest::Gemv(g) => (g.dtype, g.base_row),
            PimRequest::Elementwise(e) => (e.dtype, e.base_row),
        };
        if !pim.supports(dtype) {
            return Err(fail(format!("pim.dtypes of `{}` lacks {dtype}", arch.name)));
        }
        let units_per_channel = u64::from(pim.units_per_channel(dram));
        let banks = u64::from(dram.banks_per_channel());
        if units_per_channel == 0 || banks % units_per_channel != 0 {
            return Err(fail(format!(
                "{banks} banks per channel do not divide into {units_per_channel} PIM units"
            )));
        }
        let total_units = units_per_channel * u64::from(dram.channels);
        let burst_bytes = dram.burst_bytes();
        let elems_per_mac = u64::from(pim.mac_lanes).min(burst_bytes * 8 / dtype.bits());
        if elems_per_mac == 0 {
            return Err(fail(format!(
                "a {burst_bytes}-byte burst holds no {dtype} element"
            )));
        }
        let elem_bytes = dtype.bits().div_ceil(8);
        let columns_per_row = u64::from(dram.columns_per_row());
        let sub_banks = banks / units_per_channel;
        let mut layout = PimLayout {
            units_per_channel,
            total_units,
            sub_banks,
            columns_per_row,
            elems_per_mac,
            rows_per_unit: 1,
            chunk_cols: 0,
            cols: 0,
            chunks: 1,
            elem_bytes,
            burst_bytes,
            readouts_per_row: 0,
            activation: false,
            base_row: u64::from(base_row),
            stream_len: 0,
            gemv: false,
            single_bank: false,
        };
        match req {
            PimRequest::Gemv(g) => {
                if g.rows == 0 || g.cols == 0 {
                    return Err(fail("rows and cols must be at least 1".into()));
                }
                let chunk = (pim.global_buffer_bytes / elem_bytes) / elems_per_mac * elems_per_mac;
                if chunk == 0 {
                    return Err(fail(format!(
                        "global buffer of {} bytes holds less than one MAC's {elems_per_mac} elements",
                        pim.global_buffer_bytes
                    )));
                }
                layout.gemv = true;
                layout.single_bank = g.mode == PimMode::SingleBank;
                layout.cols = g.cols;
                layout.chunk_cols = chunk.min(g.cols);
                layout.chunks = g.cols.div_ceil(layout.chunk_cols);
                layout.rows_per_unit = g.rows.div_ceil(total_units);
                layout.readouts_per_row = (units_per_channel * elem_bytes).div_ceil(burst_bytes);
                if let Some(act) = &g.activation {
                    if !pim.activation_functions.iter().any(|a| a.name() == act) {
                        return Err(fail(format!(
                            "activation `{act}` not in pim.activation_functions ({})",
                            pim.activation_functions
                                .iter()
                                .map(|a| a.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                    if layout.chunks > 1 {
                        return Err(fail(format!(
                            "activation `{act}` needs whole rows, but {} columns take {} global-buffer loads of {}",
                            g.cols, layout.chunks, layout.chunk_cols
                        )));
                    }
                    layout.activation = true;
                }
                layout.stream_len = (0..layout.chunks)
                    .map(|c| layout.rows_per_unit * layout.macs_in_chunk(c))
                    .sum();
            }
            PimRequest::Elementwise(e) => {
                if e.elems == 0 {
                    return Err(fail("elems must be at least 1".into()));
                }
                layout.cols = e.elems.div_ceil(total_units);
                layout.chunk_cols = layout.cols;
                layout.stream_len = layout.cols.div_ceil(elems_per_mac);
            }
        }
        let rows_needed = layout.stream_len.div_ceil(layout.super_row());
        if layout.base_row + rows_needed > u64::from(dram.rows) {
            return Err(fail(format!(
                "needs DRAM rows {}..{} of each unit, but banks have {} rows",
                layout.base_row,
                layout.base_row + rows_needed,
                dram.rows
            )));
        }
        Ok(layout)
    }

    /// Bursts one ACT_AB opens per unit.
    pub fn super_row(&self) -> u64 {
        self.sub_banks * self.columns_per_row
    }

    /// Elements in chunk `c`.
    pub fn chunk_len(&self, c: u64) -> u64 {
        if c + 1 < self.chunks {
            self.chunk_cols
        } else {
            self.cols - (self.chunks - 1) * self.chunk_cols
        }
    }

    /// MAC column commands per row slot in chunk `c`.
    pub fn macs_in_chunk(&self, c: u64) -> u64 {
        self.chunk_len(c).div_ceil(self.elems_per_mac)
    }

    /// WR_GB commands for chunk `c`.
    pub fn gb_writes_in_chunk(&self, c: u64) -> u64 {
        (self.chunk_len(c) * self.elem_bytes).div_ceil(self.burst_bytes)
    }

    /// DRAM rows each unit's stream occupies.
    pub fn dram_rows(&self) -> u64 {
        self.stream_len.div_ceil(self.super_row())
    }

    /// Where `W[r][col]` is stored (GEMV layouts).
    pub fn weight_location(&self, r: u64, col: u64) -> WeightLocation {
        let u = r % self.total_units;
        let k = r / self.total_units;
        let c = col / self.chunk_cols.max(1);
        let before: u64 = (0..c)
            .map(|cc| self.rows_per_unit * self.macs_in_chunk(cc))
            .sum();
        let s = before
            + k * self.macs_in_chunk(c)
            + (col % self.chunk_cols.max(1)) / self.elems_per_mac;
        let (row, sub_bank, column) = self.place(s);
        WeightLocation {
            channel: u / self.units_per_channel,
            unit: u % self.units_per_channel,
            row,
            sub_bank,
            column,
        }
    }

    /// (DRAM row, bank within unit, column) of stream position `s`.
    pub(crate) fn place(&self, s: u64) -> (u64, u64, u64) {
        let sr = self.super_row();
        let within = s % sr;
        (
            self.base_row + s / sr,
            within / self.columns_per_row,
            within % self.columns_per_row,
        )
    }
}

/// One step of a PIM job, before the controller adds ACT_AB / PRE_AB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PimOp {
    /// Write one burst of the input vector to the global buffer.
    WrGb,
    /// One MAC column command at (row, bank within unit, column).
    Mac { row: u32, sub: u32, column: u32 },
    /// One single-bank MAC in unit `unit` at (row, bank within unit, column).
    MacSb {
        row: u32,
        sub: u32,
        column: u32,
        unit: u32,
    },
    /// One element-wise column op.
    Ewop { row: u32, sub: u32, column: u32 },
    /// Read one burst of results (through the activation function if `af`).
    Read { af: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Gb(u64),
    Mac(u64, u64),
    Read(u64, u64),
    Ew(u64),
    Done,
}

/// A PIM request's command stream in one channel, generated on demand (nothing in it
/// grows with the matrix size).
#[derive(Clone, Debug)]
pub(crate) struct PimJob {
    /// Request id.
    pub id: u64,
    layout: PimLayout,
    chunk: u64,
    phase: Phase,
    stream: u64,
    unit: u64,
}

impl PimJob {
    pub(crate) fn new(id: u64, layout: PimLayout) -> PimJob {
        let phase = if layout.gemv {
            Phase::Gb(0)
        } else {
            Phase::Ew(0)
        };
        PimJob {
            id,
            layout,
            chunk: 0,
            phase,
            stream: 0,
            unit: 0,
        }
    }

    fn at(&self) -> (u32, u32, u32) {
        let (r, s, c) = self.layout.place(self.stream);
        // Rows, banks and columns fit u32: they index the arch's u32 geometry.
        (r as u32, s as u32, c as u32)
    }

    /// MACs one MAC column command performs in one channel (all its units).
    pub(crate) fn macs_per_command(&self) -> u64 {
        if self.layout.single_bank {
            self.layout.elems_per_mac
        } else {
            self.layout.units_per_channel * self.layout.elems_per_mac
        }
    }

    /// The next op, `None` when the job is complete.
    pub(crate) fn peek(&self) -> Option<PimOp> {
        match self.phase {
            Phase::Gb(_) => Some(PimOp::WrGb),
            Phase::Mac(..) => {
                let (row, sub, column) = self.at();
                if self.layout.single_bank {
                    // Units are u32-indexed: units_per_channel comes from u32 counts.
                    let unit = self.unit as u32;
                    Some(PimOp::MacSb {
                        row,
                        sub,
                        column,
                        unit,
                    })
                } else {
                    Some(PimOp::Mac { row, sub, column })
                }
            }
            Phase::Ew(_) => {
                let (row, sub, column) = self.at();
                Some(PimOp::Ewop { row, sub, column })
            }
            Phase::Read(..) => Some(PimOp::Read {
                af: self.layout.activation,
            }),
            Phase::Done => None,
        }
    }

    /// Moves past the op `peek` returned.
    pub(crate) fn advance(&mut self) {
        let l = &self.layout;
        self.phase = match self.phase {
            Phase::Gb(i) if i + 1 < l.gb_writes_in_chunk(self.chunk) => Phase::Gb(i + 1),
            Phase::Gb(_) => Phase::Mac(0, 0),
            Phase::Mac(k, j) if l.single_bank && self.unit + 1 < l.units_per_channel => {
                self.unit += 1;
                Phase::Mac(k, j)
            }
            Phase::Mac(k, j) => {
                self.unit = 0;
                self.stream += 1;
                if j + 1 < l.macs_in_chunk(self.chunk) {
                    Phase::Mac(k, j + 1)
                } else {
                    Phase::Read(k, 0)
                }
            }
            Phase::Read(k, i) if i + 1 < l.readouts_per_row => Phase::Read(k, i + 1),
            Phase::Read(k, _) if k + 1 < l.rows_per_unit => Phase::Mac(k + 1, 0),
            Phase::Read(..) if self.chunk + 1 < l.chunks => {
                self.chunk += 1;
                Phase::Gb(0)
            }
            Phase::Read(..) => Phase::Done,
            Phase::Ew(i) => {
                self.stream += 1;
                if i + 1 < l.stream_len {
                    Phase::Ew(i + 1)
                } else {
                    Phase::Done
                }
            }
            Phase::Done => Phase::Done,
        };
    }
}
