//! The lab's error: the library's, candle's, or a lab input that is wrong at a known place.

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
    /// An I/O error on a named file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Input data (a seed file, a dataset line) is malformed at a known place.
    #[error("{origin}: {message}")]
    Data {
        /// File and position (line) of the damage.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// An argument or configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// `Result` with the lab's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
