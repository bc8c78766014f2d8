//! Graphviz DOT output of a graph, for looking at it (`dot -Tsvg`).
//!
//! Every node becomes `n<id>` with a label of three or more lines: its name, its op
//! (with the attributes that matter for reading the graph), and one `dtype[shape]`
//! line per result. Sources are drawn as boxes (weights grey, KV-cache inputs
//! yellow, other inputs green), graph outputs with a double border. Nodes are nested
//! in `cluster` subgraphs by scope path (`layer3` contains `layer3/attn`). Edges
//! from a multi-result node carry the result's port number. All labels and cluster
//! names are quoted with `"` and `\` escaped and line breaks written as `\n`, so any
//! name is safe. Output is deterministic: nodes in insertion order, clusters in
//! first-appearance order.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::graph::{Graph, NodeId};
use crate::op::{InputKind, Op};

/// Quote `s` as a DOT string: `"` and `\` escaped, line breaks as `\n`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The op line of a node label: the op name plus its key attributes.
fn op_text(op: &Op) -> String {
    match op {
        Op::Input {
            kind: InputKind::KvCache,
        } => "Input (kv cache)".into(),
        Op::Cast { to } | Op::Quantize { to, .. } | Op::Dequantize { to, .. } => {
            format!("{} to {to}", op.name())
        }
        Op::Softmax { axis } | Op::Concat { axis } | Op::KvAppend { axis } => {
            format!("{} axis={axis}", op.name())
        }
        Op::Transpose { perm } => format!("Transpose perm={perm:?}"),
        Op::Reshape { shape } => format!("Reshape {shape:?}"),
        Op::TopK { k, .. } => format!("TopK k={k}"),
        Op::MoeDispatch { expert, capacity } => {
            format!("MoeDispatch expert={expert} capacity={capacity}")
        }
        Op::Gelu { tanh_approx: true } => "Gelu (tanh)".into(),
        _ => op.name().to_string(),
    }
}

/// Scope clusters: a tree keyed by scope path segments.
#[derive(Default)]
struct Cluster {
    nodes: Vec<NodeId>,
    children: Vec<(String, Cluster)>,
}

impl Cluster {
    fn child(&mut self, name: &str) -> &mut Cluster {
        let i = match self.children.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.children.push((name.to_string(), Cluster::default()));
                self.children.len() - 1
            }
        };
        &mut self.children[i].1
    }
}

/// The graph as a Graphviz `digraph`.
pub fn to_dot(g: &Graph) -> String {
    let mut root = Cluster::default();
    for id in g.node_ids() {
        let scope = &g.node(id).scope;
        let mut c = &mut root;
        let mut path = String::new();
        for seg in scope.split('/').filter(|s| !s.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(seg);
            c = c.child(&path);
        }
        c.nodes.push(id);
    }
    let outputs: BTreeMap<NodeId, ()> = g.outputs().iter().map(|v| (v.node, ())).collect();

    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&g.name));
    let _ = writeln!(out, "  rankdir=TB;");
    let _ = writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    );
    write_cluster(&mut out, g, &root, &outputs, 1, &mut 0);
    for id in g.node_ids() {
        let n = g.node(id);
        for (slot, v) in n.inputs.iter().enumerate() {
            let multi = g.node(v.node).outputs.len() > 1;
            let _ = write!(out, "  n{} -> n{}", v.node.0, id.0);
            if multi {
                let _ = write!(out, " [taillabel={}]", quote(&v.port.to_string()));
            } else if n.inputs.len() > 1 {
                let _ = write!(out, " [headlabel={}]", quote(&slot.to_string()));
            }
            out.push_str(";\n");
        }
    }
    out.push_str("}\n");
    out
}

fn write_cluster(
    out: &mut String,
    g: &Graph,
    c: &Cluster,
    outputs: &BTreeMap<NodeId, ()>,
    depth: usize,
    counter: &mut usize,
) {
    let pad = "  ".repeat(depth);
    for &id in &c.nodes {
        let n = g.node(id);
        let mut label = format!("{}\n{}", n.name, op_text(&n.op));
        for o in &n.outputs {
            let _ = write!(label, "\n{}", o.ty);
        }
        let mut attrs = vec![format!("label={}", quote(&label))];
        match &n.op {
            Op::Weight { .. } => attrs.push("style=filled, fillcolor=\"#e0e0e0\"".into()),
            Op::Constant { .. } => attrs.push("style=filled, fillcolor=\"#f0f0f0\"".into()),
            Op::Input {
                kind: InputKind::KvCache,
            } => attrs.push("style=filled, fillcolor=\"#fff2b3\"".into()),
            Op::Input { .. } => attrs.push("style=filled, fillcolor=\"#d4f0d4\"".into()),
            _ => {}
        }
        if outputs.contains_key(&id) {
            attrs.push("peripheries=2".into());
        }
        let _ = writeln!(out, "{pad}n{} [{}];", id.0, attrs.join(", "));
    }
    for (name, child) in &c.children {
        *counter += 1;
        let _ = writeln!(out, "{pad}subgraph cluster_{} {{", *counter);
        let short = name.rsplit('/').next().unwrap_or(name);
        let _ = writeln!(out, "{pad}  label={};", quote(short));
        let _ = writeln!(out, "{pad}  tooltip={};", quote(name));
        write_cluster(out, g, child, outputs, depth + 1, counter);
        let _ = writeln!(out, "{pad}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(quote("plain"), "\"plain\"");
    }
}
