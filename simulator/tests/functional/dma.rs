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

/// The first example of isa/README.md (DMA in, int8 GEMM tile with requantisation,
/// DMA out), streams run in dependency order: y = round(x·w / 128), saturated.
#[test]
fn readme_int8_tile_end_to_end() {
    use super::{dec, enc};
    use triad_isa::DType;
    let text = "\
.buffer x,   dram, addr=0,     shape=[64, 128], dtype=i8
.buffer w,   dram, addr=8192,  shape=[128, 64], dtype=i8
.buffer y,   dram, addr=16384, shape=[64, 64],  dtype=i8
.buffer x_s, spm,  addr=0,     shape=[64, 128], dtype=i8
.buffer w_s, spm,  addr=8192,  shape=[128, 64], dtype=i8
.buffer y_s, spm,  addr=16384, shape=[64, 64],  dtype=i8
.stream dma.0
    load x_s, x, rows=64, row_bytes=128, src_stride=128, dst_stride=128
    load w_s, w, rows=128, row_bytes=64, src_stride=64, dst_stride=64
.stream npu.mx
    gemm y_s, x_s, w_s, m=64, n=64, k=128, dtype=i8, out_dtype=i8, accumulate=false, scale=0.0078125
.stream dma.1
    store y, y_s, rows=64, row_bytes=64, src_stride=64, dst_stride=64
";
    let mut r = Run::new(text);
    let x: Vec<f64> = (0..64 * 128)
        .map(|i| ((i * 37 + 11) % 256) as f64 - 128.0)
        .collect();
    let w: Vec<f64> = (0..128 * 64)
        .map(|i| ((i * 91 + 5) % 23) as f64 - 11.0)
        .collect();
    r.set("x", &enc(DType::I8, &x));
    r.set("w", &enc(DType::I8, &w));
    r.run();
    let got = dec(DType::I8, &r.get("y"), 64 * 64);
    for i in 0..64 {
        for j in 0..64 {
            let acc: i64 = (0..128)
                .map(|t| x[i * 128 + t] as i64 * w[t * 64 + j] as i64)
                .sum();
            // acc / 128 rounded half to even, then saturated: done in integers.
            let q = acc.div_euclid(128);
            let rem = acc.rem_euclid(128);
            let q = if rem > 64 || (rem == 64 && q % 2 != 0) {
                q + 1
            } else {
                q
            };
            assert_eq!(got[i * 64 + j], q.clamp(-128, 127) as f64, "y[{i},{j}]");
        }
    }
}
