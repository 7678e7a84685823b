//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in verbovka. Each variant names *what* failed and *where*
/// (rule id, file, byte offset), so a user can fix the input without reading the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule file could not be parsed (TOML syntax, unknown field, wrong type).
    #[error("rule file {origin}: {message}")]
    RuleFile {
        /// Where the rules came from (a path or `<embedded>`).
        origin: String,
        /// What the parser said.
        message: String,
    },
    /// One rule is invalid: bad regex, bad keyword, unknown category or role, bad weight.
    #[error("rule `{rule}`: {message}")]
    Rule {
        /// The rule's id.
        rule: String,
        /// What is wrong with it.
        message: String,
    },
    /// A model directory or embedded model is missing a file or does not match its config.
    #[error("model {origin}: {message}")]
    Model {
        /// Where the model came from (a directory or `<embedded>`).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// An error from candle while building or running the model.
    #[error("model computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// An error from the tokenizer.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An I/O error on a named file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Input data (a dataset, a JSONL line, an export) is malformed at a known place.
    #[error("{origin}: {message}")]
    Data {
        /// File and position (line or byte offset) of the damage.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// An argument or configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// `Result` with [`Error`].
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
