//! The model's hyper-parameters, stored next to the weights as `config.json`.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Non-linearity of the feed-forward blocks.
///
/// Measured on this project's 2-core AVX-512 machine (TECH-NOTES): tanh-GELU costs about half of
/// inference time (scalar `tanhf`); ReLU is 2.5× faster, quick-GELU 1.7×.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`: the fastest.
    Relu,
    /// `x · σ(1.702 x)`: a cheap GELU approximation.
    QuickGelu,
    /// Exact GELU with `erf`.
    GeluErf,
    /// GELU with the tanh approximation (slowest on CPU).
    Gelu,
}

/// How a window's token states become one vector for the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The mean over the window's tokens (every model before 2026-12-08). An offer that shares
    /// its window with a benign preamble is diluted by it.
    #[default]
    Mean,
    /// A softmax-weighted mean: token `t` weighs `exp(q·h_t)` with a learned vector `q`
    /// (tensor `pool.query`, `[d_model]`), so the tokens that carry the evidence can outweigh
    /// the others however many there are. With `q = 0` it is the mean.
    Attention,
}

impl Pooling {
    fn is_mean(&self) -> bool {
        *self == Pooling::Mean
    }
}

/// Architecture and tokenizer facts of one encoder; `config.json` in a model directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Short model name, reported by [`crate::Classifier::name`].
    pub name: String,
    /// Number of token ids (must equal the tokenizer's vocabulary size).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of encoder layers.
    pub n_layers: usize,
    /// Attention heads per layer (`d_model` must be divisible by it).
    pub n_heads: usize,
    /// Inner width of the feed-forward blocks.
    pub d_ff: usize,
    /// Longest input in tokens (learned positions); longer texts are truncated to their beginning.
    pub max_len: usize,
    /// Feed-forward non-linearity.
    pub activation: Activation,
    /// Whether the attention and feed-forward projections carry a bias (layer norms and the
    /// output head always do).
    pub linear_bias: bool,
    /// Epsilon of the layer norms.
    pub layer_norm_eps: f64,
    /// Token id used for padding (also stands for an empty text).
    pub pad_id: u32,
    /// How the token states are pooled (absent in `config.json`: the mean).
    #[serde(default, skip_serializing_if = "Pooling::is_mean")]
    pub pooling: Pooling,
    /// Per-category probability thresholds chosen on the dev split for the model alone
    /// (in [`crate::Category::ALL`] order), if the model was trained with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<[f32; 3]>,
}

impl Default for ModelConfig {
    /// The shipped size: 2 layers × d128, 4 heads, ff 512, 128 tokens, ReLU, 8k vocabulary.
    fn default() -> Self {
        ModelConfig {
            name: "verbovka-small-v1".to_string(),
            vocab_size: 8_000,
            d_model: 128,
            n_layers: 2,
            n_heads: 4,
            d_ff: 512,
            max_len: 128,
            activation: Activation::Relu,
            linear_bias: false,
            layer_norm_eps: 1e-5,
            pad_id: 0,
            pooling: Pooling::Mean,
            thresholds: None,
        }
    }
}

impl ModelConfig {
    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads.max(1)
    }

    /// Checks that the numbers fit together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("model config: {m}")));
        if self.vocab_size == 0 || self.d_model == 0 || self.n_layers == 0 || self.d_ff == 0 {
            return bad("vocab_size, d_model, n_layers and d_ff must be positive".into());
        }
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return bad(format!(
                "d_model {} is not divisible by n_heads {}",
                self.d_model, self.n_heads
            ));
        }
        if self.max_len == 0 {
            return bad("max_len must be positive".into());
        }
        if self.pad_id as usize >= self.vocab_size {
            return bad(format!(
                "pad_id {} outside vocabulary {}",
                self.pad_id, self.vocab_size
            ));
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps < 1.0) {
            return bad(format!(
                "layer_norm_eps {} out of (0, 1)",
                self.layer_norm_eps
            ));
        }
        if let Some(t) = self.thresholds {
            if t.iter().any(|x| !(0.0..=1.0).contains(x)) {
                return bad(format!("thresholds {t:?} must lie in [0, 1]"));
            }
        }
        Ok(())
    }

    /// Parses and validates `config.json` text.
    pub fn from_json(text: &[u8], origin: &str) -> Result<Self> {
        let cfg: ModelConfig = serde_json::from_slice(text).map_err(|e| Error::Model {
            origin: origin.to_string(),
            message: format!("config.json: {e}"),
        })?;
        cfg.validate().map_err(|e| Error::Model {
            origin: origin.to_string(),
            message: format!("config.json: {e}"),
        })?;
        Ok(cfg)
    }

    /// Number of trainable parameters of the classifier.
    pub fn n_params(&self) -> usize {
        let d = self.d_model;
        let b = usize::from(self.linear_bias);
        let attn = d * 3 * d + 3 * d * b + d * d + d * b;
        let ff = d * self.d_ff + self.d_ff * b + self.d_ff * d + d * b;
        let layer = attn + ff + 4 * d;
        let pool = if self.pooling == Pooling::Attention {
            d
        } else {
            0
        };
        self.vocab_size * d + self.max_len * d + self.n_layers * layer + 2 * d + 3 * d + 3 + pool
    }
}
