//! `load`, `store`, `copy`: the 2-D strided byte copy all three perform.
//!
//! Row r goes from `src + r·src_stride` to `dst + r·dst_stride`. Every source row is
//! read before any destination row is written, so a `copy` whose source and
//! destination overlap moves the data as it was when the instruction started
//! (a `memmove` per transfer). `src_stride = 0` broadcasts one row.

use triad_isa::Transfer2d;

use super::Exec;
use crate::Result;

/// Copies `rows` rows of `row_bytes` bytes from `src` to `dst`.
pub(super) fn transfer(x: &mut Exec<'_>, t: Transfer2d) -> Result<()> {
    let Transfer2d {
        dst,
        src,
        rows,
        row_bytes,
        src_stride,
        dst_stride,
    } = t;
    let (smem, saddr) = x.place(src);
    let (dmem, daddr) = x.place(dst);
    let b = x.count(row_bytes.0)?;
    let rows_read = if src_stride.0 == 0 { rows.min(1) } else { rows };
    let mut data = Vec::with_capacity(b.saturating_mul(rows_read as usize));
    for r in 0..u64::from(rows_read) {
        data.extend(
            x.mem
                .read(smem, saddr.saturating_add(r * src_stride.0), b)?,
        );
    }
    for r in 0..u64::from(rows) {
        let row = if src_stride.0 == 0 { 0 } else { r as usize };
        x.mem.write(
            dmem,
            daddr.saturating_add(r * dst_stride.0),
            &data[row * b..(row + 1) * b],
        )?;
    }
    Ok(())
}
