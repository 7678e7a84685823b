//! The pipeline: normalise → rules → model → fuse → [`Verdict`].

use crate::rules::RuleSet;
use crate::scoring::{self, Fusion, RuleAnalysis, Thresholds};
use crate::verdict::{Evidence, Verdict};
use crate::{
    lang, normalize, Classifier, Error, ModelOutput, Normalized, PerCategory, Result, Scores,
};
use rayon::prelude::*;
use std::sync::Arc;

/// A built detector: immutable, `Send + Sync`, cheap to share (`Arc`) across threads.
///
/// ```
/// let detector = verbovka::Detector::rules_only()?;
/// let v = detector.score("Підпали авто ЗСУ і зніми на відео, оплата 500$ одразу, пиши @vlad_rabota");
/// assert_eq!(v.label, verbovka::Label::Sabotage);
/// # Ok::<(), verbovka::Error>(())
/// ```
#[derive(Clone)]
pub struct Detector {
    rules: Arc<RuleSet>,
    classifier: Option<Arc<dyn Classifier>>,
    fusion: Fusion,
    /// `σ(bias + E(c))`: the fusion when no model takes part (none configured, or it failed).
    rules_fusion: Fusion,
    thresholds: Thresholds,
    /// Whether the model also reads focus parts ([`DetectorBuilder::focus`]).
    focus: bool,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("rules", &self.rules.rules().len())
            .field(
                "classifier",
                &self.classifier.as_ref().map(|c| c.name().to_string()),
            )
            .field("fusion", &self.fusion)
            .field("thresholds", &self.thresholds)
            .field("focus", &self.focus)
            .finish()
    }
}

/// Builds a [`Detector`] from parts; unset parts take the embedded defaults.
#[derive(Default)]
pub struct DetectorBuilder {
    rules: Option<RuleSet>,
    classifier: Option<Option<Arc<dyn Classifier>>>,
    fusion: Option<Fusion>,
    thresholds: Option<Thresholds>,
    alarm_rate: Option<f64>,
    engine: Option<crate::model::Engine>,
    focus: Option<bool>,
}

impl DetectorBuilder {
    /// Uses these rules instead of the embedded default.
    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Uses this model (or none: rules only) instead of the embedded default.
    pub fn classifier(mut self, classifier: Option<Arc<dyn Classifier>>) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// Uses these fusion constants (default: the model's calibration, else [`Fusion::default`]).
    pub fn fusion(mut self, fusion: Fusion) -> Self {
        self.fusion = Some(fusion);
        self
    }

    /// Uses these per-category thresholds (default: the model's calibration, else 0.5).
    pub fn thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = Some(thresholds);
        self
    }

    /// Uses the model calibration's operating point with the best dev recall that flagged at
    /// most this share of dev's real messages (e.g. `1e-3`: 10 per 10,000); see
    /// [`crate::Calibration::thresholds_for_alarm_rate`]. [`Self::thresholds`] wins over it. `build`
    /// fails when the model has no such point.
    pub fn alarm_rate(mut self, alarms_per_message: f64) -> Self {
        self.alarm_rate = Some(alarms_per_message);
        self
    }

    /// Runs the embedded model on these kernels (default [`crate::model::Engine::Auto`]: the
    /// fastest this CPU has). `build` fails if the CPU lacks the engine, or if a classifier
    /// was given too (set its engine with `TransformerClassifier::with_engine` or
    /// `Ensemble::with_engine`).
    pub fn engine(mut self, engine: crate::model::Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Whether the model also reads each post's focus parts: the lines (in long posts also the
    /// sentences) where positive rules fire, on their own ([`crate::scoring::focus_parts`]), so
    /// that an offer behind a preamble, before a trailer or inside a longer channel post is read
    /// as it would be alone. Default: as the model's calibration was fitted (`focus` in
    /// `calibration.json`), else off. Costs up to three extra model texts per post of several
    /// lines (or a long one) with rule hits.
    pub fn focus(mut self, focus: bool) -> Self {
        self.focus = Some(focus);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<Detector> {
        let engine = self.engine.map(|e| e.resolve()).transpose()?;
        if engine.is_some() && matches!(self.classifier, Some(Some(_))) {
            return Err(Error::Config(
                "engine() applies to the embedded model; set the engine on the classifier given"
                    .into(),
            ));
        }
        // The embedded rules and model are built side by side (a third of `Detector::new`).
        let (rules, classifier) = rayon::join(
            || match self.rules {
                Some(r) => Ok(r),
                None => RuleSet::embedded(),
            },
            || match self.classifier {
                Some(c) => Ok(c),
                None => default_classifier(engine.unwrap_or_default()),
            },
        );
        let (rules, classifier) = (rules?, classifier?);
        let calibration = classifier.as_ref().and_then(|c| c.calibration());
        let fusion = self
            .fusion
            .or(calibration.as_ref().map(|c| c.fusion))
            .unwrap_or_default();
        fusion.validate()?;
        let budget = match (self.thresholds, self.alarm_rate) {
            (None, Some(rate)) => Some(
                calibration
                    .as_ref()
                    .ok_or_else(|| {
                        Error::Config(
                            "alarm_rate needs a model whose calibration has operating points"
                                .into(),
                        )
                    })?
                    .thresholds_for_alarm_rate(rate)?,
            ),
            _ => None,
        };
        let thresholds = self
            .thresholds
            .or(budget)
            .or(calibration.as_ref().map(|c| c.thresholds))
            .unwrap_or_default();
        thresholds.validate()?;
        let focus = self
            .focus
            .unwrap_or_else(|| calibration.as_ref().is_some_and(|c| c.focus));
        Ok(Detector {
            focus,
            rules_fusion: Fusion::rules_only(rules.scoring().bias),
            rules: Arc::new(rules),
            classifier,
            fusion,
            thresholds,
        })
    }
}

/// The embedded model when the `embedded-model` feature is on, else none (rules only).
fn default_classifier(engine: crate::model::Engine) -> Result<Option<Arc<dyn Classifier>>> {
    #[cfg(feature = "embedded-model")]
    {
        let model = crate::model::Ensemble::embedded()?.with_engine(engine)?;
        Ok(Some(Arc::new(model)))
    }
    #[cfg(not(feature = "embedded-model"))]
    {
        let _ = engine;
        Ok(None)
    }
}

/// Texts per parallel task of a rules-only detector.
const DEFAULT_CHUNK: usize = 32;

/// One text as the pipeline sees it before fusion (see [`Detector::analyse_batch`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The normalised text (what the rules and the model read).
    pub normalized: String,
    /// The rules' hits (spans into `normalized`) and their evidence per category.
    pub rules: RuleAnalysis,
    /// The model's output, `None` without a model.
    pub model: Option<ModelOutput>,
    /// What scoring subtracts from the model's logits before fusion (a short text with no
    /// positive rule evidence, see [`crate::scoring`]); 0 without a model.
    pub model_discount: f32,
}

/// The model's part for one text: `None` without a model, the error's message if it failed.
type ModelRun = Option<std::result::Result<ModelOutput, String>>;

/// Normalised text and rule results of one post, before the model.
struct Prepared {
    norm: Normalized,
    rules: RuleAnalysis,
    /// Byte ranges of `norm` the model also reads on their own ([`scoring::focus_parts`]).
    focus: Vec<std::ops::Range<usize>>,
}

impl Detector {
    /// The embedded default rules and model.
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// The embedded default rules and no model.
    pub fn rules_only() -> Result<Self> {
        Self::builder().classifier(None).build()
    }

    /// A builder starting from the embedded defaults.
    pub fn builder() -> DetectorBuilder {
        DetectorBuilder::default()
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The per-category thresholds.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Whether a model takes part.
    pub fn has_model(&self) -> bool {
        self.classifier.is_some()
    }

    /// Scores one text.
    pub fn score(&self, text: &str) -> Verdict {
        self.score_batch(&[text])
            .pop()
            .unwrap_or_else(|| self.finish(text, self.prepare(text), None))
    }

    /// Scores many texts in parallel on the caller's rayon pool; each result equals what
    /// [`Detector::score`] gives for that text alone. Output order is input order.
    ///
    /// The texts are cut into chunks of the classifier's [`Classifier::batch_size`] (32 without
    /// a model); each chunk is one parallel task that normalises, checks rules, runs the model
    /// as one `predict` call and builds the verdicts, so a post's data stays on one core and
    /// in its cache and no stage waits for the whole batch.
    pub fn score_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Verdict> {
        texts
            .par_chunks(self.chunk())
            .flat_map_iter(|chunk| self.score_chunk(chunk))
            .collect()
    }

    /// What the pipeline knows of each text before fusion: the normalised text, the rules'
    /// hits and evidence, and the model's raw output (`None` without a model). For fitting
    /// fusion constants and thresholds ([`crate::scoring::Calibration`]) on a labelled split
    /// with exactly the steps [`Detector::score_batch`] runs. Parallel, in input order.
    pub fn analyse_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Analysis>> {
        let chunks: Vec<Result<Vec<Analysis>>> = texts
            .par_chunks(self.chunk())
            .map(|chunk| {
                let (prepared, model) = self.prepare_chunk(chunk);
                prepared
                    .into_iter()
                    .zip(model)
                    .map(|(p, m)| {
                        let model = m.transpose().map_err(|message| Error::Model {
                            origin: self.classifier.as_ref().map_or("", |c| c.name()).into(),
                            message,
                        })?;
                        let model_discount = if model.is_some() {
                            scoring::short_text_discount(&self.rules, &p.rules, p.norm.as_str())
                        } else {
                            0.0
                        };
                        Ok(Analysis {
                            normalized: p.norm.into_string(),
                            rules: p.rules,
                            model,
                            model_discount,
                        })
                    })
                    .collect()
            })
            .collect();
        let mut out = Vec::with_capacity(texts.len());
        for c in chunks {
            out.extend(c?);
        }
        Ok(out)
    }

    fn chunk(&self) -> usize {
        self.classifier
            .as_ref()
            .map_or(DEFAULT_CHUNK, |c| c.batch_size())
            .max(1)
    }

    /// The whole pipeline for a few texts on the calling thread.
    fn score_chunk<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Verdict> {
        let (prepared, model) = self.prepare_chunk(texts);
        prepared
            .into_iter()
            .zip(model)
            .zip(texts)
            .map(|((p, m), t)| self.finish(t.as_ref(), p, m))
            .collect()
    }

    /// Normalisation and rules for each text, then the model on all of them in one call.
    fn prepare_chunk<S: AsRef<str>>(&self, texts: &[S]) -> (Vec<Prepared>, Vec<ModelRun>) {
        let prepared: Vec<Prepared> = texts.iter().map(|t| self.prepare(t.as_ref())).collect();
        let model = self.run_model(&prepared);
        (prepared, model)
    }

    fn prepare(&self, text: &str) -> Prepared {
        let norm = normalize(text);
        let rules = scoring::analyse(&self.rules, norm.as_str());
        let focus = if self.focus && self.classifier.is_some() {
            scoring::focus_parts(
                &self.rules,
                &rules.hits,
                norm.as_str(),
                &norm.line_starts(text),
            )
        } else {
            Vec::new()
        };
        Prepared { norm, rules, focus }
    }

    /// Model outputs per text (`None` everywhere without a model), one `predict` call for the
    /// texts and their focus parts; each category's logit is the largest of the text's and its
    /// parts'. An error is reported on every text of the call.
    fn run_model(&self, prepared: &[Prepared]) -> Vec<ModelRun> {
        let Some(model) = &self.classifier else {
            return vec![None; prepared.len()];
        };
        let mut batch: Vec<&str> = prepared.iter().map(|p| p.norm.as_str()).collect();
        let mut owner = Vec::new();
        for (i, p) in prepared.iter().enumerate() {
            for r in &p.focus {
                batch.push(&p.norm.as_str()[r.clone()]);
                owner.push(i);
            }
        }
        let error = match model.predict(&batch) {
            Ok(mut texts) if texts.len() == batch.len() => {
                let parts = texts.split_off(prepared.len());
                for (&i, part) in owner.iter().zip(&parts) {
                    let logits = &mut texts[i].logits.0;
                    for (l, p) in logits.iter_mut().zip(part.logits.0) {
                        *l = l.max(p);
                    }
                }
                return texts.into_iter().map(|o| Some(Ok(o))).collect();
            }
            Ok(out) => format!(
                "model returned {} outputs for {} texts",
                out.len(),
                batch.len()
            ),
            Err(e) => e.to_string(),
        };
        vec![Some(Err(error)); prepared.len()]
    }

    fn finish(&self, text: &str, p: Prepared, model: ModelRun) -> Verdict {
        let mut model_discount = 0.0;
        let (fusion, logits, model_scores, truncated, model_error) = match model {
            Some(Ok(m)) => {
                model_discount =
                    scoring::short_text_discount(&self.rules, &p.rules, p.norm.as_str());
                (
                    self.fusion,
                    m.logits.map(|l| l - model_discount),
                    Some(Scores::from_array(m.logits.map(scoring::sigmoid).0)),
                    m.truncated,
                    None,
                )
            }
            Some(Err(e)) => (
                self.rules_fusion,
                PerCategory::default(),
                None,
                false,
                Some(e),
            ),
            None => (self.rules_fusion, PerCategory::default(), None, false, None),
        };
        let scores = fusion.scores(logits, &p.rules.evidence);
        let contributions = fusion.contributions(logits, &p.rules.evidence);
        let evidence = p
            .rules
            .hits
            .iter()
            .filter_map(|h| {
                let rule = self.rules.rules().get(h.rule)?;
                let span = p.norm.original_span(h.span)?;
                let weight = rule.weight * h.factor;
                let mut explain = rule.explain.clone();
                if h.factor != 1.0 {
                    explain.push_str(" (quoted in a news or warning context: counts less)");
                }
                Some(Evidence {
                    rule: rule.id.clone(),
                    category: rule.scope,
                    role: rule.role,
                    weight: if rule.role.is_negative() {
                        -weight
                    } else {
                        weight
                    },
                    span,
                    text: span.slice(text).unwrap_or_default().to_string(),
                    explain,
                })
            })
            .collect();
        Verdict {
            label: self.thresholds.label(scores),
            risk: scores.top().1,
            scores,
            lang: lang::detect(p.norm.as_str(), text),
            evidence,
            model: model_scores,
            contributions,
            model_discount,
            truncated,
            model_error,
        }
    }
}
