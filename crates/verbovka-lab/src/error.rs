//! The lab's error: the library's (which also carries the lab's I/O, data and configuration
//! errors, so each is said one way), candle's, the tokenizer trainer's or safetensors'.

use std::path::PathBuf;

/// Everything that can go wrong in the lab; the failing dependency's error is its `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the library (rules, model loading, normalisation, telegram reader).
    #[error(transparent)]
    Verbovka(#[from] verbovka::Error),
    /// From candle while building, training or running the training model.
    #[error("model computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// From the tokenizer trainer.
    #[error("tokenizer: {0}")]
    Tokenizer(#[source] verbovka::BoxError),
    /// From safetensors while writing weights.
    #[error("safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
}

/// `Result` with the lab's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns (the library's [`verbovka::Error::Io`]).
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Verbovka(verbovka::Error::io(path, source))
    }
}
