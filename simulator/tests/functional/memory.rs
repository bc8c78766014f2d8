//! `DataMemory`: sparse pages, bounds, `.init file=` and `.init seed=`.

use std::path::Path;

use rand::{Rng, SeedableRng};
use triad_isa::{DType, Memory, Program};
use triad_sim::{DataMemory, Error};

use super::{Run, arch, dec};

#[test]
fn untouched_memory_reads_zero_without_allocating() {
    let a = arch();
    let mut m = DataMemory::new(&a);
    let cap = a.dram.capacity_bytes();
    // Read a megabyte near the top of DRAM: zeros, no page materialised.
    let top = m.read(Memory::Dram, cap - (1 << 20), 1 << 20).unwrap();
    assert!(top.iter().all(|&b| b == 0));
    assert_eq!(m.pages_allocated(Memory::Dram), 0);
    // A write straddling a page boundary materialises exactly the two pages.
    m.write(Memory::Dram, 4096 * 7 - 2, &[1, 2, 3, 4]).unwrap();
    assert_eq!(m.pages_allocated(Memory::Dram), 2);
    assert_eq!(
        m.read(Memory::Dram, 4096 * 7 - 3, 6).unwrap(),
        [0, 1, 2, 3, 4, 0]
    );
    assert_eq!(m.pages_allocated(Memory::Spm), 0);
}

#[test]
fn accesses_outside_a_memory_are_errors() {
    let a = arch();
    let mut m = DataMemory::new(&a);
    let cap = a.dram.capacity_bytes();
    assert!(matches!(
        m.read(Memory::Dram, cap - 1, 2),
        Err(Error::DataAddress { capacity, .. }) if capacity == cap
    ));
    assert!(matches!(
        m.write(Memory::Dram, u64::MAX, &[1]),
        Err(Error::DataAddress { .. })
    ));
    let spm = a.npu.as_ref().unwrap().spm_bytes;
    assert!(m.write(Memory::Spm, spm - 1, &[9]).is_ok());
    assert!(matches!(
        m.write(Memory::Spm, spm, &[9]),
        Err(Error::DataAddress { .. })
    ));
    assert_eq!(m.pages_allocated(Memory::Spm), 1);
}

#[test]
fn init_file_reads_from_the_offset_and_rejects_short_files() {
    let dir = std::env::temp_dir().join(format!("triad-func-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes: Vec<u8> = (0..100u8).collect();
    std::fs::write(dir.join("w.bin"), &bytes).unwrap();
    let text = ".buffer w, dram, addr=64, shape=[3, 4], dtype=f16\n\
                .buffer s, spm, addr=0, shape=[5], dtype=i4\n\
                .init w, file=\"w.bin\", offset=10\n.init s, file=\"w.bin\"\n";
    let prog = Program::from_text(text).unwrap();
    let mut m = DataMemory::new(&arch());
    m.load_inits(&prog, &dir).unwrap();
    assert_eq!(
        m.buffer_bytes(&prog, prog.buffer_id("w").unwrap()).unwrap(),
        &bytes[10..34]
    );
    // 5 i4 elements are 3 bytes.
    assert_eq!(
        m.buffer_bytes(&prog, prog.buffer_id("s").unwrap()).unwrap(),
        &bytes[..3]
    );
    let short = Program::from_text(
        ".buffer w, dram, addr=0, shape=[60], dtype=f16\n.init w, file=\"w.bin\", offset=0\n",
    )
    .unwrap();
    let e = DataMemory::new(&arch())
        .load_inits(&short, &dir)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Init { buffer, message } if buffer == "w" && message.contains("120 bytes")),
        "{e}"
    );
    let missing = Program::from_text(
        ".buffer w, dram, addr=0, shape=[6], dtype=f16\n.init w, file=\"nope.bin\"\n",
    )
    .unwrap();
    assert!(matches!(
        DataMemory::new(&arch()).load_inits(&missing, &dir),
        Err(Error::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The graph IR's `Init::Uniform` recipe, written out here from its documentation:
/// ChaCha8 seeded with the seed; floats `low + (high − low)·u` with u an f32, then
/// rounded to the dtype; integers uniform over [ceil(low), floor(high)].
fn uniform(dtype: DType, n: usize, seed: u64, low: f64, high: f64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            if dtype.is_float() {
                let (lo, hi) = (low as f32, high as f32);
                super::round_to(dtype, f64::from(lo + (hi - lo) * rng.random::<f32>()))
            } else {
                rng.random_range(low.ceil() as i64..=high.floor() as i64) as f64
            }
        })
        .collect()
}

#[test]
fn init_uniform_is_the_shared_generator() {
    let text = ".buffer a, dram, addr=0, shape=[7, 9], dtype=bf16\n\
                .buffer b, dram, addr=4096, shape=[33], dtype=i4\n\
                .buffer c, spm, addr=0, shape=[40], dtype=i8\n\
                .buffer d, spm, addr=64, shape=[10], dtype=f32\n\
                .init a, uniform=[-1, 1], seed=7\n.init b, uniform=[-8, 7], seed=8\n\
                .init c, uniform=[-100, 100], seed=9\n.init d, uniform=[-0.5, 0.25], seed=10\n";
    let r = Run::new(text);
    for (name, dtype, n, seed, lo, hi) in [
        ("a", DType::BF16, 63, 7, -1.0, 1.0),
        ("b", DType::I4, 33, 8, -8.0, 7.0),
        ("c", DType::I8, 40, 9, -100.0, 100.0),
        ("d", DType::F32, 10, 10, -0.5, 0.25),
    ] {
        let got = dec(dtype, &r.get(name), n);
        assert_eq!(
            got,
            uniform(dtype, n, seed, lo, hi),
            "{name}: documented recipe"
        );
        assert_eq!(
            r.get(name),
            triad_isa::uniform(dtype, n, seed, lo, hi).to_bytes(dtype),
            "{name}: triad_isa::uniform"
        );
        assert!(got.iter().all(|v| (lo..=hi).contains(v)), "{name} in range");
    }
    // The i4 buffer's last byte has its high nibble zero (33 elements, 17 bytes).
    assert_eq!(r.get("b").len(), 17);
    assert_eq!(r.get("b")[16] >> 4, 0);
    // Determinism across a fresh memory and a different base directory.
    let prog = Program::from_text(text).unwrap();
    let mut m = DataMemory::new(&arch());
    m.load_inits(&prog, Path::new("/nonexistent")).unwrap();
    assert_eq!(
        m.buffer_bytes(&prog, prog.buffer_id("c").unwrap()).unwrap(),
        r.get("c")
    );
}
