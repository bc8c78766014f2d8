//! The embedded presets: the TOML files under `isa/archs/`, compiled into the
//! binary so every `--arch NAME` works on a fresh clone with no files. Each file
//! cites its sources in comments.

/// Preset names in listing order: SoCs first, then plain DRAM standards.
pub(crate) const NAMES: [&str; 14] = [
    "mobile-soc",
    "mobile-soc-pim",
    "pim-gpt",
    "hbm-pim",
    "hbm-pim-samsung",
    "neupims",
    "attacc",
    "duplex",
    "lpddr4",
    "lpddr5",
    "lpddr5x",
    "hbm2",
    "hbm3",
    "gddr6",
];

/// The TOML text of preset `name`, if it exists.
pub(crate) fn text(name: &str) -> Option<&'static str> {
    Some(match name {
        "mobile-soc" => include_str!("../../archs/mobile-soc.toml"),
        "mobile-soc-pim" => include_str!("../../archs/mobile-soc-pim.toml"),
        "pim-gpt" => include_str!("../../archs/pim-gpt.toml"),
        "hbm-pim" => include_str!("../../archs/hbm-pim.toml"),
        "hbm-pim-samsung" => include_str!("../../archs/hbm-pim-samsung.toml"),
        "neupims" => include_str!("../../archs/neupims.toml"),
        "attacc" => include_str!("../../archs/attacc.toml"),
        "duplex" => include_str!("../../archs/duplex.toml"),
        "lpddr4" => include_str!("../../archs/lpddr4.toml"),
        "lpddr5" => include_str!("../../archs/lpddr5.toml"),
        "lpddr5x" => include_str!("../../archs/lpddr5x.toml"),
        "hbm2" => include_str!("../../archs/hbm2.toml"),
        "hbm3" => include_str!("../../archs/hbm3.toml"),
        "gddr6" => include_str!("../../archs/gddr6.toml"),
        _ => return None,
    })
}
