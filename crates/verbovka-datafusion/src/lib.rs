//! verbovka's detector as DataFusion scalar functions (manual below, written last).
#![deny(missing_docs)]

#[cfg(feature = "ballista")]
pub mod cluster;
pub mod messages;
mod udf;

pub use udf::{default_detector, score_fields, Functions, DEFAULT_MAX_TEXT_BYTES, EVIDENCE, LABEL, SCORE};
