//! The presets that name a DRAMsim3 config carry its values: each field is derived
//! here from the numbers in the .ini (umd-memsys/DRAMsim3 at 2981759, copied below
//! by hand) with DRAMsim3's own rules (configuration.cc, timing.cc), then compared
//! with the preset.

use crate::common::preset;
use triad_isa::{QueueStructure, RefreshMode, RowHitCap};

/// The .ini values that matter, as written in the file; `None` where the file has
/// no such key (DRAMsim3 then uses its default).
struct Ini {
    file: &'static str,
    preset: &'static str,
    protocol: &'static str,
    bankgroups: u32,
    banks_per_group: u32,
    bankgroup_enable: bool,
    rows: u32,
    columns: u32,
    device_width: u32,
    bl: u32,
    tck_ns: f64,
    cl: u32,
    cwl: u32,
    /// tRCD (LPDDR4) or tRCDRD / tRCDWR (HBM, GDDR).
    trcd: (u32, u32),
    trp: u32,
    tras: u32,
    trfc: u32,
    trefi: u32,
    trrd: (u32, u32),
    twtr: (u32, u32),
    tfaw: u32,
    twr: u32,
    trtp: Option<u32>,
    tccd: (u32, u32),
    trtrs: Option<u32>,
    t32aw: Option<u32>,
    trfcb: Option<u32>,
    trefib: Option<u32>,
    channel_size_mb: u64,
    channels: u32,
    bus_width: u32,
    address_mapping: &'static str,
    cmd_queue_size: u32,
    trans_queue_size: Option<u32>,
}

const INIS: [Ini; 3] = [
    Ini {
        file: "configs/HBM2_8Gb_x128.ini",
        preset: "hbm2",
        protocol: "HBM",
        bankgroups: 4,
        banks_per_group: 4,
        bankgroup_enable: true,
        rows: 32768,
        columns: 64,
        device_width: 128,
        bl: 4,
        tck_ns: 1.0,
        cl: 14,
        cwl: 4,
        trcd: (14, 14),
        trp: 14,
        tras: 34,
        trfc: 260,
        trefi: 3900,
        trrd: (4, 6),
        twtr: (6, 8),
        tfaw: 30,
        twr: 16,
        trtp: None,
        tccd: (1, 2),
        trtrs: None,
        t32aw: None,
        trfcb: None,
        trefib: Some(128),
        channel_size_mb: 1024,
        channels: 8,
        bus_width: 128,
        address_mapping: "rorabgbachco",
        cmd_queue_size: 8,
        trans_queue_size: None,
    },
    Ini {
        file: "configs/LPDDR4_8Gb_x16_2400.ini",
        preset: "lpddr4",
        protocol: "LPDDR4",
        bankgroups: 2,
        banks_per_group: 4,
        bankgroup_enable: true,
        rows: 65536,
        columns: 1024,
        device_width: 16,
        bl: 16,
        tck_ns: 0.83,
        cl: 17,
        cwl: 14,
        trcd: (15, 15),
        trp: 15,
        tras: 32,
        trfc: 392,
        trefi: 8660,
        trrd: (8, 8),
        twtr: (8, 16),
        tfaw: 32,
        twr: 30,
        trtp: Some(12),
        tccd: (4, 6),
        trtrs: Some(1),
        t32aw: None,
        trfcb: None,
        trefib: None,
        channel_size_mb: 8192,
        channels: 1,
        bus_width: 64,
        address_mapping: "rochrababgco",
        cmd_queue_size: 8,
        trans_queue_size: Some(32),
    },
    Ini {
        file: "configs/GDDR6_8Gb_x16.ini",
        preset: "gddr6",
        protocol: "GDDR6",
        bankgroups: 4,
        banks_per_group: 4,
        bankgroup_enable: false,
        rows: 16384,
        columns: 128,
        device_width: 16,
        bl: 16,
        tck_ns: 0.66,
        cl: 24,
        cwl: 16,
        trcd: (24, 20),
        trp: 24,
        tras: 54,
        trfc: 126,
        trefi: 11862,
        trrd: (9, 9),
        twtr: (7, 7),
        tfaw: 32,
        twr: 16,
        trtp: None,
        tccd: (3, 4),
        trtrs: Some(1),
        t32aw: Some(420),
        trfcb: Some(30),
        trefib: Some(238),
        channel_size_mb: 4096,
        channels: 1,
        bus_width: 128,
        address_mapping: "rochrababgco",
        cmd_queue_size: 8,
        trans_queue_size: Some(32),
    },
];

#[test]
fn presets_carry_dramsim3_config_values() {
    for ini in &INIS {
        let a = preset(ini.preset);
        let d = &a.dram;
        let t = &d.timing;
        let who = format!("{} vs DRAMsim3 {}", ini.preset, ini.file);
        // configuration.cc: bank groups folded when disabled.
        let (bgs, bpg) = if ini.bankgroup_enable {
            (ini.bankgroups, ini.banks_per_group)
        } else {
            (1, ini.bankgroups * ini.banks_per_group)
        };
        // Burst cycles and the column multiplier per protocol.
        let (burst_cycles, columns) = match ini.protocol {
            "GDDR6" => (ini.bl / 16, ini.columns * ini.bl),
            "HBM" => (ini.bl / 2, ini.columns * 2),
            _ => (ini.bl / 2, ini.columns),
        };
        let devices = ini.bus_width / ini.device_width;
        let page = u64::from(columns * ini.device_width / 8);
        let megs_per_rank =
            page * u64::from(ini.rows / 1024) / 1024 * u64::from(bgs * bpg) * u64::from(devices);
        let ranks = if megs_per_rank > ini.channel_size_mb {
            1
        } else {
            ini.channel_size_mb / megs_per_rank
        };
        let burst_bytes = u64::from(ini.bus_width / 8 * ini.bl);
        let col_bits = columns.ilog2() - ini.bl.ilog2();
        let row_bytes = burst_bytes << col_bits;
        assert_eq!(d.channels, ini.channels, "{who}: channels");
        assert_eq!(u64::from(d.ranks), ranks, "{who}: ranks");
        assert_eq!(
            (d.bank_groups, d.banks_per_group),
            (bgs, bpg),
            "{who}: banks"
        );
        assert_eq!(d.rows, ini.rows, "{who}: rows");
        assert_eq!(u64::from(d.row_bytes), row_bytes, "{who}: row bytes");
        assert_eq!(d.bus_bits, ini.bus_width, "{who}: bus");
        assert_eq!(d.burst_length, ini.bl, "{who}: BL");
        assert_eq!(d.burst_cycles(), burst_cycles.max(1), "{who}: burst cycles");
        assert_eq!(d.burst_bytes(), burst_bytes, "{who}: burst bytes");
        assert_eq!(d.tck_ps, (ini.tck_ns * 1000.0).round() as u64, "{who}: tCK");
        assert_eq!(
            d.address_mapping.to_string(),
            ini.address_mapping,
            "{who}: mapping"
        );
        assert_eq!(d.refresh, RefreshMode::AllBank, "{who}: refresh");
        // timing.cc / configuration.cc.
        let trtrs = ini.trtrs.unwrap_or(2);
        let expect = [
            ("cl", t.cl, ini.cl),
            ("cwl", t.cwl, ini.cwl),
            ("trcd_rd", t.trcd_rd, ini.trcd.0),
            ("trcd_wr", t.trcd_wr, ini.trcd.1),
            ("trp", t.trp, ini.trp),
            ("tras", t.tras, ini.tras),
            ("trc", t.trc, ini.tras + ini.trp),
            ("tccd_s", t.tccd_s, ini.tccd.0),
            ("tccd_l", t.tccd_l, ini.tccd.1),
            ("trrd_s", t.trrd_s, ini.trrd.0),
            ("trrd_l", t.trrd_l, ini.trrd.1),
            ("tfaw", t.tfaw, ini.tfaw),
            ("twr", t.twr, ini.twr),
            ("twtr_s", t.twtr_s, ini.twtr.0),
            ("twtr_l", t.twtr_l, ini.twtr.1),
            ("trtp", t.trtp, ini.trtp.unwrap_or(5)),
            ("trtw", t.trtw, ini.cl + burst_cycles - ini.cwl + trtrs),
            ("trtrs", t.trtrs, trtrs),
            ("trfc", t.trfc, ini.trfc),
            ("trefi", t.trefi, ini.trefi),
            ("trfc_pb", t.trfc_pb, ini.trfcb.unwrap_or(20)),
            ("trefi_pb", t.trefi_pb, ini.trefib.unwrap_or(1950)),
            (
                "t32aw",
                t.t32aw,
                if ini.protocol.starts_with("GDDR") {
                    ini.t32aw.unwrap_or(330)
                } else {
                    0
                },
            ),
        ];
        for (k, got, want) in expect {
            assert_eq!(got, want, "{who}: timing_ck.{k}");
        }
        let c = &d.controller;
        let tq = ini.trans_queue_size.unwrap_or(32);
        assert_eq!(
            (c.read_queue, c.write_queue),
            (tq, tq),
            "{who}: trans_queue_size"
        );
        assert_eq!(c.command_queue, ini.cmd_queue_size, "{who}: cmd_queue_size");
        assert_eq!(
            c.queue_structure,
            QueueStructure::PerBank,
            "{who}: queue_structure"
        );
        assert_eq!(
            c.row_hit_cap,
            RowHitCap::Hits(4),
            "{who}: ArbitratePrecharge's 4"
        );
        assert_eq!(
            c.write_drain_high, tq,
            "{who}: drain when the buffer is full"
        );
        assert_eq!(c.write_drain_idle, 8, "{who}: drain above 8 when idle");
        assert_eq!(c.write_drain_low, 0, "{who}: drain low");
        assert_eq!(c.dual_command, ini.protocol == "HBM", "{who}: hbm_dual_cmd");
    }
}
