//! The shipped model (`models/default`), compiled into the library by the default
//! `embedded-model` feature so that [`crate::Detector::new`] needs no paths.

use super::classifier::TransformerClassifier;
use crate::Result;

const ORIGIN: &str = "<embedded models/default>";
const CONFIG: &[u8] = include_bytes!("../../models/default/config.json");
const TOKENIZER: &[u8] = include_bytes!("../../models/default/tokenizer.json");
const WEIGHTS: &[u8] = include_bytes!("../../models/default/model.safetensors");
const CALIBRATION: &[u8] = include_bytes!("../../models/default/calibration.json");

impl TransformerClassifier {
    /// The shipped model with its calibration (fusion constants and thresholds fitted on the
    /// dev split).
    pub fn embedded() -> Result<Self> {
        TransformerClassifier::from_bytes(CONFIG, TOKENIZER, WEIGHTS)?
            .with_calibration_json(CALIBRATION, ORIGIN)
    }
}
