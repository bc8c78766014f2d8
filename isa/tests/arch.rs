//! The machine description: every preset loads, validates, prints and round-trips;
//! derived figures equal hand computations from published numbers; loading by name
//! and by path; TOML errors carry positions; validation rules hold under random
//! perturbation (proptest); the corpus of invalid files under `archs_invalid/` gives
//! the errors its `.expect` files name.

use proptest::prelude::*;
use triad_isa::{AddrField, AddressMapping, Arch, DType, Error};

/// Relative difference |a - b| / |b|.
fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

/// Asserts `a` equals the hand-computed `b` to floating-point noise.
fn same(a: f64, b: f64, what: &str) {
    assert!(
        rel(a, b) < 1e-12,
        "{what}: derived {a} != hand-computed {b}"
    );
}

mod presets {
    use super::*;

    const DRAM_ONLY: [&str; 6] = ["lpddr4", "lpddr5", "lpddr5x", "hbm2", "hbm3", "gddr6"];

    #[test]
    fn every_preset_loads_validates_and_prints() {
        assert_eq!(Arch::preset_names().len(), 14);
        for name in Arch::preset_names() {
            let a = Arch::preset(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&a.name, name, "preset file's name key");
            assert!(!a.description.is_empty());
            a.validate().unwrap();
            let text = a.to_toml_string();
            assert!(text.contains(&format!("name = \"{name}\"")));
            let d = a.derived();
            assert!(d.dram_bandwidth_gb_per_s > 0.0 && d.dram_capacity_bytes > 0);
            serde_json::to_string(&d).unwrap();
            let dram_only = DRAM_ONLY.contains(name);
            assert_eq!(
                dram_only,
                a.cpu.is_none() && a.npu.is_none() && a.pim.is_none(),
                "{name}"
            );
            assert_eq!(dram_only, d.npu_tops.is_empty());
        }
    }

    /// Every file under `isa/archs/` is an embedded preset (none forgotten), and
    /// each opens with a comment block citing its sources.
    #[test]
    fn preset_files_and_names_agree() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("archs");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut names: Vec<String> = Arch::preset_names().iter().map(|s| s.to_string()).collect();
        names.sort();
        assert_eq!(files, names);
        for name in &files {
            let text = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
            let header = text.lines().take_while(|l| l.starts_with('#')).count();
            assert!(
                header >= 5,
                "{name}.toml: source comment has {header} lines"
            );
            let lower = text.to_lowercase();
            assert!(
                lower.contains("checked") || lower.contains("unverified"),
                "{name}.toml: says neither which values were checked nor which are unverified"
            );
        }
    }

    #[test]
    fn toml_and_json_round_trip_every_preset() {
        for name in Arch::preset_names() {
            let a = Arch::preset(name).unwrap();
            let back = Arch::from_toml_str(&a.to_toml_string(), "round-trip").unwrap();
            assert_eq!(back, a, "{name}: TOML round trip");
            let json = serde_json::to_string(&a).unwrap();
            let back: Arch = serde_json::from_str(&json).unwrap();
            assert_eq!(back, a, "{name}: JSON round trip");
        }
    }

    #[test]
    fn load_takes_a_preset_name_or_a_file() {
        let by_name = Arch::load(std::path::Path::new("neupims")).unwrap();
        assert_eq!(by_name, Arch::preset("neupims").unwrap());
        let mut edited = by_name.clone();
        edited.name = "my-neupims".to_string();
        edited.dram.channels = 16;
        let path =
            std::env::temp_dir().join(format!("triad-arch-test-{}.toml", std::process::id()));
        std::fs::write(&path, edited.to_toml_string()).unwrap();
        let from_file = Arch::load(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(from_file.unwrap(), edited);
        match Arch::load(std::path::Path::new("no-such-arch")) {
            Err(Error::UnknownArch { name, presets }) => {
                assert_eq!(name, "no-such-arch");
                assert!(presets.contains("mobile-soc"));
            }
            other => panic!("expected UnknownArch, got {other:?}"),
        }
        assert!(matches!(
            Arch::preset("hbm4"),
            Err(Error::UnknownArch { .. })
        ));
    }

    /// The complete example in `isa/ARCH.md` loads, so the documentation cannot rot.
    #[test]
    fn arch_md_example_is_valid() {
        let doc = include_str!("../ARCH.md");
        let start = doc.find("```toml\n").expect("ARCH.md has a toml block") + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let a = Arch::from_toml_str(&doc[start..end], "ARCH.md").unwrap();
        assert_eq!(a.name, "tiny");
        // 1 channel x 16 bit x 2 transfers / 1 ns = 4 GB/s; 64 MACs x 2 at 1 GHz.
        let d = a.derived();
        super::same(d.dram_bandwidth_gb_per_s, 4.0, "bw");
        super::same(d.npu_tops[&DType::I8], 0.128, "tops");
        super::same(d.ridge_op_per_byte[&DType::I8], 32.0, "ridge");
    }

    /// DRAMsim3 facts quoted in REFERENCES.md: transaction sizes, burst clocks,
    /// address mappings and the timings of its three shipped configs.
    #[test]
    fn dramsim3_presets_match_its_configs() {
        // (preset, tCK ps, CL, tRCD, tRP, tRAS, tRFC, tREFI, tCCD_S, tCCD_L, BL, channels, bus bits, banks, bytes per transaction, burst clocks, mapping)
        let table = [
            (
                "hbm2",
                1000,
                14,
                14,
                14,
                34,
                260,
                3900,
                1,
                2,
                4,
                8,
                128,
                16,
                64,
                2,
                "rorabgbachco",
            ),
            (
                "lpddr4",
                830,
                17,
                15,
                15,
                32,
                392,
                8660,
                4,
                6,
                16,
                1,
                64,
                8,
                128,
                8,
                "rochrababgco",
            ),
            (
                "gddr6",
                660,
                24,
                24,
                24,
                54,
                126,
                11862,
                3,
                4,
                16,
                1,
                128,
                16,
                256,
                1,
                "rochrababgco",
            ),
        ];
        for (
            name,
            tck,
            cl,
            trcd,
            trp,
            tras,
            trfc,
            trefi,
            ccds,
            ccdl,
            bl,
            ch,
            bits,
            banks,
            tx,
            bc,
            map,
        ) in table
        {
            let d = Arch::preset(name).unwrap().dram;
            let t = &d.timing;
            assert_eq!(d.tck_ps, tck, "{name}");
            assert_eq!(
                (t.cl, t.trcd_rd, t.trp, t.tras, t.trfc, t.trefi),
                (cl, trcd, trp, tras, trfc, trefi),
                "{name}"
            );
            assert_eq!(
                (t.tccd_s, t.tccd_l, d.burst_length),
                (ccds, ccdl, bl),
                "{name}"
            );
            assert_eq!(
                (d.channels, d.bus_bits, d.banks_per_rank()),
                (ch, bits, banks),
                "{name}"
            );
            assert_eq!(t.trc, tras + trp, "{name}: DRAMsim3 uses tRC = tRAS + tRP");
            assert_eq!(d.burst_bytes(), tx, "{name}: bytes per trace line");
            assert_eq!(d.burst_cycles(), bc, "{name}: burst clocks");
            assert_eq!(d.address_mapping.to_string(), map, "{name}");
        }
        // LPDDR4 has 2 ranks (REFERENCES); HBM2 has 1: DRAMsim3 doubles an HBM
        // config's columns (128), so a page is 128 * 128 / 8 = 2 KiB and a rank
        // 2 KiB * 32768 rows * 16 banks = 1024 MB = channel_size.
        assert_eq!(Arch::preset("lpddr4").unwrap().dram.ranks, 2);
        let hbm2 = Arch::preset("hbm2").unwrap();
        assert_eq!(hbm2.dram.ranks, 1);
        assert_eq!(hbm2.dram.capacity_bytes(), 8 * 1024 * 1024 * 1024);
        // 128 columns, BL 4 -> 32 bursts per row -> 5 column bits.
        assert_eq!(hbm2.dram.columns_per_row(), 128 / 4);
        assert_eq!(hbm2.dram.field_bits(AddrField::Column), 5);
        assert_eq!(hbm2.dram.field_bits(AddrField::Rank), 0);
    }
}

mod derived {
    use super::*;

    #[test]
    fn mobile_soc_matches_the_published_snapdragon_figures() {
        let a = Arch::preset("mobile-soc").unwrap();
        let d = a.derived();
        // LPDDR5X: 4 x 16-bit channels at 4800 MHz DDR = 76.8 GB/s (published); the
        // preset's CK is rounded to 833 ps, so allow the 0.05 % rounding.
        let published_bw = 4.0 * 16.0 / 8.0 * 4800e6 * 2.0;
        assert!(rel(d.dram_bandwidth_gb_per_s * 1e9, published_bw) < 5e-4);
        same(
            d.dram_bandwidth_gb_per_s,
            4.0 * 2.0 * 8.0 / 833e-12 / 1e9,
            "lpddr5x bw",
        );
        // ~45 INT8 TOPS (unverified vendor figure): within 1 %.
        let i8_tops = 2.0 * 64.0 * 64.0 * 2.0 * 2.0 / 727e-12 / 1e12;
        same(d.npu_tops[&DType::I8], i8_tops, "npu i8");
        assert!(rel(i8_tops, 45.0) < 0.01);
        same(d.npu_tops[&DType::F16], i8_tops / 2.0, "npu f16");
        // CPU: 1 x X4 @ 3.3 GHz + 3 x A720 @ 3.2 + 2 x A720 @ 3.0 + 2 x A520 @ 2.3,
        // f32 MACs per cycle 16 / 8 / 8 / 4, 2 ops per MAC.
        let f32_gops = 2.0
            * (16.0 / 303e-12 + 3.0 * 8.0 / 313e-12 + 2.0 * 8.0 / 333e-12 + 2.0 * 4.0 / 435e-12)
            / 1e9;
        same(d.cpu_gops[&DType::F32], f32_gops, "cpu f32");
        same(
            d.ridge_op_per_byte[&DType::I8],
            i8_tops * 1e12 / (d.dram_bandwidth_gb_per_s * 1e9),
            "ridge",
        );
        assert_eq!(d.pim_units, 0);
        assert_eq!(d.dram_capacity_bytes, 4 * 16 * 65536 * 2048);
    }

    #[test]
    fn hbm_pim_matches_aquabolt_xl() {
        let d = Arch::preset("hbm-pim").unwrap().derived();
        // One unit per 2 banks, 16 banks per pseudo-channel, 16 PIM pseudo-channels.
        assert_eq!(d.pim_units, 16 * 16 / 2);
        // 128 units x 16 FP16 lanes x 2 ops x 300 MHz = 1.2288 TFLOPS; published 1.2.
        same(d.pim_tops, 128.0 * 16.0 * 2.0 / 3333e-12 / 1e12, "pim tops");
        assert!(rel(d.pim_tops, 1.2) < 0.03);
        // External: 16 x 64-bit pseudo-channels at 2 Gb/s per pin = 256 GB/s.
        same(
            d.dram_bandwidth_gb_per_s,
            16.0 * 64.0 * 2e9 / 8.0 / 1e9,
            "hbm2 bw",
        );
        // Internal: each unit reads one 32 B column per 300 MHz cycle; published "4x".
        same(
            d.pim_internal_bandwidth_gb_per_s,
            128.0 * 32.0 / 3333e-12 / 1e9,
            "pim bw",
        );
        assert!(
            (4.0..5.0).contains(&d.pim_bandwidth_gain),
            "gain {}",
            d.pim_bandwidth_gain
        );
    }

    #[test]
    fn pim_gpt_matches_gddr6_aim() {
        let a = Arch::preset("pim-gpt").unwrap();
        let d = a.derived();
        // 16 channels x 16 pins x 16 Gb/s = 512 GB/s.
        same(
            d.dram_bandwidth_gb_per_s,
            16.0 * 16.0 * 16e9 / 8.0 / 1e9,
            "gddr6 bw",
        );
        // AiM: 1 TFLOPS per chip of 2 channels: 16 banks x 16 BF16 MACs x 2 x 1 GHz.
        let chips = f64::from(a.dram.channels) / 2.0;
        same(
            d.pim_tops / chips,
            16.0 * 16.0 * 2.0 * 1e9 * 2.0 / 1e12,
            "tops per chip",
        );
        assert!(rel(d.pim_tops / chips, 1.0) < 0.03);
        assert_eq!(d.pim_units, 16 * 16);
    }

    #[test]
    fn neupims_npu_and_ridge_point() {
        let d = Arch::preset("neupims").unwrap().derived();
        // 8 arrays x 128 x 128 FP16 at 1 GHz.
        let tops = 8.0 * 128.0 * 128.0 * 2.0 * 1e9 / 1e12;
        same(d.npu_tops[&DType::F16], tops, "npu");
        // 32 channels x 64 bit x 2 GT/s = 512 GB/s -> ridge 512 Op/B.
        same(d.dram_bandwidth_gb_per_s, 512.0, "dram");
        same(
            d.ridge_op_per_byte[&DType::F16],
            tops * 1e12 / 512e9,
            "ridge",
        );
        // 32 ch x 32 banks, 16 multipliers per bank at 1 GHz, one MAC per 2 clocks.
        assert_eq!(d.pim_units, 32 * 32);
        same(d.pim_tops, 1024.0 * 16.0 * 2.0 * 1e9 / 2.0 / 1e12, "pim");
    }

    #[test]
    fn hbm3_stack_bandwidth_matches_attacc() {
        // 670.4 GB/s per HBM3 stack (AttAcc); the 764 ps clock rounds by < 0.05 %.
        let one = Arch::preset("hbm3").unwrap().derived();
        assert!(rel(one.dram_bandwidth_gb_per_s, 670.4) < 5e-4);
        let attacc = Arch::preset("attacc").unwrap().derived();
        same(
            attacc.dram_bandwidth_gb_per_s,
            4.0 * one.dram_bandwidth_gb_per_s,
            "4 stacks",
        );
    }
}

mod errors {
    use super::*;

    fn hbm2_text() -> String {
        Arch::preset("hbm2").unwrap().to_toml_string()
    }

    #[test]
    fn syntax_error_positions_count_lines_and_characters() {
        // Break the value of `rows` on its own line; the column counts characters.
        let text = hbm2_text();
        let line = text.lines().position(|l| l.starts_with("rows = ")).unwrap() + 1;
        let broken = text.replace("rows = 32768", "rows = [");
        match Arch::from_toml_str(&broken, "x.toml") {
            Err(Error::ArchSyntax {
                origin, line: l, ..
            }) => {
                assert_eq!(origin, "x.toml");
                assert!(l >= line, "error line {l} before the broken line {line}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        let unicode = text.replace("description = \"", "description = \"ü\" x = \"");
        match Arch::from_toml_str(&unicode, "u.toml") {
            Err(Error::ArchSyntax { line, column, .. }) => {
                let desc = text
                    .lines()
                    .position(|l| l.starts_with("description"))
                    .unwrap()
                    + 1;
                assert_eq!(line, desc);
                // `description = "ü" ` is 18 characters; the stray key starts at 19.
                assert_eq!(column, 19);
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn check_dtype_names_the_unit() {
        let a = Arch::preset("pim-gpt").unwrap();
        a.check_pim_dtype(DType::BF16).unwrap();
        match a.check_pim_dtype(DType::I8) {
            Err(e @ Error::UnsupportedDType { .. }) => {
                let s = e.to_string();
                assert!(
                    s.contains("pim.dtypes") && s.contains("i8") && s.contains("bf16"),
                    "{s}"
                );
            }
            other => panic!("{other:?}"),
        }
        let hbm2 = Arch::preset("hbm2").unwrap();
        assert!(hbm2.check_pim_dtype(DType::F16).is_err());
        assert!(hbm2.check_npu_dtype(DType::F16).is_err());
    }

    #[test]
    fn address_mapping_parses_dramsim3_strings() {
        let m: AddressMapping = "rochrababgco".parse().unwrap();
        assert_eq!(
            m.fields,
            [
                AddrField::Row,
                AddrField::Channel,
                AddrField::Rank,
                AddrField::Bank,
                AddrField::BankGroup,
                AddrField::Column
            ]
        );
        assert!("rochr".parse::<AddressMapping>().is_err());
        assert!("roXXrababgco".parse::<AddressMapping>().is_err());
        assert!("röchrababgc".parse::<AddressMapping>().is_err());
    }
}

mod properties {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any timing triple is accepted exactly when tRAS >= tRCD and
        /// tRC >= tRAS + tRP (the other fields of the preset being valid).
        #[test]
        fn row_cycle_rules(trcd in 1u32..60, trp in 1u32..60, tras in 1u32..120, trc in 1u32..200) {
            let mut a = Arch::preset("hbm2").unwrap();
            a.dram.timing.trcd_rd = trcd;
            a.dram.timing.trcd_wr = trcd;
            a.dram.timing.trp = trp;
            a.dram.timing.tras = tras;
            a.dram.timing.trc = trc;
            let ok = tras >= trcd && trc >= tras + trp;
            prop_assert_eq!(a.validate().is_ok(), ok);
            if let Err(Error::ArchInvalid { field, .. }) = a.validate() {
                prop_assert!(field == "dram.timing_ck.tras" || field == "dram.timing_ck.trc");
            }
        }

        /// Geometry counts are accepted exactly when they are powers of two, and a
        /// valid arch still round-trips through TOML.
        #[test]
        fn geometry_rules(ch in 0u32..40, bg in 0u32..10, rows in 0u32..70000) {
            let mut a = Arch::preset("lpddr5").unwrap();
            a.dram.channels = ch;
            a.dram.bank_groups = bg;
            a.dram.rows = rows;
            let ok = [ch, bg, rows].iter().all(|x| x.is_power_of_two());
            prop_assert_eq!(a.validate().is_ok(), ok);
            if ok {
                let back = Arch::from_toml_str(&a.to_toml_string(), "p").unwrap();
                prop_assert_eq!(back, a);
            }
        }

        /// Arbitrary numbers in the DRAM and PIM fields never panic validation or
        /// the derived figures (overflow saturates or is rejected).
        #[test]
        fn arbitrary_numbers_never_panic(v in proptest::collection::vec(any::<u32>(), 16), tck in any::<u64>()) {
            let mut a = Arch::preset("duplex").unwrap();
            let d = &mut a.dram;
            (d.channels, d.ranks, d.bank_groups, d.banks_per_group) = (v[0], v[1], v[2], v[3]);
            (d.rows, d.row_bytes, d.bus_bits, d.burst_length) = (v[4], v[5], v[6], v[7]);
            (d.transfers_per_clock, d.tck_ps) = (v[8], tck);
            (d.timing.tras, d.timing.trp, d.timing.trfc) = (v[9], v[10], v[11]);
            let p = a.pim.as_mut().unwrap();
            (p.banks_per_unit, p.mac_lanes, p.timing.tccd_mac, p.tck_ps) = (v[12], v[13], v[14], u64::from(v[15]));
            let _ = a.validate();
            let _ = a.derived();
        }

        /// Random edits of a preset's text never panic the loader.
        #[test]
        fn mangled_text_never_panics(pos in 0usize..4000, len in 0usize..20, junk in "[ -~\n]{0,12}") {
            let text = Arch::preset("mobile-soc-pim").unwrap().to_toml_string();
            let start = text.char_indices().map(|(i, _)| i).find(|&i| i >= pos.min(text.len())).unwrap_or(text.len());
            let end = text.char_indices().map(|(i, _)| i).find(|&i| i >= start + len).unwrap_or(text.len());
            let mangled = format!("{}{}{}", &text[..start], junk, &text[end..]);
            let _ = Arch::from_toml_str(&mangled, "m");
        }
    }
}

mod invalid_corpus {
    //! The corpus of invalid arch files: every `archs_invalid/NAME.toml` must be
    //! rejected with the error its sibling `NAME.expect` names.
    //!
    //! An `.expect` file holds `key: value` lines. For a rule violation, `field` is the
    //! exact dotted path and `rule` a substring of the rule text. For a TOML error,
    //! `line` and `column` are the exact 1-based position and `message` a substring of
    //! the parser's message (may be empty).

    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn corpus_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/archs_invalid")
    }

    /// Parses an `.expect` file into its keys.
    fn expectation(path: &Path) -> BTreeMap<String, String> {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (k, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{}: line without `key:` {l:?}", path.display()));
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect()
    }

    fn check(toml: &Path) {
        let name = toml.file_name().unwrap().to_string_lossy().into_owned();
        let expect = expectation(&toml.with_extension("expect"));
        let text = std::fs::read_to_string(toml).unwrap();
        let err = match Arch::from_toml_str(&text, &name) {
            Ok(_) => panic!("{name}: accepted, but it is invalid"),
            Err(e) => e,
        };
        let shown = err.to_string();
        match err {
            Error::ArchInvalid { field, rule, .. } => {
                assert_eq!(
                    Some(&field),
                    expect.get("field"),
                    "{name}: wrong field in `{shown}`"
                );
                let want = expect
                    .get("rule")
                    .unwrap_or_else(|| panic!("{name}: .expect lacks `rule`"));
                assert!(
                    rule.contains(want.as_str()),
                    "{name}: rule `{rule}` lacks `{want}`"
                );
                assert!(
                    shown.contains(&field),
                    "{name}: message `{shown}` does not name the field"
                );
            }
            Error::ArchSyntax {
                origin,
                line,
                column,
                message,
            } => {
                assert_eq!(origin, name);
                let num = |k: &str| -> usize {
                    expect
                        .get(k)
                        .unwrap_or_else(|| {
                            panic!("{name}: got a TOML error `{shown}` but .expect lacks `{k}`")
                        })
                        .parse()
                        .unwrap()
                };
                assert_eq!(
                    (line, column),
                    (num("line"), num("column")),
                    "{name}: `{shown}`"
                );
                let want = expect.get("message").map(String::as_str).unwrap_or("");
                assert!(
                    message.contains(want),
                    "{name}: message `{message}` lacks `{want}`"
                );
                assert!(
                    shown.starts_with(&format!("{name}:{line}:{column}: ")),
                    "{name}: `{shown}`"
                );
            }
            other => panic!("{name}: unexpected error kind {other:?}"),
        }
    }

    #[test]
    fn every_invalid_arch_gives_its_error() {
        let mut tomls: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        tomls.sort();
        assert!(tomls.len() >= 30, "corpus shrank to {} files", tomls.len());
        for t in &tomls {
            check(t);
        }
    }

    #[test]
    fn every_expect_file_has_its_toml() {
        for e in std::fs::read_dir(corpus_dir()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "expect") {
                assert!(
                    p.with_extension("toml").is_file(),
                    "{} has no .toml",
                    p.display()
                );
            }
        }
    }
}
