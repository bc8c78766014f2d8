//! The crate's one error type.
//!
//! Every fallible function in `triad-isa` returns [`Result`]. Each variant's doc says
//! whether it means bad input (the user can fix the file), a limit, or a bug. Messages
//! name the file, line, column or dotted field path involved and what was expected.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `triad-isa`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: an arch TOML text is not valid TOML or does not have the arch's
    /// shape (unknown key, missing key, wrong type). `line`/`column` are 1-based.
    #[error("{origin}:{line}:{column}: {message}")]
    ArchSyntax {
        /// File name (or preset name) the text came from.
        origin: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column of the offending text.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// Bad input: an arch parses but describes hardware that cannot exist. `field`
    /// is a dotted path such as `dram.timing_ck.tras`.
    #[error("arch `{arch}`: {field}: {rule}")]
    ArchInvalid {
        /// Name of the arch (its `name` key, or the origin if it has none).
        arch: String,
        /// Dotted path of the offending key.
        field: String,
        /// The rule the value breaks, with the values involved.
        rule: String,
    },
    /// Bad input: `Arch::load` got something that is neither a readable file nor a
    /// preset name.
    #[error("no arch file or preset named `{name}` (presets: {presets})")]
    UnknownArch {
        /// What the user asked for.
        name: String,
        /// The preset names, comma separated.
        presets: String,
    },
    /// Bad input or environment: a file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Bad input: text assembly (`.tasm`) that does not follow the grammar or names
    /// something undeclared. `line`/`column` are 1-based.
    #[error("line {line}, column {column}: {msg}")]
    Asm {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What was expected and what was found.
        msg: String,
    },
    /// Bad input: a binary program (`.tbin`) is truncated, has a wrong magic or
    /// version, or holds a value its field cannot have.
    #[error("byte offset {offset}: {msg}")]
    Binary {
        /// Offset of the first byte of the offending item.
        offset: usize,
        /// What was expected and what was found.
        msg: String,
    },
    /// Bad input: the JSON form of a program does not parse or has the wrong shape.
    #[error("program JSON: {msg}")]
    ProgramJson {
        /// 1-based line (0 when not from parsing).
        line: usize,
        /// 1-based column (0 when not from parsing).
        column: usize,
        /// serde_json's message, which includes the position.
        msg: String,
    },
    /// Bad input: a program is not well formed (an id out of range, a duplicate
    /// name, an instruction on an engine that cannot run it, …), whatever its form.
    #[error("invalid program: {msg}")]
    InvalidProgram {
        /// The item at fault and the rule it breaks.
        msg: String,
    },
    /// Bad input: a well-formed program fails verification against an arch; every
    /// problem found is listed.
    #[error("{0}")]
    Verify(crate::problem::Problems),
    /// Wraps another error with the file it came from (bad input in that file).
    #[error("{}: {inner}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The error inside it (already part of this error's message).
        inner: Box<Error>,
    },
    /// Bad input: an address beyond the DRAM capacity of the arch.
    #[error("address {addr:#x} is beyond the DRAM capacity of {capacity} bytes")]
    AddressOutOfRange {
        /// The address asked for.
        addr: u64,
        /// Capacity of the memory system in bytes.
        capacity: u64,
    },
    /// Bad input: a component asked of an arch does not support a dtype (e.g. a PIM
    /// GEMV in `i8` on a unit that only has `bf16`).
    #[error("arch `{arch}`: {field} lacks dtype {dtype} (has: {has})")]
    UnsupportedDType {
        /// Name of the arch.
        arch: String,
        /// Dotted path of the dtype list consulted, e.g. `pim.dtypes`.
        field: String,
        /// The dtype asked for.
        dtype: crate::DType,
        /// The dtypes the component does support, comma separated.
        has: String,
    },
}
