//! Graph JSON: Triad's own ONNX-like, versioned, human-editable graph format.
//!
//! ```json
//! {
//!   "format": "triad-graph", "version": 1, "name": "demo", "meta": {},
//!   "inputs":  [{ "name": "x", "dtype": "f32", "shape": [2, 4], "kind": "data" }],
//!   "initializers": [
//!     { "name": "w", "dtype": "f32", "shape": [4, 3], "kind": "weight",
//!       "uniform": { "seed": 1, "low": -0.5, "high": 0.5 } },
//!     { "name": "b", "dtype": "f32", "shape": [3], "kind": "constant", "data": [0, 1, 2] }
//!   ],
//!   "nodes": [
//!     { "name": "mm", "op": "MatMul", "inputs": ["x", "w"], "outputs": ["y"] },
//!     { "name": "add", "op": "Add", "scope": "head", "inputs": ["y", "b"],
//!       "outputs": [{ "name": "z", "dtype": "f32", "shape": [2, 3] }] },
//!     { "name": "sm", "op": "Softmax", "attrs": { "axis": -1 }, "inputs": ["z"], "outputs": ["p"] }
//!   ],
//!   "outputs": ["p"]
//! }
//! ```
//!
//! - `inputs`: graph inputs; `kind` is `data` (default) or `kv_cache`.
//! - Inputs, initializers and nodes may carry a `scope` (`layer3/attn`), which groups
//!   them for statistics and placement.
//! - `initializers`: `kind` `weight` (default, counted as parameters) or `constant`;
//!   values either `data` (a flat row-major array: numbers, or booleans for bool)
//!   or `uniform` (seeded random, see [`crate::Init`]); exactly one of the two.
//! - `nodes`: `op` is an IR op name ([`crate::Op::name`]); `attrs` holds its
//!   attributes (unknown ones are errors); `inputs` name values; `outputs` are names,
//!   or `{name, dtype, shape}` to declare (and have checked) the type; `scope` groups
//!   nodes for statistics. Nodes may appear in any order; the graph must be acyclic.
//! - `outputs`: the graph outputs, by value name.
//!
//! Saving writes nodes in topological order and every output type, so
//! `save(load(save(g))) == save(g)` byte for byte. Loading checks everything and
//! reports the file and the node at fault; it never panics.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use triad_isa::DType;

use crate::data::{Data, Init, TensorType};
use crate::error::{Error, Result};
use crate::graph::{Graph, Value, ValueRef, mismatch};
use crate::infer::infer;
use crate::op::{InputKind, Op};

/// The `format` tag every graph JSON file carries.
pub const FORMAT: &str = "triad-graph";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    version: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    meta: BTreeMap<String, String>,
    #[serde(default)]
    inputs: Vec<InputDecl>,
    #[serde(default)]
    initializers: Vec<InitDecl>,
    #[serde(default)]
    nodes: Vec<NodeDecl>,
    outputs: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDecl {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    #[serde(default)]
    kind: InputKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    scope: String,
}

#[derive(Serialize, Deserialize, Default, PartialEq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum InitKind {
    #[default]
    Weight,
    Constant,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Uniform {
    seed: u64,
    low: f64,
    high: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitDecl {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    #[serde(default)]
    kind: InitKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Vec<Json>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uniform: Option<Uniform>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeDecl {
    name: String,
    op: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    attrs: serde_json::Map<String, Json>,
    inputs: Vec<String>,
    outputs: Vec<OutputDecl>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum OutputDecl {
    Name(String),
    Typed {
        name: String,
        dtype: DType,
        shape: Vec<usize>,
    },
}

impl OutputDecl {
    fn name(&self) -> &str {
        match self {
            OutputDecl::Name(n) | OutputDecl::Typed { name: n, .. } => n,
        }
    }
    fn ty(&self) -> Option<TensorType> {
        match self {
            OutputDecl::Name(_) => None,
            OutputDecl::Typed { dtype, shape, .. } => Some(TensorType::new(*dtype, shape.clone())),
        }
    }
}

/// Serialise a graph to graph JSON (pretty-printed, deterministic).
pub fn to_string(g: &Graph) -> Result<String> {
    let order = g.topo_order()?;
    let mut file = File {
        format: FORMAT.into(),
        version: VERSION,
        name: g.name.clone(),
        meta: g.meta.clone(),
        inputs: Vec::new(),
        initializers: Vec::new(),
        nodes: Vec::new(),
        outputs: g
            .outputs()
            .iter()
            .map(|v| g.value_info(*v).name.clone())
            .collect(),
    };
    for id in order {
        let n = g.node(id);
        let out = &n.outputs[0];
        match &n.op {
            Op::Input { kind } => file.inputs.push(InputDecl {
                name: out.name.clone(),
                dtype: out.ty.dtype,
                shape: out.ty.shape.clone(),
                kind: *kind,
                scope: n.scope.clone(),
            }),
            Op::Weight { init } | Op::Constant { init } => {
                let kind = if matches!(n.op, Op::Weight { .. }) {
                    InitKind::Weight
                } else {
                    InitKind::Constant
                };
                let (data, uniform) = match init {
                    Init::Data(d) => (Some(data_to_json(d)), None),
                    Init::Uniform { seed, low, high } => (
                        None,
                        Some(Uniform {
                            seed: *seed,
                            low: *low,
                            high: *high,
                        }),
                    ),
                };
                file.initializers.push(InitDecl {
                    name: out.name.clone(),
                    dtype: out.ty.dtype,
                    shape: out.ty.shape.clone(),
                    kind,
                    scope: n.scope.clone(),
                    data,
                    uniform,
                });
            }
            op => {
                let attrs = match serde_json::to_value(op) {
                    Ok(Json::Object(mut m)) => match m.remove("attrs") {
                        Some(Json::Object(a)) => a,
                        _ => serde_json::Map::new(),
                    },
                    _ => serde_json::Map::new(),
                };
                file.nodes.push(NodeDecl {
                    name: n.name.clone(),
                    op: op.name().to_string(),
                    scope: n.scope.clone(),
                    attrs,
                    inputs: n
                        .inputs
                        .iter()
                        .map(|v| g.value_info(*v).name.clone())
                        .collect(),
                    outputs: n
                        .outputs
                        .iter()
                        .map(|o| OutputDecl::Typed {
                            name: o.name.clone(),
                            dtype: o.ty.dtype,
                            shape: o.ty.shape.clone(),
                        })
                        .collect(),
                });
            }
        }
    }
    let mut s = serde_json::to_string_pretty(&file).map_err(|e| Error::Format {
        file: "<memory>".into(),
        reason: e.to_string(),
    })?;
    s.push('\n');
    Ok(s)
}

fn data_to_json(d: &Data) -> Vec<Json> {
    match d {
        Data::F32(v) => v
            .iter()
            .map(|&x| {
                serde_json::Number::from_f64(x as f64)
                    .map(Json::Number)
                    .unwrap_or_else(|| Json::String(nonfinite_name(x).into()))
            })
            .collect(),
        Data::I64(v) => v.iter().map(|&x| Json::from(x)).collect(),
        Data::Bool(v) => v.iter().map(|&x| Json::Bool(x)).collect(),
    }
}

fn nonfinite_name(x: f32) -> &'static str {
    if x.is_nan() {
        "nan"
    } else if x > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn data_from_json(name: &str, ty: &TensorType, v: &[Json]) -> Result<Data> {
    let bad = |i: usize, what: &str| Error::Initializer {
        name: name.to_string(),
        reason: format!("element {i}: expected {what} for dtype {}", ty.dtype),
    };
    Ok(if ty.dtype.is_float() {
        let mut out = Vec::with_capacity(v.len());
        for (i, x) in v.iter().enumerate() {
            let f = match x {
                Json::Number(n) => n.as_f64().ok_or_else(|| bad(i, "a number"))? as f32,
                Json::String(s) if s == "nan" => f32::NAN,
                Json::String(s) if s == "inf" => f32::INFINITY,
                Json::String(s) if s == "-inf" => f32::NEG_INFINITY,
                _ => return Err(bad(i, "a number (or \"nan\", \"inf\", \"-inf\")")),
            };
            out.push(crate::data::round_to(ty.dtype, f));
        }
        Data::F32(out)
    } else if ty.dtype.is_int() {
        let mut out = Vec::with_capacity(v.len());
        for (i, x) in v.iter().enumerate() {
            out.push(x.as_i64().ok_or_else(|| bad(i, "an integer"))?);
        }
        Data::I64(out)
    } else {
        let mut out = Vec::with_capacity(v.len());
        for (i, x) in v.iter().enumerate() {
            out.push(x.as_bool().ok_or_else(|| bad(i, "true or false"))?);
        }
        Data::Bool(out)
    })
}

/// Parse an op from its JSON name and attributes, naming the node on failure.
pub fn op_from_json(node: &str, op: &str, attrs: &serde_json::Map<String, Json>) -> Result<Op> {
    let mut obj = serde_json::Map::new();
    obj.insert("op".into(), Json::String(op.to_string()));
    let err = |e: serde_json::Error| Error::Attribute {
        node: node.to_string(),
        op: op.to_string(),
        reason: e.to_string(),
    };
    if attrs.is_empty() {
        // Attribute-free ops deserialise without `attrs`; ops whose attributes all
        // have defaults need an empty object.
        if let Ok(parsed) = serde_json::from_value::<Op>(Json::Object(obj.clone())) {
            return check_not_source(node, op, parsed);
        }
    }
    obj.insert("attrs".into(), Json::Object(attrs.clone()));
    let parsed = serde_json::from_value::<Op>(Json::Object(obj)).map_err(err)?;
    check_not_source(node, op, parsed)
}

fn check_not_source(node: &str, op: &str, parsed: Op) -> Result<Op> {
    if parsed.is_source() {
        return Err(Error::Attribute {
            node: node.to_string(),
            op: op.to_string(),
            reason: "source ops are declared under `inputs` and `initializers`, not `nodes`".into(),
        });
    }
    Ok(parsed)
}

/// Parse graph JSON; `file` names the source in errors.
pub fn from_str(text: &str, file: &Path) -> Result<Graph> {
    let fmt_err = |reason: String| Error::Format {
        file: file.to_path_buf(),
        reason,
    };
    let f: File = serde_json::from_str(text).map_err(|e| fmt_err(e.to_string()))?;
    if f.format != FORMAT {
        return Err(fmt_err(format!(
            "field `format` is `{}`, expected `{FORMAT}`",
            f.format
        )));
    }
    if f.version != VERSION {
        return Err(fmt_err(format!(
            "format version {} is not supported (this build reads version {VERSION})",
            f.version
        )));
    }
    let mut g = Graph::new(f.name.clone());
    g.meta = f.meta.clone();
    for i in &f.inputs {
        g.set_scope(i.scope.clone());
        g.insert_node(
            &i.name,
            Op::Input { kind: i.kind },
            vec![],
            vec![Value {
                name: i.name.clone(),
                ty: TensorType::new(i.dtype, i.shape.clone()),
            }],
        )?;
    }
    for i in &f.initializers {
        g.set_scope(i.scope.clone());
        let ty = TensorType::new(i.dtype, i.shape.clone());
        let init = match (&i.data, &i.uniform) {
            (Some(d), None) => Init::Data(data_from_json(&i.name, &ty, d)?),
            (None, Some(u)) => Init::Uniform {
                seed: u.seed,
                low: u.low,
                high: u.high,
            },
            _ => {
                return Err(Error::Initializer {
                    name: i.name.clone(),
                    reason: "give exactly one of `data` and `uniform`".into(),
                });
            }
        };
        let op = match i.kind {
            InitKind::Weight => Op::Weight { init },
            InitKind::Constant => Op::Constant { init },
        };
        // Graph::weight/constant check data length and range.
        match op {
            Op::Weight { init } => g.weight(&i.name, ty, init)?,
            Op::Constant { init } => g.constant(&i.name, ty, init)?,
            _ => unreachable!("initializers are weights or constants"),
        };
    }
    // Which file node produces each value name.
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (k, n) in f.nodes.iter().enumerate() {
        for o in &n.outputs {
            if g.value(o.name()).is_some() || producer.insert(o.name(), k).is_some() {
                return Err(Error::Duplicate {
                    what: "value",
                    name: o.name().to_string(),
                });
            }
        }
    }
    // Dangling inputs, then a topological order of the file's nodes.
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(f.nodes.len());
    for n in &f.nodes {
        let mut d = Vec::new();
        for (slot, inp) in n.inputs.iter().enumerate() {
            match producer.get(inp.as_str()) {
                Some(&k) => d.push(k),
                None if g.value(inp).is_some() => {}
                None => {
                    return Err(Error::Dangling {
                        node: n.name.clone(),
                        slot,
                        value: inp.clone(),
                    });
                }
            }
        }
        deps.push(d);
    }
    for k in file_topo_order(&deps).map_err(|k| Error::Cycle {
        node: f.nodes[k].name.clone(),
    })? {
        let n = &f.nodes[k];
        let op = op_from_json(&n.name, &n.op, &n.attrs)?;
        let inputs: Vec<ValueRef> = n
            .inputs
            .iter()
            .map(|name| g.value(name).expect("inputs resolved in topological order"))
            .collect();
        let inferred = {
            let tys: Vec<&TensorType> = inputs.iter().map(|v| g.ty(*v)).collect();
            infer(&op, &tys).map_err(|m| mismatch(&n.name, &op, m))?
        };
        if inferred.len() != n.outputs.len() {
            return Err(Error::Type {
                node: n.name.clone(),
                op: op.name(),
                reason: format!(
                    "{} outputs named, the op produces {}",
                    n.outputs.len(),
                    inferred.len()
                ),
            });
        }
        let mut outputs = Vec::with_capacity(inferred.len());
        for (index, (decl, ty)) in n.outputs.iter().zip(inferred).enumerate() {
            if let Some(declared) = decl.ty()
                && declared != ty
            {
                return Err(Error::Declared {
                    node: n.name.clone(),
                    index,
                    declared: declared.to_string(),
                    inferred: ty.to_string(),
                });
            }
            outputs.push(Value {
                name: decl.name().to_string(),
                ty,
            });
        }
        g.set_scope(n.scope.clone());
        g.insert_node(&n.name, op, inputs, outputs)?;
    }
    g.set_scope("");
    let mut outs = Vec::with_capacity(f.outputs.len());
    for name in &f.outputs {
        outs.push(g.value(name).ok_or_else(|| Error::Output {
            name: name.clone(),
            reason: "no node or input produces it".into(),
        })?);
    }
    g.set_outputs(&outs);
    g.validate()?;
    Ok(g)
}

/// Kahn's algorithm over file positions, smallest position first; on a cycle,
/// returns a node on it.
fn file_topo_order(deps: &[Vec<usize>]) -> std::result::Result<Vec<usize>, usize> {
    let n = deps.len();
    let mut indeg: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, d) in deps.iter().enumerate() {
        for &p in d {
            users[p].push(k);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&k| indeg[k] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(k) = ready.pop_first() {
        order.push(k);
        for &u in &users[k] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < n {
        let stuck = (0..n).find(|&k| indeg[k] > 0).unwrap_or(0);
        return Err(stuck);
    }
    Ok(order)
}

/// Read graph JSON from a file.
pub fn load(path: &Path) -> Result<Graph> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })?;
    from_str(&text, path)
}

/// Write graph JSON to a file atomically (temporary file in the same folder, then rename).
pub fn save(g: &Graph, path: &Path) -> Result<()> {
    write_atomic(path, to_string(g)?.as_bytes())
}

/// Write `bytes` to `path` via a temporary sibling file and a rename, so readers
/// never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        file: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "path has no file name",
        ))
    })?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
