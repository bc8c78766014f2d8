//! Random valid programs (generated, not hand-written): each finishes or reports a
//! named deadlock; when it finishes, the DRAM timing checker is clean, the energy
//! parts sum to the total and the bytes the engines' bursts moved are the bytes the
//! DRAM served; and running it again in functional mode gives the same report.

use crate::common::*;
use proptest::prelude::*;
use triad_sim::{Error, SimOptions, simulate};

/// One generated instruction: engine index and a choice of work.
#[derive(Clone, Debug)]
enum Step {
    Work { engine: usize, kind: u8, size: u32 },
    Sync { from: usize, to: usize, sem: usize },
}

const ENGINES: [&str; 6] = ["dma.0", "npu.mx", "npu.vec", "cpu.0", "pim.0", "pim.1"];

fn text(steps: &[Step]) -> String {
    let mut streams: Vec<Vec<String>> = vec![vec![]; ENGINES.len()];
    let mut sems = 0usize;
    for s in steps {
        match *s {
            Step::Work { engine, kind, size } => {
                let n = 64 * size;
                let line = match (engine, kind % 3) {
                    (0, 0) => format!("load sa, da, rows={size}, row_bytes=64, src_stride=128, dst_stride=64"),
                    (0, _) => format!("store db, sb, rows=1, row_bytes={n}, src_stride={n}, dst_stride={n}"),
                    (1, _) => format!(
                        "gemm sc, sa, sb, m={}, n=16, k=16, dtype=f16, out_dtype=f16, accumulate={}, scale=1.0",
                        size.min(64),
                        kind % 2 == 1
                    ),
                    (2, 0) => format!("unary exp, sb, sb, rows=1, cols={}, dtype=f16", n / 2),
                    (2, _) => format!("softmax sc, sc, rows=4, cols={}, dtype=f16", 4 * size.min(64)),
                    (3, 0) => format!("eltwise add, dc, da, db, rows=1, cols={}, dtype=f16, bcast=none", n / 2),
                    (3, _) => "gemm dc, da, db, m=8, n=8, k=8, dtype=f16, out_dtype=f16, accumulate=false, scale=1.0".to_string(),
                    // PIM: 2 KiB weight rows (one DRAM row each, inside one channel).
                    (_, 0) => format!("pim.gemv dc, db, da, rows={}, cols=1024, ld=1024, dtype=f16", size.min(16)),
                    // dc is da + 128 KiB: the same channel and bank, burst by burst.
                    (_, 2) => format!("pim.ewact relu, dc, da, len={}, dtype=f16", n / 2),
                    (_, _) => format!(
                        "pim.wr_gb da, len=1024, dtype=f16\npim.mac_abk db, rows={r}, cols=1024, ld=1024, dtype=f16\npim.rd_mac dc, len={r}, dtype=f16",
                        r = size.min(16)
                    ),
                };
                streams[engine].push(line);
            }
            Step::Sync { from, to, sem } => {
                let sem = sem % 3;
                sems = sems.max(sem + 1);
                streams[from].push(format!("signal q{sem}, value=1"));
                streams[to].push(format!("wait q{sem}, value=1"));
            }
        }
    }
    let mut t = String::from(
        ".buffer da, dram, addr=0, shape=[16384], dtype=f16\n\
         .buffer db, dram, addr=65536, shape=[16384], dtype=f16\n\
         .buffer dc, dram, addr=131072, shape=[16384], dtype=f16\n\
         .buffer sa, spm, addr=0, shape=[16384], dtype=f16\n\
         .buffer sb, spm, addr=65536, shape=[16384], dtype=f16\n\
         .buffer sc, spm, addr=131072, shape=[16384], dtype=f16\n",
    );
    for s in 0..sems {
        t += &format!(".sem q{s}\n");
    }
    for (e, lines) in streams.iter().enumerate() {
        if lines.is_empty() {
            continue;
        }
        t += &format!(".stream {}\n", ENGINES[e]);
        for l in lines {
            t += l;
            t.push('\n');
        }
    }
    t
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..6usize, any::<u8>(), 1..64u32).prop_map(|(engine, kind, size)| Step::Work { engine, kind, size }),
        1 => (0..6usize, 0..6usize, 0..3usize)
            .prop_filter("distinct engines", |(a, b, _)| a != b)
            .prop_map(|(from, to, sem)| Step::Sync { from, to, sem }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_finish_consistently_or_deadlock_by_name(steps in prop::collection::vec(step(), 1..24)) {
        let a = arch("mobile-soc-pim");
        let p = program(&text(&steps));

        prop_assume!(triad_isa::verify(&p, &a).is_ok());
        match simulate(&p, &a, &SimOptions { check: true, event_limit: 5_000_000, ..SimOptions::default() }) {
            Ok(out) => {
                let r = out.report;
                prop_assert_eq!(r.timing_violations, Some(0));
                let sum: f64 = r.energy.parts().iter().map(|p| p.1).sum();
                prop_assert_eq!(sum, r.energy.total_pj);
                let burst = a.dram.burst_bytes();
                let read: u64 = r.engines.iter().map(|e| e.dram_read_bytes).sum();
                let written: u64 = r.engines.iter().map(|e| e.dram_write_bytes).sum();
                prop_assert_eq!(read, r.dram.reads * burst);
                prop_assert_eq!(written, r.dram.writes * burst);
                for e in &r.engines {
                    prop_assert_eq!(e.busy_ps + e.stalled_ps + e.idle_ps, r.total_ps);
                }
                // Deterministic, and functional mode changes no cycle: a second run
                // computing real values reports exactly the same.
                let functional = SimOptions {
                    check: true,
                    functional: Some(std::env::temp_dir()),
                    ..SimOptions::default()
                };
                let again = simulate(&p, &a, &functional).unwrap();
                prop_assert!(again.data.is_some());
                prop_assert_eq!(again.report, r);
            }
            Err(Error::ProgramDeadlock { waiting, .. }) => prop_assert!(!waiting.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error: {}", e),
        }
    }
}
