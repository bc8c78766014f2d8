//! Design-space sweeps (`triad explore`): the sweep file and its checks, the points
//! it expands to, sharding, the per-point evaluation, the result records, the Pareto
//! front and the output directory that streams, resumes and merges.

pub mod arch_path;
pub mod evaluate;
pub mod pareto;
pub mod points;
pub mod record;
pub mod setting;
pub mod shard;
pub mod spec;
pub mod store;
