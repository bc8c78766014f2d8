//! Text assembly (`.tasm`): the lexer, the assembler (text → [`crate::Program`]) and
//! the disassembler (program → canonical text). The grammar is documented in
//! `isa/README.md`; errors carry line and column.

mod lexer;
mod parser;
mod printer;

pub(crate) use parser::parse;
pub(crate) use printer::print;

impl crate::Program {
    /// Parse text assembly (see `isa/README.md` for the grammar).
    pub fn from_text(text: &str) -> crate::Result<crate::Program> {
        parse(text)
    }

    /// Print as text assembly, in canonical form: `from_text(p.to_text()) == p`.
    pub fn to_text(&self) -> String {
        print(self)
    }
}
