//! `OneHot`, `NonZero` and `ScatterElements` (`onnx::ops::moe`): folding with
//! constant operands (checked against the examples of the ONNX operator
//! documentation), the Mixtral expert loop imported as `MoeDispatch`/`MoeCombine`
//! (its numerics against ONNX Runtime are in `onnx_real`), and the refusals, which
//! name the node and the reason.

mod onnx_common;

use std::collections::BTreeMap;

use onnx_common::fixtures;
use onnx_common::int8_model::vi;
use prost::Message;
use triad_compiler::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType as At, tensor_proto::DataType as Pt, type_proto,
};
use triad_compiler::{Graph, Op, Result, run};

fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(At::Int as i32),
        i: Some(v),
        ..AttributeProto::default()
    }
}

fn node(op: &str, ins: &[&str], out: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{op}_node")),
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        attribute: attrs,
        ..NodeProto::default()
    }
}

fn f32_init(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(Pt::Float as i32),
        float_data: v.to_vec(),
        ..TensorProto::default()
    }
}

fn i64_init(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(Pt::Int64 as i32),
        int64_data: v.to_vec(),
        ..TensorProto::default()
    }
}

/// A one-node model: `inputs` are graph inputs, `inits` initializers, output `y`.
fn model(n: NodeProto, inputs: Vec<ValueInfoProto>, inits: Vec<TensorProto>, out: Pt) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            name: Some("g".into()),
            node: vec![n],
            input: inputs,
            initializer: inits,
            output: vec![ValueInfoProto {
                name: Some("y".into()),
                r#type: Some(TypeProto {
                    value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                        elem_type: Some(out as i32),
                        shape: None,
                    })),
                    ..TypeProto::default()
                }),
                ..ValueInfoProto::default()
            }],
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    }
    .encode_to_vec()
}

fn import(bytes: &[u8]) -> Result<Graph> {
    triad_compiler::onnx::import_bytes(bytes, "m.onnx".as_ref(), &BTreeMap::new())
}

/// Evaluate a model without inputs: its output's shape and values as f64.
fn folded(bytes: &[u8]) -> (Vec<usize>, Vec<f64>) {
    let g = import(bytes).expect("import");
    let out = run(&g, &BTreeMap::new()).expect("run");
    let t = &out["y"];
    let vals = match t.f32s() {
        Some(v) => v.iter().map(|&x| x as f64).collect(),
        None => t
            .i64s()
            .expect("integers")
            .iter()
            .map(|&x| x as f64)
            .collect(),
    };
    (t.shape().to_vec(), vals)
}

#[test]
fn one_hot_of_constants_folds() {
    // Negative indices count from the end; values [off, on].
    let m = model(
        node("OneHot", &["i", "d", "v"], "y", vec![int_attr("axis", -1)]),
        vec![],
        vec![
            i64_init("i", &[2, 2], &[1, -1, 0, 2]),
            i64_init("d", &[], &[3]),
            f32_init("v", &[2], &[0.0, 5.0]),
        ],
        Pt::Float,
    );
    let (shape, v) = folded(&m);
    assert_eq!(shape, [2, 2, 3]);
    assert_eq!(v, [0., 5., 0., 0., 0., 5., 5., 0., 0., 0., 0., 5.]);
    // The one-hot axis in front: [depth, 2].
    let m = model(
        node("OneHot", &["i", "d", "v"], "y", vec![int_attr("axis", 0)]),
        vec![],
        vec![
            i64_init("i", &[2], &[2, 0]),
            i64_init("d", &[], &[3]),
            f32_init("v", &[2], &[0.0, 1.0]),
        ],
        Pt::Float,
    );
    let (shape, v) = folded(&m);
    assert_eq!(shape, [3, 2]);
    assert_eq!(v, [0., 1., 0., 0., 1., 0.]);
}

#[test]
fn non_zero_of_constants_folds() {
    // The ONNX documentation's example: [[1, 0], [1, 1]] -> [[0, 1, 1], [0, 0, 1]].
    let m = model(
        node("NonZero", &["x"], "y", vec![]),
        vec![],
        vec![f32_init("x", &[2, 2], &[1.0, 0.0, 1.0, 1.0])],
        Pt::Int64,
    );
    let (shape, v) = folded(&m);
    assert_eq!(shape, [2, 3]);
    assert_eq!(v, [0., 1., 1., 0., 0., 1.]);
}

#[test]
fn scatter_elements_of_constants_folds() {
    // The ONNX documentation's first example (axis 0), then reduction "add" with a
    // repeated index.
    let m = model(
        node(
            "ScatterElements",
            &["d", "i", "u"],
            "y",
            vec![int_attr("axis", 0)],
        ),
        vec![],
        vec![
            f32_init("d", &[3, 3], &[0.0; 9]),
            i64_init("i", &[2, 3], &[1, 0, 2, 0, 2, 1]),
            f32_init("u", &[2, 3], &[1.0, 1.1, 1.2, 2.0, 2.1, 2.2]),
        ],
        Pt::Float,
    );
    let (shape, v) = folded(&m);
    assert_eq!(shape, [3, 3]);
    let want = [2.0, 1.1, 0.0, 1.0, 0.0, 2.2, 0.0, 2.1, 1.2];
    for (g, w) in v.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{v:?}");
    }
    let mut n = node(
        "ScatterElements",
        &["d", "i", "u"],
        "y",
        vec![int_attr("axis", 1)],
    );
    n.attribute.push(AttributeProto {
        name: Some("reduction".into()),
        r#type: Some(At::String as i32),
        s: Some(b"add".to_vec()),
        ..AttributeProto::default()
    });
    let m = model(
        n,
        vec![],
        vec![
            f32_init("d", &[1, 4], &[1.0, 2.0, 3.0, 4.0]),
            i64_init("i", &[1, 3], &[1, -1, 1]),
            f32_init("u", &[1, 3], &[10.0, 20.0, 30.0]),
        ],
        Pt::Float,
    );
    assert_eq!(folded(&m), (vec![1, 4], vec![1.0, 42.0, 3.0, 24.0]));
}

/// The error of a model, as text.
fn refusal(bytes: &[u8]) -> String {
    import(bytes).expect_err("refused").to_string()
}

#[test]
fn run_time_operands_outside_the_routing_idiom_are_refused() {
    let e = refusal(&model(
        node("NonZero", &["x"], "y", vec![]),
        vec![vi("x", Pt::Float, &[4])],
        vec![],
        Pt::Int64,
    ));
    assert!(
        e.contains("NonZero_node") && e.contains("data-dependent length"),
        "{e}"
    );
    let e = refusal(&model(
        node("OneHot", &["x", "d", "v"], "y", vec![]),
        vec![vi("x", Pt::Int64, &[4])],
        vec![i64_init("d", &[], &[3]), f32_init("v", &[2], &[0.0, 1.0])],
        Pt::Float,
    ));
    assert!(e.contains("OneHot_node") && e.contains("TopK"), "{e}");
    let e = refusal(&model(
        node("ScatterElements", &["x", "i", "u"], "y", vec![]),
        vec![vi("x", Pt::Float, &[4])],
        vec![i64_init("i", &[1], &[0]), f32_init("u", &[1], &[1.0])],
        Pt::Float,
    ));
    assert!(
        e.contains("ScatterElements_node") && e.contains("run-time operands"),
        "{e}"
    );
}

/// The Mixtral TorchScript export, decoded for editing.
fn mixtral() -> ModelProto {
    let path = fixtures("real").join("mixtral_ts").join("model.onnx");
    ModelProto::decode(&*std::fs::read(path).expect("fixture")).expect("decode")
}

fn mixtral_dims() -> BTreeMap<String, usize> {
    onnx_common::read_dims(&fixtures("real").join("mixtral_ts"))
}

#[test]
fn mixtral_expert_loop_becomes_dispatch_and_combine() {
    let dims = mixtral_dims();
    let path = fixtures("real").join("mixtral_ts").join("model.onnx");
    let g = triad_compiler::onnx::import(&path, &dims).expect("import");
    let tokens = dims["batch"] * dims["sequence"];
    let (layers, experts) = (2, 4);
    let mut dispatch = BTreeMap::new();
    let mut combines = 0;
    for id in g.node_ids() {
        match g.node(id).op {
            Op::MoeDispatch { expert, capacity } => {
                assert_eq!(capacity, tokens, "no token is dropped");
                *dispatch.entry(expert).or_insert(0) += 1;
            }
            Op::MoeCombine {
                experts: e,
                capacity,
            } => {
                assert_eq!((e, capacity), (experts, tokens));
                combines += 1;
            }
            _ => {}
        }
    }
    assert_eq!(combines, layers);
    assert_eq!(
        dispatch,
        (0..experts)
            .map(|e| (e, layers))
            .collect::<BTreeMap<_, _>>(),
        "every expert dispatched once per layer"
    );
    // No node is left that no output needs (the replaced routing reshapes).
    let mut live = std::collections::BTreeSet::new();
    let mut stack: Vec<_> = g.outputs().iter().map(|v| v.node).collect();
    while let Some(id) = stack.pop() {
        if live.insert(id) {
            stack.extend(g.node(id).inputs.iter().map(|v| v.node));
        }
    }
    let dead: Vec<_> = g
        .node_ids()
        .filter(|id| !live.contains(id) && !matches!(g.node(*id).op, Op::Input { .. }))
        .map(|id| g.node(id).name.clone())
        .collect();
    assert!(dead.is_empty(), "dead nodes: {dead:?}");
}

fn mixtral_error(m: &ModelProto) -> String {
    let path = fixtures("real").join("mixtral_ts").join("model.onnx");
    triad_compiler::onnx::import_bytes(&m.encode_to_vec(), &path, &mixtral_dims())
        .expect_err("refused")
        .to_string()
}

fn graph_mut(m: &mut ModelProto) -> &mut GraphProto {
    m.graph.as_mut().expect("graph")
}

#[test]
fn a_loop_over_fewer_or_more_experts_than_the_router_has_is_refused() {
    // The traced loop over the hit list, made to run 5 times for 4 experts.
    let mut m = mixtral();
    let g = graph_mut(&mut m);
    let split = "/m/model/layers.0/mlp/experts/Split";
    let i = g
        .node
        .iter()
        .position(|n| n.name.as_deref() == Some(split))
        .expect("split node");
    let sizes = g.node[i].input[1].clone();
    g.node[i].output.push("extra".into());
    for n in &mut g.node {
        if n.output.first() == Some(&sizes) {
            n.attribute[0].t = Some(i64_init("", &[5], &[1; 5]));
        }
    }
    let e = mixtral_error(&m);
    assert!(
        e.contains(split) && e.contains("5 iterations") && e.contains("4 experts"),
        "{e}"
    );
}

#[test]
fn a_routing_value_used_outside_the_idiom_is_refused() {
    // The per-expert token count taken with ReduceMax instead of ReduceSum.
    let mut m = mixtral();
    let g = graph_mut(&mut m);
    let name = "/m/model/layers.0/mlp/experts/ReduceSum";
    let n = g
        .node
        .iter_mut()
        .find(|n| n.name.as_deref() == Some(name))
        .expect("node");
    n.op_type = Some("ReduceMax".into());
    let e = mixtral_error(&m);
    assert!(
        e.contains(name) && e.contains("cannot consume the one-hot of the TopK experts"),
        "{e}"
    );
}

#[test]
fn a_huge_one_hot_depth_is_refused_before_allocating() {
    let e = refusal(&model(
        node("OneHot", &["i", "d", "v"], "y", vec![]),
        vec![],
        vec![
            i64_init("i", &[2], &[0, 1]),
            i64_init("d", &[], &[1 << 40]),
            f32_init("v", &[2], &[0.0, 1.0]),
        ],
        Pt::Float,
    ));
    assert!(
        e.contains("OneHot_node") && e.contains("folding would create"),
        "{e}"
    );
    let e = refusal(&model(
        node("OneHot", &["i", "d", "v"], "y", vec![]),
        vec![],
        vec![
            i64_init("i", &[2], &[0, 1]),
            i64_init("d", &[], &[i64::MAX]),
            f32_init("v", &[2], &[0.0, 1.0]),
        ],
        Pt::Float,
    ));
    assert!(
        e.contains("OneHot_node") && e.contains("exceeds the limit"),
        "{e}"
    );
}
