//! PIM jobs: what one PIM instruction does on the PIM controller of one DRAM
//! channel, as a short list of command steps (see `PIM_SEMANTICS` in the repository
//! docs and `isa/README.md`).
//!
//! The instruction is the truth: its operands, decoded by the arch's
//! [`AddressMapper`], decide which DRAM rows, banks and columns channel `N` works
//! on. A [`PimJob`] is built from one instruction for one channel and keeps only
//! *runs* of column commands — (DRAM row, bank, first column, count) — never one
//! entry per command, so a 7B-model GEMV does not allocate per command.
//!
//! # Command expansion (channel `N`, element size `e` bits, burst `B` bytes)
//! A matrix operand `w` of `rows x cols` with leading dimension `ld` (elements
//! between row starts, `ld >= cols`) is row-major: row `i` is the bytes
//! `[w + floor(i*ld*e/8), w + ceil((i*ld+cols)*e/8))`. Channel `N` *owns* row `i`
//! when the row's first byte decodes to channel `N`; every burst of an owned row must
//! decode to `N` too (else the job is an error: the row straddles channels).
//! - `pim.wr_gb src, len`: `ceil(len*e/8 / B)` WR_GB.
//! - `pim.wr_bias src, len`: `ceil(len*e/8 / B)` WR_BIAS (WR_GB timing).
//! - `pim.mac_abk w, rows, cols, ld`: the bursts of the owned rows, grouped by
//!   (DRAM row, bank within its PIM unit, column): one MAC_AB per distinct group, in
//!   (row, bank, column) order, all units in lock step; the controller adds
//!   PRE_AB / ACT_AB when the DRAM row changes. The rows join the owned set.
//! - `pim.mac_sbk w, bank, rows, cols, ld`: one MAC_SB per distinct burst of the owned
//!   rows that lies in flat bank `bank`, in (row, column) order, with ordinary
//!   ACT / PRE of that bank. Rows whose first byte is in `bank` join the owned set.
//! - `pim.rd_mac dst, len` / `pim.rd_af dst, len`: with `n` the owned rows `i < len`,
//!   `ceil(n*e/8 / B)` RD_MAC / RD_AF; the owned set is then cleared.
//! - `pim.af F, len`: `ceil(n*e/8 / B)` AF (one per burst of results, `taf` each).
//! - `pim.gemv out, w, x, rows, cols, ld`: `x` goes through the global buffer in chunks
//!   of `floor(global_buffer_bytes / B) * B` bytes; per chunk, `ceil(chunk bytes / B)`
//!   WR_GB then the MAC_AB of the owned rows' bursts holding that chunk's columns (as
//!   `mac_abk`); after the last chunk, `ceil(n*e/8 / B)` RD_MAC for the `n` owned
//!   rows. A channel that owns no row gets an empty job. It leaves the owned set of
//!   the separate MAC instructions alone.
//! - `pim.qgemv out, w, x, scale, zero, rows, cols, ld`: as `pim.gemv` over the bytes of
//!   `w` (i8 / i4 weights: a MAC burst holds more of them), `x` and the results in
//!   the activation dtype. The host reads `scale` and `zero` with ordinary bursts.
//! - `pim.ewmul` / `pim.ewadd out, a, b, len`: for every burst of `a` in channel
//!   `N`, `b` and `out` must decode to the same channel and bank (in-bank compute).
//!   *Fused* when every such burst of `a`, `b` and `out` lies in one DRAM row: one
//!   EWMUL / EWADD per distinct (DRAM row, bank within unit, column) of `a`, all
//!   units in lock step, rows opened with ACT_AB; the op's `tewop` covers reading
//!   `b` and writing `out`. *Staged* otherwise, as HBM-PIM runs it: the bursts are
//!   grouped by bank within unit and cut, in `a`'s (row, column) order, into tiles of
//!   `global_buffer_bytes / B` bursts (the register file); per tile, for bank 0,
//!   1, .. of the units: EW_LD of the tile's bursts of `a` (bank -> registers), then
//!   EWMUL / EWADD of its bursts of `b` (registers op bank -> registers), then EW_ST
//!   of its bursts of `out` (registers -> bank), each stage opening its own row in
//!   the addressed bank of every unit only (PRE_UB / ACT_UB, as HBM-PIM's all-bank
//!   mode opens the even or the odd banks), so one bank set's row switch overlaps
//!   the other's write recovery. Each command takes `tewop`; the load and the op
//!   are bank reads (tRTP to PRE), the store a bank write (tWR after its data).
//! - `pim.ewact F, out, a, len`: `a` and `out` as above (same channel and bank burst
//!   by burst), always staged as HBM-PIM's FILL with its activation flag then a
//!   store (PIMSimulator's relu kernel): per register-file tile, for bank 0, 1, ..
//!   of the units, an activating EW_LD of the tile's bursts of `a` (bank ->
//!   activation -> registers), then EW_ST of its bursts of `out`. The activating
//!   load is timed as a load; every element it moves is one activation result
//!   (energy as AF's). F must be in `pim.activation_functions`.
//!
//! # PIM mode (devices with `tmode_enter` or `tmode_exit` > 0)
//! A channel is in ordinary mode at the start. Before its first PIM command after
//! ordinary traffic it enters PIM mode: its open banks are precharged, then
//! PIM_ENTER, after which nothing issues on the channel for `tmode_enter` cycles.
//! In PIM mode it issues no ordinary RD / WR (ACT / PRE only for MAC_SB, REF as
//! due). As soon as its PIM queue is empty it leaves PIM mode the same way (PRE_AB,
//! PIM_EXIT, `tmode_exit` cycles); ordinary requests wait for that, and a run ends
//! no earlier than its last exit, so every run's PIM work is bracketed by an entry
//! and an exit. PIM instructions queued back to back share one entry and exit;
//! one submitted only after the previous one completed pays its own. With both
//! times 0 the device has no modes and PIM and ordinary commands interleave.
//!
//! A MAC or element-wise column command handles
//! `min(pim.mac_lanes, B*8/e)` elements per unit.
//!
//! # Limits and failures
//! Errors (never panics) name the instruction and channel: an arch without PIM, a
//! dtype the units lack, a buffer that is not in the program or not in DRAM, an
//! operand beyond the DRAM capacity, a vector larger than the global buffer, an
//! activation the arch lacks, a bank beyond the channel, a row that straddles
//! channels, element-wise operands in different banks.

use crate::error::{Error, Result};
use triad_isa::{AddressMapper, Arch, DType, Instruction, Location, Memory, Program, Slice};

/// Stages a controller looks ahead for a bank set to precharge early.
const LOOKAHEAD_STAGES: usize = 3;

/// The commands of a GEMV on the channel's owned rows of `w` (`rows x cols` of
/// `wdtype`, rows `ld` elements apart), with `x` (of `xdtype`) fed through the global buffer in chunks: per
/// chunk WR_GB then the MAC_AB of the owned rows' bursts holding its columns, then
/// RD_MAC of the owned results. Nothing when the channel owns no row.
fn gemv_steps(
    cx: &Cx,
    job: &mut PimJob,
    w: Slice,
    (rows, cols, ld): (u32, u32, u32),
    wdtype: DType,
    xdtype: DType,
) -> Result<()> {
    let region = cx.region(w, rows, cols, ld, wdtype, None)?;
    let mut n = 0;
    for r in 0..rows {
        n += u64::from(cx.owns(&region, r)?);
    }
    if n == 0 {
        return Ok(());
    }
    let chunk = cx.gb_chunk(xdtype)?;
    let cols = u64::from(cols);
    let mut c0 = 0;
    while c0 < cols {
        let len = chunk.min(cols - c0);
        // `len` <= cols, a u32.
        job.push(PimStep::WrGb(cx.bursts(len as u32, xdtype)));
        let runs = cx.mac_runs(&region, c0, c0 + len, None)?;
        job.push(PimStep::Columns {
            kind: PimColumn::MacAb,
            runs,
        });
        c0 += len;
    }
    job.push(PimStep::RdMac(cx.result_bursts(n, xdtype)));
    Ok(())
}

/// A run of column commands: `count` consecutive burst columns from `column` in DRAM
/// row `row`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PimRun {
    /// DRAM row.
    pub row: u32,
    /// For all-bank commands (MAC_AB, EWMUL, EWADD): the bank within every PIM unit
    /// (flat bank `f` is bank `f % banks_per_unit` of unit `f / banks_per_unit`);
    /// for MAC_SB: the flat bank index within the channel.
    pub bank: u32,
    /// First burst column.
    pub column: u32,
    /// Number of columns (at least 1).
    pub count: u32,
}

/// Which column command a run of a job issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PimColumn {
    /// All-bank MAC (every unit, rows opened with ACT_AB).
    MacAb,
    /// Single-bank MAC (one bank, ordinary ACT / PRE).
    MacSb,
    /// All-bank element-wise multiply.
    EwMul,
    /// All-bank element-wise add.
    EwAdd,
    /// All-bank load of `a` into the units' register files (staged element-wise op).
    EwLoad,
    /// All-bank load of `a` through the activation function into the register files
    /// (`pim.ewact`; issued as EW_LD, each element counted as an activation result).
    EwLoadAct,
    /// All-bank store of the register files into `out` (staged element-wise op).
    EwStore,
    /// The multiply of a staged element-wise op: reads `b`, result into the
    /// register files (issued as EWMUL).
    EwMulStaged,
    /// The add of a staged element-wise op (issued as EWADD).
    EwAddStaged,
}

impl PimColumn {
    /// True for the commands of a staged element-wise op, whose rows are opened
    /// and closed in the addressed bank of every unit only (ACT_UB / PRE_UB, as
    /// HBM-PIM's all-bank mode opens the even or the odd banks).
    pub fn is_staged(self) -> bool {
        matches!(
            self,
            PimColumn::EwLoad
                | PimColumn::EwLoadAct
                | PimColumn::EwStore
                | PimColumn::EwMulStaged
                | PimColumn::EwAddStaged
        )
    }
}

/// One step of a job, in issue order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PimStep {
    /// This many WR_GB (one burst of the input vector each).
    WrGb(u64),
    /// This many WR_BIAS (one burst of accumulator preloads each).
    WrBias(u64),
    /// Column commands over runs; the controller opens and closes rows around them.
    Columns {
        /// The command.
        kind: PimColumn,
        /// The runs, in issue order.
        runs: Vec<PimRun>,
    },
    /// This many AF (one burst of results each).
    Af(u64),
    /// This many RD_MAC (one burst of results each).
    RdMac(u64),
    /// This many RD_AF (one burst of results each).
    RdAf(u64),
}

impl PimStep {
    /// Commands this step issues (row commands excluded).
    pub fn commands(&self) -> u64 {
        match self {
            PimStep::WrGb(n)
            | PimStep::WrBias(n)
            | PimStep::Af(n)
            | PimStep::RdMac(n)
            | PimStep::RdAf(n) => *n,
            PimStep::Columns { runs, .. } => runs.iter().map(|r| u64::from(r.count)).sum(),
        }
    }
}

/// One MAC region that put results into a channel's accumulators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Region {
    base: u64,
    rows: u32,
    cols: u32,
    /// Elements between row starts.
    ld: u32,
    bits: u64,
    /// `Some(flat bank)` for `mac_sbk`: only rows starting in that bank.
    bank: Option<u32>,
}

/// Which accumulator rows channel `N` holds results for since its last read-out (the
/// "owned set" of `PIM_SEMANTICS`), kept as the MAC regions that produced them, so
/// it does not grow with the matrix. One per `pim.N`, passed to every
/// [`PimJob::from_instruction`] of that channel in program order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PimOwned {
    regions: Vec<Region>,
}

impl PimOwned {
    /// An empty set.
    pub fn new() -> PimOwned {
        PimOwned::default()
    }

    /// True when no MAC has run since the last read-out.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// Owned rows `i < len` (each row counted once, however many regions hold it).
    fn count(&self, len: u32, cx: &Cx) -> Result<u64> {
        let mut n = 0;
        for i in 0..len {
            for r in &self.regions {
                if i < r.rows && cx.owns(r, i)? {
                    n += 1;
                    break;
                }
            }
        }
        Ok(n)
    }
}

/// A PIM instruction's commands on one channel (see the module docs), with the
/// controller's position in them.
#[derive(Clone, Debug)]
pub struct PimJob {
    pub(crate) id: u64,
    channel: u32,
    mnemonic: &'static str,
    steps: Vec<PimStep>,
    /// Elements per unit one MAC / element-wise column command handles.
    lanes: u64,
    /// PIM units in the channel.
    units: u64,
    /// Results in one read-out burst.
    results_per_burst: u64,
    /// (step, run, command within the run or step).
    cursor: (usize, usize, u64),
}

/// A PIM job's next command, before the controller adds row commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PimOp {
    /// One burst into the global buffer.
    WrGb,
    /// One burst into the accumulators.
    WrBias,
    /// One AF.
    Af,
    /// One burst of accumulator results out.
    RdMac,
    /// One burst of activation results out.
    RdAf,
    /// A column command at (row, bank, column), bank as in [`PimRun::bank`].
    Column {
        kind: PimColumn,
        row: u32,
        bank: u32,
        column: u32,
    },
}

impl PimJob {
    /// The commands of `insn` (a `pim.*` instruction of `program`) on channel
    /// `channel` of `arch`, decoding operands with `mapper`; `owned` is channel
    /// `channel`'s owned set, updated as the instruction does (MACs add, read-outs
    /// clear).
    pub fn from_instruction(
        insn: &Instruction,
        program: &Program,
        arch: &Arch,
        mapper: &AddressMapper,
        channel: u32,
        owned: &mut PimOwned,
    ) -> Result<PimJob> {
        let cx = Cx::new(insn, program, arch, mapper, channel)?;
        let mut job = PimJob {
            id: 0,
            channel,
            mnemonic: insn.mnemonic(),
            steps: Vec::new(),
            lanes: 0,
            units: cx.units,
            results_per_burst: 0,
            cursor: (0, 0, 0),
        };
        let dtype_used = |d: DType, job: &mut PimJob| -> Result<()> {
            cx.dtype(d)?;
            job.lanes = cx.lanes(d);
            job.results_per_burst = (cx.burst * 8 / d.bits()).max(1);
            Ok(())
        };
        match insn {
            Instruction::PimWrGb(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.fits_gb(i.len, i.dtype)?;
                cx.slice(i.src)?;
                job.push(PimStep::WrGb(cx.bursts(i.len, i.dtype)));
            }
            Instruction::PimWrBias(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.slice(i.src)?;
                job.push(PimStep::WrBias(cx.bursts(i.len, i.dtype)));
            }
            Instruction::PimMacAbk(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.fits_gb(i.cols, i.dtype)?;
                let region = cx.region(i.w, i.rows, i.cols, i.ld, i.dtype, None)?;
                let runs = cx.mac_runs(&region, 0, u64::from(i.cols), None)?;
                job.push(PimStep::Columns {
                    kind: PimColumn::MacAb,
                    runs,
                });
                owned.regions.push(region);
            }
            Instruction::PimMacSbk(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.fits_gb(i.cols, i.dtype)?;
                let bank = u32::from(i.bank);
                if bank >= cx.arch.dram.banks_per_channel() {
                    return Err(cx.fail(format!(
                        "bank {bank} is beyond the {} banks of a channel",
                        cx.arch.dram.banks_per_channel()
                    )));
                }
                let region = cx.region(i.w, i.rows, i.cols, i.ld, i.dtype, Some(bank))?;
                let runs = cx.mac_runs(&region, 0, u64::from(i.cols), Some(bank))?;
                job.push(PimStep::Columns {
                    kind: PimColumn::MacSb,
                    runs,
                });
                owned.regions.push(region);
            }
            Instruction::PimRdMac(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.slice(i.dst)?;
                let n = owned.count(i.len, &cx)?;
                job.push(PimStep::RdMac(cx.result_bursts(n, i.dtype)));
                owned.regions.clear();
            }
            Instruction::PimAf(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.activation(i.func)?;
                let n = owned.count(i.len, &cx)?;
                job.push(PimStep::Af(cx.result_bursts(n, i.dtype)));
            }
            Instruction::PimRdAf(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.slice(i.dst)?;
                let n = owned.count(i.len, &cx)?;
                job.push(PimStep::RdAf(cx.result_bursts(n, i.dtype)));
                owned.regions.clear();
            }
            Instruction::PimGemv(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.slice(i.out)?;
                cx.slice(i.x)?;
                gemv_steps(&cx, &mut job, i.w, (i.rows, i.cols, i.ld), i.dtype, i.dtype)?;
            }
            Instruction::PimQGemv(i) => {
                // MAC lanes follow the weights' bursts; results are in the activation dtype.
                dtype_used(i.wdtype, &mut job)?;
                cx.dtype(i.dtype)?;
                job.results_per_burst = (cx.burst * 8 / i.dtype.bits()).max(1);
                for s in [i.out, i.x, i.scale, i.zero] {
                    cx.slice(s)?;
                }
                gemv_steps(
                    &cx,
                    &mut job,
                    i.w,
                    (i.rows, i.cols, i.ld),
                    i.wdtype,
                    i.dtype,
                )?;
            }
            Instruction::PimEwMul(i) => {
                dtype_used(i.dtype, &mut job)?;
                for step in cx.ew_steps(PimColumn::EwMul, i.out, i.a, Some(i.b), i.len, i.dtype)? {
                    job.push(step);
                }
            }
            Instruction::PimEwAdd(i) => {
                dtype_used(i.dtype, &mut job)?;
                for step in cx.ew_steps(PimColumn::EwAdd, i.out, i.a, Some(i.b), i.len, i.dtype)? {
                    job.push(step);
                }
            }
            Instruction::PimEwAct(i) => {
                dtype_used(i.dtype, &mut job)?;
                cx.activation(i.func)?;
                for step in cx.ew_steps(PimColumn::EwLoadAct, i.out, i.a, None, i.len, i.dtype)? {
                    job.push(step);
                }
            }
            _ => return Err(cx.fail("not a PIM instruction".into())),
        }
        Ok(job)
    }

    fn push(&mut self, step: PimStep) {
        if step.commands() > 0 {
            self.steps.push(step);
        }
    }

    /// The channel the job runs on.
    pub fn channel(&self) -> u32 {
        self.channel
    }

    /// The instruction's mnemonic.
    pub fn mnemonic(&self) -> &'static str {
        self.mnemonic
    }

    /// The steps, in issue order (steps without commands are left out).
    pub fn steps(&self) -> &[PimStep] {
        &self.steps
    }

    /// True when the job issues no command (the channel owns nothing of it).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Elements per PIM unit that one MAC or element-wise column command handles.
    pub fn lanes(&self) -> u64 {
        self.lanes
    }

    /// MACs one MAC_AB (all units) or MAC_SB (one unit) performs.
    pub(crate) fn macs_per(&self, kind: PimColumn) -> u64 {
        match kind {
            PimColumn::MacSb => self.lanes,
            _ => self.units * self.lanes,
        }
    }

    /// Results one AF, RD_MAC or RD_AF handles.
    pub(crate) fn results_per_burst(&self) -> u64 {
        self.results_per_burst
    }

    /// The next command, `None` when the job is complete.
    pub(crate) fn peek(&self) -> Option<PimOp> {
        let (s, r, k) = self.cursor;
        Some(match self.steps.get(s)? {
            PimStep::WrGb(_) => PimOp::WrGb,
            PimStep::WrBias(_) => PimOp::WrBias,
            PimStep::Af(_) => PimOp::Af,
            PimStep::RdMac(_) => PimOp::RdMac,
            PimStep::RdAf(_) => PimOp::RdAf,
            PimStep::Columns { kind, runs } => {
                let run = runs[r];
                PimOp::Column {
                    kind: *kind,
                    row: run.row,
                    bank: run.bank,
                    // k < run.count, a u32.
                    column: run.column + k as u32,
                }
            }
        })
    }

    /// The (row, bank within unit) of the next staged element-wise stage after the
    /// current one that works on a bank other than `bank` (looking at most
    /// `LOOKAHEAD_STAGES` stages ahead), so the controller can precharge that bank
    /// set while the current stage runs.
    pub(crate) fn next_other_bank(&self, bank: u32) -> Option<(u32, u32)> {
        let (s, _, _) = self.cursor;
        self.steps
            .iter()
            .skip(s + 1)
            .take(LOOKAHEAD_STAGES)
            .find_map(|step| match step {
                PimStep::Columns { kind, runs } if kind.is_staged() => runs
                    .first()
                    .filter(|r| r.bank != bank)
                    .map(|r| (r.row, r.bank)),
                _ => None,
            })
    }

    /// Moves past the command `peek` returned.
    pub(crate) fn advance(&mut self) {
        let (s, r, k) = self.cursor;
        let Some(step) = self.steps.get(s) else {
            return;
        };
        self.cursor = match step {
            PimStep::Columns { runs, .. } => {
                if k + 1 < u64::from(runs[r].count) {
                    (s, r, k + 1)
                } else if r + 1 < runs.len() {
                    (s, r + 1, 0)
                } else {
                    (s + 1, 0, 0)
                }
            }
            other => {
                if k + 1 < other.commands() {
                    (s, 0, k + 1)
                } else {
                    (s + 1, 0, 0)
                }
            }
        };
    }
}

/// What building a job needs: the instruction's context and the arch's geometry.
struct Cx<'a> {
    insn: &'a Instruction,
    program: &'a Program,
    arch: &'a Arch,
    mapper: &'a AddressMapper,
    channel: u32,
    burst: u64,
    units: u64,
    banks_per_unit: u32,
}

impl<'a> Cx<'a> {
    fn new(
        insn: &'a Instruction,
        program: &'a Program,
        arch: &'a Arch,
        mapper: &'a AddressMapper,
        channel: u32,
    ) -> Result<Cx<'a>> {
        let d = &arch.dram;
        let banks = d.banks_per_channel();
        let units = arch
            .pim
            .as_ref()
            .map_or(1, |p| p.units_per_channel(d).max(1));
        let cx = Cx {
            insn,
            program,
            arch,
            mapper,
            channel,
            burst: d.burst_bytes().max(1),
            units: u64::from(units),
            banks_per_unit: (banks / units).max(1),
        };
        cx.pim()?;
        if channel >= d.channels {
            return Err(cx.fail(format!(
                "channel {channel} is beyond the arch's {} channels",
                d.channels
            )));
        }
        if !banks.is_multiple_of(units) {
            return Err(cx.fail(format!(
                "{banks} banks per channel do not divide into {units} PIM units"
            )));
        }
        Ok(cx)
    }

    fn fail(&self, message: String) -> Error {
        Error::Pim {
            request: format!("`{}` on pim.{}", self.insn.mnemonic(), self.channel),
            message,
        }
    }

    fn pim(&self) -> Result<&'a triad_isa::Pim> {
        self.arch
            .pim
            .as_ref()
            .ok_or_else(|| self.fail(format!("arch `{}` has no PIM units", self.arch.name)))
    }

    fn dtype(&self, d: DType) -> Result<()> {
        if !self.pim()?.supports(d) {
            return Err(self.fail(format!("pim.dtypes of `{}` lacks {d}", self.arch.name)));
        }
        if self.lanes(d) == 0 {
            return Err(self.fail(format!("a {}-byte burst holds no {d} element", self.burst)));
        }
        Ok(())
    }

    /// `func` is one of the arch's activation functions.
    fn activation(&self, func: triad_isa::PimFn) -> Result<()> {
        let pim = self.pim()?;
        if pim.activation_functions.contains(&func) {
            return Ok(());
        }
        let has: Vec<&str> = pim.activation_functions.iter().map(|a| a.name()).collect();
        Err(self.fail(format!(
            "activation `{func}` not in pim.activation_functions ({})",
            has.join(", ")
        )))
    }

    fn lanes(&self, d: DType) -> u64 {
        let lanes = self.arch.pim.as_ref().map_or(0, |p| u64::from(p.mac_lanes));
        lanes.min(self.burst * 8 / d.bits())
    }

    /// Bursts holding `len` elements.
    fn bursts(&self, len: u32, d: DType) -> u64 {
        (u64::from(len) * d.bits()).div_ceil(8).div_ceil(self.burst)
    }

    fn result_bursts(&self, n: u64, d: DType) -> u64 {
        (n * d.bits()).div_ceil(8).div_ceil(self.burst)
    }

    fn fits_gb(&self, len: u32, d: DType) -> Result<()> {
        let gb = self.pim()?.global_buffer_bytes;
        let bytes = (u64::from(len) * d.bits()).div_ceil(8);
        if bytes > gb {
            return Err(self.fail(format!(
                "{len} {d} elements ({bytes} bytes) exceed the {gb}-byte global buffer"
            )));
        }
        Ok(())
    }

    /// Elements of one global-buffer chunk (a whole number of bursts).
    fn gb_chunk(&self, d: DType) -> Result<u64> {
        let gb = self.pim()?.global_buffer_bytes / self.burst * self.burst;
        let elems = gb * 8 / d.bits();
        if elems == 0 {
            return Err(self.fail(format!(
                "the {}-byte global buffer holds no whole burst",
                self.pim()?.global_buffer_bytes
            )));
        }
        Ok(elems)
    }

    /// DRAM byte address of `s`.
    fn slice(&self, s: Slice) -> Result<u64> {
        let b = self.program.buffer(s.buf).ok_or_else(|| {
            self.fail(format!(
                "buffer #{} is not in the program ({} buffers)",
                s.buf.0,
                self.program.buffers.len()
            ))
        })?;
        if b.mem != Memory::Dram {
            return Err(self.fail(format!(
                "operand in buffer `{}` lives in {}, not DRAM",
                b.name,
                b.mem.name()
            )));
        }
        let addr = b
            .addr
            .0
            .checked_add(s.offset.0)
            .filter(|&a| a < self.mapper.capacity());
        addr.ok_or_else(|| {
            self.fail(format!(
                "`{}`+{} is beyond the DRAM capacity of {} bytes",
                b.name,
                s.offset.0,
                self.mapper.capacity()
            ))
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn region(
        &self,
        w: Slice,
        rows: u32,
        cols: u32,
        ld: u32,
        d: DType,
        bank: Option<u32>,
    ) -> Result<Region> {
        let base = self.slice(w)?;
        if ld < cols {
            return Err(self.fail(format!(
                "`ld` {ld} is less than `cols` {cols} (rows of the matrix would overlap)"
            )));
        }
        let elems = if rows == 0 {
            0
        } else {
            u64::from(rows - 1) * u64::from(ld) + u64::from(cols)
        };
        let bytes = (elems * d.bits()).div_ceil(8);
        if base
            .checked_add(bytes)
            .is_none_or(|e| e > self.mapper.capacity())
        {
            return Err(self.fail(format!(
                "the {rows}x{cols} {d} matrix at byte {base} runs past the DRAM capacity of {} bytes",
                self.mapper.capacity()
            )));
        }
        Ok(Region {
            base,
            rows,
            cols,
            ld,
            bits: d.bits(),
            bank,
        })
    }

    fn decode(&self, addr: u64) -> Result<Location> {
        self.mapper
            .decode(addr)
            .map_err(|e| self.fail(e.to_string()))
    }

    fn flat(&self, l: &Location) -> u32 {
        let d = &self.arch.dram;
        l.rank * d.banks_per_rank() + l.bank_group * d.banks_per_group + l.bank
    }

    /// Byte range of elements `[c0, c1)` of matrix row `i`.
    fn row_bytes(r: &Region, i: u32, c0: u64, c1: u64) -> (u64, u64) {
        let row0 = u64::from(i) * u64::from(r.ld);
        (
            r.base + (row0 + c0) * r.bits / 8,
            r.base + ((row0 + c1) * r.bits).div_ceil(8),
        )
    }

    /// True when channel `N` owns row `i` of `r` (and, for `mac_sbk`, it starts in
    /// the region's bank).
    fn owns(&self, r: &Region, i: u32) -> Result<bool> {
        let (start, _) = Self::row_bytes(r, i, 0, 0);
        let l = self.decode(start)?;
        Ok(l.channel == self.channel && r.bank.is_none_or(|b| self.flat(&l) == b))
    }

    /// Runs of the bursts of the owned rows' elements `[c0, c1)`: MAC_AB groups
    /// (`bank = None`: bank within unit) or MAC_SB bursts of flat bank `bank`.
    fn mac_runs(&self, r: &Region, c0: u64, c1: u64, bank: Option<u32>) -> Result<Vec<PimRun>> {
        let mut runs = RunSet::default();
        for i in 0..r.rows {
            if !self.owns(r, i)? {
                continue;
            }
            let (s, e) = Self::row_bytes(r, i, c0, c1);
            if e <= s {
                continue;
            }
            for b in s / self.burst..=(e - 1) / self.burst {
                let l = self.decode(b * self.burst)?;
                if l.channel != self.channel {
                    return Err(self.fail(format!(
                        "row {i} of the matrix straddles channels {} and {} (burst at byte {})",
                        self.channel,
                        l.channel,
                        b * self.burst
                    )));
                }
                let f = self.flat(&l);
                match bank {
                    None => runs.push(l.row, f % self.banks_per_unit, l.column),
                    Some(k) if f == k => runs.push(l.row, f, l.column),
                    Some(_) => {}
                }
            }
        }
        Ok(runs.finish())
    }

    /// The steps of an element-wise op: `kind` is EwMul / EwAdd for a binary op
    /// (`b` given), EwLoadAct for an activation (`b` is `None`). A binary op is
    /// fused (one `kind` per burst of `a`) when every burst of `a`, `b` and `out`
    /// lies in one DRAM row; otherwise, and always for an activation, staged per
    /// register-file tile (see the module docs).
    fn ew_steps(
        &self,
        kind: PimColumn,
        out: Slice,
        a: Slice,
        b: Option<Slice>,
        len: u32,
        d: DType,
    ) -> Result<Vec<PimStep>> {
        let bursts = self.ew_bursts(out, a, b, len, d)?;
        if b.is_some() && bursts.iter().all(|x| x.a.0 == x.b.0 && x.a.0 == x.out.0) {
            let mut runs = RunSet::default();
            for x in &bursts {
                runs.push(x.a.0, x.bank, x.a.1);
            }
            return Ok(vec![PimStep::Columns {
                kind,
                runs: runs.finish(),
            }]);
        }
        let tile = (self.pim()?.global_buffer_bytes / self.burst).max(1) as usize;
        let mut by_bank: Vec<Vec<EwBurst>> = vec![Vec::new(); self.banks_per_unit as usize];
        for x in bursts {
            by_bank[x.bank as usize].push(x);
        }
        for v in &mut by_bank {
            v.sort_unstable_by_key(|x| (x.a, x.b, x.out));
            v.dedup_by_key(|x| x.a);
        }
        let tiles = by_bank
            .iter()
            .map(|v| v.len().div_ceil(tile))
            .max()
            .unwrap_or(0);
        let mut steps = Vec::new();
        for t in 0..tiles {
            for (bank, v) in by_bank.iter().enumerate() {
                let Some(chunk) = v.chunks(tile).nth(t) else {
                    continue;
                };
                let bank = bank as u32;
                let stage = |kind, pick: fn(&EwBurst) -> (u32, u32)| {
                    let mut runs = RunSet::default();
                    for x in chunk {
                        let (row, col) = pick(x);
                        runs.push(row, bank, col);
                    }
                    PimStep::Columns {
                        kind,
                        runs: runs.finish(),
                    }
                };
                match kind {
                    PimColumn::EwLoadAct => steps.push(stage(PimColumn::EwLoadAct, |x| x.a)),
                    _ => {
                        steps.push(stage(PimColumn::EwLoad, |x| x.a));
                        let op = if kind == PimColumn::EwMul {
                            PimColumn::EwMulStaged
                        } else {
                            PimColumn::EwAddStaged
                        };
                        steps.push(stage(op, |x| x.b));
                    }
                }
                steps.push(stage(PimColumn::EwStore, |x| x.out));
            }
        }
        Ok(steps)
    }

    /// The bursts of `a` in this channel with the (row, column) of `a`, `b` and
    /// `out`, checking `b` and `out` share the channel and bank burst by burst.
    /// Without `b` (an activation) its position is `a`'s.
    fn ew_bursts(
        &self,
        out: Slice,
        a: Slice,
        b: Option<Slice>,
        len: u32,
        d: DType,
    ) -> Result<Vec<EwBurst>> {
        let bytes = (u64::from(len) * d.bits()).div_ceil(8);
        let pa = self.slice(a)?;
        let pb = b.map(|b| self.slice(b)).transpose()?.unwrap_or(pa);
        let po = self.slice(out)?;
        for (name, p) in [("a", pa), ("b", pb), ("out", po)] {
            if p + bytes > self.mapper.capacity() {
                return Err(self.fail(format!(
                    "operand `{name}` ({bytes} bytes at {p}) runs past the DRAM capacity"
                )));
            }
        }
        let mut v = Vec::new();
        let bursts = bytes.div_ceil(self.burst);
        for k in 0..bursts {
            let off = k * self.burst;
            let la = self.decode((pa + off) / self.burst * self.burst)?;
            if la.channel != self.channel {
                continue;
            }
            let mut rc = [(0, 0); 2];
            for (j, (name, p)) in [("b", pb), ("out", po)].into_iter().enumerate() {
                let l = self.decode((p + off) / self.burst * self.burst)?;
                rc[j] = (l.row, l.column);
                if l.channel != la.channel || self.flat(&l) != self.flat(&la) {
                    return Err(self.fail(format!(
                        "burst {k}: `{name}` is in channel {} bank {}, `a` in channel {} bank {} (element-wise ops compute inside one bank)",
                        l.channel,
                        self.flat(&l),
                        la.channel,
                        self.flat(&la)
                    )));
                }
            }
            v.push(EwBurst {
                bank: self.flat(&la) % self.banks_per_unit,
                a: (la.row, la.column),
                b: rc[0],
                out: rc[1],
            });
        }
        Ok(v)
    }
}

/// One burst of an element-wise op: bank within its unit, (row, column) of each
/// operand.
#[derive(Clone, Copy, Debug)]
struct EwBurst {
    bank: u32,
    a: (u32, u32),
    b: (u32, u32),
    out: (u32, u32),
}

/// Collects (row, bank, column) points into sorted, merged runs.
#[derive(Default)]
struct RunSet {
    runs: Vec<PimRun>,
}

impl RunSet {
    fn push(&mut self, row: u32, bank: u32, column: u32) {
        if let Some(last) = self.runs.last_mut()
            && last.row == row
            && last.bank == bank
            && column >= last.column
            && column <= last.column + last.count
        {
            last.count = last.count.max(column - last.column + 1);
            return;
        }
        self.runs.push(PimRun {
            row,
            bank,
            column,
            count: 1,
        });
    }

    /// Sorted by (row, bank, column), overlapping and adjacent runs merged: each
    /// distinct (row, bank, column) appears once.
    fn finish(mut self) -> Vec<PimRun> {
        self.runs.sort_unstable();
        let mut out: Vec<PimRun> = Vec::with_capacity(self.runs.len());
        for r in self.runs {
            if let Some(last) = out.last_mut()
                && last.row == r.row
                && last.bank == r.bank
                && r.column <= last.column + last.count
            {
                let end = (last.column + last.count).max(r.column + r.count);
                last.count = end - last.column;
                continue;
            }
            out.push(r);
        }
        out
    }
}
