//! The inference engine: the same function as the lab's candle encoder (`verbovka-lab`'s
//! `nn::Encoder`, against which it is tested there) with fused kernels, run single-threaded
//! per call, with no candle in the library.
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
//!
//! Three implementations of the same function ([`Engine`]), chosen at load by runtime CPU
//! detection (AVX-512 → AVX2+FMA → portable) or by the caller; all read the weights packed
//! once at load into 32-column panels (`[in][32]`, zero-padded):
//! - **AVX-512** (`v4`): one register-blocked matmul kernel (14 rows × 32 columns of sums in
//!   registers, broadcast-FMA over `k`), with the bias, the residual add, the attention scale
//!   and ReLU applied to the sums before they are stored; attention runs the same kernel on
//!   Q·Kᵀ (K transposed once per layer) and P·V (V read in place); layer norm and softmax on
//!   rows held in registers; the down-projection skips the all-zero columns of its ReLU input.
//! - **AVX2+FMA** (`v3`): the same design for 16 registers of 8 lanes (6 rows × 16 columns).
//! - **portable**: the same steps in plain safe Rust (4 × 8 blocks the compiler vectorises).
//!
//! **Bit-stable by construction**, on each engine: every matmul output is one chain of
//! multiply-adds over `k` in increasing order, started at zero (zero skipping drops terms that
//! add exactly nothing), then a fixed epilogue; layer norm, softmax and pooling work on one row
//! or one sequence. So a sequence's logits do not depend on the other sequences of the call,
//! its position in the batch, how the classifier cut its calls (token cap, batch size) or
//! threads. Across engines they differ by float rounding only (the SIMD kernels fuse the
//! multiply-adds, the portable one does not; reductions are split differently), tested at 1e-4.

use safetensors::{Dtype, SafeTensors};

use super::config::{Activation, ModelConfig, Pooling};
use crate::{Error, Result};

mod portable;
#[cfg(target_arch = "x86_64")]
mod v3;

/// Columns per packed weight panel (two 16-lane vectors, four 8-lane ones).
const PANEL: usize = 32;

/// Which kernels run the model: the fastest this CPU has ([`Engine::Auto`], the default) or one
/// named (an engine the CPU lacks is an error where it is requested). All compute the same
/// function; see [`Engine::available`] for what a machine can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Engine {
    /// The first of AVX-512, AVX2+FMA, portable that this CPU runs.
    #[default]
    Auto,
    /// AVX-512 (F, VL, BW, DQ) kernels.
    Avx512,
    /// AVX2 + FMA kernels (x86-64-v3).
    Avx2Fma,
    /// Plain safe Rust, any CPU.
    Portable,
}

impl Engine {
    /// The concrete engines, fastest first.
    pub const ALL: [Engine; 3] = [Engine::Avx512, Engine::Avx2Fma, Engine::Portable];

    /// Whether this CPU runs the engine (`Auto` always).
    pub fn is_supported(self) -> bool {
        match self {
            Engine::Auto | Engine::Portable => true,
            Engine::Avx512 => avx512_available(),
            Engine::Avx2Fma => avx2_available(),
        }
    }

    /// The concrete engines this CPU runs, fastest first (always ends with `Portable`).
    pub fn available() -> Vec<Engine> {
        Self::ALL.into_iter().filter(|e| e.is_supported()).collect()
    }

    /// The engine `Auto` stands for on this CPU.
    pub fn detect() -> Engine {
        Self::ALL
            .into_iter()
            .find(|e| e.is_supported())
            .unwrap_or(Engine::Portable)
    }

    /// The concrete engine to run: `Auto` resolved, or this one if the CPU has it, else an
    /// error that says what is missing.
    pub fn resolve(self) -> Result<Engine> {
        match self {
            Engine::Auto => Ok(Self::detect()),
            e if e.is_supported() => Ok(e),
            e => Err(Error::Config(format!(
                "engine {e} requested, but this CPU lacks {} (available: {})",
                match e {
                    Engine::Avx512 => "AVX-512 (F, VL, BW, DQ)",
                    _ => "AVX2 and FMA",
                },
                Self::available()
                    .iter()
                    .map(|e| e.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A short name (`auto`, `avx512`, `avx2-fma`, `portable`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Avx512 => "avx512",
            Engine::Avx2Fma => "avx2-fma",
            Engine::Portable => "portable",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Engine {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [
            Engine::Auto,
            Engine::Avx512,
            Engine::Avx2Fma,
            Engine::Portable,
        ]
        .into_iter()
        .find(|e| e.name() == s)
        .ok_or_else(|| {
            Error::Config(format!(
                "unknown engine {s:?} (auto, avx512, avx2-fma, portable)"
            ))
        })
    }
}

/// What happens to a matmul's sums `acc` before they are stored in `c`:
/// `c = relu?(scale · acc + bias + (c if accumulate))`, in that order, on every engine.
#[derive(Clone, Copy)]
struct Epilogue<'a> {
    scale: f32,
    bias: Option<&'a [f32]>,
    accumulate: bool,
    relu: bool,
}

impl Default for Epilogue<'_> {
    fn default() -> Self {
        Epilogue {
            scale: 1.0,
            bias: None,
            accumulate: false,
            relu: false,
        }
    }
}

/// The right-hand side `b` (`k × n`) of a matmul.
enum Rhs<'a> {
    /// Weights packed by `FastLinear::pack`: panels of `[k][32]`.
    Packed(&'a [f32]),
    /// Row-major with this row stride (`b[i][j]` at `i * ld + j`).
    Rows(&'a [f32], usize),
}

#[derive(Clone)]
struct FastLinear {
    /// `[out, in]`, row-major (as stored); emptied by `pack` (only the head keeps it).
    weight: Vec<f32>,
    /// The same weights as `out.div_ceil(32)` panels of `[in][32]` (zero-padded columns), the
    /// kernels' right-hand side.
    packed: Vec<f32>,
    bias: Option<Vec<f32>>,
    d_in: usize,
    d_out: usize,
}

impl FastLinear {
    /// Packs `weight` into panels (and frees it).
    fn pack(&mut self) {
        let (k, n) = (self.d_in, self.d_out);
        let panels = n.div_ceil(PANEL);
        let mut p = vec![0f32; panels * k * PANEL];
        for (o, row) in self.weight.chunks_exact(k).enumerate() {
            let (panel, col) = (o / PANEL, o % PANEL);
            for (i, &w) in row.iter().enumerate() {
                p[(panel * k + i) * PANEL + col] = w;
            }
        }
        self.packed = p;
        self.weight = Vec::new();
    }

    /// `c[n × d_out] (+)= a[n × d_in] · Wᵀ + bias` on the AVX-512 kernel with the packed
    /// weights; `epi` adds accumulation, ReLU or scaling in the store (its `bias` is replaced).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    fn matmul_v4(
        &self,
        c: &mut [f32],
        a: &[f32],
        n: usize,
        epi: Epilogue<'_>,
        skip_zeros: Option<&mut v4::SkipZeros>,
    ) -> Result<()> {
        let epi = Epilogue {
            bias: self.bias.as_deref(),
            ..epi
        };
        let (k, m) = (self.d_in, self.d_out);
        v4::matmul(
            c,
            m,
            a,
            k,
            Rhs::Packed(&self.packed),
            (n, m, k),
            epi,
            skip_zeros,
        )
    }

    /// [`Self::matmul_v4`] on the AVX2+FMA kernel.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn matmul_v3(
        &self,
        c: &mut [f32],
        a: &[f32],
        n: usize,
        epi: Epilogue<'_>,
        nonzero: Option<&mut Vec<u32>>,
    ) -> Result<()> {
        let epi = Epilogue {
            bias: self.bias.as_deref(),
            ..epi
        };
        let (k, m) = (self.d_in, self.d_out);
        v3::matmul(
            c,
            m,
            a,
            k,
            Rhs::Packed(&self.packed),
            (n, m, k),
            epi,
            nonzero,
        )
    }

    /// [`Self::matmul_v4`] on the portable kernel.
    fn matmul_portable(
        &self,
        c: &mut [f32],
        a: &[f32],
        n: usize,
        epi: Epilogue<'_>,
        nonzero: Option<&mut Vec<u32>>,
        ks: &mut Vec<u32>,
    ) -> Result<()> {
        let epi = Epilogue {
            bias: self.bias.as_deref(),
            ..epi
        };
        let (k, m) = (self.d_in, self.d_out);
        portable::matmul(
            c,
            m,
            a,
            k,
            Rhs::Packed(&self.packed),
            (n, m, k),
            epi,
            nonzero,
            ks,
        )
    }
}

#[derive(Clone)]
struct FastLayer {
    ln1: (Vec<f32>, Vec<f32>),
    qkv: FastLinear,
    out: FastLinear,
    ln2: (Vec<f32>, Vec<f32>),
    up: FastLinear,
    down: FastLinear,
}

/// One trained encoder's weights, packed for the kernels, and its forward pass: token ids in,
/// per-category logits out, on the calling thread, on the [`Engine`] it is set to.
///
/// [`super::TransformerClassifier`] is this plus the tokenizer and the batching policy; use the
/// transformer directly to score pre-tokenised ids (the lab does, during training).
#[derive(Clone)]
pub struct Transformer {
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
    /// `pool.query` with [`Pooling::Attention`]; `None`: mean pooling.
    pool_query: Option<Vec<f32>>,
    head: FastLinear,
    /// The kernels `forward` runs (never `Auto`; supported by this CPU).
    engine: Engine,
    /// Whether the feed-forward down-projection skips the zero columns of its ReLU input.
    skip_zeros: bool,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformer")
            .field("d", &self.d)
            .field("layers", &self.layers.len())
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

/// The elements of tensor `name`, widened to f32, after checking its shape. Weights are stored
/// as f32 or, to keep the published crate small, f16 (see the model card): both load to the
/// same f32 vectors the kernels read.
fn flat(tensors: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = tensors
        .tensor(name)
        .map_err(|_| Error::Config(format!("tensor {name} is missing")))?;
    if t.shape() != shape {
        return Err(Error::Config(format!(
            "tensor {name}: shape {:?}, expected {shape:?}",
            t.shape()
        )));
    }
    let bytes = t.data();
    match t.dtype() {
        Dtype::F32 => Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()),
        Dtype::F16 => {
            // The slice conversion runs F16C 8 lanes at a time where the CPU has it (one
            // feature check per tensor, not per element).
            use half::slice::HalfFloatSliceExt;
            let halves: Vec<half::f16> = bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]))
                .collect();
            let mut out = vec![0f32; halves.len()];
            halves.convert_to_f32_slice(&mut out);
            Ok(out)
        }
        other => Err(Error::Config(format!(
            "tensor {name}: dtype {other:?}, expected F32 or F16"
        ))),
    }
}

/// Work buffers of [`Transformer::forward`], reused across calls (fresh multi-MB buffers each
/// call cost page faults and zeroing). Every element a call reads it wrote first. Owned by the
/// caller (the classifier keeps a pool of them), one per concurrent call.
#[derive(Default)]
pub(crate) struct Scratch {
    bufs: [Vec<f32>; 7],
    offsets: Vec<usize>,
    /// Work lists of [`v4::matmul`]'s zero skipping.
    #[cfg(target_arch = "x86_64")]
    skip: v4::SkipZeros,
    /// Non-zero column lists of the AVX2 and portable kernels' zero skipping.
    nonzero: Vec<u32>,
    /// The portable kernel's list of every `k`.
    ks: Vec<u32>,
}

impl Scratch {
    /// Bytes currently held (for tests and reports).
    pub(crate) fn bytes(&self) -> usize {
        self.bufs.iter().map(|b| b.capacity() * 4).sum::<usize>()
            + self.offsets.capacity() * 8
            + (self.nonzero.capacity() + self.ks.capacity()) * 4
    }
}

/// The first `n` elements of `v`, growing it when shorter (contents are stale: callers
/// overwrite before reading).
fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

impl Transformer {
    /// Reads the weights (named as the lab's candle encoder names them) out of a safetensors
    /// file's bytes, packs them, and selects [`Engine::Auto`].
    pub fn from_safetensors(cfg: &ModelConfig, weights: &[u8]) -> Result<Self> {
        let tensors = SafeTensors::deserialize(weights)
            .map_err(|e| Error::Config(format!("not a safetensors file: {e}")))?;
        let d = cfg.d_model;
        let t = |name: &str, shape: &[usize]| flat(&tensors, name, shape);
        let linear = |p: &str, d_in: usize, d_out: usize, bias: bool| -> Result<FastLinear> {
            Ok(FastLinear {
                weight: t(&format!("{p}.weight"), &[d_out, d_in])?,
                packed: Vec::new(),
                bias: if bias {
                    Some(t(&format!("{p}.bias"), &[d_out])?)
                } else {
                    None
                },
                d_in,
                d_out,
            })
        };
        let packed = |p: &str, d_in: usize, d_out: usize, bias: bool| -> Result<FastLinear> {
            let mut l = linear(p, d_in, d_out, bias)?;
            l.pack();
            Ok(l)
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
                    qkv: packed(&format!("{p}.attn.qkv"), d, 3 * d, b)?,
                    out: packed(&format!("{p}.attn.out"), d, d, b)?,
                    ln2: ln(&format!("{p}.ln2"))?,
                    up: packed(&format!("{p}.ff.up"), d, cfg.d_ff, b)?,
                    down: packed(&format!("{p}.ff.down"), cfg.d_ff, d, b)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Transformer {
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
            pool_query: match cfg.pooling {
                Pooling::Mean => None,
                Pooling::Attention => Some(t("pool.query", &[d])?),
            },
            head: linear("head", d, 3, true)?,
            engine: Engine::detect(),
            skip_zeros: true,
        })
    }

    /// Selects the kernels `forward` runs (no re-packing: every engine reads the same panels);
    /// an engine this CPU lacks is an error and changes nothing.
    pub fn set_engine(&mut self, engine: Engine) -> Result<()> {
        self.engine = engine.resolve()?;
        Ok(())
    }

    /// The kernels `forward` runs (never `Auto`).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Logits for each row of token ids (each at most `max_len` ids; an empty row stands for
    /// one `pad_id` token, as the lab's `pad_batch` pads it), all rows in one pass, with fresh
    /// work buffers ([`super::TransformerClassifier::predict_ids`] reuses them and keeps each
    /// pass within its token budget).
    pub fn forward(&self, rows: &[&[u32]], pad_id: u32) -> Result<Vec<[f32; 3]>> {
        self.forward_with(rows, pad_id, &mut Scratch::default())
    }

    /// [`Self::forward`] with the caller's work buffers: all rows in one pass (the classifier
    /// decides how many tokens a pass holds).
    pub(crate) fn forward_with(
        &self,
        rows: &[&[u32]],
        pad_id: u32,
        s: &mut Scratch,
    ) -> Result<Vec<[f32; 3]>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let pad = [pad_id];
        let rows: Vec<&[u32]> = rows
            .iter()
            .map(|r| if r.is_empty() { &pad[..] } else { *r })
            .collect();
        let mut offsets = std::mem::take(&mut s.offsets);
        offsets.clear();
        let mut n = 0;
        for r in &rows {
            if r.len() > self.max_len {
                return Err(Error::Config(format!(
                    "input of {} tokens exceeds max_len {}",
                    r.len(),
                    self.max_len
                )));
            }
            if let Some(&id) = r.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(Error::Config(format!(
                    "token id {id} outside vocabulary {}",
                    self.vocab
                )));
            }
            offsets.push(n);
            n += r.len();
        }
        let t_max = rows.iter().map(|r| r.len()).max().unwrap_or(1);
        let out = match self.engine {
            // SAFETY: `engine` is only ever set through `Engine::resolve`, which checks that
            // the CPU has every feature `forward_v4` is compiled for (`avx512_available`).
            #[cfg(target_arch = "x86_64")]
            Engine::Avx512 => unsafe { self.forward_v4(&rows, &offsets, n, t_max, s) },
            // SAFETY: as above, AVX2 and FMA (`avx2_available`).
            #[cfg(target_arch = "x86_64")]
            Engine::Avx2Fma => unsafe { self.forward_v3(&rows, &offsets, n, t_max, s) },
            _ => self.forward_portable(&rows, &offsets, n, t_max, s),
        };
        s.offsets = offsets;
        out
    }

    /// Token + position embeddings of the packed rows into `x` (`[n, d]`).
    #[inline(always)]
    fn embed(&self, rows: &[&[u32]], offsets: &[usize], x: &mut [f32]) {
        let d = self.d;
        for (r, &o) in rows.iter().zip(offsets) {
            for (j, &id) in r.iter().enumerate() {
                let id = id as usize;
                let dst = &mut x[(o + j) * d..(o + j + 1) * d];
                let w = &self.word[id * d..(id + 1) * d];
                let p = &self.position[j * d..(j + 1) * d];
                for k in 0..d {
                    dst[k] = w[k] + p[k];
                }
            }
        }
    }

    /// Pooling of the final hidden states `h` (the mean, or softmax weights from the learned
    /// query) and the 3-logit head. Per row and in token order, so a row's result does not
    /// depend on its batch.
    #[inline(always)]
    fn pool_head(&self, rows: &[&[u32]], offsets: &[usize], h: &[f32]) -> Vec<[f32; 3]> {
        let d = self.d;
        let mut out = Vec::with_capacity(rows.len());
        let mut pooled = vec![0f32; d];
        let mut weights: Vec<f32> = Vec::new();
        for (r, &o) in rows.iter().zip(offsets) {
            let tokens = |j: usize| &h[(o + j) * d..(o + j + 1) * d];
            pooled.iter_mut().for_each(|v| *v = 0.0);
            match &self.pool_query {
                None => {
                    for j in 0..r.len() {
                        for (p, v) in pooled.iter_mut().zip(tokens(j)) {
                            *p += v;
                        }
                    }
                    let inv = 1.0 / r.len() as f32;
                    pooled.iter_mut().for_each(|v| *v *= inv);
                }
                Some(q) => {
                    weights.clear();
                    weights.extend(
                        (0..r.len())
                            .map(|j| q.iter().zip(tokens(j)).map(|(a, b)| a * b).sum::<f32>()),
                    );
                    let max = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    weights.iter_mut().for_each(|w| *w = (*w - max).exp());
                    let inv = 1.0 / weights.iter().sum::<f32>();
                    weights.iter_mut().for_each(|w| *w *= inv);
                    for (j, &w) in weights.iter().enumerate() {
                        for (p, v) in pooled.iter_mut().zip(tokens(j)) {
                            *p += w * v;
                        }
                    }
                }
            }
            let mut logits = [0f32; 3];
            for (c, l) in logits.iter_mut().enumerate() {
                let w = &self.head.weight[c * d..(c + 1) * d];
                *l = w.iter().zip(&pooled).map(|(a, b)| a * b).sum::<f32>()
                    + self.head.bias.as_ref().map_or(0.0, |b| b[c]);
            }
            out.push(logits);
        }
        out
    }

    /// The AVX-512 forward (see the module docs).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
    fn forward_v4(
        &self,
        rows: &[&[u32]],
        offsets: &[usize],
        n: usize,
        t_max: usize,
        s: &mut Scratch,
    ) -> Result<Vec<[f32; 3]>> {
        let (d, dh, ff) = (self.d, self.head_dim, self.d_ff);
        // Kᵀ rows are padded to whole vectors (the transpose writes 16 tokens at a time).
        let n_pad = n.div_ceil(16) * 16;
        let [x, h, qkv, att, up, scores, kt] = &mut s.bufs;
        let skip = &mut s.skip;
        let x = grow(x, n * d);
        let h = grow(h, n * d);
        let qkv = grow(qkv, n * 3 * d);
        let att = grow(att, n * d);
        let up = grow(up, n * ff);
        let scores = grow(scores, t_max * t_max.div_ceil(16) * 16);
        let kt = grow(kt, d * n_pad);
        self.embed(rows, offsets, x);
        let scale = 1.0 / (dh as f32).sqrt();
        let relu = self.activation == Activation::Relu;
        let plain = Epilogue::default();
        for layer in &self.layers {
            // Every kernel call below checks its bounds; this function's target features are
            // theirs, so the calls are safe.
            v4::layer_norm(x, h, &layer.ln1, d, self.eps)?;
            layer.qkv.matmul_v4(qkv, h, n, plain, None)?;
            v4::transpose(&qkv[d..], 3 * d, n, d, kt, n_pad)?;
            for (r, &o) in rows.iter().zip(offsets) {
                let t = r.len();
                let ts = t.div_ceil(16) * 16;
                for head in 0..self.n_heads {
                    let scores = &mut scores[..t * ts];
                    // scores[t×t] = scale · Q Kᵀ
                    v4::matmul(
                        scores,
                        ts,
                        &qkv[o * 3 * d + head * dh..],
                        3 * d,
                        Rhs::Rows(&kt[head * dh * n_pad + o..], n_pad),
                        (t, t, dh),
                        Epilogue { scale, ..plain },
                        None,
                    )?;
                    v4::softmax_rows(scores, ts, t)?;
                    // att[t×dh] = P V
                    v4::matmul(
                        &mut att[o * d + head * dh..],
                        d,
                        scores,
                        ts,
                        Rhs::Rows(&qkv[o * 3 * d + 2 * d + head * dh..], 3 * d),
                        (t, dh, t),
                        plain,
                        None,
                    )?;
                }
            }
            let accumulate = Epilogue {
                accumulate: true,
                ..plain
            };
            layer.out.matmul_v4(x, att, n, accumulate, None)?;
            v4::layer_norm(x, h, &layer.ln2, d, self.eps)?;
            layer
                .up
                .matmul_v4(up, h, n, Epilogue { relu, ..plain }, None)?;
            if !relu {
                activate(up, self.activation);
            }
            let skip_zeros = (relu && self.skip_zeros).then_some(&mut *skip);
            layer.down.matmul_v4(x, up, n, accumulate, skip_zeros)?;
        }
        v4::layer_norm(x, h, &self.final_ln, d, self.eps)?;
        Ok(self.pool_head(rows, offsets, h))
    }

    /// The AVX2+FMA forward: the steps of [`Self::forward_v4`] on the `v3` kernels.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn forward_v3(
        &self,
        rows: &[&[u32]],
        offsets: &[usize],
        n: usize,
        t_max: usize,
        s: &mut Scratch,
    ) -> Result<Vec<[f32; 3]>> {
        let (d, dh, ff) = (self.d, self.head_dim, self.d_ff);
        let [x, h, qkv, att, up, scores, kt] = &mut s.bufs;
        let nonzero = &mut s.nonzero;
        let x = grow(x, n * d);
        let h = grow(h, n * d);
        let qkv = grow(qkv, n * 3 * d);
        let att = grow(att, n * d);
        let up = grow(up, n * ff);
        let scores = grow(scores, t_max * t_max.div_ceil(16) * 16);
        let kt = grow(kt, d * n);
        self.embed(rows, offsets, x);
        let scale = 1.0 / (dh as f32).sqrt();
        let relu = self.activation == Activation::Relu;
        let plain = Epilogue::default();
        for layer in &self.layers {
            // Every kernel call below checks its bounds; this function's target features are
            // theirs, so the calls are safe.
            v3::layer_norm(x, h, &layer.ln1, d, self.eps)?;
            layer.qkv.matmul_v3(qkv, h, n, plain, None)?;
            portable::transpose(&qkv[d..], 3 * d, n, d, kt, n)?;
            for (r, &o) in rows.iter().zip(offsets) {
                let t = r.len();
                let ts = t.div_ceil(16) * 16;
                for head in 0..self.n_heads {
                    let scores = &mut scores[..t * ts];
                    v3::matmul(
                        scores,
                        ts,
                        &qkv[o * 3 * d + head * dh..],
                        3 * d,
                        Rhs::Rows(&kt[head * dh * n + o..], n),
                        (t, t, dh),
                        Epilogue { scale, ..plain },
                        None,
                    )?;
                    v3::softmax_rows(scores, ts, t)?;
                    v3::matmul(
                        &mut att[o * d + head * dh..],
                        d,
                        scores,
                        ts,
                        Rhs::Rows(&qkv[o * 3 * d + 2 * d + head * dh..], 3 * d),
                        (t, dh, t),
                        plain,
                        None,
                    )?;
                }
            }
            let accumulate = Epilogue {
                accumulate: true,
                ..plain
            };
            layer.out.matmul_v3(x, att, n, accumulate, None)?;
            v3::layer_norm(x, h, &layer.ln2, d, self.eps)?;
            layer
                .up
                .matmul_v3(up, h, n, Epilogue { relu, ..plain }, None)?;
            if !relu {
                activate(up, self.activation);
            }
            let skip_zeros = (relu && self.skip_zeros).then_some(&mut *nonzero);
            layer.down.matmul_v3(x, up, n, accumulate, skip_zeros)?;
        }
        v3::layer_norm(x, h, &self.final_ln, d, self.eps)?;
        Ok(self.pool_head(rows, offsets, h))
    }

    /// The portable forward: the same steps on the plain-Rust kernels.
    fn forward_portable(
        &self,
        rows: &[&[u32]],
        offsets: &[usize],
        n: usize,
        t_max: usize,
        s: &mut Scratch,
    ) -> Result<Vec<[f32; 3]>> {
        let (d, dh, ff) = (self.d, self.head_dim, self.d_ff);
        let [x, h, qkv, att, up, scores, kt] = &mut s.bufs;
        let (nonzero, ks) = (&mut s.nonzero, &mut s.ks);
        let x = grow(x, n * d);
        let h = grow(h, n * d);
        let qkv = grow(qkv, n * 3 * d);
        let att = grow(att, n * d);
        let up = grow(up, n * ff);
        let scores = grow(scores, t_max * t_max.div_ceil(16) * 16);
        let kt = grow(kt, d * n);
        self.embed(rows, offsets, x);
        let scale = 1.0 / (dh as f32).sqrt();
        let relu = self.activation == Activation::Relu;
        let plain = Epilogue::default();
        for layer in &self.layers {
            layer_norm(x, h, &layer.ln1, d, self.eps);
            layer.qkv.matmul_portable(qkv, h, n, plain, None, ks)?;
            portable::transpose(&qkv[d..], 3 * d, n, d, kt, n)?;
            for (r, &o) in rows.iter().zip(offsets) {
                let t = r.len();
                let ts = t.div_ceil(16) * 16;
                for head in 0..self.n_heads {
                    let scores = &mut scores[..t * ts];
                    portable::matmul(
                        scores,
                        ts,
                        &qkv[o * 3 * d + head * dh..],
                        3 * d,
                        Rhs::Rows(&kt[head * dh * n + o..], n),
                        (t, t, dh),
                        Epilogue { scale, ..plain },
                        None,
                        ks,
                    )?;
                    for row in scores.chunks_exact_mut(ts) {
                        softmax_row(row, t);
                    }
                    portable::matmul(
                        &mut att[o * d + head * dh..],
                        d,
                        scores,
                        ts,
                        Rhs::Rows(&qkv[o * 3 * d + 2 * d + head * dh..], 3 * d),
                        (t, dh, t),
                        plain,
                        None,
                        ks,
                    )?;
                }
            }
            let accumulate = Epilogue {
                accumulate: true,
                ..plain
            };
            layer.out.matmul_portable(x, att, n, accumulate, None, ks)?;
            layer_norm(x, h, &layer.ln2, d, self.eps);
            layer
                .up
                .matmul_portable(up, h, n, Epilogue { relu, ..plain }, None, ks)?;
            if !relu {
                activate(up, self.activation);
            }
            let skip_zeros = (relu && self.skip_zeros).then_some(&mut *nonzero);
            layer
                .down
                .matmul_portable(x, up, n, accumulate, skip_zeros, ks)?;
        }
        layer_norm(x, h, &self.final_ln, d, self.eps);
        Ok(self.pool_head(rows, offsets, h))
    }
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

/// Whether this CPU runs the AVX-512 kernels.
fn avx512_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("lzcnt")
            && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU runs the AVX2+FMA kernels.
fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AVX-512 kernels. The entry points (`matmul`, `transpose`, `layer_norm`, `softmax_rows`) are
/// safe `#[target_feature]` functions: calling them is `unsafe` only from code not compiled
/// for those features, where the caller must know the CPU has them ([`avx512_available`]); each
/// checks the bounds of what it reads and writes and returns an error instead of touching
/// memory outside its slices. The `unsafe fn`s below them take raw pointers whose ranges the
/// entry points checked.
#[cfg(target_arch = "x86_64")]
mod v4 {
    use std::arch::x86_64::*;

    use super::PANEL;
    pub(super) use super::{Epilogue, Rhs};
    use crate::{Error, Result};

    /// Rows of sums a kernel call keeps in registers (14 × 2 vectors = 28 of the 32 registers).
    const MR: usize = 14;

    fn out_of_bounds(m: usize, n: usize, k: usize) -> Error {
        Error::Internal(format!("matmul of {m}×{k}·{k}×{n} out of bounds"))
    }

    /// `c (m×n, row stride ldc) = epilogue(a (m×k, row stride lda) · b)`.
    ///
    /// With `skip_zeros` (a scratch list), each block of rows of `a` first lists the `k` at
    /// which any of its rows is non-zero, and the sums run over those only: exact (a zero adds
    /// nothing), and after ReLU most columns of a block are zero (59 % on the shipped model).
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn matmul(
        c: &mut [f32],
        ldc: usize,
        a: &[f32],
        lda: usize,
        b: Rhs<'_>,
        (m, n, k): (usize, usize, usize),
        epi: Epilogue<'_>,
        mut skip_zeros: Option<&mut SkipZeros>,
    ) -> Result<()> {
        if m == 0 || n == 0 {
            return Ok(());
        }
        let (b, ldb, panel_stride, b_ok) = match b {
            Rhs::Packed(p) => (
                p,
                PANEL,
                k * PANEL,
                p.len() >= n.div_ceil(PANEL) * k * PANEL,
            ),
            Rhs::Rows(r, ld) => (r, ld, PANEL, k == 0 || (k - 1) * ld + n <= r.len()),
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
            let nonzero: Option<(&[u32], &[f32])> = skip_zeros
                .as_deref_mut()
                // SAFETY: rows i0..i0 + rows, columns < k of `a` (checked above).
                .map(|z| unsafe { z.gather(a.add(i0 * lda), lda, rows, k) });
            for p in 0..n.div_ceil(PANEL) {
                let cols = (n - p * PANEL).min(PANEL);
                let lanes = |c: usize| -> __mmask16 {
                    if c >= 16 {
                        0xFFFF
                    } else {
                        (1u16 << c) - 1
                    }
                };
                let t = Tile {
                    k,
                    // SAFETY: offsets of rows < m, columns < n, and panel starts, all inside the
                    // slices checked above; masked lanes are never accessed.
                    a: unsafe { a.add(i0 * lda) },
                    lda,
                    b: unsafe { b.add(p * panel_stride) },
                    ldb,
                    c: unsafe { c.add(i0 * ldc + p * PANEL) },
                    ldc,
                    masks: [lanes(cols), lanes(cols.saturating_sub(16))],
                    bias: if bias.is_null() {
                        bias
                    } else {
                        unsafe { bias.add(p * PANEL) }
                    },
                    scale: epi.scale,
                    accumulate: epi.accumulate,
                    relu: epi.relu,
                };
                // SAFETY: the tile covers `rows` rows and `cols` columns inside the bounds
                // checked above.
                unsafe {
                    match rows {
                        14 => tile::<14>(&t, nonzero),
                        13 => tile::<13>(&t, nonzero),
                        12 => tile::<12>(&t, nonzero),
                        11 => tile::<11>(&t, nonzero),
                        10 => tile::<10>(&t, nonzero),
                        9 => tile::<9>(&t, nonzero),
                        8 => tile::<8>(&t, nonzero),
                        7 => tile::<7>(&t, nonzero),
                        6 => tile::<6>(&t, nonzero),
                        5 => tile::<5>(&t, nonzero),
                        4 => tile::<4>(&t, nonzero),
                        3 => tile::<3>(&t, nonzero),
                        2 => tile::<2>(&t, nonzero),
                        _ => tile::<1>(&t, nonzero),
                    }
                }
            }
            i0 += rows;
        }
        Ok(())
    }

    /// One kernel call: `R` rows × up to 32 columns (lanes enabled by `masks`).
    struct Tile {
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        masks: [__mmask16; 2],
        /// Null for none.
        bias: *const f32,
        scale: f32,
        accumulate: bool,
        relu: bool,
    }

    /// Work lists of [`matmul`]'s zero skipping, reused across calls.
    #[derive(Default)]
    pub(super) struct SkipZeros {
        /// Columns of the current row block with a non-zero entry.
        idx: Vec<u32>,
        /// Those columns of the block, 16 floats each (rows, zero-padded): the kernel's
        /// broadcasts then come from one L1-resident stream.
        cols: Vec<f32>,
    }

    impl SkipZeros {
        /// Lists and gathers the columns `j < k` at which any of the `rows <= 16` rows of `a`
        /// is non-zero (NaN counts as non-zero).
        ///
        /// # Safety
        /// `a` points at `rows <= 16` rows of at least `k` readable floats, `lda` apart.
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
        unsafe fn gather(
            &mut self,
            a: *const f32,
            lda: usize,
            rows: usize,
            k: usize,
        ) -> (&[u32], &[f32]) {
            let need = k.div_ceil(16) * 16;
            if self.idx.len() < need {
                self.idx.resize(need, 0);
            }
            if self.cols.len() < k * 16 {
                self.cols.resize(k * 16, 0.0);
            }
            let out = self.idx.as_mut_ptr() as *mut i32;
            let cols = self.cols.as_mut_ptr();
            let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let mut len = 0usize;
            for j0 in (0..k).step_by(16) {
                let w = (k - j0).min(16);
                let m: __mmask16 = if w == 16 { 0xFFFF } else { (1u16 << w) - 1 };
                let mut v = [_mm512_setzero_ps(); 16];
                let mut nz: __mmask16 = 0;
                for (r, v) in v.iter_mut().enumerate().take(rows) {
                    // SAFETY: row r < rows, columns j0..j0 + w <= k (the caller's bounds).
                    *v = unsafe { _mm512_maskz_loadu_ps(m, a.add(r * lda + j0)) };
                    nz |= _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(m, *v, _mm512_setzero_ps());
                }
                if nz == 0 {
                    continue;
                }
                let ids = _mm512_add_epi32(iota, _mm512_set1_epi32(j0 as i32));
                // SAFETY: at most `j0 + 16 <= idx.len()` entries written so far.
                unsafe { _mm512_mask_compressstoreu_epi32(out.add(len), nz, ids) };
                let t = transpose16(v);
                let mut bits = nz;
                while bits != 0 {
                    let c = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    // SAFETY: len < k columns of 16 floats each.
                    unsafe { _mm512_storeu_ps(cols.add(len * 16), t[c]) };
                    len += 1;
                }
            }
            (&self.idx[..len], &self.cols[..len * 16])
        }
    }

    /// The epilogue of a tile (a macro so that the sums stay in registers):
    /// `c = relu?(scale · acc + bias + (c if accumulate))`, masked stores.
    macro_rules! store {
        ($t:expr, $acc:expr) => {{
            let t: &Tile = $t;
            let [m0, m1] = t.masks;
            let scale = _mm512_set1_ps(t.scale);
            let zero = _mm512_setzero_ps();
            for (r, acc) in $acc.iter().enumerate() {
                // SAFETY (pointers): rows < R, masked columns, inside the caller's bounds.
                let c = unsafe { t.c.add(r * t.ldc) };
                for (h, (&v, m)) in acc.iter().zip([m0, m1]).enumerate() {
                    if m == 0 {
                        continue;
                    }
                    let mut v = v;
                    if t.scale != 1.0 {
                        v = _mm512_mul_ps(v, scale);
                    }
                    if !t.bias.is_null() {
                        v = _mm512_add_ps(v, unsafe {
                            _mm512_maskz_loadu_ps(m, t.bias.add(16 * h))
                        });
                    }
                    if t.accumulate {
                        v = _mm512_add_ps(v, unsafe { _mm512_maskz_loadu_ps(m, c.add(16 * h)) });
                    }
                    if t.relu {
                        v = _mm512_max_ps(v, zero);
                    }
                    unsafe { _mm512_mask_storeu_ps(c.add(16 * h), m, v) };
                }
            }
        }};
    }

    /// Asks for the tile's output lines early, so that their misses overlap the sums instead of
    /// stalling the stores (a prefetch never faults: the addresses need not be valid).
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    #[inline]
    fn prefetch_c<const R: usize>(t: &Tile) {
        for r in 0..R {
            let c = t.c.wrapping_add(r * t.ldc) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(c);
            if t.masks[1] != 0 {
                _mm_prefetch::<_MM_HINT_T0>(c.wrapping_add(64));
            }
        }
    }

    /// One tile: dense, or over the listed columns only.
    ///
    /// # Safety
    /// `t.a` points at `R` rows of `t.k` readable floats (`t.lda` apart), `t.b` at `t.k` rows
    /// of the lanes `t.masks` enable (`t.ldb` apart), `t.c` at `R` writable rows of those lanes
    /// (`t.ldc` apart), `t.bias` (unless null) at those lanes; `nonzero` as `gather` made it
    /// for these rows.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    #[inline]
    unsafe fn tile<const R: usize>(t: &Tile, nonzero: Option<(&[u32], &[f32])>) {
        // SAFETY: the caller's bounds.
        unsafe {
            match nonzero {
                None => tile_dense::<R>(t),
                Some((idx, cols)) => tile_sparse::<R>(t, idx, cols),
            }
        }
    }

    /// The sums of a tile over every `k`.
    ///
    /// # Safety
    /// As [`tile`].
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    #[inline]
    unsafe fn tile_dense<const R: usize>(t: &Tile) {
        let [m0, m1] = t.masks;
        prefetch_c::<R>(t);
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        let mut a = t.a;
        let mut b = t.b;
        for _ in 0..t.k {
            // SAFETY (all pointer reads here): inside the caller's checked bounds.
            let (b0, b1) = unsafe {
                (
                    _mm512_maskz_loadu_ps(m0, b),
                    _mm512_maskz_loadu_ps(m1, b.add(16)),
                )
            };
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(unsafe { *a.add(r * t.lda) });
                acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
            }
            a = unsafe { a.add(1) };
            b = unsafe { b.add(t.ldb) };
        }
        store!(t, acc);
    }

    /// The sums of a tile over the listed columns `idx` of `a`, gathered in `cols`.
    ///
    /// # Safety
    /// As [`tile`]; every index in `idx` is below `t.k`, and `cols` holds 16 floats per index.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    #[inline]
    unsafe fn tile_sparse<const R: usize>(t: &Tile, idx: &[u32], cols: &[f32]) {
        let [m0, m1] = t.masks;
        prefetch_c::<R>(t);
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        if cols.len() < idx.len() * 16 || R > 16 {
            return;
        }
        let mut col = cols.as_ptr();
        for &j in idx {
            // SAFETY (pointer reads): j < k, inside the caller's checked bounds; `col` walks
            // `cols`, 16 floats per listed column (checked above).
            let b = unsafe { t.b.add(j as usize * t.ldb) };
            let (b0, b1) = unsafe {
                (
                    _mm512_maskz_loadu_ps(m0, b),
                    _mm512_maskz_loadu_ps(m1, b.add(16)),
                )
            };
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(unsafe { *col.add(r) });
                acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
            }
            col = unsafe { col.add(16) };
        }
        store!(t, acc);
    }

    /// `dst[j * ldd + i] = src[i * lds + j]` for `i < rows`, `j < cols`; `dst` rows are written
    /// in whole blocks of 16 (`ldd` a multiple of 16 and at least `rows`): values past `rows`
    /// are zeros.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
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
        let ok = ldd.is_multiple_of(16)
            && rows <= ldd
            && cols <= lds
            && (rows - 1) * lds + cols <= src.len()
            && cols * ldd <= dst.len();
        if !ok {
            return Err(out_of_bounds(rows, cols, 0));
        }
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        for i0 in (0..rows).step_by(16) {
            for j0 in (0..cols).step_by(16) {
                let w = (cols - j0).min(16);
                let m: __mmask16 = if w == 16 { 0xFFFF } else { (1u16 << w) - 1 };
                let mut r = [_mm512_setzero_ps(); 16];
                for (i, r) in r.iter_mut().enumerate().take(rows - i0) {
                    // SAFETY: row i0 + i < rows, columns j0..j0 + w < cols: inside `src`.
                    *r = unsafe { _mm512_maskz_loadu_ps(m, s.add((i0 + i) * lds + j0)) };
                }
                let t = transpose16(r);
                for (j, v) in t.iter().enumerate().take(w) {
                    // SAFETY: (j0 + j) * ldd + i0 + 16 <= cols * ldd, as i0 + 16 <= ldd.
                    unsafe { _mm512_storeu_ps(d.add((j0 + j) * ldd + i0), *v) };
                }
            }
        }
        Ok(())
    }

    /// Layer norm of each row of `x` (`d` floats) into `y`; rows of up to 256 floats are
    /// normalised in registers (one read of `x`, one write of `y`).
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
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
            match d.div_ceil(16) {
                1 => ln_rows::<1>(x, y, w, b, d, eps),
                2 => ln_rows::<2>(x, y, w, b, d, eps),
                3 => ln_rows::<3>(x, y, w, b, d, eps),
                4 => ln_rows::<4>(x, y, w, b, d, eps),
                5 => ln_rows::<5>(x, y, w, b, d, eps),
                6 => ln_rows::<6>(x, y, w, b, d, eps),
                7 => ln_rows::<7>(x, y, w, b, d, eps),
                8 => ln_rows::<8>(x, y, w, b, d, eps),
                9..=12 => ln_rows::<12>(x, y, w, b, d, eps),
                13..=16 => ln_rows::<16>(x, y, w, b, d, eps),
                _ => super::layer_norm(x, y, &(w.to_vec(), b.to_vec()), d, eps),
            }
        }
        Ok(())
    }

    /// [`layer_norm`] with rows of at most `16 · C` floats.
    ///
    /// # Safety
    /// `0 < d <= 16 · C`, `w` and `b` hold at least `d` floats, `x.len()` is a multiple of `d`
    /// and `y` at least as long.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    unsafe fn ln_rows<const C: usize>(
        x: &[f32],
        y: &mut [f32],
        w: &[f32],
        b: &[f32],
        d: usize,
        eps: f32,
    ) {
        let mask = |c: usize| -> __mmask16 {
            let valid = d.saturating_sub(16 * c);
            if valid >= 16 {
                0xFFFF
            } else {
                (1u16 << valid) - 1
            }
        };
        let mut wv = [_mm512_setzero_ps(); C];
        let mut bv = [_mm512_setzero_ps(); C];
        for c in 0..C {
            // SAFETY: masked to the first d floats of w and b (checked by the caller).
            unsafe {
                wv[c] = _mm512_maskz_loadu_ps(mask(c), w.as_ptr().add(16 * c));
                bv[c] = _mm512_maskz_loadu_ps(mask(c), b.as_ptr().add(16 * c));
            }
        }
        let inv_d = _mm512_set1_ps(1.0 / d as f32);
        for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
            let mut v = [_mm512_setzero_ps(); C];
            let mut sum = _mm512_setzero_ps();
            for (c, v) in v.iter_mut().enumerate() {
                // SAFETY: masked to the row's d floats.
                *v = unsafe { _mm512_maskz_loadu_ps(mask(c), xr.as_ptr().add(16 * c)) };
                sum = _mm512_add_ps(sum, *v);
            }
            let mean = _mm512_mul_ps(_mm512_set1_ps(_mm512_reduce_add_ps(sum)), inv_d);
            let mut sq = _mm512_setzero_ps();
            for (c, v) in v.iter_mut().enumerate() {
                *v = _mm512_maskz_sub_ps(mask(c), *v, mean);
                sq = _mm512_fmadd_ps(*v, *v, sq);
            }
            let var = _mm512_reduce_add_ps(sq) / d as f32;
            let inv = _mm512_set1_ps(1.0 / (var + eps).sqrt());
            for (c, v) in v.iter().enumerate() {
                let o = _mm512_fmadd_ps(_mm512_mul_ps(*v, inv), wv[c], bv[c]);
                // SAFETY: as above.
                unsafe { _mm512_mask_storeu_ps(yr.as_mut_ptr().add(16 * c), mask(c), o) };
            }
        }
    }

    /// In-place softmax of the first `t` entries of each row of `s` (rows of `ts` floats, `ts`
    /// a multiple of 16); entries past `t` become 0. Rows of up to 128 entries stay in registers
    /// (one load, one store per element).
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    pub(super) fn softmax_rows(s: &mut [f32], ts: usize, t: usize) -> Result<()> {
        if !ts.is_multiple_of(16) || t > ts || t == 0 {
            return Err(out_of_bounds(t, ts, 0));
        }
        let chunks = ts / 16;
        let mask = |c: usize| -> __mmask16 {
            let valid = t.saturating_sub(16 * c);
            if valid >= 16 {
                0xFFFF
            } else {
                (1u16 << valid) - 1
            }
        };
        for row in s.chunks_exact_mut(ts) {
            let p = row.as_mut_ptr();
            if chunks <= 8 {
                let mut v = [_mm512_set1_ps(f32::NEG_INFINITY); 8];
                let mut mx = _mm512_set1_ps(f32::NEG_INFINITY);
                for (c, v) in v.iter_mut().enumerate().take(chunks) {
                    // SAFETY: chunk c of a row of `ts = 16 · chunks` floats.
                    *v = unsafe {
                        _mm512_mask_loadu_ps(
                            _mm512_set1_ps(f32::NEG_INFINITY),
                            mask(c),
                            p.add(16 * c),
                        )
                    };
                    mx = _mm512_max_ps(mx, *v);
                }
                let mx = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
                let mut sum = _mm512_setzero_ps();
                for (c, v) in v.iter_mut().enumerate().take(chunks) {
                    *v = _mm512_maskz_mov_ps(mask(c), exp(_mm512_sub_ps(*v, mx)));
                    sum = _mm512_add_ps(sum, *v);
                }
                let inv = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(sum));
                for (c, v) in v.iter().enumerate().take(chunks) {
                    // SAFETY: as above.
                    unsafe { _mm512_storeu_ps(p.add(16 * c), _mm512_mul_ps(*v, inv)) };
                }
            } else {
                let mut mx = _mm512_set1_ps(f32::NEG_INFINITY);
                for c in 0..chunks {
                    // SAFETY: as above.
                    let v = unsafe {
                        _mm512_mask_loadu_ps(
                            _mm512_set1_ps(f32::NEG_INFINITY),
                            mask(c),
                            p.add(16 * c),
                        )
                    };
                    mx = _mm512_max_ps(mx, v);
                }
                let mx = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
                let mut sum = _mm512_setzero_ps();
                for c in 0..chunks {
                    // SAFETY: as above.
                    unsafe {
                        let v = _mm512_maskz_loadu_ps(mask(c), p.add(16 * c));
                        let e = _mm512_maskz_mov_ps(mask(c), exp(_mm512_sub_ps(v, mx)));
                        sum = _mm512_add_ps(sum, e);
                        _mm512_storeu_ps(p.add(16 * c), e);
                    }
                }
                let inv = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(sum));
                for c in 0..chunks {
                    // SAFETY: as above.
                    unsafe {
                        _mm512_storeu_ps(
                            p.add(16 * c),
                            _mm512_mul_ps(_mm512_loadu_ps(p.add(16 * c)), inv),
                        )
                    };
                }
            }
        }
        Ok(())
    }

    /// `e^x` for `x <= 0`, 16 lanes: the polynomial of the scalar `exp_poly` (Cephes, relative
    /// error ~2e-7), with `2^n` applied by `vscalefps`.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    #[inline]
    fn exp(x: __m512) -> __m512 {
        let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
        let n =
            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm512_fmadd_ps(
                x,
                _mm512_set1_ps(std::f32::consts::LOG2_E),
                _mm512_set1_ps(0.5),
            ));
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm512_set1_ps(1.987_569_2e-4);
        for c in [
            1.398_2e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        let p = _mm512_fmadd_ps(
            _mm512_mul_ps(p, r),
            r,
            _mm512_add_ps(r, _mm512_set1_ps(1.0)),
        );
        _mm512_scalef_ps(p, n)
    }

    /// Transposes a 16×16 block held as 16 row vectors.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,fma")]
    #[inline]
    fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let pd = _mm512_castps_pd;
        let ps = _mm512_castpd_ps;
        let mut u = [_mm512_setzero_ps(); 16];
        for g in 0..4 {
            let (a, b, c, e) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            u[4 * g] = ps(_mm512_unpacklo_pd(pd(a), pd(c)));
            u[4 * g + 1] = ps(_mm512_unpackhi_pd(pd(a), pd(c)));
            u[4 * g + 2] = ps(_mm512_unpacklo_pd(pd(b), pd(e)));
            u[4 * g + 3] = ps(_mm512_unpackhi_pd(pd(b), pd(e)));
        }
        // u[4g + c] holds rows 4g..4g+4 of columns c, c+4, c+8, c+12 (one per 128-bit lane).
        let mut v = [_mm512_setzero_ps(); 16];
        for h in 0..2 {
            for c in 0..4 {
                let (x, y) = (u[8 * h + c], u[8 * h + 4 + c]);
                v[8 * h + c] = _mm512_shuffle_f32x4::<0x88>(x, y);
                v[8 * h + 4 + c] = _mm512_shuffle_f32x4::<0xDD>(x, y);
            }
        }
        let mut out = [_mm512_setzero_ps(); 16];
        for c in 0..8 {
            out[c] = _mm512_shuffle_f32x4::<0x88>(v[c], v[8 + c]);
            out[c + 8] = _mm512_shuffle_f32x4::<0xDD>(v[c], v[8 + c]);
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn config(
        d: usize,
        heads: usize,
        ff: usize,
        activation: Activation,
        bias: bool,
    ) -> ModelConfig {
        ModelConfig {
            name: "t".into(),
            vocab_size: 300,
            d_model: d,
            n_layers: 2,
            n_heads: heads,
            d_ff: ff,
            max_len: 128,
            activation,
            linear_bias: bias,
            layer_norm_eps: 1e-5,
            pad_id: 0,
            pooling: Pooling::Mean,
            thresholds: None,
        }
    }

    /// `cfg` with attention pooling.
    pub(crate) fn attention(cfg: ModelConfig) -> ModelConfig {
        ModelConfig {
            pooling: Pooling::Attention,
            ..cfg
        }
    }

    /// Safetensors bytes of a random model of shape `cfg` (names as the lab's encoder writes
    /// them; layer norms near 1, weights ±0.2). The engine's agreement with the candle encoder
    /// is tested in the lab, which has both.
    pub(crate) fn random_weights(cfg: &ModelConfig, seed: u64) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let d = cfg.d_model;
        let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        let mut add = |name: String, shape: Vec<usize>, around: f32| {
            let n = shape.iter().product();
            let v = (0..n).map(|_| around + (rng.f32() - 0.5) * 0.4).collect();
            tensors.push((name, shape, v));
        };
        add("embeddings.word".into(), vec![cfg.vocab_size, d], 0.0);
        add("embeddings.position".into(), vec![cfg.max_len, d], 0.0);
        let linear = |add: &mut dyn FnMut(String, Vec<usize>, f32), p: String, i, o, bias| {
            add(format!("{p}.weight"), vec![o, i], 0.0);
            if bias {
                add(format!("{p}.bias"), vec![o], 0.0);
            }
        };
        let ln = |add: &mut dyn FnMut(String, Vec<usize>, f32), p: String| {
            add(format!("{p}.weight"), vec![d], 1.0);
            add(format!("{p}.bias"), vec![d], 0.0);
        };
        let b = cfg.linear_bias;
        for l in 0..cfg.n_layers {
            let p = format!("layers.{l}");
            ln(&mut add, format!("{p}.ln1"));
            linear(&mut add, format!("{p}.attn.qkv"), d, 3 * d, b);
            linear(&mut add, format!("{p}.attn.out"), d, d, b);
            ln(&mut add, format!("{p}.ln2"));
            linear(&mut add, format!("{p}.ff.up"), d, cfg.d_ff, b);
            linear(&mut add, format!("{p}.ff.down"), cfg.d_ff, d, b);
        }
        ln(&mut add, "final_ln".into());
        if cfg.pooling == Pooling::Attention {
            add("pool.query".into(), vec![d], 0.0);
        }
        linear(&mut add, "head".into(), d, 3, true);
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
            .collect();
        let views = bytes.iter().map(|(n, s, b)| {
            let view = safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b)
                .expect("tensor view");
            (n.clone(), view)
        });
        safetensors::serialize(views, None).expect("serialize")
    }

    pub(crate) fn model(cfg: &ModelConfig, seed: u64) -> Transformer {
        Transformer::from_safetensors(cfg, &random_weights(cfg, seed)).expect("engine")
    }

    fn rows(cfg: &ModelConfig, lens: &[usize], seed: u64) -> Vec<Vec<u32>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        lens.iter()
            .map(|&n| (0..n).map(|_| rng.u32(..cfg.vocab_size as u32)).collect())
            .collect()
    }

    fn max_diff(a: &[[f32; 3]], b: &[[f32; 3]]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .flat_map(|(x, y)| (0..3).map(move |k| (x[k] - y[k]).abs()))
            .fold(0.0, f32::max)
    }

    /// The engines this CPU runs, with a note on stderr for those it lacks (the tests then
    /// cover the others: `Portable` always).
    pub(crate) fn engines_here() -> Vec<Engine> {
        for e in Engine::ALL {
            if !e.is_supported() {
                eprintln!("engine {e}: not run, this CPU lacks it");
            }
        }
        let here = Engine::available();
        assert!(here.contains(&Engine::Portable));
        here
    }

    /// `Auto` resolves to the best engine this CPU has; one it lacks is an error naming it;
    /// names round-trip.
    #[test]
    fn engines_resolve_and_unsupported_ones_are_errors() {
        let best = Engine::detect();
        assert_eq!(Engine::Auto.resolve().expect("auto"), best);
        assert_eq!(Engine::available()[0], best);
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            assert_eq!(Engine::Avx2Fma.is_supported(), avx2);
            if avx2 && !Engine::Avx512.is_supported() {
                assert_eq!(best, Engine::Avx2Fma);
            }
        }
        let mut fast = model(&config(16, 2, 32, Activation::Relu, false), 1);
        assert_eq!(fast.engine(), best);
        for e in Engine::ALL {
            match e.resolve() {
                Ok(r) => {
                    assert_eq!(r, e);
                    fast.set_engine(e).expect("supported");
                    assert_eq!(fast.engine(), e);
                }
                Err(err) => {
                    assert!(err.to_string().contains(e.name()), "{err}");
                    let before = fast.engine();
                    assert!(fast.set_engine(e).is_err());
                    assert_eq!(fast.engine(), before);
                }
            }
        }
        for e in [
            Engine::Auto,
            Engine::Avx512,
            Engine::Avx2Fma,
            Engine::Portable,
        ] {
            assert_eq!(e.name().parse::<Engine>().expect("name"), e);
        }
        assert!("sse".parse::<Engine>().is_err());
    }

    /// Every engine this CPU has agrees with the portable one (within float rounding: 1e-4 on
    /// logits) on the shipped shape and on shapes whose widths are not multiples of the
    /// kernels' 8/16/32 lanes, with every activation and with biases; stale work buffers from
    /// another batch change nothing (bit for bit).
    #[test]
    fn engines_agree_and_reuse_buffers() {
        let shapes = [
            config(128, 4, 512, Activation::Relu, false),
            config(16, 2, 32, Activation::QuickGelu, true),
            config(24, 3, 40, Activation::GeluErf, false),
            config(40, 5, 72, Activation::Gelu, true),
            config(48, 2, 100, Activation::Relu, true),
            config(20, 2, 36, Activation::Relu, false),
            attention(config(128, 4, 512, Activation::Relu, false)),
            attention(config(24, 3, 40, Activation::QuickGelu, true)),
        ];
        let lens = [
            0, 1, 2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100, 127, 128,
        ];
        for (i, cfg) in shapes.iter().enumerate() {
            let mut fast = model(cfg, 11 + i as u64);
            let rows = rows(cfg, &lens, 5 + i as u64);
            let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
            fast.set_engine(Engine::Portable).expect("portable");
            let portable = fast.forward(&refs, 0).expect("portable");
            for e in engines_here() {
                fast.set_engine(e).expect("engine");
                let mut s = Scratch::default();
                let out = fast.forward_with(&refs, 0, &mut s).expect("forward");
                let d = max_diff(&out, &portable);
                assert!(d < 1e-4, "shape {i} engine {e}: {d}");
                // The same scratch again, with another batch first (stale buffers).
                fast.forward_with(&refs[..5], 0, &mut s).expect("forward");
                let again = fast.forward_with(&refs, 0, &mut s).expect("forward");
                assert_eq!(again, out, "shape {i} engine {e}: bit for bit");
            }
        }
    }

    /// On every engine this CPU has, a row scores the same bit for bit alone, in any batch, at
    /// any position, in batches cut anywhere (each sum is one chain in a fixed order, whatever
    /// the other rows), with and without zero skipping changing the lists it keeps.
    #[test]
    fn a_row_scores_bit_for_bit_the_same_alone_and_in_any_batch() {
        for (cfg, seed) in [
            (config(128, 4, 512, Activation::Relu, false), 3),
            (config(24, 3, 40, Activation::Relu, true), 4),
            (attention(config(128, 4, 512, Activation::Relu, false)), 5),
        ] {
            let mut fast = model(&cfg, seed);
            let rows = rows(&cfg, &[7, 128, 1, 40, 0, 90, 13, 14, 15, 5, 6, 33, 64], 9);
            let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
            for e in engines_here() {
                fast.set_engine(e).expect("engine");
                let mut s = Scratch::default();
                let batch = fast.forward_with(&refs, 0, &mut s).expect("batch");
                for (r, b) in refs.iter().zip(&batch) {
                    let alone = fast.forward_with(&[r], 0, &mut s).expect("alone")[0];
                    assert_eq!(&alone, b, "engine {e}");
                }
                // Reversed order, and cut into calls of 1..=5 rows.
                let rev: Vec<&[u32]> = refs.iter().rev().copied().collect();
                let out = fast.forward_with(&rev, 0, &mut s).expect("reversed");
                assert!(out.iter().rev().eq(batch.iter()), "engine {e}: reversed");
                for cut in 1..=5 {
                    let parts: Vec<[f32; 3]> = refs
                        .chunks(cut)
                        .flat_map(|c| fast.forward_with(c, 0, &mut s).expect("part"))
                        .collect();
                    assert_eq!(parts, batch, "engine {e}: calls of {cut}");
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let cfg = config(16, 2, 32, Activation::Relu, false);
        let fast = model(&cfg, 1);
        let too_long = vec![1u32; 129];
        assert!(fast.forward(&[&too_long], 0).is_err());
        assert!(fast.forward(&[&[300]], 0).is_err());
        assert!(fast.forward(&[], 0).expect("empty").is_empty());
        let weights = random_weights(&cfg, 1);
        let other = config(24, 2, 32, Activation::Relu, false);
        let e = Transformer::from_safetensors(&other, &weights).expect_err("shape");
        assert!(e.to_string().contains("shape"), "{e}");
        assert!(Transformer::from_safetensors(&cfg, b"not safetensors").is_err());
    }

    /// Weights stored as f16 load to the f32 values they round to.
    #[test]
    fn f16_weights_load_as_their_f32_values() {
        let cfg = config(16, 2, 32, Activation::Relu, false);
        let f32_bytes = random_weights(&cfg, 4);
        let st = SafeTensors::deserialize(&f32_bytes).expect("st");
        let halves: Vec<(String, Vec<usize>, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(name, t)| {
                let b: Vec<u8> = t
                    .data()
                    .chunks_exact(4)
                    .flat_map(|c| {
                        let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                        half::f16::from_f32(x).to_le_bytes()
                    })
                    .collect();
                (name, t.shape().to_vec(), b)
            })
            .collect();
        let views = halves.iter().map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(Dtype::F16, s.clone(), b).expect("view"),
            )
        });
        let f16_bytes = safetensors::serialize(views, None).expect("serialize");
        let a = Transformer::from_safetensors(&cfg, &f16_bytes).expect("f16");
        let b = Transformer::from_safetensors(&cfg, &f32_bytes).expect("f32");
        let round = |v: &[f32]| -> Vec<f32> {
            v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
        };
        assert_eq!(a.word, round(&b.word));
        assert_eq!(a.layers[1].up.packed, round(&b.layers[1].up.packed));
        assert_eq!(a.head.weight, round(&b.head.weight));
        assert_ne!(a.word, b.word);
    }

    /// One engine's kernels, called the way the forward passes call them (the SIMD ones only
    /// where the CPU has them: the callers check).
    #[derive(Default)]
    pub(super) struct Kernels {
        #[cfg(target_arch = "x86_64")]
        skip: v4::SkipZeros,
        nonzero: Vec<u32>,
        ks: Vec<u32>,
    }

    impl Kernels {
        #[allow(clippy::too_many_arguments)]
        pub(super) fn matmul(
            &mut self,
            e: Engine,
            c: &mut [f32],
            ldc: usize,
            a: &[f32],
            lda: usize,
            b: Rhs<'_>,
            mnk: (usize, usize, usize),
            epi: Epilogue<'_>,
            sparse: bool,
        ) -> Result<()> {
            assert!(e.is_supported());
            match e {
                // SAFETY: the CPU has the engine's features (asserted above).
                #[cfg(target_arch = "x86_64")]
                Engine::Avx512 => unsafe {
                    v4::matmul(
                        c,
                        ldc,
                        a,
                        lda,
                        b,
                        mnk,
                        epi,
                        sparse.then_some(&mut self.skip),
                    )
                },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                Engine::Avx2Fma => unsafe {
                    v3::matmul(
                        c,
                        ldc,
                        a,
                        lda,
                        b,
                        mnk,
                        epi,
                        sparse.then_some(&mut self.nonzero),
                    )
                },
                _ => portable::matmul(
                    c,
                    ldc,
                    a,
                    lda,
                    b,
                    mnk,
                    epi,
                    sparse.then_some(&mut self.nonzero),
                    &mut self.ks,
                ),
            }
        }

        fn layer_norm(
            e: Engine,
            x: &[f32],
            y: &mut [f32],
            ln: &(Vec<f32>, Vec<f32>),
            d: usize,
        ) -> Result<()> {
            assert!(e.is_supported());
            match e {
                // SAFETY: as in `matmul`.
                #[cfg(target_arch = "x86_64")]
                Engine::Avx512 => unsafe { v4::layer_norm(x, y, ln, d, 1e-5) },
                // SAFETY: as in `matmul`.
                #[cfg(target_arch = "x86_64")]
                Engine::Avx2Fma => unsafe { v3::layer_norm(x, y, ln, d, 1e-5) },
                _ => {
                    super::layer_norm(x, y, ln, d, 1e-5);
                    Ok(())
                }
            }
        }

        fn softmax(e: Engine, s: &mut [f32], ts: usize, t: usize) -> Result<()> {
            assert!(e.is_supported());
            match e {
                // SAFETY: as in `matmul`.
                #[cfg(target_arch = "x86_64")]
                Engine::Avx512 => unsafe { v4::softmax_rows(s, ts, t) },
                // SAFETY: as in `matmul`.
                #[cfg(target_arch = "x86_64")]
                Engine::Avx2Fma => unsafe { v3::softmax_rows(s, ts, t) },
                _ => {
                    for row in s.chunks_exact_mut(ts) {
                        softmax_row(row, t);
                    }
                    Ok(())
                }
            }
        }

        fn transpose(
            e: Engine,
            src: &[f32],
            lds: usize,
            rows: usize,
            cols: usize,
            dst: &mut [f32],
        ) -> Result<usize> {
            match e {
                // SAFETY: as in `matmul`.
                #[cfg(target_arch = "x86_64")]
                Engine::Avx512 => {
                    let ldd = rows.div_ceil(16) * 16;
                    unsafe { v4::transpose(src, lds, rows, cols, dst, ldd) }.map(|()| ldd)
                }
                _ => portable::transpose(src, lds, rows, cols, dst, rows).map(|()| rows),
            }
        }
    }

    /// The kernels of engine `e` against scalar loops: the matmul bit for bit against the same
    /// chain of (fused, on the SIMD engines) multiply-adds in `k` order and the same epilogue,
    /// dense and skipping zeros, packed and row-major right-hand sides, every edge of the
    /// register blocks; out of bounds is an error; transpose exact; layer norm and softmax
    /// within rounding.
    fn kernels_match_scalar_loops(e: Engine) {
        assert!(e.is_supported(), "engine {e} on this CPU");
        let fused = e != Engine::Portable;
        let mut rng = fastrand::Rng::with_seed(7);
        let mut rand = |n: usize, zeros: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    if rng.f32() < zeros {
                        0.0
                    } else {
                        rng.f32() - 0.5
                    }
                })
                .collect()
        };
        let mut kern = Kernels::default();
        for (m, k, n) in [
            (1, 1, 1),
            (5, 7, 3),
            (6, 16, 16),
            (7, 9, 17),
            (14, 32, 32),
            (15, 33, 47),
            (29, 128, 100),
            (13, 40, 8),
            (3, 512, 130),
        ] {
            let a = rand(m * k, 0.7);
            let w = rand(n * k, 0.0);
            let bias = rand(n, 0.0);
            let mut lin = FastLinear {
                weight: w.clone(),
                packed: Vec::new(),
                bias: None,
                d_in: k,
                d_out: n,
            };
            lin.pack();
            let init = rand(m * n, 0.0);
            let expect = |acc: bool, relu: bool| -> Vec<f32> {
                (0..m * n)
                    .map(|e| {
                        let (i, j) = (e / n, e % n);
                        let mut v = 0f32;
                        for t in 0..k {
                            let (x, y) = (a[i * k + t], w[j * k + t]);
                            v = if fused { x.mul_add(y, v) } else { v + x * y };
                        }
                        v = v * 0.5 + bias[j];
                        if acc {
                            v += init[e];
                        }
                        if relu {
                            v.max(0.0)
                        } else {
                            v
                        }
                    })
                    .collect()
            };
            // Row-major right-hand side (b[t][j] = w[j][t]), with a wider row stride.
            let ld = n + 5;
            let mut wt = vec![f32::NAN; k * ld];
            for t in 0..k {
                for j in 0..n {
                    wt[t * ld + j] = w[j * k + t];
                }
            }
            for (acc, relu, sparse) in [
                (false, false, false),
                (true, true, false),
                (true, false, true),
                (false, true, true),
            ] {
                let epi = Epilogue {
                    scale: 0.5,
                    bias: Some(&bias),
                    accumulate: acc,
                    relu,
                };
                let want = expect(acc, relu);
                let mut c = init.clone();
                kern.matmul(
                    e,
                    &mut c,
                    n,
                    &a,
                    k,
                    Rhs::Packed(&lin.packed),
                    (m, n, k),
                    epi,
                    sparse,
                )
                .expect("matmul");
                assert_eq!(
                    c, want,
                    "{e} {m}x{k}x{n} acc {acc} relu {relu} sparse {sparse}"
                );
                let mut c2 = init.clone();
                kern.matmul(
                    e,
                    &mut c2,
                    n,
                    &a,
                    k,
                    Rhs::Rows(&wt, ld),
                    (m, n, k),
                    epi,
                    sparse,
                )
                .expect("rows");
                assert_eq!(c2, want, "{e} rows {m}x{k}x{n}");
                // Into a wider output: the columns past n are not touched.
                let ldc = n + 3;
                let mut wide = vec![7f32; m * ldc];
                for i in 0..m {
                    wide[i * ldc..i * ldc + n].copy_from_slice(&init[i * n..(i + 1) * n]);
                }
                kern.matmul(
                    e,
                    &mut wide,
                    ldc,
                    &a,
                    k,
                    Rhs::Rows(&wt, ld),
                    (m, n, k),
                    epi,
                    false,
                )
                .expect("wide");
                for i in 0..m {
                    assert_eq!(&wide[i * ldc..i * ldc + n], &want[i * n..(i + 1) * n]);
                    assert!(wide[i * ldc + n..(i + 1) * ldc].iter().all(|&v| v == 7.0));
                }
            }
            // Out of bounds is an error, not a write.
            let mut small = vec![0f32; m * n - 1];
            let r = kern.matmul(
                e,
                &mut small,
                n,
                &a,
                k,
                Rhs::Packed(&lin.packed),
                (m, n, k),
                Epilogue::default(),
                false,
            );
            assert!(r.is_err());
            let r = kern.matmul(
                e,
                &mut vec![0f32; m * n],
                n,
                &a,
                k,
                Rhs::Rows(&wt[..wt.len() - ld], ld),
                (m, n, k),
                Epilogue::default(),
                false,
            );
            assert!(r.is_err());
        }
        for (rows, cols) in [(1, 1), (5, 3), (16, 16), (17, 33), (40, 128)] {
            let lds = cols + 3;
            let src = rand(rows * lds, 0.0);
            let mut dst = vec![f32::NAN; cols * rows.div_ceil(16) * 16];
            let ldd = Kernels::transpose(e, &src, lds, rows, cols, &mut dst).expect("transpose");
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(dst[j * ldd + i], src[i * lds + j]);
                }
            }
        }
        for d in [1, 8, 16, 24, 40, 48, 128, 200, 256, 300] {
            let x: Vec<f32> = rand(5 * d, 0.0).iter().map(|v| v * 10.0 + 3.0).collect();
            let ln = (rand(d, 0.0), rand(d, 0.0));
            let (mut y, mut z) = (vec![0f32; 5 * d], vec![0f32; 5 * d]);
            Kernels::layer_norm(e, &x, &mut y, &ln, d).expect("layer norm");
            // f64 reference.
            for (xr, zr) in x.chunks(d).zip(z.chunks_mut(d)) {
                let mean = xr.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
                let var = xr.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
                for (j, o) in zr.iter_mut().enumerate() {
                    let v = (xr[j] as f64 - mean) / (var + 1e-5).sqrt();
                    *o = (v * ln.0[j] as f64 + ln.1[j] as f64) as f32;
                }
            }
            let diff = y
                .iter()
                .zip(&z)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-5, "{e} d {d}: {diff}");
            if fused && d > 1 {
                assert!(Kernels::layer_norm(e, &x[..5 * d - 1], &mut y, &ln, d).is_err());
            }
        }
        for t in [
            1usize, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 128, 129, 300,
        ] {
            let ts = t.div_ceil(16) * 16;
            let mut x: Vec<f32> = rand(3 * ts, 0.0).iter().map(|v| v * 40.0).collect();
            let mut y = x.clone();
            Kernels::softmax(e, &mut x, ts, t).expect("softmax");
            for (xr, yr) in x.chunks(ts).zip(y.chunks_mut(ts)) {
                let mx = yr[..t].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = yr[..t].iter().map(|v| (v - mx).exp()).sum();
                for j in 0..ts {
                    let want = if j < t { (yr[j] - mx).exp() / sum } else { 0.0 };
                    assert!(
                        (xr[j] - want).abs() < 1e-6,
                        "{e} t {t} j {j}: {} vs {want}",
                        xr[j]
                    );
                }
            }
        }
    }

    #[test]
    fn portable_kernels_match_scalar_loops() {
        kernels_match_scalar_loops(Engine::Portable);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(
        not(verbovka_test_cpu_avx2),
        ignore = "this CPU has no AVX2+FMA: its kernels cannot run here"
    )]
    fn avx2_kernels_match_scalar_loops() {
        assert!(avx2_available(), "build.rs saw AVX2 and FMA on this CPU");
        kernels_match_scalar_loops(Engine::Avx2Fma);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(
        not(verbovka_test_cpu_avx512),
        ignore = "this CPU has no AVX-512: its kernels cannot run here"
    )]
    fn avx512_kernels_match_scalar_loops() {
        assert!(avx512_available(), "build.rs saw AVX-512 on this CPU");
        kernels_match_scalar_loops(Engine::Avx512);
    }

    /// The AVX2 and AVX-512 matmuls are the same operations: bit for bit the same products.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_matmuls_agree_bit_for_bit() {
        if !(Engine::Avx512.is_supported() && Engine::Avx2Fma.is_supported()) {
            eprintln!("needs both AVX-512 and AVX2: each is checked against the scalar chain in its own kernel test");
            return;
        }
        let cfg = config(128, 4, 512, Activation::Relu, false);
        let fast = model(&cfg, 2);
        let a: Vec<f32> = (0..50 * 512)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.1)
            .collect();
        let mut kern = Kernels::default();
        let lin = &fast.layers[0].down;
        let run = |e: Engine, kern: &mut Kernels, sparse: bool| {
            let mut c = vec![0f32; 50 * 128];
            kern.matmul(
                e,
                &mut c,
                128,
                &a,
                512,
                Rhs::Packed(&lin.packed),
                (50, 128, 512),
                Epilogue::default(),
                sparse,
            )
            .expect("matmul");
            c
        };
        let x = run(Engine::Avx512, &mut kern, true);
        assert_eq!(x, run(Engine::Avx2Fma, &mut kern, false));
        assert_eq!(x, run(Engine::Avx2Fma, &mut kern, true));
    }
}

/// CPU seconds of the calling thread (for the measuring aids in tests).
#[cfg(test)]
pub(crate) fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the given struct.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[cfg(test)]
mod kernel_probe {
    use super::tests::Kernels;
    use super::{thread_cpu, Engine, Epilogue, FastLinear, Rhs};

    /// GFLOP/s of each engine's matmul on the model's shapes, and the AVX2 FMA peak of one core
    /// (12 independent chains of 256-bit FMAs, no memory traffic) — measuring aids, not
    /// checks: `cargo test --release --lib kernel_probe -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn kernel_gflops() {
        #[cfg(target_arch = "x86_64")]
        if super::avx2_available() {
            let iters = 200_000_000usize;
            let t0 = thread_cpu();
            // SAFETY: AVX2 and FMA checked above.
            let x = unsafe { fma_chains(iters) };
            let secs = thread_cpu() - t0;
            println!(
                "AVX2 FMA peak, one core: {:.1} GFLOP/s ({x})",
                (iters * 12 * 8 * 2) as f64 / secs / 1e9
            );
        }
        let mut kern = Kernels::default();
        for e in Engine::available() {
            for (m, k, n) in [
                (1024usize, 128usize, 384usize),
                (1024, 128, 512),
                (1024, 512, 128),
                (1024, 128, 128),
                (256, 128, 384),
                (64, 128, 384),
            ] {
                let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
                let mut lin = FastLinear {
                    weight: (0..n * k).map(|i| (i % 5) as f32 * 0.1).collect(),
                    packed: vec![],
                    bias: None,
                    d_in: k,
                    d_out: n,
                };
                lin.pack();
                let mut c = vec![0f32; m * n];
                let scale = if e == Engine::Portable { 10 } else { 1 };
                let reps = (2_000_000_000 / (2 * m * n * k * scale)).max(3);
                let mut run = |c: &mut Vec<f32>| {
                    for _ in 0..reps {
                        kern.matmul(
                            e,
                            c,
                            n,
                            &a,
                            k,
                            Rhs::Packed(&lin.packed),
                            (m, n, k),
                            Epilogue::default(),
                            false,
                        )
                        .unwrap();
                    }
                };
                run(&mut c);
                let t0 = thread_cpu();
                run(&mut c);
                let secs = thread_cpu() - t0;
                println!(
                    "{e} {m}x{k}x{n}: {:.1} GFLOP/s",
                    (2 * m * n * k * reps) as f64 / secs / 1e9
                );
            }
        }
    }

    /// `iters` rounds of 12 independent 8-lane FMA chains.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn fma_chains(iters: usize) -> f32 {
        use std::arch::x86_64::*;
        let mut acc = [_mm256_set1_ps(1.0); 12];
        let (m, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, m, c);
            }
        }
        let mut out = [0f32; 8];
        let s = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
        out.iter().sum()
    }
}
