//! The crate's one error type.

use std::path::PathBuf;

/// A boxed error from a dependency, kept as the [`std::error::Error::source`] of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in verbovka. Each variant names *what* failed and *where*
/// (rule id, file, byte offset), so a user can fix the input without reading the source; the
/// error of the dependency that failed, if any, is kept as its `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule file could not be parsed (TOML syntax, unknown field, wrong type).
    #[error("rule file {origin}: {source}")]
    RuleFile {
        /// Where the rules came from (a path or `<embedded>`).
        origin: String,
        /// What the TOML parser said.
        #[source]
        source: toml::de::Error,
    },
    /// One rule is invalid: bad regex, bad keyword, unknown category or role, bad weight.
    #[error("rule `{rule}`: {message}")]
    Rule {
        /// The rule's id.
        rule: String,
        /// What is wrong with it.
        message: String,
    },
    /// The rules are valid one by one but their matcher could not be built (too large).
    #[error("rules: {what}: {source}")]
    RuleMatcher {
        /// Which matcher (keyword automaton, pattern set).
        what: &'static str,
        /// What the matcher's builder said.
        #[source]
        source: BoxError,
    },
    /// A model directory or embedded model is missing a file or does not match its config.
    #[error("model {origin}: {message}")]
    Model {
        /// Where the model came from (a directory or `<embedded>`).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer failed on a text.
    #[error("tokenizer: {0}")]
    Tokenizer(#[source] BoxError),
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
    /// An argument or configuration value is out of range, or an input the caller built (token
    /// ids for the engine) does not fit the model.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An invariant of the engine did not hold: a bug in verbovka, never the input's fault.
    #[error("internal error (please report): {0}")]
    Internal(String),
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
