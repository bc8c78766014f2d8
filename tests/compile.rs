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

use triad_compiler::egraph::Config;
use triad_compiler::lower::{LowerConfig, compile};
use triad_compiler::{DType, Data, Graph, Init, Tensor, run};
use triad_isa::{Arch, InitData, Values};
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

fn ulp(dtype: DType, x: f64) -> f64 {
    let bits = match dtype {
        DType::F16 => 11,
        DType::BF16 => 8,
        _ => 24,
    };
    let e = if x == 0.0 { 0 } else { x.abs().log2().floor() as i32 };
    2f64.powi(e - bits + 1)
}

/// Compile `graph` for `arch`, verify, run functionally, compare with the
/// interpreter. Returns the lowering's fallback count.
fn check(graph: &Graph, arch_name: &str, tag: &str) -> usize {
    let arch = Arch::preset(arch_name).expect("preset");
    let lc = LowerConfig {
        model: graph.name.clone(),
        data_file: "data.bin".into(),
    };
    let compiled = compile(graph, &arch, &Config::default(), &lc)
        .unwrap_or_else(|e| panic!("{tag}: compile failed: {e}"));
    let mut program = compiled.lowered.program.clone();
    // Inputs: uniform draws, the same in the program's `.init` and the interpreter.
    let mut inputs = BTreeMap::new();
    for (i, port) in program.inputs.clone().iter().enumerate() {
        let v = graph.value(&port.name).expect("input value");
        let ty = graph.ty(v).clone();
        let (low, high) = if ty.dtype.is_float() { (-1.0, 1.0) } else { (0.0, 15.0) };
        let seed = 7000 + i as u64;
        let data = Init::Uniform { seed, low, high }.materialise(ty.dtype, ty.elems() as usize);
        program.buffers[port.buf.0 as usize].init = Some(InitData::Uniform { seed, low, high });
        inputs.insert(port.name.clone(), Tensor::from_data(&ty, &data).expect("tensor"));
    }
    let report = triad_isa::verify(&program, &arch).unwrap_or_else(|e| panic!("{tag}: verify: {e}"));
    assert!(report.insns > 0, "{tag}: empty program");
    let dir: PathBuf = std::env::temp_dir().join(format!("triad-compile-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("data.bin"), &compiled.lowered.data).expect("data file");
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
            (g, e) => panic!("{tag}: output `{}`: kinds differ: {g:?} vs {e:?}", port.name),
        }
    }
    compiled.lowered.stats.fallbacks.len()
}

#[test]
fn tiny_llama_decode_on_mobile_soc_pim() {
    let g = tiny("tiny-llama", "decode:8", WeightFormat::F16);
    check(&g, "mobile-soc-pim", "llama-decode-msp");
}

#[test]
#[ignore]
fn debug_intermediates() {
    let model = std::env::var("M").unwrap_or("tiny-llama".into());
    let phase = std::env::var("P").unwrap_or("decode:8".into());
    let arch_name = std::env::var("A").unwrap_or("mobile-soc-pim".into());
    let g = tiny(&model, &phase, WeightFormat::F16);
    let arch = Arch::preset(&arch_name).unwrap();
    let compiled = compile(&g, &arch, &Config::default(), &LowerConfig::default()).unwrap();
    println!("{:?}", compiled.lowered.stats);
    for (id, t) in &compiled.optimized.placed.placement {
        println!("place {} {}", compiled.optimized.placed.graph.node(*id).name, t);
    }
    let mut program = compiled.lowered.program.clone();
    let mut inputs = BTreeMap::new();
    for (i, port) in program.inputs.clone().iter().enumerate() {
        let v = g.value(&port.name).unwrap();
        let ty = g.ty(v).clone();
        let (low, high) = if ty.dtype.is_float() { (-1.0, 1.0) } else { (0.0, 15.0) };
        let seed = 7000 + i as u64;
        let data = Init::Uniform { seed, low, high }.materialise(ty.dtype, ty.elems() as usize);
        program.buffers[port.buf.0 as usize].init = Some(InitData::Uniform { seed, low, high });
        inputs.insert(port.name.clone(), Tensor::from_data(&ty, &data).unwrap());
    }
    let dir = std::env::temp_dir().join("triad-debug");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data.bin"), &compiled.lowered.data).unwrap();
    std::fs::write(dir.join("p.tasm"), program.to_text()).unwrap();
    let out = simulate(&program, &arch, &SimOptions { functional: Some(dir.clone()), ..SimOptions::default() }).unwrap();
    let mem = out.data.unwrap();
    let all = triad_compiler::run_all(&compiled.optimized.placed.graph, &inputs).unwrap();
    for (name, t) in &all {
        let ident: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect();
        let Some(id) = program.buffer_id(&ident) else { println!("no buffer {name}"); continue };
        let buf = program.buffer(id).unwrap();
        let n = buf.elems().unwrap() as usize;
        let got = Values::from_bytes(buf.dtype, &mem.buffer_bytes(&program, id).unwrap(), n).unwrap();
        if let (Values::F32(g), Data::F32(e)) = (got, t.to_data()) {
            let d = g.iter().zip(&e).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            let top = e.iter().fold(0f32, |m, x| m.max(x.abs()));
            println!("{name}: maxdiff {d} (max {top}) {}", if d > top * 0.02 { "BAD" } else { "" });
        }
    }
}
