//! verbovka's lab: everything that makes the library's data and model, none of which a program
//! that scores text needs. Never published; depends on `verbovka`, never the reverse.
//!
//! - [`data`]: seed files, family-wise splits, the seed-expansion generator, background
//!   sampling from the real corpora (`../shared/corpora`, read by path, never committed);
//! - [`tokenizer`]: Unigram tokenizer training (the library only encodes);
//! - [`nn`] and [`train`]: the candle encoder (the reference the library's engine is tested
//!   against) and its training, which writes a model directory with its card ([`card`]);
//! - [`calibrate`]: fitting the fusion constants and thresholds on dev through the library's
//!   own pre-fusion step ([`verbovka::Detector::analyse_batch`]);
//! - [`eval`]: per-category and binary figures, false-positive rates on hard negatives and
//!   background, obfuscated recall.
//!
//! Binaries (`cargo run --release -p verbovka-lab --bin NAME -- --help`): `make_dataset`,
//! `train`, `calibrate`, `evaluate`, `compact`, `dump_logits`, `gen_export`.
#![deny(missing_docs)]

mod error;

pub mod calibrate;
pub mod card;
pub mod data;
pub mod eval;
pub mod metrics;
pub mod nn;
pub mod rng;
pub mod tokenizer;
pub mod train;

pub use error::{Error, Result};
pub use verbovka::{Category, Label, Lang, Scores};
