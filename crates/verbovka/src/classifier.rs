//! The seam between the pipeline and any statistical model.

use crate::{PerCategory, Result};

/// What a classifier says about one (normalised) text (default: zero logits, not truncated).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ModelOutput {
    /// Per-category logits in [`crate::Category::ALL`] order (independent sigmoids, not a softmax:
    /// a post can be both sabotage and lure).
    pub logits: PerCategory<f32>,
    /// Whether the text was longer than the model's window and only its beginning was read.
    pub truncated: bool,
}

/// A model that scores normalised texts. Implementations must be deterministic and give a text
/// the same output alone or inside a batch (up to 1e-5).
pub trait Classifier: Send + Sync {
    /// Scores a batch of normalised texts; the output has one entry per input, in input order.
    fn predict(&self, texts: &[&str]) -> Result<Vec<ModelOutput>>;

    /// A short name for evidence and model cards (e.g. `"verbovka-small-v1"`).
    fn name(&self) -> &str;

    /// How many texts [`crate::Detector::score_batch`] hands to one `predict` call (one
    /// parallel task). The classifier owns its batching: the default 32 suits most models.
    fn batch_size(&self) -> usize {
        32
    }

    /// Fusion constants and thresholds fitted for this model, if any; a detector built with
    /// the model uses them unless given its own.
    fn calibration(&self) -> Option<crate::scoring::Calibration> {
        None
    }
}
