//! The DRAM memory plan: a static region (weights, constants, graph inputs, zero
//! buffers, PIM weight layouts) allocated once from address 0, and an activation
//! arena after it whose space is reused by liveness.
//!
//! Arena blocks remember which ops touched them (the producer and every reader of
//! the value that lived there). Allocating from a freed block makes the new owner
//! depend on those ops, so the synchroniser orders a write after every earlier
//! access of the same bytes, whichever engine made it (write-after-read safety).
//! Arena buffers are declared with `alias=` the arena's root buffer: the plan's
//! statement that overlapping buffers have disjoint lifetimes.
//!
//! Every allocation is aligned to [`Plan::align`]: a DRAM burst, or on a PIM arch the
//! period of the channel and bank address bits, so that equal element indices of
//! two buffers land in the same channel and bank (`pim.ewadd` / `pim.ewmul` need it).
//! Limits: first fit, no compaction; the program fails verification (not here) if
//! the plan exceeds the DRAM capacity.

use std::collections::BTreeSet;

/// A set of op indices (positions in the lowering order).
pub type Touched = BTreeSet<usize>;

#[derive(Clone, Debug)]
struct Block {
    start: u64,
    len: u64,
    touched: Touched,
}

/// The static region and the arena.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Alignment of every allocation, bytes.
    pub align: u64,
    static_top: u64,
    arena_top: u64,
    free: Vec<Block>,
    /// Most arena bytes in use at once.
    pub arena_peak: u64,
    in_use: u64,
}

fn round_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

impl Plan {
    /// An empty plan with allocations aligned to `align` bytes (at least 1).
    pub fn new(align: u64) -> Self {
        Plan {
            align: align.max(1),
            static_top: 0,
            arena_top: 0,
            free: Vec::new(),
            arena_peak: 0,
            in_use: 0,
        }
    }

    /// A static allocation: its absolute address.
    pub fn alloc_static(&mut self, bytes: u64) -> u64 {
        let at = self.static_top;
        self.static_top = round_up(at + bytes.max(1), self.align);
        at
    }

    /// A static allocation aligned to `align` (a multiple of the plan's alignment).
    pub fn alloc_static_aligned(&mut self, bytes: u64, align: u64) -> u64 {
        self.static_top = round_up(self.static_top, align.max(self.align));
        self.alloc_static(bytes)
    }

    /// Bytes of the static region (the arena starts here).
    pub fn static_bytes(&self) -> u64 {
        self.static_top
    }

    /// Bytes of the arena.
    pub fn arena_bytes(&self) -> u64 {
        self.arena_top
    }

    /// An arena allocation: its offset in the arena and the ops that touched the
    /// reused bytes (the new owner must wait for them).
    pub fn alloc(&mut self, bytes: u64) -> (u64, Touched) {
        let len = round_up(bytes.max(1), self.align);
        self.in_use += len;
        self.arena_peak = self.arena_peak.max(self.in_use);
        if let Some(i) = self.free.iter().position(|b| b.len >= len) {
            let b = &mut self.free[i];
            let at = b.start;
            let touched = b.touched.clone();
            b.start += len;
            b.len -= len;
            if b.len == 0 {
                self.free.remove(i);
            }
            return (at, touched);
        }
        // Grow the arena, reusing a free block that ends at the top.
        if let Some(last) = self.free.last()
            && last.start + last.len == self.arena_top
        {
            let b = self.free.pop().unwrap_or_else(|| unreachable!());
            self.arena_top = b.start + len;
            return (b.start, b.touched);
        }
        let at = self.arena_top;
        self.arena_top += len;
        (at, Touched::new())
    }

    /// Return an arena allocation made with `bytes`, touched by `touched`.
    pub fn free(&mut self, start: u64, bytes: u64, touched: Touched) {
        let len = round_up(bytes.max(1), self.align);
        self.in_use -= len;
        let i = self.free.partition_point(|b| b.start < start);
        self.free.insert(
            i,
            Block {
                start,
                len,
                touched,
            },
        );
        // Merge with the neighbours.
        if i + 1 < self.free.len()
            && self.free[i].start + self.free[i].len == self.free[i + 1].start
        {
            let next = self.free.remove(i + 1);
            self.free[i].len += next.len;
            self.free[i].touched.extend(next.touched);
        }
        if i > 0 && self.free[i - 1].start + self.free[i - 1].len == self.free[i].start {
            let cur = self.free.remove(i);
            self.free[i - 1].len += cur.len;
            self.free[i - 1].touched.extend(cur.touched);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_space_is_reused_with_its_history() {
        let mut p = Plan::new(64);
        let (a, t) = p.alloc(100);
        assert_eq!((a, t.len()), (0, 0));
        let (b, _) = p.alloc(64);
        assert_eq!(b, 128);
        p.free(a, 100, Touched::from([3, 4]));
        let (c, t) = p.alloc(128);
        assert_eq!(c, 0);
        assert_eq!(t, Touched::from([3, 4]));
        assert_eq!(p.arena_bytes(), 192);
        assert_eq!(p.arena_peak, 192);
    }

    #[test]
    fn a_free_block_at_the_top_grows() {
        let mut p = Plan::new(64);
        let (a, _) = p.alloc(64);
        p.free(a, 64, Touched::from([1]));
        let (b, t) = p.alloc(256);
        assert_eq!((b, p.arena_bytes()), (0, 256));
        assert_eq!(t, Touched::from([1]));
    }
}
