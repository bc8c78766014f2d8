//! The controller's copy of the arch's timing, widened to `u64` cycles, plus the
//! few derived spacings it schedules with. The timing checker does not use this
//! file: it reads the arch's fields itself.

use triad_isa::Arch;

/// Timing parameters in DRAM command-clock cycles, as the controller uses them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub cl: u64,
    pub cwl: u64,
    pub rcd_rd: u64,
    pub rcd_wr: u64,
    pub rp: u64,
    pub ras: u64,
    pub rc: u64,
    pub ccd_s: u64,
    pub ccd_l: u64,
    pub rrd_s: u64,
    pub rrd_l: u64,
    pub faw: u64,
    pub wr: u64,
    pub wtr_s: u64,
    pub wtr_l: u64,
    pub rtp: u64,
    pub rtw: u64,
    /// Rank-to-rank data-bus switch (tRTRS; 0: none).
    pub rtrs: u64,
    pub rfc: u64,
    pub refi: u64,
    pub rfc_pb: u64,
    pub refi_pb: u64,
    /// t32AW window (0: none).
    pub aw32: u64,
    /// Data-bus cycles of one burst.
    pub burst: u64,
    /// Spacing of MAC column commands: `max(tccd_mac, PIM clock in DRAM cycles)`.
    pub mac: u64,
    pub wr_gb: u64,
    pub rd_mac: u64,
    pub af: u64,
    pub ewop: u64,
    /// PIM mode entry and exit (0 and 0: the device has no modes).
    pub mode_enter: u64,
    pub mode_exit: u64,
}

impl Timing {
    /// True when the device switches between an ordinary and a PIM mode.
    pub(crate) fn has_modes(&self) -> bool {
        self.mode_enter > 0 || self.mode_exit > 0
    }

    pub(crate) fn of(arch: &Arch) -> Timing {
        let t = &arch.dram.effective_timing();
        let w = u64::from;
        let (mode_enter, mode_exit) = arch.pim.as_ref().map_or((0, 0), |p| {
            (w(p.timing.tmode_enter), w(p.timing.tmode_exit))
        });
        let (mac, wr_gb, rd_mac, af, ewop) = match &arch.pim {
            Some(p) => {
                let pim_clock = p.tck_ps.div_ceil(arch.dram.tck_ps.max(1));
                (
                    w(p.timing.tccd_mac).max(pim_clock).max(1),
                    w(p.timing.twr_gb),
                    w(p.timing.trd_mac),
                    w(p.timing.taf),
                    w(p.timing.tewop).max(1),
                )
            }
            None => (1, 0, 0, 0, 1),
        };
        Timing {
            cl: w(t.cl),
            cwl: w(t.cwl),
            rcd_rd: w(t.trcd_rd),
            rcd_wr: w(t.trcd_wr),
            rp: w(t.trp),
            ras: w(t.tras),
            rc: w(t.trc),
            ccd_s: w(t.tccd_s),
            ccd_l: w(t.tccd_l),
            rrd_s: w(t.trrd_s),
            rrd_l: w(t.trrd_l),
            faw: w(t.tfaw),
            wr: w(t.twr),
            wtr_s: w(t.twtr_s),
            wtr_l: w(t.twtr_l),
            rtp: w(t.trtp),
            rtw: w(t.trtw),
            rtrs: w(t.trtrs),
            rfc: w(t.trfc),
            refi: w(t.trefi).max(1),
            rfc_pb: w(t.trfc_pb),
            refi_pb: w(t.trefi_pb).max(1),
            aw32: w(t.t32aw),
            burst: w(arch.dram.burst_cycles()),
            mac,
            wr_gb,
            rd_mac,
            af,
            ewop,
            mode_enter,
            mode_exit,
        }
    }
}
