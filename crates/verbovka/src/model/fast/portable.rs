//! The portable kernels: plain safe Rust for any CPU (the compiler vectorises what it can for
//! the target's baseline; no FMA: products and sums are rounded separately).
//!
//! `matmul` reads the same packed weights as the SIMD kernels. Every output element is one
//! chain of `acc += a · b` over `k` in increasing order, started at zero, then the epilogue in
//! the SIMD kernels' order: nothing depends on the other rows of the call, the block a row
//! falls in or the zero skipping (a skipped zero adds nothing).

#![forbid(unsafe_code)]

use super::{Epilogue, Rhs, PANEL};
use crate::{Error, Result};

/// Rows of one register block.
const MR: usize = 4;
/// Columns of one register block.
const NR: usize = 8;

fn out_of_bounds(m: usize, n: usize, k: usize) -> Error {
    Error::Internal(format!("matmul of {m}×{k}·{k}×{n} out of bounds"))
}

/// `c (m×n, row stride ldc) = epilogue(a (m×k, row stride lda) · b)`; with `nonzero` (a
/// scratch list) each block of rows sums over the `k` at which any of its rows is non-zero.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    b: Rhs<'_>,
    (m, n, k): (usize, usize, usize),
    epi: Epilogue<'_>,
    nonzero: Option<&mut Vec<u32>>,
    ks: &mut Vec<u32>,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    let (b, ldb, packed, b_ok) = match b {
        Rhs::Packed(p) => (p, PANEL, true, p.len() >= n.div_ceil(PANEL) * k * PANEL),
        Rhs::Rows(r, ld) => (r, ld, false, k == 0 || (k - 1) * ld + n <= r.len()),
    };
    let panel_stride = if packed { k * PANEL } else { PANEL };
    let ok = b_ok
        && n <= ldc
        && (m - 1) * ldc + n <= c.len()
        && (k == 0 || (k <= lda && (m - 1) * lda + k <= a.len()))
        && epi.bias.is_none_or(|bias| bias.len() >= n);
    if !ok {
        return Err(out_of_bounds(m, n, k));
    }
    let skip = nonzero.is_some();
    let list = nonzero.unwrap_or(ks);
    if !skip {
        list.clear();
        list.extend(0..k as u32);
    }
    // Row-major right-hand sides whose last block is narrower than 8 columns: that block's
    // columns copied, zero-padded, so that the kernel always reads 8.
    let mut tail: Vec<f32> = Vec::new();
    for i0 in (0..m).step_by(MR) {
        let rows = (m - i0).min(MR);
        if skip {
            list.clear();
            list.extend(
                (0..k as u32).filter(|&j| (0..rows).any(|r| a[(i0 + r) * lda + j as usize] != 0.0)),
            );
        }
        // Rows past `rows` repeat the first (their sums are dropped).
        let ar: [&[f32]; MR] = std::array::from_fn(|r| {
            let i = i0 + if r < rows { r } else { 0 };
            a.get(i * lda..i * lda + k).unwrap_or(&[])
        });
        for j0 in (0..n).step_by(NR) {
            let cols = (n - j0).min(NR);
            let (bb, off, ld) = if !packed && cols < NR {
                if tail.is_empty() {
                    tail = vec![0f32; k * NR];
                    for (t, row) in tail.chunks_exact_mut(NR).enumerate() {
                        row[..cols].copy_from_slice(&b[t * ldb + j0..t * ldb + j0 + cols]);
                    }
                }
                (&tail[..], 0, NR)
            } else {
                // A block of 8 columns never straddles a 32-column panel (zero-padded).
                (b, (j0 / PANEL) * panel_stride + j0 % PANEL, ldb)
            };
            let acc = block(ar, &bb[off..], ld, list);
            for (r, acc) in acc.iter().enumerate().take(rows) {
                let row = &mut c[(i0 + r) * ldc + j0..][..cols];
                for (jj, (out, &s)) in row.iter_mut().zip(acc).enumerate() {
                    let mut v = s;
                    if epi.scale != 1.0 {
                        v *= epi.scale;
                    }
                    if let Some(bias) = epi.bias {
                        v += bias[j0 + jj];
                    }
                    if epi.accumulate {
                        v += *out;
                    }
                    if epi.relu {
                        v = v.max(0.0);
                    }
                    *out = v;
                }
            }
        }
    }
    Ok(())
}

/// The sums of one block: `acc[r][q] = Σ_j ar[r][j] · b[j · ldb + q]` over the listed `j`, in
/// list order, each a chain of separate multiplies and adds (written so that the compiler keeps
/// the block in vector registers).
#[inline(never)]
fn block(ar: [&[f32]; MR], b: &[f32], ldb: usize, list: &[u32]) -> [[f32; NR]; MR] {
    let mut s = [[0f32; NR]; MR];
    for &j in list {
        let j = j as usize;
        let bj = &b[j * ldb..j * ldb + NR];
        let bv: [f32; NR] = std::array::from_fn(|q| bj[q]);
        for r in 0..MR {
            let av = ar[r][j];
            for q in 0..NR {
                s[r][q] += av * bv[q];
            }
        }
    }
    s
}

/// `dst[j * ldd + i] = src[i * lds + j]` for `i < rows`, `j < cols` (blocks of 8 × 8, so that
/// both sides stay in cache lines).
pub(super) fn transpose(
    src: &[f32],
    lds: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    ldd: usize,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let ok = rows <= ldd
        && cols <= lds
        && (rows - 1) * lds + cols <= src.len()
        && (cols - 1) * ldd + rows <= dst.len();
    if !ok {
        return Err(out_of_bounds(rows, cols, 0));
    }
    for i0 in (0..rows).step_by(8) {
        for j0 in (0..cols).step_by(8) {
            for i in i0..(i0 + 8).min(rows) {
                let s = &src[i * lds..];
                for j in j0..(j0 + 8).min(cols) {
                    dst[j * ldd + i] = s[j];
                }
            }
        }
    }
    Ok(())
}
