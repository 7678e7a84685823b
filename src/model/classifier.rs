//! [`TransformerClassifier`]: the trained encoder behind the crate's [`Classifier`] seam.

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use tokenizers::Tokenizer;

use super::config::ModelConfig;
use super::fast::FastEncoder;
use super::nn::{pad_batch, Encoder, Pass};
use super::tokenizer::TextEncoder;
use crate::scoring::Calibration;
use crate::{Classifier, Error, ModelOutput, Result};

/// File names inside a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// See [`CONFIG_FILE`].
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// See [`CONFIG_FILE`].
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Optional: fusion constants and thresholds fitted on dev (`examples/calibrate.rs`).
pub const CALIBRATION_FILE: &str = "calibration.json";

/// Default number of texts run through the encoder at once (candle is fastest at 8–32).
pub const DEFAULT_BATCH: usize = 32;

/// The small transformer encoder as a [`Classifier`].
///
/// Inputs are **normalised** texts (`verbovka::normalize`). Each text is tokenised, truncated to
/// the first [`ModelConfig::max_len`] tokens (reported as [`ModelOutput::truncated`]), texts are
/// sorted by length, padded to the longest of each batch with an attention mask, scored, and
/// returned in input order. A text scores the same alone and in a batch (up to float rounding,
/// tested at 1e-5).
///
/// Inference runs on a packed single-threaded engine written on `gemm` (the same function as the
/// candle [`Encoder`], tested against it): each batch uses exactly one thread, whatever
/// `RAYON_NUM_THREADS`/`CANDLE_NUM_THREADS` say, and the batches of one `predict` call run in
/// parallel on the caller's rayon pool (turn that off with [`Self::with_parallel`] when calling
/// from your own workers). Sequences are packed rather than padded, which computes exactly what
/// padding plus an attention mask computes, minus the padding.
#[derive(Debug, Clone)]
pub struct TransformerClassifier {
    config: ModelConfig,
    encoder: TextEncoder,
    model: Encoder,
    fast: Arc<FastEncoder>,
    device: Device,
    batch_size: usize,
    parallel: bool,
    calibration: Option<Calibration>,
}

fn model_err(origin: &str, message: impl Into<String>) -> Error {
    Error::Model {
        origin: origin.to_string(),
        message: message.into(),
    }
}

impl TransformerClassifier {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let origin = dir.display().to_string();
        let read = |name: &str| -> Result<Vec<u8>> {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    model_err(
                        &origin,
                        format!("missing {name} (expected {})", p.display()),
                    )
                } else {
                    model_err(&origin, format!("cannot read {name}: {e}"))
                }
            })
        };
        let config = read(CONFIG_FILE)?;
        let tokenizer = read(TOKENIZER_FILE)?;
        let weights = read(WEIGHTS_FILE)?;
        let model = Self::load(&config, &tokenizer, &weights, &origin)?;
        match std::fs::read(dir.join(CALIBRATION_FILE)) {
            Ok(bytes) => model.with_calibration_json(&bytes, &origin),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(model),
            Err(e) => Err(model_err(
                &origin,
                format!("cannot read {CALIBRATION_FILE}: {e}"),
            )),
        }
    }

    /// Attaches a calibration given as the contents of `calibration.json`.
    pub fn with_calibration_json(self, json: &[u8], origin: &str) -> Result<Self> {
        let c: Calibration = serde_json::from_slice(json)
            .map_err(|e| model_err(origin, format!("{CALIBRATION_FILE}: {e}")))?;
        c.validate()
            .map_err(|e| model_err(origin, format!("{CALIBRATION_FILE}: {e}")))?;
        Ok(self.with_calibration(Some(c)))
    }

    /// Attaches (or removes) the fusion constants and thresholds a detector should use with
    /// this model.
    pub fn with_calibration(mut self, calibration: Option<Calibration>) -> Self {
        self.calibration = calibration;
        self
    }

    /// Builds a classifier from the three files' contents.
    pub fn from_bytes(
        config_json: &[u8],
        tokenizer_json: &[u8],
        safetensors: &[u8],
    ) -> Result<Self> {
        Self::load(config_json, tokenizer_json, safetensors, "<bytes>")
    }

    fn load(config: &[u8], tokenizer: &[u8], weights: &[u8], origin: &str) -> Result<Self> {
        let config = ModelConfig::from_json(config, origin)?;
        let tokenizer = Tokenizer::from_bytes(tokenizer)
            .map_err(|e| model_err(origin, format!("{TOKENIZER_FILE}: {e}")))?;
        Self::from_parts(config, tokenizer, weights, origin)
    }

    /// Builds a classifier from a parsed config and tokenizer and the safetensors bytes.
    pub fn from_parts(
        config: ModelConfig,
        tokenizer: Tokenizer,
        weights: &[u8],
        origin: &str,
    ) -> Result<Self> {
        config
            .validate()
            .map_err(|e| model_err(origin, format!("{CONFIG_FILE}: {e}")))?;
        let tok_vocab = tokenizer.get_vocab_size(true);
        if tok_vocab != config.vocab_size {
            return Err(model_err(
                origin,
                format!(
                    "{TOKENIZER_FILE} has {tok_vocab} tokens but {CONFIG_FILE} says vocab_size {}",
                    config.vocab_size
                ),
            ));
        }
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(weights, &device)
            .map_err(|e| model_err(origin, format!("{WEIGHTS_FILE}: {e}")))?;
        let mismatch = |e: &dyn std::fmt::Display| {
            model_err(
                origin,
                format!("{WEIGHTS_FILE} does not match {CONFIG_FILE}: {e}"),
            )
        };
        let fast = FastEncoder::from_tensors(&config, &|name: &str| {
            tensors
                .get(name)
                .cloned()
                .ok_or_else(|| Error::Config(format!("tensor {name} is missing")))
        })
        .map_err(|e| mismatch(&e))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = Encoder::load(vb, &config).map_err(|e| mismatch(&e))?;
        let encoder = TextEncoder::new(tokenizer, config.max_len);
        Ok(TransformerClassifier {
            config,
            encoder,
            model,
            fast: Arc::new(fast),
            device,
            batch_size: DEFAULT_BATCH,
            parallel: true,
            calibration: None,
        })
    }

    /// Sets how many texts go through the encoder at once (default 32).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Whether the batches of one `predict` call run in parallel on rayon (default true). Turn
    /// it off when you already call `predict` from several threads.
    pub fn with_parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The tokenizer with the model's window.
    pub fn text_encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    /// Per-category probabilities (sigmoid of the logits) in [`crate::Category::ALL`] order.
    pub fn probabilities(&self, texts: &[&str]) -> Result<Vec<[f32; 3]>> {
        Ok(self
            .predict(texts)?
            .iter()
            .map(|o| o.logits.map(sigmoid))
            .collect())
    }

    /// Logits of pre-tokenised rows (each at most `max_len` ids), in the given order, by the
    /// single-threaded packed engine that [`Classifier::predict`] uses.
    pub fn predict_ids(&self, rows: &[&[u32]]) -> Result<Vec<[f32; 3]>> {
        self.fast.forward(rows, self.config.pad_id)
    }

    /// The same logits computed by the candle encoder (padding + attention mask, fused kernels):
    /// the reference the packed engine is tested against.
    pub fn predict_ids_candle(&self, rows: &[&[u32]]) -> Result<Vec<[f32; 3]>> {
        let (ids, mask) = pad_batch(rows, self.config.pad_id, &self.device)?;
        let logits = self.model.forward(&ids, &mask, &mut Pass::inference())?;
        let v = logits.to_vec2::<f32>()?;
        Ok(v.into_iter().map(|r| [r[0], r[1], r[2]]).collect())
    }
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Classifier for TransformerClassifier {
    fn predict(&self, texts: &[&str]) -> Result<Vec<ModelOutput>> {
        let encoded: Vec<(Vec<u32>, bool)> = texts
            .iter()
            .map(|t| self.encoder.encode(t))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encoded[i].0.len());
        let chunks: Vec<&[usize]> = order.chunks(self.batch_size).collect();
        let run = |chunk: &&[usize]| -> Result<Vec<[f32; 3]>> {
            let rows: Vec<&[u32]> = chunk.iter().map(|&i| encoded[i].0.as_slice()).collect();
            self.predict_ids(&rows)
        };
        let scored: Vec<Vec<[f32; 3]>> = if self.parallel && chunks.len() > 1 {
            chunks.par_iter().map(run).collect::<Result<_>>()?
        } else {
            chunks.iter().map(run).collect::<Result<_>>()?
        };
        let mut out = vec![
            ModelOutput {
                logits: [0.0; 3],
                truncated: false
            };
            texts.len()
        ];
        for (chunk, logits) in chunks.iter().zip(scored) {
            for (&i, l) in chunk.iter().zip(logits) {
                out[i] = ModelOutput {
                    logits: l,
                    truncated: encoded[i].1,
                };
            }
        }
        Ok(out)
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn calibration(&self) -> Option<Calibration> {
        self.calibration
    }
}
