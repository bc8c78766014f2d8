//! Mixture-of-experts routing with data-dependent shapes: `OneHot`, `NonZero` and
//! `ScatterElements`, and the routing idiom they form in exported MoE models.
//!
//! The IR is static: every value has a shape known at import time. `NonZero`'s
//! result length depends on the data, so it has no IR form. What exporters write
//! with it is the "loop over experts" of transformers' eager MoE kernel (Mixtral,
//! Qwen-MoE, … traced by the TorchScript exporter):
//!
//! ```text
//! sel = TopK(router)[1]                                  [T, k]
//! mask = Transpose(OneHot(sel, depth))                   [E', k, T]
//! hit = NonZero(ReduceSum(mask) > 0)                     experts with tokens
//! for i in 0..E (unrolled, i-th row of `hit`):
//!     pos, tok = NonZero(mask[hit[i]])                   pairs routed to expert i
//!     y = FFN_i(x[tok]) * Flatten(w)[tok * k + pos]      w: gate weights [T, k]
//!     out += ScatterElements(zeros, tok, y)              index_add_
//! ```
//!
//! This module recognises that idiom value by value and imports it as the IR's
//! `MoeDispatch` (one per expert, capacity `T`: every token routed to the expert gets
//! a slot, none is dropped) and one `MoeCombine`, which is exactly the computation
//! above: rows of a routed value are the expert's dispatch slots, the weight of a
//! pair is `w[tok, pos]`, and the scattered sum is the combine. The data-dependent
//! values (`hit`, the pair lists, the indices derived from them) become symbolic
//! values ([`Sym`]) that only the ops of the idiom accept; a value computed from
//! routed rows must be row-local (element-wise ops, matmuls with static weights,
//! slices and quantisation that keep the row axis), which is checked on the graph.
//!
//! Limits (each an error naming the node and the reason):
//! - `hit[i]` is taken to be expert `i`: the traced loop runs once per hit expert,
//!   so the file only runs (in ONNX Runtime too) when every expert is hit, and then
//!   `hit = 0..E`. A loop with fewer iterations than experts is refused.
//! - The one-hot must be of TopK indices; `NonZero` and `ScatterElements` on other
//!   run-time values, and any other use of a routing value, are refused. With
//!   constant operands all three ops fold.
//! - Rows of a routed value stand for the expert's dispatch slots, so its row count
//!   reads as the capacity `T` (`Shape` of it); slots after the routed tokens hold
//!   the expert applied to zero rows, which the combine never reads.
//! - The capacity is `T` because the export drops no token and which expert gets how
//!   many is data: the statistics count every expert over `T` rows, `experts / k`
//!   times the routed work (the zoo's MoE models use a capacity factor instead).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use triad_isa::DType;

use super::{Builder, NodeIn};
use crate::data::{Data, TensorType};
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, ValueRef};
use crate::infer::norm_axis;
use crate::onnx::fold::Val;
use crate::op::Op;

/// A logical axis of the routing one-hot `[T, k, depth]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ax {
    /// Tokens.
    Token,
    /// Choice (position among the top k).
    Choice,
    /// Expert.
    Expert,
}

/// An integer index over routed pairs: `token * per_token + choice * per_choice + base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lin {
    per_token: i64,
    per_choice: i64,
    base: i64,
}

impl Lin {
    fn unit(a: Ax) -> Lin {
        Lin {
            per_token: i64::from(a == Ax::Token),
            per_choice: i64::from(a == Ax::Choice),
            base: 0,
        }
    }
}

/// One TopK routing: the selected experts and what was built from them.
#[derive(Debug)]
pub(crate) struct Routing {
    /// TopK expert indices `[T, k]` (a run-time value).
    sel: Val,
    tokens: usize,
    k: usize,
    /// Router width: experts `0..experts`.
    experts: usize,
    /// The dispatch of each expert, made once.
    dispatch: RefCell<BTreeMap<usize, (Val, NodeId)>>,
}

/// What a symbolic routing value stands for.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// The one-hot of the TopK indices; `axes[i]` is tensor axis `i`'s logical axis.
    OneHot { axes: Vec<Ax> },
    /// Tokens per expert (`ReduceSum` over tokens and choices).
    Counts,
    /// Experts with tokens.
    HitMask,
    /// `NonZero` of the hit mask, `[1, n]` (transposed: `[n, 1]`).
    HitList { transposed: bool },
    /// The one-hot of expert `e`, over the remaining axes.
    ExpertMask { e: usize, axes: Vec<Ax> },
    /// `NonZero` of expert `e`'s mask: one row per axis in `rows` (transposed: columns).
    Pairs {
        e: usize,
        rows: Vec<Ax>,
        transposed: bool,
    },
    /// One row of an untransposed pair list, `[1, pairs]` (what a transpose
    /// optimiser leaves when it moves the `Transpose` after the `Split`).
    IndexRow { e: usize, lin: Lin },
    /// An index over expert `e`'s pairs, shape `[pairs] ++ trailing`.
    Index {
        e: usize,
        lin: Lin,
        trailing: Vec<usize>,
    },
    /// The gate weight of each of expert `e`'s pairs, gathered from `src`
    /// (`[T * k, 1…]`, the weights `[T, k]` flattened).
    Weight { e: usize, src: Val },
    /// Expert `e`'s result rows `out` times their gate weights.
    Weighted { e: usize, out: Val, src: Val },
    /// The scattered sum over experts: expert -> (result rows, weight source).
    Sum { parts: BTreeMap<usize, (Val, Val)> },
    /// A value only whose shape may be used (a slice of the sum for `Expand`).
    ShapeOnly,
}

/// A symbolic routing value.
#[derive(Debug)]
pub(crate) struct Sym {
    r: Rc<Routing>,
    kind: Kind,
    /// Nominal type: the pair count reads as the capacity `T`.
    pub ty: TensorType,
    /// The node that made it (for messages).
    pub node: String,
    /// The combine, once a `Sum` was materialised.
    combined: RefCell<Option<Val>>,
}

impl Sym {
    fn describe(&self) -> String {
        let what = match &self.kind {
            Kind::OneHot { .. } => "the one-hot of the TopK experts",
            Kind::Counts => "the token count per expert",
            Kind::HitMask => "the mask of experts with tokens",
            Kind::HitList { .. } => "the list of experts with tokens (NonZero)",
            Kind::ExpertMask { .. } => "one expert's one-hot",
            Kind::Pairs { .. } => "one expert's (choice, token) pairs (NonZero)",
            Kind::IndexRow { .. } | Kind::Index { .. } => "an index over one expert's routed pairs",
            Kind::Weight { .. } => "the gate weights of one expert's routed pairs",
            Kind::Weighted { .. } => "one expert's weighted results",
            Kind::Sum { .. } => "the scattered sum of expert results",
            Kind::ShapeOnly => "a slice of the expert sum (only its shape is known)",
        };
        format!("{what}, made by node `{}`", self.node)
    }
}

fn sym(r: &Rc<Routing>, kind: Kind, ty: TensorType, node: &str) -> Val {
    Val::Moe(Rc::new(Sym {
        r: r.clone(),
        kind,
        ty,
        node: node.to_string(),
        combined: RefCell::new(None),
    }))
}

fn sym_of(v: &Option<Val>) -> Option<&Rc<Sym>> {
    match v {
        Some(Val::Moe(s)) => Some(s),
        _ => None,
    }
}

/// A refusal naming the node and why.
fn refuse(n: &NodeIn, reason: impl Into<String>) -> Error {
    n.err(reason)
}

/// The refusal for a routing value used by an op outside the idiom.
fn misuse(n: &NodeIn, s: &Sym) -> Error {
    refuse(
        n,
        format!(
            "`{}` cannot consume {}: a data-dependent value of MoE routing is supported \
             only inside the expert-loop idiom (see the module doc of onnx::ops::moe)",
            n.op(),
            s.describe()
        ),
    )
}

/// A constant with a single integer (any shape of one element).
fn one_int(v: &Val) -> Option<i64> {
    let c = v.konst()?;
    let i = c.ints()?;
    (i.len() == 1).then(|| i[0])
}

// ---- the three ops, on constants and on routing values ---------------------------

/// `OneHot`: constant indices fold; the one-hot of TopK indices along the last axis is
/// the routing one-hot; other run-time indices are refused.
pub(super) fn one_hot(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let idx = b.plain(&n.name, &n.input(0)?)?;
    let depth =
        one_int(&n.input(1)?).ok_or_else(|| refuse(n, "depth must be a constant integer"))?;
    let values = n.konst(2, "values")?;
    if values.ty.elems() != 2 {
        return Err(refuse(n, "values must hold [off, on]"));
    }
    let it = b.ty(&idx);
    let rank = it.rank();
    let axis = norm_axis(n.attrs().int_or("axis", -1)?, rank + 1)
        .ok_or_else(|| refuse(n, format!("axis out of range for rank {}", rank + 1)))?;
    if depth < 1 {
        return Err(refuse(n, format!("depth {depth} must be positive")));
    }
    let depth = usize::try_from(depth).map_err(|_| refuse(n, "depth is too large"))?;
    let elems = it.elems().checked_mul(depth as u64);
    if elems.is_none_or(|e| e > crate::data::MAX_TENSOR_ELEMS) {
        return Err(refuse(
            n,
            format!(
                "a one-hot of depth {depth} over {:?} exceeds the limit of {} elements",
                it.shape,
                crate::data::MAX_TENSOR_ELEMS
            ),
        ));
    }
    let mut shape = it.shape.clone();
    shape.insert(axis, depth);
    let ty = TensorType::new(values.ty.dtype, shape.clone());
    if let Some(c) = idx.konst() {
        let limit = crate::onnx::fold::MAX_FOLD_GROWTH.max(c.ty.elems());
        if ty.elems() > limit {
            return Err(refuse(
                n,
                format!(
                    "folding would create {} elements (limit {limit})",
                    ty.elems()
                ),
            ));
        }
        let iv = c
            .ints()
            .ok_or_else(|| refuse(n, "indices must be integers"))?;
        let (outer, inner): (usize, usize) = (
            it.shape[..axis].iter().product(),
            it.shape[axis..].iter().product(),
        );
        let sel = |o: usize, d: usize, i: usize| {
            let x = iv[o * inner + i];
            let x = if x < 0 { x + depth as i64 } else { x };
            x == d as i64
        };
        let mut pick = Vec::with_capacity(outer * depth * inner);
        for o in 0..outer {
            for d in 0..depth {
                for i in 0..inner {
                    pick.push(sel(o, d, i));
                }
            }
        }
        let data = match &*values.data {
            Data::F32(v) => Data::F32(pick.iter().map(|&p| v[usize::from(p)]).collect()),
            Data::I64(v) => Data::I64(
                pick.iter()
                    .map(|&p| v[usize::from(p)] + values.shift)
                    .collect(),
            ),
            Data::Bool(v) => Data::Bool(pick.iter().map(|&p| v[usize::from(p)]).collect()),
        };
        return Ok(vec![b.konst(&n.out(0), ty, data)]);
    }
    let Some((tokens, k, experts)) = topk_indices(&b.g, &idx) else {
        return Err(refuse(
            n,
            "run-time indices are supported only when they are a TopK's indices (the \
             expert choices of MoE routing)",
        ));
    };
    if rank != 2 || axis != 2 || depth < experts {
        return Err(refuse(
            n,
            format!(
                "the one-hot of TopK experts must add the last axis with depth >= {experts} \
                 (got axis {axis} of rank {}, depth {depth})",
                rank + 1
            ),
        ));
    }
    let values = values.f64s();
    if values != [0.0, 1.0] {
        return Err(refuse(n, "the routing one-hot must have values [0, 1]"));
    }
    let r = Rc::new(Routing {
        sel: idx,
        tokens,
        k,
        experts,
        dispatch: RefCell::new(BTreeMap::new()),
    });
    let axes = vec![Ax::Token, Ax::Choice, Ax::Expert];
    Ok(vec![sym(&r, Kind::OneHot { axes }, ty, &n.name)])
}

/// `(tokens, k, experts)` when `v` is output 1 (indices) of a TopK over the last
/// axis of a `[T, experts]` value.
fn topk_indices(g: &Graph, v: &Val) -> Option<(usize, usize, usize)> {
    let Val::Node { v, shift: 0 } = v else {
        return None;
    };
    let node = g.node(v.node);
    let Op::TopK { k, axis } = node.op else {
        return None;
    };
    let x = g.ty(*node.inputs.first()?);
    if v.port != 1 || x.rank() != 2 || norm_axis(axis, 2) != Some(1) {
        return None;
    }
    Some((x.shape[0], k, x.shape[1]))
}

/// `NonZero`: constant input folds (`[rank, count]` indices in row-major order);
/// the routing masks become pair lists; other run-time inputs are refused (the
/// result's length depends on the data).
pub(super) fn non_zero(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let x = n.input(0)?;
    if let Val::Moe(s) = &x {
        let (kind, ty) = match &s.kind {
            Kind::HitMask => (
                Kind::HitList { transposed: false },
                TensorType::new(DType::I64, [1, s.r.experts]),
            ),
            Kind::ExpertMask { e, axes } => (
                Kind::Pairs {
                    e: *e,
                    rows: axes.clone(),
                    transposed: false,
                },
                TensorType::new(DType::I64, [axes.len(), s.r.tokens]),
            ),
            _ => return Err(misuse(n, s)),
        };
        return Ok(vec![sym(&s.r, kind, ty, &n.name)]);
    }
    let Some(c) = x.konst() else {
        return Err(refuse(
            n,
            "NonZero of a run-time value has a data-dependent length, which a static graph \
             cannot hold; only MoE routing masks (the one-hot of TopK experts) are supported",
        ));
    };
    let shape = c.ty.shape.clone();
    let nz: Vec<bool> = c.f64s().iter().map(|&v| v != 0.0).collect();
    let hits: Vec<usize> = (0..nz.len()).filter(|&i| nz[i]).collect();
    let rank = shape.len();
    let mut out = vec![0i64; rank * hits.len()];
    for (j, &flat) in hits.iter().enumerate() {
        let mut rest = flat;
        for a in (0..rank).rev() {
            out[a * hits.len() + j] = (rest % shape[a]) as i64;
            rest /= shape[a];
        }
    }
    let ty = TensorType::new(DType::I64, [rank, hits.len()]);
    Ok(vec![b.konst(&n.out(0), ty, Data::I64(out))])
}

/// `ScatterElements`: constant operands fold (reduction none or add); the MoE
/// `index_add_` of weighted expert rows into zeros starts the expert sum; other
/// run-time operands are refused.
pub(super) fn scatter_elements(b: &mut Builder, n: &NodeIn) -> Result<Vec<Val>> {
    let (data, idx, upd) = (n.input(0)?, n.input(1)?, n.input(2)?);
    let reduction = n
        .attrs()
        .string("reduction")?
        .unwrap_or_else(|| "none".into());
    if !matches!(reduction.as_str(), "none" | "add") {
        return Err(refuse(
            n,
            format!("reduction `{reduction}` is not supported (none, add)"),
        ));
    }
    let dt = b.ty(&data);
    let axis = norm_axis(n.attrs().int_or("axis", 0)?, dt.rank())
        .ok_or_else(|| refuse(n, format!("axis out of range for rank {}", dt.rank())))?;
    if let (Val::Moe(si), Val::Moe(su)) = (&idx, &upd) {
        return scatter_routed(b, n, &data, si, su, axis);
    }
    let (Some(d), Some(i), Some(u)) = (data.konst(), idx.konst(), upd.konst()) else {
        return Err(refuse(
            n,
            "ScatterElements with run-time operands is supported only as the index_add of \
             weighted expert rows in MoE routing",
        ));
    };
    let iv = i
        .ints()
        .ok_or_else(|| refuse(n, "indices must be integers"))?;
    if i.ty.shape != u.ty.shape || i.ty.rank() != dt.rank() {
        return Err(refuse(
            n,
            "indices and updates must have one shape, of the data's rank",
        ));
    }
    let mut vals = d.f64s();
    let upd = u.f64s();
    let ishape = &i.ty.shape;
    let dstrides: Vec<usize> = (0..dt.rank())
        .map(|a| dt.shape[a + 1..].iter().product())
        .collect();
    for (flat, (&ix, &uv)) in iv.iter().zip(&upd).enumerate() {
        let mut rest = flat;
        let mut coord = vec![0usize; ishape.len()];
        for a in (0..ishape.len()).rev() {
            coord[a] = rest % ishape[a];
            rest /= ishape[a];
        }
        let dim = dt.shape[axis] as i64;
        let ix = if ix < 0 { ix + dim } else { ix };
        if !(0..dim).contains(&ix) {
            return Err(refuse(n, format!("index {ix} out of range for dim {dim}")));
        }
        coord[axis] = ix as usize;
        if coord.iter().zip(&dt.shape).any(|(c, d)| c >= d) {
            return Err(refuse(n, "indices exceed the data's shape"));
        }
        let at: usize = coord.iter().zip(&dstrides).map(|(c, s)| c * s).sum();
        vals[at] = if reduction == "add" {
            vals[at] + uv
        } else {
            uv
        };
    }
    let data = match &*d.data {
        Data::F32(_) => Data::F32(
            vals.iter()
                .map(|&v| crate::data::round_to(dt.dtype, v as f32))
                .collect(),
        ),
        Data::I64(_) => Data::I64(vals.iter().map(|&v| v as i64 - d.shift).collect()),
        Data::Bool(_) => Data::Bool(vals.iter().map(|&v| v != 0.0).collect()),
    };
    let ty = TensorType::new(dt.dtype, dt.shape.clone());
    let out = b.konst(&n.out(0), ty, data);
    Ok(vec![out.with_shift(d.shift)])
}

fn scatter_routed(
    b: &mut Builder,
    n: &NodeIn,
    data: &Val,
    si: &Rc<Sym>,
    su: &Rc<Sym>,
    axis: usize,
) -> Result<Vec<Val>> {
    let (
        Kind::Index {
            e,
            lin,
            trailing: _,
        },
        Kind::Weighted { e: eu, out, src },
    ) = (&si.kind, &su.kind)
    else {
        return Err(misuse(n, si));
    };
    let r = &si.r;
    let zeros = data
        .konst()
        .is_some_and(|c| c.f64s().iter().all(|&v| v == 0.0));
    let ot = b.ty(out);
    if e != eu
        || *lin != Lin::unit(Ax::Token)
        || axis != 0
        || !zeros
        || b.ty(data).shape != ot.shape
        || si.ty.shape != ot.shape
    {
        return Err(refuse(
            n,
            format!(
                "only the index_add of expert {e}'s weighted rows into zeros along axis 0 \
                 at their token indices is supported (indices: {}; updates: {})",
                si.describe(),
                su.describe()
            ),
        ));
    }
    let parts = BTreeMap::from([(*e, (out.clone(), src.clone()))]);
    Ok(vec![sym(r, Kind::Sum { parts }, ot, &n.name)])
}

// ---- other ops consuming routing values --------------------------------------------

/// Map node `n` when an operand is a routing value: `Some(results)` for the ops of
/// the idiom, `None` when `n` only reads shapes (`Shape`, `Size`) and maps as usual.
/// A `Sum` consumed by any other op is materialised as a `MoeCombine` first (the
/// node is then mapped with it); any other routing value is refused.
pub(super) fn route(b: &mut Builder, n: &NodeIn) -> Result<Option<Vec<Val>>> {
    if !n.ins.iter().any(|v| sym_of(v).is_some()) {
        return Ok(None);
    }
    match n.op() {
        "Shape" | "Size" | "OneHot" | "NonZero" | "ScatterElements" => return Ok(None),
        _ => {}
    }
    let only_sums = n
        .ins
        .iter()
        .filter_map(sym_of)
        .all(|s| matches!(s.kind, Kind::Sum { .. }));
    if (!only_sums || matches!(n.op(), "Add" | "Slice"))
        && let Some(v) = idiom(b, n)?
    {
        return Ok(Some(v));
    }
    // Not part of the idiom: only the finished sum may flow on.
    let mut ins = Vec::with_capacity(n.ins.len());
    for v in &n.ins {
        match sym_of(v) {
            Some(s) if matches!(s.kind, Kind::Sum { .. }) => ins.push(Some(combine(b, n, s)?)),
            Some(s) => return Err(misuse(n, s)),
            None => ins.push(v.clone()),
        }
    }
    let n2 = NodeIn {
        name: n.name.clone(),
        proto: n.proto,
        opset: n.opset,
        ins,
    };
    super::map_plain(b, &n2).map(Some)
}

/// The ops of the idiom; `None` when `n` is not one of them (with these operands).
fn idiom(b: &mut Builder, n: &NodeIn) -> Result<Option<Vec<Val>>> {
    let a = n.opt(0);
    let s0 = sym_of(&n.ins.first().cloned().flatten()).cloned();
    let s1 = sym_of(&n.ins.get(1).cloned().flatten()).cloned();
    let name = n.name.as_str();
    let one = |v: Val| Ok(Some(vec![v]));
    match (n.op(), s0.as_deref(), s1.as_deref()) {
        ("Transpose", Some(s), _) => {
            let perm = n.attrs().ints("perm")?;
            let rank = s.ty.rank();
            let perm: Vec<usize> = match perm {
                Some(p) => p.iter().map(|&x| x as usize).collect(),
                None => (0..rank).rev().collect(),
            };
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return Err(refuse(n, format!("perm {perm:?} is not a permutation")));
            }
            let shape: Vec<usize> = perm.iter().map(|&p| s.ty.shape[p]).collect();
            let ty = TensorType::new(s.ty.dtype, shape);
            let swap = perm == [1, 0];
            let kind = match &s.kind {
                Kind::OneHot { axes } => Kind::OneHot {
                    axes: perm.iter().map(|&p| axes[p]).collect(),
                },
                Kind::HitList { transposed } if swap => Kind::HitList {
                    transposed: !transposed,
                },
                Kind::IndexRow { e, lin } if swap => Kind::Index {
                    e: *e,
                    lin: *lin,
                    trailing: vec![1],
                },
                Kind::Pairs {
                    e,
                    rows,
                    transposed,
                } if swap => Kind::Pairs {
                    e: *e,
                    rows: rows.clone(),
                    transposed: !transposed,
                },
                _ => return Err(misuse(n, s)),
            };
            one(sym(&s.r, kind, ty, name))
        }
        ("ReduceSum", Some(s), _) => {
            let Kind::OneHot { axes } = &s.kind else {
                return Err(misuse(n, s));
            };
            let keep = n.attrs().int_or("keepdims", 1)?;
            let red = match n.opt_ints(1, "axes")? {
                Some(a) => a,
                None => n.attrs().ints("axes")?.unwrap_or_default(),
            };
            let red: BTreeSet<Ax> = red
                .iter()
                .filter_map(|&x| norm_axis(x, axes.len()))
                .map(|x| axes[x])
                .collect();
            if keep != 0 || red != BTreeSet::from([Ax::Token, Ax::Choice]) {
                return Err(refuse(
                    n,
                    "the routing one-hot may only be summed over tokens and choices, \
                     keepdims=0 (the token count per expert)",
                ));
            }
            let depth = s.ty.shape[axes.iter().position(|&x| x == Ax::Expert).unwrap_or(0)];
            let ty = TensorType::new(s.ty.dtype, [depth]);
            one(sym(&s.r, Kind::Counts, ty, name))
        }
        ("Greater", Some(s), None) if matches!(s.kind, Kind::Counts) => {
            if n.opt(1)
                .and_then(|v| v.konst())
                .is_none_or(|c| c.f64s() != [0.0])
            {
                return Err(refuse(
                    n,
                    "the token count per expert may only be compared with 0",
                ));
            }
            let ty = TensorType::new(DType::Bool, s.ty.shape.clone());
            one(sym(&s.r, Kind::HitMask, ty, name))
        }
        ("Split", Some(s), _) => split(b, n, s).map(Some),
        ("Gather", Some(s), _) => {
            let Kind::OneHot { axes } = &s.kind else {
                return Err(misuse(n, s));
            };
            let ax = norm_axis(n.attrs().int_or("axis", 0)?, axes.len());
            let e = n.opt(1).as_ref().and_then(one_int);
            let scalar = n.opt(1).is_some_and(|v| b.ty(&v).rank() == 0);
            let (Some(ax), Some(e), true) = (ax, e, scalar) else {
                return Err(refuse(
                    n,
                    "the routing one-hot may only be indexed by one constant expert (a \
                     scalar index) along its expert axis",
                ));
            };
            let experts = s.r.experts as i64;
            if axes[ax] != Ax::Expert || !(0..experts).contains(&e) {
                return Err(refuse(
                    n,
                    format!(
                        "expert index {e} along axis {ax}: expected an expert in 0..{experts} \
                         along the expert axis"
                    ),
                ));
            }
            let mut rest = axes.clone();
            rest.remove(ax);
            let mut shape = s.ty.shape.clone();
            shape.remove(ax);
            let kind = Kind::ExpertMask {
                e: e as usize,
                axes: rest,
            };
            one(sym(&s.r, kind, TensorType::new(s.ty.dtype, shape), name))
        }
        ("Gather", None, Some(s)) => {
            let x = a.ok_or_else(|| refuse(n, "missing data"))?;
            gather_routed(b, n, &x, s).map(Some)
        }
        ("Cast", Some(s), _) => {
            let to = n.attrs().int("to")?.unwrap_or(0);
            let to = crate::onnx::tensor::elem_of(to as i32)
                .map_err(|reason| refuse(n, reason))?
                .dtype;
            match &s.kind {
                Kind::ExpertMask { .. } | Kind::Index { .. } => {}
                Kind::Weighted { out, .. } if b.ty(out).dtype == to => {}
                _ => return Err(misuse(n, s)),
            }
            let ty = TensorType::new(to, s.ty.shape.clone());
            one(sym(&s.r, s.kind.clone(), ty, name))
        }
        ("Squeeze" | "Unsqueeze", Some(s), _) => {
            let Kind::Index { e, lin, .. } = &s.kind else {
                return Err(misuse(n, s));
            };
            let axes = match n.opt_ints(1, "axes")? {
                Some(a) => a,
                None => n.attrs().ints("axes")?.unwrap_or_default(),
            };
            let mut shape = s.ty.shape.clone();
            let squeeze = n.op() == "Squeeze";
            let rank = if squeeze {
                shape.len()
            } else {
                shape.len() + axes.len()
            };
            let mut axes: Vec<usize> = axes
                .iter()
                .map(|&x| norm_axis(x, rank).ok_or_else(|| refuse(n, "axis out of range")))
                .collect::<Result<_>>()?;
            axes.sort_unstable();
            if axes.is_empty() || axes[0] == 0 {
                return Err(refuse(
                    n,
                    "an index over routed pairs keeps its pair axis (axis 0)",
                ));
            }
            if squeeze {
                for &x in axes.iter().rev() {
                    if shape[x] != 1 {
                        return Err(refuse(n, format!("axis {x} has size {}", shape[x])));
                    }
                    shape.remove(x);
                }
            } else {
                for &x in &axes {
                    shape.insert(x, 1);
                }
            }
            let kind = Kind::Index {
                e: *e,
                lin: *lin,
                trailing: shape[1..].to_vec(),
            };
            one(sym(&s.r, kind, TensorType::new(s.ty.dtype, shape), name))
        }
        ("Mul" | "Add", _, _) => arith(b, n),
        ("Reshape", Some(s), _) => {
            let Kind::Weight { .. } = &s.kind else {
                return Err(misuse(n, s));
            };
            let target = n
                .opt_ints(1, "shape")?
                .ok_or_else(|| refuse(n, "missing shape"))?;
            let cap = s.r.tokens as i64;
            let ok = !target.is_empty()
                && (target[0] == -1 || target[0] == cap)
                && target[1..].iter().all(|&d| d == 1);
            if !ok {
                return Err(refuse(
                    n,
                    format!(
                        "the gate weights of routed pairs may only be reshaped to \
                         [pairs, 1, …] (got {target:?})"
                    ),
                ));
            }
            let mut shape = vec![s.r.tokens];
            shape.extend(std::iter::repeat_n(1, target.len() - 1));
            one(sym(
                &s.r,
                s.kind.clone(),
                TensorType::new(s.ty.dtype, shape),
                name,
            ))
        }
        ("Expand", Some(s), _) => {
            let target = n
                .opt_ints(1, "shape")?
                .ok_or_else(|| refuse(n, "missing shape"))?;
            let shape = broadcast(&s.ty.shape, &target).ok_or_else(|| {
                refuse(n, format!("cannot expand {:?} to {target:?}", s.ty.shape))
            })?;
            let kind = match &s.kind {
                Kind::Weighted { .. } if shape == s.ty.shape => s.kind.clone(),
                Kind::Index { e, lin, .. }
                    if shape.len() == s.ty.rank() && shape[0] == s.r.tokens =>
                {
                    Kind::Index {
                        e: *e,
                        lin: *lin,
                        trailing: shape[1..].to_vec(),
                    }
                }
                _ => return Err(misuse(n, s)),
            };
            one(sym(&s.r, kind, TensorType::new(s.ty.dtype, shape), name))
        }
        ("Slice", Some(s), _) if matches!(s.kind, Kind::Sum { .. } | Kind::ShapeOnly) => {
            // Only the result's shape is needed (an Expand target): slice zeros.
            let zeros = zeros_like(b, &n.name, &s.ty);
            let mut ins = n.ins.clone();
            ins[0] = Some(zeros);
            let n2 = NodeIn {
                name: n.name.clone(),
                proto: n.proto,
                opset: n.opset,
                ins,
            };
            let out = super::map_plain(b, &n2)?;
            let ty = b.ty(&out[0]);
            one(sym(&s.r, Kind::ShapeOnly, ty, name))
        }
        _ => Ok(None),
    }
}

/// A constant of zeros of type `ty`.
fn zeros_like(b: &mut Builder, node: &str, ty: &TensorType) -> Val {
    let n = ty.elems() as usize;
    let data = match ty.dtype {
        d if d.is_float() => Data::F32(vec![0.0; n]),
        DType::Bool => Data::Bool(vec![false; n]),
        _ => Data::I64(vec![0; n]),
    };
    let name = b.tmp(node, "zeros");
    b.konst(&name, ty.clone(), data)
}

/// Numpy broadcasting of `a` to `target` (`Expand`): the result shape.
fn broadcast(a: &[usize], target: &[i64]) -> Option<Vec<usize>> {
    let r = a.len().max(target.len());
    let mut out = vec![0usize; r];
    for i in 0..r {
        let x = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let t = if i + target.len() >= r {
            usize::try_from(target[i + target.len() - r]).ok()?
        } else {
            1
        };
        out[i] = match (x, t) {
            (x, t) if x == t => x,
            (1, t) => t,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// `Split` of the hit list (one constant expert per loop iteration) or of the pair
/// list (choice and token columns).
fn split(b: &mut Builder, n: &NodeIn, s: &Sym) -> Result<Vec<Val>> {
    let outs = n.proto.output.len();
    let axis = norm_axis(n.attrs().int_or("axis", 0)?, s.ty.rank());
    let sizes = match n.opt_ints(1, "split")? {
        Some(v) => Some(v),
        None => n.attrs().ints("split")?,
    };
    let ones = sizes.as_ref().is_none_or(|v| v.iter().all(|&x| x == 1));
    match &s.kind {
        Kind::HitList { transposed } => {
            let want = if *transposed { 0 } else { 1 };
            let experts = s.r.experts;
            if axis != Some(want) || !ones {
                return Err(refuse(
                    n,
                    "the hit list may only be split into single experts",
                ));
            }
            if outs != experts {
                return Err(refuse(
                    n,
                    format!(
                        "the traced loop over hit experts has {outs} iterations but the router \
                         has {experts} experts: the export runs only when exactly {outs} experts \
                         are hit, and which ones is data; re-export with inputs that route \
                         tokens to every expert"
                    ),
                ));
            }
            // Every expert is hit: the i-th hit expert is expert i.
            Ok((0..experts)
                .map(|i| {
                    let name = n.out(i);
                    b.konst(
                        &name,
                        TensorType::new(DType::I64, [1, 1]),
                        Data::I64(vec![i as i64]),
                    )
                })
                .collect())
        }
        Kind::Pairs {
            e,
            rows,
            transposed: true,
        } if axis == Some(1) && ones && outs == rows.len() => Ok(rows
            .iter()
            .enumerate()
            .map(|(i, &ax)| {
                let kind = Kind::Index {
                    e: *e,
                    lin: Lin::unit(ax),
                    trailing: vec![1],
                };
                let ty = TensorType::new(DType::I64, [s.r.tokens, 1]);
                sym(&s.r, kind, ty, &format!("{}#{i}", n.name))
            })
            .collect()),
        Kind::Pairs {
            e,
            rows,
            transposed: false,
        } if axis == Some(0) && ones && outs == rows.len() => Ok(rows
            .iter()
            .enumerate()
            .map(|(i, &ax)| {
                let kind = Kind::IndexRow {
                    e: *e,
                    lin: Lin::unit(ax),
                };
                let ty = TensorType::new(DType::I64, [1, s.r.tokens]);
                sym(&s.r, kind, ty, &format!("{}#{i}", n.name))
            })
            .collect()),
        _ => Err(misuse(n, s)),
    }
}

/// `Mul`/`Add` on indices over routed pairs (affine index arithmetic) and the gate
/// weighting of an expert's result rows (`Mul` by the pairs' weights).
fn arith(b: &mut Builder, n: &NodeIn) -> Result<Option<Vec<Val>>> {
    let (x, y) = (n.input(0)?, n.input(1)?);
    let mul = n.op() == "Mul";
    let name = n.name.as_str();
    let (sx, sy) = (
        sym_of(&Some(x.clone())).cloned(),
        sym_of(&Some(y.clone())).cloned(),
    );
    match (sx.as_deref(), sy.as_deref()) {
        (Some(a), Some(c)) => match (&a.kind, &c.kind, mul) {
            (
                Kind::Index {
                    e,
                    lin: l1,
                    trailing: t1,
                },
                Kind::Index {
                    e: e2,
                    lin: l2,
                    trailing: t2,
                },
                false,
            ) if e == e2 && t1 == t2 => {
                let lin = Lin {
                    per_token: l1.per_token + l2.per_token,
                    per_choice: l1.per_choice + l2.per_choice,
                    base: l1.base + l2.base,
                };
                let kind = Kind::Index {
                    e: *e,
                    lin,
                    trailing: t1.clone(),
                };
                Ok(Some(vec![sym(&a.r, kind, a.ty.clone(), name)]))
            }
            (Kind::Sum { parts: p1 }, Kind::Sum { parts: p2 }, false) => {
                let mut parts = p1.clone();
                for (e, v) in p2 {
                    if parts.insert(*e, v.clone()).is_some() {
                        return Err(refuse(n, format!("expert {e} is added to the sum twice")));
                    }
                }
                Ok(Some(vec![sym(
                    &a.r,
                    Kind::Sum { parts },
                    a.ty.clone(),
                    name,
                )]))
            }
            _ => Err(misuse(n, a)),
        },
        (Some(s), None) | (None, Some(s)) => {
            let other = if sx.is_some() { &y } else { &x };
            match (&s.kind, mul) {
                (Kind::Index { e, lin, trailing }, _) => {
                    let c = one_int(other).ok_or_else(|| misuse(n, s))?;
                    let lin = if mul {
                        Lin {
                            per_token: lin.per_token * c,
                            per_choice: lin.per_choice * c,
                            base: lin.base * c,
                        }
                    } else {
                        Lin {
                            base: lin.base + c,
                            ..*lin
                        }
                    };
                    let kind = Kind::Index {
                        e: *e,
                        lin,
                        trailing: trailing.clone(),
                    };
                    Ok(Some(vec![sym(&s.r, kind, s.ty.clone(), name)]))
                }
                (Kind::Sum { .. }, false) => {
                    let zero = other.konst().is_some_and(|c| {
                        c.ty.shape == s.ty.shape && c.f64s().iter().all(|&v| v == 0.0)
                    });
                    if !zero {
                        return Ok(None);
                    }
                    Ok(Some(vec![sym(&s.r, s.kind.clone(), s.ty.clone(), name)]))
                }
                (Kind::Weight { e, src }, true) => {
                    weighted(b, n, s, *e, src, other).map(|v| Some(vec![v]))
                }
                _ => Err(misuse(n, s)),
            }
        }
        (None, None) => Ok(None),
    }
}

/// Expert `e`'s result rows `out` times their gate weights.
fn weighted(b: &mut Builder, n: &NodeIn, w: &Sym, e: usize, src: &Val, out: &Val) -> Result<Val> {
    let ot = b.ty(out);
    let dispatch = w.r.dispatch.borrow().get(&e).map(|d| d.1);
    let ok_shape = ot.rank() == w.ty.rank() && ot.rank() >= 2 && ot.shape[0] == w.r.tokens;
    let routed = match (out, dispatch) {
        (Val::Node { v, .. }, Some(d)) => {
            rows_of(&b.g, *v, d, &mut BTreeMap::new()) == Rows::Routed
        }
        _ => false,
    };
    if !ok_shape || !routed {
        return Err(refuse(
            n,
            format!(
                "the gate weights of expert {e}'s pairs may only scale rows computed row by \
                 row from that expert's dispatched tokens (element-wise ops, matmuls by \
                 static weights, slices, quantisation), of shape [{}, …] (got {:?})",
                w.r.tokens, ot.shape
            ),
        ));
    }
    let kind = Kind::Weighted {
        e,
        out: out.clone(),
        src: src.clone(),
    };
    Ok(sym(&w.r, kind, ot, &n.name))
}

/// `Gather` along axis 0 by an index over expert `e`'s pairs: the expert's tokens
/// (a `MoeDispatch`) or its pairs' gate weights.
fn gather_routed(b: &mut Builder, n: &NodeIn, x: &Val, s: &Sym) -> Result<Vec<Val>> {
    let Kind::Index { e, lin, trailing } = &s.kind else {
        return Err(misuse(n, s));
    };
    let r = &s.r;
    let xt = b.ty(x);
    let axis = norm_axis(n.attrs().int_or("axis", 0)?, xt.rank());
    if axis != Some(0) || !trailing.is_empty() || matches!(x, Val::Moe(_)) {
        return Err(misuse(n, s));
    }
    let (t, k) = (r.tokens, r.k);
    if *lin == Lin::unit(Ax::Token) && xt.rank() == 2 && xt.shape[0] == t {
        if let Some((v, _)) = r.dispatch.borrow().get(e) {
            return Ok(vec![v.clone()]);
        }
        let x = b.plain(&n.name, x)?;
        let op = Op::MoeDispatch {
            expert: *e,
            capacity: t,
        };
        let v = b.emit1(&n.name, &n.out(0), op, &[x, r.sel.clone()])?;
        let Val::Node { v: vr, .. } = &v else {
            return Err(refuse(n, "the dispatched tokens folded to a constant"));
        };
        r.dispatch.borrow_mut().insert(*e, (v.clone(), vr.node));
        return Ok(vec![v]);
    }
    let flat = Lin {
        per_token: k as i64,
        per_choice: 1,
        base: 0,
    };
    if *lin == flat
        && xt.rank() >= 1
        && xt.shape[0] == t * k
        && xt.shape[1..].iter().all(|&d| d == 1)
    {
        let mut shape = xt.shape.clone();
        shape[0] = t;
        let kind = Kind::Weight {
            e: *e,
            src: x.clone(),
        };
        return Ok(vec![sym(
            r,
            kind,
            TensorType::new(xt.dtype, shape),
            &n.name,
        )]);
    }
    Err(refuse(
        n,
        format!(
            "a gather by an index over routed pairs must take the tokens ([{t}, H] by token) \
             or the flattened gate weights ([{}, 1] by token * {k} + choice); got data {:?}",
            t * k,
            xt.shape
        ),
    ))
}

/// Materialise the expert sum as one `MoeCombine` (made once per sum value).
fn combine(b: &mut Builder, n: &NodeIn, s: &Sym) -> Result<Val> {
    if let Some(v) = s.combined.borrow().as_ref() {
        return Ok(v.clone());
    }
    let Kind::Sum { parts } = &s.kind else {
        return Err(misuse(n, s));
    };
    let r = &s.r;
    let missing: Vec<usize> = (0..r.experts).filter(|e| !parts.contains_key(e)).collect();
    if !missing.is_empty() {
        return Err(refuse(
            n,
            format!(
                "the expert sum used here ({}) lacks experts {missing:?}",
                s.describe()
            ),
        ));
    }
    // Every part's weights must be the same [T, k] tensor, however reshaped.
    let origins: Vec<Option<ValueRef>> = parts
        .values()
        .map(|(_, src)| match src {
            Val::Node { v, shift: 0 } => Some(reshape_origin(&b.g, *v)),
            _ => None,
        })
        .collect();
    let origin = origins[0];
    let Some(origin) = origin.filter(|_| origins.iter().all(|o| *o == origin)) else {
        return Err(refuse(
            n,
            "the experts' gate weights must all be reshapes of one run-time [tokens, k] tensor",
        ));
    };
    let (t, k) = (r.tokens, r.k);
    let mut w = Val::node(origin);
    if b.ty(&w).shape != [t, k] {
        if b.ty(&w).elems() != (t * k) as u64 {
            return Err(refuse(n, "the gate weights do not hold tokens x k values"));
        }
        let name = b.tmp(&n.name, "gate_weights");
        let shape = vec![t as i64, k as i64];
        w = b.emit1(&n.name, &name, Op::Reshape { shape }, &[w])?;
    }
    let mut ins = vec![r.sel.clone(), w];
    ins.extend(parts.values().map(|(out, _)| out.clone()));
    let name = b.tmp(&n.name, "moe_combine");
    let op = Op::MoeCombine {
        experts: r.experts,
        capacity: t,
    };
    let v = b.emit1(&n.name, &name, op, &ins)?;
    *s.combined.borrow_mut() = Some(v.clone());
    Ok(v)
}

/// The value `v` is a reshape (chain) of.
fn reshape_origin(g: &Graph, mut v: ValueRef) -> ValueRef {
    while let Op::Reshape { .. } = g.node(v.node).op {
        v = g.node(v.node).inputs[0];
    }
    v
}

/// How a value relates to one expert's dispatched rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rows {
    /// Row `i` is computed from dispatch slot `i` only.
    Routed,
    /// Does not depend on the dispatch.
    Static,
    /// Mixes rows, or depends on the dispatch in a way not checked here.
    Mixed,
}

/// Classify `v` against dispatch node `d` (memoised by node).
fn rows_of(g: &Graph, v: ValueRef, d: NodeId, memo: &mut BTreeMap<NodeId, Rows>) -> Rows {
    if v.node == d {
        return Rows::Routed;
    }
    if let Some(&r) = memo.get(&v.node) {
        return r;
    }
    let node = g.node(v.node);
    let ins: Vec<Rows> = node
        .inputs
        .iter()
        .map(|&i| rows_of(g, i, d, memo))
        .collect();
    let r = if ins.contains(&Rows::Mixed) {
        Rows::Mixed
    } else if !ins.contains(&Rows::Routed) {
        Rows::Static
    } else {
        let rank = g.ty(v).rank();
        let routed_first_only =
            ins[0] == Rows::Routed && ins[1..].iter().all(|&r| r == Rows::Static);
        // Static operands must not span the row axis (broadcast from the right).
        let no_row_span = node.inputs.iter().zip(&ins).all(|(&i, &c)| {
            let t = g.ty(i);
            c == Rows::Routed || t.rank() < rank || t.shape.first() == Some(&1)
        });
        let off_rows = |axis: i64| norm_axis(axis, rank).is_some_and(|a| a != 0);
        let ok = match &node.op {
            op if op.is_unary() || op.is_binary() => no_row_span,
            Op::Where | Op::Cast { .. } | Op::Quantize { .. } | Op::Dequantize { .. } => {
                no_row_span
            }
            Op::MatMul | Op::QMatMul => routed_first_only && g.ty(node.inputs[0]).rank() == 2,
            Op::Slice { axes, .. } => {
                routed_first_only && !axes.is_empty() && axes.iter().all(|&a| off_rows(a))
            }
            Op::Split { axis, .. } | Op::Softmax { axis } => routed_first_only && off_rows(*axis),
            Op::Reshape { .. } => {
                routed_first_only && g.ty(node.inputs[0]).shape.first() == g.ty(v).shape.first()
            }
            _ => false,
        };
        if ok { Rows::Routed } else { Rows::Mixed }
    };
    memo.insert(v.node, r);
    r
}
