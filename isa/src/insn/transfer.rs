//! The one description of a DMA instruction's 2-D strided copy (`load`, `store`,
//! `copy` share their operands), so the operand spans, the functional executor and
//! the timing model read it from one place.

use super::{DmaCopy, Instruction, Load, Slice, Store};
use crate::Bytes;

/// `rows` rows of `row_bytes` bytes from `src + r · src_stride` to `dst + r · dst_stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer2d {
    /// Destination.
    pub dst: Slice,
    /// Source.
    pub src: Slice,
    /// Rows copied.
    pub rows: u32,
    /// Bytes per row.
    pub row_bytes: Bytes,
    /// Distance between row starts in the source.
    pub src_stride: Bytes,
    /// Distance between row starts in the destination.
    pub dst_stride: Bytes,
}

macro_rules! transfer_from {
    ($($t:ty),*) => {$(
        impl From<&$t> for Transfer2d {
            fn from(i: &$t) -> Transfer2d {
                Transfer2d {
                    dst: i.dst,
                    src: i.src,
                    rows: i.rows,
                    row_bytes: i.row_bytes,
                    src_stride: i.src_stride,
                    dst_stride: i.dst_stride,
                }
            }
        }
    )*};
}
transfer_from!(Load, Store, DmaCopy);

impl Instruction {
    /// The strided copy of a DMA instruction; `None` for every other instruction.
    pub fn transfer(&self) -> Option<Transfer2d> {
        match self {
            Instruction::Load(i) => Some(i.into()),
            Instruction::Store(i) => Some(i.into()),
            Instruction::DmaCopy(i) => Some(i.into()),
            _ => None,
        }
    }
}
