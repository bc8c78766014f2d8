//! ONNX op mappers: the table of supported `(domain, op_type)` pairs and the
//! per-node context they work with.
//!
//! A mapper turns one ONNX node into IR ops through [`Builder::emit`] (which folds
//! constant operands) and returns one [`Val`] per ONNX output it defines. Families:
//! `elementwise` (arithmetic, comparisons, casts, activations), `layout` (shape
//! computation and data movement), `nn` (matmuls, norms, softmax, reductions),
//! `quant` (QDQ, integer matmuls, weight-only idioms), `contrib` (ONNX Runtime's
//! `com.microsoft` transformer ops), `attention` (its fused attention ops,
//! decomposed) and `moe` (`OneHot`, `NonZero`, `ScatterElements`: the
//! data-dependent routing of exported mixture-of-experts models).

mod attention;
mod contrib;
mod elementwise;
mod layout;
pub(crate) mod moe;
mod nn;
mod quant;

use std::rc::Rc;

use super::attrs::Attrs;
use super::fold::{Builder, Const, Val};
use super::proto::NodeProto;
use crate::error::{Error, Result};

/// One ONNX node being mapped.
pub(crate) struct NodeIn<'a> {
    /// Unique node name.
    pub name: String,
    /// The node.
    pub proto: &'a NodeProto,
    /// Opset version of the node's domain.
    pub opset: i64,
    /// Operands (`None` for an omitted optional input).
    pub ins: Vec<Option<Val>>,
}

impl NodeIn<'_> {
    /// The op type.
    pub fn op(&self) -> &str {
        self.proto.op_type.as_deref().unwrap_or("")
    }

    /// The node's attributes.
    pub fn attrs(&self) -> Attrs<'_> {
        Attrs::new(&self.name, self.proto)
    }

    /// An error about this node.
    pub fn err(&self, reason: impl Into<String>) -> Error {
        self.attrs().err(reason)
    }

    /// Optional input `i`.
    pub fn opt(&self, i: usize) -> Option<Val> {
        self.ins.get(i).cloned().flatten()
    }

    /// Required input `i`.
    pub fn input(&self, i: usize) -> Result<Val> {
        self.opt(i).ok_or_else(|| Error::Arity {
            node: self.name.clone(),
            op: "onnx",
            expected: format!("input {i} of {}", self.op()),
            got: self.ins.len(),
        })
    }

    /// Input `i`, which must be known at import time.
    pub fn konst(&self, i: usize, what: &str) -> Result<Rc<Const>> {
        self.input(i)?.konst().ok_or_else(|| {
            self.err(format!(
                "input {i} ({what}) must be computable at import time (a constant or a \
                 function of bound shapes); bind dynamic dims with --dim"
            ))
        })
    }

    /// Optional input `i` as integers known at import time.
    pub fn opt_ints(&self, i: usize, what: &str) -> Result<Option<Vec<i64>>> {
        if self.opt(i).is_none() {
            return Ok(None);
        }
        let c = self.konst(i, what)?;
        c.ints()
            .map(Some)
            .ok_or_else(|| self.err(format!("input {i} ({what}) must be an integer tensor")))
    }

    /// Name of ONNX output `i` (a generated name when it is absent or empty).
    pub fn out(&self, i: usize) -> String {
        match self.proto.output.get(i) {
            Some(o) if !o.is_empty() => o.clone(),
            _ => format!("{}/out{i}", self.name),
        }
    }
}

/// A mapper: the node's ONNX outputs, in order.
type Mapper = fn(&mut Builder, &NodeIn) -> Result<Vec<Val>>;

/// `(domain, op_type, mapper)`; domain `""` is the default ONNX domain.
const TABLE: &[(&str, &str, Mapper)] = &[
    ("", "Add", elementwise::binary),
    ("", "Sub", elementwise::binary),
    ("", "Mul", elementwise::binary),
    ("", "Div", elementwise::binary),
    ("", "Pow", elementwise::binary),
    ("", "Max", elementwise::binary),
    ("", "Min", elementwise::binary),
    ("", "Equal", elementwise::binary),
    ("", "Less", elementwise::binary),
    ("", "Greater", elementwise::binary),
    ("", "LessOrEqual", elementwise::binary),
    ("", "GreaterOrEqual", elementwise::binary),
    ("", "And", elementwise::binary),
    ("", "Or", elementwise::binary),
    ("", "Not", elementwise::unary),
    ("", "Neg", elementwise::unary),
    ("", "Abs", elementwise::unary),
    ("", "Sqrt", elementwise::unary),
    ("", "Reciprocal", elementwise::unary),
    ("", "Exp", elementwise::unary),
    ("", "Log", elementwise::unary),
    ("", "Erf", elementwise::unary),
    ("", "Tanh", elementwise::unary),
    ("", "Sigmoid", elementwise::unary),
    ("", "Relu", elementwise::unary),
    ("", "Gelu", elementwise::unary),
    ("", "IsNaN", elementwise::is_nan),
    ("", "Round", elementwise::round),
    ("", "Sin", elementwise::trig),
    ("", "Cos", elementwise::trig),
    ("", "Where", elementwise::where_),
    ("", "Cast", elementwise::cast),
    ("", "CastLike", elementwise::cast),
    ("", "Identity", elementwise::identity),
    ("", "Clip", elementwise::clip),
    ("", "Dropout", elementwise::dropout),
    ("", "Softmax", nn::softmax),
    ("", "MatMul", nn::matmul),
    ("", "Gemm", nn::gemm),
    ("", "LayerNormalization", nn::layer_norm),
    ("", "SimplifiedLayerNormalization", nn::rms_norm),
    ("", "RMSNormalization", nn::rms_norm),
    ("", "ReduceMean", nn::reduce),
    ("", "ReduceSum", nn::reduce),
    ("", "ReduceMax", nn::reduce),
    ("", "TopK", nn::top_k),
    ("", "OneHot", moe::one_hot),
    ("", "NonZero", moe::non_zero),
    ("", "ScatterElements", moe::scatter_elements),
    ("", "Transpose", layout::transpose),
    ("", "Reshape", layout::reshape),
    ("", "Flatten", layout::flatten),
    ("", "Squeeze", layout::squeeze),
    ("", "Unsqueeze", layout::unsqueeze),
    ("", "Expand", layout::expand),
    ("", "Concat", layout::concat),
    ("", "Split", layout::split),
    ("", "Slice", layout::slice),
    ("", "Gather", layout::gather),
    ("", "GatherND", layout::gather_nd),
    ("", "GatherElements", layout::gather_elements),
    ("", "Shape", layout::shape),
    ("", "Size", layout::size),
    ("", "ConstantOfShape", layout::constant_of_shape),
    ("", "Constant", layout::constant),
    ("", "Range", layout::range),
    ("", "Trilu", layout::trilu),
    ("", "QuantizeLinear", quant::quantize_linear),
    ("", "DequantizeLinear", quant::dequantize_linear),
    ("", "DynamicQuantizeLinear", quant::dynamic_quantize_linear),
    ("", "MatMulInteger", quant::matmul_integer),
    ("", "QLinearMatMul", quant::qlinear_matmul),
    ("com.microsoft", "FastGelu", contrib::fast_gelu),
    ("com.microsoft", "Gelu", contrib::gelu),
    ("com.microsoft", "BiasGelu", contrib::gelu),
    ("com.microsoft", "QuickGelu", contrib::quick_gelu),
    (
        "com.microsoft",
        "SkipLayerNormalization",
        contrib::skip_norm,
    ),
    (
        "com.microsoft",
        "SkipSimplifiedLayerNormalization",
        contrib::skip_norm,
    ),
    (
        "com.microsoft",
        "SimplifiedLayerNormalization",
        nn::rms_norm,
    ),
    ("com.microsoft", "MatMulNBits", quant::matmul_nbits),
    ("com.microsoft", "Attention", attention::attention),
    (
        "com.microsoft",
        "EmbedLayerNormalization",
        contrib::embed_layer_norm,
    ),
    (
        "com.microsoft",
        "MultiHeadAttention",
        attention::multi_head_attention,
    ),
    (
        "com.microsoft",
        "GroupQueryAttention",
        attention::group_query_attention,
    ),
    (
        "com.microsoft",
        "RotaryEmbedding",
        contrib::rotary_embedding,
    ),
];

fn canonical(domain: &str) -> &str {
    if domain == "ai.onnx" { "" } else { domain }
}

/// True when `(domain, op_type)` has a mapper.
pub(crate) fn supported(domain: &str, op: &str) -> bool {
    let d = canonical(domain);
    TABLE.iter().any(|(td, to, _)| *td == d && *to == op)
}

/// Every supported `(domain, op_type)`, for documentation and tests.
pub fn supported_ops() -> Vec<(&'static str, &'static str)> {
    TABLE.iter().map(|(d, o, _)| (*d, *o)).collect()
}

/// Map one node; the census has already rejected unsupported ops. A node consuming
/// a symbolic MoE routing value goes to `moe::route` first.
pub(crate) fn map_node(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    if let Some(v) = moe::route(b, n)? {
        return Ok(v);
    }
    map_plain(b, n)
}

/// Map one node by the table.
fn map_plain(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let d = canonical(n.proto.domain.as_deref().unwrap_or(""));
    let op = n.op();
    let (_, _, f) = TABLE
        .iter()
        .find(|(td, to, _)| *td == d && *to == op)
        .ok_or_else(|| n.err("unsupported op"))?;
    f(b, n)
}
