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
pub mod finetune;
pub mod metrics;
pub mod nn;
pub mod rng;
pub mod tokenizer;
pub mod train;

pub use error::{Error, Result};
pub use verbovka::{Category, Label, Lang, Scores};

/// A model directory (an ensemble, or one member) read as `verbovka::model::load_dir` reads
/// it, with its windows placed as `windows` says (the bins' `--windows stride|sentences`).
pub fn load_model(
    dir: &std::path::Path,
    windows: verbovka::model::Windows,
) -> verbovka::Result<std::sync::Arc<dyn verbovka::Classifier>> {
    use verbovka::model::{Ensemble, TransformerClassifier, ENSEMBLE_FILE};
    Ok(if dir.join(ENSEMBLE_FILE).exists() {
        std::sync::Arc::new(Ensemble::from_dir(dir)?.with_windows(windows))
    } else {
        std::sync::Arc::new(TransformerClassifier::from_dir(dir)?.with_windows(windows))
    })
}

/// Parses `--windows`' value.
pub fn parse_windows(v: &str) -> std::result::Result<verbovka::model::Windows, String> {
    match v {
        "stride" => Ok(verbovka::model::Windows::Stride),
        "sentences" => Ok(verbovka::model::Windows::Sentences),
        other => Err(format!("--windows: unknown {other:?} (stride, sentences)")),
    }
}
