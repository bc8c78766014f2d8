//! The PIM instructions (`pim.N`), per the lead's PIM semantics
//! (`PIM_SEMANTICS.md`): each channel has a global buffer GB (the arch's
//! `pim.global_buffer_bytes`), f32 accumulators ACC and activation results AFR
//! indexed by matrix row, and the set of rows it has MACed since the last read-out.
//!
//! Row ownership: row i of a rows × cols weight operand `w` with leading dimension
//! `ld` occupies bytes `[w + i·ld·esize, +cols·esize)`; channel N owns it when those bytes decode (with
//! [`triad_isa::AddressMapper`]) to channel N. A row whose bursts decode to several
//! channels is an error (the verifier rejects it too), as is a row that does not
//! start on a byte (i4 with an odd `cols`).
//!
//! - `wr_gb`: GB[0..len] ← src (raw bytes; the MAC decodes them with its dtype).
//! - `wr_bias`: ACC[i] ← src[i], i < len (the owned set is unchanged).
//! - `mac_abk`: for each owned row i < rows: ACC[i] += w[i, j] · GB[j], j ascending
//!   from 0 to cols, every product and sum an f32 (the accumulator starts from its
//!   current value: 0, or the bias); i joins the owned set.
//! - `mac_sbk bank=B`: the same restricted to the **bursts** of owned rows that lie
//!   in flat bank B (rank·banks_per_rank + group·banks_per_group + bank): a row held
//!   wholly in B is MACed whole, which is the semantics' "rows whose bytes lie in
//!   bank B"; a row split over banks gets the partial sum of its columns in B (a
//!   decision: the per-bank MAC processes the bursts of that bank). A row with a
//!   burst in B joins the owned set.
//! - `rd_mac`: dst[i] ← round(ACC[i]) for owned i < len; other elements of dst are
//!   untouched. Then ACC, AFR and the owned set are cleared.
//! - `af F`: AFR[i] ← F(ACC[i]) for owned i < len, F in f64 rounded to f32
//!   (`gelu_erf` / `gelu_tanh` and the others as `act`, `exp` as `unary exp`).
//! - `rd_af`: dst[i] ← round(AFR[i]) for owned i < len, then clears like `rd_mac`;
//!   an owned row without an AFR value (no `af` covered it) is an error.
//! - `gemv out, w, x` (and `qgemv`): rows `ld` elements apart, as every MAC; exactly the command sequence it expands to: clear the
//!   channel's state, then for each GB-sized chunk of x (`global_buffer_bytes ·
//!   8 / bits` elements) WR_GB the chunk and MAC the owned rows over those columns,
//!   then RD_MAC `rows` results. So out[i] = round(Σ_j w[i, j]·x[j]) in f32 from 0
//!   for owned rows, other rows untouched, and GB is left holding the last chunk.
//! - `ewadd` / `ewmul`: out[e] = a[e] op b[e] for each e < len whose burst of `a`
//!   lies in channel N, evaluated in f64 and rounded once (integers wrap).
//! - `ewact F`: out[e] = F(a[e]) for the same elements, F as in `af`, evaluated in
//!   f64 and rounded once to the dtype; on integer dtypes only `relu` is defined.

use std::collections::{BTreeMap, BTreeSet};

use triad_isa::{
    AddressMapper, BinOp, DType, Engine, Memory, PimAf, PimEwAct, PimFn, PimGemv, PimMacAbk,
    PimMacSbk, PimQGemv, PimRdAf, PimRdMac, PimWrBias, PimWrGb, Slice,
};

use super::Exec;
use super::elem::{self, Vals};
use super::vector;
use crate::Result;

/// The functional state of one channel's PIM units.
#[derive(Clone, Debug, Default)]
pub(crate) struct Channel {
    /// Global buffer bytes (allocated at the first `wr_gb`, the arch's size).
    gb: Vec<u8>,
    /// Accumulators by matrix row.
    acc: BTreeMap<u32, f32>,
    /// Activation results by matrix row.
    afr: BTreeMap<u32, f32>,
    /// Rows MACed since the last read-out.
    owned: BTreeSet<u32>,
}

impl Channel {
    fn clear(&mut self) {
        self.acc.clear();
        self.afr.clear();
        self.owned.clear();
    }
}

/// The element-wise operation of `pim.ewadd` / `pim.ewmul`.
#[derive(Clone, Copy, Debug)]
pub(super) enum EwOp {
    /// `pim.ewadd`.
    Add,
    /// `pim.ewmul`.
    Mul,
}

/// The operand values of an element-wise op and what it computes from them.
enum EwArgs {
    /// `a op b`.
    Binary(EwOp, Vals, Vals),
    /// `F(a)`.
    Act(PimFn, Vals),
}

/// What a PIM instruction needs about its channel and the arch.
struct Ctx {
    channel: u16,
    gb_bytes: usize,
    mapper: AddressMapper,
    banks_per_rank: u32,
    banks_per_group: u32,
    banks_per_channel: u32,
}

fn ctx(x: &Exec<'_>) -> Result<Ctx> {
    let Engine::Pim(channel) = x.engine else {
        return Err(x.err("PIM instructions run on pim.N engines"));
    };
    let pim = x
        .arch
        .pim
        .as_ref()
        .ok_or_else(|| x.err("the arch has no PIM"))?;
    let d = &x.arch.dram;
    Ok(Ctx {
        channel,
        gb_bytes: x.count(pim.global_buffer_bytes)?,
        mapper: AddressMapper::new(&x.arch.name, d)?,
        banks_per_rank: d.banks_per_rank(),
        banks_per_group: d.banks_per_group,
        banks_per_channel: d.banks_per_channel(),
    })
}

/// DRAM address of a slice; PIM operands must be DRAM buffers.
fn dram(x: &Exec<'_>, s: Slice, what: &str) -> Result<u64> {
    match x.place(s) {
        (Memory::Dram, a) => Ok(a),
        (Memory::Spm, _) => Err(x.err(format!("`{what}` must be a DRAM buffer"))),
    }
}

fn channel<'m>(x: &'m mut Exec<'_>, c: &Ctx) -> &'m mut Channel {
    x.mem.pim.entry(c.channel).or_default()
}

/// Values as f32 (integers converted exactly up to 2^24, then rounded).
fn as_f32(v: &Vals) -> Vec<f32> {
    match v {
        Vals::Float(f) => f.clone(),
        Vals::Int(i) => i.iter().map(|&p| p as f32).collect(),
    }
}

/// `pim.wr_gb`.
pub(super) fn wr_gb(x: &mut Exec<'_>, i: &PimWrGb) -> Result<()> {
    let c = ctx(x)?;
    let src = dram(x, i.src, "src")?;
    let bytes = x.count(i.dtype.bytes_for(u64::from(i.len)))?;
    write_gb(x, &c, src, bytes)
}

fn write_gb(x: &mut Exec<'_>, c: &Ctx, src: u64, bytes: usize) -> Result<()> {
    if bytes > c.gb_bytes {
        return Err(x.err(format!(
            "{bytes} bytes do not fit the {}-byte global buffer",
            c.gb_bytes
        )));
    }
    let data = x.mem.read(Memory::Dram, src, bytes)?;
    let gb_bytes = c.gb_bytes;
    let ch = channel(x, c);
    ch.gb.resize(gb_bytes, 0);
    ch.gb[..bytes].copy_from_slice(&data);
    Ok(())
}

/// `pim.wr_bias`.
pub(super) fn wr_bias(x: &mut Exec<'_>, i: &PimWrBias) -> Result<()> {
    let c = ctx(x)?;
    let v = as_f32(&x.load(i.src, i.dtype, u64::from(i.len))?);
    let ch = channel(x, &c);
    for (r, b) in v.into_iter().enumerate() {
        ch.acc.insert(r as u32, b);
    }
    Ok(())
}

/// Which rows to MAC: every owned row, or only bursts in one flat bank.
#[derive(Clone, Copy)]
enum Banks {
    All,
    One(u32),
}

/// The MAC of `rows` rows of a `cols`-wide matrix at `w` (row `r` at element
/// `r·ld`) over columns `c0..c0 + n` against GB[0..n].
#[allow(clippy::too_many_arguments)]
fn mac(
    x: &mut Exec<'_>,
    c: &Ctx,
    w: u64,
    rows: u32,
    cols: u32,
    ld: u32,
    c0: u32,
    n: u32,
    dtype: DType,
    banks: Banks,
) -> Result<()> {
    let bits = dtype.bits();
    let gb_need = x.count(dtype.bytes_for(u64::from(n)))?;
    if gb_need > c.gb_bytes {
        return Err(x.err(format!(
            "{n} columns of {dtype} exceed the {}-byte global buffer",
            c.gb_bytes
        )));
    }
    let gb = {
        let ch = channel(x, c);
        let mut g = ch.gb.clone();
        g.resize(gb_need.max(g.len()), 0);
        as_f32(&elem::decode(dtype, &g, n as usize))
    };
    let shift = c.mapper.offset_bits();
    for r in 0..rows {
        let row_bits = u64::from(r) * u64::from(ld) * bits;
        if !row_bits.is_multiple_of(8) {
            return Err(x.err(format!("row {r} of {dtype} does not start on a byte")));
        }
        let start = w + row_bits / 8;
        let len = dtype.bytes_for(u64::from(cols)).max(1);
        let (first, last) = (start >> shift, (start + len - 1) >> shift);
        let home = c.mapper.decode(first << shift)?.channel;
        for burst in first + 1..=last {
            if c.mapper.decode(burst << shift)?.channel != home {
                return Err(x.err(format!(
                    "row {r} of `w` spans DRAM channels {home} and {} (a PIM row must lie in one channel)",
                    c.mapper.decode(burst << shift)?.channel
                )));
            }
        }
        if home != u32::from(c.channel) {
            continue;
        }
        let wrow = as_f32(&x.mem.read_elems(
            Memory::Dram,
            start + dtype.bytes_for(u64::from(c0)),
            dtype,
            n as usize,
        )?);
        if c0 % 2 == 1 && dtype == DType::I4 {
            return Err(x.err("an i4 GEMV chunk must start on a byte"));
        }
        let in_bank = |j: u32| -> Result<bool> {
            match banks {
                Banks::All => Ok(true),
                Banks::One(b) => {
                    let a = start + (u64::from(c0 + j) * bits) / 8;
                    let loc = c.mapper.decode(a)?;
                    Ok(
                        loc.rank * c.banks_per_rank + loc.bank_group * c.banks_per_group + loc.bank
                            == b,
                    )
                }
            }
        };
        let mut touched = false;
        let mut acc = x
            .mem
            .pim
            .get(&c.channel)
            .and_then(|ch| ch.acc.get(&r).copied())
            .unwrap_or(0.0);
        for j in 0..n {
            if in_bank(j)? {
                acc += wrow[j as usize] * gb[j as usize];
                touched = true;
            }
        }
        if touched {
            let ch = channel(x, c);
            ch.acc.insert(r, acc);
            ch.owned.insert(r);
        }
    }
    Ok(())
}

/// `pim.mac_abk`.
pub(super) fn mac_abk(x: &mut Exec<'_>, i: &PimMacAbk) -> Result<()> {
    let c = ctx(x)?;
    let w = dram(x, i.w, "w")?;
    mac(
        x,
        &c,
        w,
        i.rows,
        i.cols,
        i.ld,
        0,
        i.cols,
        i.dtype,
        Banks::All,
    )
}

/// `pim.mac_sbk`.
pub(super) fn mac_sbk(x: &mut Exec<'_>, i: &PimMacSbk) -> Result<()> {
    let c = ctx(x)?;
    if u32::from(i.bank) >= c.banks_per_channel {
        return Err(x.err(format!(
            "bank {} is not below the channel's {} banks",
            i.bank, c.banks_per_channel
        )));
    }
    let w = dram(x, i.w, "w")?;
    mac(
        x,
        &c,
        w,
        i.rows,
        i.cols,
        i.ld,
        0,
        i.cols,
        i.dtype,
        Banks::One(u32::from(i.bank)),
    )
}

/// Writes `vals[i]` (rounded to `dtype`) for the rows in `rows`, in runs of
/// consecutive rows, at `dst`; then clears the channel's results.
fn read_out(
    x: &mut Exec<'_>,
    c: &Ctx,
    dst: u64,
    dtype: DType,
    results: Vec<(u32, f32)>,
) -> Result<()> {
    let mut k = 0;
    while k < results.len() {
        let mut end = k + 1;
        while end < results.len() && results[end].0 == results[end - 1].0 + 1 {
            end += 1;
        }
        let run = elem::from_f64(dtype, results[k..end].iter().map(|&(_, v)| f64::from(v)));
        x.mem
            .write_elems_at(Memory::Dram, dst, dtype, u64::from(results[k].0), &run)?;
        k = end;
    }
    channel(x, c).clear();
    Ok(())
}

/// `pim.rd_mac`.
pub(super) fn rd_mac(x: &mut Exec<'_>, i: &PimRdMac) -> Result<()> {
    let c = ctx(x)?;
    let dst = dram(x, i.dst, "dst")?;
    let ch = channel(x, &c);
    let results: Vec<(u32, f32)> = ch
        .owned
        .range(..i.len)
        .map(|&r| (r, ch.acc.get(&r).copied().unwrap_or(0.0)))
        .collect();
    read_out(x, &c, dst, i.dtype, results)
}

/// A PIM activation in f64.
fn pim_fn(f: PimFn, v: f64) -> f64 {
    use triad_isa::ActFn;
    match f {
        PimFn::Relu => vector::activation(ActFn::Relu, v),
        PimFn::GeluErf => vector::activation(ActFn::GeluErf, v),
        PimFn::GeluTanh => vector::activation(ActFn::GeluTanh, v),
        PimFn::Silu => vector::activation(ActFn::Silu, v),
        PimFn::Sigmoid => vector::activation(ActFn::Sigmoid, v),
        PimFn::Tanh => vector::activation(ActFn::Tanh, v),
        PimFn::Exp => libm::exp(v),
    }
}

/// `pim.af`.
pub(super) fn af(x: &mut Exec<'_>, i: &PimAf) -> Result<()> {
    let c = ctx(x)?;
    let ch = channel(x, &c);
    let owned: Vec<u32> = ch.owned.range(..i.len).copied().collect();
    for r in owned {
        let a = ch.acc.get(&r).copied().unwrap_or(0.0);
        ch.afr.insert(r, pim_fn(i.func, f64::from(a)) as f32);
    }
    Ok(())
}

/// `pim.rd_af`.
pub(super) fn rd_af(x: &mut Exec<'_>, i: &PimRdAf) -> Result<()> {
    let c = ctx(x)?;
    let dst = dram(x, i.dst, "dst")?;
    let ch = channel(x, &c);
    let mut results = Vec::new();
    for &r in ch.owned.range(..i.len) {
        match ch.afr.get(&r) {
            Some(&v) => results.push((r, v)),
            None => {
                return Err(x.err(format!(
                    "row {r} has no activation result (no pim.af covered it since the last read-out)"
                )));
            }
        }
    }
    read_out(x, &c, dst, i.dtype, results)
}

/// `pim.gemv`: the WR_GB / MAC_ABK / RD_MAC sequence it expands to.
pub(super) fn gemv(x: &mut Exec<'_>, i: &PimGemv) -> Result<()> {
    let c = ctx(x)?;
    let (out, w, xv) = (
        dram(x, i.out, "out")?,
        dram(x, i.w, "w")?,
        dram(x, i.x, "x")?,
    );
    let chunk = (c.gb_bytes as u64 * 8 / i.dtype.bits()) as u32;
    if chunk == 0 {
        return Err(x.err("the global buffer holds no element"));
    }
    channel(x, &c).clear();
    let mut c0 = 0u32;
    while c0 < i.cols {
        let n = chunk.min(i.cols - c0);
        let from = xv + i.dtype.bytes_for(u64::from(c0));
        let bytes = x.count(i.dtype.bytes_for(u64::from(n)))?;
        write_gb(x, &c, from, bytes)?;
        mac(x, &c, w, i.rows, i.cols, i.ld, c0, n, i.dtype, Banks::All)?;
        c0 += n;
    }
    let ch = channel(x, &c);
    let results: Vec<(u32, f32)> = ch
        .owned
        .range(..i.rows)
        .map(|&r| (r, ch.acc.get(&r).copied().unwrap_or(0.0)))
        .collect();
    read_out(x, &c, out, i.dtype, results)
}

/// `pim.ewadd` / `pim.ewmul`.
pub(super) fn ewop(
    x: &mut Exec<'_>,
    out: Slice,
    a: Slice,
    b: Slice,
    len: u32,
    dtype: DType,
    op: EwOp,
) -> Result<()> {
    dram(x, b, "b")?;
    let av = x.load(a, dtype, u64::from(len))?;
    let bv = x.load(b, dtype, u64::from(len))?;
    ew_store(x, out, a, len, dtype, EwArgs::Binary(op, av, bv))
}

/// `pim.ewact`.
pub(super) fn ewact(x: &mut Exec<'_>, i: &PimEwAct) -> Result<()> {
    let av = x.load(i.a, i.dtype, u64::from(i.len))?;
    ew_store(x, i.out, i.a, i.len, i.dtype, EwArgs::Act(i.func, av))
}

/// Computes an element-wise op and writes the elements whose burst of `a` lies in
/// this channel to `out`.
fn ew_store(
    x: &mut Exec<'_>,
    out: Slice,
    a: Slice,
    len: u32,
    dtype: DType,
    args: EwArgs,
) -> Result<()> {
    let c = ctx(x)?;
    let (_, a_addr) = (dram(x, out, "out")?, dram(x, a, "a")?);
    let res = match args {
        EwArgs::Binary(op, av, bv) => {
            let bin = match op {
                EwOp::Add => BinOp::Add,
                EwOp::Mul => BinOp::Mul,
            };
            vector::binary(x, bin, dtype, &av, &bv, |e| e)?
        }
        EwArgs::Act(f, av) => {
            let g: Option<fn(i64) -> i64> = match f {
                PimFn::Relu => Some(|p| p.max(0)),
                _ => None,
            };
            vector::map(x, f.name(), av, dtype, |p| pim_fn(f, p), g)?
        }
    };
    let shift = c.mapper.offset_bits();
    let mut mine = Vec::new();
    let mut last: Option<(u64, bool)> = None;
    for e in 0..u64::from(len) {
        let burst = (a_addr + e * dtype.bits() / 8) >> shift;
        let own = match last {
            Some((b, o)) if b == burst => o,
            _ => {
                let o = c.mapper.decode(burst << shift)?.channel == u32::from(c.channel);
                last = Some((burst, o));
                o
            }
        };
        mine.push(own);
    }
    let (out_mem, out_addr) = x.place(out);
    let mut e = 0usize;
    while e < mine.len() {
        if !mine[e] {
            e += 1;
            continue;
        }
        let mut end = e + 1;
        while end < mine.len() && mine[end] {
            end += 1;
        }
        let run = match &res {
            Vals::Float(f) => Vals::Float(f[e..end].to_vec()),
            Vals::Int(v) => Vals::Int(v[e..end].to_vec()),
        };
        x.mem
            .write_elems_at(out_mem, out_addr, dtype, e as u64, &run)?;
        e = end;
    }
    Ok(())
}

/// `pim.qgemv`: for the rows i this channel owns (row i of `w`, `cols` elements of
/// `wdtype`, decoded to a channel), out[i] = round(scale[i] · Σ_j (w[i, j] −
/// zero[i]) · x[j]), products exact in f32, summed in f32 in increasing j, times the
/// scale in f32, rounded once. The channel's accumulators and owned set end cleared
/// (the expansion ends with RD_MAC); its global buffer is not modelled for qgemv.
pub(super) fn qgemv(x: &mut Exec<'_>, i: &PimQGemv) -> Result<()> {
    let c = ctx(x)?;
    if !matches!(i.wdtype, DType::I8 | DType::I4) || !i.dtype.is_float() {
        return Err(x.err(format!(
            "needs float activations and i8 / i4 weights, not {} and {}",
            i.dtype, i.wdtype
        )));
    }
    let (out, w) = (dram(x, i.out, "out")?, dram(x, i.w, "w")?);
    let xv = x.floats(i.x, i.dtype, u64::from(i.cols))?;
    let scale = x.floats(i.scale, DType::F32, u64::from(i.rows))?;
    let Vals::Int(zero) = x.load(i.zero, i.wdtype, u64::from(i.rows))? else {
        return Err(x.err("internal error: integer zero points decoded as float"));
    };
    let bits = i.wdtype.bits();
    let shift = c.mapper.offset_bits();
    let mut results = Vec::new();
    for r in 0..i.rows {
        let row_bits = u64::from(r) * u64::from(i.ld) * bits;
        if !row_bits.is_multiple_of(8) {
            return Err(x.err(format!("row {r} of {} does not start on a byte", i.wdtype)));
        }
        let start = w + row_bits / 8;
        let len = i.wdtype.bytes_for(u64::from(i.cols)).max(1);
        let (first, last) = (start >> shift, (start + len - 1) >> shift);
        let home = c.mapper.decode(first << shift)?.channel;
        for burst in first + 1..=last {
            if c.mapper.decode(burst << shift)?.channel != home {
                return Err(x.err(format!("row {r} of `w` spans more than one DRAM channel")));
            }
        }
        if home != u32::from(c.channel) {
            continue;
        }
        let Vals::Int(wr) = x
            .mem
            .read_elems(Memory::Dram, start, i.wdtype, i.cols as usize)?
        else {
            return Err(x.err("internal error: integer weights decoded as float"));
        };
        let z = zero[r as usize];
        let mut s = 0f32;
        for (j, &q) in wr.iter().enumerate() {
            s += (q - z) as f32 * xv[j];
        }
        results.push((r, scale[r as usize] * s));
    }
    read_out(x, &c, out, i.dtype, results)
}
