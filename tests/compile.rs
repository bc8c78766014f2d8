//! `triad_compiler::lower::compile` end to end: every program the compiler emits
//! passes `verify`, and run in functional mode by the simulator reproduces the
//! reference interpreter's outputs.
//!
//! Tolerance (float outputs): the interpreter evaluates each op in f64 and rounds
//! once to the dtype; the simulator's matrix, norm and softmax instructions
//! accumulate in f32 (isa/README.md), so one op's result may differ by about one
//! ulp of its dtype plus `(n + 2)·2^-24·Σ|terms|` for an n-term reduction, and such
//! differences are carried through the following ops. For the tiny models (two
//! layers, about 25 ops on every path from input to output, dims ≤ 256) we allow
//! each element `ULPS` ulps of the output dtype at the output's largest magnitude:
//! a bound on the sum of one-ulp differences propagated through every op of a
//! path (each op's gain on the tiny models is below 2). Integer outputs are exact.

use std::collections::BTreeMap;
use std::path::PathBuf;

use triad_compiler::egraph::{Config, Target, optimize};
use triad_compiler::lower::{LowerConfig, compile, lower};
use triad_compiler::schedule::schedule;
use triad_compiler::{DType, Data, Graph, Init, Op, Tensor, ValueRef, run};
use triad_isa::{Arch, InitData, Values, VectorOp};
use triad_sim::{SimOptions, simulate};
use triad_workloads::{BuildOptions, Phase, WeightFormat};

/// Allowed difference, in ulps of the output dtype at the output's largest magnitude.
const ULPS: f64 = 64.0;

/// Presets with compute engines (the memory-only ones have nothing to compile for).
const PRESETS: &[&str] = &[
    "mobile-soc",
    "mobile-soc-pim",
    "pim-gpt",
    "attacc",
    "duplex",
    "hbm-pim",
    "hbm-pim-samsung",
    "neupims",
];

fn tiny(model: &str, phase: &str, weights: WeightFormat) -> Graph {
    let cfg = triad_workloads::model(model).expect("zoo model");
    let opts = BuildOptions {
        phase: phase.parse::<Phase>().expect("phase"),
        batch: 1,
        weights,
        seed: 0,
    };
    triad_workloads::build(&cfg, &opts).expect("builds")
}

/// The range of random values for graph input `v`: floats in [-1, 1]; integer
/// indices within every table a `Gather` reads with them.
fn input_range(graph: &Graph, v: ValueRef) -> (f64, f64) {
    if graph.ty(v).dtype.is_float() {
        return (-1.0, 1.0);
    }
    let rows = graph
        .consumers(v)
        .into_iter()
        .filter_map(|(c, _)| {
            let n = graph.node(c);
            let Op::Gather { axis } = n.op else {
                return None;
            };
            let t = graph.ty(n.inputs[0]);
            let a = if axis < 0 {
                axis + t.rank() as i64
            } else {
                axis
            } as usize;
            t.shape.get(a).copied()
        })
        .min()
        .unwrap_or(16);
    (0.0, rows.saturating_sub(1) as f64)
}

fn ulp(dtype: DType, x: f64) -> f64 {
    let bits = match dtype {
        DType::F16 => 11,
        DType::BF16 => 8,
        _ => 24,
    };
    let e = if x == 0.0 {
        0
    } else {
        x.abs().log2().floor() as i32
    };
    2f64.powi(e - bits + 1)
}

/// Compile `graph` for `arch`, verify, run functionally, compare with the
/// interpreter (panics naming `tag` on a mismatch). A compile error is returned.
fn check(graph: &Graph, arch_name: &str, tag: &str) -> Result<(), triad_compiler::Error> {
    check_on(graph, &Arch::preset(arch_name).expect("preset"), tag).map(|_| ())
}

/// [`check`] on an arch value; returns the lowering's NPU step count.
fn check_on(graph: &Graph, arch: &Arch, tag: &str) -> Result<usize, triad_compiler::Error> {
    check_with(graph, arch, tag, None)
}

/// [`check_on`] with given input tensors (written to an input file the program's
/// `.init`s name) instead of uniform draws.
fn check_with(
    graph: &Graph,
    arch: &Arch,
    tag: &str,
    given: Option<&BTreeMap<String, Tensor>>,
) -> Result<usize, triad_compiler::Error> {
    let arch = arch.clone();
    let mut input_file: Vec<u8> = Vec::new();
    let lc = LowerConfig {
        model: graph.name.clone(),
        data_file: "data.bin".into(),
    };
    let compiled = compile(graph, &arch, &Config::default(), &lc)?;
    let mut program = compiled.lowered.program.clone();
    // Inputs: uniform draws, the same in the program's `.init` and the interpreter.
    let mut inputs = BTreeMap::new();
    for (i, port) in program.inputs.clone().iter().enumerate() {
        let v = graph.value(&port.name).expect("input value");
        let ty = graph.ty(v).clone();
        if let Some(t) = given.and_then(|g| g.get(&port.name)) {
            let values = match t.to_data() {
                Data::F32(v) => Values::F32(v),
                Data::I64(v) => Values::I64(v),
                Data::Bool(v) => Values::Bool(v),
            };
            program.buffers[port.buf.0 as usize].init = Some(InitData::File {
                path: "inputs.bin".into(),
                offset: triad_isa::Bytes(input_file.len() as u64),
            });
            input_file.extend(values.to_bytes(ty.dtype));
            inputs.insert(port.name.clone(), t.clone());
            continue;
        }
        let (low, high) = input_range(graph, v);
        let seed = 7000 + i as u64;
        let data = Init::Uniform { seed, low, high }.materialise(ty.dtype, ty.elems() as usize);
        program.buffers[port.buf.0 as usize].init = Some(InitData::Uniform { seed, low, high });
        inputs.insert(
            port.name.clone(),
            Tensor::from_data(&ty, &data).expect("tensor"),
        );
    }
    triad_isa::verify(&program, &arch).unwrap_or_else(|e| panic!("{tag}: verify: {e}"));
    let dir: PathBuf =
        std::env::temp_dir().join(format!("triad-compile-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("data.bin"), &compiled.lowered.data).expect("data file");
    std::fs::write(dir.join("inputs.bin"), &input_file).expect("input file");
    let opts = SimOptions {
        functional: Some(dir.clone()),
        ..SimOptions::default()
    };
    let out = simulate(&program, &arch, &opts).unwrap_or_else(|e| panic!("{tag}: simulate: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let mem = out.data.expect("functional data");
    let want = run(graph, &inputs).expect("interpreter runs");
    for port in &program.outputs {
        let buf = program.buffer(port.buf).expect("buffer");
        let n = buf.elems().expect("elems") as usize;
        let bytes = mem.buffer_bytes(&program, port.buf).expect("bytes");
        let got = Values::from_bytes(buf.dtype, &bytes, n).expect("values");
        let exp = want[&port.name].to_data();
        match (got, exp) {
            (Values::F32(g), Data::F32(e)) => {
                let top = e.iter().fold(0f64, |m, x| m.max(f64::from(x.abs())));
                let tol = ULPS * ulp(buf.dtype, top);
                for (i, (a, b)) in g.iter().zip(&e).enumerate() {
                    let d = (f64::from(*a) - f64::from(*b)).abs();
                    assert!(
                        d <= tol,
                        "{tag}: output `{}`[{i}]: simulated {a}, interpreter {b} (|diff| {d} > {tol})",
                        port.name
                    );
                }
            }
            (Values::I64(g), Data::I64(e)) => assert_eq!(g, e, "{tag}: output `{}`", port.name),
            (Values::Bool(g), Data::Bool(e)) => assert_eq!(g, e, "{tag}: output `{}`", port.name),
            (g, e) => panic!(
                "{tag}: output `{}`: kinds differ: {g:?} vs {e:?}",
                port.name
            ),
        }
    }
    Ok(compiled.lowered.stats.npu_steps)
}

/// The weight format an arch's NPU computes in (f16, else bf16).
fn weights_for(arch: &Arch) -> WeightFormat {
    match &arch.npu {
        Some(n) if !n.supports(DType::F16) && n.supports(DType::BF16) => WeightFormat::Bf16,
        _ => WeightFormat::F16,
    }
}

#[test]
fn every_tiny_model_on_every_preset_matches_the_interpreter() {
    let mut failures = Vec::new();
    let mut refusals: BTreeMap<&str, usize> = BTreeMap::new();
    for arch_name in PRESETS {
        let arch = Arch::preset(arch_name).expect("preset");
        for model in ["tiny-llama", "tiny-gpt2", "tiny-bert", "tiny-moe"] {
            for phase in ["prefill:8", "decode:8"] {
                let g = tiny(model, phase, weights_for(&arch));
                let tag = format!("{model}-{}-{arch_name}", phase.replace(':', ""));
                let r = std::panic::catch_unwind(|| check(&g, arch_name, &tag));
                if let Ok(Err(e)) = &r {
                    // Only an arch without a CPU may refuse a model, and only for an
                    // op whose instruction its NPU vector unit does not list.
                    let lacks = |op: &str| {
                        let v = match op {
                            "LayerNorm" => VectorOp::LayerNorm,
                            "RmsNorm" => VectorOp::RmsNorm,
                            "Tanh" => VectorOp::Tanh,
                            "Silu" => VectorOp::Silu,
                            "TopK" => VectorOp::TopK,
                            "Softmax" => VectorOp::Softmax,
                            _ => return false,
                        };
                        let npu = arch.npu.as_ref().expect("an arch with compute has an NPU");
                        !npu.vector_ops.contains(&v)
                    };
                    let refused = matches!(e, triad_compiler::Error::Type { op, reason, .. }
                        if lacks(op) && reason.contains("no engine"));
                    if !(arch.cpu.is_none() && refused) {
                        failures.push(format!("{tag}: {e}"));
                    }
                    *refusals.entry(*arch_name).or_insert(0) += 1;
                }
                if let Err(e) = r {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "panic".into());
                    failures.push(msg);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The SoC presets (with a CPU) compile every model; so do some NPU + PIM ones.
    eprintln!("refusals per preset: {refusals:?}");
    assert!(
        PRESETS
            .iter()
            .filter(|p| !refusals.contains_key(*p))
            .count()
            >= 4
    );
}

/// Simulated time of `placed` (with every op's target replaced by `force`, if given)
/// scheduled and lowered for `arch`.
fn simulated_ps(
    placed: &triad_compiler::egraph::PlacedGraph,
    arch: &Arch,
    force: Option<Target>,
) -> u64 {
    let mut placed = placed.clone();
    if let Some(t) = force {
        for v in placed.placement.values_mut() {
            *v = t;
        }
    }
    let s = schedule(&placed, arch).expect("schedules");
    let l = lower(&placed, &s, arch, &LowerConfig::default()).expect("lowers");
    let out = simulate(&l.program, arch, &SimOptions::default()).expect("simulates");
    out.report.total_ps
}

#[test]
fn hybrid_decode_beats_every_single_target_on_mobile_soc_pim() {
    let arch = Arch::preset("mobile-soc-pim").expect("preset");
    let g = tiny("tiny-llama", "decode:64", WeightFormat::F16);
    let opt = optimize(&g, &arch, &Config::default()).expect("optimises");
    let hybrid = simulated_ps(&opt.placed, &arch, None);
    // A single target runs every op it can; the lowering puts the rest on the CPU
    // (PIM runs only GEMVs and element-wise add / mul).
    let single: Vec<(Target, u64)> = Target::ALL
        .into_iter()
        .map(|t| (t, simulated_ps(&opt.placed, &arch, Some(t))))
        .collect();
    eprintln!("hybrid {hybrid} ps; single targets {single:?}");
    for (t, ps) in single {
        assert!(
            hybrid < ps,
            "hybrid {hybrid} ps is not faster than all-{t} {ps} ps"
        );
    }
}

/// A random valid graph: input `[b, s, h]` f16, then `steps` ops (each picked by a
/// code) on the running value, every weight uniform random.
fn random_graph(b: usize, s: usize, h: usize, steps: &[(u8, u8)]) -> Graph {
    use triad_compiler::{ReduceKind, TensorType};
    let mut g = Graph::new("random");
    let f16 = |shape: Vec<usize>| TensorType::new(DType::F16, shape);
    let mut x = g.input("x", f16(vec![b, s, h])).expect("input");
    let mut shape = [b, s, h];
    let mut seed = 100;
    let mut w = |g: &mut Graph, name: String, shape: Vec<usize>, lo: f64, hi: f64| {
        seed += 1;
        g.weight(
            &name,
            f16(shape),
            Init::Uniform {
                seed,
                low: lo,
                high: hi,
            },
        )
        .expect("weight")
    };
    for (i, &(code, arg)) in steps.iter().enumerate() {
        let last = *shape.last().expect("rank >= 1");
        let name = format!("op{i}");
        x = match code % 9 {
            0 => {
                let n = 8 * (1 + usize::from(arg % 3));
                let wt = w(&mut g, format!("w{i}"), vec![last, n], -0.25, 0.25);
                *shape.last_mut().expect("rank") = n;
                g.add1(&name, Op::MatMul, &[x, wt])
            }
            1 => {
                let bias = w(&mut g, format!("b{i}"), vec![last], -1.0, 1.0);
                g.add1(
                    &name,
                    if arg % 2 == 0 { Op::Add } else { Op::Mul },
                    &[x, bias],
                )
            }
            2 => g.add1(
                &name,
                Op::Gelu {
                    tanh_approx: arg % 2 == 0,
                },
                &[x],
            ),
            3 => g.add1(&name, if arg % 2 == 0 { Op::Silu } else { Op::Tanh }, &[x]),
            4 => g.add1(&name, Op::Softmax { axis: -1 }, &[x]),
            5 => {
                let gamma = w(&mut g, format!("g{i}"), vec![last], 0.5, 1.5);
                if arg % 2 == 0 {
                    let beta = w(&mut g, format!("be{i}"), vec![last], -0.5, 0.5);
                    g.add1(
                        &name,
                        Op::LayerNorm {
                            axis: -1,
                            eps: 1e-5,
                        },
                        &[x, gamma, beta],
                    )
                } else {
                    g.add1(
                        &name,
                        Op::RmsNorm {
                            axis: -1,
                            eps: 1e-5,
                        },
                        &[x, gamma],
                    )
                }
            }
            6 => {
                let r = shape.len();
                shape.swap(r - 1, r - 2);
                g.add1(
                    &name,
                    Op::Transpose {
                        perm: vec![0, 2, 1],
                    },
                    &[x],
                )
            }
            7 => {
                // x - mean(x) over the last axis: a column broadcast.
                let m = g
                    .add1(
                        &format!("{name}.mean"),
                        Op::Reduce {
                            kind: ReduceKind::Mean,
                            axes: vec![-1],
                            keepdims: true,
                        },
                        &[x],
                    )
                    .expect("mean");
                g.add1(&name, Op::Sub, &[x, m])
            }
            _ => {
                let y = g
                    .add1(
                        &format!("{name}.flat"),
                        Op::Reshape {
                            shape: vec![-1, last as i64],
                        },
                        &[x],
                    )
                    .expect("reshape");
                g.add1(
                    &name,
                    Op::Reshape {
                        shape: shape.iter().map(|&d| d as i64).collect(),
                    },
                    &[y],
                )
            }
        }
        .expect("valid op");
    }
    g.set_outputs(&[x]);
    g
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]
    #[test]
    fn random_graphs_compile_to_programs_that_match_the_interpreter(
        b in 1usize..3,
        s in 1usize..5,
        h in proptest::sample::select(vec![8usize, 16, 24]),
        steps in proptest::collection::vec((0u8..9, 0u8..4), 1..7),
        arch in proptest::sample::select(vec!["mobile-soc", "mobile-soc-pim"]),
    ) {
        let g = random_graph(b, s, h, &steps);
        check(&g, arch, &format!("random-{}", steps.len())).expect("compiles");
    }
}

#[test]
fn a_small_scratchpad_tiles_gemms_and_rows_and_stays_exact() {
    // 16 KiB of scratchpad: two 8 KiB slots. The 64 x 128 by 128 x 24 f16 product
    // (16 + 6 + 3 KiB) needs tiles, and the softmax / layernorm rows split. Without
    // the CPU every op runs on the NPU (the cost model would rightly send such
    // small-scratchpad ops to the CPU).
    let mut arch = Arch::preset("mobile-soc").expect("preset");
    arch.npu.as_mut().expect("npu").spm_bytes = 16 << 10;
    arch.cpu = None;
    let g = random_graph(1, 64, 128, &[(0, 2), (4, 0), (5, 0), (0, 0)]);
    let ops = g
        .node_ids()
        .filter(|&id| !g.node(id).op.is_source())
        .count();
    let steps = check_on(&g, &arch, "small-spm").expect("compiles");
    assert!(
        steps > 2 * ops,
        "{steps} NPU steps for {ops} ops: no tiling"
    );
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    let arch = Arch::preset("mobile-soc-pim").expect("preset");
    let g = tiny("tiny-moe", "prefill:8", WeightFormat::F16);
    let once = || {
        let c = compile(&g, &arch, &Config::default(), &LowerConfig::default()).expect("compiles");
        (c.lowered.program.to_bytes(), c.lowered.data)
    };
    assert!(once() == once(), "two compilations differ");
}

/// The ONNX fixtures (tiny models and real exports) with the inputs they were made
/// with, compiled for the CPU + NPU and CPU + NPU + PIM presets.
#[test]
fn onnx_imports_compile_to_programs_that_match_the_interpreter() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx");
    let mut cases = Vec::new();
    for group in ["models", "real"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(group))
            .expect("fixture dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.join("model.onnx").exists())
            .collect();
        dirs.sort();
        cases.extend(dirs);
    }
    assert!(cases.len() >= 40, "{} ONNX fixtures", cases.len());
    let mut failures = Vec::new();
    let mut imported = 0;
    for dir in &cases {
        let case = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let mut dims = BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(dir.join("dims.txt")) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let (k, v) = line.rsplit_once('=').expect("NAME=N");
                dims.insert(k.to_string(), v.trim().parse::<usize>().expect("dim"));
            }
        }
        let g = match triad_compiler::onnx::import(&dir.join("model.onnx"), &dims) {
            Ok(g) => g,
            // The importer's documented refusals (e.g. mixtral_ts's NonZero) are its
            // own tests' business.
            Err(triad_compiler::Error::UnsupportedOps { .. }) => continue,
            Err(e) => panic!("{case}: import: {e}"),
        };
        imported += 1;
        let mut inputs = BTreeMap::new();
        for e in std::fs::read_dir(dir).expect("dir") {
            let p = e.expect("entry").path();
            let file = p.file_name().expect("name").to_string_lossy().into_owned();
            if let Some(name) = file
                .strip_prefix("input_")
                .and_then(|f| f.strip_suffix(".npy"))
            {
                let t = triad_compiler::onnx::npy::read_npy(&p).expect("npy");
                inputs.insert(name.to_string(), t);
            }
        }
        for arch in ["mobile-soc", "mobile-soc-pim"] {
            let tag = format!("onnx-{case}-{arch}");
            let a = Arch::preset(arch).expect("preset");
            match std::panic::catch_unwind(|| check_with(&g, &a, &tag, Some(&inputs))) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => failures.push(format!("{tag}: {e}")),
                Err(e) => failures.push(
                    e.downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| format!("{tag}: panic")),
                ),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(imported >= 40, "only {imported} fixtures imported");
}

/// The placed graph's prepacked nodes whose operands are all weights or constants
/// (directly or through other such nodes): load-time layout.
fn parameter_layouts(placed: &triad_compiler::egraph::PlacedGraph) -> Vec<String> {
    let g = &placed.graph;
    let mut param: std::collections::BTreeSet<triad_compiler::NodeId> = Default::default();
    let mut names = Vec::new();
    for id in g.topo_order().expect("acyclic") {
        let n = g.node(id);
        if matches!(n.op, Op::Weight { .. } | Op::Constant { .. }) {
            param.insert(id);
        } else if placed.prepacked.contains(&id) && n.inputs.iter().all(|v| param.contains(&v.node))
        {
            param.insert(id);
            names.push(n.name.clone());
        }
    }
    names
}

#[test]
fn weight_concats_and_slices_are_laid_out_at_compile_time() {
    let mut seen = 0;
    for (model, arch_name) in [
        ("tiny-llama", "mobile-soc"),
        ("tiny-gpt2", "mobile-soc"),
        ("tiny-llama", "mobile-soc-pim"),
    ] {
        let arch = Arch::preset(arch_name).expect("preset");
        let g = tiny(model, "decode:8", weights_for(&arch));
        let tag = format!("{model}-decode8-{arch_name}-prepack");
        let compiled =
            compile(&g, &arch, &Config::default(), &LowerConfig::default()).expect("compiles");
        let layouts = parameter_layouts(&compiled.optimized.placed);
        seen += layouts.len();
        let prog = &compiled.lowered.program;
        // No op of the program computes a layout: no label names one...
        let labels: Vec<&str> = prog
            .streams
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.name.as_str()))
            .collect();
        for name in &layouts {
            let id = name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
            assert!(
                !labels.iter().any(|l| l.replace('.', "_").ends_with(&id)),
                "{tag}: `{name}` runs at run time"
            );
        }
        // ... and no copy instruction reads a weight's bytes.
        let inputs: Vec<_> = prog.inputs.iter().map(|p| p.buf).collect();
        let weight = |b: triad_isa::BufId| {
            let buf = &prog.buffers[b.0 as usize];
            buf.init.is_some() && !inputs.contains(&b)
        };
        for s in &prog.streams {
            for i in &s.insns {
                let copy = matches!(
                    i,
                    triad_isa::Instruction::StridedCopy(_) | triad_isa::Instruction::DmaCopy(_)
                );
                let reads_weight = i
                    .accesses()
                    .iter()
                    .any(|a| matches!(a.kind, triad_isa::AccessKind::Read) && weight(a.slice.buf));
                assert!(!(copy && reads_weight), "{tag}: {i:?} copies weight bytes");
            }
        }
        // Every layout is counted, and the program still computes the model.
        assert!(compiled.lowered.stats.prepacked <= layouts.len(), "{tag}");
        check(&g, arch_name, &tag).expect("compiles");
    }
    assert!(seen > 0, "no model had a weight layout to prepack");
}

/// `gelu(x·W + b)` then `rms_norm(h + r)`: two fused groups on the NPU.
fn epilogue_graph(m: usize, k: usize, n: usize) -> Graph {
    use triad_compiler::TensorType;
    let f16 = |shape: Vec<usize>| TensorType::new(DType::F16, shape);
    let u = |seed, low, high| Init::Uniform { seed, low, high };
    let mut g = Graph::new("epilogue");
    let x = g.input("x", f16(vec![m, k])).expect("input");
    let r = g.input("r", f16(vec![m, n])).expect("input");
    let w = g.weight("w", f16(vec![k, n]), u(1, -0.2, 0.2)).expect("w");
    let b = g.weight("b", f16(vec![n]), u(2, -1.0, 1.0)).expect("b");
    let gamma = g
        .weight("gamma", f16(vec![n]), u(3, 0.8, 1.2))
        .expect("gamma");
    let mm = g.add1("mm", Op::MatMul, &[x, w]).expect("mm");
    let biased = g.add1("bias", Op::Add, &[mm, b]).expect("bias");
    let h = g
        .add1("act", Op::Gelu { tanh_approx: true }, &[biased])
        .expect("act");
    let res = g.add1("res", Op::Add, &[h, r]).expect("res");
    let norm = Op::RmsNorm {
        axis: -1,
        eps: 1e-5,
    };
    let z = g.add1("norm", norm, &[res, gamma]).expect("norm");
    g.set_outputs(&[z]);
    g
}

#[test]
fn fused_npu_kernels_move_only_external_operands_and_the_result() {
    let (m, k, n) = (16usize, 64usize, 32usize);
    let e = 2u64; // f16 bytes
    let g = epilogue_graph(m, k, n);
    let arch = Arch::preset("mobile-soc").expect("preset");
    let mut config = Config::default();
    config.rules.algebra = false;
    config.rules.fusion = false;
    config.rules.split = false;
    let mut placed = optimize(&g, &arch, &config).expect("optimises").placed;
    let pg = placed.graph.clone();
    let id = |name: &str| pg.node_by_name(name).expect("node");
    for t in placed.placement.values_mut() {
        *t = Target::Npu;
    }
    let groups = [vec!["mm", "bias", "act"], vec!["res", "norm"]];
    let run_with = |fused: bool| {
        let mut p = placed.clone();
        p.fusions = if fused {
            groups
                .iter()
                .map(|grp| triad_compiler::egraph::Fusion {
                    target: Target::Npu,
                    nodes: grp.iter().map(|s| id(s)).collect(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let s = schedule(&p, &arch).expect("schedules");
        let l = lower(&p, &s, &arch, &LowerConfig::default()).expect("lowers");
        triad_isa::verify(&l.program, &arch).expect("verifies");
        let out = simulate(&l.program, &arch, &SimOptions::default()).expect("simulates");
        (l, out.report)
    };
    let (lf, fused) = run_with(true);
    assert_eq!(lf.stats.fused, 2, "both groups lowered as one kernel");
    let label_bytes = |r: &triad_sim::SimReport, l: &str| {
        r.labels
            .get(l)
            .unwrap_or_else(|| panic!("no label {l}: {:?}", r.labels.keys()))
            .dram_bytes
    };
    // Each kernel moves its external operands once and stores its result once.
    let (mk, kn, mn) = ((m * k) as u64, (k * n) as u64, (m * n) as u64);
    assert_eq!(
        label_bytes(&fused, "mm__bias__act"),
        e * (mk + kn + n as u64 + mn)
    );
    assert_eq!(
        label_bytes(&fused, "res__norm"),
        e * (mn + mn + n as u64 + mn)
    );
    // Op by op, every intermediate is stored and loaded again.
    let (_, single) = run_with(false);
    let sum =
        |r: &triad_sim::SimReport, ls: &[&str]| ls.iter().map(|l| label_bytes(r, l)).sum::<u64>();
    assert_eq!(
        sum(&single, &["mm", "bias", "act"]) - label_bytes(&fused, "mm__bias__act"),
        e * 4 * mn
    );
    assert_eq!(
        sum(&single, &["res", "norm"]) - label_bytes(&fused, "res__norm"),
        e * 2 * mn
    );
    assert!(fused.total_ps < single.total_ps);
    // The fused program still computes the graph.
    let dir = std::env::temp_dir().join(format!("triad-fused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("data.bin"), &lf.data).expect("data");
    let mut prog = lf.program.clone();
    let mut inputs = BTreeMap::new();
    for (i, port) in prog.inputs.clone().iter().enumerate() {
        let ty = g.ty(g.value(&port.name).expect("input")).clone();
        let (seed, low, high) = (50 + i as u64, -1.0, 1.0);
        prog.buffers[port.buf.0 as usize].init = Some(InitData::Uniform { seed, low, high });
        let data = Init::Uniform { seed, low, high }.materialise(ty.dtype, ty.elems() as usize);
        inputs.insert(
            port.name.clone(),
            Tensor::from_data(&ty, &data).expect("tensor"),
        );
    }
    let opts = SimOptions {
        functional: Some(dir.clone()),
        ..SimOptions::default()
    };
    let out = simulate(&prog, &arch, &opts).expect("simulates");
    let _ = std::fs::remove_dir_all(&dir);
    let mem = out.data.expect("functional data");
    let want = run(&g, &inputs).expect("interpreter")[&g.value_info(g.outputs()[0]).name].to_data();
    let port = &prog.outputs[0];
    let bytes = mem.buffer_bytes(&prog, port.buf).expect("bytes");
    let Values::F32(got) = Values::from_bytes(DType::F16, &bytes, m * n).expect("values") else {
        panic!("f16 values are f32s");
    };
    let Data::F32(want) = want else {
        panic!("f16 values are f32s");
    };
    let top = want.iter().fold(0f64, |a, x| a.max(f64::from(x.abs())));
    for (a, b) in got.iter().zip(&want) {
        assert!((f64::from(*a) - f64::from(*b)).abs() <= ULPS * ulp(DType::F16, top));
    }
}
