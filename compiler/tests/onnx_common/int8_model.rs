//! A generated ONNX export with per-channel int8 weights, the shape of what ONNX
//! Runtime's and Optimum's weight-only int8 exports contain: an int8 embedding
//! (`INT8 initializer -> Cast -> Mul` by a per-row scale `[vocab, 1]` -> `Gather`)
//! followed by `layers` matmuls, each `INT8 [dim, dim] -> Cast -> Mul` by a
//! per-column scale `[dim]` -> `MatMul`. Shared by the import test and the import
//! benchmark (`benches/onnx_import.rs`), which builds a > 100 MB one.

#![allow(dead_code)]

use prost::Message;
use triad_compiler::onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto, tensor_proto::DataType as Pt, tensor_shape_proto, type_proto,
};

/// Sizes of the generated model.
#[derive(Clone, Copy, Debug)]
pub struct Int8Spec {
    /// Embedding rows.
    pub vocab: usize,
    /// Hidden size (embedding columns and every matmul's K and N).
    pub dim: usize,
    /// Number of matmuls.
    pub layers: usize,
    /// Tokens of the `ids` input (`[1, tokens]`).
    pub tokens: usize,
}

/// The weights of a generated model, for an independent reference computation.
pub struct Int8Weights {
    /// Embedding `[vocab, dim]`, row-major.
    pub emb: Vec<i8>,
    /// Per-row embedding scales.
    pub emb_scale: Vec<f32>,
    /// Per layer: weight `[dim, dim]` row-major (K rows, N columns) and per-column scales.
    pub layers: Vec<(Vec<i8>, Vec<f32>)>,
}

/// A deterministic byte stream (64-bit LCG, top bits), so the model is the same on
/// every run without a random-number dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| ((self.next() % 255) as i64 - 127) as i8)
            .collect()
    }
    fn scales(&mut self, n: usize, base: f32) -> Vec<f32> {
        (0..n)
            .map(|_| base * (0.5 + (self.next() % 1000) as f32 / 1000.0))
            .collect()
    }
}

/// A value-info record of a tensor of `elem` with fixed `dims`.
pub fn vi(name: &str, elem: Pt, dims: &[i64]) -> ValueInfoProto {
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

fn node(op: &str, ins: &[&str], out: &str, to: Option<i64>) -> NodeProto {
    use triad_compiler::onnx::proto::{AttributeProto, attribute_proto::AttributeType as At};
    NodeProto {
        op_type: Some(op.into()),
        name: Some(out.into()),
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        attribute: to
            .map(|t| AttributeProto {
                name: Some("to".into()),
                r#type: Some(At::Int as i32),
                i: Some(t),
                ..AttributeProto::default()
            })
            .into_iter()
            .collect(),
        ..NodeProto::default()
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

fn f32_init(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(Pt::Float as i32),
        raw_data: Some(
            v.iter()
                .flat_map(|x| x.to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        ),
        ..TensorProto::default()
    }
}

/// Build the model: serialised bytes and the weights it holds. Input `ids`
/// (`int64 [1, tokens]`), output `y` (`float [1, tokens, dim]`).
pub fn int8_model(spec: Int8Spec, seed: u64) -> (Vec<u8>, Int8Weights) {
    let (v, d) = (spec.vocab, spec.dim);
    let mut rng = Lcg(seed);
    let emb = rng.i8s(v * d);
    let emb_scale = rng.scales(v, 1.0 / 127.0);
    let (vi64, di64) = (v as i64, d as i64);
    let mut inits = vec![
        i8_init("emb_q", &[vi64, di64], &emb),
        f32_init("emb_scale", &[vi64, 1], &emb_scale),
    ];
    let mut nodes = vec![
        node("Cast", &["emb_q"], "emb_f", Some(Pt::Float as i64)),
        node("Mul", &["emb_f", "emb_scale"], "emb", None),
        node(
            "Gather",
            &["emb", "ids"],
            if spec.layers == 0 { "y" } else { "h0" },
            None,
        ),
    ];
    let mut layers = Vec::with_capacity(spec.layers);
    for l in 0..spec.layers {
        let w = rng.i8s(d * d);
        // Column scales keep activations O(1): |sum_k x_k q_kn s_n| ~ sqrt(d) * 127 * s_n.
        let s = rng.scales(d, 1.0 / (127.0 * (d as f32).sqrt()));
        inits.push(i8_init(&format!("w{l}_q"), &[di64, di64], &w));
        inits.push(f32_init(&format!("w{l}_scale"), &[di64], &s));
        nodes.push(node(
            "Cast",
            &[&format!("w{l}_q")],
            &format!("w{l}_f"),
            Some(Pt::Float as i64),
        ));
        nodes.push(node(
            "Mul",
            &[&format!("w{l}_f"), &format!("w{l}_scale")],
            &format!("w{l}"),
            None,
        ));
        let out = if l + 1 == spec.layers {
            "y".to_string()
        } else {
            format!("h{}", l + 1)
        };
        nodes.push(node(
            "MatMul",
            &[&format!("h{l}"), &format!("w{l}")],
            &out,
            None,
        ));
        layers.push((w, s));
    }
    let t = spec.tokens as i64;
    let model = ModelProto {
        ir_version: Some(10),
        producer_name: Some("triad int8 generator".into()),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            name: Some("int8_per_channel".into()),
            node: nodes,
            initializer: inits,
            input: vec![vi("ids", Pt::Int64, &[1, t])],
            output: vec![vi("y", Pt::Float, &[1, t, di64])],
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    };
    (
        model.encode_to_vec(),
        Int8Weights {
            emb,
            emb_scale,
            layers,
        },
    )
}
