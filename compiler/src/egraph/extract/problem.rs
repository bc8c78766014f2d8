//! The extraction problem: for every value class reachable from the roots, the
//! choices that compute it, each with its cost, the classes it reads and in which
//! memory; and the cost of a whole assignment (one choice per class).
//!
//! Choices:
//! - a source (free, laid out wherever its readers need it);
//! - `(on t a)` with one op e-node of `a` — a **kernel** when operands are `(inl a')`
//!   classes, expanded into the ops computed inside it (at most
//!   [`KERNEL_DEPTH_LIMIT`] deep and [`KERNEL_VARIANT_LIMIT`] variants per e-node);
//!   a layout op that only reads parameters is **prepacked** (done once at load
//!   time: free, left anywhere);
//! - `(out k v)`, one output of a multi-output value;
//! - `(par spec a)`, a matmul in two concurrent parts: time is the slower part's
//!   (its result read out to DRAM included), energy the sum.
//!
//! An assignment costs the sum of its reachable choices plus one transfer per
//! (value, memory it is read in) pair, graph outputs being read in DRAM; a cyclic
//! assignment has no cost.

use std::collections::{BTreeMap, BTreeSet};

use egg::Id;

use crate::data::TensorType;
use crate::egraph::Converted;
use crate::egraph::analysis::{ClassInfo, TensorGraph};
use crate::egraph::cost::{CostModel, Estimate, KernelPart, is_layout};
use crate::egraph::lang::{Memory, OpCode, SplitAxis, SplitSpec, Target, TensorLang};
use crate::error::{Error, Result};
use crate::infer::infer;
use crate::op::Op;

/// Most ops inlined below a kernel's root.
pub const KERNEL_DEPTH_LIMIT: usize = 3;
/// Most kernels one op e-node expands to.
pub const KERNEL_VARIANT_LIMIT: usize = 8;

/// An operand of a kernel op.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Arg {
    /// The choice's `children[i]` (read from memory).
    Ext(usize),
    /// The result of the kernel's `ops[i]` (computed inside).
    Inner(usize),
}

/// One op of a kernel.
#[derive(Clone, Debug)]
pub(crate) struct KOp {
    pub code: OpCode,
    pub args: Vec<Arg>,
    /// Its abstract class (for names and origins).
    pub class: Id,
    pub outs: Vec<TensorType>,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Source(OpCode),
    /// Ops in post-order, the last one the root (one op unless fused).
    Place {
        target: Target,
        ops: Vec<KOp>,
        prepacked: bool,
    },
    Out(u32),
    Par {
        spec: SplitSpec,
        code: OpCode,
        class: Id,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Choice {
    pub kind: Kind,
    pub children: Vec<usize>,
    /// (child class, memory it is read in).
    pub reads: Vec<(usize, Memory)>,
    pub cost: Estimate,
}

impl Choice {
    /// A key that ignores the target of placed ops (for enumerating distinct
    /// computations).
    pub fn structure(&self) -> String {
        let k = match &self.kind {
            Kind::Source(c) => format!("src{c}"),
            Kind::Place { ops, .. } => ops
                .iter()
                .map(|o| format!("{}{:?}", o.code, o.args))
                .collect::<Vec<_>>()
                .join(","),
            Kind::Out(p) => format!("out{p}"),
            // A split's targets are kept: which engines share the work is its point.
            Kind::Par { spec, code, .. } => format!("par{spec}{code}"),
        };
        format!("{k}{:?}", self.children)
    }
}

/// The parts of a split matmul: per part, operand and result types.
pub(crate) fn split_parts(
    spec: &SplitSpec,
    x: &TensorType,
    w: &TensorType,
) -> Option<[(Vec<TensorType>, TensorType); 2]> {
    let part = |lo: usize, hi: usize| -> Option<(Vec<TensorType>, TensorType)> {
        let (xp, wp) = match spec.axis {
            SplitAxis::Cols => {
                let mut s = w.shape.clone();
                *s.get_mut(1)? = hi - lo;
                (x.clone(), TensorType::new(w.dtype, s))
            }
            SplitAxis::Rows => {
                let mut s = x.shape.clone();
                let r = s.len().checked_sub(2)?;
                s[r] = hi - lo;
                (TensorType::new(x.dtype, s), w.clone())
            }
        };
        let out = infer(&Op::MatMul, &[&xp, &wp]).ok()?.pop()?;
        Some((vec![xp, wp], out))
    };
    let len = match spec.axis {
        SplitAxis::Cols => *w.shape.get(1)?,
        SplitAxis::Rows => x.shape[x.rank().checked_sub(2)?],
    };
    let n1 = spec.first_len(len);
    if n1 == 0 || n1 >= len {
        return None;
    }
    Some([part(0, n1)?, part(n1, len)?])
}

/// The cost of a split matmul's parts run concurrently (see the module doc).
pub(crate) fn split_cost(
    model: &CostModel,
    spec: &SplitSpec,
    x: &TensorType,
    w: &TensorType,
) -> Option<Estimate> {
    let parts = split_parts(spec, x, w)?;
    let mut time: f64 = 0.0;
    let mut energy = Estimate::default();
    for ((ins, out), t) in parts.iter().zip([spec.first, spec.second]) {
        let refs: Vec<&TensorType> = ins.iter().collect();
        let mut c = model.op_cost(t, &Op::MatMul, &refs, std::slice::from_ref(out))?;
        c = c.plus(model.transfer(out.bytes(), t.home(), Memory::Dram));
        time = time.max(c.time_ps);
        energy = energy.plus(c);
    }
    Some(Estimate {
        time_ps: time,
        energy: energy.energy,
    })
}

/// A kernel as a tree before it is flattened.
enum Tree {
    Ext(Id),
    Op {
        code: OpCode,
        class: Id,
        args: Vec<Tree>,
    },
}

fn inl_of(eg: &TensorGraph, c: Id) -> Option<Id> {
    eg[c].nodes.iter().find_map(|n| match n {
        TensorLang::Inl(a) => Some(eg.find(*a)),
        _ => None,
    })
}

/// Every kernel rooted at op e-node `(code ch)` of abstract class `class`.
fn expand(eg: &TensorGraph, code: OpCode, ch: &[Id], class: Id, depth: usize) -> Vec<Tree> {
    let mut alts: Vec<Vec<Tree>> = vec![vec![]];
    for &c in ch {
        let options: Vec<Tree> = match inl_of(eg, c) {
            Some(a) if depth < KERNEL_DEPTH_LIMIT => eg[a]
                .nodes
                .iter()
                .filter_map(|n| match n {
                    TensorLang::Op(k, kch) if !kch.is_empty() => Some((*k, kch.clone())),
                    _ => None,
                })
                .flat_map(|(k, kch)| expand(eg, k, &kch, a, depth + 1))
                .collect(),
            Some(_) => vec![],
            None => vec![Tree::Ext(eg.find(c))],
        };
        let mut next = Vec::new();
        'outer: for prefix in &alts {
            for o in &options {
                if next.len() >= KERNEL_VARIANT_LIMIT {
                    break 'outer;
                }
                let mut p: Vec<Tree> = prefix.iter().map(clone_tree).collect();
                p.push(clone_tree(o));
                next.push(p);
            }
        }
        alts = next;
    }
    alts.into_iter()
        .map(|args| Tree::Op { code, class, args })
        .collect()
}

fn clone_tree(t: &Tree) -> Tree {
    match t {
        Tree::Ext(c) => Tree::Ext(*c),
        Tree::Op { code, class, args } => Tree::Op {
            code: *code,
            class: *class,
            args: args.iter().map(clone_tree).collect(),
        },
    }
}

/// Flatten a kernel tree: ops in post-order and the external classes read.
fn flatten(eg: &TensorGraph, t: &Tree, ops: &mut Vec<KOp>, ext: &mut Vec<Id>) -> Option<Arg> {
    match t {
        Tree::Ext(c) => {
            ext.push(*c);
            Some(Arg::Ext(ext.len() - 1))
        }
        Tree::Op { code, class, args } => {
            let args = args
                .iter()
                .map(|a| flatten(eg, a, ops, ext))
                .collect::<Option<Vec<_>>>()?;
            let ClassInfo::Types(outs) = &eg[*class].data else {
                return None;
            };
            ops.push(KOp {
                code: *code,
                args,
                class: *class,
                outs: outs.clone(),
            });
            Some(Arg::Inner(ops.len() - 1))
        }
    }
}

pub(crate) fn leaf_target(eg: &TensorGraph, id: Id) -> Option<Target> {
    eg[id].nodes.iter().find_map(|n| match n {
        TensorLang::Target(t) => Some(*t),
        _ => None,
    })
}

fn leaf_port(eg: &TensorGraph, id: Id) -> Option<u32> {
    eg[id].nodes.iter().find_map(|n| match n {
        TensorLang::Port(p) => Some(*p),
        _ => None,
    })
}

fn leaf_split(eg: &TensorGraph, id: Id) -> Option<SplitSpec> {
    eg[id].nodes.iter().find_map(|n| match n {
        TensorLang::Split(s) => Some(*s),
        _ => None,
    })
}

/// Whether value class `c` is only ever a weight or constant.
fn parameter_only(eg: &TensorGraph, c: Id) -> bool {
    eg[c].nodes.iter().all(|n| match n {
        TensorLang::Op(code, ch) if ch.is_empty() => matches!(
            eg.analysis.ops.get(*code).op,
            Op::Weight { .. } | Op::Constant { .. }
        ),
        _ => false,
    })
}

/// The extraction problem over the value classes reachable from the roots.
pub(crate) struct Problem<'a> {
    pub model: &'a CostModel,
    pub classes: Vec<Id>,
    pub types: Vec<TensorType>,
    pub options: Vec<Vec<Choice>>,
    pub roots: Vec<usize>,
}

impl<'a> Problem<'a> {
    pub fn build(conv: &Converted, model: &'a CostModel) -> Result<Self> {
        let eg = &conv.egraph;
        let mut index: BTreeMap<Id, usize> = BTreeMap::new();
        let mut classes = Vec::new();
        let mut queue: Vec<Id> = Vec::new();
        let mut visit = |id: Id, classes: &mut Vec<Id>, queue: &mut Vec<Id>| -> usize {
            let id = eg.find(id);
            *index.entry(id).or_insert_with(|| {
                classes.push(id);
                queue.push(id);
                classes.len() - 1
            })
        };
        let roots: Vec<usize> = conv
            .roots
            .iter()
            .map(|&r| visit(r, &mut classes, &mut queue))
            .collect();
        let mut options: Vec<Vec<Choice>> = Vec::new();
        let mut types = Vec::new();
        let mut next = 0;
        while next < queue.len() {
            let v = queue[next];
            next += 1;
            // A multi-output class is only read through `(out k v)`, which moves
            // nothing itself: its first type stands for it.
            let ty = match &eg[v].data {
                ClassInfo::Types(t) => t.first().cloned(),
                _ => None,
            }
            .ok_or_else(|| Error::Type {
                node: format!("{}/class{v}", conv.name),
                op: "e-class",
                reason: format!("a value class is not one valid tensor: {:?}", eg[v].data),
            })?;
            let mut opts = Vec::new();
            for node in &eg[v].nodes {
                match node {
                    TensorLang::Op(code, ch)
                        if ch.is_empty() && eg.analysis.ops.get(*code).source.is_some() =>
                    {
                        opts.push(Choice {
                            kind: Kind::Source(*code),
                            children: vec![],
                            reads: vec![],
                            cost: Estimate::default(),
                        });
                    }
                    TensorLang::On([t, a]) => {
                        let Some(target) = leaf_target(eg, *t) else {
                            continue;
                        };
                        let a = eg.find(*a);
                        for n in &eg[a].nodes {
                            let TensorLang::Op(code, ch) = n else {
                                continue;
                            };
                            for tree in expand(eg, *code, ch, a, 0) {
                                let (mut ops, mut ext) = (Vec::new(), Vec::new());
                                if flatten(eg, &tree, &mut ops, &mut ext).is_none() {
                                    continue;
                                }
                                let Some(ext_tys) = ext
                                    .iter()
                                    .map(|c| eg[*c].data.single())
                                    .collect::<Option<Vec<_>>>()
                                else {
                                    continue;
                                };
                                let Some(cost) = kernel_cost(eg, model, target, &ops, &ext_tys)
                                else {
                                    continue;
                                };
                                let prepacked = ops.len() == 1
                                    && is_layout(&eg.analysis.ops.get(ops[0].code).op)
                                    && ext.iter().all(|&c| parameter_only(eg, c));
                                let children: Vec<usize> = ext
                                    .iter()
                                    .map(|&c| visit(c, &mut classes, &mut queue))
                                    .collect();
                                let reads = if prepacked {
                                    vec![]
                                } else {
                                    children.iter().map(|&c| (c, target.home())).collect()
                                };
                                opts.push(Choice {
                                    kind: Kind::Place {
                                        target,
                                        ops,
                                        prepacked,
                                    },
                                    children,
                                    reads,
                                    cost: if prepacked { Estimate::default() } else { cost },
                                });
                            }
                        }
                    }
                    TensorLang::Out([p, e]) => {
                        let Some(port) = leaf_port(eg, *p) else {
                            continue;
                        };
                        let child = visit(*e, &mut classes, &mut queue);
                        opts.push(Choice {
                            kind: Kind::Out(port),
                            children: vec![child],
                            reads: vec![],
                            cost: Estimate::default(),
                        });
                    }
                    TensorLang::Par([s, a]) => {
                        let Some(spec) = leaf_split(eg, *s) else {
                            continue;
                        };
                        let a = eg.find(*a);
                        for n in &eg[a].nodes {
                            let TensorLang::Op(code, ch) = n else {
                                continue;
                            };
                            if !matches!(eg.analysis.ops.get(*code).op, Op::MatMul) {
                                continue;
                            }
                            let [x, w] = ch.as_slice() else { continue };
                            let (Some(xt), Some(wt)) = (eg[*x].data.single(), eg[*w].data.single())
                            else {
                                continue;
                            };
                            let Some(cost) = split_cost(model, &spec, xt, wt) else {
                                continue;
                            };
                            let xi = visit(*x, &mut classes, &mut queue);
                            let wi = visit(*w, &mut classes, &mut queue);
                            opts.push(Choice {
                                kind: Kind::Par {
                                    spec,
                                    code: *code,
                                    class: a,
                                },
                                children: vec![xi, wi],
                                reads: vec![
                                    (xi, spec.first.home()),
                                    (xi, spec.second.home()),
                                    (wi, spec.first.home()),
                                    (wi, spec.second.home()),
                                ],
                                cost,
                            });
                        }
                    }
                    _ => {}
                }
            }
            if opts.is_empty() {
                return Err(Error::Type {
                    node: format!("{}/class{v}", conv.name),
                    op: "e-class",
                    reason: "no target of the arch can compute this value".into(),
                });
            }
            options.push(opts);
            types.push(ty);
        }
        Ok(Problem {
            model,
            classes,
            types,
            options,
            roots,
        })
    }

    /// Post-order of the classes reachable under `assign`, or `None` on a cycle.
    pub fn order(&self, assign: &[usize]) -> Option<Vec<usize>> {
        // 0 unvisited, 1 on the stack, 2 done
        let mut state = vec![0u8; self.classes.len()];
        let mut order = Vec::new();
        for &r in &self.roots {
            if state[r] != 0 {
                continue;
            }
            let mut stack = vec![(r, 0usize)];
            state[r] = 1;
            while let Some(&mut (c, ref mut i)) = stack.last_mut() {
                let ch = &self.options[c][assign[c]].children;
                if *i < ch.len() {
                    let k = ch[*i];
                    *i += 1;
                    match state[k] {
                        0 => {
                            state[k] = 1;
                            stack.push((k, 0));
                        }
                        1 => return None,
                        _ => {}
                    }
                } else {
                    state[c] = 2;
                    order.push(c);
                    stack.pop();
                }
            }
        }
        Some(order)
    }

    /// Memory a choice leaves its value in, given its children's (`None`: anywhere).
    pub fn home_of(&self, ch: &Choice, res: &[Option<Memory>]) -> Option<Memory> {
        match &ch.kind {
            Kind::Source(_) => None,
            Kind::Place {
                prepacked: true, ..
            } => None,
            Kind::Place { target, .. } => Some(target.home()),
            Kind::Out(_) => res[ch.children[0]],
            Kind::Par { .. } => Some(Memory::Dram),
        }
    }

    /// Memory each reachable class is left in.
    pub fn residency(&self, assign: &[usize], order: &[usize]) -> Vec<Option<Memory>> {
        let mut res = vec![None; self.classes.len()];
        for &c in order {
            res[c] = self.home_of(&self.options[c][assign[c]], &res);
        }
        res
    }

    /// (value, memory) pairs read in another memory than they were left in.
    pub fn transfers(
        &self,
        assign: &[usize],
        order: &[usize],
        res: &[Option<Memory>],
    ) -> BTreeSet<(usize, Memory)> {
        let mut need = BTreeSet::new();
        for &c in order {
            for &(u, m) in &self.options[c][assign[c]].reads {
                if res[u].is_some_and(|r| r != m) {
                    need.insert((u, m));
                }
            }
        }
        for &r in &self.roots {
            if res[r].is_some_and(|m| m != Memory::Dram) {
                need.insert((r, Memory::Dram));
            }
        }
        need
    }

    pub fn cost(&self, assign: &[usize]) -> Option<Estimate> {
        let order = self.order(assign)?;
        let res = self.residency(assign, &order);
        let mut total = Estimate::default();
        for &c in &order {
            total = total.plus(self.options[c][assign[c]].cost);
        }
        for (u, to) in self.transfers(assign, &order, &res) {
            let from = res[u].unwrap_or(to);
            total = total.plus(self.model.transfer(self.types[u].bytes(), from, to));
        }
        Some(total)
    }

    pub fn space(&self) -> u64 {
        self.options
            .iter()
            .fold(1u64, |acc, o| acc.saturating_mul(o.len() as u64))
    }
}

/// The cost of kernel `ops` on `target` whose external operands have types `ext`.
fn kernel_cost(
    eg: &TensorGraph,
    model: &CostModel,
    target: Target,
    ops: &[KOp],
    ext: &[&TensorType],
) -> Option<Estimate> {
    let ins: Vec<Vec<&TensorType>> = ops
        .iter()
        .map(|o| {
            o.args
                .iter()
                .map(|a| match a {
                    Arg::Ext(i) => ext.get(*i).copied(),
                    Arg::Inner(i) => ops.get(*i).and_then(|k| k.outs.first()),
                })
                .collect::<Option<Vec<_>>>()
        })
        .collect::<Option<Vec<_>>>()?;
    let inner: Vec<Vec<bool>> = ops
        .iter()
        .map(|o| o.args.iter().map(|a| matches!(a, Arg::Inner(_))).collect())
        .collect();
    let last = ops.len().checked_sub(1)?;
    let parts: Vec<KernelPart<'_>> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| KernelPart {
            op: &eg.analysis.ops.get(o.code).op,
            ins: &ins[i],
            outs: &o.outs,
            inner: &inner[i],
            out_inner: i != last,
        })
        .collect();
    model.kernel_cost(target, &parts)
}
