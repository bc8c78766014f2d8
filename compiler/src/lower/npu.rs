//! NPU lowering: kernels staged through the scratchpad in double-buffered steps.
//!
//! The scratchpad is split into two slots. A **step** loads its operands into one
//! slot (`dma` load engine), computes on `npu.mx` and / or `npu.vec`, and stores its
//! results (`dma` store engine); consecutive steps alternate slots, so the DMA of
//! step i+1 overlaps the compute of step i. Per slot s, three ring semaphores order
//! the stages: `npu_free{s}` (store → load, initially 1: the slot is free),
//! `npu_go{s}_{engine}` (load or previous compute stage → the compute engine) and
//! `npu_done{s}` (last compute stage → store). Each semaphore has one waiting engine,
//! so the counts pair up exactly. With one DMA engine the loads of step i are issued
//! before the stores of step i−1 (software pipelining), which keeps the single
//! stream deadlock-free.
//!
//! Tiling: a `gemm` is cut into `tm × tn` output tiles with the whole reduction in
//! the slot (A rows by one contiguous DMA, B columns by a strided 2-D DMA, the tile
//! stored with the output's row stride); tiles halve the larger side until the slot
//! holds them. A row-wise kernel is cut into row ranges (multiples of its group)
//! that fit; any other instruction is staged whole. What does not fit, or what the
//! arch's NPU cannot run, makes [`Npu::plan`] return `None`, and the caller falls
//! back to another engine.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use triad_isa::{
    AccessKind, Arch, BufId, Buffer, Bytes, Capability, DType, DmaCopy, Engine, InsnClass,
    Instruction, Load, Memory, Program, SemId, Signal, Slice, Store, StridedCopy, Unit, Wait,
};

use super::kernels::{Kernel, MatMul};

/// Alignment of staged operands in the scratchpad, bytes.
const SPM_ALIGN: u64 = 64;

/// A scratchpad operand: slot-relative offset, dtype and element count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SpmRef {
    off: u64,
    dtype: DType,
    elems: u64,
}

/// A DMA between DRAM and a scratchpad operand.
#[derive(Clone, Copy, Debug)]
struct Move {
    dram: Slice,
    spm: SpmRef,
    rows: u32,
    row_bytes: u64,
    dram_stride: u64,
    spm_stride: u64,
}

/// A compute instruction with its operands (by name) redirected to the scratchpad.
#[derive(Clone, Debug)]
struct Staged {
    engine: Engine,
    insn: Instruction,
    remap: Vec<(&'static str, SpmRef)>,
}

/// One double-buffered step, or DRAM-to-DRAM copies on the load engine.
#[derive(Clone, Debug, Default)]
pub struct Step {
    loads: Vec<Move>,
    compute: Vec<Staged>,
    stores: Vec<Move>,
    copies: Vec<DmaCopy>,
}

/// Most DMA `copy` instructions one strided copy may take on the NPU (beyond it,
/// element-sized rows are too slow and the copy is left to another engine).
const MAX_COPY_DMAS: u64 = 4096;

/// The DRAM byte range `[start, end)` of buffer `buf`.
type Span = (BufId, u64, u64);

fn overlaps(a: &[Span], b: &[Span]) -> bool {
    a.iter()
        .any(|x| b.iter().any(|y| x.0 == y.0 && x.1 < y.2 && y.1 < x.2))
}

impl Step {
    /// DRAM spans this step reads (copies: reads and writes, they run before the stores).
    fn reads(&self) -> Vec<Span> {
        let mv = |m: &Move| (m.dram.buf, m.dram.offset.0, m.dram.offset.0 + span(m));
        let mut v: Vec<Span> = self.loads.iter().map(mv).collect();
        for c in &self.copies {
            let t = triad_isa::Transfer2d::from(c);
            let len = u64::from(t.rows.saturating_sub(1));
            v.push((
                t.src.buf,
                t.src.offset.0,
                t.src.offset.0 + len * t.src_stride.0 + t.row_bytes.0,
            ));
            v.push((
                t.dst.buf,
                t.dst.offset.0,
                t.dst.offset.0 + len * t.dst_stride.0 + t.row_bytes.0,
            ));
        }
        v
    }

    /// DRAM spans this step writes.
    fn writes(&self) -> Vec<Span> {
        let mut v: Vec<Span> = self
            .stores
            .iter()
            .map(|m| (m.dram.buf, m.dram.offset.0, m.dram.offset.0 + span(m)))
            .collect();
        for c in &self.copies {
            let t = triad_isa::Transfer2d::from(c);
            let len = u64::from(t.rows.saturating_sub(1));
            v.push((
                t.dst.buf,
                t.dst.offset.0,
                t.dst.offset.0 + len * t.dst_stride.0 + t.row_bytes.0,
            ));
        }
        v
    }
}

impl Step {
    /// The step with its DRAM moves on buffer `from` moved to buffer `to`.
    pub fn rebind(&mut self, from: BufId, to: BufId) {
        for m in self.loads.iter_mut().chain(self.stores.iter_mut()) {
            if m.dram.buf == from {
                m.dram.buf = to;
            }
        }
    }
}

fn span(m: &Move) -> u64 {
    u64::from(m.rows.saturating_sub(1)) * m.dram_stride + m.row_bytes
}

/// A strided copy as DMA `copy` instructions (rows of the innermost contiguous
/// dim, or of single elements), `None` past [`MAX_COPY_DMAS`].
fn dma_copies(c: &StridedCopy) -> Option<Vec<DmaCopy>> {
    let es = c.dtype.bits();
    if es < 8 || !es.is_multiple_of(8) {
        return None;
    }
    let es = es / 8;
    let (d, s, t) = (c.dims.0, c.src_strides.0, c.dst_strides.0);
    let contiguous = s[3] == 1 && t[3] == 1;
    // (outer index space, rows, row bytes, row strides)
    let (outer, rows, row_bytes, ss, ts) = if contiguous {
        (
            [d[0], d[1], 1],
            d[2],
            u64::from(d[3]) * es,
            s[2] * es,
            t[2] * es,
        )
    } else {
        ([d[0], d[1], d[2]], d[3], es, s[3] * es, t[3] * es)
    };
    let count = outer.iter().map(|&x| u64::from(x)).product::<u64>();
    if count > MAX_COPY_DMAS || (rows > 1 && ts < row_bytes) {
        return None;
    }
    let at = |sl: Slice, b: u64| Slice {
        buf: sl.buf,
        offset: Bytes(sl.offset.0 + b),
    };
    let mut v = Vec::new();
    for i in 0..u64::from(outer[0]) {
        for j in 0..u64::from(outer[1]) {
            for k in 0..u64::from(outer[2]) {
                let (so, to) = if contiguous {
                    (i * s[0] + j * s[1], i * t[0] + j * t[1])
                } else {
                    (
                        i * s[0] + j * s[1] + k * s[2],
                        i * t[0] + j * t[1] + k * t[2],
                    )
                };
                v.push(DmaCopy {
                    dst: at(c.out, to * es),
                    src: at(c.x, so * es),
                    rows,
                    row_bytes: Bytes(row_bytes),
                    src_stride: Bytes(ss.max(row_bytes)),
                    dst_stride: Bytes(ts.max(row_bytes)),
                });
            }
        }
    }
    Some(v)
}

/// True if the copy's destination is one dense block (no gaps to preserve).
fn dense_dst(c: &StridedCopy) -> bool {
    let d = c.dims.0.map(u64::from);
    let t = c.dst_strides.0;
    t[3] == 1 && (0..3).all(|i| d[i] == 1 || t[i] == t[i + 1] * d[i + 1])
}

/// The NPU's lowering state, shared by all NPU ops of a program.
pub struct Npu {
    slot_bytes: u64,
    load: Engine,
    store: Engine,
    step: u64,
    root: Option<BufId>,
    spm_bufs: BTreeMap<(u64, DType, u64), BufId>,
    sems: BTreeMap<String, SemId>,
    arch_spm: u64,
}

/// Slot-local bump allocator.
struct SlotAlloc {
    used: u64,
    cap: u64,
}

impl SlotAlloc {
    fn take(&mut self, dtype: DType, elems: u64) -> Option<SpmRef> {
        let off = self.used.div_ceil(SPM_ALIGN) * SPM_ALIGN;
        let end = off + dtype.bytes_for(elems).max(1);
        (end <= self.cap).then(|| {
            self.used = end;
            SpmRef { off, dtype, elems }
        })
    }
}

impl Npu {
    /// The NPU state of `arch`, `None` without an NPU or a DMA engine.
    pub fn new(arch: &Arch) -> Option<Npu> {
        let npu = arch.npu.as_ref()?;
        if npu.dma_engines == 0 || npu.spm_bytes < 2 * SPM_ALIGN {
            return None;
        }
        let store = if npu.dma_engines > 1 { 1 } else { 0 };
        Some(Npu {
            slot_bytes: npu.spm_bytes / 2 / SPM_ALIGN * SPM_ALIGN,
            load: Engine::Dma(0),
            store: Engine::Dma(store),
            step: 0,
            root: None,
            spm_bufs: BTreeMap::new(),
            sems: BTreeMap::new(),
            arch_spm: npu.spm_bytes,
        })
    }

    /// The engine that waits for an NPU op's inputs.
    pub fn start_engine(&self) -> Engine {
        self.load
    }

    /// The engine whose last instruction ends an NPU op.
    pub fn finish_engine(&self) -> Engine {
        self.store
    }

    /// The steps of `kernels` (DRAM operands), or `None` if the NPU cannot run one.
    pub fn plan(&self, arch: &Arch, kernels: &[Kernel]) -> Option<Vec<Step>> {
        let mut steps = Vec::new();
        for k in kernels {
            match k {
                Kernel::Gemm(g) => steps.extend(self.gemm(arch, g)?),
                Kernel::Fixed(Instruction::StridedCopy(c)) => {
                    let staged = dense_dst(c)
                        .then(|| self.stage(arch, &Instruction::StridedCopy(c.clone())))
                        .flatten();
                    match staged {
                        Some(s) => steps.push(s),
                        None => steps.push(Step {
                            copies: dma_copies(c)?,
                            ..Step::default()
                        }),
                    }
                }
                Kernel::Fixed(i) => steps.push(self.stage(arch, i)?),
                Kernel::Rows { rows, group, build } => {
                    let group = (*group).max(1);
                    let mut n = *rows;
                    let first = loop {
                        if let Some(s) = self.stage(arch, &build(0, n)) {
                            break s;
                        }
                        if n <= group {
                            return None;
                        }
                        n = (n / 2).div_ceil(group) * group;
                    };
                    steps.push(first);
                    let mut r0 = n;
                    while r0 < *rows {
                        let m = n.min(rows - r0);
                        steps.push(self.stage(arch, &build(r0, m))?);
                        r0 += m;
                    }
                }
            }
        }
        Some(steps)
    }

    /// The steps of a fused kernel: `members` (one kernel each, in dependency
    /// order) computed together, the results in buffers `internal` kept in the slot
    /// (never loaded or stored), so only external operands and the last member's
    /// result cross the memory interface. Either every member is row-wise over the
    /// same rows (a row range of all of them per step: residual add + norm, bias +
    /// activation), or the first is a matrix product whose output rows are the
    /// others' rows (`tm × n` tiles, the whole weight in the slot, each tile's
    /// epilogue on the vector unit). `None` if the members have no such form or do
    /// not fit, and the caller lowers them one by one.
    pub fn plan_fused(
        &self,
        arch: &Arch,
        members: &[Kernel],
        internal: &[BufId],
    ) -> Option<Vec<Step>> {
        let (head, rest) = match members.first()? {
            Kernel::Gemm(g) => (Some(g), &members[1..]),
            _ => (None, members),
        };
        let mut rows_of = Vec::new();
        for k in rest {
            let Kernel::Rows { rows, group, build } = k else {
                return None;
            };
            rows_of.push((*rows, (*group).max(1), build));
        }
        let rows = match head {
            Some(g) => g.m,
            None => rows_of.first()?.0,
        };
        if rows_of.iter().any(|r| r.0 != rows) || rows == 0 {
            return None;
        }
        let group = rows_of.iter().map(|r| r.1).max().unwrap_or(1);
        if rows_of.iter().any(|r| group % r.1 != 0) {
            return None;
        }
        let insns = |r0: u32, n: u32| -> Vec<Instruction> {
            let mut v = Vec::new();
            if let Some(g) = head {
                let es = g.dtype.bytes_for(1);
                let os = g.out_dtype.bytes_for(1);
                let at = |s: Slice, b: u64| Slice {
                    buf: s.buf,
                    offset: Bytes(s.offset.0 + b),
                };
                let tile = MatMul {
                    a: at(g.a, u64::from(r0) * u64::from(g.k) * es),
                    out: at(g.out, u64::from(r0) * u64::from(g.n) * os),
                    m: n,
                    ..*g
                };
                v.push(tile.insn());
            }
            v.extend(rows_of.iter().map(|r| (r.2)(r0, n)));
            v
        };
        let mut n = rows;
        let first = loop {
            if let Some(s) = self.stage_all(arch, &insns(0, n), internal) {
                break s;
            }
            if n <= group {
                return None;
            }
            n = (n / 2).div_ceil(group) * group;
        };
        let mut steps = vec![first];
        let mut r0 = n;
        while r0 < rows {
            let m = n.min(rows - r0);
            steps.push(self.stage_all(arch, &insns(r0, m), internal)?);
            r0 += m;
        }
        Some(steps)
    }

    /// Instructions staged together in one step: every operand span in the slot,
    /// spans of `internal` buffers neither loaded nor stored (each must be written
    /// by an earlier instruction of the step before it is read).
    fn stage_all(&self, arch: &Arch, insns: &[Instruction], internal: &[BufId]) -> Option<Step> {
        let mut slot = SlotAlloc {
            used: 0,
            cap: self.slot_bytes,
        };
        let mut step = Step::default();
        let mut seen: Vec<(Slice, u64, SpmRef)> = Vec::new();
        for insn in insns {
            let engine = match insn.class() {
                InsnClass::Matrix => Engine::NpuMx,
                InsnClass::Vector => Engine::NpuVec,
                _ => return None,
            };
            if !Self::runs(arch, engine, insn) {
                return None;
            }
            let mut remap = Vec::new();
            for a in insn.accesses() {
                let bytes = a.bytes?.0;
                let dtype = a.dtype?;
                let inner = internal.contains(&a.slice.buf);
                let r = match seen.iter().find(|(s, b, _)| *s == a.slice && *b == bytes) {
                    Some(&(_, _, r)) => r,
                    None if inner && matches!(a.kind, AccessKind::Read) => return None,
                    None => {
                        let elems = (bytes * 8).div_ceil(dtype.bits());
                        let r = slot.take(dtype, elems)?;
                        seen.push((a.slice, bytes, r));
                        let mv = Move {
                            dram: a.slice,
                            spm: r,
                            rows: 1,
                            row_bytes: bytes,
                            dram_stride: bytes,
                            spm_stride: bytes,
                        };
                        if !inner && matches!(a.kind, AccessKind::Read | AccessKind::ReadWrite) {
                            step.loads.push(mv);
                        }
                        if !inner && matches!(a.kind, AccessKind::Write | AccessKind::ReadWrite) {
                            step.stores.push(mv);
                        }
                        r
                    }
                };
                remap.push((a.operand, r));
            }
            step.compute.push(Staged {
                engine,
                insn: insn.clone(),
                remap,
            });
        }
        Some(step)
    }

    fn runs(arch: &Arch, engine: Engine, insn: &Instruction) -> bool {
        let (cap, dtype) = Capability::of(insn);
        arch.supports(Unit::of(engine), cap, dtype).is_ok()
    }

    /// One instruction staged whole: every operand span in the slot.
    fn stage(&self, arch: &Arch, insn: &Instruction) -> Option<Step> {
        self.stage_all(arch, std::slice::from_ref(insn), &[])
    }

    /// A matrix product as output tiles with the whole reduction in the slot.
    fn gemm(&self, arch: &Arch, g: &MatMul) -> Option<Vec<Step>> {
        if !Self::runs(arch, Engine::NpuMx, &g.insn()) {
            return None;
        }
        let (es, os) = (g.dtype.bytes_for(1), g.out_dtype.bytes_for(1));
        if g.dtype.bits() < 8 || g.out_dtype.bits() < 8 {
            return None;
        }
        let (m, n, k) = (u64::from(g.m), u64::from(g.n), u64::from(g.k));
        let fits = |tm: u64, tn: u64| {
            let pad = |b: u64| b.div_ceil(SPM_ALIGN) * SPM_ALIGN;
            pad(tm * k * es) + pad(k * tn * es) + pad(tm * tn * os) <= self.slot_bytes
        };
        let (mut tm, mut tn) = (m, n);
        while !fits(tm, tn) {
            if tn >= tm && tn > 1 {
                tn = tn.div_ceil(2);
            } else if tm > 1 {
                tm = tm.div_ceil(2);
            } else {
                return None;
            }
        }
        let mut steps = Vec::new();
        let add = |s: Slice, bytes: u64| Slice {
            buf: s.buf,
            offset: Bytes(s.offset.0 + bytes),
        };
        for m0 in (0..m).step_by(tm as usize) {
            let bm = tm.min(m - m0);
            for n0 in (0..n).step_by(tn as usize) {
                let bn = tn.min(n - n0);
                let mut slot = SlotAlloc {
                    used: 0,
                    cap: self.slot_bytes,
                };
                let a = slot.take(g.dtype, bm * k)?;
                let b = slot.take(g.dtype, k * bn)?;
                let o = slot.take(g.out_dtype, bm * bn)?;
                let tile = MatMul {
                    m: bm as u32,
                    n: bn as u32,
                    ..*g
                };
                steps.push(Step {
                    loads: vec![
                        Move {
                            dram: add(g.a, m0 * k * es),
                            spm: a,
                            rows: 1,
                            row_bytes: bm * k * es,
                            dram_stride: bm * k * es,
                            spm_stride: bm * k * es,
                        },
                        Move {
                            dram: add(g.b, n0 * es),
                            spm: b,
                            rows: k as u32,
                            row_bytes: bn * es,
                            dram_stride: n * es,
                            spm_stride: bn * es,
                        },
                    ],
                    compute: vec![Staged {
                        engine: Engine::NpuMx,
                        insn: tile.insn(),
                        remap: vec![("out", o), ("a", a), ("b", b)],
                    }],
                    copies: Vec::new(),
                    stores: vec![Move {
                        dram: add(g.out, (m0 * n + n0) * os),
                        spm: o,
                        rows: bm as u32,
                        row_bytes: bn * os,
                        dram_stride: n * os,
                        spm_stride: bn * os,
                    }],
                });
            }
        }
        Some(steps)
    }

    fn sem(&mut self, prog: &mut Program, name: String, init: u32) -> SemId {
        *self
            .sems
            .entry(name.clone())
            .or_insert_with(|| prog.push_sem(name, init))
    }

    fn spm(&mut self, prog: &mut Program, slot: u64, r: SpmRef) -> Slice {
        let root = *self.root.get_or_insert_with(|| {
            prog.push_buffer(Buffer {
                name: "spm".into(),
                mem: Memory::Spm,
                addr: Bytes(0),
                shape: vec![self.arch_spm],
                dtype: DType::I8,
                alias: None,
                init: None,
            })
        });
        let addr = slot * self.slot_bytes + r.off;
        let id = *self
            .spm_bufs
            .entry((addr, r.dtype, r.elems))
            .or_insert_with(|| {
                let name = format!("spm_{addr}_{}_{}", r.dtype, r.elems);
                prog.push_buffer(Buffer {
                    name,
                    mem: Memory::Spm,
                    addr: Bytes(addr),
                    shape: vec![r.elems.max(1)],
                    dtype: r.dtype,
                    alias: Some(root),
                    init: None,
                })
            });
        Slice::at(id)
    }

    /// Emit `steps` into per-engine instruction lists, with the ring semaphores.
    pub fn emit(
        &mut self,
        prog: &mut Program,
        steps: &[Step],
        parts: &mut BTreeMap<Engine, Vec<Instruction>>,
    ) {
        let single = self.load == self.store;
        let mut pending: Option<(u64, Vec<Instruction>)> = None;
        let mut written: Vec<Span> = Vec::new();
        let mut copies_last = false;
        for step in steps {
            // A step that reads what an earlier step of the op stores waits until the
            // store engine has drained.
            if overlaps(&step.reads(), &written) {
                if let Some((_, p)) = pending.take() {
                    parts.entry(self.store).or_default().extend(p);
                }
                if !single {
                    let drain = self.sem(prog, "npu_drain".into(), 0);
                    parts.entry(self.store).or_default().push(
                        Signal {
                            sem: drain,
                            value: 1,
                        }
                        .into(),
                    );
                    parts.entry(self.load).or_default().push(
                        Wait {
                            sem: drain,
                            value: 1,
                        }
                        .into(),
                    );
                }
                written.clear();
            }
            written.extend(step.writes());
            copies_last = !step.copies.is_empty();
            if copies_last {
                let v = parts.entry(self.load).or_default();
                v.extend(step.copies.iter().map(|c| Instruction::from(c.clone())));
                continue;
            }
            let s = self.step % 2;
            self.step += 1;
            let free = self.sem(prog, format!("npu_free{s}"), 1);
            let done = self.sem(prog, format!("npu_done{s}"), 0);
            let mv = |me: &mut Self, prog: &mut Program, m: &Move, load: bool| -> Instruction {
                let spm = me.spm(prog, s, m.spm);
                if load {
                    Load {
                        dst: spm,
                        src: m.dram,
                        rows: m.rows,
                        row_bytes: Bytes(m.row_bytes),
                        src_stride: Bytes(m.dram_stride),
                        dst_stride: Bytes(m.spm_stride),
                    }
                    .into()
                } else {
                    Store {
                        dst: m.dram,
                        src: spm,
                        rows: m.rows,
                        row_bytes: Bytes(m.row_bytes),
                        src_stride: Bytes(m.spm_stride),
                        dst_stride: Bytes(m.dram_stride),
                    }
                    .into()
                }
            };
            // Loads.
            let mut l = vec![
                Wait {
                    sem: free,
                    value: 1,
                }
                .into(),
            ];
            for m in &step.loads {
                l.push(mv(self, prog, m, true));
            }
            // Compute stages.
            let mut prev_signal: Vec<Instruction> = Vec::new();
            let mut stages: Vec<(Engine, Vec<Instruction>)> = Vec::new();
            for c in &step.compute {
                let insn = self.remapped(prog, s, c);
                match stages.last_mut() {
                    Some((e, v)) if *e == c.engine => v.push(insn),
                    _ => stages.push((c.engine, vec![insn])),
                }
            }
            for (j, (e, body)) in stages.iter().enumerate() {
                let go = self.sem(prog, format!("npu_go{s}_{}", engine_tag(*e)), 0);
                let sig: Instruction = Signal { sem: go, value: 1 }.into();
                if j == 0 {
                    l.push(sig);
                } else {
                    prev_signal.push(sig);
                    let (pe, _) = stages[j - 1];
                    parts.entry(pe).or_default().append(&mut prev_signal);
                }
                let v = parts.entry(*e).or_default();
                v.push(Wait { sem: go, value: 1 }.into());
                v.extend(body.iter().cloned());
            }
            if let Some((e, _)) = stages.last() {
                parts.entry(*e).or_default().push(
                    Signal {
                        sem: done,
                        value: 1,
                    }
                    .into(),
                );
            } else {
                l.push(
                    Signal {
                        sem: done,
                        value: 1,
                    }
                    .into(),
                );
            }
            // Stores.
            let mut st = vec![
                Wait {
                    sem: done,
                    value: 1,
                }
                .into(),
            ];
            for m in &step.stores {
                st.push(mv(self, prog, m, false));
            }
            st.push(
                Signal {
                    sem: free,
                    value: 1,
                }
                .into(),
            );
            parts.entry(self.load).or_default().extend(l);
            if single {
                if let Some((_, p)) = pending.take() {
                    parts.entry(self.store).or_default().extend(p);
                }
                pending = Some((s, st));
            } else {
                parts.entry(self.store).or_default().extend(st);
            }
        }
        if let Some((_, p)) = pending {
            parts.entry(self.store).or_default().extend(p);
        }
        // The op ends on the store engine: copies issued last on the load engine
        // must be done by then.
        if copies_last && !single {
            let fence = self.sem(prog, "npu_fence".into(), 0);
            parts.entry(self.load).or_default().push(
                Signal {
                    sem: fence,
                    value: 1,
                }
                .into(),
            );
            parts.entry(self.store).or_default().push(
                Wait {
                    sem: fence,
                    value: 1,
                }
                .into(),
            );
        }
    }

    /// The staged instruction with its operands in slot `s`.
    fn remapped(&mut self, prog: &mut Program, s: u64, c: &Staged) -> Instruction {
        let mut j: Json = serde_json::to_value(&c.insn).unwrap_or(Json::Null);
        for (name, r) in &c.remap {
            let slice = self.spm(prog, s, *r);
            if let (Some(obj), Ok(v)) = (j.as_object_mut(), serde_json::to_value(slice)) {
                obj.insert((*name).to_string(), v);
            }
        }
        serde_json::from_value(j).unwrap_or_else(|_| c.insn.clone())
    }
}

/// An engine as an identifier fragment (`dma_0`, `npu_mx`).
pub fn engine_tag(e: Engine) -> String {
    e.to_string().replace('.', "_")
}
