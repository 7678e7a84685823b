//! Inference without candle's runtime: the same function as [`super::nn::Encoder`] with fused
//! kernels, written directly on `gemm` (the matmul crate candle itself uses, with its AVX-512
//! kernels) and run single-threaded per call.
//!
//! Why: candle picks its matmul threads from `RAYON_NUM_THREADS` and keeps a spinning pool for
//! element-wise ops sized from `CANDLE_NUM_THREADS`; a library may not set either, and with the
//! defaults a batch of 32 ran 5–6× slower on a busy 2-core machine than single-threaded (see the
//! model card). Here each call uses exactly the calling thread, so parallelism is the caller's
//! (e.g. `Detector::score_batch` on rayon), with no environment variables.
//!
//! Sequences of a batch are packed one after another (no padding rows): per-token layers run on
//! all tokens at once, attention runs per sequence over that sequence's keys only — the same
//! result as padding with a key mask, without computing the padding.

use candle_core::Tensor;

use super::config::{Activation, ModelConfig};
use crate::{Error, Result};

struct FastLinear {
    /// `[out, in]`, row-major (as stored).
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    d_in: usize,
    d_out: usize,
}

struct FastLayer {
    ln1: (Vec<f32>, Vec<f32>),
    qkv: FastLinear,
    out: FastLinear,
    ln2: (Vec<f32>, Vec<f32>),
    up: FastLinear,
    down: FastLinear,
}

/// The encoder's weights as plain vectors, and its forward pass.
pub(crate) struct FastEncoder {
    d: usize,
    n_heads: usize,
    head_dim: usize,
    d_ff: usize,
    max_len: usize,
    eps: f32,
    activation: Activation,
    word: Vec<f32>,
    position: Vec<f32>,
    vocab: usize,
    layers: Vec<FastLayer>,
    final_ln: (Vec<f32>, Vec<f32>),
    head: FastLinear,
}

impl std::fmt::Debug for FastEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastEncoder")
            .field("d", &self.d)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

fn flat(t: &Tensor, shape: &[usize], name: &str) -> Result<Vec<f32>> {
    if t.dims() != shape {
        return Err(Error::Config(format!(
            "tensor {name}: shape {:?}, expected {shape:?}",
            t.dims()
        )));
    }
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

impl FastEncoder {
    /// Copies the weights named as in [`super::nn::Encoder`] out of `get(name)`.
    pub(crate) fn from_tensors(
        cfg: &ModelConfig,
        get: &dyn Fn(&str) -> Result<Tensor>,
    ) -> Result<Self> {
        let d = cfg.d_model;
        let t =
            |name: &str, shape: &[usize]| -> Result<Vec<f32>> { flat(&get(name)?, shape, name) };
        let linear = |p: &str, d_in: usize, d_out: usize, bias: bool| -> Result<FastLinear> {
            Ok(FastLinear {
                weight: t(&format!("{p}.weight"), &[d_out, d_in])?,
                bias: if bias {
                    Some(t(&format!("{p}.bias"), &[d_out])?)
                } else {
                    None
                },
                d_in,
                d_out,
            })
        };
        let ln = |p: &str| -> Result<(Vec<f32>, Vec<f32>)> {
            Ok((
                t(&format!("{p}.weight"), &[d])?,
                t(&format!("{p}.bias"), &[d])?,
            ))
        };
        let b = cfg.linear_bias;
        let layers = (0..cfg.n_layers)
            .map(|i| {
                let p = format!("layers.{i}");
                Ok(FastLayer {
                    ln1: ln(&format!("{p}.ln1"))?,
                    qkv: linear(&format!("{p}.attn.qkv"), d, 3 * d, b)?,
                    out: linear(&format!("{p}.attn.out"), d, d, b)?,
                    ln2: ln(&format!("{p}.ln2"))?,
                    up: linear(&format!("{p}.ff.up"), d, cfg.d_ff, b)?,
                    down: linear(&format!("{p}.ff.down"), cfg.d_ff, d, b)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FastEncoder {
            d,
            n_heads: cfg.n_heads,
            head_dim: cfg.head_dim(),
            d_ff: cfg.d_ff,
            max_len: cfg.max_len,
            eps: cfg.layer_norm_eps as f32,
            activation: cfg.activation,
            word: t("embeddings.word", &[cfg.vocab_size, d])?,
            position: t("embeddings.position", &[cfg.max_len, d])?,
            vocab: cfg.vocab_size,
            layers,
            final_ln: ln("final_ln")?,
            head: linear("head", d, 3, true)?,
        })
    }

    /// Logits for each row of token ids (each at most `max_len` ids; an empty row stands for
    /// one `pad_id` token, as in [`super::nn::pad_batch`]).
    pub(crate) fn forward(&self, rows: &[&[u32]], pad_id: u32) -> Result<Vec<[f32; 3]>> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.forward_with(rows, pad_id, &mut s),
            Err(_) => self.forward_with(rows, pad_id, &mut Scratch::default()),
        })
    }

    fn forward_with(&self, rows: &[&[u32]], pad_id: u32, s: &mut Scratch) -> Result<Vec<[f32; 3]>> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has every feature `forward_v4` is compiled for (checked above).
            return unsafe { self.forward_v4(rows, pad_id, s) };
        }
        self.forward_impl(rows, pad_id, s)
    }

    /// [`Self::forward_impl`] compiled for AVX-512 (its element-wise loops vectorise 16 wide).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
    unsafe fn forward_v4(
        &self,
        rows: &[&[u32]],
        pad_id: u32,
        s: &mut Scratch,
    ) -> Result<Vec<[f32; 3]>> {
        self.forward_impl(rows, pad_id, s)
    }

    #[inline(always)]
    fn forward_impl(&self, rows: &[&[u32]], pad_id: u32, s: &mut Scratch) -> Result<Vec<[f32; 3]>> {
        let pad = [pad_id];
        let rows: Vec<&[u32]> = rows
            .iter()
            .map(|r| if r.is_empty() { &pad[..] } else { *r })
            .collect();
        let mut offsets = Vec::with_capacity(rows.len());
        let mut n = 0;
        for r in &rows {
            if r.len() > self.max_len {
                return Err(Error::Config(format!(
                    "input of {} tokens exceeds max_len {}",
                    r.len(),
                    self.max_len
                )));
            }
            offsets.push(n);
            n += r.len();
        }
        let t_max = rows.iter().map(|r| r.len()).max().unwrap_or(1);
        self.forward_packed(&rows, &offsets, n, t_max, s)
    }

    #[inline(always)]
    fn forward_packed(
        &self,
        rows: &[&[u32]],
        offsets: &[usize],
        n: usize,
        t_max: usize,
        s: &mut Scratch,
    ) -> Result<Vec<[f32; 3]>> {
        let d = self.d;
        let [x, h, qkv, att, up, scores] = &mut s.bufs;
        let x = grow(x, n * d);
        let h = grow(h, n * d);
        let qkv = grow(qkv, n * 3 * d);
        let att = grow(att, n * d);
        let up = grow(up, n * self.d_ff);
        let scores = grow(scores, t_max * t_max.div_ceil(16) * 16);
        for (r, &o) in rows.iter().zip(offsets) {
            for (j, &id) in r.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    return Err(Error::Config(format!(
                        "token id {id} outside vocabulary {}",
                        self.vocab
                    )));
                }
                let dst = &mut x[(o + j) * d..(o + j + 1) * d];
                let w = &self.word[id * d..(id + 1) * d];
                let p = &self.position[j * d..(j + 1) * d];
                for k in 0..d {
                    dst[k] = w[k] + p[k];
                }
            }
        }
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        for layer in &self.layers {
            layer_norm(x, h, &layer.ln1, d, self.eps);
            linear(h, qkv, &layer.qkv, n, false)?;
            for (r, &o) in rows.iter().zip(offsets) {
                self.attention(qkv, att, scores, o, r.len(), scale)?;
            }
            linear(att, x, &layer.out, n, true)?;
            layer_norm(x, h, &layer.ln2, d, self.eps);
            linear(h, up, &layer.up, n, false)?;
            activate(up, self.activation);
            linear(up, x, &layer.down, n, true)?;
        }
        layer_norm(x, h, &self.final_ln, d, self.eps);
        let mut out = Vec::with_capacity(rows.len());
        let mut pooled = vec![0f32; d];
        for (r, &o) in rows.iter().zip(offsets) {
            pooled.iter_mut().for_each(|v| *v = 0.0);
            for j in 0..r.len() {
                for (p, v) in pooled.iter_mut().zip(&h[(o + j) * d..(o + j + 1) * d]) {
                    *p += v;
                }
            }
            let inv = 1.0 / r.len() as f32;
            pooled.iter_mut().for_each(|v| *v *= inv);
            let mut logits = [0f32; 3];
            for (c, l) in logits.iter_mut().enumerate() {
                let w = &self.head.weight[c * d..(c + 1) * d];
                *l = w.iter().zip(&pooled).map(|(a, b)| a * b).sum::<f32>()
                    + self.head.bias.as_ref().map_or(0.0, |b| b[c]);
            }
            out.push(logits);
        }
        Ok(out)
    }

    /// Self-attention of one packed sequence (`t` tokens from row `o`), all heads, written into
    /// `att[o..o+t]`.
    #[inline(always)]
    fn attention(
        &self,
        qkv: &[f32],
        att: &mut [f32],
        scores: &mut [f32],
        o: usize,
        t: usize,
        scale: f32,
    ) -> Result<()> {
        let d = self.d;
        let dh = self.head_dim;
        let rs = 3 * d;
        let base = o * rs;
        // Score rows padded to a multiple of 16 so the softmax runs on whole vectors.
        let ts = t.div_ceil(16) * 16;
        for head in 0..self.n_heads {
            let q = base + head * dh;
            let k = base + d + head * dh;
            let v = base + 2 * d + head * dh;
            // scores[t×t] = Q Kᵀ · scale
            matmul(
                Mat {
                    data: &mut scores[..t * ts],
                    rs: ts,
                    cs: 1,
                },
                MatRef {
                    data: &qkv[q..],
                    rs,
                    cs: 1,
                },
                MatRef {
                    data: &qkv[k..],
                    rs: 1,
                    cs: rs,
                },
                (t, t, dh),
                false,
                scale,
            )?;
            for row in scores[..t * ts].chunks_exact_mut(ts) {
                softmax_row(row, t);
            }
            // att[t×dh] = P V
            matmul(
                Mat {
                    data: &mut att[o * d + head * dh..],
                    rs: d,
                    cs: 1,
                },
                MatRef {
                    data: &scores[..t * ts],
                    rs: ts,
                    cs: 1,
                },
                MatRef {
                    data: &qkv[v..],
                    rs,
                    cs: 1,
                },
                (t, dh, t),
                false,
                1.0,
            )?;
        }
        Ok(())
    }
}

/// Per-thread work buffers of [`FastEncoder::forward`], reused across calls (fresh multi-MB
/// buffers each call cost page faults and zeroing). Every element a call reads it wrote first.
#[derive(Default)]
struct Scratch {
    bufs: [Vec<f32>; 6],
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The first `n` elements of `v`, growing it when shorter (contents are stale: callers
/// overwrite before reading).
fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// A strided matrix view for [`matmul`]: element `(i, j)` at `data[i * rs + j * cs]`.
struct MatRef<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

/// A mutable strided matrix view.
struct Mat<'a> {
    data: &'a mut [f32],
    rs: usize,
    cs: usize,
}

fn fits(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < len
}

/// `dst (m×n) = [dst +] scale · lhs (m×k) · rhs (k×n)`, single-threaded, bounds-checked.
fn matmul(
    dst: Mat<'_>,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    (m, n, k): (usize, usize, usize),
    accumulate: bool,
    scale: f32,
) -> Result<()> {
    if !(fits(dst.data.len(), m, n, dst.rs, dst.cs)
        && fits(lhs.data.len(), m, k, lhs.rs, lhs.cs)
        && fits(rhs.data.len(), k, n, rhs.rs, rhs.cs))
    {
        return Err(Error::Config(format!(
            "internal matmul of {m}×{k}·{k}×{n} out of bounds"
        )));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    // SAFETY: every element the kernel touches, (i, j) ↦ ptr + i·rs + j·cs with i < rows and
    // j < cols, lies inside its slice (checked by `fits` above); `dst` is exclusively borrowed
    // and cannot alias the shared inputs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.cs as isize,
            dst.rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

/// `y (n×out) = [y +] x (n×in) · Wᵀ (+ b)`.
#[inline(always)]
fn linear(x: &[f32], y: &mut [f32], l: &FastLinear, n: usize, accumulate: bool) -> Result<()> {
    matmul(
        Mat {
            data: &mut y[..n * l.d_out],
            rs: l.d_out,
            cs: 1,
        },
        MatRef {
            data: &x[..n * l.d_in],
            rs: l.d_in,
            cs: 1,
        },
        MatRef {
            data: &l.weight,
            rs: 1,
            cs: l.d_in,
        },
        (n, l.d_out, l.d_in),
        accumulate,
        1.0,
    )?;
    if let Some(b) = &l.bias {
        for row in y[..n * l.d_out].chunks_mut(l.d_out) {
            for (v, bb) in row.iter_mut().zip(b) {
                *v += bb;
            }
        }
    }
    Ok(())
}

#[inline(always)]
fn layer_norm(x: &[f32], y: &mut [f32], (w, b): &(Vec<f32>, Vec<f32>), d: usize, eps: f32) {
    for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        let mean = sum16(xr, |v| v) / d as f32;
        let var = sum16(xr, |v| (v - mean) * (v - mean)) / d as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for (((yv, xv), wv), bv) in yr.iter_mut().zip(xr).zip(w).zip(b) {
            *yv = (xv - mean) * inv * wv + bv;
        }
    }
}

/// `Σ f(x)` with 16 independent accumulators, so the loop vectorises (a plain `sum()` of f32 is
/// a serial chain of dependent adds: the compiler may not reorder float additions).
#[inline(always)]
fn sum16(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += f(c[i]);
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().map(|&v| f(v)).sum::<f32>()
}

/// In-place softmax of the first `t` entries of `row` (its length a multiple of 16; the
/// entries past `t` are overwritten with ~0).
#[inline(always)]
fn softmax_row(row: &mut [f32], t: usize) {
    let mut mx = [f32::NEG_INFINITY; 16];
    for (ci, c) in row.chunks_exact_mut(16).enumerate() {
        for i in 0..16 {
            if ci * 16 + i >= t {
                c[i] = f32::NEG_INFINITY;
            }
            mx[i] = mx[i].max(c[i]);
        }
    }
    let max = mx.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut acc = [0f32; 16];
    for c in row.chunks_exact_mut(16) {
        for i in 0..16 {
            let e = exp_poly(c[i] - max);
            c[i] = e;
            acc[i] += e;
        }
    }
    let inv = 1.0 / acc.iter().sum::<f32>();
    row.iter_mut().for_each(|s| *s *= inv);
}

/// `e^x` for `x <= 0` without a libm call (vectorisable): Cephes `expf` range reduction
/// `x = n·ln2 + r` and its degree-6 polynomial, relative error ~2e-7; inputs below -87 give
/// ~1e-38 instead of a denormal.
#[inline(always)]
fn exp_poly(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4_f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes writes 5.0000001e-1, which is 0.5 in f32
    p = p * r * r + r + 1.0;
    // 2^n by building the exponent bits: n + 1.5·2^23 puts n in the low mantissa bits
    // (|n| < 2^22), no float→int conversion (which would not vectorise as cleanly).
    let n_bits = (n + 12_582_912.0).to_bits().wrapping_sub(0x4B40_0000);
    p * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

#[inline(always)]
fn activate(x: &mut [f32], a: Activation) {
    match a {
        Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::QuickGelu => x
            .iter_mut()
            .for_each(|v| *v *= 1.0 / (1.0 + (-1.702 * *v).exp())),
        Activation::Gelu => x.iter_mut().for_each(|v| {
            let u = 0.797_884_6 * (*v + 0.044_715 * *v * *v * *v);
            *v = 0.5 * *v * (1.0 + u.tanh());
        }),
        Activation::GeluErf => x.iter_mut().for_each(|v| {
            *v = 0.5 * *v * (1.0 + erf(*v as f64 * std::f64::consts::FRAC_1_SQRT_2) as f32)
        }),
    }
}

/// Error function, |error| < 1.2e-7 (Numerical Recipes `erfc` Chebyshev fit).
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - r
    } else {
        r - 1.0
    }
}
