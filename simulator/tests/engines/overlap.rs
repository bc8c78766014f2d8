//! Double buffering: DMA loads of the next tile overlap the matrix unit's work on
//! the current one, and the saving is what the overlap allows.

use crate::common::*;

const TILES: u64 = 6;
/// Rows of each operand tile (256 x 256 i8 = 64 KiB).
const T: u64 = 256;

/// A program that loads `TILES` weight tiles and multiplies each with a resident
/// activation tile. `double` uses two buffers and semaphores so load i+1 runs during
/// gemm i; otherwise the DMA waits for each gemm before loading the next tile.
fn tiles(double: bool) -> String {
    let bytes = T * T;
    let mut s = format!(
        ".buffer w, dram, addr=0, shape=[{TILES}, {T}, {T}], dtype=i8\n\
         .buffer x, spm, addr=0, shape=[{T}, {T}], dtype=i8\n\
         .buffer o, spm, addr={bytes}, shape=[{T}, {T}], dtype=i32\n\
         .buffer w0, spm, addr={a}, shape=[{T}, {T}], dtype=i8\n\
         .buffer w1, spm, addr={b}, shape=[{T}, {T}], dtype=i8\n\
         .sem full0\n.sem full1\n.sem free0, init=1\n.sem free1, init={f1}\n",
        a = 5 * bytes,
        b = 6 * bytes,
        f1 = u32::from(double),
    );
    let buf = |i: u64| if double { i % 2 } else { 0 };
    s += ".stream dma.0\n";
    for i in 0..TILES {
        let k = buf(i);
        s += &format!(
            "wait free{k}, value=1\nload w{k}, w+{off}, rows=1, row_bytes={bytes}, src_stride={bytes}, dst_stride={bytes}\nsignal full{k}, value=1\n",
            off = i * bytes
        );
    }
    s += ".stream npu.mx\n";
    for i in 0..TILES {
        let k = buf(i);
        s += &format!(
            "wait full{k}, value=1\ngemm o, x, w{k}, m={T}, n={T}, k={T}, dtype=i8, out_dtype=i32, accumulate=true, scale=1.0\nsignal free{k}, value=1\n"
        );
    }
    s
}

#[test]
fn double_buffering_saves_the_overlapped_time() {
    let a = arch("mobile-soc");
    let serial = run(&a, &tiles(false));
    let double = run(&a, &tiles(true));
    let load = engine(&serial, "dma.0").busy_ps as f64 / TILES as f64;
    let gemm = engine(&serial, "npu.mx").busy_ps as f64 / TILES as f64;
    // Serial: every load and gemm in turn. Double: the first load, then the longer of
    // the two per tile, then the last of the shorter.
    let expect_saving = (TILES - 1) as f64 * load.min(gemm);
    let saving = serial.total_ps as f64 - double.total_ps as f64;
    assert!(
        (saving - expect_saving).abs() <= 0.05 * expect_saving,
        "saving {saving} ps, overlap allows {expect_saving} ps (load {load}, gemm {gemm})"
    );
    assert!(double.total_ps < serial.total_ps);
}
