//! The shipped model (`models/default`, an [`Ensemble`]), compiled into the library by the
//! default `embedded-model` feature so that [`crate::Detector::new`] needs no paths.

use super::classifier::TransformerClassifier;
use super::ensemble::{Ensemble, EnsembleSpec};
use crate::{Error, Result};
use rayon::prelude::*;

const ORIGIN: &str = "<embedded models/default>";
const ENSEMBLE: &[u8] = include_bytes!("../../models/default/ensemble.json");
const CALIBRATION: &[u8] = include_bytes!("../../models/default/calibration.json");

/// `(directory, config.json, tokenizer.json, model.safetensors)` of one member.
type Member = (&'static str, &'static [u8], &'static [u8], &'static [u8]);

macro_rules! member {
    ($dir:literal) => {
        (
            $dir,
            include_bytes!(concat!("../../models/default/", $dir, "/config.json")),
            include_bytes!(concat!("../../models/default/", $dir, "/tokenizer.json")),
            include_bytes!(concat!("../../models/default/", $dir, "/model.safetensors")),
        )
    };
}

/// The members `ensemble.json` lists, in its order (checked at load).
const MEMBERS: [Member; 3] = [member!("seed-7"), member!("seed-1234"), member!("seed-42")];

impl Ensemble {
    /// The shipped ensemble with its calibration (fusion constants and thresholds fitted on
    /// the dev split).
    pub fn embedded() -> Result<Self> {
        let spec = EnsembleSpec::from_json(ENSEMBLE, ORIGIN)?;
        if !spec.members.iter().eq(MEMBERS.iter().map(|m| m.0)) {
            return Err(Error::Model {
                origin: ORIGIN.into(),
                message: format!(
                    "ensemble.json lists {:?}, the library embeds {:?}",
                    spec.members,
                    MEMBERS.map(|m| m.0)
                ),
            });
        }
        // Members load in parallel; the first failure in member order is the error.
        let members = MEMBERS
            .par_iter()
            .map(|&(_, config, tokenizer, weights)| {
                TransformerClassifier::from_bytes(config, tokenizer, weights)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ensemble::new(spec.name, members)?.with_calibration_json(CALIBRATION, ORIGIN)
    }
}
