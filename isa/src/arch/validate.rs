//! The rules an arch must obey to describe hardware that can exist. Each failure is
//! an [`Error::ArchInvalid`] naming the dotted field path (`dram.timing_ck.tras`)
//! and the rule with the values involved. Rules are checked in file order (top-level
//! keys, cpu, npu, dram, pim, storage, links, energy) and the first failure is
//! reported.

use crate::arch::dram::{MAX_BANKS_PER_RANK, MAX_CHANNELS, MAX_QUEUE, MAX_RANKS, MAX_ROWS};
use crate::arch::{
    AddrField, Arch, Cpu, Dram, Energy, Npu, Pim, PimPlacement, RefreshMode, RowHitCap,
};
use crate::{DType, Error, Result};
use std::collections::BTreeSet;

/// Checks all rules; see the module docs.
pub(crate) fn check(arch: &Arch) -> Result<()> {
    let v = V { arch };
    if arch.name.trim().is_empty() || arch.name.chars().any(char::is_whitespace) {
        return Err(v.fail(
            "name",
            format!("must be non-empty without whitespace, got {:?}", arch.name),
        ));
    }
    if let Some(cpu) = &arch.cpu {
        v.cpu(cpu)?;
    }
    if let Some(npu) = &arch.npu {
        v.npu(npu)?;
    }
    v.dram(&arch.dram)?;
    if let Some(pim) = &arch.pim {
        v.pim(pim, &arch.dram)?;
    }
    v.storage_and_links()?;
    v.energy(&arch.energy)
}

/// The arch under check, to name it in errors.
struct V<'a> {
    arch: &'a Arch,
}

impl V<'_> {
    fn fail(&self, field: impl Into<String>, rule: impl Into<String>) -> Error {
        Error::ArchInvalid {
            arch: self.arch.name.clone(),
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// `value` must be at least 1.
    fn nonzero(&self, field: &str, value: u64) -> Result<()> {
        if value == 0 {
            return Err(self.fail(field, "must be at least 1, got 0"));
        }
        Ok(())
    }

    /// `value` must not exceed `max` (a limit that keeps the model's memory bounded).
    fn at_most(&self, field: &str, value: u32, max: u32) -> Result<()> {
        if value > max {
            return Err(self.fail(
                field,
                format!("{value} exceeds the limit of {max} (the model allocates state for each)"),
            ));
        }
        Ok(())
    }

    /// `value` must be a non-zero power of two.
    fn pow2(&self, field: &str, value: u64, why: &str) -> Result<()> {
        self.nonzero(field, value)?;
        if !value.is_power_of_two() {
            return Err(self.fail(
                field,
                format!("must be a power of two ({why}), got {value}"),
            ));
        }
        Ok(())
    }

    /// `value` must be finite and not negative.
    fn non_negative(&self, field: &str, value: f64) -> Result<()> {
        if !value.is_finite() || value < 0.0 {
            return Err(self.fail(field, format!("must be a finite number >= 0, got {value}")));
        }
        Ok(())
    }

    /// A list of names (already known: serde parsed them) must name each once.
    fn unique<T: Ord + std::fmt::Display>(&self, field: &str, names: &[T]) -> Result<()> {
        let mut seen = BTreeSet::new();
        for (i, n) in names.iter().enumerate() {
            if !seen.insert(n) {
                return Err(self.fail(
                    format!("{field}[{i}]"),
                    format!("{n:?} is listed twice", n = n.to_string()),
                ));
            }
        }
        Ok(())
    }

    /// A dtype list must be non-empty, free of duplicates and of `forbidden` types.
    fn dtypes(&self, field: &str, dtypes: &[DType], forbidden: &[DType]) -> Result<()> {
        if dtypes.is_empty() {
            return Err(self.fail(field, "must list at least one dtype"));
        }
        let mut seen = BTreeSet::new();
        for (i, d) in dtypes.iter().enumerate() {
            if forbidden.contains(d) {
                return Err(self.fail(
                    format!("{field}[{i}]"),
                    format!("{d} is not a dtype this unit can compute in"),
                ));
            }
            if !seen.insert(d) {
                return Err(self.fail(format!("{field}[{i}]"), format!("{d} is listed twice")));
            }
        }
        Ok(())
    }

    fn cpu(&self, cpu: &Cpu) -> Result<()> {
        if cpu.clusters.is_empty() {
            return Err(self.fail("cpu.clusters", "must have at least one cluster"));
        }
        let mut names = BTreeSet::new();
        for (i, c) in cpu.clusters.iter().enumerate() {
            let f = format!("cpu.clusters[{i}]");
            if c.name.trim().is_empty() || !names.insert(c.name.as_str()) {
                return Err(self.fail(
                    format!("{f}.name"),
                    format!("must be non-empty and unique, got {:?}", c.name),
                ));
            }
            self.nonzero(&format!("{f}.cores"), c.cores.into())?;
            self.nonzero(&format!("{f}.tck_ps"), c.tck_ps)?;
            if c.simd_ops_per_cycle.is_empty() {
                return Err(self.fail(
                    format!("{f}.simd_ops_per_cycle"),
                    "must give at least one dtype",
                ));
            }
            for (d, &n) in &c.simd_ops_per_cycle {
                if d == &DType::Bool {
                    return Err(self.fail(
                        format!("{f}.simd_ops_per_cycle.{d}"),
                        "bool is not an arithmetic dtype",
                    ));
                }
                self.nonzero(&format!("{f}.simd_ops_per_cycle.{d}"), n.into())?;
            }
        }
        Ok(())
    }

    fn npu(&self, npu: &Npu) -> Result<()> {
        self.nonzero("npu.arrays", npu.arrays.into())?;
        self.nonzero("npu.rows", npu.rows.into())?;
        self.nonzero("npu.cols", npu.cols.into())?;
        self.nonzero("npu.tck_ps", npu.tck_ps)?;
        self.nonzero("npu.spm_bytes", npu.spm_bytes)?;
        self.pow2(
            "npu.spm_banks",
            npu.spm_banks.into(),
            "scratchpad addresses interleave across banks",
        )?;
        if !npu.spm_bytes.is_multiple_of(u64::from(npu.spm_banks)) {
            return Err(self.fail(
                "npu.spm_bytes",
                format!(
                    "must divide evenly into npu.spm_banks = {} banks, got {}",
                    npu.spm_banks, npu.spm_bytes
                ),
            ));
        }
        self.dtypes("npu.dtypes", &npu.dtypes, &[DType::Bool])?;
        for (d, &n) in &npu.macs_per_pe {
            let f = format!("npu.macs_per_pe.{d}");
            if !npu.dtypes.contains(d) {
                return Err(self.fail(
                    f,
                    format!("the NPU lacks dtype {d}: it is not in npu.dtypes"),
                ));
            }
            self.nonzero(&f, n.into())?;
        }
        self.nonzero("npu.vector_lanes", npu.vector_lanes.into())?;
        self.nonzero("npu.dma_engines", npu.dma_engines.into())?;
        self.unique("npu.vector_ops", &npu.vector_ops)
    }

    fn dram(&self, d: &Dram) -> Result<()> {
        const WHY: &str = "the address mapper splits addresses into bit fields";
        self.pow2("dram.channels", d.channels.into(), WHY)?;
        self.pow2("dram.ranks", d.ranks.into(), WHY)?;
        self.pow2("dram.bank_groups", d.bank_groups.into(), WHY)?;
        self.pow2("dram.banks_per_group", d.banks_per_group.into(), WHY)?;
        self.pow2("dram.rows", d.rows.into(), WHY)?;
        for (field, value, max) in [
            ("dram.channels", d.channels, MAX_CHANNELS),
            ("dram.ranks", d.ranks, MAX_RANKS),
            ("dram.rows", d.rows, MAX_ROWS),
        ] {
            self.at_most(field, value, max)?;
        }
        self.at_most("dram.banks_per_group", d.banks_per_rank(), MAX_BANKS_PER_RANK)
            .map_err(|_| {
                self.fail(
                    "dram.banks_per_group",
                    format!(
                        "bank_groups x banks_per_group = {} exceeds the limit of {MAX_BANKS_PER_RANK} banks per rank (the model keeps state per bank)",
                        d.banks_per_rank()
                    ),
                )
            })?;
        self.nonzero("dram.tck_ps", d.tck_ps)?;
        self.nonzero("dram.burst_length", d.burst_length.into())?;
        if d.bus_bits == 0 || !d.bus_bits.is_multiple_of(8) {
            return Err(self.fail(
                "dram.bus_bits",
                format!("must be a positive multiple of 8, got {}", d.bus_bits),
            ));
        }
        self.pow2(
            "dram.transfers_per_clock",
            d.transfers_per_clock.into(),
            "data moves on clock edges",
        )?;
        if !d.burst_length.is_multiple_of(d.transfers_per_clock)
            && d.burst_length > d.transfers_per_clock
        {
            return Err(self.fail(
                "dram.burst_length",
                format!(
                    "must be a multiple of dram.transfers_per_clock = {}, got {}",
                    d.transfers_per_clock, d.burst_length
                ),
            ));
        }
        let burst = d.burst_bytes();
        self.pow2(
            "dram.burst_length",
            burst,
            "a burst's bytes (bus_bits / 8 * burst_length) are the low address bits",
        )?;
        if d.row_bytes == 0 || !u64::from(d.row_bytes).is_multiple_of(burst) {
            return Err(self.fail(
                "dram.row_bytes",
                format!("must be a positive multiple of the burst ({burst} B = bus_bits / 8 * burst_length), got {}", d.row_bytes),
            ));
        }
        self.pow2("dram.row_bytes", d.row_bytes.into(), WHY)?;
        let capacity = [
            d.channels,
            d.ranks,
            d.bank_groups,
            d.banks_per_group,
            d.rows,
            d.row_bytes,
        ]
        .into_iter()
        .try_fold(1u64, |acc, x| acc.checked_mul(u64::from(x)));
        if capacity.is_none() {
            return Err(self.fail("dram.rows", "total capacity overflows 2^64 bytes"));
        }
        self.mapping(d)?;
        self.timing(d)?;
        let c = &d.controller;
        self.nonzero("dram.controller.read_queue", c.read_queue.into())?;
        self.nonzero("dram.controller.write_queue", c.write_queue.into())?;
        if c.row_hit_cap == RowHitCap::Hits(0) {
            return Err(self.fail(
                "dram.controller.row_hit_cap",
                "must be at least 1 or \"none\", got 0",
            ));
        }
        self.nonzero("dram.controller.command_queue", c.command_queue.into())?;
        for (field, value) in [
            ("dram.controller.read_queue", c.read_queue),
            ("dram.controller.write_queue", c.write_queue),
            ("dram.controller.command_queue", c.command_queue),
        ] {
            self.at_most(field, value, MAX_QUEUE)?;
        }
        if let Some(f) = c.first_refresh_ck {
            let refi = match d.refresh {
                RefreshMode::PerBank => d.timing.trefi_pb,
                _ => d.timing.trefi,
            };
            if f == 0 || f > refi {
                return Err(self.fail(
                    "dram.controller.first_refresh_ck",
                    format!("first_refresh_ck = {f} must be 1 ..= the refresh interval {refi}"),
                ));
            }
        }
        if c.write_drain_high > c.write_queue {
            return Err(self.fail(
                "dram.controller.write_drain_high",
                format!(
                    "must not exceed write_queue = {}, got {}",
                    c.write_queue, c.write_drain_high
                ),
            ));
        }
        if c.write_drain_low >= c.write_drain_high {
            return Err(self.fail(
                "dram.controller.write_drain_low",
                format!(
                    "must be below write_drain_high = {}, got {}",
                    c.write_drain_high, c.write_drain_low
                ),
            ));
        }
        Ok(())
    }

    fn mapping(&self, d: &Dram) -> Result<()> {
        let fields = &d.address_mapping.fields;
        for f in AddrField::ALL {
            match fields.iter().filter(|&&x| x == f).count() {
                1 => {}
                0 => {
                    return Err(self.fail(
                        "dram.address_mapping",
                        format!("lacks field `{}` (every one of ro ra bg ba ch co must appear once), got \"{}\"", f.code(), d.address_mapping),
                    ));
                }
                _ => {
                    return Err(self.fail(
                        "dram.address_mapping",
                        format!(
                            "field `{}` appears more than once, got \"{}\"",
                            f.code(),
                            d.address_mapping
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn timing(&self, d: &Dram) -> Result<()> {
        let t = &d.timing;
        let f = |k: &str| format!("dram.timing_ck.{k}");
        for (k, x) in [
            ("cl", t.cl),
            ("trcd_rd", t.trcd_rd),
            ("trcd_wr", t.trcd_wr),
            ("trp", t.trp),
            ("tras", t.tras),
            ("trc", t.trc),
            ("tccd_s", t.tccd_s),
            ("tccd_l", t.tccd_l),
            ("trrd_s", t.trrd_s),
            ("trrd_l", t.trrd_l),
            ("twr", t.twr),
            ("trtp", t.trtp),
        ] {
            self.nonzero(&f(k), x.into())?;
        }
        let at_least = |k: &str, x: u32, what: &str, min: u32, why: &str| -> Result<()> {
            if x < min {
                return Err(self.fail(
                    f(k),
                    format!("{k} = {x} must be at least {what} = {min}{why}"),
                ));
            }
            Ok(())
        };
        at_least(
            "tras",
            t.tras,
            "trcd_rd",
            t.trcd_rd,
            " (a row cannot close before it can be read)",
        )?;
        at_least(
            "tras",
            t.tras,
            "trcd_wr",
            t.trcd_wr,
            " (a row cannot close before it can be written)",
        )?;
        at_least(
            "trc",
            t.trc,
            "tras + trp",
            t.tras.saturating_add(t.trp),
            " (a row must be open tRAS and closed tRP)",
        )?;
        at_least(
            "tccd_l",
            t.tccd_l,
            "tccd_s",
            t.tccd_s,
            " (the same bank group is never faster)",
        )?;
        at_least(
            "trrd_l",
            t.trrd_l,
            "trrd_s",
            t.trrd_s,
            " (the same bank group is never faster)",
        )?;
        at_least(
            "twtr_l",
            t.twtr_l,
            "twtr_s",
            t.twtr_s,
            " (the same bank group is never faster)",
        )?;
        match d.refresh {
            RefreshMode::AllBank => {
                self.nonzero(&f("trfc"), t.trfc.into())?;
                at_least(
                    "trefi",
                    t.trefi,
                    "trfc + 1",
                    t.trfc.saturating_add(1),
                    " (refresh would never end)",
                )?;
            }
            RefreshMode::PerBank => {
                self.nonzero(&f("trfc_pb"), t.trfc_pb.into())?;
                at_least(
                    "trefi_pb",
                    t.trefi_pb,
                    "trfc_pb + 1",
                    t.trfc_pb.saturating_add(1),
                    " (refresh would never end)",
                )?;
            }
            RefreshMode::Off => {}
        }
        Ok(())
    }

    fn pim(&self, p: &Pim, d: &Dram) -> Result<()> {
        self.nonzero("pim.banks_per_unit", p.banks_per_unit.into())?;
        let bpu = p.banks_per_unit;
        let ok = match p.placement {
            PimPlacement::Bank => d.banks_per_group.is_multiple_of(bpu),
            PimPlacement::BankGroup => bpu == d.banks_per_group,
            PimPlacement::BufferDie => bpu == d.banks_per_channel(),
        };
        if !ok {
            let need = match p.placement {
                PimPlacement::Bank => format!(
                    "divide dram.banks_per_group = {} (bank placement)",
                    d.banks_per_group
                ),
                PimPlacement::BankGroup => format!(
                    "equal dram.banks_per_group = {} (bank-group placement)",
                    d.banks_per_group
                ),
                PimPlacement::BufferDie => {
                    format!(
                        "equal the banks of a channel = {} (buffer-die placement)",
                        d.banks_per_channel()
                    )
                }
            };
            return Err(self.fail("pim.banks_per_unit", format!("must {need}, got {bpu}")));
        }
        self.nonzero("pim.mac_lanes", p.mac_lanes.into())?;
        self.nonzero("pim.tck_ps", p.tck_ps)?;
        self.nonzero("pim.global_buffer_bytes", p.global_buffer_bytes)?;
        self.dtypes("pim.dtypes", &p.dtypes, &[DType::Bool, DType::I64])?;
        let burst_bits = d.burst_bytes().saturating_mul(8);
        for d in &p.dtypes {
            let need = u64::from(p.mac_lanes) * d.bits();
            if need > burst_bits {
                return Err(self.fail(
                    "pim.mac_lanes",
                    format!(
                        "{} lanes of {d} need {need} bits per MAC command but one column (burst) delivers {burst_bits}",
                        p.mac_lanes
                    ),
                ));
            }
        }
        let t = &p.timing;
        for (k, x) in [
            ("tccd_mac", t.tccd_mac),
            ("twr_gb", t.twr_gb),
            ("trd_mac", t.trd_mac),
            ("tewop", t.tewop),
        ] {
            self.nonzero(&format!("pim.timing_ck.{k}"), x.into())?;
        }
        if !p.activation_functions.is_empty() {
            self.nonzero("pim.timing_ck.taf", t.taf.into())?;
        }
        self.unique("pim.activation_functions", &p.activation_functions)
    }

    fn storage_and_links(&self) -> Result<()> {
        if let Some(s) = &self.arch.storage {
            if s.kind.trim().is_empty() {
                return Err(self.fail("storage.kind", "must be non-empty"));
            }
            for (k, x) in [
                ("storage.read_gb_per_s", s.read_gb_per_s),
                ("storage.write_gb_per_s", s.write_gb_per_s),
            ] {
                self.non_negative(k, x)?;
                if x == 0.0 {
                    return Err(self.fail(k, "must be above 0"));
                }
            }
        }
        let l = &self.arch.links;
        for (k, link, engine) in [
            ("links.cpu_dram", &l.cpu_dram, self.arch.cpu.is_some()),
            ("links.npu_dram", &l.npu_dram, self.arch.npu.is_some()),
        ] {
            self.non_negative(&format!("{k}.bandwidth_gb_per_s"), link.bandwidth_gb_per_s)?;
            if engine && link.bandwidth_gb_per_s == 0.0 {
                return Err(self.fail(
                    format!("{k}.bandwidth_gb_per_s"),
                    "must be above 0: the engine it connects exists",
                ));
            }
        }
        Ok(())
    }

    fn energy(&self, e: &Energy) -> Result<()> {
        for (k, x) in e.scalars() {
            self.non_negative(&format!("energy.{k}"), x)?;
        }
        let npu_dtypes: &[DType] = self.arch.npu.as_ref().map_or(&[], |n| &n.dtypes);
        for (d, &x) in &e.mac_pj {
            let f = format!("energy.mac_pj.{d}");
            if !npu_dtypes.contains(d) {
                return Err(self.fail(
                    f,
                    format!("the NPU lacks dtype {d}: it is not in npu.dtypes"),
                ));
            }
            self.non_negative(&f, x)?;
        }
        if let Some(d) = npu_dtypes.iter().find(|d| !e.mac_pj.contains_key(d)) {
            return Err(self.fail("energy.mac_pj", format!("lacks an entry for npu dtype {d}")));
        }
        let cpu_dtypes: BTreeSet<DType> = self
            .arch
            .cpu
            .iter()
            .flat_map(|c| {
                c.clusters
                    .iter()
                    .flat_map(|k| k.simd_ops_per_cycle.keys().copied())
            })
            .collect();
        for (d, &x) in &e.cpu_op_pj {
            let f = format!("energy.cpu_op_pj.{d}");
            if !cpu_dtypes.contains(d) {
                return Err(self.fail(
                    f,
                    format!("no CPU cluster computes in {d} (cpu.clusters[*].simd_ops_per_cycle)"),
                ));
            }
            self.non_negative(&f, x)?;
        }
        if let Some(d) = cpu_dtypes.iter().find(|d| !e.cpu_op_pj.contains_key(d)) {
            return Err(self.fail(
                "energy.cpu_op_pj",
                format!("lacks an entry for cpu dtype {d}"),
            ));
        }
        Ok(())
    }
}
