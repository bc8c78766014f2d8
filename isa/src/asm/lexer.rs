//! Splits one line of assembly into tokens, each with its 1-based column.
//!
//! Tokens: words (`[A-Za-z_.][A-Za-z0-9_.]*`: mnemonics, directives, names, engines,
//! dtypes), numbers (a digit or `-` then `[A-Za-z0-9_.]`, plus a sign right after an
//! exponent `e`), strings (`"…"` with `\"`, `\\`, `\n`, `\t`, `\r`, `\u{HEX}`), and
//! the punctuation `, = + [ ] :`. `;` or `#` outside a string starts a comment that
//! runs to the end of the line. Anything else is an error naming the character.

use crate::{Error, Result};

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A word.
    Word(String),
    /// A number, as written (interpreted by the operand that receives it).
    Num(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// `,`
    Comma,
    /// `=`
    Eq,
    /// `+`
    Plus,
    /// `[`
    LBrack,
    /// `]`
    RBrack,
    /// `:`
    Colon,
}

impl Tok {
    /// The token as the user wrote it, for "found …" in messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Num(n) => format!("`{n}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Comma => "`,`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Plus => "`+`".into(),
            Tok::LBrack => "`[`".into(),
            Tok::RBrack => "`]`".into(),
            Tok::Colon => "`:`".into(),
        }
    }
}

/// A token and the 1-based column of its first character.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub col: usize,
}

fn err(line: usize, column: usize, msg: String) -> Error {
    Error::Asm { line, column, msg }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Tokenise `text`, the content of line `line`. Returns the tokens and the column just
/// past the last one (where "missing …" errors point).
pub(crate) fn lex_line(text: &str, line: usize) -> Result<(Vec<Token>, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut end = 1;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c == ';' || c == '#' {
            break;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Eq),
            '+' => Some(Tok::Plus),
            '[' => Some(Tok::LBrack),
            ']' => Some(Tok::RBrack),
            ':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = tok {
            toks.push(Token { tok, col });
            i += 1;
        } else if is_word_start(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            toks.push(Token {
                tok: Tok::Word(chars[start..i].iter().collect()),
                col,
            });
        } else if c.is_ascii_digit() || c == '-' {
            let start = i;
            i += 1;
            let hex = chars.get(start + 1) == Some(&'x') || chars.get(start + 1) == Some(&'X');
            while i < chars.len() {
                let d = chars[i];
                let exp_sign = (d == '+' || d == '-')
                    && !hex
                    && matches!(chars[i - 1], 'e' | 'E')
                    && i - 1 > start;
                if is_word_char(d) || exp_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            toks.push(Token {
                tok: Tok::Num(chars[start..i].iter().collect()),
                col,
            });
        } else if c == '"' {
            let (s, next) = lex_string(&chars, i, line)?;
            toks.push(Token {
                tok: Tok::Str(s),
                col,
            });
            i = next;
        } else {
            return Err(err(
                line,
                col,
                format!("unexpected character `{}`", c.escape_default()),
            ));
        }
        end = i + 1;
    }
    Ok((toks, end))
}

/// Read the string starting at `chars[open]` (a `"`); returns it and the index after
/// the closing quote.
fn lex_string(chars: &[char], open: usize, line: usize) -> Result<(String, usize)> {
    let mut s = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((s, i + 1)),
            '\\' => {
                let esc_col = i + 1;
                let bad = |what: &str| err(line, esc_col, format!("bad escape in string: {what}"));
                match chars.get(i + 1) {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('u') => {
                        if chars.get(i + 2) != Some(&'{') {
                            return Err(bad("expected `{` after `\\u`"));
                        }
                        let start = i + 3;
                        let close = (start..chars.len())
                            .find(|&j| chars[j] == '}')
                            .ok_or_else(|| bad("expected `}` closing `\\u{`"))?;
                        let hex: String = chars[start..close].iter().collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| {
                                (1..=6).contains(&hex.len())
                                    && hex.chars().all(|c| c.is_ascii_hexdigit())
                            })
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                bad(&format!("`\\u{{{hex}}}` is not a Unicode scalar value"))
                            })?;
                        s.push(ch);
                        i = close + 1;
                        continue;
                    }
                    Some(c) => {
                        return Err(bad(&format!("unknown escape `\\{}`", c.escape_default())));
                    }
                    None => return Err(bad("backslash at end of line")),
                }
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(err(
        line,
        open + 1,
        "unterminated string (expected a closing `\"`)".into(),
    ))
}

/// Quote `s` so that [`lex_line`] reads it back unchanged.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex_line(s, 1)
            .unwrap()
            .0
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn tokens_and_columns() {
        let (t, end) = lex_line("  load a+64, b ; comment", 3).unwrap();
        assert_eq!(
            t[0],
            Token {
                tok: Tok::Word("load".into()),
                col: 3
            }
        );
        assert_eq!(
            t[2],
            Token {
                tok: Tok::Plus,
                col: 9
            }
        );
        assert_eq!(
            t[3],
            Token {
                tok: Tok::Num("64".into()),
                col: 10
            }
        );
        assert_eq!(end, 15);
        assert_eq!(
            toks("x=1e-7, y=-0.5 # c"),
            vec![
                Tok::Word("x".into()),
                Tok::Eq,
                Tok::Num("1e-7".into()),
                Tok::Comma,
                Tok::Word("y".into()),
                Tok::Eq,
                Tok::Num("-0.5".into())
            ]
        );
        assert_eq!(
            toks("0x1e+5"),
            vec![Tok::Num("0x1e".into()), Tok::Plus, Tok::Num("5".into())]
        );
    }

    #[test]
    fn strings_round_trip_through_quote() {
        for s in [
            "",
            "a \"b\" \\ c",
            "tab\there\nnl",
            "\u{1}\u{7f}é",
            "; # not comments",
        ] {
            let q = quote(s);
            assert_eq!(toks(&q), vec![Tok::Str(s.to_string())], "{q}");
        }
    }

    #[test]
    fn errors_name_the_column() {
        let e = lex_line("load @x", 7).unwrap_err().to_string();
        assert_eq!(e, "line 7, column 6: unexpected character `@`");
        let e = lex_line(".meta model=\"abc", 2).unwrap_err().to_string();
        assert!(
            e.starts_with("line 2, column 13: unterminated string"),
            "{e}"
        );
        assert!(lex_line(r#""\u{d800}""#, 1).is_err());
        assert!(lex_line(r#""\q""#, 1).is_err());
        assert!(lex_line(r#""\u{+41}""#, 1).is_err());
    }
}
