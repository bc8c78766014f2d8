//! Run-time tensors of the reference interpreter and the rounding rules every op shares.
//!
//! A [`Tensor`] is a dtype plus an ndarray in one of three carriers ([`Array`]): `f32`
//! for f32/f16/bf16 (every f16 and bf16 value is exactly an f32), `i64` for
//! i4/i8/i32/i64 and `bool`. A well-formed tensor holds only values of its dtype:
//! floats representable in it, integers inside its range. The constructors
//! ([`Tensor::from_data`], [`Tensor::from_f32s`], …) round floats to the dtype and
//! reject out-of-range integers; [`super::run`] rejects graph inputs that break the rule.
//!
//! Rounding: kernels compute in `f64` and round once to the result dtype with
//! [`round_f64`], which is correctly rounded (round half to even) for f32, f16 and bf16.
//! (`half`'s own `f64` conversions drop the low 32 mantissa bits before rounding, so
//! they are not used.) Integer results wrap to their width with [`wrap_int`].

use ndarray::{ArrayD, IxDyn};
use triad_isa::DType;

use crate::data::{Data, TensorType, round_to};
use crate::error::{Error, Result};

/// Apply the same generic expression to whichever carrier `$arr` (an `&Array`) uses,
/// binding the inner `&ArrayD<T>` to `$a`; the expression yields an `ArrayD<T>`.
macro_rules! each_carrier {
    ($arr:expr, $a:ident => $body:expr) => {
        match $arr {
            $crate::interp::tensor::Array::F32($a) => $crate::interp::tensor::Array::F32($body),
            $crate::interp::tensor::Array::I64($a) => $crate::interp::tensor::Array::I64($body),
            $crate::interp::tensor::Array::Bool($a) => $crate::interp::tensor::Array::Bool($body),
        }
    };
}
pub(crate) use each_carrier;

/// Kernel-internal result: the reason text becomes an [`Error::Eval`] naming the node.
pub(crate) type R<T> = std::result::Result<T, String>;

/// The values of a tensor, in the carrier its dtype uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Array {
    /// f32, f16 and bf16 values.
    F32(ArrayD<f32>),
    /// i4, i8, i32 and i64 values.
    I64(ArrayD<i64>),
    /// bool values.
    Bool(ArrayD<bool>),
}

impl Array {
    /// The dims of the array.
    pub fn shape(&self) -> &[usize] {
        match self {
            Array::F32(a) => a.shape(),
            Array::I64(a) => a.shape(),
            Array::Bool(a) => a.shape(),
        }
    }

    /// Name of the carrier (`f32`, `i64`, `bool`), for messages.
    pub(crate) fn carrier(&self) -> &'static str {
        match self {
            Array::F32(_) => "f32",
            Array::I64(_) => "i64",
            Array::Bool(_) => "bool",
        }
    }
}

/// A typed tensor value: the interpreter's unit of data.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Element type (decides rounding and integer width).
    pub dtype: DType,
    /// The values.
    pub array: Array,
}

impl Tensor {
    /// A tensor of type `ty` from flat row-major [`Data`]. Float values are rounded to
    /// the dtype (as [`crate::Init::materialise`] does for random data); integers must
    /// lie in the dtype's range; the carrier and the element count must match `ty`.
    pub fn from_data(ty: &TensorType, data: &Data) -> Result<Tensor> {
        Self::build(ty, data.clone()).map_err(|reason| Error::Initializer {
            name: format!("<tensor {ty}>"),
            reason,
        })
    }

    /// A float tensor from row-major values, rounded to `dtype` (f32, f16 or bf16).
    pub fn from_f32s(dtype: DType, shape: &[usize], values: Vec<f32>) -> Result<Tensor> {
        Self::from_data(&TensorType::new(dtype, shape), &Data::F32(values))
    }

    /// An integer tensor from row-major values, which must fit `dtype` (i4, i8, i32, i64).
    pub fn from_i64s(dtype: DType, shape: &[usize], values: Vec<i64>) -> Result<Tensor> {
        Self::from_data(&TensorType::new(dtype, shape), &Data::I64(values))
    }

    /// A bool tensor from row-major values.
    pub fn from_bools(shape: &[usize], values: Vec<bool>) -> Result<Tensor> {
        Self::from_data(&TensorType::new(DType::Bool, shape), &Data::Bool(values))
    }

    /// A tensor of type `ty` filled with zeros (`false` for bool).
    pub fn zeros(ty: &TensorType) -> Tensor {
        let dim = IxDyn(&ty.shape);
        let array = if ty.dtype.is_float() {
            Array::F32(ArrayD::zeros(dim))
        } else if ty.dtype.is_int() {
            Array::I64(ArrayD::zeros(dim))
        } else {
            Array::Bool(ArrayD::from_elem(dim, false))
        };
        Tensor {
            dtype: ty.dtype,
            array,
        }
    }

    pub(crate) fn build(ty: &TensorType, data: Data) -> R<Tensor> {
        let n = ty.elems();
        if data.len() as u64 != n {
            return Err(format!("{} values given, type {ty} needs {n}", data.len()));
        }
        let dim = IxDyn(&ty.shape);
        let bad_carrier = || format!("data carrier does not match dtype {}", ty.dtype);
        let array = match data {
            Data::F32(v) if ty.dtype.is_float() => {
                // Rounding to f32 is the identity: only f16/bf16 values are rounded.
                let v = if ty.dtype == DType::F32 {
                    v
                } else {
                    v.into_iter().map(|x| round_to(ty.dtype, x)).collect()
                };
                Array::F32(ArrayD::from_shape_vec(dim, v).map_err(|e| e.to_string())?)
            }
            Data::I64(v) if ty.dtype.is_int() => {
                Array::I64(ArrayD::from_shape_vec(dim, v).map_err(|e| e.to_string())?)
            }
            Data::Bool(v) if ty.dtype == DType::Bool => {
                Array::Bool(ArrayD::from_shape_vec(dim, v).map_err(|e| e.to_string())?)
            }
            _ => return Err(bad_carrier()),
        };
        let t = Tensor {
            dtype: ty.dtype,
            array,
        };
        t.problem().map_or(Ok(t), Err)
    }

    /// Flat row-major contents.
    pub fn to_data(&self) -> Data {
        match &self.array {
            Array::F32(a) => Data::F32(a.iter().copied().collect()),
            Array::I64(a) => Data::I64(a.iter().copied().collect()),
            Array::Bool(a) => Data::Bool(a.iter().copied().collect()),
        }
    }

    /// The tensor's static type.
    pub fn ty(&self) -> TensorType {
        TensorType::new(self.dtype, self.shape())
    }

    /// The dims.
    pub fn shape(&self) -> &[usize] {
        self.array.shape()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The float array, if this is a float tensor.
    pub fn as_f32(&self) -> Option<&ArrayD<f32>> {
        match &self.array {
            Array::F32(a) => Some(a),
            _ => None,
        }
    }

    /// The integer array, if this is an integer tensor.
    pub fn as_i64(&self) -> Option<&ArrayD<i64>> {
        match &self.array {
            Array::I64(a) => Some(a),
            _ => None,
        }
    }

    /// The bool array, if this is a bool tensor.
    pub fn as_bool(&self) -> Option<&ArrayD<bool>> {
        match &self.array {
            Array::Bool(a) => Some(a),
            _ => None,
        }
    }

    /// Row-major float values, if this is a float tensor.
    pub fn f32s(&self) -> Option<Vec<f32>> {
        self.as_f32().map(|a| a.iter().copied().collect())
    }

    /// Row-major integer values, if this is an integer tensor.
    pub fn i64s(&self) -> Option<Vec<i64>> {
        self.as_i64().map(|a| a.iter().copied().collect())
    }

    /// Row-major bool values, if this is a bool tensor.
    pub fn bools(&self) -> Option<Vec<bool>> {
        self.as_bool().map(|a| a.iter().copied().collect())
    }

    /// Largest absolute element difference to `other` (as f64; bools count 0 or 1),
    /// `None` when the types differ. NaN against NaN counts as equal; NaN against a
    /// number gives infinity. For comparing the simulator's output with the interpreter's.
    pub fn max_abs_diff(&self, other: &Tensor) -> Option<f64> {
        if self.ty() != other.ty() {
            return None;
        }
        let d = |x: f64, y: f64| match (x.is_nan(), y.is_nan()) {
            (true, true) => 0.0,
            (false, false) if x == y => 0.0,
            (false, false) => (x - y).abs(),
            _ => f64::INFINITY,
        };
        let m = match (&self.array, &other.array) {
            (Array::F32(a), Array::F32(b)) => a
                .iter()
                .zip(b)
                .map(|(&x, &y)| d(x.into(), y.into()))
                .fold(0.0, f64::max),
            (Array::I64(a), Array::I64(b)) => a
                .iter()
                .zip(b)
                .map(|(&x, &y)| x.abs_diff(y) as f64)
                .fold(0.0, f64::max),
            (Array::Bool(a), Array::Bool(b)) => {
                if a.iter().zip(b).any(|(x, y)| x != y) {
                    1.0
                } else {
                    0.0
                }
            }
            _ => return None,
        };
        Some(m)
    }

    /// Why this tensor is not a well-formed value of its dtype, if it is not: wrong
    /// carrier, an integer out of range, or a float not representable in the dtype.
    pub(crate) fn problem(&self) -> Option<String> {
        let dt = self.dtype;
        match &self.array {
            Array::F32(a) if dt.is_float() => {
                if dt == DType::F32 {
                    return None;
                }
                a.iter()
                    .position(|&x| !x.is_nan() && round_to(dt, x) != x)
                    .map(|i| {
                        let x = a.iter().nth(i).copied().unwrap_or_default();
                        format!("value {x} at flat index {i} is not representable in {dt}")
                    })
            }
            Array::I64(a) if dt.is_int() => {
                let (lo, hi) = dt.int_range().unwrap_or((i64::MIN, i64::MAX));
                a.iter().position(|x| !(lo..=hi).contains(x)).map(|i| {
                    let x = a.iter().nth(i).copied().unwrap_or_default();
                    format!("value {x} at flat index {i} is out of range for {dt}")
                })
            }
            Array::Bool(_) if dt == DType::Bool => None,
            other => Some(format!(
                "dtype {dt} stored in the {} carrier",
                other.carrier()
            )),
        }
    }
}

/// Round an f64 to the nearest value of float dtype `dtype` (ties to even), exactly:
/// the value is first rounded to f32 with round-to-odd, which keeps enough bits that
/// the second rounding (to f16 or bf16) is correct. Non-float dtypes round to f32.
pub fn round_f64(dtype: DType, x: f64) -> f32 {
    let f = x as f32;
    match dtype {
        DType::F16 | DType::BF16 => round_to(dtype, round_to_odd(x, f)),
        _ => f,
    }
}

/// Round-to-odd of `x` given its round-to-nearest f32 `f`: truncate toward zero and set
/// the last mantissa bit when inexact.
fn round_to_odd(x: f64, f: f32) -> f32 {
    if x.is_nan() || f64::from(f) == x {
        return f;
    }
    let mut bits = f.to_bits();
    if f.is_infinite() || f64::from(f).abs() > x.abs() {
        // Rounded away from zero (or overflowed): step one ulp back toward zero.
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// Wrap an integer to the two's complement width of `dtype` (i4: 4 bits, i8: 8 bits,
/// i32: 32 bits, i64 unchanged); non-integer dtypes return it unchanged.
pub fn wrap_int(dtype: DType, v: i64) -> i64 {
    match dtype {
        DType::I4 => v.wrapping_shl(60) >> 60,
        DType::I8 => v as i8 as i64,
        DType::I32 => v as i32 as i64,
        _ => v,
    }
}

/// Saturate an integer to the range of `dtype` (i64 for non-integer dtypes).
pub(crate) fn saturate_int(dtype: DType, v: i64) -> i64 {
    let (lo, hi) = dtype.int_range().unwrap_or((i64::MIN, i64::MAX));
    v.clamp(lo, hi)
}

/// Float to integer: round half to even, saturate to `dtype`'s range, NaN to 0.
pub(crate) fn float_to_int(dtype: DType, x: f64) -> i64 {
    let (lo, hi) = dtype.int_range().unwrap_or((i64::MIN, i64::MAX));
    if x.is_nan() {
        return 0.clamp(lo, hi);
    }
    let r = x.round_ties_even();
    if r <= lo as f64 {
        lo
    } else if r >= hi as f64 {
        hi
    } else {
        r as i64
    }
}

/// Integer to float dtype: exact through f64 for |v| <= 2^53 (every i4/i8/i32 value),
/// then one correct rounding to `dtype`.
pub(crate) fn int_to_float(dtype: DType, v: i64) -> f32 {
    round_f64(dtype, v as f64)
}

/// Reshape an owned array to `shape`, copying only if it is not in standard layout.
pub(crate) fn reshape_owned<T: Clone>(a: ArrayD<T>, shape: &[usize]) -> R<ArrayD<T>> {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    a.into_shape_with_order(IxDyn(shape))
        .map_err(|e| format!("reshape to {shape:?}: {e}"))
}

/// A float tensor of `dtype` from f64 results, each rounded once with [`round_f64`].
pub(crate) fn float_tensor(dtype: DType, a: ArrayD<f64>) -> Tensor {
    Tensor {
        dtype,
        array: Array::F32(a.mapv(|x| round_f64(dtype, x))),
    }
}

/// The f32 array of operand `what`, or an error naming it.
pub(crate) fn f32_of<'a>(t: &'a Tensor, what: &str) -> R<&'a ArrayD<f32>> {
    t.as_f32()
        .ok_or_else(|| format!("{what} must be a float tensor, got {}", t.dtype))
}

/// The i64 array of operand `what`, or an error naming it.
pub(crate) fn i64_of<'a>(t: &'a Tensor, what: &str) -> R<&'a ArrayD<i64>> {
    t.as_i64()
        .ok_or_else(|| format!("{what} must be an integer tensor, got {}", t.dtype))
}

/// The bool array of operand `what`, or an error naming it.
pub(crate) fn bool_of<'a>(t: &'a Tensor, what: &str) -> R<&'a ArrayD<bool>> {
    t.as_bool()
        .ok_or_else(|| format!("{what} must be a bool tensor, got {}", t.dtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_f64_is_correct_where_double_rounding_is_not() {
        // 1 + 2^-11 + 2^-40 lies just above the f16 midpoint between 1 and 1 + 2^-10:
        // the nearest f16 is 1 + 2^-10. Rounding to f32 first would land on the
        // midpoint 1 + 2^-11 and then tie to 1.0.
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(round_f64(DType::F16, x), 1.0 + 2f32.powi(-10));
        assert_eq!(round_f64(DType::F16, -x), -(1.0 + 2f32.powi(-10)));
        assert_eq!(round_f64(DType::F16, 1.0 + 2f64.powi(-11)), 1.0);
        // bf16: 1 + 2^-8 + 2^-30 rounds up to 1 + 2^-7.
        let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-30);
        assert_eq!(round_f64(DType::BF16, x), 1.0 + 2f32.powi(-7));
        assert_eq!(round_f64(DType::F16, 1e6), f32::INFINITY);
        assert_eq!(round_f64(DType::BF16, 1e300), f32::INFINITY);
        assert_eq!(round_f64(DType::F32, 0.1), 0.1f32);
    }

    #[test]
    fn integer_helpers() {
        assert_eq!(wrap_int(DType::I4, 8), -8);
        assert_eq!(wrap_int(DType::I4, -9), 7);
        assert_eq!(wrap_int(DType::I8, 128), -128);
        assert_eq!(wrap_int(DType::I32, 1 << 31), -(1 << 31));
        assert_eq!(float_to_int(DType::I8, 2.5), 2);
        assert_eq!(float_to_int(DType::I8, -3.5), -4);
        assert_eq!(float_to_int(DType::I8, 1e9), 127);
        assert_eq!(float_to_int(DType::I64, 1e30), i64::MAX);
        assert_eq!(float_to_int(DType::I4, f64::NAN), 0);
    }
}
