//! The sweep's points: the product of its groups in a fixed order (the last group
//! varies fastest), each with its arch loaded and checked and a stable id, so that
//! shards, resumed runs and merges all agree on what a point is.

use std::collections::HashMap;

use anyhow::{Context, bail};
use triad_isa::Arch;
use triad_workloads::{BuildOptions, Phase, check_options};

use super::setting::Params;
use super::spec::Sweep;

/// One point, checked and ready to run.
#[derive(Clone, Debug)]
pub struct Point {
    /// Position in the full product (0-based).
    pub index: usize,
    /// Stable id: FNV-1a of the arch's TOML and the parameters, 16 hex digits.
    pub id: String,
    /// The point's arch, fields applied.
    pub arch: Arch,
    /// Everything else.
    pub params: Params,
    /// The step, chunk applied.
    pub phase: Phase,
}

/// Every point of `sweep`, checked: an arch a value makes invalid, a chunk on a
/// non-prefill phase, a phase the model has no use for (decode on an encoder) or
/// longer than its positions, a batch out of range, or two points that are the same is an error naming the point.
pub fn expand(sweep: &Sweep) -> anyhow::Result<Vec<Point>> {
    let base = Params::from_base(&sweep.base)?;
    let file = sweep.path.display().to_string();
    let n = sweep.len();
    let mut points: Vec<Point> = Vec::with_capacity(n);
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(n);
    for index in 0..n {
        let mut p = base.clone();
        let mut chosen = Vec::new();
        let mut rest = index;
        let mut picks = vec![0; sweep.groups.len()];
        for (g, pick) in sweep.groups.iter().zip(&mut picks).rev() {
            *pick = rest % g.len();
            rest /= g.len();
        }
        for (g, &pick) in sweep.groups.iter().zip(&picks) {
            for axis in &g.axes {
                let (raw, setting) = &axis.values[pick];
                p.set(setting);
                chosen.push(format!("{} = {raw}", axis.name));
            }
        }
        let at = || format!("{file}: point {index} ({})", chosen.join(", "));
        let phase = p.phase().with_context(at)?;
        let opts = BuildOptions {
            phase,
            batch: p.batch,
            weights: p.dtype,
            seed: 0,
        };
        triad_workloads::model(&p.model)
            .and_then(|m| {
                m.check_phase(phase)?;
                check_options(&m, &opts)
            })
            .with_context(at)?;
        let arch = p.arch(&format!("{file} point {index}")).with_context(at)?;
        let id = id_of(&arch, &p, phase);
        if let Some(same) = seen.insert(id.clone(), index) {
            bail!("{}: the same point as point {same}", at());
        }
        points.push(Point {
            index,
            id,
            arch,
            params: p,
            phase,
        });
    }
    Ok(points)
}

/// A hash of every point id in order: what identifies a sweep across shards.
pub fn sweep_id(points: &[Point]) -> String {
    let ids: Vec<&str> = points.iter().map(|p| p.id.as_str()).collect();
    format!("{:016x}", fnv1a(ids.join(",").as_bytes()))
}

/// The id of a point: a hash of everything that decides its result.
fn id_of(arch: &Arch, p: &Params, phase: Phase) -> String {
    let key = serde_json::json!([
        arch.to_toml_string(),
        p.model,
        phase.to_string(),
        p.batch,
        p.dtype.name(),
        p.objective,
        p.split_steps,
    ]);
    format!("{:016x}", fnv1a(key.to_string().as_bytes()))
}

/// 64-bit FNV-1a (stable across Rust versions, unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        // Reference values from the FNV specification's test suite.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
