//! Graph JSON: round trips over random valid graphs, and a typed error for every kind
//! of invalid graph.

use std::path::Path;

use proptest::prelude::*;
use triad_compiler::{DType, Data, Error, Graph, Init, Op, ReduceKind, TensorType, ValueRef, json};

/// Build a random valid graph from a recipe: each step picks an op kind and operands
/// among the values built so far; steps whose operands do not fit are skipped (the
/// builder's inference decides), so every graph produced is valid.
fn graph_from_recipe(dtype_pick: u8, steps: &[(u8, usize, usize, u8)]) -> Graph {
    let dtype = [DType::F32, DType::F16, DType::BF16][dtype_pick as usize % 3];
    let mut g = Graph::new("random");
    g.set_scope("embed");
    let x = g.input("x", TensorType::new(dtype, [2, 4])).unwrap();
    let w = g
        .weight(
            "w",
            TensorType::new(dtype, [4, 4]),
            Init::Uniform {
                seed: 3,
                low: -1.0,
                high: 1.0,
            },
        )
        .unwrap();
    let c = g
        .constant(
            "c",
            TensorType::new(dtype, [4]),
            Init::Data(Data::F32(vec![0.5, -1.0, 2.0, 0.25])),
        )
        .unwrap();
    let mut vals: Vec<ValueRef> = vec![x, w, c];
    for (i, &(kind, a, b, p)) in steps.iter().enumerate() {
        let va = vals[a % vals.len()];
        let vb = vals[b % vals.len()];
        let (op, ins): (Op, Vec<ValueRef>) = match kind % 12 {
            0 => (Op::Add, vec![va, vb]),
            1 => (Op::Mul, vec![va, vb]),
            2 => (Op::MatMul, vec![va, vb]),
            3 => (Op::Tanh, vec![va]),
            4 => (Op::Softmax { axis: -1 }, vec![va]),
            5 => (Op::Transpose { perm: vec![] }, vec![va]),
            6 => (Op::Reshape { shape: vec![-1] }, vec![va]),
            7 => (Op::Concat { axis: 0 }, vec![va, vb]),
            8 => (
                Op::Gelu {
                    tanh_approx: p % 2 == 0,
                },
                vec![va],
            ),
            9 => (
                Op::Reduce {
                    kind: ReduceKind::Sum,
                    axes: vec![-1],
                    keepdims: p % 2 == 0,
                },
                vec![va],
            ),
            10 => (
                Op::Split {
                    axis: -1,
                    sizes: vec![1, 3],
                },
                vec![va],
            ),
            _ => (Op::Cast { to: DType::F32 }, vec![va]),
        };
        g.set_scope(format!("layer{}/blk", i % 3));
        if let Ok(outs) = g.add(&format!("n{i}"), op, &ins) {
            vals.extend(outs);
        }
    }
    let last = *vals.last().unwrap();
    g.set_outputs(&[last]);
    g
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn json_round_trip(dt in 0u8..3, steps in prop::collection::vec((0u8..12, 0usize..64, 0usize..64, 0u8..4), 0..24)) {
        let g = graph_from_recipe(dt, &steps);
        g.validate().unwrap();
        let text = json::to_string(&g).unwrap();
        let g2 = json::from_str(&text, Path::new("mem.json")).unwrap();
        prop_assert_eq!(g2.len(), g.len());
        let text2 = json::to_string(&g2).unwrap();
        prop_assert_eq!(&text, &text2);
        // Every value keeps its name and type.
        for id in g.node_ids() {
            for o in &g.node(id).outputs {
                let v = g2.value(&o.name).expect("value survives");
                prop_assert_eq!(g2.ty(v), &o.ty);
                prop_assert_eq!(&g2.node(v.node).scope, &g.node(id).scope);
            }
        }
    }
}

fn load(text: &str) -> Result<Graph, Error> {
    json::from_str(text, Path::new("bad.json"))
}

const HEAD: &str = r#""format": "triad-graph", "version": 1,
  "inputs": [{"name": "x", "dtype": "f32", "shape": [2, 3]}],
  "initializers": [{"name": "w", "dtype": "f32", "shape": [3, 4], "uniform": {"seed": 1, "low": -1, "high": 1}}]"#;

#[test]
fn valid_file_loads() {
    let g = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "mm", "op": "MatMul", "inputs": ["x", "w"], "outputs": ["y"]}},
             {{"name": "sm", "op": "Softmax", "inputs": ["y"], "outputs": [{{"name": "p", "dtype": "f32", "shape": [2, 4]}}]}}],
           "outputs": ["p"] }}"#
    ))
    .unwrap();
    assert_eq!(
        g.ty(g.value("p").unwrap()),
        &TensorType::new(DType::F32, [2, 4])
    );
    assert_eq!(
        g.node(g.node_by_name("sm").unwrap()).op,
        Op::Softmax { axis: -1 }
    );
}

#[test]
fn cycle_is_reported_with_a_node() {
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [
            {{"name": "a", "op": "Add", "inputs": ["x", "bb"], "outputs": ["aa"]}},
            {{"name": "b", "op": "Add", "inputs": ["aa", "x"], "outputs": ["bb"]}}],
           "outputs": ["aa"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Cycle { node } if node == "a" || node == "b"),
        "{e}"
    );
}

#[test]
fn dangling_input_names_node_slot_and_value() {
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "a", "op": "Add", "inputs": ["x", "nope"], "outputs": ["y"]}}], "outputs": ["y"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Dangling { node, slot: 1, value } if node == "a" && value == "nope"),
        "{e}"
    );
}

#[test]
fn shape_mismatch_names_node() {
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "mm", "op": "MatMul", "inputs": ["w", "w"], "outputs": ["y"]}}], "outputs": ["y"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Type { node, op: "MatMul", .. } if node == "mm"),
        "{e}"
    );
    assert!(e.to_string().contains("inner dims"), "{e}");
}

#[test]
fn dtype_mismatch_names_node() {
    let e = load(
        r#"{ "format": "triad-graph", "version": 1,
           "inputs": [{"name": "x", "dtype": "f32", "shape": [2]}, {"name": "y", "dtype": "f16", "shape": [2]}],
           "nodes": [{"name": "add", "op": "Add", "inputs": ["x", "y"], "outputs": ["z"]}], "outputs": ["z"] }"#,
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Type { node, .. } if node == "add"),
        "{e}"
    );
    assert!(e.to_string().contains("f32 and f16"), "{e}");
}

#[test]
fn declared_type_is_checked() {
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "mm", "op": "MatMul", "inputs": ["x", "w"],
             "outputs": [{{"name": "y", "dtype": "f32", "shape": [2, 5]}}]}}], "outputs": ["y"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Declared { node, index: 0, .. } if node == "mm"),
        "{e}"
    );
}

#[test]
fn unknown_attribute_and_unknown_op() {
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "sm", "op": "Softmax", "attrs": {{"axis": 1, "temperature": 2}},
             "inputs": ["x"], "outputs": ["y"]}}], "outputs": ["y"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Attribute { node, reason, .. } if node == "sm" && reason.contains("temperature")),
        "{e}"
    );
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "q", "op": "Frobnicate", "inputs": ["x"], "outputs": ["y"]}}], "outputs": ["y"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Attribute { node, .. } if node == "q"),
        "{e}"
    );
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "t", "op": "Tanh", "attrs": {{"alpha": 1}}, "inputs": ["x"], "outputs": ["y"]}}], "outputs": ["y"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Attribute { node, .. } if node == "t"),
        "{e}"
    );
}

#[test]
fn arity_and_outputs_and_initializers() {
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "a", "op": "Add", "inputs": ["x"], "outputs": ["y"]}}], "outputs": ["y"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Arity { node, got: 1, .. } if node == "a"),
        "{e}"
    );
    let e = load(&format!(r#"{{ {HEAD}, "outputs": ["zz"] }}"#)).unwrap_err();
    assert!(
        matches!(&e, Error::Output { name, .. } if name == "zz"),
        "{e}"
    );
    let e = load(
        r#"{ "format": "triad-graph", "version": 1,
           "initializers": [{"name": "k", "dtype": "i8", "shape": [2], "data": [1, 300]}], "outputs": ["k"] }"#,
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Initializer { name, .. } if name == "k"),
        "{e}"
    );
    let e = load(
        r#"{ "format": "triad-graph", "version": 1,
           "initializers": [{"name": "k", "dtype": "f32", "shape": [3], "data": [1, 2]}], "outputs": ["k"] }"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("2 values given"), "{e}");
}

#[test]
fn duplicates_and_versions() {
    let e = load(&format!(
        r#"{{ {HEAD}, "nodes": [{{"name": "a", "op": "Tanh", "inputs": ["x"], "outputs": ["w"]}}], "outputs": ["w"] }}"#
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Duplicate { name, .. } if name == "w"),
        "{e}"
    );
    let e = load(r#"{ "format": "triad-graph", "version": 99, "outputs": [] }"#).unwrap_err();
    assert!(e.to_string().contains("version 99"), "{e}");
    let e = load(r#"{ "format": "triad-graph", "version": 1, "outputs": [], "extra": 1 }"#)
        .unwrap_err();
    assert!(
        e.to_string().contains("bad.json") && e.to_string().contains("extra"),
        "{e}"
    );
    let e = load("{ not json").unwrap_err();
    assert!(matches!(e, Error::Format { .. }));
}

#[test]
fn nonfinite_constants_round_trip() {
    let mut g = Graph::new("nf");
    let c = g
        .constant(
            "c",
            TensorType::new(DType::F32, [3]),
            Init::Data(Data::F32(vec![f32::NEG_INFINITY, 1.5, f32::INFINITY])),
        )
        .unwrap();
    g.set_outputs(&[c]);
    let text = json::to_string(&g).unwrap();
    let g2 = json::from_str(&text, Path::new("nf.json")).unwrap();
    assert_eq!(json::to_string(&g2).unwrap(), text);
}

#[test]
fn oversized_tensors_are_typed_errors() {
    // 2^96 elements: rejected where the value is declared, not overflowed later.
    let e = load(
        r#"{ "format": "triad-graph", "version": 1,
           "inputs": [{"name": "x", "dtype": "f32", "shape": [4294967296, 4294967296, 4294967296]}],
           "outputs": ["x"] }"#,
    )
    .unwrap_err();
    assert!(matches!(&e, Error::Type { node, .. } if node == "x"), "{e}");
    assert!(e.to_string().contains("exceeds the limit"), "{e}");
    // Within the graph limit but beyond what the interpreter materialises.
    let mut g = Graph::new("big");
    let n = (triad_compiler::MAX_EVAL_ELEMS as usize) * 2;
    let w = g
        .weight(
            "w",
            TensorType::new(DType::F32, [n]),
            Init::Uniform {
                seed: 0,
                low: 0.0,
                high: 1.0,
            },
        )
        .unwrap();
    let y = g.add1("t", Op::Tanh, &[w]).unwrap();
    g.set_outputs(&[y]);
    let e = triad_compiler::run(&g, &Default::default()).unwrap_err();
    assert!(matches!(&e, Error::Eval { node, .. } if node == "w"), "{e}");
}
