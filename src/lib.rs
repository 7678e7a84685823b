//! verbovka: finds Telegram posts recruiting people for sabotage or spying (Russian, Ukrainian).
//!
//! (Crate manual: written with the pipeline; see README.md meanwhile.)
#![deny(missing_docs)]

mod classifier;
mod detector;
mod error;
mod lang;
mod types;
mod verdict;

pub mod data;
pub mod eval;
pub mod model;
pub mod normalize;
pub mod rules;
pub mod scoring;
pub mod telegram;

pub use classifier::{Classifier, ModelOutput};
pub use detector::{Detector, DetectorBuilder};
pub use error::{Error, Result};
pub use normalize::{normalize, Normalized};
pub use types::{Category, Label, Lang, Scores, Span};
pub use verdict::{Evidence, Verdict};
