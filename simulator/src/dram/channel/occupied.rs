//! A set of command queues of a channel as a bit set: the non-empty ones, and the
//! ones whose quiet bound has passed, so that the round-robin scan and the wake-up
//! search visit only queues that matter (a channel has up to ranks x banks queues,
//! and a stream keeps one or two busy).

/// Bit `i` set: command queue `i` is in the set.
#[derive(Clone, Debug)]
pub(super) struct Occupied {
    words: Vec<u64>,
}

impl Occupied {
    /// An empty set for `n` queues.
    pub(super) fn new(n: usize) -> Occupied {
        Occupied {
            words: vec![0; n.div_ceil(64)],
        }
    }

    pub(super) fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(super) fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    /// Word `w` of the set: members `64 w .. 64 w + 64` as bits (0 past the end).
    pub(super) fn word(&self, w: usize) -> u64 {
        self.words.get(w).copied().unwrap_or(0)
    }

    /// The members in `lo..hi`, lowest first, read one word at a time from a copy
    /// (so the set may change while they are visited).
    pub(super) fn members(&self, lo: usize, hi: usize) -> Members<'_> {
        Members {
            set: self,
            w: lo / 64,
            bits: self.word(lo / 64) & (!0u64 << (lo % 64)),
            hi,
        }
    }

    /// Makes every queue a member.
    pub(super) fn fill(&mut self) {
        self.words.fill(!0);
    }

    /// The lowest member of both `self` and `other` in `lo..hi`.
    pub(super) fn first_in_both(&self, other: &Occupied, lo: usize, hi: usize) -> Option<usize> {
        first_set(lo, hi, |w| Some(self.words.get(w)? & other.words.get(w)?))
    }

    /// The lowest member in `lo..hi`.
    pub(super) fn first_in(&self, lo: usize, hi: usize) -> Option<usize> {
        first_set(lo, hi, |w| self.words.get(w).copied())
    }
}

/// The lowest set bit in `lo..hi` of the bit words `word(0), word(1), ...` (`None`
/// past the last word).
#[inline]
fn first_set(lo: usize, hi: usize, word: impl Fn(usize) -> Option<u64>) -> Option<usize> {
    let mut w = lo / 64;
    let mut bits = word(w)? & (!0u64 << (lo % 64));
    loop {
        if bits != 0 {
            let i = w * 64 + bits.trailing_zeros() as usize;
            return (i < hi).then_some(i);
        }
        w += 1;
        if w * 64 >= hi {
            return None;
        }
        bits = word(w)?;
    }
}

/// Iterator of [`Occupied::members`].
pub(super) struct Members<'a> {
    set: &'a Occupied,
    w: usize,
    bits: u64,
    hi: usize,
}

impl Iterator for Members<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.w += 1;
            if self.w * 64 >= self.hi {
                return None;
            }
            self.bits = self.set.word(self.w);
        }
        let i = self.w * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        (i < self.hi).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::Occupied;

    /// `first_in` agrees with a linear scan of a `Vec<bool>` on every range.
    #[test]
    fn first_in_matches_a_linear_scan() {
        let n = 150;
        let mut set = Occupied::new(n);
        let mut plain = vec![false; n];
        for i in [0, 3, 63, 64, 65, 127, 128, 149] {
            set.insert(i);
            plain[i] = true;
        }
        set.remove(65);
        plain[65] = false;
        let mut other = Occupied::new(n);
        other.fill();
        other.remove(3);
        other.remove(128);
        for lo in 0..=n {
            for hi in lo..=n {
                let want = (lo..hi).find(|&i| plain[i]);
                assert_eq!(set.first_in(lo, hi), want, "{lo}..{hi}");
                let both = (lo..hi).find(|&i| plain[i] && i != 3 && i != 128);
                assert_eq!(set.first_in_both(&other, lo, hi), both, "{lo}..{hi}");
                let all: Vec<usize> = (lo..hi).filter(|&i| plain[i]).collect();
                assert_eq!(set.members(lo, hi).collect::<Vec<_>>(), all, "{lo}..{hi}");
            }
        }
    }
}
