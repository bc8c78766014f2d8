//! Graph statistics: FLOPs, DRAM bytes and arithmetic intensity (Op/B) per node,
//! block, layer, block kind and in total.
//!
//! # FLOPs
//! One FLOP per arithmetic operation on one element; a multiply-add is 2 FLOPs, so a
//! matmul is `2 M N K` per batch; each elementary-function evaluation (exp, erf,
//! tanh, sqrt, …) counts [`SPECIAL_FN_FLOPS`]; composite ops count their formula
//! (softmax [`SOFTMAX_PER_ELEM`] per element, LayerNorm [`LAYERNORM_PER_ELEM`] (+1
//! with beta) per element plus a per-row term, …); layout ops, gathers, KV appends
//! and MoE dispatch are 0. The constants and their derivations are in `stats/flops.rs`.
//!
//! # Bytes
//! Values live in DRAM; a value is a *weight* (a `Weight` node), *KV cache* (a
//! `KvCache` input, or the result of a `KvAppend`, which is the cache itself) or an
//! *activation* (everything else, constants included). `Reshape` is a view: it moves
//! nothing and its result is its operand's storage. Two accountings are reported:
//!
//! - **unfused** (one kernel per op): every op reads each distinct operand and writes
//!   each result. Exceptions: `KvAppend` appends in place, so it reads only the new
//!   entries and writes them as KV bytes (its consumers read the whole cache as KV);
//!   `Gather` and `Slice` read only the elements they return.
//! - **fused** (one kernel per block, the headline numbers): a block (all nodes with
//!   one scope) runs as one kernel. It reads every weight, KV and outside value it
//!   uses once; it writes a value it produces only if a node outside the block reads
//!   it or it is a graph output; values made and used inside stay on chip. A
//!   `KvAppend` always writes its new entries; reading the cache it produced inside
//!   the block reads the past entries from DRAM (the new ones are on chip).
//!   Nodes without a scope are each their own kernel.
//!
//! KV write counts `KvAppend` only: a cache a graph builds without one (plain
//! prefill, whose present K/V are ordinary graph outputs) is an activation write.
//!
//! Arithmetic intensity Op/B = FLOPs / DRAM bytes (reads + writes) of the fused
//! accounting; the unfused one is reported next to it. Source nodes (inputs,
//! weights, constants) belong to no block: their bytes are counted where they are read.
//!
//! # Grouping
//! A node's *block* is its scope (`layer3/attn`), or its op name if it has no scope.
//! Its *layer* is the block up to the first `/` (`layer3`, `embed`, `head`). Its
//! *kind* drops a `layer{i}` segment and the number of an `expert{e}` segment
//! (`layer3/expert5` -> `expert`), so kinds aggregate a block across layers and
//! experts. Layers, blocks and kinds are listed in the order of their first node in
//! topological order. Layer, kind and total traffic are sums over their blocks.
//!
//! # Errors
//! [`analyze`] fails only if the graph has a cycle ([`crate::Error::Cycle`]).

mod flops;
mod table;
mod traffic;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::graph::{Graph, NodeId};

pub use flops::{
    GELU_ERF_PER_ELEM, GELU_TANH_PER_ELEM, LAYERNORM_PER_ELEM, NORM_PER_ROW, QUANTIZE_PER_ELEM,
    RMSNORM_PER_ELEM, ROPE_PER_ELEM, ROPE_TABLE_PER_PAIR, SIGMOID_PER_ELEM, SILU_PER_ELEM,
    SOFTMAX_PER_ELEM, SPECIAL_FN_FLOPS,
};
pub use traffic::Traffic;

/// A count of floating-point (or integer) operations.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Flops(pub u64);

impl std::ops::Add for Flops {
    type Output = Flops;
    fn add(self, o: Flops) -> Flops {
        Flops(self.0.saturating_add(o.0))
    }
}

impl std::ops::AddAssign for Flops {
    fn add_assign(&mut self, o: Flops) {
        self.0 += o.0;
    }
}

impl fmt::Display for Flops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} FLOP", self.0)
    }
}

/// Statistics of one node (unfused: the op as its own kernel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    /// Node name.
    pub name: String,
    /// Op name (`MatMul`, …).
    pub op: String,
    /// The block the node is counted in.
    pub block: String,
    /// FLOPs of the op.
    pub flops: Flops,
    /// DRAM traffic of the op run alone.
    pub traffic: Traffic,
}

/// Statistics of a group of nodes: a block, a layer, a block kind or the whole graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// Group name (`layer3/attn`, `layer3`, `attn`, `total`).
    pub name: String,
    /// Number of blocks merged into this group (1 for a block).
    pub blocks: usize,
    /// Number of non-source nodes.
    pub nodes: usize,
    /// FLOPs.
    pub flops: Flops,
    /// DRAM traffic with one fused kernel per block.
    pub fused: Traffic,
    /// DRAM traffic with one kernel per op.
    pub unfused: Traffic,
    /// FLOPs per fused DRAM byte; `None` when no bytes move.
    pub op_per_byte: Option<f64>,
    /// FLOPs per unfused DRAM byte; `None` when no bytes move.
    pub unfused_op_per_byte: Option<f64>,
}

impl GroupStats {
    fn new(name: impl Into<String>) -> Self {
        GroupStats {
            name: name.into(),
            blocks: 0,
            nodes: 0,
            flops: Flops(0),
            fused: Traffic::default(),
            unfused: Traffic::default(),
            op_per_byte: None,
            unfused_op_per_byte: None,
        }
    }

    fn absorb(&mut self, o: &GroupStats) {
        self.blocks += o.blocks;
        self.nodes += o.nodes;
        self.flops += o.flops;
        self.fused += o.fused;
        self.unfused += o.unfused;
        self.finish();
    }

    fn finish(&mut self) {
        let ratio = |t: &Traffic| {
            let b = t.total().0;
            (b > 0).then(|| self.flops.0 as f64 / b as f64)
        };
        self.op_per_byte = ratio(&self.fused);
        self.unfused_op_per_byte = ratio(&self.unfused);
    }
}

/// The statistics of a whole graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Graph name.
    pub graph: String,
    /// The graph's metadata (model, phase, …).
    pub meta: BTreeMap<String, String>,
    /// Every non-source node, in topological order.
    pub nodes: Vec<NodeStats>,
    /// Per block (scope), in order of first appearance.
    pub blocks: Vec<GroupStats>,
    /// Per layer (scope up to the first `/`).
    pub layers: Vec<GroupStats>,
    /// Per block kind, aggregated across layers and experts.
    pub kinds: Vec<GroupStats>,
    /// The whole graph.
    pub total: GroupStats,
}

impl Report {
    /// The block with this name.
    pub fn block(&self, name: &str) -> Option<&GroupStats> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// The layer with this name.
    pub fn layer(&self, name: &str) -> Option<&GroupStats> {
        self.layers.iter().find(|b| b.name == name)
    }

    /// The block kind with this name.
    pub fn kind(&self, name: &str) -> Option<&GroupStats> {
        self.kinds.iter().find(|b| b.name == name)
    }

    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&NodeStats> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The report as aligned text tables: per layer with the total, then per block kind.
    pub fn table(&self) -> String {
        table::render(self)
    }
}

/// The layer of a block: its name up to the first `/`.
pub fn layer_of(block: &str) -> &str {
    block.split('/').next().unwrap_or(block)
}

/// The kind of a block: without `layer{i}` segments, `expert{e}` reduced to `expert`.
pub fn block_kind(block: &str) -> String {
    let numbered = |seg: &str, word: &str| {
        seg.strip_prefix(word)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let segs: Vec<&str> = block
        .split('/')
        .filter(|s| !numbered(s, "layer"))
        .map(|s| if numbered(s, "expert") { "expert" } else { s })
        .collect();
    if segs.is_empty() {
        block.to_string()
    } else {
        segs.join("/")
    }
}

/// Compute FLOPs, bytes and Op/B of every node, block, layer and block kind.
pub fn analyze(g: &Graph) -> Result<Report> {
    let order: Vec<NodeId> = g
        .topo_order()?
        .into_iter()
        .filter(|&id| !g.node(id).op.is_source())
        .collect();

    // Blocks in first-appearance order; kernels: one per scoped block, one per
    // unscoped node.
    let mut block_ix: BTreeMap<String, usize> = BTreeMap::new();
    let mut blocks: Vec<(String, Vec<NodeId>)> = Vec::new();
    let mut kernel_of: HashMap<NodeId, usize> = HashMap::new();
    let mut kernels: Vec<(usize, Vec<NodeId>)> = Vec::new();
    let mut scoped_kernel: BTreeMap<usize, usize> = BTreeMap::new();
    for &id in &order {
        let n = g.node(id);
        let name = if n.scope.is_empty() {
            n.op.name().to_string()
        } else {
            n.scope.clone()
        };
        let b = *block_ix.entry(name.clone()).or_insert_with(|| {
            blocks.push((name, Vec::new()));
            blocks.len() - 1
        });
        blocks[b].1.push(id);
        let k = if n.scope.is_empty() {
            kernels.push((b, Vec::new()));
            kernels.len() - 1
        } else {
            *scoped_kernel.entry(b).or_insert_with(|| {
                kernels.push((b, Vec::new()));
                kernels.len() - 1
            })
        };
        kernels[k].1.push(id);
        kernel_of.insert(id, k);
    }

    let mem = traffic::Memory::new(g, kernel_of);
    let mut nodes = Vec::with_capacity(order.len());
    let mut block_stats: Vec<GroupStats> = blocks
        .iter()
        .map(|(name, ids)| {
            let mut s = GroupStats::new(name.clone());
            s.blocks = 1;
            s.nodes = ids.len();
            s
        })
        .collect();
    for (b, (name, ids)) in blocks.iter().enumerate() {
        for &id in ids {
            let n = g.node(id);
            let ins: Vec<_> = n.inputs.iter().map(|&v| g.ty(v)).collect();
            let outs: Vec<_> = n.outputs.iter().map(|o| &o.ty).collect();
            let f = Flops(flops::op_flops(&n.op, &ins, &outs));
            let t = mem.unfused(id);
            block_stats[b].flops += f;
            block_stats[b].unfused += t;
            nodes.push(NodeStats {
                name: n.name.clone(),
                op: n.op.name().to_string(),
                block: name.clone(),
                flops: f,
                traffic: t,
            });
        }
    }
    for (k, (b, ids)) in kernels.iter().enumerate() {
        block_stats[*b].fused += mem.fused(k, ids, g.outputs());
    }
    for s in &mut block_stats {
        s.finish();
    }
    // Report nodes in topological order, as documented.
    let pos: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, &id)| (g.node(id).name.as_str(), i))
        .collect();
    nodes.sort_by_key(|n| pos.get(n.name.as_str()).copied().unwrap_or(usize::MAX));

    let layers = merge(&block_stats, |b| layer_of(b).to_string());
    let kinds = merge(&block_stats, block_kind);
    let mut total = GroupStats::new("total");
    for b in &block_stats {
        total.absorb(b);
    }
    total.finish();
    Ok(Report {
        graph: g.name.clone(),
        meta: g.meta.clone(),
        nodes,
        blocks: block_stats,
        layers,
        kinds,
        total,
    })
}

/// Merge blocks into groups named by `key`, in order of first appearance.
fn merge(blocks: &[GroupStats], key: impl Fn(&str) -> String) -> Vec<GroupStats> {
    let mut ix: BTreeMap<String, usize> = BTreeMap::new();
    let mut out: Vec<GroupStats> = Vec::new();
    for b in blocks {
        let name = key(&b.name);
        let i = *ix.entry(name.clone()).or_insert_with(|| {
            out.push(GroupStats::new(name));
            out.len() - 1
        });
        out[i].absorb(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_layers() {
        assert_eq!(block_kind("layer12/attn"), "attn");
        assert_eq!(block_kind("layer1/expert7"), "expert");
        assert_eq!(block_kind("layer1/expertise"), "expertise");
        assert_eq!(block_kind("layerx/attn"), "layerx/attn");
        assert_eq!(block_kind("embed"), "embed");
        assert_eq!(block_kind("layer3"), "layer3");
        assert_eq!(layer_of("layer3/attn"), "layer3");
        assert_eq!(layer_of("head"), "head");
    }
}
