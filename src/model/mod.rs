//! The small transformer classifier: tokenizer, encoder, training, loading.
//!
//! - [`TransformerClassifier`]: the trained model behind [`crate::Classifier`] (load it
//!   with `from_dir`, `from_bytes`, or `embedded()` under the default `embedded-model` feature).
//! - [`ModelConfig`]: `config.json` of a model directory.
//! - [`nn`]: the encoder's modules (pre-LN layers, learned positions, masked mean pooling,
//!   three independent sigmoid outputs in [`crate::Category::ALL`] order).
//! - [`train()`]: tokenizer + model training that writes a model directory with its model card.
//!
//! A model directory holds `config.json`, `tokenizer.json`, `model.safetensors`, `README.md`
//! and, once fitted on dev by `examples/calibrate.rs`, `calibration.json`.

mod card;
mod classifier;
mod config;
#[cfg(feature = "embedded-model")]
mod embedded;
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
pub use rng::Rng;
pub use tokenizer::{train_tokenizer, TextEncoder, MASK, PAD, UNK};
pub use train::{train, Progress, TrainOptions, TrainReport};
