//! The small transformer classifier: tokenizer encoding, the inference engine, loading.
//!
//! - [`TransformerClassifier`]: one trained model behind [`crate::Classifier`] (load it
//!   with `from_dir` or `from_bytes`).
//! - [`Ensemble`]: several trained models with their logits averaged — what ships
//!   (`Ensemble::embedded()` under the default `embedded-model` feature); [`load_dir`] loads
//!   either kind of directory.
//! - [`ModelConfig`]: `config.json` of a model directory.
//! - [`TextEncoder`]: the tokenizer with the model's window.
//! - [`Engine`]: which kernels run the model (AVX-512, AVX2+FMA or portable; chosen at run
//!   time by default), and [`Transformer`]: one encoder's packed weights and forward pass.
//!
//! The encoder is a pre-LN transformer with learned positions, masked pooling ([`Pooling`]: the
//! mean, or attention with a learned query) and three independent sigmoid outputs in [`crate::Category::ALL`] order. It is trained in the
//! `verbovka-lab` crate (candle); this crate only runs it, on its own packed engine.
//!
//! A model directory holds `config.json`, `tokenizer.json`, `model.safetensors` (f32 or f16
//! tensors), `README.md` and, once fitted on dev by the lab's `calibrate`,
//! `calibration.json`. An ensemble directory holds `ensemble.json`, one model directory per
//! member, its `README.md` and its `calibration.json`.

mod classifier;
mod config;
#[cfg(feature = "embedded-model")]
mod embedded;
mod ensemble;
#[allow(unsafe_code)] // the SIMD kernels: each `unsafe` has its `# Safety` or `SAFETY:`
mod fast;
mod isolated;
mod tokenizer;

pub use classifier::{
    TransformerClassifier, Windows, CALIBRATION_FILE, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
pub use config::{Activation, ModelConfig, Pooling};
pub use ensemble::{load_dir, Ensemble, EnsembleSpec, ENSEMBLE_FILE};
pub use fast::{Engine, Transformer};
pub use tokenizer::TextEncoder;
