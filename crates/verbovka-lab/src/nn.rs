//! The encoder's building blocks: one struct per sub-module, each with `load(vb, &cfg)` and
//! `forward`, weight names mirroring the checkpoint (`layers.0.attn.qkv.weight`).
//!
//! **Kernels.** candle's fused `layer_norm` and `softmax_last_dim` have no backward: parameters
//! before them silently get no gradient. Every forward therefore takes a [`Pass`] whose
//! [`Kernels`] picks the fused ops for inference and the differentiable compositions for
//! training. Both compute the same function (a test checks 1e-5).

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarBuilder;

use verbovka::model::{Activation, ModelConfig, Pooling};

use crate::rng::Rng;

/// Which implementation of layer norm and softmax to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// Fused candle ops: fast, **no gradient**. Inference only.
    Fused,
    /// Compositions of differentiable ops (`layer_norm_slow`, `softmax`). Training.
    Differentiable,
}

/// Per-call state of a forward pass: kernels, and dropout with its own seeded generator.
#[derive(Debug, Clone)]
pub struct Pass {
    /// Kernel choice.
    pub kernels: Kernels,
    /// Dropout probability (0 disables it).
    pub dropout: f32,
    rng: Rng,
}

impl Pass {
    /// Inference: fused kernels, no dropout.
    pub fn inference() -> Self {
        Pass {
            kernels: Kernels::Fused,
            dropout: 0.0,
            rng: Rng::new(0),
        }
    }

    /// Training: differentiable kernels, dropout `p` drawn from a generator seeded with `seed`.
    pub fn training(dropout: f32, seed: u64) -> Self {
        Pass {
            kernels: Kernels::Differentiable,
            dropout,
            rng: Rng::new(seed),
        }
    }

    /// Differentiable kernels without dropout (evaluation of a training graph, tests).
    pub fn differentiable() -> Self {
        Pass {
            kernels: Kernels::Differentiable,
            dropout: 0.0,
            rng: Rng::new(0),
        }
    }

    fn dropout(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.dropout <= 0.0 {
            return Ok(x.clone());
        }
        let p = self.dropout;
        let scale = 1.0 / (1.0 - p);
        let n = x.elem_count();
        let mask: Vec<f32> = (0..n)
            .map(|_| if self.rng.uniform() < p { 0.0 } else { scale })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
        x.mul(&mask)
    }
}

/// A dense projection `y = x Wᵀ (+ b)` over the last dimension; `weight` is `[out, in]`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// Loads `weight` (and `bias` when `bias` is true) under `vb`.
    pub fn load(
        vb: VarBuilder,
        d_in: usize,
        d_out: usize,
        bias: bool,
    ) -> candle_core::Result<Self> {
        let weight = vb.get((d_out, d_in), "weight")?;
        let bias = if bias {
            Some(vb.get(d_out, "bias")?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    /// Applies the projection to `[..., in]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let d_in = dims.pop().unwrap_or(1);
        let rows = x.elem_count() / d_in.max(1);
        let y = x.reshape((rows, d_in))?.matmul(&self.weight.t()?)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        dims.push(y.dim(1)?);
        y.reshape(dims)
    }
}

/// Layer normalisation with learned scale (`weight`) and shift (`bias`).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// Loads `weight` and `bias` of width `cfg.d_model`.
    pub fn load(vb: VarBuilder, cfg: &ModelConfig) -> candle_core::Result<Self> {
        Ok(LayerNorm {
            weight: vb.get(cfg.d_model, "weight")?,
            bias: vb.get(cfg.d_model, "bias")?,
            eps: cfg.layer_norm_eps as f32,
        })
    }

    /// Normalises the last dimension.
    pub fn forward(&self, x: &Tensor, pass: &Pass) -> candle_core::Result<Tensor> {
        match pass.kernels {
            Kernels::Fused => candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps),
            Kernels::Differentiable => {
                candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps)
            }
        }
    }
}

fn softmax(x: &Tensor, pass: &Pass) -> candle_core::Result<Tensor> {
    match pass.kernels {
        Kernels::Fused => candle_nn::ops::softmax_last_dim(x),
        Kernels::Differentiable => candle_nn::ops::softmax(x, D::Minus1),
    }
}

/// Multi-head self-attention with one fused `qkv` projection and an `out` projection.
#[derive(Debug, Clone)]
pub struct SelfAttention {
    qkv: Linear,
    out: Linear,
    n_heads: usize,
    head_dim: usize,
}

impl SelfAttention {
    /// Loads `qkv` (`[3d, d]`) and `out` (`[d, d]`).
    pub fn load(vb: VarBuilder, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        Ok(SelfAttention {
            qkv: Linear::load(vb.pp("qkv"), d, 3 * d, cfg.linear_bias)?,
            out: Linear::load(vb.pp("out"), d, d, cfg.linear_bias)?,
            n_heads: cfg.n_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// `x`: `[B, T, d]`; `mask_bias`: `[B, 1, 1, T]`, 0 for tokens and a large negative number
    /// for padding, so padded keys get exactly zero weight.
    pub fn forward(
        &self,
        x: &Tensor,
        mask_bias: &Tensor,
        pass: &Pass,
    ) -> candle_core::Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let (h, dh) = (self.n_heads, self.head_dim);
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, t, 3, h, dh))?
            .permute((2, 0, 3, 1, 4))?;
        let q = (qkv.get(0)?.contiguous()? * (1.0 / (dh as f64).sqrt()))?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let att = q.matmul(&k.t()?)?.broadcast_add(mask_bias)?;
        let att = softmax(&att, pass)?;
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&y)
    }
}

/// Position-wise feed-forward block `down(act(up(x)))`.
#[derive(Debug, Clone)]
pub struct FeedForward {
    up: Linear,
    down: Linear,
    activation: Activation,
}

impl FeedForward {
    /// Loads `up` (`[ff, d]`) and `down` (`[d, ff]`).
    pub fn load(vb: VarBuilder, cfg: &ModelConfig) -> candle_core::Result<Self> {
        Ok(FeedForward {
            up: Linear::load(vb.pp("up"), cfg.d_model, cfg.d_ff, cfg.linear_bias)?,
            down: Linear::load(vb.pp("down"), cfg.d_ff, cfg.d_model, cfg.linear_bias)?,
            activation: cfg.activation,
        })
    }

    /// Applies the block to `[..., d]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.up.forward(x)?;
        let h = match self.activation {
            Activation::Relu => h.relu()?,
            Activation::QuickGelu => (&h * candle_nn::ops::sigmoid(&(&h * 1.702)?)?)?,
            Activation::GeluErf => h.gelu_erf()?,
            Activation::Gelu => h.gelu()?,
        };
        self.down.forward(&h)
    }
}

/// One pre-LN encoder layer: `x + attn(ln1(x))`, then `x + ff(ln2(x))`.
#[derive(Debug, Clone)]
pub struct EncoderLayer {
    ln1: LayerNorm,
    attn: SelfAttention,
    ln2: LayerNorm,
    ff: FeedForward,
}

impl EncoderLayer {
    /// Loads `ln1`, `attn`, `ln2`, `ff`.
    pub fn load(vb: VarBuilder, cfg: &ModelConfig) -> candle_core::Result<Self> {
        Ok(EncoderLayer {
            ln1: LayerNorm::load(vb.pp("ln1"), cfg)?,
            attn: SelfAttention::load(vb.pp("attn"), cfg)?,
            ln2: LayerNorm::load(vb.pp("ln2"), cfg)?,
            ff: FeedForward::load(vb.pp("ff"), cfg)?,
        })
    }

    /// Applies the layer to `[B, T, d]`.
    pub fn forward(
        &self,
        x: &Tensor,
        mask_bias: &Tensor,
        pass: &mut Pass,
    ) -> candle_core::Result<Tensor> {
        let a = self
            .attn
            .forward(&self.ln1.forward(x, pass)?, mask_bias, pass)?;
        let x = (x + pass.dropout(&a)?)?;
        let f = self.ff.forward(&self.ln2.forward(&x, pass)?)?;
        &x + pass.dropout(&f)?
    }
}

/// The whole classifier: token + learned position embeddings, pre-LN layers, final layer norm,
/// masked pooling (the mean, or attention with a learned query: [`Pooling`]), and a 3-logit head (independent sigmoids, [`crate::Category::ALL`] order).
#[derive(Debug, Clone)]
pub struct Encoder {
    word: candle_nn::Embedding,
    position: Tensor,
    layers: Vec<EncoderLayer>,
    final_ln: LayerNorm,
    /// `pool.query` (`[d]`) with [`Pooling::Attention`].
    pool_query: Option<Tensor>,
    head: Linear,
    d_model: usize,
    max_len: usize,
}

impl Encoder {
    /// Loads `embeddings.{word,position}`, `layers.{i}.*`, `final_ln`, `head`.
    pub fn load(vb: VarBuilder, cfg: &ModelConfig) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        let word = vb.pp("embeddings").get((cfg.vocab_size, d), "word")?;
        let position = vb.pp("embeddings").get((cfg.max_len, d), "position")?;
        let layers = (0..cfg.n_layers)
            .map(|i| EncoderLayer::load(vb.pp(format!("layers.{i}")), cfg))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Encoder {
            word: candle_nn::Embedding::new(word, d),
            position,
            layers,
            final_ln: LayerNorm::load(vb.pp("final_ln"), cfg)?,
            pool_query: match cfg.pooling {
                Pooling::Mean => None,
                Pooling::Attention => Some(vb.pp("pool").get(d, "query")?),
            },
            head: Linear::load(vb.pp("head"), d, 3, true)?,
            d_model: d,
            max_len: cfg.max_len,
        })
    }

    /// The token embedding table `[vocab, d]` (tied to the masked-LM output in pretraining).
    pub fn word_embeddings(&self) -> &Tensor {
        self.word.embeddings()
    }

    /// Contextual token states `[B, T, d]` after the final layer norm. `ids`: `[B, T]` u32;
    /// `mask`: `[B, T]` f32, 1 for tokens and 0 for padding.
    pub fn hidden(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        pass: &mut Pass,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if t > self.max_len {
            candle_core::bail!("input of {t} tokens exceeds max_len {}", self.max_len);
        }
        let x = self.word.forward(ids)?;
        let x = x.broadcast_add(&self.position.narrow(0, 0, t)?)?;
        let mut x = pass.dropout(&x)?;
        let mask_bias = ((mask - 1.0)? * 1e9)?.reshape((b, 1, 1, t))?;
        for layer in &self.layers {
            x = layer.forward(&x, &mask_bias, pass)?;
        }
        self.final_ln.forward(&x, pass)
    }

    /// Pools `hidden` over real tokens: `[B, d]`. The mean, or with [`Pooling::Attention`]
    /// the mean weighted by `softmax_t(q·h_t)` over the real tokens (differentiable softmax:
    /// the fused one has no backward).
    pub fn pool(&self, hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t) = mask.dims2()?;
        if let Some(q) = &self.pool_query {
            let scores = hidden.broadcast_matmul(&q.reshape((self.d_model, 1))?)?;
            let bias = ((mask - 1.0)? * 1e9)?.reshape((b, t, 1))?;
            let weights = candle_nn::ops::softmax(&(scores + bias)?, 1)?;
            return hidden.broadcast_mul(&weights)?.sum(1);
        }
        let m = mask.reshape((b, t, 1))?;
        let summed = hidden.broadcast_mul(&m)?.sum(1)?;
        let count = mask.sum_keepdim(1)?.clamp(1.0, f64::MAX)?;
        summed.broadcast_div(&count)
    }

    /// Per-category logits `[B, 3]`.
    pub fn forward(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        pass: &mut Pass,
    ) -> candle_core::Result<Tensor> {
        let h = self.hidden(ids, mask, pass)?;
        let pooled = self.pool(&h, mask)?;
        let pooled = pass.dropout(&pooled)?;
        self.head.forward(&pooled)
    }

    /// Width of the residual stream.
    pub fn d_model(&self) -> usize {
        self.d_model
    }
}

/// Builds `[B, T]` id and mask tensors from token-id rows, padding with `pad_id` to the longest
/// row. An empty row becomes one `pad_id` token with mask 1, so every row has a token.
pub fn pad_batch(
    rows: &[&[u32]],
    pad_id: u32,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let b = rows.len();
    let t = rows.iter().map(|r| r.len().max(1)).max().unwrap_or(1);
    let mut ids = vec![pad_id; b * t];
    let mut mask = vec![0f32; b * t];
    for (i, r) in rows.iter().enumerate() {
        if r.is_empty() {
            mask[i * t] = 1.0;
        }
        for (j, &id) in r.iter().enumerate() {
            ids[i * t + j] = id;
            mask[i * t + j] = 1.0;
        }
    }
    Ok((
        Tensor::from_vec(ids, (b, t), device)?,
        Tensor::from_vec(mask, (b, t), device)?.to_dtype(DType::F32)?,
    ))
}

/// A model directory's weights (f32 or f16) in the candle encoder: the reference the library's
/// packed engine is tested against.
#[derive(Debug, Clone)]
pub struct Reference {
    encoder: Encoder,
    pad_id: u32,
}

impl Reference {
    /// Loads `config.json` and `model.safetensors` from `dir`.
    pub fn from_dir(dir: &std::path::Path) -> crate::Result<Self> {
        use verbovka::model::{CONFIG_FILE, WEIGHTS_FILE};
        let origin = dir.display().to_string();
        let config = std::fs::read(dir.join(CONFIG_FILE))
            .map_err(|e| crate::Error::io(dir.join(CONFIG_FILE), e))?;
        let cfg = ModelConfig::from_json(&config, &origin)?;
        let tensors = candle_core::safetensors::load(dir.join(WEIGHTS_FILE), &Device::Cpu)?
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?)))
            .collect::<candle_core::Result<std::collections::HashMap<_, _>>>()?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        Ok(Reference {
            encoder: Encoder::load(vb, &cfg)?,
            pad_id: cfg.pad_id,
        })
    }

    /// Logits of pre-tokenised rows, padded with an attention mask, on the fused kernels.
    pub fn predict_ids(&self, rows: &[&[u32]]) -> crate::Result<Vec<[f32; 3]>> {
        let (ids, mask) = pad_batch(rows, self.pad_id, &Device::Cpu)?;
        let logits = self.encoder.forward(&ids, &mask, &mut Pass::inference())?;
        let v = logits.to_vec2::<f32>()?;
        Ok(v.into_iter().map(|r| [r[0], r[1], r[2]]).collect())
    }
}
