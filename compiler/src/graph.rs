//! The graph IR: a petgraph DAG of tensor ops with static types.
//!
//! Nodes are ops ([`Node`]); a node's operands are [`ValueRef`]s (producer node,
//! output port), kept in order on the node and mirrored as petgraph edges so graph
//! algorithms (topological order, cycle detection) apply directly. Every value has a
//! unique name (ONNX style), used by the JSON and ONNX formats. Each node carries a
//! `scope` (e.g. `layer3/attn`) that groups it for statistics and placement.
//!
//! Building through [`Graph::add`] infers output types and rejects bad operands at
//! once; graphs read from files are checked as a whole by [`Graph::validate`].

use std::collections::{BTreeMap, HashMap};

use petgraph::Direction;
use petgraph::algo::toposort;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};

use crate::data::{Init, MAX_TENSOR_ELEMS, TensorType};
use crate::error::{Error, Result};
use crate::infer::{Mismatch, infer};
use crate::op::{InputKind, Op};

/// Identifies a node of a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub u32);

impl NodeId {
    fn ix(self) -> NodeIndex {
        NodeIndex::new(self.0 as usize)
    }
}

/// One output of one node: the unit of data flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ValueRef {
    /// Producing node.
    pub node: NodeId,
    /// Output position on that node.
    pub port: u32,
}

/// A named, typed output of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Value {
    /// Unique name of the value within the graph.
    pub name: String,
    /// Its type.
    pub ty: TensorType,
}

/// An op application.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique node name.
    pub name: String,
    /// Grouping label (`layer3/attn`, `embed`, `head`); empty if none.
    pub scope: String,
    /// The op and its attributes.
    pub op: Op,
    /// Operands, in order.
    pub inputs: Vec<ValueRef>,
    /// Results, in order.
    pub outputs: Vec<Value>,
}

/// A tensor-op DAG with graph inputs (the `Input` nodes) and named outputs.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Model name.
    pub name: String,
    g: StableDiGraph<Node, u32>,
    values: HashMap<String, ValueRef>,
    node_names: HashMap<String, NodeId>,
    outputs: Vec<ValueRef>,
    scope: String,
    /// Free-form metadata (source model, phase, …), written to files in key order.
    pub meta: BTreeMap<String, String>,
}

impl Graph {
    /// An empty graph.
    pub fn new(name: impl Into<String>) -> Self {
        Graph {
            name: name.into(),
            ..Graph::default()
        }
    }

    /// Set the scope label given to nodes added from now on.
    pub fn set_scope(&mut self, scope: impl Into<String>) {
        self.scope = scope.into();
    }

    /// Add a graph input of type `ty`.
    pub fn input(&mut self, name: &str, ty: TensorType) -> Result<ValueRef> {
        self.source(
            name,
            Op::Input {
                kind: InputKind::Data,
            },
            ty,
        )
    }

    /// Add a KV-cache input (a cache tensor carried across decoding steps).
    pub fn kv_input(&mut self, name: &str, ty: TensorType) -> Result<ValueRef> {
        self.source(
            name,
            Op::Input {
                kind: InputKind::KvCache,
            },
            ty,
        )
    }

    /// Add a weight tensor.
    pub fn weight(&mut self, name: &str, ty: TensorType, init: Init) -> Result<ValueRef> {
        self.source(name, Op::Weight { init }, ty)
    }

    /// Add a constant tensor.
    pub fn constant(&mut self, name: &str, ty: TensorType, init: Init) -> Result<ValueRef> {
        self.source(name, Op::Constant { init }, ty)
    }

    fn source(&mut self, name: &str, op: Op, ty: TensorType) -> Result<ValueRef> {
        if let Op::Weight {
            init: Init::Data(d),
        }
        | Op::Constant {
            init: Init::Data(d),
        } = &op
        {
            check_data(name, &ty, d)?;
        }
        let v = self.insert(name, op, Vec::new(), vec![ty])?;
        Ok(v[0])
    }

    /// Add an op node named `name` over `inputs`; its output types are inferred and
    /// its outputs named `name` (one output) or `name.0`, `name.1`, … (several).
    pub fn add(&mut self, name: &str, op: Op, inputs: &[ValueRef]) -> Result<Vec<ValueRef>> {
        let types = {
            let tys: Vec<&TensorType> = inputs.iter().map(|v| self.ty(*v)).collect();
            infer(&op, &tys).map_err(|m| mismatch(name, &op, m))?
        };
        self.insert(name, op, inputs.to_vec(), types)
    }

    /// [`Graph::add`] for an op with exactly one output.
    pub fn add1(&mut self, name: &str, op: Op, inputs: &[ValueRef]) -> Result<ValueRef> {
        Ok(self.add(name, op, inputs)?[0])
    }

    fn insert(
        &mut self,
        name: &str,
        op: Op,
        inputs: Vec<ValueRef>,
        types: Vec<TensorType>,
    ) -> Result<Vec<ValueRef>> {
        let names: Vec<String> = if types.len() == 1 {
            vec![name.to_string()]
        } else {
            (0..types.len()).map(|i| format!("{name}.{i}")).collect()
        };
        let outputs = names
            .into_iter()
            .zip(types)
            .map(|(name, ty)| Value { name, ty })
            .collect();
        self.insert_node(name, op, inputs, outputs)
    }

    /// Add a node with explicitly named and typed outputs, without inference (used
    /// by file frontends, which call [`Graph::validate`] afterwards).
    pub fn insert_node(
        &mut self,
        name: &str,
        op: Op,
        inputs: Vec<ValueRef>,
        outputs: Vec<Value>,
    ) -> Result<Vec<ValueRef>> {
        if self.node_names.contains_key(name) {
            return Err(Error::Duplicate {
                what: "node",
                name: name.to_string(),
            });
        }
        if let Some(o) = outputs.iter().find(|o| o.ty.elems() > MAX_TENSOR_ELEMS) {
            return Err(Error::Type {
                node: name.to_string(),
                op: op.name(),
                reason: format!(
                    "value `{}` of shape {:?} exceeds the limit of {MAX_TENSOR_ELEMS} elements",
                    o.name, o.ty.shape
                ),
            });
        }
        for (i, o) in outputs.iter().enumerate() {
            let clash =
                self.values.contains_key(&o.name) || outputs[..i].iter().any(|p| p.name == o.name);
            if clash {
                return Err(Error::Duplicate {
                    what: "value",
                    name: o.name.clone(),
                });
            }
        }
        let ix = self.g.add_node(Node {
            name: name.to_string(),
            scope: self.scope.clone(),
            op,
            inputs: inputs.clone(),
            outputs,
        });
        let id = NodeId(ix.index() as u32);
        for (slot, v) in inputs.iter().enumerate() {
            self.g.add_edge(v.node.ix(), ix, slot as u32);
        }
        self.node_names.insert(name.to_string(), id);
        let refs: Vec<ValueRef> = (0..self.g[ix].outputs.len() as u32)
            .map(|port| ValueRef { node: id, port })
            .collect();
        for (r, o) in refs.iter().zip(&self.g[ix].outputs) {
            self.values.insert(o.name.clone(), *r);
        }
        Ok(refs)
    }

    /// Rename the value `v` to `name`; `false` (and no change) if another value
    /// already has that name.
    pub fn rename_value(&mut self, v: ValueRef, name: &str) -> bool {
        if self.values.contains_key(name) {
            return false;
        }
        let slot = &mut self.g[v.node.ix()].outputs[v.port as usize];
        let old = std::mem::replace(&mut slot.name, name.to_string());
        self.values.remove(&old);
        self.values.insert(name.to_string(), v);
        true
    }

    /// Replace the operands of `node` (file frontends resolve names after all nodes exist).
    pub fn set_inputs(&mut self, node: NodeId, inputs: Vec<ValueRef>) {
        let ix = node.ix();
        let old: Vec<_> = self
            .g
            .edges_directed(ix, Direction::Incoming)
            .map(|e| e.id())
            .collect();
        for e in old {
            self.g.remove_edge(e);
        }
        for (slot, v) in inputs.iter().enumerate() {
            self.g.add_edge(v.node.ix(), ix, slot as u32);
        }
        self.g[ix].inputs = inputs;
    }

    /// Declare the graph outputs.
    pub fn set_outputs(&mut self, outputs: &[ValueRef]) {
        self.outputs = outputs.to_vec();
    }

    /// The graph outputs.
    pub fn outputs(&self) -> &[ValueRef] {
        &self.outputs
    }

    /// The node with id `id`.
    ///
    /// # Panics
    /// If `id` is not a node of this graph (ids come from this graph's own methods).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[id.ix()]
    }

    /// Mutable access to a node's op, name and scope (not its inputs or outputs).
    pub fn node_mut(&mut self, id: NodeId) -> (&mut Op, &mut String) {
        let n = &mut self.g[id.ix()];
        (&mut n.op, &mut n.scope)
    }

    /// The node with this name, if any.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.node_names.get(name).copied()
    }

    /// The value with this name, if any.
    pub fn value(&self, name: &str) -> Option<ValueRef> {
        self.values.get(name).copied()
    }

    /// The type of a value.
    pub fn ty(&self, v: ValueRef) -> &TensorType {
        &self.value_info(v).ty
    }

    /// Name and type of a value.
    ///
    /// # Panics
    /// If `v` does not belong to this graph.
    pub fn value_info(&self, v: ValueRef) -> &Value {
        &self.g[v.node.ix()].outputs[v.port as usize]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// True for a graph with no nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// All node ids in insertion order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.g.node_indices().map(|ix| NodeId(ix.index() as u32))
    }

    /// The graph-input nodes, in insertion order.
    pub fn inputs(&self) -> Vec<NodeId> {
        self.node_ids()
            .filter(|&id| matches!(self.node(id).op, Op::Input { .. }))
            .collect()
    }

    /// Nodes that read value `v`, with the input slot, in node order.
    pub fn consumers(&self, v: ValueRef) -> Vec<(NodeId, usize)> {
        let mut out: Vec<(NodeId, usize)> = self
            .g
            .edges_directed(v.node.ix(), Direction::Outgoing)
            .map(|e| (NodeId(e.target().index() as u32), *e.weight() as usize))
            .filter(|&(n, slot)| self.node(n).inputs[slot] == v)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Nodes in a topological order (ties broken by insertion order, so the order is
    /// deterministic), or [`Error::Cycle`].
    pub fn topo_order(&self) -> Result<Vec<NodeId>> {
        // Kahn's algorithm over a min-heap gives the smallest-id-first order.
        let mut indeg: BTreeMap<NodeId, usize> = BTreeMap::new();
        for id in self.node_ids() {
            indeg.insert(id, self.node(id).inputs.len());
        }
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<NodeId>> = indeg
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(id, _)| std::cmp::Reverse(*id))
            .collect();
        let mut order = Vec::with_capacity(indeg.len());
        while let Some(std::cmp::Reverse(id)) = ready.pop() {
            order.push(id);
            for e in self.g.edges_directed(id.ix(), Direction::Outgoing) {
                let t = NodeId(e.target().index() as u32);
                let d = indeg.get_mut(&t).expect("edge target is a node");
                *d -= 1;
                if *d == 0 {
                    ready.push(std::cmp::Reverse(t));
                }
            }
        }
        if order.len() != indeg.len() {
            let node = match toposort(&self.g, None) {
                Err(c) => self.g[c.node_id()].name.clone(),
                Ok(_) => String::from("?"),
            };
            return Err(Error::Cycle { node });
        }
        Ok(order)
    }

    /// Check the whole graph: no cycles, every operand produced by a node of this
    /// graph, every node's declared outputs equal to the types inferred from its
    /// op and operands, initializer data of the right size, outputs declared.
    pub fn validate(&self) -> Result<()> {
        let order = self.topo_order()?;
        for id in order {
            let n = self.node(id);
            match &n.op {
                Op::Weight { init } | Op::Constant { init } => {
                    if let Init::Data(d) = init {
                        check_data(&n.outputs[0].name, &n.outputs[0].ty, d)?;
                    }
                    if !n.inputs.is_empty() || n.outputs.len() != 1 {
                        return Err(Error::Arity {
                            node: n.name.clone(),
                            op: n.op.name(),
                            expected: "0".into(),
                            got: n.inputs.len(),
                        });
                    }
                }
                Op::Input { .. } => {
                    if !n.inputs.is_empty() || n.outputs.len() != 1 {
                        return Err(Error::Arity {
                            node: n.name.clone(),
                            op: n.op.name(),
                            expected: "0".into(),
                            got: n.inputs.len(),
                        });
                    }
                }
                op => {
                    let tys: Vec<&TensorType> = n.inputs.iter().map(|v| self.ty(*v)).collect();
                    let inferred = infer(op, &tys).map_err(|m| mismatch(&n.name, op, m))?;
                    if inferred.len() != n.outputs.len() {
                        return Err(Error::Type {
                            node: n.name.clone(),
                            op: op.name(),
                            reason: format!(
                                "declares {} outputs, the op produces {}",
                                n.outputs.len(),
                                inferred.len()
                            ),
                        });
                    }
                    for (i, (o, t)) in n.outputs.iter().zip(&inferred).enumerate() {
                        if o.ty != *t {
                            return Err(Error::Declared {
                                node: n.name.clone(),
                                index: i,
                                declared: o.ty.to_string(),
                                inferred: t.to_string(),
                            });
                        }
                    }
                }
            }
        }
        if self.outputs.is_empty() {
            return Err(Error::Output {
                name: self.name.clone(),
                reason: "the graph declares no outputs".into(),
            });
        }
        Ok(())
    }
}

/// The crate error for an op that rejected its operands at node `node`.
pub(crate) fn mismatch(node: &str, op: &Op, m: Mismatch) -> Error {
    match m {
        Mismatch::Arity { expected, got } => Error::Arity {
            node: node.to_string(),
            op: op.name(),
            expected,
            got,
        },
        Mismatch::Type(reason) => Error::Type {
            node: node.to_string(),
            op: op.name(),
            reason,
        },
    }
}

fn check_data(name: &str, ty: &TensorType, d: &crate::data::Data) -> Result<()> {
    if !d.fits(ty.dtype) {
        return Err(Error::Initializer {
            name: name.to_string(),
            reason: format!("data carrier does not match dtype {}", ty.dtype),
        });
    }
    if d.len() as u64 != ty.elems() {
        return Err(Error::Initializer {
            name: name.to_string(),
            reason: format!("{} values given, type {ty} needs {}", d.len(), ty.elems()),
        });
    }
    if let (crate::data::Data::I64(v), Some((lo, hi))) = (d, ty.dtype.int_range())
        && let Some(x) = v.iter().find(|x| !(lo..=hi).contains(*x))
    {
        return Err(Error::Initializer {
            name: name.to_string(),
            reason: format!("value {x} out of range for {}", ty.dtype),
        });
    }
    Ok(())
}
