//! Property tests of the three program forms: random valid programs survive
//! text → program → text, binary → program → binary and JSON exactly; random bytes
//! and random edits of valid files never panic the decoders, and whatever the binary
//! decoder accepts re-encodes to the same bytes.

use proptest::prelude::*;
use triad_isa::{
    BufId, Buffer, Bytes, DType, Engine, InitData, Instruction, Label, Memory, Meta, Port, Program,
    SemId, Semaphore, Stream, Synth,
};

/// Cases per property (keeps the whole suite well inside the CI budget).
const CASES: u32 = 64;

/// SplitMix64: a small deterministic generator seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.next() % span,
            None => self.next(),
        }
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.range(0, xs.len() as u64 - 1) as usize]
    }
}

/// Operand source for `Instruction::synthesize` with valid buffer and sem ids.
struct Gen<'a> {
    rng: &'a mut Rng,
    buffers: u32,
    sems: u32,
}

impl Synth for Gen<'_> {
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        self.rng.range(lo, hi)
    }
    fn buf(&mut self) -> BufId {
        BufId(self.rng.range(0, self.buffers as u64 - 1) as u32)
    }
    fn sem(&mut self) -> SemId {
        SemId(self.rng.range(0, self.sems as u64 - 1) as u32)
    }
}

/// A random identifier, made unique by `n`.
fn ident(rng: &mut Rng, n: usize) -> String {
    const FIRST: &[char] = &['a', 'k', 'z', 'Q', '_'];
    const REST: &[char] = &['a', '0', '9', '_', '.', 'X'];
    let mut s = String::new();
    s.push(*rng.pick(FIRST));
    for _ in 0..rng.range(0, 6) {
        s.push(*rng.pick(REST));
    }
    format!("{s}_{n}")
}

/// A random string with the characters that need escaping.
fn text(rng: &mut Rng) -> String {
    const CHARS: &[char] = &[
        'a', ' ', '"', '\\', '\n', '\t', '\r', ';', '#', 'é', '\u{1}', '\u{7f}', '→', '{',
    ];
    (0..rng.range(0, 12)).map(|_| *rng.pick(CHARS)).collect()
}

/// A random finite f64: simple values mostly, sometimes arbitrary bits.
fn f64_value(rng: &mut Rng) -> f64 {
    match rng.range(0, 3) {
        0 => -0.5,
        1 => rng.range(0, 1 << 20) as f64 / 1024.0 - 512.0,
        _ => {
            let x = f64::from_bits(rng.next());
            if x.is_finite() { x } else { 1e-300 }
        }
    }
}

/// Random graph inputs or outputs over `nbuf` buffers, names unique.
fn ports(rng: &mut Rng, nbuf: usize) -> Vec<Port> {
    (0..rng.range(0, 3))
        .map(|i| Port {
            name: format!("{}{i}", text(rng)),
            buf: BufId(rng.range(0, nbuf as u64 - 1) as u32),
        })
        .collect()
}

/// A random program that passes `Program::validate`.
fn random_program(seed: u64) -> Program {
    let rng = &mut Rng(seed);
    let meta = Meta {
        model: if rng.range(0, 1) == 0 {
            String::new()
        } else {
            text(rng)
        },
        arch: if rng.range(0, 1) == 0 {
            String::new()
        } else {
            text(rng)
        },
        compiler: text(rng),
    };
    let nbuf = rng.range(1, 6) as usize;
    let mut buffers: Vec<Buffer> = Vec::new();
    for i in 0..nbuf {
        let mem = if rng.range(0, 1) == 0 {
            Memory::Dram
        } else {
            Memory::Spm
        };
        let alias = buffers
            .iter()
            .position(|b| b.mem == mem)
            .filter(|_| rng.range(0, 2) == 0)
            .map(|k| BufId(k as u32));
        let init = match rng.range(0, 2) {
            0 => None,
            1 => Some(InitData::Uniform {
                seed: rng.next(),
                low: f64_value(rng),
                high: f64_value(rng),
            }),
            _ => Some(InitData::File {
                path: text(rng),
                offset: Bytes(rng.range(0, 1 << 40)),
            }),
        };
        buffers.push(Buffer {
            name: ident(rng, i),
            mem,
            addr: Bytes(if rng.range(0, 3) == 0 {
                rng.next()
            } else {
                rng.range(0, 1 << 20)
            }),
            shape: (0..rng.range(0, 3)).map(|_| rng.range(0, 4096)).collect(),
            dtype: *rng.pick(&DType::ALL),
            alias,
            init,
        });
    }
    let inputs = ports(rng, nbuf);
    let outputs = ports(rng, nbuf);
    let nsem = rng.range(0, 3) as usize;
    let sems: Vec<Semaphore> = (0..nsem)
        .map(|i| Semaphore {
            name: ident(rng, i),
            init: rng.range(0, u32::MAX as u64) as u32,
        })
        .collect();
    let mut pool = vec![
        Engine::NpuMx,
        Engine::NpuVec,
        Engine::Cpu(0),
        Engine::Cpu(7),
        Engine::Dma(0),
        Engine::Dma(3),
        Engine::Pim(0),
        Engine::Pim(65535),
    ];
    let mut streams = Vec::new();
    for _ in 0..rng.range(0, 4) {
        let engine = pool.remove(rng.range(0, pool.len() as u64 - 1) as usize);
        let mut insns = Vec::new();
        for _ in 0..rng.range(0, 10) {
            // Retry until the opcode suits the engine (and sync has a semaphore).
            loop {
                let op = *rng.pick(Instruction::OPCODES);
                let mut g = Gen {
                    rng,
                    buffers: nbuf as u32,
                    sems: nsem as u32,
                };
                let is_sync = op <= 0x02;
                if is_sync && nsem == 0 {
                    continue;
                }
                let Some(insn) = Instruction::synthesize(op, &mut g) else {
                    continue;
                };
                if insn.class().runs_on(engine) {
                    insns.push(insn);
                    break;
                }
            }
        }
        let mut at: Vec<u32> = (0..rng.range(0, 3))
            .map(|_| rng.range(0, insns.len() as u64) as u32)
            .collect();
        at.sort_unstable();
        let labels = at
            .into_iter()
            .enumerate()
            .map(|(i, at)| Label {
                name: ident(rng, i),
                at,
            })
            .collect();
        streams.push(Stream {
            engine,
            labels,
            insns,
        });
    }
    Program {
        meta,
        buffers,
        inputs,
        outputs,
        sems,
        streams,
    }
}

/// Apply `edits` random byte-level edits (flip, overwrite, delete, insert, truncate).
fn mutate(bytes: &[u8], seed: u64, edits: usize) -> Vec<u8> {
    let rng = &mut Rng(seed);
    let mut b = bytes.to_vec();
    for _ in 0..edits {
        if b.is_empty() {
            b.push(rng.next() as u8);
            continue;
        }
        let i = rng.range(0, b.len() as u64 - 1) as usize;
        match rng.range(0, 4) {
            0 => b[i] ^= 1 << rng.range(0, 7),
            1 => b[i] = rng.next() as u8,
            2 => {
                b.remove(i);
            }
            3 => b.insert(i, rng.next() as u8),
            _ => b.truncate(i),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn generated_programs_are_valid(seed in any::<u64>()) {
        let p = random_program(seed);
        prop_assert!(p.validate().is_ok(), "{:?}", p.validate());
    }

    #[test]
    fn text_round_trip_is_exact(seed in any::<u64>()) {
        let p = random_program(seed);
        let t = p.to_text();
        let q = Program::from_text(&t).map_err(|e| TestCaseError::fail(format!("{e}\n{t}")))?;
        prop_assert_eq!(&q, &p);
        prop_assert_eq!(q.to_text(), t);
    }

    #[test]
    fn binary_round_trip_is_exact(seed in any::<u64>()) {
        let p = random_program(seed);
        let b = p.to_bytes();
        let q = Program::from_bytes(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&q, &p);
        prop_assert_eq!(q.to_bytes(), b);
    }

    #[test]
    fn json_round_trip_is_exact(seed in any::<u64>()) {
        let p = random_program(seed);
        let j = p.to_json().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let q = Program::from_json(&j).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&q, &p);
        prop_assert_eq!(q.to_json().unwrap(), j);
    }

    #[test]
    fn forms_agree(seed in any::<u64>()) {
        let p = random_program(seed);
        let from_text = Program::from_text(&p.to_text()).unwrap();
        let from_json = Program::from_json(&p.to_json().unwrap()).unwrap();
        prop_assert_eq!(from_text.to_bytes(), p.to_bytes());
        prop_assert_eq!(from_json.to_text(), p.to_text());
    }

    #[test]
    fn every_buffer_operand_has_exactly_one_access(seed in any::<u64>()) {
        // `accesses` (hand-written per instruction) must cover the operands the
        // instruction table declares as buffers (`slices`, generated), each once.
        let p = random_program(seed);
        for s in &p.streams {
            for insn in &s.insns {
                let mut declared: Vec<_> = insn.slices();
                let mut accessed: Vec<_> = insn.accesses().iter().map(|a| (a.operand, a.slice)).collect();
                declared.sort();
                accessed.sort();
                prop_assert_eq!(declared, accessed, "{}", insn.mnemonic());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Program::from_bytes(&bytes);
        let mut with_header = triad_isa::TBIN_MAGIC.to_vec();
        with_header.extend_from_slice(&triad_isa::TBIN_VERSION.to_le_bytes());
        with_header.extend_from_slice(&[0, 0]);
        with_header.extend_from_slice(&bytes);
        if let Ok(p) = Program::from_bytes(&with_header) {
            prop_assert_eq!(p.to_bytes(), with_header);
        }
        let s = String::from_utf8_lossy(&bytes);
        let _ = Program::from_text(&s);
        let _ = Program::from_json(&s);
    }

    #[test]
    fn edited_binaries_never_panic_and_stay_canonical(seed in any::<u64>(), edit_seed in any::<u64>(), edits in 1usize..4) {
        let b = random_program(seed).to_bytes();
        let m = mutate(&b, edit_seed, edits);
        match Program::from_bytes(&m) {
            // An accepted file is a valid program whose encoding is exactly the input.
            Ok(p) => {
                prop_assert!(p.validate().is_ok());
                prop_assert_eq!(p.to_bytes(), m);
            }
            Err(e) => prop_assert!(e.to_string().contains("byte offset") || e.to_string().contains("invalid program")),
        }
    }

    #[test]
    fn edited_text_never_panics_and_reprints_stably(seed in any::<u64>(), edit_seed in any::<u64>(), edits in 1usize..4) {
        let t = random_program(seed).to_text();
        let m = mutate(t.as_bytes(), edit_seed, edits);
        let s = String::from_utf8_lossy(&m);
        match Program::from_text(&s) {
            Ok(p) => {
                let again = Program::from_text(&p.to_text()).unwrap();
                prop_assert_eq!(again, p);
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("line ") || msg.starts_with("invalid program"), "{}", msg);
            }
        }
    }

    #[test]
    fn edited_json_never_panics(seed in any::<u64>(), edit_seed in any::<u64>(), edits in 1usize..4) {
        let j = random_program(seed).to_json().unwrap();
        let m = mutate(j.as_bytes(), edit_seed, edits);
        if let Ok(p) = Program::from_json(&String::from_utf8_lossy(&m)) {
            prop_assert!(p.validate().is_ok());
        }
    }
}

#[test]
fn text_form_of_a_known_program() {
    // Hand-written expectation of the canonical printer for a small program.
    let p = Program {
        meta: Meta {
            model: "m \"q\"".into(),
            arch: String::new(),
            compiler: "c".into(),
        },
        buffers: vec![Buffer {
            name: "x".into(),
            mem: Memory::Spm,
            addr: Bytes(64),
            shape: vec![2, 3],
            dtype: DType::F16,
            alias: None,
            init: Some(InitData::Uniform {
                seed: 7,
                low: -0.5,
                high: 1.0,
            }),
        }],
        inputs: vec![Port {
            name: "hidden in".into(),
            buf: BufId(0),
        }],
        outputs: vec![Port {
            name: "out".into(),
            buf: BufId(0),
        }],
        sems: vec![Semaphore {
            name: "s".into(),
            init: 1,
        }],
        streams: vec![Stream {
            engine: Engine::NpuVec,
            labels: vec![
                Label {
                    name: "top".into(),
                    at: 0,
                },
                Label {
                    name: "end".into(),
                    at: 2,
                },
            ],
            insns: vec![
                triad_isa::Wait {
                    sem: SemId(0),
                    value: 1,
                }
                .into(),
                triad_isa::Softmax {
                    out: triad_isa::Slice {
                        buf: BufId(0),
                        offset: Bytes(6),
                    },
                    x: triad_isa::Slice::at(BufId(0)),
                    rows: 1,
                    cols: 3,
                    dtype: DType::F16,
                }
                .into(),
            ],
        }],
    };
    let expected = "\
.meta model=\"m \\\"q\\\"\", compiler=\"c\"

.buffer x, spm, addr=64, shape=[2, 3], dtype=f16
.init x, uniform=[-0.5, 1.0], seed=7
.input \"hidden in\", x
.output \"out\", x

.sem s, init=1

.stream npu.vec
top:
    wait s, value=1
    softmax x+6, x, rows=1, cols=3, dtype=f16
end:
";
    assert_eq!(p.to_text(), expected);
    assert_eq!(Program::from_text(expected).unwrap(), p);
    // Binary size by hand: header 8; meta (1+5) + 1 + (1+1) = 9; buffer count 1;
    // buffer: name 1+1, mem 1, addr 1 (64 < 128), rank 1 + dims 2, dtype 1, alias 1,
    // init tag 1 + seed 1 + two f64 16 = 27; inputs: count 1 + name 1+9 + buffer 1
    // = 12; outputs 1 + (1+3) + 1 = 6; sems 1 + name 1+1 + init 1 = 4; streams:
    // count 1, kind 1, index 1, label count 1, labels (1+3+1) × 2, insn count 1,
    // wait 1+1+1, softmax 1 + (1+1) + (1+1) + 1 + 1 + 1 = 26.
    assert_eq!(p.to_bytes().len(), 8 + 9 + 1 + 27 + 12 + 6 + 4 + 26);
}

#[test]
fn json_floats_keep_their_bits() {
    // serde_json reads numbers as f64 before narrowing to f32; check that the
    // shortest-form f32 text it writes always narrows back to the same bits.
    let rng = &mut Rng(0x5eed);
    let mut checked = 0;
    while checked < 200_000 {
        let x = f32::from_bits(rng.next() as u32);
        if !x.is_finite() {
            continue;
        }
        let j = serde_json::to_string(&x).unwrap();
        let y: f32 = serde_json::from_str(&j).unwrap();
        assert_eq!(x.to_bits(), y.to_bits(), "{x:?} -> {j}");
        checked += 1;
    }
}

#[test]
fn deeply_nested_lists_are_an_error_not_a_stack_overflow() {
    // `shape=` ends at column 31: the outer `[` is column 32, the nested one 33.
    let text = format!(
        ".buffer x, dram, addr=0, shape={}, dtype=i8\n",
        "[".repeat(100_000)
    );
    let e = Program::from_text(&text).unwrap_err().to_string();
    assert_eq!(
        e,
        "line 1, column 33: expected a number or name inside `[…]`, found a nested list"
    );
}
