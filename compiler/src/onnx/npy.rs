//! NumPy `.npy` files for interpreter tensors (via the `ndarray-npy` crate).
//!
//! Reading accepts little-endian `f4`, `f8` (rounded to f32), `i8`, `i4`, `i2`, `i1`,
//! `u1`, `b1` arrays in C order and gives a [`Tensor`] of dtype f32, i64, i32, i32,
//! i8, i32 (exact), bool. Writing stores every float dtype as `<f4` (f16 and bf16 are
//! exact in f32), i64 as `<i8`, i32 as `<i4`, i8 and i4 as `|i1`, bool as `|b1`; files
//! are written to a temporary name and renamed, so a reader never sees half a file.
//! [`convert`] adapts a read tensor to a graph input's dtype.

use std::io::Cursor;
use std::path::Path;

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};
use triad_isa::DType;

use crate::data::{Data, TensorType};
use crate::error::{Error, Result};
use crate::interp::{Array, Tensor};

fn fmt(file: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        file: file.to_path_buf(),
        reason: reason.into(),
    }
}

/// Read a tensor from `.npy` bytes; `file` names it in errors.
pub fn read_npy_bytes(bytes: &[u8], file: &Path) -> Result<Tensor> {
    fn get<T: ndarray_npy::ReadableElement>(
        b: &[u8],
    ) -> std::result::Result<ArrayD<T>, ReadNpyError> {
        ArrayD::<T>::read_npy(Cursor::new(b))
    }
    let mut last = None;
    macro_rules! attempt {
        ($t:ty, $conv:expr) => {
            match get::<$t>(bytes) {
                Ok(a) => return Ok($conv(a)),
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => last = Some(e.to_string()),
            }
        };
    }
    let t = |dtype, array| Tensor { dtype, array };
    attempt!(f32, |a| t(DType::F32, Array::F32(a)));
    attempt!(f64, |a: ArrayD<f64>| t(
        DType::F32,
        Array::F32(a.mapv(|x| x as f32))
    ));
    attempt!(i64, |a| t(DType::I64, Array::I64(a)));
    attempt!(i32, |a: ArrayD<i32>| t(
        DType::I32,
        Array::I64(a.mapv(i64::from))
    ));
    attempt!(i16, |a: ArrayD<i16>| t(
        DType::I32,
        Array::I64(a.mapv(i64::from))
    ));
    attempt!(i8, |a: ArrayD<i8>| t(
        DType::I8,
        Array::I64(a.mapv(i64::from))
    ));
    attempt!(u8, |a: ArrayD<u8>| t(
        DType::I32,
        Array::I64(a.mapv(i64::from))
    ));
    attempt!(bool, |a| t(DType::Bool, Array::Bool(a)));
    Err(fmt(
        file,
        last.unwrap_or_else(|| {
            "unsupported element type (expected f4, f8, i8, i4, i2, i1, u1 or b1)".into()
        }),
    ))
}

/// Read a tensor from a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })?;
    read_npy_bytes(&bytes, path)
}

/// Serialise a tensor as `.npy` bytes.
pub fn write_npy_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let res = match (&t.array, t.dtype) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_carrier() {
        let cases = [
            Tensor::from_f32s(DType::F32, &[2, 2], vec![1.0, -2.5, 3.25, 0.0]).unwrap(),
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

    #[test]
    fn garbage_is_an_error() {
        assert!(read_npy_bytes(b"not numpy", Path::new("g.npy")).is_err());
        let t = Tensor::from_f32s(DType::F32, &[2], vec![1.0, 2.0]).unwrap();
        let b = write_npy_bytes(&t).unwrap();
        assert!(read_npy_bytes(&b[..b.len() - 3], Path::new("t.npy")).is_err());
    }
}
