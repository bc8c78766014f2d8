//! Inference phases: what one model step computes, as users type it.
//!
//! Grammar (no spaces; numbers are decimal, `1..=MAX_PHASE_TOKENS`, trees
//! `1..=MAX_TREE_TOKENS`):
//!
//! | text | phase |
//! | --- | --- |
//! | `prefill:N` | process an N-token prompt from an empty KV cache |
//! | `prefill:N/chunk:C` | the **last** chunk of an N-token prompt processed C tokens at a time (`C < N`) |
//! | `decode:KV` | generate one token with KV cached tokens |
//! | `verify:K/kv:KV` | verify a speculative token tree of K tokens after KV cached tokens |
//!
//! Parsing fails with [`Error::Phase`] carrying a typed [`PhaseIssue`]; `Display`
//! prints the canonical text, and parsing it gives the same phase back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, PhaseIssue, Result};

/// Largest token count accepted in a phase (prompt, chunk or KV length).
pub const MAX_PHASE_TOKENS: usize = 1 << 20;

/// Largest speculative token tree accepted: the tree mask is a `[k, k]` constant,
/// and published speculative decoders verify trees of tens to a few hundred tokens.
pub const MAX_TREE_TOKENS: usize = 1 << 10;

/// One model step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Prompt processing of `tokens` tokens; with `chunk: Some(C)` the graph is the
    /// last chunk's step (see [`Phase::new_tokens`]).
    Prefill {
        /// Prompt length N.
        tokens: usize,
        /// Chunk size C (< N), or `None` for the whole prompt in one step.
        chunk: Option<usize>,
    },
    /// One generated token after `kv` cached tokens.
    Decode {
        /// Tokens already in the KV cache.
        kv: usize,
    },
    /// Speculative verification of a token tree of `tree` tokens after `kv` cached
    /// tokens (tree shape: see [`tree_parent`]).
    Verify {
        /// Number of tree tokens k.
        tree: usize,
        /// Tokens already in the KV cache.
        kv: usize,
    },
}

/// Parent of tree token `i` (`None` for the root, token 0) in the token trees of the
/// verify phase: a complete binary tree numbered breadth-first, so token `i > 0`
/// hangs under token `(i - 1) / 2`. A tree of 3 tokens is a root with two candidate
/// continuations; 7 tokens add two candidates under each of those.
pub fn tree_parent(i: usize) -> Option<usize> {
    (i > 0).then(|| (i - 1) / 2)
}

/// Depth of tree token `i` (root 0): its position offset after the cached tokens.
pub fn tree_depth(i: usize) -> usize {
    (usize::BITS - 1 - (i + 1).leading_zeros()) as usize
}

impl Phase {
    /// Tokens this step feeds through the model: N for prefill, the last chunk's size
    /// `((N - 1) mod C) + 1` for chunked prefill, 1 for decode, k for verify.
    pub fn new_tokens(&self) -> usize {
        match *self {
            Phase::Prefill {
                tokens,
                chunk: Some(c),
            } if c > 0 && c < tokens => (tokens - 1) % c + 1,
            // An invalid chunk (rejected by `validate`) counts as one chunk.
            Phase::Prefill { tokens, .. } => tokens,
            Phase::Decode { .. } => 1,
            Phase::Verify { tree, .. } => tree,
        }
    }

    /// Tokens already in the KV cache when this step starts (0 for plain prefill).
    pub fn past_tokens(&self) -> usize {
        match *self {
            Phase::Prefill { chunk: None, .. } => 0,
            Phase::Prefill { tokens, .. } => tokens - self.new_tokens(),
            Phase::Decode { kv } | Phase::Verify { kv, .. } => kv,
        }
    }

    /// True when the step reads a KV cache (`past_k`/`past_v` inputs).
    pub fn has_past(&self) -> bool {
        self.past_tokens() > 0
    }

    /// Positions of the step's new tokens, in input order.
    pub fn positions(&self) -> Vec<usize> {
        let past = self.past_tokens();
        match *self {
            Phase::Verify { tree, .. } => (0..tree).map(|i| past + tree_depth(i)).collect(),
            _ => (past..past + self.new_tokens()).collect(),
        }
    }

    /// Check the values: every count in `1..=MAX_PHASE_TOKENS` (a tree at most
    /// [`MAX_TREE_TOKENS`]) and a chunk smaller than its prompt. Parsing checks this;
    /// [`crate::build`] checks phases constructed directly.
    pub fn validate(&self) -> Result<()> {
        self.check(&self.to_string()).map(|_| ())
    }

    fn check(self, text: &str) -> Result<Phase> {
        let err = |issue| Error::Phase {
            text: text.to_string(),
            issue,
        };
        let fields: &[(&'static str, usize, usize)] = match self {
            Phase::Prefill { tokens, chunk } => &[
                ("tokens", tokens, MAX_PHASE_TOKENS),
                ("chunk", chunk.unwrap_or(1), MAX_PHASE_TOKENS),
            ],
            Phase::Decode { kv } => &[("kv", kv, MAX_PHASE_TOKENS)],
            Phase::Verify { tree, kv } => &[
                ("tree", tree, MAX_TREE_TOKENS),
                ("kv", kv, MAX_PHASE_TOKENS),
            ],
        };
        for &(field, value, max) in fields {
            if value == 0 || value > max {
                return Err(err(PhaseIssue::OutOfRange { field, value, max }));
            }
        }
        if let Phase::Prefill {
            tokens,
            chunk: Some(chunk),
        } = self
            && chunk >= tokens
        {
            return Err(err(PhaseIssue::ChunkTooLarge { chunk, tokens }));
        }
        Ok(self)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Prefill {
                tokens,
                chunk: None,
            } => write!(f, "prefill:{tokens}"),
            Phase::Prefill {
                tokens,
                chunk: Some(c),
            } => write!(f, "prefill:{tokens}/chunk:{c}"),
            Phase::Decode { kv } => write!(f, "decode:{kv}"),
            Phase::Verify { tree, kv } => write!(f, "verify:{tree}/kv:{kv}"),
        }
    }
}

fn number(field: &'static str, value: &str) -> std::result::Result<usize, PhaseIssue> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let not_a_number = || PhaseIssue::NotANumber {
        field,
        value: value.to_string(),
    };
    if !digits {
        return Err(not_a_number());
    }
    // Digits only: the one failure left is overflow, which is out of range.
    value.parse().map_err(|_| PhaseIssue::OutOfRange {
        field,
        value: usize::MAX,
        max: MAX_PHASE_TOKENS,
    })
}

fn parse(text: &str) -> std::result::Result<Phase, PhaseIssue> {
    let mut parts = text.split('/');
    let head = parts.next().unwrap_or_default();
    let (kind, value) = head.split_once(':').unwrap_or((head, ""));
    let (main_field, second) = match kind {
        "prefill" => ("tokens", Some("chunk")),
        "decode" => ("kv", None),
        "verify" => ("tree", Some("kv")),
        other => return Err(PhaseIssue::UnknownKind(other.to_string())),
    };
    if value.is_empty() {
        return Err(PhaseIssue::Missing(main_field));
    }
    let main = number(main_field, value)?;
    let mut extra = None;
    if let Some(part) = parts.next() {
        match (part.split_once(':'), second) {
            (Some((key, v)), Some(want)) if key == want => extra = Some(number(want, v)?),
            _ => return Err(PhaseIssue::Unexpected(part.to_string())),
        }
    }
    if let Some(part) = parts.next() {
        return Err(PhaseIssue::Unexpected(part.to_string()));
    }
    Ok(match kind {
        "prefill" => Phase::Prefill {
            tokens: main,
            chunk: extra,
        },
        "decode" => Phase::Decode { kv: main },
        _ => Phase::Verify {
            tree: main,
            kv: extra.ok_or(PhaseIssue::Missing("kv"))?,
        },
    })
}

impl FromStr for Phase {
    type Err = Error;

    /// Parse `prefill:N`, `prefill:N/chunk:C`, `decode:KV` or `verify:K/kv:KV`.
    fn from_str(text: &str) -> Result<Phase> {
        parse(text)
            .map_err(|issue| Error::Phase {
                text: text.to_string(),
                issue,
            })?
            .check(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_shape() {
        assert_eq!(
            (0..7).map(tree_parent).collect::<Vec<_>>(),
            [None, Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)]
        );
        assert_eq!(
            (0..8).map(tree_depth).collect::<Vec<_>>(),
            [0, 1, 1, 2, 2, 2, 2, 3]
        );
    }

    #[test]
    fn last_chunk_geometry() {
        // 10 tokens in chunks of 4: chunks 4, 4, 2; the last has 2 new and 8 past.
        let p: Phase = "prefill:10/chunk:4".parse().unwrap();
        assert_eq!((p.new_tokens(), p.past_tokens()), (2, 8));
        assert_eq!(p.positions(), [8, 9]);
        let p: Phase = "prefill:8/chunk:4".parse().unwrap();
        assert_eq!((p.new_tokens(), p.past_tokens()), (4, 4));
    }
}
