//! The machine description: one [`Arch`] describes a whole SoC (CPU, NPU, DRAM, PIM,
//! storage, links, energy). It is read from TOML (format in `isa/ARCH.md`), checked
//! by [`Arch::validate`] so that an arch that cannot exist is rejected with the
//! field and the rule it breaks, and embedded presets exist for the papers Triad
//! reproduces and for plain DRAM standards ([`Arch::preset_names`]).
//!
//! Every number a model uses comes from here. Loading never panics on bad input:
//! TOML errors carry file, line and column; rule violations a dotted field path.

mod capability;
mod cpu;
mod derived;
mod dram;
mod energy;
mod links;
mod mapper;
mod npu;
mod pim;
mod presets;
pub mod systolic;
mod validate;

pub use capability::{Capability, Unit, Unsupported};
pub use cpu::{Cpu, CpuCluster};
pub use derived::Derived;
pub use dram::{
    AddrField, AddressMapping, BadAddressMapping, ControllerConfig, Dram, DramStandard, DramTiming,
    MAX_BANKS_PER_RANK, MAX_CHANNELS, MAX_QUEUE, MAX_RANKS, MAX_ROWS, QueueStructure, RefreshMode,
    RowHitCap,
};
pub use energy::{Energy, StaticPower};
pub use links::{Link, Links, Storage};
pub use mapper::{AddressMapper, Location};
pub use npu::{Dataflow, Npu};
pub use pim::{Pim, PimPlacement, PimTiming};

use crate::position::{Position, position};
use crate::{DType, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A whole SoC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    /// Short name (presets: the name `--arch` takes).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// The CPU, if any (DRAM-only archs have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// The NPU, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npu: Option<Npu>,
    /// The DRAM system (always present).
    pub dram: Dram,
    /// In-DRAM compute, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pim: Option<Pim>,
    /// Flash below DRAM, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// Engine-to-DRAM links (all zero when absent).
    #[serde(default)]
    pub links: Links,
    /// Energy table.
    pub energy: Energy,
}

impl Arch {
    /// An embedded preset by name (see [`Arch::preset_names`]).
    pub fn preset(name: &str) -> Result<Arch> {
        let text = presets::text(name).ok_or_else(|| Error::UnknownArch {
            name: name.to_string(),
            presets: Self::preset_names().join(", "),
        })?;
        Self::from_toml_str(text, &format!("isa/archs/{name}.toml"))
    }

    /// Names of the embedded presets, in listing order.
    pub fn preset_names() -> &'static [&'static str] {
        &presets::NAMES
    }

    /// Parses and validates an arch. `origin` (a file name) prefixes TOML errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Arch> {
        let arch: Arch = toml::from_str(text).map_err(|e| syntax_error(text, origin, &e))?;
        arch.validate()?;
        Ok(arch)
    }

    /// Loads `path` if it names an existing file, otherwise the preset of that name.
    pub fn load(path: &Path) -> Result<Arch> {
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            return Self::from_toml_str(&text, &path.display().to_string());
        }
        match path.to_str() {
            Some(name) if presets::text(name).is_some() => Self::preset(name),
            _ => Err(Error::UnknownArch {
                name: path.display().to_string(),
                presets: Self::preset_names().join(", "),
            }),
        }
    }

    /// The arch as TOML that [`Arch::from_toml_str`] reads back to an equal value.
    pub fn to_toml_string(&self) -> String {
        // Every field is a string, number, bool, enum, list or string-keyed map, all
        // of which TOML represents, so serialisation cannot fail on any `Arch` value.
        toml::to_string(self).expect("bug: an Arch value has no TOML representation")
    }

    /// Checks every rule an existing machine obeys; the error names the field.
    pub fn validate(&self) -> Result<()> {
        validate::check(self)
    }

    /// Derived peak figures (TOPS, bandwidths, ridge point).
    pub fn derived(&self) -> Derived {
        Derived::of(self)
    }

    /// Fails unless the PIM units exist and compute in `dtype`.
    pub fn check_pim_dtype(&self, dtype: DType) -> Result<()> {
        let has = self
            .pim
            .as_ref()
            .map(|p| p.dtypes.as_slice())
            .unwrap_or(&[]);
        self.check_dtype("pim.dtypes", has, dtype)
    }

    /// Fails unless the NPU exists and computes in `dtype`.
    pub fn check_npu_dtype(&self, dtype: DType) -> Result<()> {
        let has = self
            .npu
            .as_ref()
            .map(|n| n.dtypes.as_slice())
            .unwrap_or(&[]);
        self.check_dtype("npu.dtypes", has, dtype)
    }

    fn check_dtype(&self, field: &str, has: &[DType], dtype: DType) -> Result<()> {
        if has.contains(&dtype) {
            return Ok(());
        }
        Err(Error::UnsupportedDType {
            arch: self.name.clone(),
            field: field.to_string(),
            dtype,
            has: if has.is_empty() {
                "none".to_string()
            } else {
                has.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ")
            },
        })
    }
}

/// Converts a TOML error into [`Error::ArchSyntax`] with a 1-based line and column.
fn syntax_error(text: &str, origin: &str, e: &toml::de::Error) -> Error {
    let offset = e.span().map(|s| s.start).unwrap_or(0);
    let Position {
        line,
        column,
        line_start,
    } = position(text.as_bytes(), offset);
    let message = e.message().trim();
    Error::ArchSyntax {
        origin: origin.to_string(),
        line,
        column,
        message: match table_at(text, line_start) {
            Some(table) => format!("in {table}: {message}"),
            None => message.to_string(),
        },
    }
}

/// The `[table]` or `[[array]]` header governing the line that starts at byte
/// `line_start`: that line itself if it is a header, else the nearest one above.
/// `None` for top-level keys.
fn table_at(text: &str, line_start: usize) -> Option<String> {
    let end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    text[..end]
        .lines()
        .rev()
        .map(str::trim_start)
        .find(|l| l.starts_with('['))
        .map(|l| {
            let close = if l.starts_with("[[") { "]]" } else { "]" };
            l.find(close)
                .map_or(l, |i| &l[..i + close.len()])
                .to_string()
        })
}
