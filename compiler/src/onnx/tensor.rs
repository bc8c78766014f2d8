//! ONNX tensor contents: element-type mapping, decoding `TensorProto`s (typed fields,
//! `raw_data`, external data files) into IR [`Data`], and encoding them back.
//!
//! Unsigned quantised types have no IR dtype: a `uint8` (`uint4`) tensor is stored as
//! `i8` (`i4`) with every value shifted down by 128 (8) — its [`Decoded::shift`]. The
//! shift is exact for quantise/dequantise/integer matmul arithmetic (`q - zero_point`
//! is unchanged when both move), and the frontend undoes it (cast to i32, add the
//! shift) wherever a shifted value meets any other op. `uint16` and `int16` widen to
//! `i32`. Doubles, strings, complex and 8-bit float types are not supported.
//!
//! Failure modes: wrong byte or element counts give [`Error::Initializer`] naming the
//! tensor; unreadable external data gives [`Error::ExternalData`] naming the tensor
//! and the file.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use triad_isa::DType;

use super::proto::{TensorProto, tensor_proto::DataType as Pt};
use crate::data::{Data, TensorType};
use crate::error::{Error, Result};

/// How an ONNX element type is carried in the IR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Elem {
    /// The IR dtype.
    pub dtype: DType,
    /// Real value = stored value + shift (128 for uint8, 8 for uint4, else 0).
    pub shift: i64,
}

/// Map an ONNX `TensorProto.DataType` code to its IR carrier.
pub(crate) fn elem_of(code: i32) -> std::result::Result<Elem, String> {
    let e = |dtype, shift| Ok(Elem { dtype, shift });
    match Pt::try_from(code) {
        Ok(Pt::Float) => e(DType::F32, 0),
        Ok(Pt::Float16) => e(DType::F16, 0),
        Ok(Pt::Bfloat16) => e(DType::BF16, 0),
        Ok(Pt::Int8) => e(DType::I8, 0),
        Ok(Pt::Uint8) => e(DType::I8, 128),
        Ok(Pt::Int4) => e(DType::I4, 0),
        Ok(Pt::Uint4) => e(DType::I4, 8),
        Ok(Pt::Int16 | Pt::Uint16 | Pt::Int32) => e(DType::I32, 0),
        Ok(Pt::Int64) => e(DType::I64, 0),
        Ok(Pt::Bool) => e(DType::Bool, 0),
        Ok(other) => Err(format!(
            "element type {} is not supported",
            other.as_str_name()
        )),
        Err(_) => Err(format!("unknown element type code {code}")),
    }
}

/// The ONNX element type code for an IR dtype (`shift` 128/8 means uint8/uint4).
pub(crate) fn code_of(dtype: DType, shift: i64) -> i32 {
    let t = match (dtype, shift) {
        (DType::F32, _) => Pt::Float,
        (DType::F16, _) => Pt::Float16,
        (DType::BF16, _) => Pt::Bfloat16,
        (DType::I8, 128) => Pt::Uint8,
        (DType::I8, _) => Pt::Int8,
        (DType::I4, 8) => Pt::Uint4,
        (DType::I4, _) => Pt::Int4,
        (DType::I32, _) => Pt::Int32,
        (DType::I64, _) => Pt::Int64,
        (DType::Bool, _) => Pt::Bool,
    };
    t as i32
}

/// A decoded tensor: type, flat values (already shifted for unsigned types) and shift.
#[derive(Clone, Debug)]
pub(crate) struct Decoded {
    /// IR type.
    pub ty: TensorType,
    /// Values, in the IR carrier.
    pub data: Data,
    /// Real value = stored + shift.
    pub shift: i64,
}

/// Most elements of any tensor the frontend creates or reads (2^34), so hostile
/// dims give an error instead of an overflow or an attempt to allocate terabytes.
pub const MAX_TENSOR_ELEMS: u64 = 1 << 34;

/// Check that `shape` has at most [`MAX_TENSOR_ELEMS`] elements.
pub(crate) fn check_elems(name: &str, shape: &[usize]) -> Result<()> {
    let n = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    match n {
        Some(n) if n <= MAX_TENSOR_ELEMS => Ok(()),
        _ => Err(Error::Initializer {
            name: name.to_string(),
            reason: format!("dims {shape:?} exceed the limit of {MAX_TENSOR_ELEMS} elements"),
        }),
    }
}

/// Convert ONNX dims to IR dims (negative dims and oversized tensors are errors).
pub(crate) fn dims_of(name: &str, dims: &[i64]) -> Result<Vec<usize>> {
    let out = dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| Error::Initializer {
                name: name.to_string(),
                reason: format!("negative dim {d} in {dims:?}"),
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    check_elems(name, &out)?;
    Ok(out)
}

/// Decode a `TensorProto`. `base` is the model file's directory, for external data.
pub(crate) fn decode(t: &TensorProto, base: Option<&Path>) -> Result<Decoded> {
    let name = t.name.clone().unwrap_or_default();
    let bad = |reason: String| Error::Initializer {
        name: name.clone(),
        reason,
    };
    let code = t.data_type.unwrap_or(0);
    let elem = elem_of(code).map_err(bad)?;
    let shape = dims_of(&name, &t.dims)?;
    let ty = TensorType::new(elem.dtype, shape);
    let n = usize::try_from(ty.elems()).map_err(|_| bad("too many elements".into()))?;
    let external =
        t.data_location == Some(super::proto::tensor_proto::DataLocation::External as i32);
    let pt = Pt::try_from(code).map_err(|_| bad(format!("unknown element type {code}")))?;
    // Raw bytes are converted straight from the message (or the external file's
    // byte range): no intermediate copy of the payload.
    let data = if external {
        let bytes = read_external(t, &name, base)?;
        from_raw(pt, &bytes, n).map_err(bad)?
    } else {
        match t.raw_data.as_deref() {
            Some(bytes) => from_raw(pt, bytes, n).map_err(bad)?,
            None => from_typed(pt, t, n).map_err(bad)?,
        }
    };
    let data = unshift_check(data, elem, &ty).map_err(bad)?;
    Ok(Decoded {
        ty,
        data,
        shift: elem.shift,
    })
}

/// Apply the unsigned shift and check integer ranges.
fn unshift_check(data: Data, elem: Elem, ty: &TensorType) -> std::result::Result<Data, String> {
    match data {
        Data::I64(v) => {
            let (lo, hi) = ty.dtype.int_range().unwrap_or((i64::MIN, i64::MAX));
            let v: Vec<i64> = v.into_iter().map(|x| x - elem.shift).collect();
            if let Some(x) = v.iter().find(|x| !(lo..=hi).contains(*x)) {
                return Err(format!(
                    "value {} out of range for its element type",
                    x + elem.shift
                ));
            }
            Ok(Data::I64(v))
        }
        other => Ok(other),
    }
}

fn check_len(what: &str, got: usize, want: usize) -> std::result::Result<(), String> {
    if got != want {
        return Err(format!("{what} holds {got} values, the dims need {want}"));
    }
    Ok(())
}

fn from_raw(pt: Pt, b: &[u8], n: usize) -> std::result::Result<Data, String> {
    let width = match pt {
        Pt::Float | Pt::Int32 | Pt::Uint32 => 4,
        Pt::Float16 | Pt::Bfloat16 | Pt::Int16 | Pt::Uint16 => 2,
        Pt::Int64 | Pt::Uint64 | Pt::Double => 8,
        Pt::Int4 | Pt::Uint4 => {
            let want = n.div_ceil(2);
            if b.len() != want {
                return Err(format!(
                    "raw_data has {} bytes, {n} 4-bit values need {want}",
                    b.len()
                ));
            }
            return Ok(Data::I64(unpack4(b, n, pt == Pt::Int4)));
        }
        _ => 1,
    };
    if b.len() != n * width {
        return Err(format!(
            "raw_data has {} bytes, {n} elements of {width} bytes need {}",
            b.len(),
            n * width
        ));
    }
    let chunks = b.chunks_exact(width);
    Ok(match pt {
        Pt::Float => Data::F32(
            chunks
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Pt::Float16 => Data::F32(
            chunks
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        ),
        Pt::Bfloat16 => Data::F32(
            chunks
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        ),
        Pt::Int8 => Data::I64(b.iter().map(|&x| x as i8 as i64).collect()),
        Pt::Uint8 => Data::I64(b.iter().map(|&x| x as i64).collect()),
        Pt::Int16 => Data::I64(
            chunks
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
        ),
        Pt::Uint16 => Data::I64(
            chunks
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
        ),
        Pt::Int32 => Data::I64(
            chunks
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
        ),
        Pt::Int64 => Data::I64(
            chunks
                .map(|c| i64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect(),
        ),
        Pt::Bool => Data::Bool(b.iter().map(|&x| x != 0).collect()),
        other => {
            return Err(format!(
                "element type {} is not supported",
                other.as_str_name()
            ));
        }
    })
}

fn unpack4(b: &[u8], n: usize, signed: bool) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let nib = (b[i / 2] >> (4 * (i % 2))) & 0xF;
            if signed && nib >= 8 {
                nib as i64 - 16
            } else {
                nib as i64
            }
        })
        .collect()
}

fn from_typed(pt: Pt, t: &TensorProto, n: usize) -> std::result::Result<Data, String> {
    Ok(match pt {
        Pt::Float => {
            check_len("float_data", t.float_data.len(), n)?;
            Data::F32(t.float_data.clone())
        }
        Pt::Float16 | Pt::Bfloat16 => {
            check_len("int32_data", t.int32_data.len(), n)?;
            let conv = |x: &i32| {
                let bits = *x as u16;
                if pt == Pt::Float16 {
                    half::f16::from_bits(bits).to_f32()
                } else {
                    half::bf16::from_bits(bits).to_f32()
                }
            };
            Data::F32(t.int32_data.iter().map(conv).collect())
        }
        Pt::Int4 | Pt::Uint4 => {
            check_len("int32_data", t.int32_data.len(), n.div_ceil(2))?;
            let bytes: Vec<u8> = t.int32_data.iter().map(|&x| x as u8).collect();
            Data::I64(unpack4(&bytes, n, pt == Pt::Int4))
        }
        Pt::Int8 | Pt::Uint8 | Pt::Int16 | Pt::Uint16 | Pt::Int32 => {
            check_len("int32_data", t.int32_data.len(), n)?;
            Data::I64(t.int32_data.iter().map(|&x| x as i64).collect())
        }
        Pt::Int64 => {
            check_len("int64_data", t.int64_data.len(), n)?;
            Data::I64(t.int64_data.clone())
        }
        Pt::Bool => {
            check_len("int32_data", t.int32_data.len(), n)?;
            Data::Bool(t.int32_data.iter().map(|&x| x != 0).collect())
        }
        other => {
            return Err(format!(
                "element type {} is not supported",
                other.as_str_name()
            ));
        }
    })
}

/// Read the bytes of an external-data tensor (`location`, `offset`, `length` keys).
fn read_external(t: &TensorProto, name: &str, base: Option<&Path>) -> Result<Vec<u8>> {
    let key = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key.as_deref() == Some(k))
            .and_then(|e| e.value.clone())
    };
    let location = key("location").unwrap_or_default();
    let base = base
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let file = base.join(&location);
    let err = |reason: String| Error::ExternalData {
        tensor: name.to_string(),
        file: file.clone(),
        reason,
    };
    let rel = Path::new(&location);
    let escapes = location.is_empty()
        || rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(err(format!(
            "location `{location}` must be a relative path inside the model's directory"
        )));
    }
    let num = |k: &str| -> Result<Option<u64>> {
        key(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| err(format!("`{k}` = `{v}` is not a non-negative integer")))
            })
            .transpose()
    };
    let offset = num("offset")?.unwrap_or(0);
    let length = num("length")?;
    // Only the tensor's byte range is read: a shared data file is not re-read whole
    // for every tensor in it.
    let mut f = std::fs::File::open(&file).map_err(|e| err(e.to_string()))?;
    let total = f.metadata().map_err(|e| err(e.to_string()))?.len();
    let end = match length {
        Some(l) => offset.saturating_add(l),
        None => total,
    };
    if offset > total || end > total {
        return Err(err(format!(
            "offset {offset} + length {} runs past the end of the file ({total} bytes)",
            length.map_or("<rest>".to_string(), |l| l.to_string())
        )));
    }
    let len = usize::try_from(end - offset).map_err(|_| err("tensor too large".into()))?;
    let mut bytes = vec![0u8; len];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut bytes))
        .map_err(|e| err(e.to_string()))?;
    Ok(bytes)
}

/// Encode IR data as a `TensorProto` with `raw_data` (little-endian). `shift` re-adds
/// the unsigned offset (128 for a uint8 tensor).
pub(crate) fn encode(name: &str, ty: &TensorType, data: &Data, shift: i64) -> TensorProto {
    let mut raw = Vec::new();
    match data {
        Data::F32(v) => {
            for &x in v {
                match ty.dtype {
                    DType::F16 => raw.extend(half::f16::from_f32(x).to_le_bytes()),
                    DType::BF16 => raw.extend(half::bf16::from_f32(x).to_le_bytes()),
                    _ => raw.extend(x.to_le_bytes()),
                }
            }
        }
        Data::I64(v) => match ty.dtype {
            DType::I4 => {
                for pair in v.chunks(2) {
                    let lo = ((pair[0] + shift) & 0xF) as u8;
                    let hi = pair.get(1).map_or(0, |x| ((x + shift) & 0xF) as u8);
                    raw.push(lo | (hi << 4));
                }
            }
            DType::I8 => raw.extend(v.iter().map(|&x| (x + shift) as u8)),
            DType::I32 => v.iter().for_each(|&x| raw.extend((x as i32).to_le_bytes())),
            _ => v.iter().for_each(|&x| raw.extend(x.to_le_bytes())),
        },
        Data::Bool(v) => raw.extend(v.iter().map(|&b| b as u8)),
    }
    TensorProto {
        dims: ty.shape.iter().map(|&d| d as i64).collect(),
        data_type: Some(code_of(ty.dtype, shift)),
        name: Some(name.to_string()),
        raw_data: Some(raw.into()),
        ..TensorProto::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_typed_agree() {
        let raw = TensorProto {
            dims: vec![2],
            data_type: Some(Pt::Float as i32),
            raw_data: Some(
                [1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()]
                    .concat()
                    .into(),
            ),
            ..TensorProto::default()
        };
        let typed = TensorProto {
            dims: vec![2],
            data_type: Some(Pt::Float as i32),
            float_data: vec![1.5, -2.0],
            ..TensorProto::default()
        };
        assert_eq!(decode(&raw, None).unwrap().data, Data::F32(vec![1.5, -2.0]));
        assert_eq!(
            decode(&typed, None).unwrap().data,
            Data::F32(vec![1.5, -2.0])
        );
    }

    #[test]
    fn uint8_is_shifted_and_int4_unpacks_low_nibble_first() {
        let u8t = TensorProto {
            dims: vec![3],
            data_type: Some(Pt::Uint8 as i32),
            raw_data: Some(vec![0, 128, 255].into()),
            ..TensorProto::default()
        };
        let d = decode(&u8t, None).unwrap();
        assert_eq!((d.ty.dtype, d.shift), (DType::I8, 128));
        assert_eq!(d.data, Data::I64(vec![-128, 0, 127]));
        // 0x9F: low nibble 0xF = -1, high nibble 0x9 = -7; then 0x01: 1.
        let i4 = TensorProto {
            dims: vec![3],
            data_type: Some(Pt::Int4 as i32),
            raw_data: Some(vec![0x9F, 0x01].into()),
            ..TensorProto::default()
        };
        assert_eq!(decode(&i4, None).unwrap().data, Data::I64(vec![-1, -7, 1]));
        let back = encode(
            "x",
            &TensorType::new(DType::I4, [3]),
            &Data::I64(vec![-1, -7, 1]),
            0,
        );
        assert_eq!(back.raw_data.unwrap(), vec![0x9F, 0x01]);
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let t = TensorProto {
            name: Some("w".into()),
            dims: vec![3],
            data_type: Some(Pt::Float as i32),
            raw_data: Some(vec![0; 8].into()),
            ..TensorProto::default()
        };
        let e = decode(&t, None).unwrap_err().to_string();
        assert!(
            e.contains("`w`") && e.contains("8 bytes") && e.contains("need 12"),
            "{e}"
        );
    }
}
