//! `load`, `store`, `copy`: strided byte moves.

use super::Run;

const BUFS: &str = "\
.buffer src, dram, addr=4096, shape=[64], dtype=i8
.buffer dst, dram, addr=8192, shape=[64], dtype=i8
.buffer s,   spm,  addr=0,    shape=[64], dtype=i8
.buffer t,   spm,  addr=128,  shape=[64], dtype=i8
";

fn pattern() -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(3))
        .collect()
}

#[test]
fn load_gathers_strided_rows_and_store_scatters_them() {
    let mut r = Run::new(&format!(
        "{BUFS}.stream dma.0\n\
         load s, src+2, rows=3, row_bytes=4, src_stride=10, dst_stride=5\n\
         store dst+1, s, rows=3, row_bytes=5, src_stride=5, dst_stride=20\n"
    ));
    let p = pattern();
    r.set("src", &p);
    r.run();
    let s = r.get("s");
    let mut want = vec![0u8; 64];
    for row in 0..3 {
        for b in 0..4 {
            want[row * 5 + b] = p[2 + row * 10 + b];
        }
    }
    assert_eq!(s, want);
    let d = r.get("dst");
    let mut want_d = vec![0u8; 64];
    for row in 0..3 {
        for b in 0..5 {
            want_d[1 + row * 20 + b] = want[row * 5 + b];
        }
    }
    assert_eq!(d, want_d);
}

#[test]
fn zero_source_stride_broadcasts_one_row() {
    let mut r = Run::new(&format!(
        "{BUFS}.stream dma.1\nload t, src+8, rows=4, row_bytes=3, src_stride=0, dst_stride=3\n"
    ));
    let p = pattern();
    r.set("src", &p);
    r.run();
    let t = r.get("t");
    for row in 0..4 {
        assert_eq!(&t[row * 3..row * 3 + 3], &p[8..11]);
    }
    assert!(t[12..].iter().all(|&b| b == 0));
}

#[test]
fn overlapping_copy_moves_the_data_as_it_was() {
    // Shift 8 rows of 4 bytes up by one row, in place, in DRAM and in the scratchpad.
    for (buf, engine) in [("src", "dma.0"), ("s", "dma.2")] {
        let mut r = Run::new(&format!(
            "{BUFS}.stream {engine}\ncopy {buf}+4, {buf}, rows=8, row_bytes=4, src_stride=4, dst_stride=4\n"
        ));
        let p = pattern();
        r.set(buf, &p);
        r.run();
        let got = r.get(buf);
        assert_eq!(&got[..4], &p[..4], "{buf}: first row kept");
        assert_eq!(&got[4..36], &p[..32], "{buf}: rows moved as a whole");
        assert_eq!(&got[36..], &p[36..], "{buf}: rest untouched");
    }
}
