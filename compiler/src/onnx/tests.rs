//! Unit tests of op mappings and idioms on small hand-built ONNX models; expected
//! values are computed by hand in each test (from the ONNX operator definitions).

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;
use triad_isa::DType;

use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType as At,
    tensor_proto::DataType as Pt, tensor_shape_proto, type_proto,
};
use super::{import_bytes, import_with_stats};
use crate::interp::{Array, Tensor, run};
use crate::op::Op;

fn vi(name: &str, elem: Pt, dims: &[i64]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

fn node(op: &str, ins: &[&str], outs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{op}_{}", outs[0])),
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: outs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..NodeProto::default()
    }
}

fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(At::Int as i32),
        i: Some(v),
        ..AttributeProto::default()
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

fn i8_init(name: &str, dims: &[i64], v: &[i8]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(Pt::Int8 as i32),
        raw_data: Some(v.iter().map(|&x| x as u8).collect::<Vec<u8>>().into()),
        ..TensorProto::default()
    }
}

fn model(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    ins: Vec<ValueInfoProto>,
    outs: Vec<ValueInfoProto>,
) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            node: nodes,
            name: Some("t".into()),
            initializer: inits,
            input: ins,
            output: outs,
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    }
    .encode_to_vec()
}

fn eval(bytes: &[u8], inputs: Vec<(&str, Tensor)>) -> BTreeMap<String, Tensor> {
    let g = import_bytes(bytes, Path::new("t.onnx"), &BTreeMap::new()).unwrap();
    let ins = inputs
        .into_iter()
        .map(|(k, t)| (k.to_string(), t))
        .collect();
    run(&g, &ins).unwrap()
}

fn f32s(t: &Tensor) -> Vec<f32> {
    match &t.array {
        Array::F32(a) => a.iter().copied().collect(),
        other => panic!("not f32: {other:?}"),
    }
}

fn i64s(t: &Tensor) -> Vec<i64> {
    match &t.array {
        Array::I64(a) => a.iter().copied().collect(),
        other => panic!("not int: {other:?}"),
    }
}

#[test]
fn float_to_int_cast_truncates_toward_zero() {
    let bytes = model(
        vec![node(
            "Cast",
            &["x"],
            &["y"],
            vec![int_attr("to", Pt::Int64 as i64)],
        )],
        vec![],
        vec![vi("x", Pt::Float, &[6])],
        vec![vi("y", Pt::Int64, &[6])],
    );
    let x = Tensor::from_f32s(DType::F32, &[6], vec![2.5, -2.5, 1.7, -1.7, 0.4, 3.0]).unwrap();
    let out = eval(&bytes, vec![("x", x)]);
    assert_eq!(i64s(&out["y"]), [2, -2, 1, -1, 0, 3]);
}

#[test]
fn cast_sub_mul_idiom_is_a_qmatmul_with_zero_point() {
    // W int8 [2, 2] = [[1, 2], [3, 4]], zero point 1, scale [0.5, 0.25] per column:
    // dequantised W = [[0, 0.25], [1, 0.75]]; x = [1, 2] -> y = [2, 1.75].
    let bytes = model(
        vec![
            node(
                "Cast",
                &["w"],
                &["wf"],
                vec![int_attr("to", Pt::Float as i64)],
            ),
            node("Sub", &["wf", "zp"], &["wc"], vec![]),
            node("Mul", &["wc", "s"], &["wd"], vec![]),
            node("MatMul", &["x", "wd"], &["y"], vec![]),
        ],
        vec![
            i8_init("w", &[2, 2], &[1, 2, 3, 4]),
            f32_init("zp", &[], &[1.0]),
            f32_init("s", &[1, 2], &[0.5, 0.25]),
        ],
        vec![vi("x", Pt::Float, &[1, 2])],
        vec![vi("y", Pt::Float, &[1, 2])],
    );
    let (g, stats) = {
        let opts = super::ImportOptions::default();
        super::import_bytes_with(&bytes, Path::new("t.onnx"), &opts).unwrap()
    };
    assert_eq!(stats.qmatmuls, 1);
    assert!(g.node_ids().any(|i| g.node(i).op == Op::QMatMul));
    let x = Tensor::from_f32s(DType::F32, &[1, 2], vec![1.0, 2.0]).unwrap();
    assert_eq!(f32s(&eval(&bytes, vec![("x", x)])["y"]), [2.0, 1.75]);
}

#[test]
fn gemm_trans_b_with_dequantize_linear_weight() {
    // W stored [N=2, K=2] = [[2, 4], [6, 8]], scale 0.5 per tensor, transB = 1:
    // effective B = [[1, 3], [2, 4]]; x = [1, 1] -> [3, 7]; + C [1, -1] -> [4, 6].
    let bytes = model(
        vec![
            node("DequantizeLinear", &["w", "s"], &["wd"], vec![]),
            node(
                "Gemm",
                &["x", "wd", "c"],
                &["y"],
                vec![int_attr("transB", 1)],
            ),
        ],
        vec![
            i8_init("w", &[2, 2], &[2, 4, 6, 8]),
            f32_init("s", &[], &[0.5]),
            f32_init("c", &[2], &[1.0, -1.0]),
        ],
        vec![vi("x", Pt::Float, &[1, 2])],
        vec![vi("y", Pt::Float, &[1, 2])],
    );
    let x = Tensor::from_f32s(DType::F32, &[1, 2], vec![1.0, 1.0]).unwrap();
    assert_eq!(f32s(&eval(&bytes, vec![("x", x)])["y"]), [4.0, 6.0]);
}

#[test]
fn uint8_qdq_round_trip_on_activations() {
    // scale 0.5, zero point 128 (uint8): q = clamp(round(x / 0.5) + 128, 0, 255);
    // x = [-100, -1.25, 0.3, 70] -> q = [0, 126, 129, 255] -> dq = [-64, -1, 0.5, 63.5].
    let zp = TensorProto {
        name: Some("zp".into()),
        data_type: Some(Pt::Uint8 as i32),
        raw_data: Some(vec![128].into()),
        ..TensorProto::default()
    };
    let bytes = model(
        vec![
            node("QuantizeLinear", &["x", "s", "zp"], &["q"], vec![]),
            node("DequantizeLinear", &["q", "s", "zp"], &["y"], vec![]),
        ],
        vec![f32_init("s", &[], &[0.5]), zp],
        vec![vi("x", Pt::Float, &[4])],
        vec![vi("y", Pt::Float, &[4]), vi("q", Pt::Uint8, &[4])],
    );
    let x = Tensor::from_f32s(DType::F32, &[4], vec![-100.0, -1.25, 0.3, 70.0]).unwrap();
    let out = eval(&bytes, vec![("x", x)]);
    assert_eq!(f32s(&out["y"]), [-64.0, -1.0, 0.5, 63.5]);
    // The uint8 graph output carries its real values (as i32).
    assert_eq!(i64s(&out["q"]), [0, 126, 129, 255]);
}

#[test]
fn shape_chains_fold_and_expand_lowers_to_concat() {
    // y = Expand(x [1, 3], Concat(Shape(x)[1:] * 0 + 2, Shape(x)[1:])) = [2, 3].
    let bytes = model(
        vec![
            node("Shape", &["x"], &["s"], vec![int_attr("start", 1)]),
            node("Mul", &["s", "zero"], &["z"], vec![]),
            node("Add", &["z", "two"], &["t"], vec![]),
            node("Concat", &["t", "s"], &["shape"], vec![int_attr("axis", 0)]),
            node("Expand", &["x", "shape"], &["y"], vec![]),
        ],
        vec![
            TensorProto {
                name: Some("zero".into()),
                dims: vec![1],
                data_type: Some(Pt::Int64 as i32),
                int64_data: vec![0],
                ..TensorProto::default()
            },
            TensorProto {
                name: Some("two".into()),
                dims: vec![1],
                data_type: Some(Pt::Int64 as i32),
                int64_data: vec![2],
                ..TensorProto::default()
            },
        ],
        vec![vi("x", Pt::Float, &[1, 3])],
        vec![vi("y", Pt::Float, &[2, 3])],
    );
    let g = import_bytes(&bytes, Path::new("t.onnx"), &BTreeMap::new()).unwrap();
    let ops: Vec<&str> = g.node_ids().map(|i| g.node(i).op.name()).collect();
    assert_eq!(ops, ["Input", "Concat"]);
    let x = Tensor::from_f32s(DType::F32, &[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
    assert_eq!(
        f32s(&eval(&bytes, vec![("x", x)])["y"]),
        [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    );
}

#[test]
fn external_data_honours_offset_and_length() {
    let dir = std::env::temp_dir().join(format!("triad_onnx_ext_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 4 junk bytes, then the two floats [1.5, -2].
    let mut data = vec![0xAB; 4];
    data.extend(1.5f32.to_le_bytes());
    data.extend((-2.0f32).to_le_bytes());
    std::fs::write(dir.join("w.bin"), &data).unwrap();
    let kv = |k: &str, v: &str| StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    let w = TensorProto {
        name: Some("w".into()),
        dims: vec![2],
        data_type: Some(Pt::Float as i32),
        data_location: Some(super::proto::tensor_proto::DataLocation::External as i32),
        external_data: vec![
            kv("location", "w.bin"),
            kv("offset", "4"),
            kv("length", "8"),
        ],
        ..TensorProto::default()
    };
    let bytes = model(
        vec![node("Add", &["x", "w"], &["y"], vec![])],
        vec![w],
        vec![vi("x", Pt::Float, &[2])],
        vec![vi("y", Pt::Float, &[2])],
    );
    let path = dir.join("m.onnx");
    std::fs::write(&path, &bytes).unwrap();
    let (g, _) = import_with_stats(&path, &BTreeMap::new()).unwrap();
    let x = Tensor::from_f32s(DType::F32, &[2], vec![1.0, 1.0]).unwrap();
    let out = run(&g, &BTreeMap::from([("x".to_string(), x)])).unwrap();
    assert_eq!(f32s(&out["y"]), [2.5, -1.0]);
    // A length past the end of the file is an error naming the tensor.
    let mut m = ModelProto::decode(bytes.as_slice()).unwrap();
    m.graph.as_mut().unwrap().initializer[0].external_data[2] = kv("length", "12");
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    let e = import_with_stats(&path, &BTreeMap::new()).unwrap_err();
    assert!(
        matches!(e, crate::Error::ExternalData { ref tensor, .. } if tensor == "w"),
        "{e}"
    );
    // A location escaping the model directory is refused.
    m.graph.as_mut().unwrap().initializer[0].external_data[0] = kv("location", "../w.bin");
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    assert!(import_with_stats(&path, &BTreeMap::new()).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn int4_initializer_cast_mul_is_an_i4_qmatmul() {
    // W int4 [2, 2] = [[-1, 7], [-8, 2]] packed low nibble first: bytes 0x7F, 0x28.
    // Scale 0.5 per tensor: dequantised [[-0.5, 3.5], [-4, 1]]; x = [2, 1] -> [-5, 8].
    let w = TensorProto {
        name: Some("w".into()),
        dims: vec![2, 2],
        data_type: Some(Pt::Int4 as i32),
        raw_data: Some(vec![0x7F, 0x28].into()),
        ..TensorProto::default()
    };
    let bytes = model(
        vec![
            node(
                "Cast",
                &["w"],
                &["wf"],
                vec![int_attr("to", Pt::Float as i64)],
            ),
            node("Mul", &["s", "wf"], &["wd"], vec![]),
            node("MatMul", &["x", "wd"], &["y"], vec![]),
        ],
        vec![w, f32_init("s", &[1], &[0.5])],
        vec![vi("x", Pt::Float, &[1, 2])],
        vec![vi("y", Pt::Float, &[1, 2])],
    );
    let g = import_bytes(&bytes, Path::new("t.onnx"), &BTreeMap::new()).unwrap();
    let q = g
        .node_ids()
        .find(|&i| g.node(i).op == Op::QMatMul)
        .expect("a QMatMul");
    assert_eq!(g.ty(g.node(q).inputs[1]).dtype, DType::I4);
    let x = Tensor::from_f32s(DType::F32, &[1, 2], vec![2.0, 1.0]).unwrap();
    assert_eq!(f32s(&eval(&bytes, vec![("x", x)])["y"]), [-5.0, 8.0]);
}

#[test]
fn mismatched_per_axis_scale_is_an_error_not_a_panic() {
    // Scale has 3 values for a weight whose axis 1 has 2 columns.
    let bytes = model(
        vec![
            node(
                "DequantizeLinear",
                &["w", "s"],
                &["wd"],
                vec![int_attr("axis", 1)],
            ),
            node("MatMul", &["x", "wd"], &["y"], vec![]),
        ],
        vec![
            i8_init("w", &[2, 2], &[1, 2, 3, 4]),
            f32_init("s", &[3], &[0.5, 0.25, 1.0]),
        ],
        vec![vi("x", Pt::Float, &[1, 2])],
        vec![vi("y", Pt::Float, &[1, 2])],
    );
    let e = import_bytes(&bytes, Path::new("t.onnx"), &BTreeMap::new()).unwrap_err();
    assert!(e.to_string().contains("DequantizeLinear"), "{e}");
}

#[test]
fn rope_tables_from_folded_range_use_sin_and_cos() {
    // cos(Range(0, 3) * 0.5) folds to [1, cos 0.5, cos 1]; y = x * that.
    let i64_scalar = |name: &str, v: i64| TensorProto {
        name: Some(name.into()),
        data_type: Some(Pt::Int64 as i32),
        int64_data: vec![v],
        ..TensorProto::default()
    };
    let bytes = model(
        vec![
            node("Range", &["zero", "three", "one"], &["r"], vec![]),
            node(
                "Cast",
                &["r"],
                &["rf"],
                vec![int_attr("to", Pt::Float as i64)],
            ),
            node("Mul", &["rf", "half"], &["ang"], vec![]),
            node("Cos", &["ang"], &["c"], vec![]),
            node("Mul", &["x", "c"], &["y"], vec![]),
        ],
        vec![
            i64_scalar("zero", 0),
            i64_scalar("three", 3),
            i64_scalar("one", 1),
            f32_init("half", &[], &[0.5]),
        ],
        vec![vi("x", Pt::Float, &[3])],
        vec![vi("y", Pt::Float, &[3])],
    );
    let x = Tensor::from_f32s(DType::F32, &[3], vec![2.0, 2.0, 2.0]).unwrap();
    let y = f32s(&eval(&bytes, vec![("x", x.clone())])["y"]);
    let want = [2.0, 2.0 * 0.5f64.cos() as f32, 2.0 * 1f64.cos() as f32];
    for (a, b) in y.iter().zip(want) {
        assert!((a - b).abs() <= 1e-6, "{y:?} vs {want:?}");
    }
    // On a run-time value Sin/Cos are a range reduction and a polynomial: within 1e-6
    // of the exact functions (f64 libm of the f32 inputs) up to |x| = 5000.
    let xs = vec![-4999.9, -1000.3, -3.0, -0.0, 0.7, 3.2, 123.456, 4096.5];
    for (op, f) in [("Sin", f64::sin as fn(f64) -> f64), ("Cos", f64::cos)] {
        let bytes = model(
            vec![node(op, &["x"], &["y"], vec![])],
            vec![],
            vec![vi("x", Pt::Float, &[8])],
            vec![vi("y", Pt::Float, &[8])],
        );
        let x = Tensor::from_f32s(DType::F32, &[8], xs.clone()).unwrap();
        let y = f32s(&eval(&bytes, vec![("x", x)])["y"]);
        for (a, &x) in y.iter().zip(&xs) {
            let want = f(f64::from(x));
            assert!(
                (f64::from(*a) - want).abs() <= 1e-6,
                "{op}({x}) = {a}, want {want}"
            );
        }
    }
}

#[test]
fn ir_version_14_imports_and_15_is_refused_by_name() {
    let relu = |ir: i64| {
        let mut m = ModelProto::decode(
            &model(
                vec![node("Relu", &["x"], &["y"], vec![])],
                vec![],
                vec![vi("x", Pt::Float, &[3])],
                vec![vi("y", Pt::Float, &[3])],
            )[..],
        )
        .unwrap();
        m.ir_version = Some(ir);
        m.encode_to_vec()
    };
    let out = eval(
        &relu(14),
        vec![(
            "x",
            Tensor::from_f32s(DType::F32, &[3], vec![-1.0, 0.5, 2.0]).unwrap(),
        )],
    );
    assert_eq!(f32s(&out["y"]), vec![0.0, 0.5, 2.0]);
    let e = import_bytes(&relu(15), Path::new("new.onnx"), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("new.onnx") && e.contains("IR version 15") && e.contains("newest: 14"),
        "{e}"
    );
}
