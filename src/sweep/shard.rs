//! `--shard i/N`: a deterministic 1/N of a sweep's points, so that N machines (a
//! Slurm job array) share a sweep. Point `k` belongs to shard `k mod N`: neighbours
//! in the product, which cost alike, spread over all shards.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, bail};

/// Shard `index` of `count` (0-based, as `$SLURM_ARRAY_TASK_ID` of `--array=0-N-1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, `0..count`.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// Whether the point at `index` in the full product is this shard's.
    pub fn has(self, index: usize) -> bool {
        index % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Shard> {
        let (i, n) = s
            .split_once('/')
            .with_context(|| format!("`{s}`: expected i/N, e.g. 0/4"))?;
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .with_context(|| format!("`{s}`: `{t}` is not a non-negative integer"))
        };
        let (index, count) = (num(i)?, num(n)?);
        if count == 0 || index >= count {
            bail!("`{s}`: need 0 <= i < N (shards are numbered from 0)");
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_points() {
        let shards: Vec<Shard> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for k in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.has(k)).count(), 1);
        }
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x/2".parse::<Shard>().is_err());
    }
}
