//! The reference interpreter: the executable semantics of the graph IR.
//!
//! [`run`] evaluates a whole [`Graph`] on real tensors; [`eval_node`] evaluates one op
//! (the ONNX frontend's constant folding uses it). The compiler's rewrites and the
//! simulator's functional mode are tested against these results, so every kernel is
//! written for clarity and exactness first. Speed only comes from changes that keep
//! every result's operations and their order: the matmul kernel's register tiling
//! (`linalg.rs`, tested bit for bit against the plain loop), no identity rounding of
//! f32 weights, and operands checked only where they enter a run. The numeric rules
//! shared by all kernels (documented in detail in each kernel file):
//!
//! - Floats are carried as f32; kernels compute in f64 and round **once** per op to
//!   the result dtype (correctly rounded, ties to even), so f16/bf16 results are
//!   rounded to their format after every op. Reductions, matmuls, norms and softmax
//!   accumulate in f64, always in index order (no machine-dependent kernels, no
//!   fused multiply-add), so a result is bit-identical on every machine and does not
//!   depend on the other rows of a batch (decode equals prefill). Transcendentals
//!   come from the pure-Rust `libm` crate, for the same reason.
//! - Integer arithmetic wraps to the dtype's width; i8/i4 matmuls accumulate exactly
//!   in i32 (wrapping on overflow); float->int conversions round half to even and
//!   saturate; quantisation saturates to the target range (i4: [-8, 7]).
//! - Run-time faults (integer division by zero, gather index out of range, a bad
//!   scale, a malformed input tensor) are [`Error::Eval`] naming the node; nothing
//!   panics on bad input.
//!
//! Memory: `run` frees every value as soon as its last consumer has run, so peak
//! memory is the live set of the topological order, not the whole graph
//! ([`run_with_stats`] reports it).

mod attention;
mod elementwise;
mod layout;
mod linalg;
mod moe;
mod norm;
mod quant;
mod reduce;
mod tensor;

use std::collections::BTreeMap;

pub use tensor::{Array, Tensor, round_f64, wrap_int};

use triad_isa::Bytes;

use crate::data::TensorType;
use crate::error::{Error, Result};
use crate::graph::{Graph, ValueRef, mismatch};
use crate::infer::{Mismatch, infer};
use crate::op::{Category, Op};

/// Text of a shape-inference mismatch, for kernel errors.
pub(crate) fn mismatch_text(m: Mismatch) -> String {
    match m {
        Mismatch::Type(reason) => reason,
        Mismatch::Arity { expected, got } => format!("expected {expected} inputs, got {got}"),
    }
}

/// The largest tensor the interpreter materialises, in elements (2^31: 8 GiB of f32).
/// The interpreter is for tests and small models; a larger result is an evaluation
/// error rather than an allocation failure.
pub const MAX_EVAL_ELEMS: u64 = 1 << 31;

/// Evaluate one op application named `name` on `inputs`, producing values of
/// `out_types` (the node's declared output types).
///
/// Checks first that every input is a well-formed tensor of its dtype and that the
/// op's inferred result types equal `out_types`, so a kernel never sees operands it
/// was not written for. `Weight` and `Constant` materialise their `Init`; `Input`
/// has no value of its own and is an error here.
pub fn eval_node(
    name: &str,
    op: &Op,
    inputs: &[&Tensor],
    out_types: &[TensorType],
) -> Result<Vec<Tensor>> {
    let eval = |reason: String| Error::Eval {
        node: name.to_string(),
        op: op.name(),
        reason,
    };
    if op.is_source() {
        return source(name, op, inputs, out_types).map_err(eval);
    }
    for (i, t) in inputs.iter().enumerate() {
        if let Some(p) = t.problem() {
            return Err(eval(format!("input {i} ({}): {p}", t.ty())));
        }
    }
    apply(name, op, inputs, out_types)
}

/// [`eval_node`] of a non-source op whose operands are already known to be
/// well-formed values of their dtypes, as every value `run` holds is (graph inputs
/// checked on entry, sources built with the check, kernel results rounded or wrapped
/// to their dtype), so a run does not rescan every weight at each use.
fn apply(name: &str, op: &Op, inputs: &[&Tensor], out_types: &[TensorType]) -> Result<Vec<Tensor>> {
    let eval = |reason: String| Error::Eval {
        node: name.to_string(),
        op: op.name(),
        reason,
    };
    let tys: Vec<TensorType> = inputs.iter().map(|t| t.ty()).collect();
    let refs: Vec<&TensorType> = tys.iter().collect();
    let inferred = infer(op, &refs).map_err(|m| mismatch(name, op, m))?;
    check_types(name, &inferred, out_types)?;
    if let Some(t) = out_types.iter().find(|t| t.elems() > MAX_EVAL_ELEMS) {
        return Err(eval(format!(
            "result {t} exceeds the interpreter's limit of {MAX_EVAL_ELEMS} elements per tensor"
        )));
    }
    let outs = kernel(op, inputs).map_err(eval)?;
    let got: Vec<TensorType> = outs.iter().map(Tensor::ty).collect();
    if got != out_types {
        // A kernel disagreeing with shape inference is an interpreter bug.
        return Err(eval(format!(
            "internal error: kernel produced {got:?}, inference says {out_types:?}"
        )));
    }
    Ok(outs)
}

fn check_types(name: &str, inferred: &[TensorType], declared: &[TensorType]) -> Result<()> {
    if inferred.len() != declared.len() {
        return Err(Error::Declared {
            node: name.to_string(),
            index: inferred.len().min(declared.len()),
            declared: format!("{} outputs", declared.len()),
            inferred: format!("{} outputs", inferred.len()),
        });
    }
    for (index, (i, d)) in inferred.iter().zip(declared).enumerate() {
        if i != d {
            return Err(Error::Declared {
                node: name.to_string(),
                index,
                declared: d.to_string(),
                inferred: i.to_string(),
            });
        }
    }
    Ok(())
}

/// Materialise a `Weight` or `Constant`.
fn source(name: &str, op: &Op, inputs: &[&Tensor], out: &[TensorType]) -> tensor::R<Vec<Tensor>> {
    let init = match op {
        Op::Weight { init } | Op::Constant { init } => init,
        _ => {
            return Err(format!(
                "graph input `{name}` has no value of its own; pass it to `run`"
            ));
        }
    };
    let [ty] = out else {
        return Err(format!(
            "a source has exactly one output, {} declared",
            out.len()
        ));
    };
    if !inputs.is_empty() {
        return Err(format!("a source has no inputs, {} given", inputs.len()));
    }
    if ty.elems() > MAX_EVAL_ELEMS {
        return Err(format!(
            "{ty} exceeds the interpreter's limit of {MAX_EVAL_ELEMS} elements per tensor"
        ));
    }
    let n = usize::try_from(ty.elems()).map_err(|_| format!("{ty} is too large"))?;
    Ok(vec![Tensor::build(ty, init.materialise(ty.dtype, n))?])
}

/// The kernel of every non-source op (operand types already checked by `infer`),
/// reached through the op's category: each category's kernels live in their own file.
fn kernel(op: &Op, ins: &[&Tensor]) -> tensor::R<Vec<Tensor>> {
    let one = |t: tensor::R<Tensor>| t.map(|t| vec![t]);
    match op.category() {
        Category::Source => Err("source ops have no kernel".into()),
        Category::LinearAlgebra => one(linalg::kernel(op, ins)),
        Category::Binary => one(elementwise::binary(op, ins[0], ins[1])),
        Category::Unary | Category::Activation => one(elementwise::unary(op, ins[0])),
        Category::Elementwise => one(elementwise::other(op, ins)),
        Category::Norm => one(norm::kernel(op, ins)),
        Category::Attention => one(attention::kernel(op, ins)),
        Category::Layout | Category::KvCache => layout::kernel(op, ins),
        Category::Reduction => one(reduce::kernel(op, ins)),
        Category::Quant => one(quant::kernel(op, ins)),
        Category::Moe => moe::kernel(op, ins),
    }
}

/// The error of a category's kernels handed an op they do not implement: the op
/// table puts the op in a category whose interpreter file lacks it (a bug the
/// `op_table` test catches).
fn no_kernel<T>(op: &Op) -> tensor::R<T> {
    Err(format!(
        "internal error: no kernel for {} in category {:?}",
        op.name(),
        op.category()
    ))
}

/// Run `graph` on `inputs` (keyed by input value name) and return the graph outputs,
/// keyed by value name.
///
/// The graph is validated first; every `Input` must be given a well-formed tensor of
/// exactly its declared type, and no other name may be given (otherwise an
/// [`Error::Eval`] lists the expected inputs with their types). Weights and constants
/// are materialised from their `Init`. Nodes run in [`Graph::topo_order`]; each value
/// is dropped once its last consumer has run.
pub fn run(graph: &Graph, inputs: &BTreeMap<String, Tensor>) -> Result<BTreeMap<String, Tensor>> {
    execute(graph, inputs, false).map(|(out, _)| out)
}

/// Counters of one [`run_with_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Nodes evaluated (sources included).
    pub nodes: usize,
    /// Largest total size of the values alive at once, in the storage size of their
    /// dtypes ([`TensorType::bytes`]: i4 packed, bool one byte), measured while a node's
    /// operands and results coexist. Graph outputs count until the end.
    pub peak_live: Bytes,
}

/// [`run`], also reporting how many nodes ran and the peak size of the live values
/// (which shows that values are freed after their last use).
pub fn run_with_stats(
    graph: &Graph,
    inputs: &BTreeMap<String, Tensor>,
) -> Result<(BTreeMap<String, Tensor>, RunStats)> {
    execute(graph, inputs, false)
}

/// Like [`run`], but returns every value of the graph (for debugging and for
/// comparing intermediate results); nothing is freed.
pub fn run_all(
    graph: &Graph,
    inputs: &BTreeMap<String, Tensor>,
) -> Result<BTreeMap<String, Tensor>> {
    execute(graph, inputs, true).map(|(out, _)| out)
}

/// `name: type` of every graph input, for error messages.
fn expected_inputs(graph: &Graph) -> String {
    let list: Vec<String> = graph
        .inputs()
        .into_iter()
        .map(|id| {
            let v = &graph.node(id).outputs[0];
            format!("{}: {}", v.name, v.ty)
        })
        .collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// Check the provided tensors against the graph's `Input` nodes.
fn check_inputs(graph: &Graph, inputs: &BTreeMap<String, Tensor>) -> Result<()> {
    let bad = |node: &str, reason: String| Error::Eval {
        node: node.to_string(),
        op: "Input",
        reason: format!(
            "{reason}; the graph's inputs are: {}",
            expected_inputs(graph)
        ),
    };
    for name in inputs.keys() {
        let is_input = graph
            .value(name)
            .is_some_and(|v| matches!(graph.node(v.node).op, Op::Input { .. }));
        if !is_input {
            return Err(bad(
                name,
                "a tensor was given for a name that is not a graph input".into(),
            ));
        }
    }
    for id in graph.inputs() {
        let v = &graph.node(id).outputs[0];
        let t = inputs.get(&v.name).ok_or_else(|| {
            bad(
                &v.name,
                format!("no tensor given for input of type {}", v.ty),
            )
        })?;
        if t.ty() != v.ty {
            return Err(bad(&v.name, format!("expected {}, got {}", v.ty, t.ty())));
        }
        if let Some(p) = t.problem() {
            return Err(bad(&v.name, p));
        }
    }
    Ok(())
}

fn execute(
    graph: &Graph,
    inputs: &BTreeMap<String, Tensor>,
    keep_all: bool,
) -> Result<(BTreeMap<String, Tensor>, RunStats)> {
    graph.validate()?;
    check_inputs(graph, inputs)?;
    let order = graph.topo_order()?;
    // Remaining uses of each value; graph outputs are never freed.
    let mut uses: BTreeMap<ValueRef, usize> = BTreeMap::new();
    for &id in &order {
        for v in &graph.node(id).inputs {
            *uses.entry(*v).or_insert(0) += 1;
        }
    }
    let keep = |v: &ValueRef| keep_all || graph.outputs().contains(v);
    let mut live: BTreeMap<ValueRef, Tensor> = BTreeMap::new();
    let size = |t: &Tensor| t.ty().bytes();
    let mut stats = RunStats::default();
    let mut live_bytes = 0u64;
    for id in order {
        stats.nodes += 1;
        let node = graph.node(id);
        let outs = if let Op::Input { .. } = node.op {
            let name = &node.outputs[0].name;
            let t = inputs.get(name).ok_or_else(|| Error::Eval {
                node: node.name.clone(),
                op: "Input",
                reason: "no tensor given".into(),
            })?;
            vec![t.clone()]
        } else {
            let ins: Vec<&Tensor> = node
                .inputs
                .iter()
                .map(|v| {
                    live.get(v).ok_or_else(|| Error::Eval {
                        node: node.name.clone(),
                        op: node.op.name(),
                        reason: format!(
                            "internal error: operand `{}` was freed or never computed",
                            graph.value_info(*v).name
                        ),
                    })
                })
                .collect::<Result<_>>()?;
            let types: Vec<TensorType> = node.outputs.iter().map(|o| o.ty.clone()).collect();
            if node.op.is_source() {
                eval_node(&node.name, &node.op, &ins, &types)?
            } else {
                apply(&node.name, &node.op, &ins, &types)?
            }
        };
        live_bytes += outs.iter().map(size).sum::<u64>();
        stats.peak_live = stats.peak_live.max(Bytes(live_bytes));
        for v in &node.inputs {
            if let Some(n) = uses.get_mut(v) {
                *n -= 1;
                if *n == 0
                    && !keep(v)
                    && let Some(t) = live.remove(v)
                {
                    live_bytes -= size(&t);
                }
            }
        }
        for (port, t) in outs.into_iter().enumerate() {
            let v = ValueRef {
                node: id,
                port: port as u32,
            };
            if uses.contains_key(&v) || keep(&v) {
                live.insert(v, t);
            } else {
                live_bytes -= size(&t);
            }
        }
    }
    let named = |v: &ValueRef| graph.value_info(*v).name.clone();
    if keep_all {
        return Ok((
            live.into_iter().map(|(v, t)| (named(&v), t)).collect(),
            stats,
        ));
    }
    let mut out = BTreeMap::new();
    for v in graph.outputs() {
        let t = live.get(v).cloned().ok_or_else(|| Error::Output {
            name: named(v),
            reason: "internal error: output value was not computed".into(),
        })?;
        out.insert(named(v), t);
    }
    Ok((out, stats))
}
