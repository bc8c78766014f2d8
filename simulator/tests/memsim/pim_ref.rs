//! An independent derivation of PIM command streams and their timing, written from
//! `PIM_SEMANTICS` and the controller rules documented in `dram/channel/pim.rs`
//! and the checker: operands are decoded with the isa's address mapper, command sets
//! are built as ordered sets of decoded bursts (not runs), and one channel's
//! timeline is walked command by command with the arch's timing fields.

use std::collections::BTreeSet;
use triad_isa::{AddressMapper, Arch, BufId, Bytes, Cycles, DType, Instruction, Location, Slice};
use triad_sim::{PimChannels, TimedRequest, TraceOp};

/// `dram+off` in the trace program.
pub fn at(off: u64) -> Slice {
    Slice {
        buf: BufId(0),
        offset: Bytes(off),
    }
}

/// A PIM trace request.
pub fn pim(cycle: u64, channels: PimChannels, insn: impl Into<Instruction>) -> TimedRequest {
    TimedRequest {
        cycle: Cycles(cycle),
        op: TraceOp::Pim {
            channels,
            insn: Box::new(insn.into()),
        },
    }
}

/// `pim.gemv out, w, x, rows, cols, dtype` with byte addresses.
pub fn gemv(out: u64, w: u64, x: u64, rows: u32, cols: u32, dtype: DType) -> Instruction {
    triad_isa::PimGemv {
        out: at(out),
        w: at(w),
        x: at(x),
        rows,
        cols,
        ld: cols,
        dtype,
    }
    .into()
}

/// A PIM command derived from the semantics (row commands are the timeline's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    WrGb,
    WrBias,
    /// All-bank MAC at (DRAM row, bank within unit, column).
    MacAb(u32, u32, u32),
    /// All-bank element-wise op at (DRAM row, bank within unit, column).
    Ew(u32, u32, u32),
    /// Staged element-wise op: load of `a` into the register file (read-like).
    EwLd(u32, u32, u32),
    /// Staged element-wise op: the op with `b` (read-like, result into the registers).
    EwB(u32, u32, u32),
    /// Staged element-wise op: store of the register file into `out` (write-like).
    EwSt(u32, u32, u32),
    Af,
    RdMac,
    RdAf,
}

pub struct Geo {
    pub mapper: AddressMapper,
    pub burst: u64,
    pub banks_per_unit: u32,
}

pub fn geo(a: &Arch) -> Geo {
    let d = &a.dram;
    let p = a.pim.as_ref().unwrap();
    let banks = d.ranks * d.bank_groups * d.banks_per_group;
    let units = match p.placement {
        triad_isa::PimPlacement::Bank => banks / p.banks_per_unit,
        triad_isa::PimPlacement::BankGroup => d.ranks * d.bank_groups,
        triad_isa::PimPlacement::BufferDie => 1,
    };
    Geo {
        mapper: AddressMapper::new(&a.name, d).unwrap(),
        burst: u64::from(d.bus_bits / 8 * d.burst_length),
        banks_per_unit: banks / units,
    }
}

pub fn flat(a: &Arch, l: &Location) -> u32 {
    let d = &a.dram;
    l.rank * d.bank_groups * d.banks_per_group + l.bank_group * d.banks_per_group + l.bank
}

/// Bytes per element (the tests use whole-byte dtypes).
pub fn eb(d: DType) -> u64 {
    d.bits() / 8
}

/// Matrix rows of `w` (rows x cols) channel `c` owns.
pub fn owned_rows(a: &Arch, c: u32, w: u64, rows: u32, cols: u32, dtype: DType) -> Vec<u32> {
    let g = geo(a);
    (0..rows)
        .filter(|&i| {
            let start = w + u64::from(i) * u64::from(cols) * eb(dtype);
            g.mapper.decode(start).unwrap().channel == c
        })
        .collect()
}

/// MAC_AB set of the owned rows' elements [c0, c1), in (row, bank, column) order.
pub fn mac_set(
    a: &Arch,
    w: u64,
    owned: &[u32],
    cols: u32,
    c0: u64,
    c1: u64,
    dtype: DType,
) -> Vec<Cmd> {
    let g = geo(a);
    let mut set = BTreeSet::new();
    for &i in owned {
        let row = w + u64::from(i) * u64::from(cols) * eb(dtype);
        let (s, e) = (row + c0 * eb(dtype), row + c1 * eb(dtype));
        let mut b = s / g.burst * g.burst;
        while b < e {
            let l = g.mapper.decode(b).unwrap();
            set.insert((l.row, flat(a, &l) % g.banks_per_unit, l.column));
            b += g.burst;
        }
    }
    set.into_iter()
        .map(|(r, s, c)| Cmd::MacAb(r, s, c))
        .collect()
}

/// The commands of `pim.gemv` on channel `c`.
pub fn gemv_cmds(a: &Arch, c: u32, w: u64, rows: u32, cols: u32, dtype: DType) -> Vec<Cmd> {
    let g = geo(a);
    let owned = owned_rows(a, c, w, rows, cols, dtype);
    if owned.is_empty() {
        return Vec::new();
    }
    let gb = a.pim.as_ref().unwrap().global_buffer_bytes / g.burst * g.burst;
    let chunk = gb / eb(dtype);
    let mut out = Vec::new();
    let mut c0 = 0;
    while c0 < u64::from(cols) {
        let len = chunk.min(u64::from(cols) - c0);
        out.extend(std::iter::repeat_n(
            Cmd::WrGb,
            (len * eb(dtype)).div_ceil(g.burst) as usize,
        ));
        out.extend(mac_set(a, w, &owned, cols, c0, c0 + len, dtype));
        c0 += len;
    }
    let reads = (owned.len() as u64 * eb(dtype)).div_ceil(g.burst);
    out.extend(std::iter::repeat_n(Cmd::RdMac, reads as usize));
    out
}

/// The cycle one channel's PIM commands finish, issued in order, each as early as
/// the documented rules allow, from an idle channel at cycle 0 (refresh off).
pub fn timeline(a: &Arch, cmds: &[Cmd]) -> u64 {
    let p = a.pim.as_ref().unwrap();
    let t = &a.dram.timing;
    let w = u64::from;
    let burst = w(a.dram.burst_length / a.dram.transfers_per_clock).max(1);
    let mac_gap = w(p.timing.tccd_mac)
        .max(p.tck_ps.div_ceil(a.dram.tck_ps))
        .max(1);
    let ewop = w(p.timing.tewop).max(1);
    let (trd, taf) = (w(p.timing.trd_mac), w(p.timing.taf));
    let mut cmd = 0u64; // next free command-bus cycle
    let (mut bus, mut next_gb, mut gb_done, mut next_mac, mut acc) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut next_ew, mut next_af) = (0u64, 0u64);
    let (mut open, mut act_at, mut pre_ok, mut act_ok) = (None, 0u64, 0u64, 0u64);
    let mut last = 0u64;
    for &c in cmds {
        let at = match c {
            Cmd::WrGb | Cmd::WrBias => {
                let at = cmd.max(next_gb).max(bus.saturating_sub(w(t.cwl)));
                next_gb = at + w(p.timing.twr_gb);
                bus = at + w(t.cwl) + burst;
                gb_done = bus;
                last = last.max(bus);
                at
            }
            Cmd::Af => {
                let at = cmd.max(next_mac).max(next_af);
                next_af = at + taf;
                acc = acc.max(at + taf);
                last = last.max(at + taf);
                at
            }
            Cmd::RdMac | Cmd::RdAf => {
                let at = cmd.max(next_mac).max(next_af).max(bus.saturating_sub(trd));
                bus = at + trd + burst;
                acc = acc.max(at + trd);
                last = last.max(bus);
                at
            }
            Cmd::MacAb(row, _, _)
            | Cmd::Ew(row, _, _)
            | Cmd::EwLd(row, _, _)
            | Cmd::EwB(row, _, _)
            | Cmd::EwSt(row, _, _) => {
                if open != Some(row) {
                    if open.is_some() {
                        let at = cmd.max(pre_ok);
                        act_ok = act_ok.max(at + w(t.trp));
                        cmd = at + 1;
                    }
                    let at = cmd.max(act_ok);
                    act_at = at;
                    act_ok = at + w(t.trc);
                    pre_ok = at + w(t.tras);
                    open = Some(row);
                    cmd = at + 1;
                }
                let rcd = if let Cmd::EwSt(..) = c {
                    t.trcd_wr
                } else {
                    t.trcd_rd
                };
                let ready = cmd.max(act_at + w(rcd)).max(gb_done);
                if let Cmd::EwLd(..) | Cmd::EwB(..) | Cmd::EwSt(..) = c {
                    // Load: a bank read (tRTP to PRE); store: a bank write (its data
                    // CWL + burst after the command, then tWR to PRE).
                    let at = ready.max(next_ew);
                    next_ew = at + ewop;
                    let pre = if let Cmd::EwSt(..) = c {
                        at + w(t.cwl) + burst + w(t.twr)
                    } else {
                        at + w(t.trtp)
                    };
                    pre_ok = pre_ok.max(pre);
                    last = last.max(at + ewop);
                    at
                } else if let Cmd::MacAb(..) = c {
                    let at = ready.max(next_mac).max(acc);
                    next_mac = at + mac_gap;
                    pre_ok = pre_ok.max(at + w(t.trtp));
                    last = last.max(at + mac_gap);
                    at
                } else {
                    let at = ready.max(next_ew);
                    next_ew = at + ewop;
                    pre_ok = pre_ok.max(at + ewop + w(t.twr));
                    last = last.max(at + ewop);
                    at
                }
            }
        };
        cmd = at + 1;
    }
    last
}

/// Bytes from an address to the next channel: the span of the mapping's fields
/// below the channel field (a matrix row must fit in it to stay in one channel).
pub fn channel_stripe(a: &Arch) -> u64 {
    let g = geo(a);
    let mut s = g.burst;
    while g.mapper.decode(s).unwrap().channel == 0 {
        s *= 2;
    }
    s
}
