//! Graphviz DOT output of small hand-built graphs: labels, nested scope clusters,
//! multi-result edges, source styling, escaping.

use triad_compiler::dot::{quote, to_dot};
use triad_compiler::{DType, Graph, Init, Op, TensorType};

fn t(d: DType, s: &[usize]) -> TensorType {
    TensorType::new(d, s.to_vec())
}

fn sample() -> Graph {
    let mut g = Graph::new("sample");
    let x = g.input("x", t(DType::F32, &[2, 6])).unwrap();
    let kv = g.kv_input("past", t(DType::F32, &[1, 3, 4])).unwrap();
    g.set_scope("layer0/attn");
    let parts = g
        .add(
            "split",
            Op::Split {
                axis: -1,
                sizes: vec![2, 4],
            },
            &[x],
        )
        .unwrap();
    g.set_scope("layer0/ffn");
    let init = Init::Uniform {
        seed: 0,
        low: 0.0,
        high: 1.0,
    };
    let w = g.weight("w", t(DType::F32, &[4, 4]), init).unwrap();
    let y = g.add1("mm", Op::MatMul, &[parts[1], w]).unwrap();
    g.set_scope("head");
    let z = g.add1("neg", Op::Neg, &[parts[0]]).unwrap();
    g.set_outputs(&[y, z, kv]);
    g
}

#[test]
fn labels_carry_name_op_and_types() {
    let dot = to_dot(&sample());
    assert!(dot.starts_with("digraph \"sample\" {\n"));
    assert!(dot.ends_with("}\n"));
    // Split has two results: two type lines.
    assert!(dot.contains(r#"n2 [label="split\nSplit\nf32[2,2]\nf32[2,4]"];"#));
    assert!(dot.contains(r#"n4 [label="mm\nMatMul\nf32[2,4]", peripheries=2];"#));
    // The KV input is styled apart from data inputs and weights.
    assert!(dot.contains(
        r##"label="past\nInput (kv cache)\nf32[1,3,4]", style=filled, fillcolor="#fff2b3""##
    ));
    assert!(dot.contains(r##"label="w\nWeight\nf32[4,4]", style=filled, fillcolor="#e0e0e0""##));
}

#[test]
fn edges_name_ports_of_multi_result_nodes() {
    let dot = to_dot(&sample());
    // mm reads split's result 1 and the weight (its operand 1).
    assert!(dot.contains("  n2 -> n4 [taillabel=\"1\"];"));
    assert!(dot.contains("  n3 -> n4 [headlabel=\"1\"];"));
    assert!(dot.contains("  n2 -> n5 [taillabel=\"0\"];"));
    assert_eq!(dot.matches(" -> ").count(), 4);
}

#[test]
fn clusters_nest_by_scope_path() {
    let dot = to_dot(&sample());
    let lines: Vec<&str> = dot.lines().collect();
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
    // layer0 opens before attn and ffn, which sit one level deeper.
    let layer0 = at("label=\"layer0\"");
    let attn = at("label=\"attn\"");
    let ffn = at("label=\"ffn\"");
    assert!(layer0 < attn && attn < ffn);
    let indent = |i: usize| lines[i].len() - lines[i].trim_start().len();
    assert_eq!(indent(attn), indent(layer0) + 2);
    assert_eq!(indent(ffn), indent(layer0) + 2);
    assert_eq!(dot.matches("subgraph cluster_").count(), 4);
    assert!(dot.contains("tooltip=\"layer0/ffn\""));
    // Unscoped sources stay at the top level.
    let x = at("n0 [label=\"x");
    assert_eq!(indent(x), 2);
}

#[test]
fn quoting_escapes_everything_dot_reads_specially() {
    assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
    assert_eq!(quote(r"a\b"), r#""a\\b""#);
    assert_eq!(quote("a\nb"), r#""a\nb""#);
    assert_eq!(quote("{x} -> [y];"), r#""{x} -> [y];""#);
    let mut g = Graph::new("g\"");
    let x = g.input("\\\"", t(DType::Bool, &[])).unwrap();
    let y = g.add1("not", Op::Not, &[x]).unwrap();
    g.set_outputs(&[y]);
    let dot = to_dot(&g);
    assert!(dot.starts_with(r#"digraph "g\"" {"#));
    assert!(dot.contains(r#"n0 [label="\\\"\nInput\nbool[]""#));
}
