//! Text positions for error messages: a byte offset as a 1-based line and column
//! (columns count characters, not bytes), shared by every text format `isa` reads.

/// A position in a text, 1-based, and the byte offset its line starts at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
    /// Byte offset of the start of `line`.
    pub line_start: usize,
}

/// The position of byte `offset` in `bytes` (clamped to the end).
pub(crate) fn position(bytes: &[u8], offset: usize) -> Position {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Position {
        line,
        column,
        line_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let t = "ab\ncé d\n".as_bytes();
        assert_eq!(
            position(t, 0),
            Position {
                line: 1,
                column: 1,
                line_start: 0
            }
        );
        // "cé " is 4 bytes but 3 characters: byte 7 ('d') is column 4 of line 2.
        assert_eq!(
            position(t, 7),
            Position {
                line: 2,
                column: 4,
                line_start: 3
            }
        );
        assert_eq!(position(t, 99).line, 3);
    }
}
