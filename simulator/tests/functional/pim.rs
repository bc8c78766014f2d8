//! PIM instructions per PIM_SEMANTICS.md: row ownership by channel through the
//! address mapper, GB / ACC / owned-set state, read-outs, chunked `pim.gemv`,
//! per-bank MACs and in-bank element-wise ops.
//!
//! Mapping of `mobile-soc-pim` (`rorabachcobg`, 32-byte bursts), derived by hand and
//! checked below: bits 5–6 bank group, 7–12 column, 13–14 channel, 15–16 bank. So
//! DRAM bytes [8192·c, 8192·(c+1)) mod 32 KiB are channel c, and consecutive bursts
//! rotate over the four bank groups.

use triad_isa::{AddressMapper, Arch, DType};
use triad_sim::Error;

use super::{Run, arch, assert_close, assert_same, dec, enc, round_to};

const F: DType = DType::F16;

#[test]
fn the_hand_derived_mapping_holds() {
    let a = arch();
    let m = AddressMapper::new(&a.name, &a.dram).unwrap();
    let d = |x: u64| m.decode(x).unwrap();
    assert_eq!(
        (d(8191).channel, d(8192).channel, d(3 * 8192).channel),
        (0, 1, 3)
    );
    assert_eq!(
        (
            d(31).bank_group,
            d(32).bank_group,
            d(96).bank_group,
            d(128).bank_group
        ),
        (0, 1, 3, 0)
    );
    assert_eq!(
        (d(32768).bank, d(32768).channel, d(32768).bank_group),
        (1, 0, 0)
    );
    assert_eq!(a.pim.as_ref().unwrap().global_buffer_bytes, 2048);
}

/// Weight values: small multiples of 1/4 (every product and sum exact in f32).
fn weights(rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols)
        .map(|i| ((i * 7 + 3) % 11) as f64 * 0.25 - 1.25)
        .collect()
}

fn xs(n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| ((j * 5 + 1) % 9) as f64 * 0.5 - 2.0)
        .collect()
}

/// Row i of w · x (exact here).
fn dot(w: &[f64], x: &[f64], i: usize, cols: std::ops::Range<usize>, n: usize) -> f64 {
    cols.map(|j| w[i * n + j] * x[j]).sum()
}

/// 8 rows × 16 f16 (32 bytes each) starting 4 rows below the channel 0/1 boundary.
const EIGHT_ROWS: &str = "\
.buffer w, dram, addr=8064, shape=[8, 16], dtype=f16
.buffer x, dram, addr=0, shape=[16], dtype=f16
.buffer b, dram, addr=64, shape=[8], dtype=f16
.buffer y, dram, addr=16384, shape=[8], dtype=f16
";

fn eight_rows(streams: &str) -> Run {
    let mut r = Run::new(&format!("{EIGHT_ROWS}{streams}"));
    r.set("w", &enc(F, &weights(8, 16)));
    r.set("x", &enc(F, &xs(16)));
    r.set(
        "b",
        &enc(F, &(0..8).map(|i| i as f64 * 10.0).collect::<Vec<_>>()),
    );
    r.set("y", &enc(F, &[99.0; 8]));
    r
}

#[test]
fn each_channel_computes_only_the_rows_it_owns() {
    let seq = |n: u32| {
        format!(
            ".stream pim.{n}\npim.wr_bias b, len=8, dtype=f16\npim.wr_gb x, len=16, dtype=f16\n\
             pim.mac_abk w, rows=8, cols=16, ld=16, dtype=f16\npim.rd_mac y, len=8, dtype=f16\n"
        )
    };
    let (w, x) = (weights(8, 16), xs(16));
    let full: Vec<f64> = (0..8)
        .map(|i| round_to(F, i as f64 * 10.0 + dot(&w, &x, i, 0..16, 16)))
        .collect();
    // Channel 0 alone: rows 0–3 (bytes 8064..8192), the rest of y untouched.
    let mut r = eight_rows(&seq(0));
    r.run();
    let got = dec(F, &r.get("y"), 8);
    assert_same(&got[..4], &full[..4], "pim.0 rows");
    assert_eq!(&got[4..], &[99.0; 4]);
    // Channel 1 alone: rows 4–7.
    let mut r = eight_rows(&seq(1));
    r.run();
    let got = dec(F, &r.get("y"), 8);
    assert_eq!(&got[..4], &[99.0; 4]);
    assert_same(&got[4..], &full[4..], "pim.1 rows");
    // Both: the whole GEMV with bias. A third channel owns nothing and writes nothing.
    let mut r = eight_rows(&format!("{}{}{}", seq(0), seq(1), seq(2)));
    r.run();
    assert_same(&dec(F, &r.get("y"), 8), &full, "both channels");
}

#[test]
fn read_out_clears_the_accumulators() {
    // Two MACs accumulate; rd_mac clears, so a second rd_mac writes nothing and a
    // MAC after it starts from zero.
    let mut r = eight_rows(
        ".buffer y2, dram, addr=20480, shape=[8], dtype=f16\n\
         .stream pim.0\npim.wr_gb x, len=16, dtype=f16\n\
         pim.mac_abk w, rows=8, cols=16, ld=16, dtype=f16\npim.mac_abk w, rows=8, cols=16, ld=16, dtype=f16\n\
         pim.rd_mac y, len=8, dtype=f16\npim.rd_mac y2, len=8, dtype=f16\n\
         pim.mac_abk w, rows=2, cols=16, ld=16, dtype=f16\npim.rd_mac y2, len=2, dtype=f16\n",
    );
    r.run();
    let (w, x) = (weights(8, 16), xs(16));
    let got = dec(F, &r.get("y"), 8);
    let want: Vec<f64> = (0..4)
        .map(|i| round_to(F, 2.0 * dot(&w, &x, i, 0..16, 16)))
        .collect();
    assert_same(&got[..4], &want, "double MAC");
    let got2 = dec(F, &r.get("y2"), 8);
    let want2: Vec<f64> = (0..2)
        .map(|i| round_to(F, dot(&w, &x, i, 0..16, 16)))
        .collect();
    assert_same(&got2[..2], &want2, "fresh MAC after read-out");
    assert_eq!(&got2[2..], &[0.0; 6]);
}

#[test]
fn activation_results_and_their_read_out() {
    let mut r = eight_rows(
        ".buffer z, dram, addr=20480, shape=[8], dtype=f16\n\
         .stream pim.1\npim.wr_gb x, len=16, dtype=f16\npim.mac_abk w, rows=8, cols=16, ld=16, dtype=f16\n\
         pim.af relu, len=6, dtype=f16\npim.rd_af y, len=6, dtype=f16\n\
         pim.wr_gb x, len=16, dtype=f16\npim.mac_abk w, rows=8, cols=16, ld=16, dtype=f16\n\
         pim.af gelu_tanh, len=8, dtype=f16\npim.rd_af z, len=8, dtype=f16\n",
    );
    r.run();
    let (w, x) = (weights(8, 16), xs(16));
    let got = dec(F, &r.get("y"), 8);
    // Channel 1 owns rows 4–7; len=6 covers rows 4 and 5 only.
    let relu: Vec<f64> = (4..6)
        .map(|i| round_to(F, dot(&w, &x, i, 0..16, 16).max(0.0)))
        .collect();
    assert_same(&got[4..6], &relu, "relu");
    assert_eq!((&got[..4], &got[6..]), (&[99.0; 4][..], &[99.0; 2][..]));
    let gelu = |v: f64| {
        0.5 * v
            * (1.0 + libm::tanh((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)))
    };
    let want: Vec<f64> = (4..8)
        .map(|i| round_to(F, gelu(dot(&w, &x, i, 0..16, 16))))
        .collect();
    // AFR is an f32, rounded again to f16: within one f16 ulp of the f64 value.
    assert_close(F, &dec(F, &r.get("z"), 8)[4..], &want, 1, "gelu");
}

#[test]
fn rd_af_without_af_is_an_error() {
    let mut r = eight_rows(
        ".stream pim.0\npim.wr_gb x, len=16, dtype=f16\npim.mac_abk w, rows=8, cols=16, ld=16, dtype=f16\n\
         pim.rd_af y, len=8, dtype=f16\n",
    );
    let e = r.try_run().unwrap_err();
    assert!(
        matches!(&e, Error::Functional { engine, insn, message } if engine == "pim.0" && insn == "pim.rd_af" && message.contains("row 0")),
        "{e}"
    );
}

/// `mobile-soc-pim` with a 64-byte global buffer (32 f16), to make GEMVs chunk.
fn small_gb() -> Arch {
    let mut a = arch();
    a.pim.as_mut().unwrap().global_buffer_bytes = 64;
    a
}

#[test]
fn gemv_chunks_x_through_the_global_buffer() {
    // 8 rows × 48 f16 (96 bytes): rows 0–3 end at 8192 (channel 0), rows 4–7 in
    // channel 1. 48 columns = chunks of 32 and 16.
    let text = ".buffer w, dram, addr=7808, shape=[8, 48], dtype=f16\n\
                .buffer x, dram, addr=0, shape=[48], dtype=f16\n\
                .buffer b, dram, addr=128, shape=[8], dtype=f16\n\
                .buffer w2, dram, addr=256, shape=[2, 16], dtype=f16\n\
                .buffer y, dram, addr=16384, shape=[8], dtype=f16\n\
                .buffer z, dram, addr=16512, shape=[2], dtype=f16\n\
                .stream pim.0\npim.wr_bias b, len=8, dtype=f16\n\
                pim.gemv y, w, x, rows=8, cols=48, ld=48, dtype=f16\n\
                pim.mac_abk w2, rows=2, cols=16, ld=16, dtype=f16\npim.rd_mac z, len=2, dtype=f16\n\
                .stream pim.1\npim.gemv y, w, x, rows=8, cols=48, ld=48, dtype=f16\n";
    let mut r = Run::with_arch(text, small_gb());
    let (w, x, w2) = (weights(8, 48), xs(48), weights(2, 16));
    r.set("w", &enc(F, &w));
    r.set("x", &enc(F, &x));
    r.set("b", &enc(F, &[1000.0; 8]));
    r.set("w2", &enc(F, &w2));
    r.run();
    // The bias written before the GEMV is discarded: out = W·x.
    let want: Vec<f64> = (0..8)
        .map(|i| round_to(F, dot(&w, &x, i, 0..48, 48)))
        .collect();
    assert_same(&dec(F, &r.get("y"), 8), &want, "gemv");
    // After the GEMV the global buffer holds the last chunk, x[32..48].
    let want_z: Vec<f64> = (0..2)
        .map(|i| round_to(F, (0..16).map(|j| w2[i * 16 + j] * x[32 + j]).sum::<f64>()))
        .collect();
    assert_same(&dec(F, &r.get("z"), 2), &want_z, "GB after gemv");
}

#[test]
fn mac_sbk_sums_the_bursts_in_its_bank() {
    // 2 rows × 64 f16 at address 0: each row is 4 bursts in bank groups 0..3 of
    // bank 0, i.e. flat banks 0, 4, 8, 12 (group · 4 + bank).
    let text = |body: &str| {
        format!(
            ".buffer w, dram, addr=0, shape=[2, 64], dtype=f16\n\
             .buffer x, dram, addr=256, shape=[64], dtype=f16\n\
             .buffer y, dram, addr=16384, shape=[2], dtype=f16\n\
             .stream pim.0\npim.wr_gb x, len=64, dtype=f16\n{body}pim.rd_mac y, len=2, dtype=f16\n"
        )
    };
    let (w, x) = (weights(2, 64), xs(64));
    let run = |body: &str| {
        let mut r = Run::new(&text(body));
        r.set("w", &enc(F, &w));
        r.set("x", &enc(F, &x));
        r.set("y", &enc(F, &[99.0, 99.0]));
        r.run();
        dec(F, &r.get("y"), 2)
    };
    let part: Vec<f64> = (0..2)
        .map(|i| round_to(F, dot(&w, &x, i, 16..32, 64)))
        .collect();
    assert_same(
        &run("pim.mac_sbk w, bank=4, rows=2, cols=64, ld=64, dtype=f16\n"),
        &part,
        "bank 4",
    );
    let all: String = [0, 4, 8, 12]
        .iter()
        .map(|b| format!("pim.mac_sbk w, bank={b}, rows=2, cols=64, ld=64, dtype=f16\n"))
        .collect();
    let full: Vec<f64> = (0..2)
        .map(|i| round_to(F, dot(&w, &x, i, 0..64, 64)))
        .collect();
    assert_same(&run(&all), &full, "all four banks");
    // A bank holding none of the rows: nothing is owned, nothing is written.
    assert_eq!(
        run("pim.mac_sbk w, bank=1, rows=2, cols=64, ld=64, dtype=f16\n"),
        [99.0, 99.0]
    );
    let mut r = Run::new(&text(
        "pim.mac_sbk w, bank=16, rows=2, cols=64, ld=64, dtype=f16\n",
    ));
    assert!(
        matches!(r.try_run(), Err(Error::Functional { message, .. }) if message.contains("bank 16"))
    );
}

#[test]
fn elementwise_ops_touch_only_the_channels_elements() {
    // 32 f16 from 8160: elements 0–15 in channel 0, 16–31 in channel 1.
    let text = ".buffer a, dram, addr=8160, shape=[32], dtype=f16\n\
                .buffer b, dram, addr=40928, shape=[32], dtype=f16\n\
                .buffer o, dram, addr=73696, shape=[32], dtype=f16\n\
                .buffer p, dram, addr=106464, shape=[32], dtype=f16\n\
                .stream pim.0\npim.ewadd o, a, b, len=32, dtype=f16\n\
                .stream pim.1\npim.ewmul p, a, b, len=32, dtype=f16\n";
    let mut r = Run::new(text);
    let a: Vec<f64> = (0..32).map(|e| round_to(F, 1.0 + e as f64 / 3.0)).collect();
    let b: Vec<f64> = (0..32).map(|e| round_to(F, 0.1 * e as f64 - 1.7)).collect();
    r.set("a", &enc(F, &a));
    r.set("b", &enc(F, &b));
    r.set("o", &enc(F, &[7.0; 32]));
    r.set("p", &enc(F, &[7.0; 32]));
    r.run();
    let o = dec(F, &r.get("o"), 32);
    let p = dec(F, &r.get("p"), 32);
    let add: Vec<f64> = (0..16).map(|e| round_to(F, a[e] + b[e])).collect();
    let mul: Vec<f64> = (16..32).map(|e| round_to(F, a[e] * b[e])).collect();
    assert_same(&o[..16], &add, "ewadd on channel 0");
    assert_eq!(&o[16..], &[7.0; 16]);
    assert_eq!(&p[..16], &[7.0; 16]);
    assert_same(&p[16..], &mul, "ewmul on channel 1");
}

#[test]
fn elementwise_activations_touch_only_the_channels_elements() {
    // 32 f16 from 8160: elements 0–15 in channel 0, 16–31 in channel 1; `o` and `p`
    // start in the same (channel, bank) as `a`, burst by burst.
    let text = ".buffer a, dram, addr=8160, shape=[32], dtype=f16\n\
                .buffer o, dram, addr=73696, shape=[32], dtype=f16\n\
                .buffer p, dram, addr=106464, shape=[32], dtype=f16\n\
                .stream pim.0\npim.ewact relu, o, a, len=32, dtype=f16\n\
                .stream pim.1\npim.ewact gelu_tanh, p, a, len=32, dtype=f16\n";
    let mut r = Run::new(text);
    let a: Vec<f64> = (0..32)
        .map(|e| round_to(F, 0.37 * e as f64 - 5.3))
        .collect();
    r.set("a", &enc(F, &a));
    r.set("o", &enc(F, &[7.0; 32]));
    r.set("p", &enc(F, &[7.0; 32]));
    r.run();
    let o = dec(F, &r.get("o"), 32);
    let p = dec(F, &r.get("p"), 32);
    // Independently: ReLU exactly, GELU's tanh form from std's tanh.
    let relu: Vec<f64> = a[..16].iter().map(|&v| v.max(0.0)).collect();
    let k = (2.0 / std::f64::consts::PI).sqrt();
    let gelu: Vec<f64> = a[16..]
        .iter()
        .map(|&v| round_to(F, 0.5 * v * (1.0 + (k * (v + 0.044715 * v * v * v)).tanh())))
        .collect();
    assert_same(&o[..16], &relu, "ewact relu on channel 0");
    assert_eq!(&o[16..], &[7.0; 16]);
    assert_eq!(&p[..16], &[7.0; 16]);
    assert_close(F, &p[16..], &gelu, 1, "ewact gelu_tanh on channel 1");
}

#[test]
fn integer_activations_are_relu_only() {
    let i8t = DType::I8;
    let text = |f: &str| {
        format!(
            ".buffer a, dram, addr=0, shape=[32], dtype=i8\n\
             .buffer o, dram, addr=131072, shape=[32], dtype=i8\n\
             .stream pim.0\npim.ewact {f}, o, a, len=32, dtype=i8\n"
        )
    };
    let a: Vec<f64> = (0..32).map(|e| (e * 9 % 256) as f64 - 128.0).collect();
    let mut r = Run::new(&text("relu"));
    r.set("a", &enc(i8t, &a));
    r.run();
    let want: Vec<f64> = a.iter().map(|&v| v.max(0.0)).collect();
    assert_eq!(dec(i8t, &r.get("o"), 32), want);
    let mut r = Run::new(&text("gelu_tanh"));
    r.set("a", &enc(i8t, &a));
    assert!(
        matches!(r.try_run(), Err(Error::Functional { message, .. }) if message.contains("not defined on i8"))
    );
}

#[test]
fn bad_pim_programs_are_errors() {
    // Global buffer overflow (2048 bytes = 1024 f16).
    let mut r = Run::new(
        ".buffer x, dram, addr=0, shape=[1025], dtype=f16\n.stream pim.0\npim.wr_gb x, len=1025, dtype=f16\n",
    );
    assert!(
        matches!(r.try_run(), Err(Error::Functional { message, .. }) if message.contains("global buffer"))
    );
    // A row straddling channels 0 and 1.
    let mut r = Run::new(
        ".buffer w, dram, addr=8176, shape=[1, 16], dtype=f16\n.stream pim.0\n\
         pim.mac_abk w, rows=1, cols=16, ld=16, dtype=f16\n",
    );
    assert!(
        matches!(r.try_run(), Err(Error::Functional { message, .. }) if message.contains("spans DRAM channels 0 and 1"))
    );
    // No PIM in the arch.
    let mut r = Run::with_arch(
        ".buffer x, dram, addr=0, shape=[4], dtype=f16\n.stream pim.0\npim.wr_gb x, len=4, dtype=f16\n",
        Arch::preset("mobile-soc").unwrap(),
    );
    assert!(
        matches!(r.try_run(), Err(Error::Functional { message, .. }) if message.contains("no PIM"))
    );
}

#[test]
fn qgemv_on_the_owned_rows() {
    // 8 rows x 64 i8 (64 bytes each) from 8192 − 4·64: rows 0–3 in channel 0.
    let text = ".buffer w, dram, addr=7936, shape=[8, 64], dtype=i8\n\
                .buffer x, dram, addr=0, shape=[64], dtype=f16\n\
                .buffer s, dram, addr=256, shape=[8], dtype=f32\n\
                .buffer z, dram, addr=320, shape=[8], dtype=i8\n\
                .buffer y, dram, addr=16384, shape=[8], dtype=f16\n\
                .stream pim.0\npim.qgemv y, w, x, s, z, rows=8, cols=64, ld=64, dtype=f16, wdtype=i8\n";
    let mut r = Run::new(text);
    let w: Vec<f64> = (0..512)
        .map(|i| ((i * 13 + 7) % 255) as f64 - 127.0)
        .collect();
    let x = xs(64);
    let scale: Vec<f64> = (0..8).map(|i| 0.0625 * (i + 1) as f64).collect();
    let zero: Vec<f64> = (0..8).map(|i| i as f64 - 4.0).collect();
    r.set("w", &enc(DType::I8, &w));
    r.set("x", &enc(F, &x));
    r.set("s", &enc(DType::F32, &scale));
    r.set("z", &enc(DType::I8, &zero));
    r.set("y", &enc(F, &[99.0; 8]));
    r.run();
    let got = dec(F, &r.get("y"), 8);
    let want: Vec<f64> = (0..4)
        .map(|i| {
            let acc: f64 = (0..64).map(|j| (w[i * 64 + j] - zero[i]) * x[j]).sum();
            round_to(F, scale[i] * acc)
        })
        .collect();
    assert_same(&got[..4], &want, "qgemv");
    assert_eq!(&got[4..], &[99.0; 4]);
}
