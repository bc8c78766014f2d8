//! Load-time layout: ops the extraction marked prepacked (a concatenation of Q / K / V
//! or gate / up weights, the weight slice of a column split) whose operands are all
//! weights or constants are computed here, once, by the reference interpreter. Their
//! results become static buffers with `.init` data like any other weight, so the
//! program copies no weight bytes at run time. A weight (or prepacked result) that
//! only such ops read gets no buffer at all.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::interp::{Tensor, eval_node};
use crate::op::Op;

/// Which nodes are computed at compile time and which need no buffer.
#[derive(Debug, Default)]
pub(super) struct Prepack {
    /// Prepacked non-source nodes computed at compile time (in topological order).
    pub order: Vec<NodeId>,
    /// The same, as a set.
    pub computed: BTreeSet<NodeId>,
    /// Sources and computed nodes no run-time op and no graph output reads.
    pub unread: BTreeSet<NodeId>,
}

impl Prepack {
    /// The plan for `g` given its prepacked nodes.
    pub fn new(g: &Graph, prepacked: &BTreeSet<NodeId>) -> Result<Prepack> {
        let mut p = Prepack::default();
        let params = |id: NodeId| matches!(g.node(id).op, Op::Weight { .. } | Op::Constant { .. });
        for id in g.topo_order()? {
            let n = g.node(id);
            let single = n.outputs.len() == 1;
            if single
                && prepacked.contains(&id)
                && !n.op.is_source()
                && n.inputs
                    .iter()
                    .all(|v| params(v.node) || p.computed.contains(&v.node))
            {
                p.order.push(id);
                p.computed.insert(id);
            }
        }
        let outputs: BTreeSet<NodeId> = g.outputs().iter().map(|v| v.node).collect();
        // Reverse topological order: a node is read at run time if a run-time op or a
        // read computed node reads it.
        let mut read: BTreeSet<NodeId> = BTreeSet::new();
        for id in g.topo_order()?.into_iter().rev() {
            let n = g.node(id);
            let runtime = !n.op.is_source() && !p.computed.contains(&id);
            if runtime || read.contains(&id) || outputs.contains(&id) {
                read.extend(n.inputs.iter().map(|v| v.node));
            }
        }
        for id in g.node_ids() {
            let candidate = params(id) || p.computed.contains(&id);
            if candidate && !read.contains(&id) && !outputs.contains(&id) {
                p.unread.insert(id);
            }
        }
        // A computed node nobody reads need not be computed either.
        p.order.retain(|id| !p.unread.contains(id));
        Ok(p)
    }

    /// The value of computed node `id` (its operands evaluated as needed, cached).
    pub fn value(
        &self,
        g: &Graph,
        id: NodeId,
        cache: &mut BTreeMap<NodeId, Tensor>,
    ) -> Result<Tensor> {
        if let Some(t) = cache.get(&id) {
            return Ok(t.clone());
        }
        let n = g.node(id);
        let mut ins = Vec::new();
        for v in &n.inputs {
            ins.push(self.value(g, v.node, cache)?);
        }
        let refs: Vec<&Tensor> = ins.iter().collect();
        let tys: Vec<_> = n.outputs.iter().map(|o| o.ty.clone()).collect();
        let t = eval_node(&n.name, &n.op, &refs, &tys)?.swap_remove(0);
        cache.insert(id, t.clone());
        Ok(t)
    }
}
