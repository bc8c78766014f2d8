//! Choosing between a program's three forms by file name or content, and reading a
//! program from a file with the file's name in every error.

use crate::position::{Position, position};
use crate::{Error, Program, Result};
use std::path::Path;

/// One of the three forms of a [`Program`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Text assembly, `.tasm`.
    Text,
    /// Compact binary, `.tbin`.
    Binary,
    /// JSON, `.json`.
    Json,
}

impl Format {
    /// The form of `bytes`, read from `path`: the `.tbin` magic wins, then the
    /// extension (`.tbin`, `.json`, `.tasm`), then content (a leading `{` is JSON,
    /// anything else text).
    pub fn detect(path: &Path, bytes: &[u8]) -> Format {
        if crate::binary::is_binary(bytes) {
            return Format::Binary;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("tbin") => Format::Binary,
            Some("json") => Format::Json,
            Some("tasm") => Format::Text,
            _ if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => Format::Json,
            _ => Format::Text,
        }
    }

    /// The form a file should be written in, by extension (`None` if unknown).
    pub fn from_extension(path: &Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("tbin") => Some(Format::Binary),
            Some("json") => Some(Format::Json),
            Some("tasm") => Some(Format::Text),
            _ => None,
        }
    }
}

impl Program {
    /// Decode `bytes` in form `format`.
    pub fn decode(format: Format, bytes: &[u8]) -> Result<Program> {
        match format {
            Format::Binary => Program::from_bytes(bytes),
            Format::Text | Format::Json => {
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    // Report the failure as the form's own error, with its position.
                    let offset = e.valid_up_to();
                    let Position { line, column, .. } = position(bytes, offset);
                    let msg = format!("expected UTF-8 text, found byte {:#04x}", bytes[offset]);
                    match format {
                        Format::Json => Error::ProgramJson { line, column, msg },
                        _ => Error::Asm { line, column, msg },
                    }
                })?;
                if format == Format::Json {
                    Program::from_json(text)
                } else {
                    Program::from_text(text)
                }
            }
        }
    }

    /// Encode in form `format`.
    pub fn encode(&self, format: Format) -> Result<Vec<u8>> {
        Ok(match format {
            Format::Text => self.to_text().into_bytes(),
            Format::Binary => self.to_bytes(),
            Format::Json => {
                let mut s = self.to_json()?;
                s.push('\n');
                s.into_bytes()
            }
        })
    }

    /// Read a program from `path` in any form ([`Format::detect`]); errors are
    /// [`Error::File`] naming the path around the form's own error.
    pub fn load(path: &Path) -> Result<Program> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Program::decode(Format::detect(path, &bytes), &bytes).map_err(|e| Error::File {
            path: path.to_path_buf(),
            inner: Box::new(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_prefers_magic_then_extension() {
        let p = Path::new("x.tasm");
        assert_eq!(Format::detect(p, b"TBIN\x01\x00"), Format::Binary);
        assert_eq!(Format::detect(p, b"{"), Format::Text);
        assert_eq!(Format::detect(Path::new("x"), b"  {\"meta\""), Format::Json);
        assert_eq!(Format::detect(Path::new("x.json"), b""), Format::Json);
        assert_eq!(
            Format::detect(Path::new("x"), b".stream npu.mx"),
            Format::Text
        );
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_position() {
        let e = Program::decode(Format::Text, b"; ok\n.me\xfft")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "line 2, column 4: expected UTF-8 text, found byte 0xff");
    }
}
