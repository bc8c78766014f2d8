//! Lowering: a placed, scheduled graph becomes a [`triad_isa::Program`].
//!
//! ```text
//! PlacedGraph + Schedule --kernels--> instructions on DRAM operands (kernels.rs)
//!    CPU: as they are, on the op's core          NPU: staged, tiled, double-buffered (npu.rs)
//!    PIM: GEMVs on weights laid out per channel (pim.rs)
//!    memory plan (memory.rs), semaphores and labels (sync.rs)
//!    weight layouts computed at compile time (prepack.rs)
//!    NPU fusion groups as one kernel, intermediates in the scratchpad (fuse.rs)
//! ```
//!
//! Every graph value gets a DRAM buffer named after it: graph inputs are `.input`
//! ports and outputs `.output` ports under the graph's value names; weights and
//! constants carry `.init` equal to the graph's `Init` (`uniform=…, seed=…` for
//! random ones, the program's data file for explicit data and PIM layouts), so a
//! functional run computes what the reference interpreter computes. A `Reshape` is
//! a buffer alias of its input, no instruction.
//!
//! Each op runs on the target the e-graph placed it on when that target can run its
//! instructions (the arch's capabilities, the scratchpad size, the PIM layout);
//! otherwise on the CPU, or when the arch has none on the NPU; each such fallback is
//! reported in [`LowerStats::fallbacks`]. Fails with [`Error::Lower`] naming the node
//! when no engine of the arch runs it.

mod fuse;
mod kernels;
mod layout;
mod memory;
mod npu;
mod pim;
mod prepack;
mod sync;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use triad_isa::{
    Arch, BufId, Buffer, Bytes, Capability, DType, Engine, InitData, Instruction, Memory, Meta,
    PimEwAdd, PimEwMul, Program, Unit, Values,
};

use crate::data::{Data, Init};
use crate::egraph::{Config, Optimized, PlacedGraph, Target, optimize};
use crate::error::{Error, Result};
use crate::graph::{Graph, Node, NodeId, ValueRef};
use crate::op::Op;
use crate::schedule::{Schedule, schedule};

pub use kernels::Place;
pub use pim::DATA_LIMIT;

use kernels::Kernel;
use memory::{Plan, Touched};
use npu::Npu;
use pim::Pim;
use sync::OpParts;

/// Lowering settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LowerConfig {
    /// Model description for the program's metadata.
    pub model: String,
    /// Name of the data file `.init file=` entries refer to (next to the program).
    pub data_file: String,
}

impl Default for LowerConfig {
    fn default() -> Self {
        LowerConfig {
            model: String::new(),
            data_file: "data.bin".into(),
        }
    }
}

/// An op that ran on another target than the one it was placed on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fallback {
    /// Node name.
    pub node: String,
    /// Target of the placement.
    pub placed: Target,
    /// Target it was lowered on.
    pub lowered: Target,
    /// Why.
    pub reason: String,
}

/// What lowering did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LowerStats {
    /// Ops lowered per target.
    pub ops: BTreeMap<Target, usize>,
    /// Ops lowered elsewhere than placed.
    pub fallbacks: Vec<Fallback>,
    /// Bytes of the static DRAM region (weights, constants, inputs, PIM layouts).
    pub static_bytes: u64,
    /// Bytes of the activation arena.
    pub arena_bytes: u64,
    /// Most arena bytes live at once.
    pub arena_peak: u64,
    /// NPU double-buffered steps.
    pub npu_steps: usize,
    /// Cross-engine dependency semaphores.
    pub dep_sems: usize,
    /// Buffers left without `.init` because the data file would pass [`DATA_LIMIT`].
    pub uninitialised: Vec<String>,
    /// Load-time layout ops (weight concatenations and slices) computed at compile
    /// time into weight buffers instead of run on every step.
    pub prepacked: usize,
    /// Fused kernels lowered as one NPU kernel (intermediates in the scratchpad).
    pub fused: usize,
    /// Every lowered op or fused kernel in program order: its nodes, the label
    /// naming it in the program (one label per op or kernel; a `Reshape` is an alias
    /// and has none) and the target it was lowered on.
    pub labels: Vec<OpLabel>,
}

/// The label of one lowered op or fused kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpLabel {
    /// Node names in the placed graph: one op, or a fused kernel's ops in order.
    pub nodes: Vec<String>,
    /// Label in the program's streams.
    pub label: String,
    /// Target it was lowered on (the placed one unless it fell back).
    pub target: Target,
}

/// A lowered program and its data file.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The program.
    pub program: Program,
    /// Contents of the data file [`LowerConfig::data_file`] (empty: none needed).
    pub data: Vec<u8>,
    /// Report.
    pub stats: LowerStats,
}

/// One DRAM allocation shared by a value and its reshapes.
#[derive(Clone, Debug)]
struct Alloc {
    /// Arena offset, or `None` for the static region.
    arena: Option<u64>,
    bytes: u64,
    remaining: usize,
    permanent: bool,
    writer: Option<usize>,
    touched: Touched,
}

/// The lowering state; kernel generation (`kernels.rs`) adds temporaries through it.
pub(crate) struct Lowerer<'a> {
    arch: &'a Arch,
    prog: Program,
    plan: Plan,
    data: Vec<u8>,
    config: &'a LowerConfig,
    stats: LowerStats,
    arena_root: BufId,
    arena_bufs: Vec<(BufId, u64)>,
    names: BTreeSet<String>,
    zeros: BTreeMap<DType, (Place, u64)>,
    node: String,
    op: &'static str,
    /// Target the current op was lowered on.
    lowered_on: Target,
    temps: Vec<(u64, u64)>,
    deps: BTreeSet<usize>,
}

fn identifier(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// Bytes of the buffer [`Lowerer::declare`] declares for `shape` (a zero dim is
/// declared as 1: the ISA has no empty buffers).
fn decl_bytes(dtype: DType, shape: &[usize]) -> u64 {
    dtype.bytes_for(shape.iter().map(|&d| d.max(1) as u64).product())
}

fn to_values(d: Data) -> Values {
    match d {
        Data::F32(v) => Values::F32(v),
        Data::I64(v) => Values::I64(v),
        Data::Bool(v) => Values::Bool(v),
    }
}

impl<'a> Lowerer<'a> {
    pub(crate) fn err(&self, reason: impl Into<String>) -> Error {
        Error::Lower {
            node: self.node.clone(),
            op: self.op,
            arch: self.arch.name.clone(),
            reason: reason.into(),
        }
    }

    fn unique(&mut self, base: &str) -> String {
        let base = identifier(base);
        let mut name = base.clone();
        let mut i = 1;
        while !self.names.insert(name.clone()) {
            name = format!("{base}_{i}");
            i += 1;
        }
        name
    }

    fn declare(
        &mut self,
        name: &str,
        addr: u64,
        dtype: DType,
        shape: &[usize],
        alias: Option<BufId>,
        init: Option<InitData>,
    ) -> BufId {
        let name = self.unique(name);
        self.prog.push_buffer(Buffer {
            name,
            mem: Memory::Dram,
            addr: Bytes(addr),
            shape: if shape.is_empty() {
                vec![1]
            } else {
                shape.iter().map(|&d| d.max(1) as u64).collect()
            },
            dtype,
            alias,
            init,
        })
    }

    /// Bytes written into the data file; `None` past [`DATA_LIMIT`].
    /// Whether `bytes` more bytes of data fit under [`DATA_LIMIT`] (checked before
    /// materialising a weight, so a 7B model's weights past the limit cost nothing).
    fn data_fits(&self, bytes: u64) -> bool {
        self.data.len() as u64 + bytes <= DATA_LIMIT
    }

    fn put_data(&mut self, bytes: &[u8]) -> Option<InitData> {
        if !self.data_fits(bytes.len() as u64) {
            return None;
        }
        let offset = self.data.len() as u64;
        self.data.extend_from_slice(bytes);
        Some(InitData::File {
            path: self.config.data_file.clone(),
            offset: Bytes(offset),
        })
    }

    /// A static buffer holding explicit values.
    pub(crate) fn constant(&mut self, dtype: DType, values: Values) -> Result<Place> {
        let n = values.len();
        let bytes = values.to_bytes(dtype);
        let addr = self.plan.alloc_static(bytes.len() as u64);
        let init = self.put_data(&bytes);
        let buf = self.declare("const", addr, dtype, &[n], None, init);
        Ok(Place {
            buf,
            dtype,
            shape: vec![n],
        })
    }

    /// A static buffer of at least `n` zeros of `dtype`.
    pub(crate) fn zeros(&mut self, dtype: DType, n: u64) -> Result<Place> {
        if let Some((p, have)) = self.zeros.get(&dtype)
            && *have >= n
        {
            return Ok(p.clone());
        }
        let addr = self.plan.alloc_static(dtype.bytes_for(n));
        let init = InitData::Uniform {
            seed: 0,
            low: 0.0,
            high: 0.0,
        };
        let buf = self.declare(
            &format!("zeros_{dtype}"),
            addr,
            dtype,
            &[n as usize],
            None,
            Some(init),
        );
        let p = Place {
            buf,
            dtype,
            shape: vec![n as usize],
        };
        self.zeros.insert(dtype, (p.clone(), n));
        Ok(p)
    }

    /// An arena buffer freed after the current op.
    pub(crate) fn temp(&mut self, dtype: DType, shape: &[usize]) -> Result<Place> {
        let bytes = decl_bytes(dtype, shape);
        let (off, touched) = self.plan.alloc(bytes);
        self.deps.extend(touched);
        self.temps.push((off, bytes));
        let buf = self.arena_buffer(&format!("{}.tmp", self.node), off, dtype, shape);
        Ok(Place {
            buf,
            dtype,
            shape: shape.to_vec(),
        })
    }

    fn arena_buffer(&mut self, name: &str, off: u64, dtype: DType, shape: &[usize]) -> BufId {
        let root = self.arena_root;
        let id = self.declare(name, off, dtype, shape, Some(root), None);
        self.arena_bufs.push((id, off));
        id
    }
}

/// Whether every instruction runs on `engine`.
fn runs_all(arch: &Arch, engine: Engine, insns: &[Instruction]) -> bool {
    insns.iter().all(|i| {
        let (cap, dtype) = Capability::of(i);
        arch.supports(Unit::of(engine), cap, dtype).is_ok()
    })
}

/// Lower `placed` in `schedule`'s order for `arch` (see the module doc).
pub fn lower(
    placed: &PlacedGraph,
    schedule: &Schedule,
    arch: &Arch,
    config: &LowerConfig,
) -> Result<Lowered> {
    let g = &placed.graph;
    let pim = Pim::new(arch);
    let mut npu = Npu::new(arch);
    let align = pim
        .as_ref()
        .map_or(arch.dram.burst_bytes(), |p| p.bank_period())
        .max(64);
    let mut prog = Program {
        meta: Meta {
            model: config.model.clone(),
            arch: arch.name.clone(),
            compiler: format!("triad-compiler {}", env!("CARGO_PKG_VERSION")),
        },
        ..Program::default()
    };
    let arena_root = prog.push_buffer(Buffer {
        name: "arena".into(),
        mem: Memory::Dram,
        addr: Bytes(0),
        shape: vec![1],
        dtype: DType::I8,
        alias: None,
        init: None,
    });
    let mut lw = Lowerer {
        arch,
        prog,
        plan: Plan::new(align),
        data: Vec::new(),
        config,
        stats: LowerStats::default(),
        arena_root,
        arena_bufs: Vec::new(),
        names: BTreeSet::from(["arena".to_string(), "spm".to_string()]),
        zeros: BTreeMap::new(),
        node: String::new(),
        op: "",
        lowered_on: Target::Cpu,
        temps: Vec::new(),
        deps: BTreeSet::new(),
    };
    // Uses of every value; graph outputs are never freed.
    let mut uses: BTreeMap<ValueRef, usize> = BTreeMap::new();
    for id in g.node_ids() {
        for v in &g.node(id).inputs {
            *uses.entry(*v).or_default() += 1;
        }
    }
    let outputs: BTreeSet<ValueRef> = g.outputs().iter().copied().collect();
    let mut allocs: Vec<Alloc> = Vec::new();
    let mut vals: BTreeMap<ValueRef, (Place, usize)> = BTreeMap::new();

    // Sources and load-time layout: static region.
    let pre = prepack::Prepack::new(g, &placed.prepacked)?;
    for id in g.topo_order()? {
        let n = g.node(id);
        if !n.op.is_source() && !pre.computed.contains(&id) || pre.unread.contains(&id) {
            continue;
        }
        let v = ValueRef { node: id, port: 0 };
        let ty = &n.outputs[0].ty;
        let bytes = decl_bytes(ty.dtype, &ty.shape);
        let addr = lw.plan.alloc_static(bytes);
        let init = match &n.op {
            _ if pre.computed.contains(&id) => {
                lw.node = n.name.clone();
                lw.op = n.op.name();
                lw.stats.prepacked += 1;
                let fits = (lw.data.len() as u64).saturating_add(ty.bytes()) <= DATA_LIMIT;
                let i = if fits {
                    let t = pre.value(g, id, &mut BTreeMap::new())?;
                    lw.put_data(&to_values(t.to_data()).to_bytes(ty.dtype))
                } else {
                    None
                };
                if i.is_none() {
                    lw.stats.uninitialised.push(n.name.clone());
                }
                i
            }
            Op::Weight { init } | Op::Constant { init } => match init {
                Init::Uniform { seed, low, high } => Some(InitData::Uniform {
                    seed: *seed,
                    low: *low,
                    high: *high,
                }),
                Init::Data(d) => {
                    let b = to_values(d.clone()).to_bytes(ty.dtype);
                    let i = lw.put_data(&b);
                    if i.is_none() {
                        lw.stats.uninitialised.push(n.name.clone());
                    }
                    i
                }
            },
            _ => None,
        };
        let buf = lw.declare(&n.outputs[0].name, addr, ty.dtype, &ty.shape, None, init);
        if matches!(n.op, Op::Input { .. }) {
            lw.prog.push_input(n.outputs[0].name.clone(), buf);
        }
        allocs.push(Alloc {
            arena: None,
            bytes,
            remaining: usize::MAX,
            permanent: true,
            writer: None,
            touched: Touched::new(),
        });
        vals.insert(
            v,
            (
                Place {
                    buf,
                    dtype: ty.dtype,
                    shape: ty.shape.clone(),
                },
                allocs.len() - 1,
            ),
        );
    }

    let mut ops: Vec<OpParts> = Vec::new();
    let mut labels: BTreeSet<String> = BTreeSet::new();
    let groups = fuse::groups(placed, &uses, &outputs, &pre.computed);
    let mut done_in_kernel: BTreeSet<NodeId> = BTreeSet::new();
    for id in fuse::order(&schedule.order, &groups) {
        if pre.computed.contains(&id) || done_in_kernel.contains(&id) {
            continue;
        }
        if let Some(group) = groups.iter().find(|grp| grp[0] == id) {
            let i = ops.len();
            lw.temps.clear();
            let kernel = fuse::lower(
                &mut lw,
                &mut npu,
                g,
                group,
                &mut allocs,
                &mut vals,
                &uses,
                &outputs,
                i,
            )?;
            if let Some(f) = kernel {
                let mut parts = f.parts;
                parts.deps = std::mem::take(&mut lw.deps);
                parts.deps.remove(&i);
                parts.label = unique_label(&mut labels, &fuse::label(g, group));
                lw.stats.labels.push(OpLabel {
                    nodes: group.iter().map(|&id| g.node(id).name.clone()).collect(),
                    label: parts.label.clone(),
                    target: Target::Npu,
                });
                ops.push(parts);
                let out = allocs.len() - 1;
                finish_op(&mut lw, &mut allocs, &f.in_allocs, out, i);
                done_in_kernel.extend(group.iter().copied());
                continue;
            }
        }
        let n = g.node(id);
        lw.node = n.name.clone();
        lw.op = n.op.name();
        let ins: Vec<Place> = n.inputs.iter().map(|v| vals[v].0.clone()).collect();
        let in_allocs: Vec<usize> = n.inputs.iter().map(|v| vals[v].1).collect();
        if let Op::Reshape { .. } = n.op {
            let a = in_allocs[0];
            let out = &n.outputs[0];
            let src = &ins[0];
            let buf = match allocs[a].arena {
                Some(off) => lw.arena_buffer(&out.name, off, out.ty.dtype, &out.ty.shape),
                None => {
                    let addr = lw.prog.buffers[src.buf.0 as usize].addr.0;
                    lw.declare(
                        &out.name,
                        addr,
                        out.ty.dtype,
                        &out.ty.shape,
                        Some(src.buf),
                        None,
                    )
                }
            };
            let v = ValueRef { node: id, port: 0 };
            allocs[a].remaining = allocs[a]
                .remaining
                .saturating_add(uses.get(&v).copied().unwrap_or(0));
            allocs[a].permanent |= outputs.contains(&v);
            vals.insert(
                v,
                (
                    Place {
                        buf,
                        dtype: out.ty.dtype,
                        shape: out.ty.shape.clone(),
                    },
                    a,
                ),
            );
            release(&mut lw, &mut allocs, a);
            continue;
        }
        let i = ops.len();
        lw.deps = in_allocs.iter().filter_map(|&a| allocs[a].writer).collect();
        lw.temps.clear();
        // Outputs.
        let mut outs = Vec::new();
        for (port, o) in n.outputs.iter().enumerate() {
            let v = ValueRef {
                node: id,
                port: port as u32,
            };
            let p = alloc_result(&mut lw, &mut allocs, &mut vals, &uses, &outputs, v, o, i);
            outs.push(p);
        }
        let target = placed.placement.get(&id).copied().unwrap_or(Target::Cpu);
        let core = schedule.core.get(&id).copied().unwrap_or(0);
        let mut parts = lower_op(
            &mut lw,
            &mut npu,
            pim.as_ref(),
            g,
            n,
            &ins,
            &outs,
            target,
            core,
        )?;
        parts.deps = std::mem::take(&mut lw.deps);
        parts.deps.remove(&i);
        parts.label = unique_label(
            &mut labels,
            &if n.scope.is_empty() || n.name.starts_with(&n.scope) {
                n.name.clone()
            } else {
                format!("{}.{}", n.scope, n.name)
            },
        );
        lw.stats.labels.push(OpLabel {
            nodes: vec![n.name.clone()],
            label: parts.label.clone(),
            target: lw.lowered_on,
        });
        ops.push(parts);
        let first_out = allocs.len() - n.outputs.len();
        finish_op(&mut lw, &mut allocs, &in_allocs, first_out, i);
    }
    for v in g.outputs() {
        let (p, _) = &vals[v];
        let name = g.value_info(*v).name.clone();
        lw.prog.push_output(name, p.buf);
    }
    lw.stats.dep_sems = sync::assemble(&mut lw.prog, &ops);
    // Place the arena after the static region.
    let base = lw.plan.static_bytes().div_ceil(align) * align;
    lw.prog.buffers[arena_root.0 as usize].addr = Bytes(base);
    lw.prog.buffers[arena_root.0 as usize].shape = vec![lw.plan.arena_bytes().max(1)];
    for (id, off) in std::mem::take(&mut lw.arena_bufs) {
        lw.prog.buffers[id.0 as usize].addr = Bytes(base + off);
    }
    lw.stats.static_bytes = lw.plan.static_bytes();
    lw.stats.arena_bytes = lw.plan.arena_bytes();
    lw.stats.arena_peak = lw.plan.arena_peak;
    Ok(Lowered {
        program: lw.prog,
        data: lw.data,
        stats: lw.stats,
    })
}

/// `base` as an identifier no earlier op's label has.
/// Allocates arena space for value `v` (`o`), the result of op `i`: adds the ops
/// that last used the space to `lw.deps`, records the allocation and the value's
/// place, and returns the place.
#[allow(clippy::too_many_arguments)]
fn alloc_result(
    lw: &mut Lowerer<'_>,
    allocs: &mut Vec<Alloc>,
    vals: &mut BTreeMap<ValueRef, (Place, usize)>,
    uses: &BTreeMap<ValueRef, usize>,
    outputs: &BTreeSet<ValueRef>,
    v: ValueRef,
    o: &crate::graph::Value,
    i: usize,
) -> Place {
    let bytes = o.ty.bytes();
    let (off, touched) = lw.plan.alloc(bytes);
    lw.deps.extend(touched);
    let buf = lw.arena_buffer(&o.name, off, o.ty.dtype, &o.ty.shape);
    allocs.push(Alloc {
        arena: Some(off),
        bytes,
        remaining: uses.get(&v).copied().unwrap_or(0),
        permanent: outputs.contains(&v),
        writer: Some(i),
        touched: Touched::from([i]),
    });
    let p = Place {
        buf,
        dtype: o.ty.dtype,
        shape: o.ty.shape.clone(),
    };
    vals.insert(v, (p.clone(), allocs.len() - 1));
    p
}

fn unique_label(labels: &mut BTreeSet<String>, base: &str) -> String {
    let mut label = identifier(base);
    while !labels.insert(label.clone()) {
        label.push('_');
    }
    label
}

/// After op `i`: touch its inputs, free its temporaries and its dead results
/// (allocations from `first_out` on).
fn finish_op(
    lw: &mut Lowerer<'_>,
    allocs: &mut [Alloc],
    in_allocs: &[usize],
    first_out: usize,
    i: usize,
) {
    for &a in in_allocs {
        allocs[a].touched.insert(i);
    }
    for (off, bytes) in std::mem::take(&mut lw.temps) {
        lw.plan.free(off, bytes, Touched::from([i]));
    }
    for &a in in_allocs {
        release(lw, allocs, a);
    }
    for a in first_out..allocs.len() {
        if allocs[a].remaining == 0 && !allocs[a].permanent {
            allocs[a].remaining = 1;
            release(lw, allocs, a);
        }
    }
}

/// One use of allocation `a` is over; free it when none is left.
fn release(lw: &mut Lowerer<'_>, allocs: &mut [Alloc], a: usize) {
    let al = &mut allocs[a];
    al.remaining = al.remaining.saturating_sub(1);
    if al.remaining == 0 && !al.permanent {
        if let Some(off) = al.arena {
            lw.plan.free(off, al.bytes, std::mem::take(&mut al.touched));
        }
        al.permanent = true; // freed once
    }
}

/// Lower one op on its target or a fallback.
#[allow(clippy::too_many_arguments)]
fn lower_op(
    lw: &mut Lowerer<'_>,
    npu: &mut Option<Npu>,
    pim: Option<&Pim>,
    g: &Graph,
    n: &Node,
    ins: &[Place],
    outs: &[Place],
    target: Target,
    core: u16,
) -> Result<OpParts> {
    let arch = lw.arch;
    let mut why = String::new();
    if target == Target::Pim {
        if let Some(pim) = pim {
            match pim_op(lw, pim, g, n, ins, &outs[0])? {
                Ok(p) => return Ok(done(lw, Target::Pim, p)),
                Err(reason) => why = reason,
            }
        } else {
            why = "the arch has no PIM".into();
        }
    }
    // Empty tensors have nothing to compute.
    let kernels: Vec<Kernel> = lw
        .kernels(n, ins, outs)?
        .into_iter()
        .filter(|k| match k {
            Kernel::Rows { rows, .. } => *rows > 0,
            Kernel::Gemm(g) => g.m > 0 && g.n > 0 && g.k > 0,
            Kernel::Fixed(_) => true,
        })
        .collect();
    // The placed target first, then the CPU, then the NPU.
    let npu_first = target == Target::Npu;
    if npu_first && let Some(p) = on_npu(lw, npu, n, &kernels, target, &why) {
        return Ok(p);
    }
    if npu_first {
        why = "the NPU cannot run an instruction of it or its operands do not fit the scratchpad"
            .into();
    }
    let insns: Vec<Instruction> = kernels.iter().map(Kernel::whole).collect();
    let cores = arch.cpu.as_ref().map_or(0, |c| c.total_cores());
    let engine = (0..cores as u16)
        .map(|c| Engine::Cpu((core + c) % cores as u16))
        .find(|&e| runs_all(arch, e, &insns));
    let Some(engine) = engine else {
        if !npu_first && let Some(p) = on_npu(lw, npu, n, &kernels, target, &why) {
            return Ok(p);
        }
        return Err(lw.err(if why.is_empty() {
            "no engine of the arch runs its instructions".to_string()
        } else {
            format!("{why}, and no other engine runs it")
        }));
    };
    if target != Target::Cpu {
        fallback(lw, n, target, Target::Cpu, why);
    }
    let mut p = OpParts::default();
    p.parts.insert(engine, insns);
    p.start.insert(engine);
    p.finish.insert(engine);
    Ok(done(lw, Target::Cpu, p))
}

/// The op on the NPU, if it can run it there.
fn on_npu(
    lw: &mut Lowerer<'_>,
    npu: &mut Option<Npu>,
    n: &Node,
    kernels: &[Kernel],
    target: Target,
    why: &str,
) -> Option<OpParts> {
    let np = npu.as_mut()?;
    let steps = np.plan(lw.arch, kernels)?;
    let mut p = OpParts::default();
    lw.stats.npu_steps += steps.len();
    np.emit(&mut lw.prog, &steps, &mut p.parts);
    p.start.insert(np.start_engine());
    p.finish.insert(np.finish_engine());
    if target != Target::Npu {
        fallback(lw, n, target, Target::Npu, why.to_string());
    }
    Some(done(lw, Target::Npu, p))
}

fn done(lw: &mut Lowerer<'_>, t: Target, p: OpParts) -> OpParts {
    *lw.stats.ops.entry(t).or_default() += 1;
    lw.lowered_on = t;
    p
}

fn fallback(lw: &mut Lowerer<'_>, n: &Node, placed: Target, lowered: Target, reason: String) {
    lw.stats.fallbacks.push(Fallback {
        node: n.name.clone(),
        placed,
        lowered,
        reason,
    });
}

/// The PIM form of `n`, or why it has none here.
fn pim_op(
    lw: &mut Lowerer<'_>,
    pim: &Pim,
    g: &Graph,
    n: &Node,
    ins: &[Place],
    out: &Place,
) -> Result<std::result::Result<OpParts, String>> {
    let arch = lw.arch;
    match n.op {
        Op::MatMul | Op::QMatMul => {
            let (a, w) = (&ins[0], &ins[1]);
            let wnode = g.node(n.inputs[1].node);
            let init = match &wnode.op {
                Op::Weight { init } | Op::Constant { init } => init,
                _ => {
                    return Ok(Err(
                        "PIM GEMVs need a weight or constant matrix (laid out at load time)".into(),
                    ));
                }
            };
            if w.shape.len() != 2 {
                return Ok(Err(format!(
                    "the matrix is {}-D, PIM GEMVs need 2-D",
                    w.shape.len()
                )));
            }
            let (k, nn) = (w.shape[0] as u64, w.shape[1] as u64);
            let quant = matches!(n.op, Op::QMatMul);
            let ok = if quant {
                // Per output channel scales (f32) and zero points: pim.qgemv's rows.
                let per_n = |p: Option<&Place>| p.is_none_or(|p| p.numel() == nn);
                arch.supports(
                    Unit::Pim,
                    Capability::PimQMac { weights: w.dtype },
                    Some(a.dtype),
                )
                .is_ok()
                    && ins[2].dtype == DType::F32
                    && per_n(ins.get(2))
                    && per_n(ins.get(3))
            } else {
                a.dtype == w.dtype && Pim::macs(arch, a.dtype)
            };
            if !ok || out.dtype != a.dtype || !a.dtype.is_float() {
                return Ok(Err(format!(
                    "the PIM units do not run {} x {} -> {} products{}",
                    a.dtype,
                    w.dtype,
                    out.dtype,
                    if quant {
                        " with per-column f32 scales"
                    } else {
                        ""
                    }
                )));
            }
            let Some(layout) = pim
                .gemv_layout(nn, k, w.dtype)
                .filter(|l| !quant || l.blocks.len() == 1)
            else {
                return Ok(Err(format!(
                    "a weight row of {k} {} cannot be laid out in one channel{}",
                    w.dtype,
                    if quant { "'s granule" } else { "" }
                )));
            };
            let m = a.numel() / k.max(1);
            lw.u32(k, "k")?;
            // The transposed weight in its layout.
            let addr = lw.plan.alloc_static_aligned(layout.bytes, layout.align);
            let elems = layout.bytes / w.dtype.bytes_for(1);
            let init = if lw.data_fits(w.dtype.bytes_for(elems)) {
                let vals = to_values(init.materialise(w.dtype, (k * nn) as usize));
                let placed_vals =
                    place_rows(&vals, &layout, k as usize, nn as usize, elems as usize);
                lw.put_data(&placed_vals.to_bytes(w.dtype))
            } else {
                None
            };
            if init.is_none() {
                lw.stats.uninitialised.push(format!("{}.pim", wnode.name));
            }
            let buf = lw.declare(
                &format!("{}.pim", wnode.name),
                addr,
                w.dtype,
                &[elems as usize],
                None,
                init,
            );
            let wl = Place {
                buf,
                dtype: w.dtype,
                shape: vec![elems as usize],
            };
            let zero = match (quant, ins.get(3)) {
                (false, _) => None,
                (true, Some(z)) => Some(z.clone()),
                (true, None) => Some(lw.zeros(w.dtype, nn)?),
            };
            let mut p = OpParts::default();
            for &c in &layout.channels {
                let e = Engine::Pim(c);
                let v = p.parts.entry(e).or_default();
                for r in 0..m {
                    if let Some(zero) = &zero {
                        v.push(pim::qgemv_insn(&layout, out, &wl, a, (&ins[2], zero), r, k));
                    } else {
                        v.extend(pim::gemv_insns(&layout, out, &wl, a, r, k));
                    }
                }
                p.start.insert(e);
                p.finish.insert(e);
            }
            Ok(Ok(p))
        }
        Op::Add | Op::Mul => {
            let (a, b) = (&ins[0], &ins[1]);
            let ok = a.shape == out.shape
                && b.shape == out.shape
                && a.dtype == out.dtype
                && b.dtype == out.dtype;
            if !ok {
                return Ok(Err(
                    "PIM element-wise ops need operands of the result's shape and dtype".into(),
                ));
            }
            if arch
                .supports(Unit::Pim, Capability::PimEltwise, Some(a.dtype))
                .is_err()
            {
                return Ok(Err(format!(
                    "the PIM units have no element-wise {}",
                    a.dtype
                )));
            }
            let len = lw.u32(out.numel(), "elements")?;
            let mut p = OpParts::default();
            for c in pim.ew_channels(out.dtype.bytes_for(out.numel())) {
                let e = Engine::Pim(c);
                let insn: Instruction = if matches!(n.op, Op::Add) {
                    PimEwAdd {
                        out: out.at(0),
                        a: a.at(0),
                        b: b.at(0),
                        len,
                        dtype: a.dtype,
                    }
                    .into()
                } else {
                    PimEwMul {
                        out: out.at(0),
                        a: a.at(0),
                        b: b.at(0),
                        len,
                        dtype: a.dtype,
                    }
                    .into()
                };
                p.parts.insert(e, vec![insn]);
                p.start.insert(e);
                p.finish.insert(e);
            }
            Ok(Ok(p))
        }
        _ => Ok(Err(format!("the PIM units run no {}", n.op.name()))),
    }
}

/// `W [k, n]` (row-major values) transposed into the PIM layout of `elems` elements.
fn place_rows(w: &Values, layout: &pim::Layout, k: usize, n: usize, elems: usize) -> Values {
    fn go<T: Copy + Default>(
        w: &[T],
        layout: &pim::Layout,
        k: usize,
        n: usize,
        elems: usize,
    ) -> Vec<T> {
        // A transpose in 64 x 64 tiles, so neither side strides through memory.
        const TILE: usize = 64;
        let mut out = vec![T::default(); elems];
        let ld = layout.ld as usize;
        for b in &layout.blocks {
            let (c0, c1) = (b.col0 as usize, (b.col0 + b.cols) as usize);
            for r0 in (0..n).step_by(TILE) {
                for j0 in (c0..c1.min(k)).step_by(TILE) {
                    for col in j0..(j0 + TILE).min(c1).min(k) {
                        let src = &w[col * n + r0..col * n + (r0 + TILE).min(n)];
                        let dst = b.elem as usize + col - c0 + r0 * ld;
                        for (i, &v) in src.iter().enumerate() {
                            out[dst + i * ld] = v;
                        }
                    }
                }
            }
        }
        out
    }
    match w {
        Values::F32(v) => Values::F32(go(v, layout, k, n, elems)),
        Values::I64(v) => Values::I64(go(v, layout, k, n, elems)),
        Values::Bool(v) => Values::Bool(go(v, layout, k, n, elems)),
    }
}

/// Everything [`compile`] produced.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The e-graph pass's result (placed graph, saturation and extraction reports).
    pub optimized: Optimized,
    /// The schedule.
    pub schedule: Schedule,
    /// The program and its data.
    pub lowered: Lowered,
}

/// The whole compiler: optimise and place, schedule, lower.
pub fn compile(
    graph: &Graph,
    arch: &Arch,
    config: &Config,
    lower_config: &LowerConfig,
) -> Result<Compiled> {
    let optimized = optimize(graph, arch, config)?;
    let schedule = schedule(&optimized.placed, arch)?;
    let lowered = lower(&optimized.placed, &schedule, arch, lower_config)?;
    Ok(Compiled {
        optimized,
        schedule,
        lowered,
    })
}
