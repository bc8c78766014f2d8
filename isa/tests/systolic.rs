//! The systolic-array cycle count against SCALE-Sim 3.0.0 itself (rows it printed,
//! recorded in tests/fixtures/scalesim.csv by tools/scalesim/make_fixture.py), and
//! its invariants: monotonic in every GEMM dimension, equal to the closed formula,
//! saturating instead of overflowing; plus the NPU's sub-word and multi-array rules.

use proptest::prelude::*;
use std::collections::BTreeSet;
use std::num::NonZeroU32;
use triad_isa::systolic::{GemmShape, gemm_cycles, split_gemm_cycles};
use triad_isa::{Cycles, DType, Dataflow, Npu};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scalesim.csv");

fn nz(x: u32) -> NonZeroU32 {
    NonZeroU32::new(x).expect("test arrays are non-empty")
}

fn dataflow(name: &str) -> Dataflow {
    match name {
        "os" => Dataflow::Os,
        "ws" => Dataflow::Ws,
        "is" => Dataflow::Is,
        other => panic!("{FIXTURE}: unknown dataflow `{other}`"),
    }
}

/// One fixture row: array, dataflow, shape and SCALE-Sim's printed compute cycles.
struct Row {
    line: usize,
    rows: u32,
    cols: u32,
    df: Dataflow,
    gemm: GemmShape,
    printed: u64,
}

fn fixture() -> Vec<Row> {
    let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    let (_, header) = lines.next().expect("a header line");
    assert_eq!(
        header,
        "rows,cols,dataflow,m,n,k,compute_cycles,stall_cycles"
    );
    lines
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 8, "{FIXTURE}:{}: {l}", i + 1);
            let num = |j: usize| -> u64 {
                f[j].parse()
                    .unwrap_or_else(|e| panic!("{FIXTURE}:{}: field {j}: {e}", i + 1))
            };
            assert_eq!(num(7), 0, "{FIXTURE}:{}: SCALE-Sim stalled", i + 1);
            Row {
                line: i + 1,
                rows: num(0) as u32,
                cols: num(1) as u32,
                df: dataflow(f[2]),
                gemm: GemmShape::new(num(3), num(4), num(5)),
                printed: num(6),
            }
        })
        .collect()
}

/// SCALE-Sim prints the index of the last busy cycle, so every printed figure is
/// exactly one less than the cycles the array is busy.
#[test]
fn equals_scalesim_on_every_fixture_row() {
    let rows = fixture();
    let mut shapes = BTreeSet::new();
    let mut arrays = BTreeSet::new();
    let mut flows = BTreeSet::new();
    for r in &rows {
        let got = gemm_cycles(nz(r.rows), nz(r.cols), r.df, r.gemm);
        assert_eq!(
            got,
            Cycles(r.printed + 1),
            "{FIXTURE}:{}: {}x{} {:?} {:?}",
            r.line,
            r.rows,
            r.cols,
            r.df,
            r.gemm
        );
        shapes.insert((r.gemm.m, r.gemm.n, r.gemm.k));
        arrays.insert((r.rows, r.cols));
        flows.insert(format!("{:?}", r.df));
    }
    // The acceptance: >= 20 shapes, two array sizes, all three dataflows,
    // with M = 1 decode shapes and non-dividing shapes among them.
    assert!(shapes.len() >= 24, "{} shapes", shapes.len());
    assert!(arrays.len() >= 2, "{arrays:?}");
    assert_eq!(flows.len(), 3);
    assert!(shapes.iter().filter(|s| s.0 == 1).count() >= 5);
    assert!(arrays.iter().all(|&(r, c)| {
        shapes
            .iter()
            .any(|&(m, n, k)| m % u64::from(r) != 0 && n % u64::from(c) != 0 && k > 1)
    }));
    // Every (array, dataflow) pair has every shape.
    assert_eq!(rows.len(), shapes.len() * arrays.len() * 3);
}

/// The closed formula, written out independently in u128 (`u128::MAX` if even that
/// overflows).
fn formula(r: u32, c: u32, df: Dataflow, m: u64, n: u64, k: u64) -> u128 {
    if m == 0 || n == 0 || k == 0 {
        return 0;
    }
    let (sr, sc, t) = match df {
        Dataflow::Os => (m, n, k),
        Dataflow::Ws => (k, n, m),
        Dataflow::Is => (k, m, n),
    };
    let (r, c) = (u128::from(r), u128::from(c));
    let folds = u128::from(sr).div_ceil(r) * u128::from(sc).div_ceil(c);
    let per_fold = u128::from(t)
        + match df {
            Dataflow::Os => r + c - 2,
            Dataflow::Ws | Dataflow::Is => 2 * r + c - 2,
        };
    folds.saturating_mul(per_fold)
}

fn any_dataflow() -> impl Strategy<Value = Dataflow> {
    prop_oneof![Just(Dataflow::Os), Just(Dataflow::Ws), Just(Dataflow::Is)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_the_formula_and_grows_with_every_dimension(
        r in 1u32..300, c in 1u32..300, df in any_dataflow(),
        m in 0u64..5000, n in 0u64..5000, k in 0u64..5000, d in 1u64..300,
    ) {
        let f = |m, n, k| gemm_cycles(nz(r), nz(c), df, GemmShape::new(m, n, k)).0;
        prop_assert_eq!(u128::from(f(m, n, k)), formula(r, c, df, m, n, k));
        prop_assert!(f(m + d, n, k) >= f(m, n, k));
        prop_assert!(f(m, n + d, k) >= f(m, n, k));
        prop_assert!(f(m, n, k + d) >= f(m, n, k));
    }

    #[test]
    fn more_arrays_never_take_longer_and_one_array_is_the_plain_count(
        r in 1u32..200, c in 1u32..200, a in 1u32..16, df in any_dataflow(),
        m in 1u64..3000, n in 1u64..3000, k in 1u64..3000,
    ) {
        let g = GemmShape::new(m, n, k);
        let split = |a| split_gemm_cycles(nz(r), nz(c), nz(a), df, g);
        prop_assert_eq!(split(1), gemm_cycles(nz(r), nz(c), df, g));
        prop_assert!(split(a + 1) <= split(a));
        // Perfect scaling is the floor: a arrays never beat 1/a of one array's folds.
        let one = u128::from(split(1).0);
        prop_assert!(u128::from(split(a).0) * u128::from(a) >= one);
    }

    #[test]
    fn huge_shapes_saturate_instead_of_overflowing(
        r in 1u32..=u32::MAX, c in 1u32..=u32::MAX, df in any_dataflow(),
        m in 1u64..=u64::MAX, n in 1u64..=u64::MAX, k in 1u64..=u64::MAX,
    ) {
        let got = gemm_cycles(nz(r), nz(c), df, GemmShape::new(m, n, k)).0;
        let want = formula(r, c, df, m, n, k).min(u128::from(u64::MAX));
        prop_assert_eq!(u128::from(got), want);
    }
}

/// A hand-worked case per dataflow on the 32 x 32 array (M = 100, N = 70, K = 50).
#[test]
fn hand_computed_cases() {
    let g = GemmShape::new(100, 70, 50);
    let a = nz(32);
    // os: (Sr, Sc, T) = (100, 70, 50): 4 * 3 folds of 50 + 62 cycles.
    assert_eq!(gemm_cycles(a, a, Dataflow::Os, g), Cycles(12 * 112));
    // ws: (50, 70, 100): 2 * 3 folds of 100 + 64 + 30 cycles.
    assert_eq!(gemm_cycles(a, a, Dataflow::Ws, g), Cycles(6 * 194));
    // is: (50, 100, 70): 2 * 4 folds of 70 + 94 cycles.
    assert_eq!(gemm_cycles(a, a, Dataflow::Is, g), Cycles(8 * 164));
    // Empty GEMMs cost nothing.
    assert_eq!(
        gemm_cycles(a, a, Dataflow::Ws, GemmShape::new(0, 7, 7)),
        Cycles(0)
    );
}

fn npu(arrays: u32, rows: u32, cols: u32, dataflow: Dataflow) -> Npu {
    Npu {
        arrays,
        rows,
        cols,
        dataflow,
        tck_ps: 1000,
        spm_bytes: 1 << 20,
        spm_banks: 8,
        dtypes: vec![DType::F16, DType::I8, DType::I4],
        macs_per_pe: [(DType::I8, 2), (DType::I4, 4)].into_iter().collect(),
        vector_lanes: 16,
        vector_ops: vec![],
        dma_engines: 1,
    }
}

#[test]
fn npu_sub_word_rate_shrinks_the_reduction_dimension() {
    for df in [Dataflow::Os, Dataflow::Ws, Dataflow::Is] {
        let n = npu(1, 32, 32, df);
        let (rows, cols) = (nz(32), nz(32));
        for (m, nn, k) in [(1, 512, 512), (100, 70, 50), (64, 64, 63), (7, 9, 1)] {
            let plain = |k| gemm_cycles(rows, cols, df, GemmShape::new(m, nn, k));
            assert_eq!(n.gemm_cycles(m, nn, k, DType::F16), Some(plain(k)));
            assert_eq!(
                n.gemm_cycles(m, nn, k, DType::I8),
                Some(plain(k.div_ceil(2)))
            );
            assert_eq!(
                n.gemm_cycles(m, nn, k, DType::I4),
                Some(plain(k.div_ceil(4)))
            );
        }
    }
    // os, 32 x 32, M = N = 64, K = 512 in i4: T = 128, 2 * 2 folds of 128 + 62.
    let n = npu(1, 32, 32, Dataflow::Os);
    assert_eq!(n.gemm_cycles(64, 64, 512, DType::I4), Some(Cycles(4 * 190)));
}

#[test]
fn npu_arrays_split_the_column_folds() {
    // ws, 32 x 32, M = 10, N = 96, K = 64: 2 row folds x 3 column folds of
    // 10 + 64 + 30 = 104 cycles. Two arrays take 2 and 1 column folds: 2 * 2 * 104.
    let one = npu(1, 32, 32, Dataflow::Ws);
    let two = npu(2, 32, 32, Dataflow::Ws);
    let four = npu(4, 32, 32, Dataflow::Ws);
    assert_eq!(
        one.gemm_cycles(10, 96, 64, DType::F16),
        Some(Cycles(6 * 104))
    );
    assert_eq!(
        two.gemm_cycles(10, 96, 64, DType::F16),
        Some(Cycles(4 * 104))
    );
    // More arrays than column folds: the extra ones idle.
    assert_eq!(
        four.gemm_cycles(10, 96, 64, DType::F16),
        Some(Cycles(2 * 104))
    );
    // is splits M (its column dimension): M = 64 is 2 column folds on 32 columns.
    let is2 = npu(2, 32, 32, Dataflow::Is);
    let g = GemmShape::new(64, 16, 32);
    assert_eq!(
        is2.gemm_cycles(64, 16, 32, DType::F16),
        Some(Cycles(gemm_cycles(nz(32), nz(32), Dataflow::Is, g).0 / 2))
    );
}

#[test]
fn npu_refuses_what_it_cannot_run() {
    let n = npu(1, 32, 32, Dataflow::Os);
    assert_eq!(
        n.gemm_cycles(8, 8, 8, DType::BF16),
        None,
        "dtype not listed"
    );
    assert_eq!(n.gemm_cycles(0, 8, 8, DType::F16), Some(Cycles(0)));
    assert_eq!(
        npu(0, 32, 32, Dataflow::Os).gemm_cycles(8, 8, 8, DType::F16),
        None
    );
    assert_eq!(
        npu(1, 0, 32, Dataflow::Os).gemm_cycles(8, 8, 8, DType::F16),
        None
    );
    assert_eq!(
        npu(1, 32, 0, Dataflow::Os).gemm_cycles(8, 8, 8, DType::F16),
        None
    );
    let big = u64::MAX;
    assert_eq!(
        n.gemm_cycles(big, big, big, DType::F16),
        Some(Cycles(u64::MAX))
    );
}
