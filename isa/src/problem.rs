//! What verification reports: one [`Problem`] per broken rule, collected into
//! [`Problems`] (the payload of [`crate::Error::Verify`]). A leaf module, so the error
//! type does not depend on the verifier.

use serde::Serialize;
use std::fmt;

/// At most this many problems are listed; the count says how many there were.
pub const MAX_PROBLEMS: usize = 100;

/// One thing wrong (or, in warnings, doubtful) with a program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where: `buffer `x``, `npu.mx #3 `gemm``, `semaphore `s``, `stream cpu.9`.
    pub at: String,
    /// What rule is broken, with the values involved.
    pub msg: String,
}

impl Problem {
    pub(crate) fn new(at: String, msg: String) -> Problem {
        Problem { at, msg }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.msg)
    }
}

/// Every problem a failed verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problems {
    /// Name of the arch verified against.
    pub arch: String,
    /// Total number found.
    pub total: usize,
    /// The first [`MAX_PROBLEMS`] of them, in program order.
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "program fails verification against arch `{}` ({} problem{})",
            self.arch,
            self.total,
            if self.total == 1 { "" } else { "s" }
        )?;
        for p in &self.list {
            write!(f, "\n  {p}")?;
        }
        if self.total > self.list.len() {
            write!(f, "\n  … and {} more", self.total - self.list.len())?;
        }
        Ok(())
    }
}
