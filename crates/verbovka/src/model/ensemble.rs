//! [`Ensemble`]: several trained encoders whose logits are averaged — the shipped default.
//!
//! Why: the dataset is a few thousand hand-written seed ideas, and a model trained on them
//! misses unseen phrasings somewhat at random — another seed misses others. Averaging the logits
//! of members trained alike from different seeds cancels much of that: on the dev split (fused
//! with the rules, thresholds fitted per candidate) pairs gained about 0.010 binary F1 over the
//! single members' mean, three members 0.013 (and macro F1 0.02), four no more (the model card
//! has the table).
//! Each member costs one forward pass, so an ensemble of `n` scores about `1/n` as many posts per
//! second as one member.
//!
//! An ensemble directory holds `ensemble.json` (`{"name": "...", "members": ["seed-7", ...]}`),
//! one model directory per member (named in `members`, each with its own tokenizer), and the
//! ensemble's `calibration.json`; the members' own calibrations are not used.

use rayon::prelude::*;
use std::path::Path;

use serde::Deserialize;

use super::classifier::{parse_calibration, read_calibration, TransformerClassifier};
use crate::scoring::Calibration;
use crate::{Classifier, Error, ModelOutput, Result};

/// The file that makes a directory an ensemble.
pub const ENSEMBLE_FILE: &str = "ensemble.json";

/// `ensemble.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSpec {
    /// The ensemble's name (evidence and model cards).
    pub name: String,
    /// Member directories, relative to the ensemble directory.
    pub members: Vec<String>,
}

impl EnsembleSpec {
    /// Parses and checks `ensemble.json` (at least one member, names unique and plain).
    pub fn from_json(json: &[u8], origin: &str) -> Result<Self> {
        let err = |m: String| Error::Model {
            origin: origin.to_string(),
            message: format!("{ENSEMBLE_FILE}: {m}"),
        };
        let spec: EnsembleSpec = serde_json::from_slice(json).map_err(|e| err(e.to_string()))?;
        if spec.members.is_empty() {
            return Err(err("no members".into()));
        }
        for (i, m) in spec.members.iter().enumerate() {
            if m.is_empty() || m.contains(['/', '\\']) || m == "." || m == ".." {
                return Err(err(format!(
                    "member {m:?} must name a subdirectory (no path separators)"
                )));
            }
            if spec.members[..i].contains(m) {
                return Err(err(format!("member {m:?} is listed twice")));
            }
        }
        Ok(spec)
    }
}

/// Members' logits averaged (see the module docs). A text is `truncated` if any member
/// truncated it. Like each member, it scores a text the same alone and in a batch.
#[derive(Debug, Clone)]
pub struct Ensemble {
    name: String,
    members: Vec<TransformerClassifier>,
    calibration: Option<Calibration>,
}

impl Ensemble {
    /// An ensemble of `members` (at least one).
    pub fn new(name: impl Into<String>, members: Vec<TransformerClassifier>) -> Result<Self> {
        let name = name.into();
        if members.is_empty() {
            return Err(Error::Model {
                origin: name,
                message: "an ensemble needs at least one member".into(),
            });
        }
        Ok(Ensemble {
            name,
            members,
            calibration: None,
        })
    }

    /// Loads `ensemble.json`, every member directory it names and `calibration.json` (if
    /// present) from `dir`.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let origin = dir.display().to_string();
        let path = dir.join(ENSEMBLE_FILE);
        let json = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let spec = EnsembleSpec::from_json(&json, &origin)?;
        // Members load in parallel; the first failure in member order is the error.
        let members = spec
            .members
            .par_iter()
            .map(|m| TransformerClassifier::from_dir(dir.join(m)))
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(Ensemble::new(spec.name, members)?.with_calibration(read_calibration(dir, &origin)?))
    }

    /// Attaches a calibration given as the contents of `calibration.json`.
    pub fn with_calibration_json(self, json: &[u8], origin: &str) -> Result<Self> {
        Ok(self.with_calibration(Some(parse_calibration(json, origin)?)))
    }

    /// Attaches (or removes) the fusion constants and thresholds a detector should use with
    /// this ensemble.
    pub fn with_calibration(mut self, calibration: Option<Calibration>) -> Self {
        self.calibration = calibration;
        self
    }

    /// Runs every member on these kernels (see [`TransformerClassifier::with_engine`]); an
    /// engine this CPU lacks is an error.
    pub fn with_engine(mut self, engine: super::Engine) -> Result<Self> {
        self.members = self
            .members
            .into_iter()
            .map(|m| m.with_engine(engine))
            .collect::<Result<Vec<_>>>()?;
        Ok(self)
    }

    /// Where every member's windows start (see [`super::Windows`]).
    pub fn with_windows(mut self, windows: super::Windows) -> Self {
        self.members = self
            .members
            .into_iter()
            .map(|m| m.with_windows(windows))
            .collect();
        self
    }

    /// The members, in `ensemble.json` order.
    pub fn members(&self) -> &[TransformerClassifier] {
        &self.members
    }
}

impl Classifier for Ensemble {
    fn predict(&self, texts: &[&str]) -> Result<Vec<ModelOutput>> {
        let mut out = vec![ModelOutput::default(); texts.len()];
        for m in &self.members {
            for (o, p) in out.iter_mut().zip(m.predict(texts)?) {
                for (s, l) in o.logits.0.iter_mut().zip(p.logits.0) {
                    *s += l;
                }
                o.truncated |= p.truncated;
            }
        }
        let n = self.members.len() as f32;
        for o in &mut out {
            o.logits = o.logits.map(|l| l / n);
        }
        Ok(out)
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// The members' own batching (the first member's; `new` refuses an empty ensemble).
    fn batch_size(&self) -> usize {
        self.members.first().map_or(1, |m| m.batch_size())
    }

    fn calibration(&self) -> Option<Calibration> {
        self.calibration.clone()
    }
}

/// Loads the model directory `dir`: an [`Ensemble`] if it holds `ensemble.json`, else one
/// [`TransformerClassifier`].
pub fn load_dir(dir: impl AsRef<Path>) -> Result<std::sync::Arc<dyn Classifier>> {
    let dir = dir.as_ref();
    Ok(if dir.join(ENSEMBLE_FILE).exists() {
        std::sync::Arc::new(Ensemble::from_dir(dir)?)
    } else {
        std::sync::Arc::new(TransformerClassifier::from_dir(dir)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_is_checked() {
        let ok = EnsembleSpec::from_json(br#"{"name": "e", "members": ["a", "b"]}"#, "x").unwrap();
        assert_eq!(ok.members, ["a", "b"]);
        for (json, needle) in [
            (r#"{"name": "e", "members": []}"#, "no members"),
            (r#"{"name": "e", "members": ["a", "a"]}"#, "twice"),
            (r#"{"name": "e", "members": ["../a"]}"#, "subdirectory"),
            (r#"{"name": "e"}"#, "members"),
            (
                r#"{"name": "e", "members": ["a"], "x": 1}"#,
                "unknown field",
            ),
        ] {
            let e = EnsembleSpec::from_json(json.as_bytes(), "dir").unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(needle) && msg.contains("ensemble.json"),
                "{msg}"
            );
        }
    }
}
