//! `triad-compiler`: Triad's graph IR and everything that reads, checks, runs and
//! compiles it.
//!
//! - [`Graph`]: a petgraph DAG of tensor [`Op`]s with static [`TensorType`]s, built
//!   with inference ([`Graph::add`]) or read from a file and checked ([`Graph::validate`]).
//! - `json`: the versioned graph JSON format.
//! - `interp`: the reference interpreter, the semantics every other part is tested against.
//! - `stats`: FLOPs, bytes and arithmetic intensity per node, scope and layer.

#![warn(missing_docs)]

mod data;
mod error;
mod graph;
mod infer;
pub mod json;
mod op;

pub use data::{round_to, Data, Init, TensorType};
pub use error::{Error, Result};
pub use graph::{Graph, Node, NodeId, Value, ValueRef};
pub use infer::{broadcast, norm_axis, SliceRange};
pub use op::{InputKind, Op, ReduceKind};
pub use triad_isa::DType;
