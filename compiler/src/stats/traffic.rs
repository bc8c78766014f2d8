//! DRAM traffic of ops and of fused kernels (the byte model is documented in the
//! parent module).
//!
//! Values are resolved to their *root*: a `Reshape` is a view, so its result is its
//! operand's storage. A root's class says what kind of memory it lives in: a weight,
//! the KV cache (a `KvCache` input or a `KvAppend` result), or an activation
//! (everything else, constants included).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use triad_isa::Bytes;

use crate::graph::{Graph, NodeId, ValueRef};
use crate::op::{InputKind, Op};

/// DRAM bytes moved, by kind of data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Weight (parameter) bytes read.
    pub weights: Bytes,
    /// Activation bytes read (constants included).
    pub act_read: Bytes,
    /// Activation bytes written.
    pub act_write: Bytes,
    /// KV-cache bytes read.
    pub kv_read: Bytes,
    /// KV-cache bytes written (new entries appended).
    pub kv_write: Bytes,
}

impl Traffic {
    /// All DRAM bytes: reads plus writes of every kind.
    pub fn total(&self) -> Bytes {
        self.weights + self.act_read + self.act_write + self.kv_read + self.kv_write
    }

    fn read(&mut self, class: Class, bytes: u64) {
        let slot = match class {
            Class::Weight => &mut self.weights,
            Class::Kv => &mut self.kv_read,
            Class::Act => &mut self.act_read,
        };
        *slot += Bytes(bytes);
    }
}

impl std::ops::Add for Traffic {
    type Output = Traffic;
    fn add(self, o: Traffic) -> Traffic {
        Traffic {
            weights: self.weights + o.weights,
            act_read: self.act_read + o.act_read,
            act_write: self.act_write + o.act_write,
            kv_read: self.kv_read + o.kv_read,
            kv_write: self.kv_write + o.kv_write,
        }
    }
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, o: Traffic) {
        *self = *self + o;
    }
}

/// Where a root value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Weight,
    Kv,
    Act,
}

/// Storage facts of a graph, shared by the per-op and the fused accounting.
pub(crate) struct Memory<'g> {
    g: &'g Graph,
    /// Kernel index of every non-source node.
    kernel: HashMap<NodeId, usize>,
}

/// One operand read: the root value and how many of its bytes are touched.
struct Read {
    root: ValueRef,
    bytes: u64,
}

impl<'g> Memory<'g> {
    /// `kernel` assigns every non-source node to a fused kernel.
    pub(crate) fn new(g: &'g Graph, kernel: HashMap<NodeId, usize>) -> Self {
        Memory { g, kernel }
    }

    fn op(&self, v: ValueRef) -> &Op {
        &self.g.node(v.node).op
    }

    fn bytes(&self, v: ValueRef) -> u64 {
        self.g.ty(v).bytes()
    }

    /// The storage a value is a view of (follows `Reshape` operands).
    fn root(&self, mut v: ValueRef) -> ValueRef {
        while let Op::Reshape { .. } = self.op(v) {
            match self.g.node(v.node).inputs.first() {
                Some(&i) => v = i,
                None => break,
            }
        }
        v
    }

    fn class(&self, root: ValueRef) -> Class {
        match self.op(root) {
            Op::Weight { .. } => Class::Weight,
            Op::Input {
                kind: InputKind::KvCache,
            }
            | Op::KvAppend { .. } => Class::Kv,
            _ => Class::Act,
        }
    }

    /// True for nodes that move no data of their own: sources and views.
    fn is_passive(op: &Op) -> bool {
        op.is_source() || matches!(op, Op::Reshape { .. })
    }

    /// The operand reads of a node, before any de-duplication.
    fn reads(&self, id: NodeId) -> Vec<Read> {
        let n = self.g.node(id);
        if Self::is_passive(&n.op) {
            return Vec::new();
        }
        let out_bytes = n.outputs.first().map_or(0, |o| o.ty.bytes());
        n.inputs
            .iter()
            .enumerate()
            .filter_map(|(slot, &v)| {
                let full = self.bytes(v);
                let bytes = match (&n.op, slot) {
                    // Appending in place does not read the past entries.
                    (Op::KvAppend { .. }, 0) => return None,
                    // Gather and Slice touch only the elements they return.
                    (Op::Gather { .. }, 0) | (Op::Slice { .. }, 0) => full.min(out_bytes),
                    _ => full,
                };
                Some(Read {
                    root: self.root(v),
                    bytes,
                })
            })
            .collect()
    }

    /// Bytes a node writes to the KV cache (the new entries of a `KvAppend`).
    fn kv_written(&self, id: NodeId) -> u64 {
        let n = self.g.node(id);
        match (&n.op, n.inputs.get(1)) {
            (Op::KvAppend { .. }, Some(&new)) => self.bytes(new),
            _ => 0,
        }
    }

    /// Per-op traffic: the op reads every distinct operand from DRAM and writes
    /// every result back, as if it ran alone.
    pub(crate) fn unfused(&self, id: NodeId) -> Traffic {
        let n = self.g.node(id);
        let mut t = Traffic::default();
        if Self::is_passive(&n.op) {
            return t;
        }
        let mut seen: BTreeMap<ValueRef, u64> = BTreeMap::new();
        for r in self.reads(id) {
            let b = seen.entry(r.root).or_insert(0);
            *b = (*b).max(r.bytes);
        }
        for (root, bytes) in seen {
            t.read(self.class(root), bytes);
        }
        if matches!(n.op, Op::KvAppend { .. }) {
            t.kv_write = Bytes(self.kv_written(id));
        } else {
            t.act_write = Bytes(n.outputs.iter().map(|o| o.ty.bytes()).sum());
        }
        t
    }

    /// Fused traffic of kernel `k` made of `nodes`: external reads once each,
    /// results that escape the kernel written once, KV appends written.
    pub(crate) fn fused(&self, k: usize, nodes: &[NodeId], outputs: &[ValueRef]) -> Traffic {
        let mut ext: BTreeMap<ValueRef, u64> = BTreeMap::new();
        let mut t = Traffic::default();
        for &id in nodes {
            for r in self.reads(id) {
                self.external(k, r.root, r.bytes, &mut ext);
            }
            t.kv_write += Bytes(self.kv_written(id));
        }
        for (root, bytes) in ext {
            t.read(self.class(root), bytes);
        }
        let graph_out: Vec<ValueRef> = outputs.iter().map(|&v| self.root(v)).collect();
        for &id in nodes {
            let n = self.g.node(id);
            if Self::is_passive(&n.op) || matches!(n.op, Op::KvAppend { .. }) {
                continue;
            }
            for port in 0..n.outputs.len() as u32 {
                let v = ValueRef { node: id, port };
                if graph_out.contains(&v) || self.escapes(k, v) {
                    t.act_write += Bytes(self.bytes(v));
                }
            }
        }
        t
    }

    /// Record the DRAM read of `root` by kernel `k`, if it comes from outside.
    fn external(&self, k: usize, root: ValueRef, bytes: u64, ext: &mut BTreeMap<ValueRef, u64>) {
        let inside = self.kernel.get(&root.node) == Some(&k);
        if inside {
            // A KV append made in this kernel is the cache: its past entries are in
            // DRAM and its new entries are wherever they came from.
            let n = self.g.node(root.node);
            if matches!(n.op, Op::KvAppend { .. }) {
                for &v in &n.inputs {
                    let r = self.root(v);
                    self.external(k, r, self.bytes(r), ext);
                }
            }
            return;
        }
        let b = ext.entry(root).or_insert(0);
        *b = (*b).max(bytes);
    }

    /// True when a consumer outside kernel `k` reads `v` (directly or via views).
    fn escapes(&self, k: usize, v: ValueRef) -> bool {
        self.g.consumers(v).into_iter().any(|(c, _)| {
            let n = self.g.node(c);
            if let Op::Reshape { .. } = n.op {
                (0..n.outputs.len() as u32).any(|port| self.escapes(k, ValueRef { node: c, port }))
            } else {
                self.kernel.get(&c) != Some(&k)
            }
        })
    }
}
