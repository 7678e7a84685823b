//! The small transformer classifier: tokenizer, encoder, training, loading.
//!
//! - [`TransformerClassifier`]: one trained model behind [`crate::Classifier`] (load it
//!   with `from_dir` or `from_bytes`).
//! - [`Ensemble`]: several trained models with their logits averaged — what ships
//!   (`Ensemble::embedded()` under the default `embedded-model` feature); [`load_dir`] loads
//!   either kind of directory.
//! - [`ModelConfig`]: `config.json` of a model directory.
//! - [`nn`]: the encoder's modules (pre-LN layers, learned positions, masked mean pooling,
//!   three independent sigmoid outputs in [`crate::Category::ALL`] order).
//! - [`train()`]: tokenizer + model training that writes a model directory with its model card.
//!
//! A model directory holds `config.json`, `tokenizer.json`, `model.safetensors`, `README.md`
//! and, once fitted on dev by `examples/calibrate.rs`, `calibration.json`. An ensemble
//! directory holds `ensemble.json`, one model directory per member, its `README.md` and its
//! `calibration.json`.

mod card;
mod classifier;
mod config;
#[cfg(feature = "embedded-model")]
mod embedded;
mod ensemble;
mod fast;
pub mod metrics;
pub mod nn;
mod rng;
mod tokenizer;
pub mod train;

pub use card::{render_card, sha256_hex, today_utc};
pub use classifier::{
    sigmoid, TransformerClassifier, CALIBRATION_FILE, CONFIG_FILE, DEFAULT_BATCH, TOKENIZER_FILE,
    WEIGHTS_FILE,
};
pub use config::{Activation, ModelConfig};
pub use ensemble::{load_dir, Ensemble, EnsembleSpec, ENSEMBLE_FILE};
pub use rng::Rng;
pub use tokenizer::{train_tokenizer, TextEncoder, MASK, PAD, UNK};
pub use train::{train, Progress, TrainOptions, TrainReport};
