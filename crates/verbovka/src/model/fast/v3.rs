//! AVX2+FMA kernels (x86-64-v3: Haswell, Zen 1 and later): the design of the AVX-512 ones
//! (`super::v4`) for 16 registers of 8 lanes.
//!
//! - `matmul`: 6 rows × 16 columns of sums in 12 `ymm` registers (2 more hold the right-hand
//!   side's row, 1 the broadcast), broadcast-FMA over `k` on the same packed weights as
//!   AVX-512 (32-column panels, read as two 16-column halves), bias, residual add, scale and
//!   ReLU applied to the sums before they are stored; with zero skipping, a block of 6 rows
//!   sums over the `k` at which any of its rows is non-zero.
//! - `layer_norm` with rows of up to 128 floats held in registers, `softmax_rows` with rows of
//!   up to 64 scores held in registers (one load, one store per element).
//!
//! Every output element of `matmul` is one FMA chain over `k` in increasing order, started at
//! zero, then the epilogue in a fixed order — the same operations as the AVX-512 kernel, so the
//! two give the same products bit for bit, and neither depends on the other rows of the call.
//!
//! The entry points are safe `#[target_feature]` functions: calling them is `unsafe` only from
//! code not compiled for AVX2 and FMA, where the caller must know the CPU has them; each checks
//! the bounds of what it reads and writes and returns an error instead of touching memory
//! outside its slices. The `unsafe fn`s below them take raw pointers whose ranges the entry
//! points checked.

use std::arch::x86_64::*;

use super::{Epilogue, Rhs, PANEL};
use crate::{Error, Result};

/// Rows of sums a kernel call keeps in registers (6 × 2 vectors = 12 of the 16 registers).
const MR: usize = 6;
/// Columns of one kernel call (two 8-lane vectors).
const NR: usize = 16;

fn out_of_bounds(m: usize, n: usize, k: usize) -> Error {
    Error::Internal(format!("matmul of {m}×{k}·{k}×{n} out of bounds"))
}

/// Lanes `< valid` of an 8-lane mask (all ones), the others zero.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lanes(valid: usize) -> __m256i {
    let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(valid.min(8) as i32), iota)
}

/// `c (m×n, row stride ldc) = epilogue(a (m×k, row stride lda) · b)`.
///
/// With `nonzero` (a scratch list), each block of rows of `a` first lists the `k` at which any
/// of its rows is non-zero (NaN counts as non-zero), and the sums run over those only: exact (a
/// zero adds nothing).
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    b: Rhs<'_>,
    (m, n, k): (usize, usize, usize),
    epi: Epilogue<'_>,
    mut nonzero: Option<&mut Vec<u32>>,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    let (b, ldb, packed, b_ok) = match b {
        Rhs::Packed(p) => (p, PANEL, true, p.len() >= n.div_ceil(PANEL) * k * PANEL),
        Rhs::Rows(r, ld) => (r, ld, false, k == 0 || (k - 1) * ld + n <= r.len()),
    };
    let ok = b_ok
        && n <= ldc
        && (m - 1) * ldc + n <= c.len()
        && (k == 0 || (k <= lda && (m - 1) * lda + k <= a.len()))
        && epi.bias.is_none_or(|bias| bias.len() >= n);
    if !ok {
        return Err(out_of_bounds(m, n, k));
    }
    let bias = epi.bias.map_or(std::ptr::null(), <[f32]>::as_ptr);
    let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let mut i0 = 0;
    while i0 < m {
        let rows = (m - i0).min(MR);
        let list: Option<&[u32]> = nonzero
            .as_deref_mut()
            // SAFETY: rows i0..i0 + rows, columns < k of `a` (checked above).
            .map(|z| unsafe { list_nonzero(z, a.add(i0 * lda), lda, rows, k) });
        for j0 in (0..n).step_by(NR) {
            let cols = (n - j0).min(NR);
            // Packed: panel j0 / 32, its half j0 % 32 (zero-padded, so whole vectors may be
            // read); row-major: column j0, masked to `cols`.
            let b_off = if packed {
                (j0 / PANEL) * k * PANEL + j0 % PANEL
            } else {
                j0
            };
            let t = Tile {
                k,
                // SAFETY: offsets of rows < m, columns < n, and panel starts, all inside the
                // slices checked above; masked lanes are never accessed.
                a: unsafe { a.add(i0 * lda) },
                lda,
                b: unsafe { b.add(b_off) },
                ldb,
                c: unsafe { c.add(i0 * ldc + j0) },
                ldc,
                cols,
                masks: [lanes(cols), lanes(cols.saturating_sub(8))],
                bias: if bias.is_null() {
                    bias
                } else {
                    unsafe { bias.add(j0) }
                },
                scale: epi.scale,
                accumulate: epi.accumulate,
                relu: epi.relu,
            };
            let masked_b = !packed && cols < NR;
            // SAFETY: the tile covers `rows` rows and `cols` columns inside the bounds checked
            // above (whole 16-column halves of a packed panel).
            unsafe {
                macro_rules! go {
                    ($r:literal) => {
                        if masked_b {
                            tile::<$r, true>(&t, list)
                        } else {
                            tile::<$r, false>(&t, list)
                        }
                    };
                }
                match rows {
                    6 => go!(6),
                    5 => go!(5),
                    4 => go!(4),
                    3 => go!(3),
                    2 => go!(2),
                    _ => go!(1),
                }
            }
        }
        i0 += rows;
    }
    Ok(())
}

/// One kernel call: `R` rows × `cols <= 16` columns.
struct Tile {
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    /// Lanes of the two 8-column halves inside `cols`.
    masks: [__m256i; 2],
    /// Null for none.
    bias: *const f32,
    scale: f32,
    accumulate: bool,
    relu: bool,
}

/// Lists into `z` the columns `j < k` at which any of the `rows` rows of `a` is non-zero (NaN
/// counts as non-zero), in increasing order.
///
/// # Safety
/// `a` points at `rows` rows of at least `k` readable floats, `lda` apart.
#[target_feature(enable = "avx2,fma")]
unsafe fn list_nonzero(
    z: &mut Vec<u32>,
    a: *const f32,
    lda: usize,
    rows: usize,
    k: usize,
) -> &[u32] {
    z.clear();
    z.reserve(k);
    let zero = _mm256_setzero_ps();
    for j0 in (0..k).step_by(8) {
        let w = k - j0;
        let mut nz = 0i32;
        for r in 0..rows {
            // SAFETY: row r < rows, columns j0.. < k (masked past k).
            let v = unsafe {
                let p = a.add(r * lda + j0);
                if w >= 8 {
                    _mm256_loadu_ps(p)
                } else {
                    _mm256_maskload_ps(p, lanes(w))
                }
            };
            nz |= _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(v, zero));
        }
        if w < 8 {
            nz &= (1 << w) - 1;
        }
        let mut bits = nz as u32;
        while bits != 0 {
            z.push(j0 as u32 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
    z
}

/// The epilogue of a tile (a macro so that the sums stay in registers):
/// `c = relu?(scale · acc + bias + (c if accumulate))`, in that order (as AVX-512), masked to
/// the tile's columns.
macro_rules! store {
    ($t:expr, $acc:expr) => {{
        let t: &Tile = $t;
        let scale = _mm256_set1_ps(t.scale);
        let zero = _mm256_setzero_ps();
        for (r, acc) in $acc.iter().enumerate() {
            // SAFETY (pointers): rows < R, columns < cols, inside the caller's bounds; partial
            // halves are accessed through their masks only.
            let c = unsafe { t.c.add(r * t.ldc) };
            for (h, &v) in acc.iter().enumerate() {
                if t.cols <= 8 * h {
                    continue;
                }
                let full = t.cols >= 8 * (h + 1);
                let m = t.masks[h];
                let load = |p: *const f32| unsafe {
                    if full {
                        _mm256_loadu_ps(p)
                    } else {
                        _mm256_maskload_ps(p, m)
                    }
                };
                let mut v = v;
                if t.scale != 1.0 {
                    v = _mm256_mul_ps(v, scale);
                }
                if !t.bias.is_null() {
                    v = _mm256_add_ps(v, load(unsafe { t.bias.add(8 * h) }));
                }
                let ch = unsafe { c.add(8 * h) };
                if t.accumulate {
                    v = _mm256_add_ps(v, load(ch));
                }
                if t.relu {
                    v = _mm256_max_ps(v, zero);
                }
                unsafe {
                    if full {
                        _mm256_storeu_ps(ch, v)
                    } else {
                        _mm256_maskstore_ps(ch, m, v)
                    }
                }
            }
        }
    }};
}

/// Asks for the tile's output lines early (a prefetch never faults).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn prefetch_c<const R: usize>(t: &Tile) {
    for r in 0..R {
        _mm_prefetch::<_MM_HINT_T0>(t.c.wrapping_add(r * t.ldc) as *const i8);
    }
}

/// The right-hand side's 16 columns at `b`: whole vectors, or masked to the tile's columns.
///
/// # Safety
/// `b` points at the lanes the tile reads (all 16 unless `MASKED`).
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn load_b<const MASKED: bool>(t: &Tile, b: *const f32) -> (__m256, __m256) {
    // SAFETY: the caller's bounds.
    unsafe {
        if MASKED {
            (
                _mm256_maskload_ps(b, t.masks[0]),
                _mm256_maskload_ps(b.add(8), t.masks[1]),
            )
        } else {
            (_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8)))
        }
    }
}

/// One tile: dense, or over the listed columns only.
///
/// # Safety
/// `t.a` points at `R` rows of `t.k` readable floats (`t.lda` apart), `t.b` at `t.k` rows of
/// 16 readable floats (`t.ldb` apart; the first `t.cols` only when `MASKED`), `t.c` at `R`
/// writable rows of `t.cols` floats (`t.ldc` apart), `t.bias` (unless null) at `t.cols`
/// floats; every index in `nonzero` is below `t.k`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const MASKED: bool>(t: &Tile, nonzero: Option<&[u32]>) {
    prefetch_c::<R>(t);
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    match nonzero {
        None => {
            let mut a = t.a;
            let mut b = t.b;
            for _ in 0..t.k {
                // SAFETY (all pointer reads here): inside the caller's bounds.
                let (b0, b1) = unsafe { load_b::<MASKED>(t, b) };
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_set1_ps(unsafe { *a.add(r * t.lda) });
                    acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
                }
                a = unsafe { a.add(1) };
                b = unsafe { b.add(t.ldb) };
            }
        }
        Some(idx) => {
            for &j in idx {
                let j = j as usize;
                // SAFETY (pointer reads): j < k, inside the caller's bounds.
                let (b0, b1) = unsafe { load_b::<MASKED>(t, t.b.add(j * t.ldb)) };
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_set1_ps(unsafe { *t.a.add(r * t.lda + j) });
                    acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
                }
            }
        }
    }
    store!(t, acc);
}

/// Sum of the 8 lanes (a fixed tree: halves, then pairs).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// Largest of the 8 lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn hmax(v: __m256) -> f32 {
    let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)))
}

/// Layer norm of each row of `x` (`d` floats) into `y`; rows of up to 128 floats (a multiple of
/// 8) are normalised in registers (one read of `x`, one write of `y`), others in three passes
/// over the row in L1.
#[target_feature(enable = "avx2,fma")]
pub(super) fn layer_norm(
    x: &[f32],
    y: &mut [f32],
    (w, b): &(Vec<f32>, Vec<f32>),
    d: usize,
    eps: f32,
) -> Result<()> {
    if d == 0 || !x.len().is_multiple_of(d) || y.len() < x.len() || w.len() < d || b.len() < d {
        return Err(out_of_bounds(x.len(), d, 0));
    }
    // SAFETY: the sizes checked above.
    unsafe {
        match (d % 8, d / 8) {
            (0, 1) => ln_rows::<1>(x, y, w, b, d, eps),
            (0, 2) => ln_rows::<2>(x, y, w, b, d, eps),
            (0, 4) => ln_rows::<4>(x, y, w, b, d, eps),
            (0, 6) => ln_rows::<6>(x, y, w, b, d, eps),
            (0, 8) => ln_rows::<8>(x, y, w, b, d, eps),
            (0, 12) => ln_rows::<12>(x, y, w, b, d, eps),
            (0, 16) => ln_rows::<16>(x, y, w, b, d, eps),
            _ => ln_any(x, y, w, b, d, eps),
        }
    }
    Ok(())
}

/// [`layer_norm`] with rows of exactly `8 · C` floats.
///
/// # Safety
/// `d == 8 · C`, `w` and `b` hold at least `d` floats, `x.len()` is a multiple of `d` and `y`
/// at least as long.
#[target_feature(enable = "avx2,fma")]
unsafe fn ln_rows<const C: usize>(
    x: &[f32],
    y: &mut [f32],
    w: &[f32],
    b: &[f32],
    d: usize,
    eps: f32,
) {
    let inv_d = _mm256_set1_ps(1.0 / d as f32);
    for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        let mut v = [_mm256_setzero_ps(); C];
        let mut sum = _mm256_setzero_ps();
        for (c, v) in v.iter_mut().enumerate() {
            // SAFETY: chunk c of a row of 8 · C floats.
            *v = unsafe { _mm256_loadu_ps(xr.as_ptr().add(8 * c)) };
            sum = _mm256_add_ps(sum, *v);
        }
        let mean = _mm256_mul_ps(_mm256_set1_ps(hsum(sum)), inv_d);
        let mut sq = _mm256_setzero_ps();
        for v in v.iter_mut() {
            *v = _mm256_sub_ps(*v, mean);
            sq = _mm256_fmadd_ps(*v, *v, sq);
        }
        let var = hsum(sq) / d as f32;
        let inv = _mm256_set1_ps(1.0 / (var + eps).sqrt());
        for (c, v) in v.iter().enumerate() {
            // SAFETY: as above, for w, b and the output row.
            unsafe {
                let o = _mm256_fmadd_ps(
                    _mm256_mul_ps(*v, inv),
                    _mm256_loadu_ps(w.as_ptr().add(8 * c)),
                    _mm256_loadu_ps(b.as_ptr().add(8 * c)),
                );
                _mm256_storeu_ps(yr.as_mut_ptr().add(8 * c), o);
            }
        }
    }
}

/// [`layer_norm`] with rows of any width (masked tail).
///
/// # Safety
/// `d > 0`, `w` and `b` hold at least `d` floats, `x.len()` is a multiple of `d` and `y` at
/// least as long.
#[target_feature(enable = "avx2,fma")]
unsafe fn ln_any(x: &[f32], y: &mut [f32], w: &[f32], b: &[f32], d: usize, eps: f32) {
    let chunks = d.div_ceil(8);
    let mask = |c: usize| lanes(d - 8 * c);
    for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        let p = xr.as_ptr();
        // SAFETY (all accesses): chunk c of the row, masked to its d floats.
        let load = |c: usize| unsafe { _mm256_maskload_ps(p.add(8 * c), mask(c)) };
        let mut sum = _mm256_setzero_ps();
        for c in 0..chunks {
            sum = _mm256_add_ps(sum, load(c));
        }
        let mean = hsum(sum) / d as f32;
        let mv = _mm256_set1_ps(mean);
        let mut sq = _mm256_setzero_ps();
        for c in 0..chunks {
            let v = _mm256_and_ps(_mm256_sub_ps(load(c), mv), _mm256_castsi256_ps(mask(c)));
            sq = _mm256_fmadd_ps(v, v, sq);
        }
        let var = hsum(sq) / d as f32;
        let inv = _mm256_set1_ps(1.0 / (var + eps).sqrt());
        for c in 0..chunks {
            unsafe {
                let o = _mm256_fmadd_ps(
                    _mm256_mul_ps(_mm256_sub_ps(load(c), mv), inv),
                    _mm256_maskload_ps(w.as_ptr().add(8 * c), mask(c)),
                    _mm256_maskload_ps(b.as_ptr().add(8 * c), mask(c)),
                );
                _mm256_maskstore_ps(yr.as_mut_ptr().add(8 * c), mask(c), o);
            }
        }
    }
}

/// In-place softmax of the first `t` entries of each row of `s` (rows of `ts` floats, `ts` a
/// multiple of 8); entries past `t` become 0. Rows of up to 64 entries stay in registers.
#[target_feature(enable = "avx2,fma")]
pub(super) fn softmax_rows(s: &mut [f32], ts: usize, t: usize) -> Result<()> {
    if !ts.is_multiple_of(8) || t > ts || t == 0 {
        return Err(out_of_bounds(t, ts, 0));
    }
    let chunks = ts / 8;
    let neg = _mm256_set1_ps(f32::NEG_INFINITY);
    let mask = |c: usize| _mm256_castsi256_ps(lanes(t.saturating_sub(8 * c)));
    for row in s.chunks_exact_mut(ts) {
        let p = row.as_mut_ptr();
        // SAFETY (all accesses below): chunk c of a row of `ts = 8 · chunks` floats.
        let load =
            |c: usize| _mm256_blendv_ps(neg, unsafe { _mm256_loadu_ps(p.add(8 * c)) }, mask(c));
        if chunks <= 8 {
            let mut v = [neg; 8];
            let mut mx = neg;
            for (c, v) in v.iter_mut().enumerate().take(chunks) {
                *v = load(c);
                mx = _mm256_max_ps(mx, *v);
            }
            let mx = _mm256_set1_ps(hmax(mx));
            let mut sum = _mm256_setzero_ps();
            for (c, v) in v.iter_mut().enumerate().take(chunks) {
                *v = _mm256_and_ps(exp(_mm256_sub_ps(*v, mx)), mask(c));
                sum = _mm256_add_ps(sum, *v);
            }
            let inv = _mm256_set1_ps(1.0 / hsum(sum));
            for (c, v) in v.iter().enumerate().take(chunks) {
                unsafe { _mm256_storeu_ps(p.add(8 * c), _mm256_mul_ps(*v, inv)) };
            }
        } else {
            let mut mx = neg;
            for c in 0..chunks {
                mx = _mm256_max_ps(mx, load(c));
            }
            let mx = _mm256_set1_ps(hmax(mx));
            let mut sum = _mm256_setzero_ps();
            for c in 0..chunks {
                let e = _mm256_and_ps(exp(_mm256_sub_ps(load(c), mx)), mask(c));
                sum = _mm256_add_ps(sum, e);
                unsafe { _mm256_storeu_ps(p.add(8 * c), e) };
            }
            let inv = _mm256_set1_ps(1.0 / hsum(sum));
            for c in 0..chunks {
                unsafe {
                    _mm256_storeu_ps(
                        p.add(8 * c),
                        _mm256_mul_ps(_mm256_loadu_ps(p.add(8 * c)), inv),
                    )
                };
            }
        }
    }
    Ok(())
}

/// `e^x` for `x <= 0`, 8 lanes: the polynomial of the scalar `exp_poly` (Cephes, relative error
/// ~2e-7), `2^n` built in the exponent bits; `-inf` gives ~1e-38 (masked by the callers).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp(x: __m256) -> __m256 {
    let x = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm256_fmadd_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
        _mm256_set1_ps(0.5),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm256_set1_ps(1.987_569_2e-4);
    for c in [
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let p = _mm256_fmadd_ps(
        _mm256_mul_ps(p, r),
        r,
        _mm256_add_ps(r, _mm256_set1_ps(1.0)),
    );
    let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    _mm256_mul_ps(p, _mm256_castsi256_ps(bits))
}
