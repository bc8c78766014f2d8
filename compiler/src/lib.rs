//! `triad-compiler`: Triad's graph IR and everything that reads, checks, runs and
//! compiles it.
//!
//! - [`Graph`]: a petgraph DAG of tensor [`Op`]s with static [`TensorType`]s, built
//!   with inference ([`Graph::add`]) or read from a file and checked ([`Graph::validate`]).
//! - `json`: the versioned graph JSON format.
//! - `interp`: the reference interpreter, the semantics every other part is tested against.
//! - `stats`: FLOPs, bytes and arithmetic intensity per node, scope and layer.
//! - `egraph`: e-graph placement across CPU / NPU / PIM with an arch cost model.

#![warn(missing_docs)]

mod data;
pub mod dot;
pub mod egraph;
mod error;
mod graph;
mod infer;
mod interp;
pub mod json;
pub mod onnx;
mod op;
pub mod stats;

pub use data::{Data, Init, MAX_TENSOR_ELEMS, TensorType, round_to};
pub use error::{Error, Result};
pub use graph::{Graph, Node, NodeId, Value, ValueRef};
pub use infer::{SliceRange, broadcast, norm_axis};
pub use interp::{
    Array, MAX_EVAL_ELEMS, RunStats, Tensor, eval_node, round_f64, run, run_all, run_with_stats,
    wrap_int,
};
pub use op::{Arity, Category, Export, InputKind, Op, OpInfo, OpKind, ReduceKind};
pub use triad_isa::DType;
