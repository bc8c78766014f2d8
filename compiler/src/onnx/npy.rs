//! NumPy `.npy` files for interpreter tensors (data via the `ndarray-npy` crate).
//!
//! Reading accepts C- or Fortran-order arrays of NumPy `float16`, `float32`,
//! `float64` (rounded to f32), `int64`, `int32`, `int16`, `int8`, `uint8` and `bool`
//! in either byte order, and reports which one the file held ([`NpyType`]). The
//! header is checked before any data is allocated: its shape must fit the bytes the
//! file has, so a hostile header cannot make the reader allocate more than the
//! file's size. Errors are [`Error::Format`] naming the file.
//!
//! Writing stores f32 as `<f4`, f16 as `<f2`, bf16 as `<f4` (NumPy has no bfloat16;
//! every bf16 value is exact in f32), i64 as `<i8`, i32 as `<i4`, i8 and i4 as `|i1`,
//! bool as `|b1`; files are written to a temporary name and renamed, so a reader
//! never sees half a file.
//!
//! [`convert`] adapts a read tensor to a graph input's type loosely (any float to a
//! float, integers that fit); [`convert_exact`] is what `triad eval` uses: the
//! file's element type must be the input's, as in ONNX Runtime (see its docs for
//! the two stand-ins NumPy needs).

use std::io::{Cursor, Read};
use std::path::Path;

use half::f16;
use ndarray::ArrayD;
use ndarray_npy::{ReadDataError, ReadNpyExt, ReadableElement, WriteNpyExt};
use py_literal::Value as PyValue;
use triad_isa::DType;

use crate::data::{Data, TensorType};
use crate::error::{Error, Result};
use crate::interp::{Array, Tensor};

/// Header dictionaries nest one dict and one tuple; deeper ones are not NumPy's.
const MAX_HEADER_NESTING: usize = 8;

fn fmt(file: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        file: file.to_path_buf(),
        reason: reason.into(),
    }
}

/// The element type a `.npy` file holds, by NumPy's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyType {
    /// `float16` (`<f2`).
    Float16,
    /// `float32` (`<f4`).
    Float32,
    /// `float64` (`<f8`).
    Float64,
    /// `int64` (`<i8`).
    Int64,
    /// `int32` (`<i4`).
    Int32,
    /// `int16` (`<i2`).
    Int16,
    /// `int8` (`|i1`).
    Int8,
    /// `uint8` (`|u1`).
    Uint8,
    /// `bool` (`|b1`).
    Bool,
}

impl NpyType {
    /// NumPy's name of the type (`float16`, `int64`, …).
    pub fn numpy_name(self) -> &'static str {
        match self {
            NpyType::Float16 => "float16",
            NpyType::Float32 => "float32",
            NpyType::Float64 => "float64",
            NpyType::Int64 => "int64",
            NpyType::Int32 => "int32",
            NpyType::Int16 => "int16",
            NpyType::Int8 => "int8",
            NpyType::Uint8 => "uint8",
            NpyType::Bool => "bool",
        }
    }

    /// Bytes per element.
    fn size(self) -> usize {
        match self {
            NpyType::Float64 | NpyType::Int64 => 8,
            NpyType::Float32 | NpyType::Int32 => 4,
            NpyType::Float16 | NpyType::Int16 => 2,
            NpyType::Int8 | NpyType::Uint8 | NpyType::Bool => 1,
        }
    }

    /// The type of a descriptor (`<f2`, `>i8`, `|b1`, …) and whether it is big-endian.
    fn of_descr(d: &str) -> Option<(NpyType, bool)> {
        let (order, code) = d.split_at(d.len().min(1));
        let big = match order {
            "<" | "|" | "=" => false,
            ">" => true,
            _ => return None,
        };
        let t = match code {
            "f2" => NpyType::Float16,
            "f4" => NpyType::Float32,
            "f8" => NpyType::Float64,
            "i8" => NpyType::Int64,
            "i4" => NpyType::Int32,
            "i2" => NpyType::Int16,
            "i1" => NpyType::Int8,
            "u1" => NpyType::Uint8,
            "b1" => NpyType::Bool,
            _ => return None,
        };
        Some((t, big))
    }

    /// The IR dtype holding exactly this type (`None`: float64, int16, uint8).
    pub fn ir_dtype(self) -> Option<DType> {
        match self {
            NpyType::Float16 => Some(DType::F16),
            NpyType::Float32 => Some(DType::F32),
            NpyType::Int64 => Some(DType::I64),
            NpyType::Int32 => Some(DType::I32),
            NpyType::Int8 => Some(DType::I8),
            NpyType::Bool => Some(DType::Bool),
            NpyType::Float64 | NpyType::Int16 | NpyType::Uint8 => None,
        }
    }
}

impl std::fmt::Display for NpyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.numpy_name())
    }
}

/// IEEE half-precision elements for `ndarray-npy` (descriptors `<f2` and `>f2`).
#[derive(Clone, Copy)]
struct F16(f16);

impl ReadableElement for F16 {
    fn read_to_end_exact_vec<R: Read>(
        mut reader: R,
        type_desc: &PyValue,
        len: usize,
    ) -> std::result::Result<Vec<Self>, ReadDataError> {
        let big = match type_desc {
            PyValue::String(s) if s == "<f2" || s == "=f2" => false,
            PyValue::String(s) if s == ">f2" => true,
            other => return Err(ReadDataError::WrongDescriptor(other.clone())),
        };
        let mut raw = vec![0u8; len.checked_mul(2).ok_or(ReadDataError::MissingData)?];
        reader.read_exact(&mut raw).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => ReadDataError::MissingData,
            _ => ReadDataError::Io(e),
        })?;
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest)?;
        if !rest.is_empty() {
            return Err(ReadDataError::ExtraBytes(rest.len()));
        }
        Ok(raw
            .chunks_exact(2)
            .map(|b| {
                let bits = [b[0], b[1]];
                F16(f16::from_bits(if big {
                    u16::from_be_bytes(bits)
                } else {
                    u16::from_le_bytes(bits)
                }))
            })
            .collect())
    }
}

impl ndarray_npy::WritableElement for F16 {
    fn type_descriptor() -> PyValue {
        PyValue::String("<f2".into())
    }
    fn write<W: std::io::Write>(
        &self,
        mut writer: W,
    ) -> std::result::Result<(), ndarray_npy::WriteDataError> {
        writer.write_all(&self.0.to_bits().to_le_bytes())?;
        Ok(())
    }
    fn write_slice<W: std::io::Write>(
        slice: &[Self],
        mut writer: W,
    ) -> std::result::Result<(), ndarray_npy::WriteDataError> {
        let bytes: Vec<u8> = slice
            .iter()
            .flat_map(|x| x.0.to_bits().to_le_bytes())
            .collect();
        writer.write_all(&bytes)?;
        Ok(())
    }
}

/// The element type and the data size a header declares, checked against the file.
fn check_header(bytes: &[u8], file: &Path) -> Result<NpyType> {
    let bad = |reason: String| fmt(file, reason);
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (usize::try_from(n).unwrap_or(usize::MAX), 12)
        }
        v => return Err(bad(format!(".npy format version {v} is not supported"))),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad(format!("the header is {len} bytes, the file ends before")))?;
    let text = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| bad("the header is not UTF-8 text".into()))?;
    let depth = text
        .chars()
        .filter(|c| matches!(c, '(' | '[' | '{'))
        .count();
    if depth > MAX_HEADER_NESTING {
        return Err(bad("the header is not a NumPy header dictionary".into()));
    }
    let dict: PyValue = text
        .trim()
        .parse()
        .map_err(|e| bad(format!("the header does not parse: {e}")))?;
    let entry = |key: &str| {
        dict.as_dict().and_then(|d| {
            d.iter()
                .find(|(k, _)| k.as_string().is_some_and(|k| k == key))
                .map(|(_, v)| v)
        })
    };
    let descr = entry("descr")
        .and_then(PyValue::as_string)
        .ok_or_else(|| bad("the header has no 'descr' string".into()))?;
    let (ty, _) = NpyType::of_descr(descr).ok_or_else(|| {
        bad(format!(
            "element type '{descr}' is not supported (expected float16, float32, float64, \
             int64, int32, int16, int8, uint8 or bool)"
        ))
    })?;
    let shape = entry("shape")
        .and_then(PyValue::as_tuple)
        .ok_or_else(|| bad("the header has no 'shape' tuple".into()))?;
    let mut elems: usize = 1;
    for d in shape {
        let n = d
            .as_integer()
            .and_then(|i| i.to_string().parse::<usize>().ok())
            .ok_or_else(|| bad(format!("shape entry {d} is not a non-negative integer")))?;
        elems = elems.saturating_mul(n);
    }
    let have = bytes.len() - end;
    if elems.saturating_mul(ty.size()) > have {
        return Err(bad(format!(
            "the header's shape {shape:?} needs {elems} {ty} values, the file holds {have} data bytes"
        )));
    }
    Ok(ty)
}

/// Read a tensor from `.npy` bytes with the element type the file holds; `file`
/// names it in errors.
pub fn read_npy_typed(bytes: &[u8], file: &Path) -> Result<(Tensor, NpyType)> {
    let ty = check_header(bytes, file)?;
    fn get<T: ReadableElement>(b: &[u8], file: &Path) -> Result<ArrayD<T>> {
        ArrayD::<T>::read_npy(Cursor::new(b)).map_err(|e| fmt(file, e.to_string()))
    }
    let ints = |a: ArrayD<i64>, dtype| Tensor {
        dtype,
        array: Array::I64(a),
    };
    let t = match ty {
        NpyType::Float16 => Tensor {
            dtype: DType::F16,
            array: Array::F32(get::<F16>(bytes, file)?.mapv(|x| x.0.to_f32())),
        },
        NpyType::Float32 => Tensor {
            dtype: DType::F32,
            array: Array::F32(get::<f32>(bytes, file)?),
        },
        NpyType::Float64 => Tensor {
            dtype: DType::F32,
            array: Array::F32(get::<f64>(bytes, file)?.mapv(|x| x as f32)),
        },
        NpyType::Int64 => ints(get::<i64>(bytes, file)?, DType::I64),
        NpyType::Int32 => ints(get::<i32>(bytes, file)?.mapv(i64::from), DType::I32),
        NpyType::Int16 => ints(get::<i16>(bytes, file)?.mapv(i64::from), DType::I32),
        NpyType::Int8 => ints(get::<i8>(bytes, file)?.mapv(i64::from), DType::I8),
        NpyType::Uint8 => ints(get::<u8>(bytes, file)?.mapv(i64::from), DType::I32),
        NpyType::Bool => Tensor {
            dtype: DType::Bool,
            array: Array::Bool(get::<bool>(bytes, file)?),
        },
    };
    Ok((t, ty))
}

/// Read a tensor from `.npy` bytes; `file` names it in errors. float16 gives an f16
/// tensor, float32 and float64 f32, int64 i64, int32/int16/uint8 i32 (exact), int8
/// i8, bool bool.
pub fn read_npy_bytes(bytes: &[u8], file: &Path) -> Result<Tensor> {
    Ok(read_npy_typed(bytes, file)?.0)
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })
}

/// Read a tensor from a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    read_npy_bytes(&read_file(path)?, path)
}

/// Read a tensor and the element type the `.npy` file at `path` holds.
pub fn read_npy_file_typed(path: &Path) -> Result<(Tensor, NpyType)> {
    read_npy_typed(&read_file(path)?, path)
}

/// Serialise a tensor as `.npy` bytes.
pub fn write_npy_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let res = match (&t.array, t.dtype) {
        (Array::F32(a), DType::F16) => a.mapv(|x| F16(f16::from_f32(x))).write_npy(&mut out),
        (Array::F32(a), _) => a.write_npy(&mut out),
        (Array::I64(a), DType::I64) => a.write_npy(&mut out),
        (Array::I64(a), DType::I32) => a.mapv(|x| x as i32).write_npy(&mut out),
        (Array::I64(a), _) => a.mapv(|x| x as i8).write_npy(&mut out),
        (Array::Bool(a), _) => a.write_npy(&mut out),
    };
    res.map_err(|e| fmt(Path::new("<npy>"), e.to_string()))?;
    Ok(out)
}

/// Write a tensor to `path` atomically (temporary file in the same directory, then rename).
pub fn write_npy(path: &Path, t: &Tensor) -> Result<()> {
    let bytes = write_npy_bytes(t)?;
    let io = |source| Error::Io {
        file: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Adapt a tensor read from a file to `want` (a graph input's type): floats round to
/// the float dtype, integers must fit the integer dtype, shapes must be equal.
pub fn convert(t: &Tensor, want: &TensorType, what: &str) -> Result<Tensor> {
    let bad = |reason: String| Error::Format {
        file: what.into(),
        reason,
    };
    if t.shape() != want.shape.as_slice() {
        return Err(bad(format!(
            "shape {:?} given, the input is {want}",
            t.shape()
        )));
    }
    let data = match (t.to_data(), want.dtype) {
        (d @ Data::F32(_), w) if w.is_float() => d,
        (d @ Data::I64(_), w) if w.is_int() => d,
        (d @ Data::Bool(_), DType::Bool) => d,
        (Data::I64(v), w) if w.is_float() => Data::F32(v.iter().map(|&x| x as f32).collect()),
        _ => return Err(bad(format!("dtype {} given, the input is {want}", t.dtype))),
    };
    Tensor::from_data(want, &data).map_err(|e| bad(e.to_string()))
}

/// The NumPy element type that feeds a graph input of `dtype` (`None`: none does).
/// bf16 inputs take float32 (NumPy has no bfloat16; values round to bf16) and i4
/// inputs int8 (values must fit); ONNX `uint8` inputs, which the importer gives as
/// i32, also take uint8.
fn accepts(dtype: DType, ty: NpyType) -> bool {
    ty.ir_dtype() == Some(dtype)
        || matches!(
            (dtype, ty),
            (DType::BF16, NpyType::Float32)
                | (DType::I4, NpyType::Int8)
                | (DType::I32, NpyType::Uint8)
        )
}

/// [`convert`] for a tensor read as `ty` from a file, requiring the element type to
/// be the input's (as ONNX Runtime does): an error names the input `what`, the
/// file's type and the input's type.
pub fn convert_exact(t: &Tensor, ty: NpyType, want: &TensorType, what: &str) -> Result<Tensor> {
    if !accepts(want.dtype, ty) {
        let hint = match want.dtype {
            DType::F16 => " (numpy.float16)",
            DType::F32 | DType::BF16 => " (numpy.float32)",
            DType::I64 => " (numpy.int64)",
            DType::I32 => " (numpy.int32)",
            DType::I8 | DType::I4 => " (numpy.int8)",
            DType::Bool => " (numpy.bool_)",
        };
        return Err(Error::Format {
            file: what.into(),
            reason: format!(
                "the .npy file holds {ty} values, the input is {want}: give {}{hint} data",
                want.dtype
            ),
        });
    }
    convert(t, want, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_carrier() {
        let cases = [
            Tensor::from_f32s(DType::F32, &[2, 2], vec![1.0, -2.5, 3.25, 0.0]).unwrap(),
            Tensor::from_f32s(DType::F16, &[3], vec![1.0, -65504.0, 0.000_061_035_156]).unwrap(),
            Tensor::from_i64s(DType::I64, &[3], vec![i64::MIN, 0, i64::MAX]).unwrap(),
            Tensor::from_i64s(DType::I32, &[2], vec![-7, 1 << 30]).unwrap(),
            Tensor::from_i64s(DType::I8, &[2], vec![-128, 127]).unwrap(),
            Tensor::from_bools(&[1, 2], vec![true, false]).unwrap(),
        ];
        for t in cases {
            let back = read_npy_bytes(&write_npy_bytes(&t).unwrap(), Path::new("x")).unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn header_is_numpy_v1() {
        let t = Tensor::from_f32s(DType::F32, &[3], vec![1.0, 2.0, 3.0]).unwrap();
        let b = write_npy_bytes(&t).unwrap();
        // Magic, version 1.0, then a header dict naming '<f4' and shape (3,).
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let header = String::from_utf8_lossy(&b[10..]);
        assert!(
            header.contains("'descr': '<f4'") && header.contains("(3,)"),
            "{header}"
        );
        // 16-byte aligned data of 3 little-endian f32s.
        assert_eq!(b.len() % 16, 12);
        assert_eq!(&b[b.len() - 4..], &3.0f32.to_le_bytes());
    }

    /// What `numpy.save(f, numpy.array([1.0, -2.0, 0.5], dtype=numpy.float16))`
    /// writes (NumPy 2.x, bytes recorded from it).
    const NUMPY_F16: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }                                                            \x0a\x00<\x00\xc0\x008";

    #[test]
    fn float16_files_read_and_write_as_numpy_does() {
        let (t, ty) = read_npy_typed(NUMPY_F16, Path::new("h.npy")).unwrap();
        assert_eq!(ty, NpyType::Float16);
        assert_eq!(
            t,
            Tensor::from_f32s(DType::F16, &[3], vec![1.0, -2.0, 0.5]).unwrap()
        );
        // Written back: a '<f2' header (ndarray-npy spaces the dict a little
        // differently from NumPy) and the same 6 data bytes.
        let b = write_npy_bytes(&t).unwrap();
        assert!(String::from_utf8_lossy(&b[..b.len() - 6]).contains("'descr': '<f2'"));
        assert_eq!(&b[b.len() - 6..], &NUMPY_F16[NUMPY_F16.len() - 6..]);
        assert_eq!(read_npy_typed(&b, Path::new("w.npy")).unwrap(), (t, ty));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(read_npy_bytes(b"not numpy", Path::new("g.npy")).is_err());
        let t = Tensor::from_f32s(DType::F32, &[2], vec![1.0, 2.0]).unwrap();
        let b = write_npy_bytes(&t).unwrap();
        assert!(read_npy_bytes(&b[..b.len() - 3], Path::new("t.npy")).is_err());
    }

    #[test]
    fn a_huge_shape_is_refused_before_allocating() {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000), }\n";
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend([0u8; 8]);
        let e = read_npy_bytes(&b, Path::new("big.npy"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("big.npy") && e.contains("8 data bytes"), "{e}");
    }

    #[test]
    fn exact_conversion_names_the_input_and_both_types() {
        let t = Tensor::from_i64s(DType::I64, &[2], vec![1, 2]).unwrap();
        let want = TensorType::new(DType::F32, [2]);
        let e = convert_exact(&t, NpyType::Int64, &want, "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains('x') && e.contains("int64") && e.contains("f32"),
            "{e}"
        );
        let f = Tensor::from_f32s(DType::F32, &[2], vec![1.0, 3.0]).unwrap();
        let bf = TensorType::new(DType::BF16, [2]);
        assert_eq!(
            convert_exact(&f, NpyType::Float32, &bf, "x").unwrap().dtype,
            DType::BF16
        );
        let h = TensorType::new(DType::F16, [2]);
        assert!(convert_exact(&f, NpyType::Float32, &h, "x").is_err());
    }
}
