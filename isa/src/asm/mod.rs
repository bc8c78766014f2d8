//! Text assembly (`.tasm`): the lexer, the assembler (text → [`crate::Program`]) and
//! the disassembler (program → canonical text). The grammar is documented in
//! `isa/README.md`; errors carry line and column.

mod lexer;
mod parser;
mod printer;

pub(crate) use parser::{Bound, Value, parse};
pub(crate) use printer::print;
