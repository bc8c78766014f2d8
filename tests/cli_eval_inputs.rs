//! `triad eval` takes the symbolic dims of an ONNX model from the shapes of the
//! `.npy` files fed to it (as ONNX Runtime does), lets `--dim` win, and refuses
//! disagreeing shapes and element types with messages naming the input, the dim
//! and both values. Models and `.npy` files are written by the test itself: an
//! `Add` of two inputs `[batch, sequence]` encoded as protobuf here, and NumPy v1
//! files built byte by byte (the format is the header dict plus little-endian data).

use std::path::{Path, PathBuf};

mod common;
use common::{fails, ok};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triad-eval-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Protobuf wire format: a varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}
/// Field `tag` holding a varint.
fn int_field(tag: u64, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(tag << 3, &mut out);
    varint(v, &mut out);
    out
}
/// Field `tag` holding bytes (a string or an embedded message).
fn bytes_field(tag: u64, b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint((tag << 3) | 2, &mut out);
    varint(b.len() as u64, &mut out);
    out.extend_from_slice(b);
    out
}

/// `ValueInfoProto` of a float tensor with dims `batch`, `sequence`
/// (TypeProto.tensor_type = 1, elem_type = 1 (FLOAT), shape = 2, dim = 1, dim_param = 2).
fn float_input(name: &str) -> Vec<u8> {
    let dim = |p: &str| bytes_field(1, &bytes_field(2, p.as_bytes()));
    let shape = [dim("batch"), dim("sequence")].concat();
    let tensor = [int_field(1, 1), bytes_field(2, &shape)].concat();
    let ty = bytes_field(1, &tensor);
    [bytes_field(1, name.as_bytes()), bytes_field(2, &ty)].concat()
}

/// `z = x + y` at opset 17, IR 8, inputs `x`, `y` of f32 `[batch, sequence]`.
fn add_model() -> Vec<u8> {
    // NodeProto: input = 1, output = 2, name = 3, op_type = 4.
    let node = [
        bytes_field(1, b"x"),
        bytes_field(1, b"y"),
        bytes_field(2, b"z"),
        bytes_field(3, b"add"),
        bytes_field(4, b"Add"),
    ]
    .concat();
    // ValueInfoProto of the output: name only.
    let out = bytes_field(1, b"z");
    // GraphProto: node = 1, name = 2, input = 11, output = 12.
    let graph = [
        bytes_field(1, &node),
        bytes_field(2, b"add"),
        bytes_field(11, &float_input("x")),
        bytes_field(11, &float_input("y")),
        bytes_field(12, &out),
    ]
    .concat();
    // ModelProto: ir_version = 1, graph = 7, opset_import = 8 (version = 2).
    [
        int_field(1, 8),
        bytes_field(7, &graph),
        bytes_field(8, &int_field(2, 17)),
    ]
    .concat()
}

/// A NumPy v1 `.npy` file: `descr`, C order, `shape`, raw little-endian `data`.
fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| format!("{d},")).collect();
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(" ")
    );
    // Pad with spaces so the data starts at a multiple of 64 bytes; end with \n.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32_npy(shape: &[usize], v: &[f32]) -> Vec<u8> {
    npy("<f4", shape, &f32s(v))
}

/// Write `files` into `dir`, returning `dir/name` paths as strings.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

fn read_out(path: &Path) -> (String, Vec<u8>) {
    let b = std::fs::read(path).unwrap();
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = String::from_utf8(b[10..10 + hlen].to_vec()).unwrap();
    (header, b[10 + hlen..].to_vec())
}

#[test]
fn dims_come_from_the_input_shapes() {
    let d = tmpdir("bind");
    let m = write(&d, "add.onnx", &add_model());
    let x = write(&d, "x.npy", &f32_npy(&[2, 3], &[1., 2., 3., 4., 5., 6.]));
    let y = write(&d, "y.npy", &f32_npy(&[2, 3], &[0.5; 6]));
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let (xi, yi) = (format!("x={x}"), format!("y={y}"));
    let stdout = ok(&[
        "eval", "--onnx", &m, "--input", &xi, "--input", &yi, "-o", o,
    ]);
    assert!(
        stdout.contains("f32[2,3]") || stdout.contains("f32[2, 3]"),
        "{stdout}"
    );
    let (header, data) = read_out(&out.join("z.npy"));
    assert!(
        header.contains("'<f4'") && header.contains("(2, 3)"),
        "{header}"
    );
    assert_eq!(data, f32s(&[1.5, 2.5, 3.5, 4.5, 5.5, 6.5]));

    // --dim agreeing with the files is fine.
    ok(&[
        "eval", "--onnx", &m, "--dim", "batch=2", "--input", &xi, "--input", &yi, "-o", o,
    ]);
    // --dim wins: a file disagreeing with it is an error naming both values.
    let err = fails(&[
        "eval",
        "--onnx",
        &m,
        "--dim",
        "sequence=4",
        "--input",
        &xi,
        "--input",
        &yi,
        "-o",
        o,
    ]);
    assert!(
        err.contains("input `x`")
            && err.contains("`sequence`")
            && err.contains("is 3")
            && err.contains("sequence=4"),
        "{err}"
    );
    // Two inputs disagreeing on a dim: the input, the dim and both values.
    let y4 = write(&d, "y4.npy", &f32_npy(&[2, 4], &[0.0; 8]));
    let err = fails(&[
        "eval",
        "--onnx",
        &m,
        "--input",
        &xi,
        "--input",
        &format!("y={y4}"),
        "-o",
        o,
    ]);
    assert!(
        err.contains("input `y`")
            && err.contains("`sequence`")
            && err.contains("is 4")
            && err.contains("3 in input `x`"),
        "{err}"
    );
    // A rank that differs from the model's input.
    let x1 = write(&d, "x1.npy", &f32_npy(&[6], &[0.0; 6]));
    let err = fails(&[
        "eval",
        "--onnx",
        &m,
        "--input",
        &format!("x={x1}"),
        "--input",
        &yi,
        "-o",
        o,
    ]);
    assert!(err.contains("input `x`") && err.contains("1 dims"), "{err}");
}

#[test]
fn element_types_must_match_the_input() {
    let d = tmpdir("dtype");
    let m = write(&d, "add.onnx", &add_model());
    let x = write(&d, "x.npy", &f32_npy(&[1, 2], &[1., 2.]));
    let ints: Vec<u8> = [3i64, 4].iter().flat_map(|v| v.to_le_bytes()).collect();
    let y = write(&d, "y.npy", &npy("<i8", &[1, 2], &ints));
    let o = d.join("out");
    let err = fails(&[
        "eval",
        "--onnx",
        &m,
        "--input",
        &format!("x={x}"),
        "--input",
        &format!("y={y}"),
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(
        err.contains("input `y`") && err.contains("int64") && err.contains("f32"),
        "{err}"
    );
    // A float64 file for a float32 input is refused the same way.
    let dbl: Vec<u8> = [3f64, 4.].iter().flat_map(|v| v.to_le_bytes()).collect();
    let y = write(&d, "y8.npy", &npy("<f8", &[1, 2], &dbl));
    let err = fails(&[
        "eval",
        "--onnx",
        &m,
        "--input",
        &format!("x={x}"),
        "--input",
        &format!("y={y}"),
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(
        err.contains("input `y`") && err.contains("float64"),
        "{err}"
    );
    // An unreadable file names the input.
    let bad = write(&d, "bad.npy", b"\x93NUMPY\x01\x00garbage");
    let err = fails(&[
        "eval",
        "--onnx",
        &m,
        "--input",
        &format!("x={bad}"),
        "--input",
        &format!("y={y}"),
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(
        err.contains("input `x`") && err.contains("bad.npy"),
        "{err}"
    );
}

#[test]
fn zoo_models_default_to_f16_and_write_f16_outputs() {
    // tiny-bert takes token ids and token types; f16 outputs come back as `<f2`.
    let d = tmpdir("zoo16");
    let ids: Vec<u8> = [1i64, 2, 3, 4]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let ids = write(&d, "ids.npy", &npy("<i8", &[1, 4], &ids));
    let types = write(&d, "types.npy", &npy("<i8", &[1, 4], &[0; 32]));
    let out = d.join("out");
    let stdout = ok(&[
        "eval",
        "--model",
        "tiny-bert",
        "--phase",
        "prefill:4",
        "--input",
        &format!("input_ids={ids}"),
        "--input",
        &format!("token_type_ids={types}"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("f16["), "{stdout}");
    let written: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(!written.is_empty());
    for e in written {
        let (header, _) = read_out(&e.unwrap().path());
        assert!(header.contains("'<f2'"), "{header}");
    }
}
