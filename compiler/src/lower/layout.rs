//! Shape arithmetic for lowering: row-major strides, and N-D strided copies
//! (transpose, slice, concat, split, broadcast) folded into the ISA's 4-D `scopy`.
//!
//! A copy is an index space `dims` with a source and a destination stride per dim
//! (in elements). [`fold`] drops unit dims, merges dims that are contiguous in both
//! source and destination, and, when more than four dims remain, splits the leading
//! ones into an outer loop (one `scopy` per outer index). Nothing here fails: every
//! shape folds.

use triad_isa::{Dims, Strides};

/// Most dims one `scopy` takes.
pub const SCOPY_RANK: usize = 4;

/// Row-major strides (in elements) of `shape`.
pub fn strides(shape: &[usize]) -> Vec<u64> {
    let mut s = vec![1u64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1] as u64;
    }
    s
}

/// Number of elements of `shape`.
pub fn numel(shape: &[usize]) -> u64 {
    shape.iter().map(|&d| d as u64).product()
}

/// `shape` as `(rows, cols)` with cols the last dim (1 for a scalar).
pub fn rows_cols(shape: &[usize]) -> (u64, u64) {
    let cols = shape.last().copied().unwrap_or(1).max(1) as u64;
    (numel(shape) / cols, cols)
}

/// One `scopy`: element offsets of the source and destination starts, the index
/// space and the strides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copy4 {
    /// Source start, in elements.
    pub src_off: u64,
    /// Destination start, in elements.
    pub dst_off: u64,
    /// Index space.
    pub dims: Dims,
    /// Source strides.
    pub src: Strides,
    /// Destination strides.
    pub dst: Strides,
}

/// Fold an N-D strided copy into `scopy`-sized pieces (see the module doc).
pub fn fold(dims: &[usize], src: &[u64], dst: &[u64]) -> Vec<Copy4> {
    // Drop unit dims, then merge d into d+1 when both sides are contiguous across them.
    let mut d: Vec<(u64, u64, u64)> = dims
        .iter()
        .zip(src.iter().zip(dst))
        .filter(|(n, _)| **n != 1)
        .map(|(&n, (&s, &t))| (n as u64, s, t))
        .collect();
    if dims.contains(&0) {
        return Vec::new();
    }
    let mut i = d.len();
    while i > 1 {
        i -= 1;
        let (n1, s1, t1) = d[i];
        let (n0, s0, t0) = d[i - 1];
        if s0 == s1 * n1 && t0 == t1 * n1 {
            d[i - 1] = (n0 * n1, s1, t1);
            d.remove(i);
        }
    }
    let outer = d.len().saturating_sub(SCOPY_RANK);
    let (head, tail) = d.split_at(outer);
    let mut inner = [(1u64, 0u64, 0u64); SCOPY_RANK];
    for (k, &x) in tail.iter().enumerate() {
        inner[SCOPY_RANK - tail.len() + k] = x;
    }
    let piece = |src_off, dst_off| Copy4 {
        src_off,
        dst_off,
        dims: Dims(inner.map(|(n, _, _)| n as u32)),
        src: Strides(inner.map(|(_, s, _)| s)),
        dst: Strides(inner.map(|(_, _, t)| t)),
    };
    let mut out = Vec::new();
    let count: u64 = head.iter().map(|x| x.0).product();
    for mut flat in 0..count {
        let (mut so, mut to) = (0, 0);
        for &(n, s, t) in head.iter().rev() {
            let j = flat % n;
            flat /= n;
            so += j * s;
            to += j * t;
        }
        out.push(piece(so, to));
    }
    out
}

/// Source strides that read a tensor of shape `from` broadcast to shape `to`
/// (NumPy rules: `from` right-aligned, size-1 dims repeat with stride 0).
pub fn broadcast_strides(from: &[usize], to: &[usize]) -> Vec<u64> {
    let s = strides(from);
    let pad = to.len() - from.len();
    (0..to.len())
        .map(|i| {
            if i < pad || from[i - pad] == 1 {
                0
            } else {
                s[i - pad]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_copy_folds_to_one_dim() {
        let c = fold(
            &[2, 3, 4, 5, 6],
            &strides(&[2, 3, 4, 5, 6]),
            &strides(&[2, 3, 4, 5, 6]),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].dims, Dims([1, 1, 1, 720]));
        assert_eq!(c[0].src, Strides([0, 0, 0, 1]));
    }

    #[test]
    fn five_d_permutation_loops_over_the_outer_dim() {
        // [a, b, c, d, e] -> [e, d, c, b, a]: nothing merges, one outer loop of 2.
        let shape = [2, 3, 4, 5, 6];
        let s = strides(&shape);
        let src: Vec<u64> = (0..5).rev().map(|i| s[i]).collect();
        let out: Vec<usize> = shape.iter().rev().copied().collect();
        let c = fold(&out, &src, &strides(&out));
        assert_eq!(c.len(), 6);
        assert_eq!(c[1].src_off, 1);
        assert_eq!(c[1].dst_off, 120);
    }

    #[test]
    fn broadcast_reads_repeat_with_stride_zero() {
        assert_eq!(broadcast_strides(&[4], &[2, 3, 4]), vec![0, 0, 1]);
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
    }
}
