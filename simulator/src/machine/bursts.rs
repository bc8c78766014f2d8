//! DRAM traffic of one instruction as strided transfers, and the lazy iterator that
//! turns them into one-burst requests for the controller.
//!
//! Nothing here is proportional to the bytes moved: a transfer is five numbers and
//! the queue yields burst addresses one at a time, so a 7B-model weight stream costs
//! memory for its descriptors only.

use crate::memory::Direction;
use std::collections::VecDeque;

/// `rows` rows of `row_bytes` bytes, row `r` starting at `base + r * stride`, all read
/// or all written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transfer {
    /// Read from or write to DRAM.
    pub dir: Direction,
    /// Byte address of row 0.
    pub base: u64,
    /// Number of rows.
    pub rows: u64,
    /// Bytes per row.
    pub row_bytes: u64,
    /// Distance between row starts.
    pub stride: u64,
}

impl Transfer {
    /// One contiguous span.
    pub fn span(dir: Direction, base: u64, bytes: u64) -> Transfer {
        Transfer {
            dir,
            base,
            rows: 1,
            row_bytes: bytes,
            stride: bytes,
        }
    }
}

/// Transfers waiting to be issued, walked burst by burst.
#[derive(Debug, Default)]
pub(crate) struct BurstQueue {
    transfers: VecDeque<Transfer>,
    /// Row of the front transfer being issued.
    row: u64,
    /// Next burst-aligned address inside that row.
    next: Option<u64>,
}

impl BurstQueue {
    /// Appends a transfer (empty ones are dropped).
    pub fn push(&mut self, t: Transfer) {
        if t.rows > 0 && t.row_bytes > 0 {
            self.transfers.push_back(t);
        }
    }

    /// True when every burst has been taken.
    pub fn is_empty(&self) -> bool {
        self.transfers.is_empty()
    }

    /// The next burst without taking it.
    pub fn peek(&mut self, burst: u64) -> Option<(Direction, u64)> {
        let t = *self.transfers.front()?;
        let start = t.base.saturating_add(self.row.saturating_mul(t.stride));
        let addr = *self.next.get_or_insert(start / burst * burst);
        Some((t.dir, addr))
    }

    /// Takes the burst [`BurstQueue::peek`] returned.
    pub fn advance(&mut self, burst: u64) {
        let Some(t) = self.transfers.front().copied() else {
            return;
        };
        let start = t.base.saturating_add(self.row.saturating_mul(t.stride));
        let end = start.saturating_add(t.row_bytes);
        let cur = self.next.unwrap_or(start / burst * burst);
        let nxt = cur.saturating_add(burst);
        if nxt < end {
            self.next = Some(nxt);
            return;
        }
        self.next = None;
        self.row += 1;
        if self.row >= t.rows {
            self.row = 0;
            self.transfers.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut BurstQueue, b: u64) -> Vec<u64> {
        let mut v = vec![];
        while let Some((_, a)) = q.peek(b) {
            v.push(a);
            q.advance(b);
        }
        v
    }

    #[test]
    fn strided_rows_become_aligned_bursts() {
        let mut q = BurstQueue::default();
        let t = Transfer {
            dir: Direction::Read,
            base: 40,
            rows: 3,
            row_bytes: 40,
            stride: 100,
        };
        q.push(t);
        // Row 0: 40..80 -> bursts 32, 64; row 1: 140..180 -> 128, 160; row 2: 240..280 -> 224, 256.
        let got = drain(&mut q, 32);
        assert_eq!(got, vec![32, 64, 128, 160, 224, 256]);
        assert!(q.is_empty());
    }
}
