//! Import-time values and the emitter that folds constants.
//!
//! Every ONNX value is a [`Val`]: a constant known at import time (initializers,
//! `Constant` nodes, shapes of bound inputs and everything computed only from those),
//! a run-time graph value, or a lazily dequantised integer weight ([`Deq`]) that a
//! matmul turns into a `QMatMul` and any other consumer turns into float data.
//!
//! [`Builder::emit`] is the one way ops enter the graph: when every operand is a
//! constant it evaluates the op with the reference interpreter (`eval_node`) instead,
//! so folding uses exactly the semantics the interpreter gives the op. Constants are
//! written into the graph only when a run-time op consumes them (or they are graph
//! outputs): initializers as `Weight`s, everything else as `Constant`s.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use triad_isa::DType;

use crate::data::{Data, Init, TensorType, round_to};
use crate::error::{Error, Result};
use crate::graph::{Graph, Value, ValueRef, mismatch};
use crate::infer::infer;
use crate::interp::{Tensor, eval_node};
use crate::op::Op;

/// Largest result, in elements, that folding may create beyond the size of its
/// operands: an op whose constant operands would fold into more than
/// `max(MAX_FOLD_GROWTH, operand elements)` elements (a `Range`, `Expand` or
/// `ConstantOfShape` blowing a few bytes up into gigabytes) stays a run-time op, so a
/// tiny file never makes the importer allocate gigabytes.
pub const MAX_FOLD_GROWTH: u64 = 1 << 24;

/// A tensor known at import time.
#[derive(Clone, Debug)]
pub(crate) struct Const {
    /// Value name (unique in the model).
    pub name: String,
    /// Type.
    pub ty: TensorType,
    /// Values (stored form: real value minus `shift`).
    pub data: Rc<Data>,
    /// Unsigned offset: real value = stored + shift (see `tensor`).
    pub shift: i64,
    /// Derived from a parameter initializer (not a scalar, not an index tensor):
    /// written as a `Weight`.
    pub param: bool,
}

impl Const {
    /// Integer values (real, i.e. with the shift added); `None` for float or bool data.
    pub fn ints(&self) -> Option<Vec<i64>> {
        match &*self.data {
            Data::I64(v) => Some(v.iter().map(|x| x + self.shift).collect()),
            _ => None,
        }
    }

    /// Values as f64 (bools as 0/1, integers with the shift added).
    pub fn f64s(&self) -> Vec<f64> {
        match &*self.data {
            Data::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Data::I64(v) => v.iter().map(|&x| (x + self.shift) as f64).collect(),
            Data::Bool(v) => v.iter().map(|&b| b as u8 as f64).collect(),
        }
    }
}

/// An integer weight awaiting dequantisation: `(q - zp) * scale`, scale per tensor
/// or along `axis` of `q`.
#[derive(Clone, Debug)]
pub(crate) struct Deq {
    /// Integer data (shifted if unsigned).
    pub q: Const,
    /// f32 scale, `[]` or `[q.shape[axis]]`; `None` until a `Mul` supplies it (the
    /// integer-Cast idiom), meaning 1.
    pub scale: Option<Const>,
    /// Zero point (same dtype and shift as `q`, scale's shape); `None` means 0.
    pub zp: Option<Const>,
    /// Channel axis of a 1-D scale or zero point.
    pub axis: Option<usize>,
    /// Float dtype of the dequantised value.
    pub to: DType,
}

impl Deq {
    /// The name of the dequantised constant of integer weight `q`.
    fn const_name(q: &str) -> String {
        format!("{q}/dequantized")
    }

    /// Compute the float tensor this weight stands for, in one pass over `q`: the
    /// scale and zero point are converted once, then indexed by channel.
    pub fn to_const(&self) -> Const {
        let shape = &self.q.ty.shape;
        let (stride, n) = match self.axis {
            Some(a) => (shape[a + 1..].iter().product::<usize>().max(1), shape[a]),
            None => (1, 1),
        };
        let per_channel = |c: &Option<Const>, dflt: f64| -> Vec<f64> {
            match c {
                None => vec![dflt],
                Some(c) => c.f64s(),
            }
        };
        let (zp, scale) = (per_channel(&self.zp, 0.0), per_channel(&self.scale, 1.0));
        let pick = |v: &[f64], i: usize| {
            if v.len() == 1 {
                v[0]
            } else {
                v[(i / stride) % n]
            }
        };
        let shift = self.q.shift as f64;
        let one =
            |i: usize, q: f64| round_to(self.to, ((q - pick(&zp, i)) * pick(&scale, i)) as f32);
        let vals = match &*self.q.data {
            Data::I64(v) => v
                .iter()
                .enumerate()
                .map(|(i, &x)| one(i, x as f64 + shift))
                .collect(),
            Data::F32(v) => v
                .iter()
                .enumerate()
                .map(|(i, &x)| one(i, x as f64))
                .collect(),
            Data::Bool(v) => v
                .iter()
                .enumerate()
                .map(|(i, &x)| one(i, f64::from(u8::from(x))))
                .collect(),
        };
        Const {
            name: Deq::const_name(&self.q.name),
            ty: TensorType::new(self.to, shape.clone()),
            data: Rc::new(Data::F32(vals)),
            shift: 0,
            param: true,
        }
    }
}

/// An ONNX value during import.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// Known now.
    Const(Rc<Const>),
    /// Computed at run time; real value = stored + shift.
    Node {
        /// The graph value.
        v: ValueRef,
        /// Unsigned offset (0 for ordinary values).
        shift: i64,
    },
    /// An integer weight awaiting dequantisation.
    Deq(Rc<Deq>),
    /// A data-dependent value of MoE routing, known only symbolically (see
    /// `ops::moe`); only the ops of the routing idiom consume it.
    Moe(Rc<super::ops::moe::Sym>),
}

impl Val {
    /// A run-time value with no shift.
    pub fn node(v: ValueRef) -> Val {
        Val::Node { v, shift: 0 }
    }

    /// The unsigned shift of this value.
    pub fn shift(&self) -> i64 {
        match self {
            Val::Const(c) => c.shift,
            Val::Node { shift, .. } => *shift,
            Val::Deq(_) | Val::Moe(_) => 0,
        }
    }

    /// The same value with its shift set (used by the quantisation ops).
    pub fn with_shift(self, s: i64) -> Val {
        match self {
            Val::Const(c) => Val::Const(Rc::new(Const {
                shift: s,
                ..(*c).clone()
            })),
            Val::Node { v, .. } => Val::Node { v, shift: s },
            d => d,
        }
    }

    /// The constant, if the value is known now (dequantising a lazy weight).
    pub fn konst(&self) -> Option<Rc<Const>> {
        match self {
            Val::Const(c) => Some(c.clone()),
            Val::Deq(d) => Some(Rc::new(d.to_const())),
            Val::Node { .. } | Val::Moe(_) => None,
        }
    }
}

/// Counters of one import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// IR ops evaluated at import time instead of emitted.
    pub folded: usize,
    /// IR ops emitted into the graph.
    pub emitted: usize,
    /// Quantised matmuls recognised (`QMatMul`).
    pub qmatmuls: usize,
}

/// Builds the IR graph, folding constant ops.
pub(crate) struct Builder {
    /// The graph under construction.
    pub g: Graph,
    cache: BTreeMap<String, ValueRef>,
    reserved: BTreeSet<String>,
    /// Counters.
    pub stats: ImportStats,
}

impl Builder {
    /// A builder for graph `name`; `reserved` are the model's value names, which
    /// generated names avoid.
    pub fn new(name: &str, reserved: BTreeSet<String>) -> Self {
        Builder {
            g: Graph::new(name),
            cache: BTreeMap::new(),
            reserved,
            stats: ImportStats::default(),
        }
    }

    /// A value name not used in the graph or the model, based on `want`.
    pub fn fresh_value(&mut self, want: &str) -> String {
        let mut name = want.to_string();
        let mut k = 1;
        while self.g.value(&name).is_some() || self.reserved.contains(&name) && name != want {
            name = format!("{want}~{k}");
            k += 1;
        }
        name
    }

    fn fresh_node(&self, want: &str) -> String {
        let mut name = want.to_string();
        let mut k = 1;
        while self.g.node_by_name(&name).is_some() {
            name = format!("{want}~{k}");
            k += 1;
        }
        name
    }

    /// Reserve a generated value name (`{node}/{suffix}`) for a temporary.
    pub fn tmp(&mut self, node: &str, suffix: &str) -> String {
        let want = format!("{node}/{suffix}");
        let mut name = want.clone();
        let mut k = 1;
        while self.g.value(&name).is_some() || self.reserved.contains(&name) {
            name = format!("{want}~{k}");
            k += 1;
        }
        self.reserved.insert(name.clone());
        name
    }

    /// A new constant value.
    pub fn konst(&mut self, name: &str, ty: TensorType, data: Data) -> Val {
        Val::Const(Rc::new(Const {
            name: name.to_string(),
            ty,
            data: Rc::new(data),
            shift: 0,
            param: false,
        }))
    }

    /// An f32 scalar constant.
    pub fn scalar_f32(&mut self, node: &str, x: f32) -> Val {
        let name = self.tmp(node, "c");
        self.konst(&name, TensorType::new(DType::F32, []), Data::F32(vec![x]))
    }

    /// An integer constant of dtype `dtype` and shape `shape`.
    pub fn ints(&mut self, node: &str, dtype: DType, shape: &[usize], v: Vec<i64>) -> Val {
        let name = self.tmp(node, "c");
        self.konst(&name, TensorType::new(dtype, shape), Data::I64(v))
    }

    /// The type of a value (a lazy weight has its float type).
    pub fn ty(&self, v: &Val) -> TensorType {
        match v {
            Val::Const(c) => c.ty.clone(),
            Val::Node { v, .. } => self.g.ty(*v).clone(),
            Val::Deq(d) => TensorType::new(d.to, d.q.ty.shape.clone()),
            Val::Moe(s) => s.ty.clone(),
        }
    }

    /// The graph value for `v`, writing constants into the graph on first use.
    pub fn materialise(&mut self, v: &Val) -> Result<ValueRef> {
        let c = match v {
            Val::Node { v, .. } => return Ok(*v),
            Val::Const(c) => match self.cache.get(&c.name) {
                Some(r) => return Ok(*r),
                None => c.clone(),
            },
            // Looked up before dequantising: a weight used twice is converted once.
            Val::Deq(d) => match self.cache.get(&Deq::const_name(&d.q.name)) {
                Some(r) => return Ok(*r),
                None => Rc::new(d.to_const()),
            },
            // The op mappers route every consumer of a routing value (`ops::moe`).
            Val::Moe(s) => {
                return Err(Error::Type {
                    node: s.node.clone(),
                    op: "MoE routing",
                    reason: "a data-dependent routing value reached a graph op".into(),
                });
            }
        };
        let (name, ty, param) = (c.name.clone(), c.ty.clone(), c.param);
        // A constant made just now (a dequantised weight) hands its values over; one
        // still referenced elsewhere (an initializer in the value table) is copied.
        let data = match Rc::try_unwrap(c) {
            Ok(c) => Rc::try_unwrap(c.data).unwrap_or_else(|d| (*d).clone()),
            Err(c) => (*c.data).clone(),
        };
        let init = Init::Data(data);
        let op = if param {
            Op::Weight { init }
        } else {
            Op::Constant { init }
        };
        let vname = self.fresh_value(&name);
        let nname = self.fresh_node(&name);
        let out = Value { name: vname, ty };
        let r = self.g.insert_node(&nname, op, Vec::new(), vec![out])?[0];
        self.cache.insert(name, r);
        Ok(r)
    }

    /// Undo an unsigned shift: the real values as i32 (no-op for unshifted values).
    pub fn plain(&mut self, node: &str, v: &Val) -> Result<Val> {
        let s = v.shift();
        if s == 0 {
            return Ok(v.clone());
        }
        let name = self.tmp(node, "unsigned");
        let c = self.emit1(
            node,
            &name,
            Op::Cast { to: DType::I32 },
            &[v.clone().with_shift(0)],
        )?;
        let k = self.ints(node, DType::I32, &[], vec![s]);
        let name = self.tmp(node, "unsigned_add");
        self.emit1(node, &name, Op::Add, &[c, k])
    }

    /// [`Builder::emit`] for a single-output op.
    pub fn emit1(&mut self, node: &str, out: &str, op: Op, ins: &[Val]) -> Result<Val> {
        Ok(self.emit(node, op, ins, &[out.to_string()])?.remove(0))
    }

    /// Apply `op` to `ins`, naming the results `outs`: evaluated now when every
    /// operand is a constant, else added to the graph as node `node`.
    pub fn emit(&mut self, node: &str, op: Op, ins: &[Val], outs: &[String]) -> Result<Vec<Val>> {
        // Only an op whose operands are all known now folds: a lazy weight feeding a
        // run-time op is not dequantised here (materialise does it once).
        let types: Vec<TensorType> = {
            let tys: Vec<TensorType> = ins.iter().map(|v| self.ty(v)).collect();
            let refs: Vec<&TensorType> = tys.iter().collect();
            infer(&op, &refs).map_err(|m| mismatch(node, &op, m))?
        };
        let operand_elems: u64 = ins.iter().map(|v| self.ty(v).elems()).sum();
        let result_elems: u64 = types.iter().map(TensorType::elems).sum();
        let foldable = ins
            .iter()
            .all(|v| !matches!(v, Val::Node { .. } | Val::Moe(_)))
            && result_elems <= MAX_FOLD_GROWTH.max(operand_elems);
        let consts: Option<Vec<Rc<Const>>> = if foldable {
            ins.iter().map(Val::konst).collect()
        } else {
            None
        };
        if types.len() != outs.len() {
            return Err(Error::Type {
                node: node.to_string(),
                op: op.name(),
                reason: format!("{} results named, the op has {}", outs.len(), types.len()),
            });
        }
        if let Some(cs) = consts {
            self.stats.folded += 1;
            let tensors = cs
                .iter()
                .map(|c| Tensor::from_data(&c.ty, &c.data))
                .collect::<Result<Vec<_>>>()?;
            let refs: Vec<&Tensor> = tensors.iter().collect();
            let res = eval_node(node, &op, &refs, &types)?;
            let param = cs.iter().any(|c| c.param);
            return Ok(res
                .into_iter()
                .zip(outs)
                .map(|(t, name)| {
                    Val::Const(Rc::new(Const {
                        name: name.clone(),
                        ty: t.ty(),
                        data: Rc::new(t.to_data()),
                        shift: 0,
                        param,
                    }))
                })
                .collect());
        }
        self.stats.emitted += 1;
        let refs = ins
            .iter()
            .map(|v| self.materialise(v))
            .collect::<Result<Vec<_>>>()?;
        let values = outs
            .iter()
            .zip(types)
            .map(|(n, ty)| Value {
                name: self.fresh_value(n),
                ty,
            })
            .collect();
        let nname = self.fresh_node(node);
        let rs = self.g.insert_node(&nname, op, refs, values)?;
        Ok(rs.into_iter().map(Val::node).collect())
    }
}
