//! What the detector says about one post, and why.

use crate::rules::{Role, Scope};
use crate::scoring::Contribution;
use crate::{Label, Lang, Scores, Span};
use serde::Serialize;
use std::fmt;

/// The result of scoring one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Top category if its score reaches its threshold, else `benign`.
    pub label: Label,
    /// The highest category score, in [0, 1].
    pub risk: f32,
    /// Final (fused) score per category.
    pub scores: Scores,
    /// Language guess.
    pub lang: Lang,
    /// Every rule that fired, positive and negative, in text order.
    pub evidence: Vec<Evidence>,
    /// The model's own per-category probabilities, when a model took part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<Scores>,
    /// How each score was made: every term with a nonzero part in a category's fused log-odds
    /// (offset, model logit, combined rule evidence, role parts); a category's score is `σ` of
    /// the sum of its `logit`s (see [`crate::scoring::Fusion`]).
    pub contributions: Vec<Contribution>,
    /// Whether the model read only the beginning of a text longer than its window.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Logits subtracted from the model's output before fusion: a short text on which no
    /// positive rule fired (see [`crate::scoring`]); 0 otherwise.
    #[serde(skip_serializing_if = "is_zero")]
    pub model_discount: f32,
    /// Why the model did not take part although one is configured (the scores are then
    /// rules-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_error: Option<String>,
}

impl Verdict {
    /// Whether the label is a recruitment category.
    pub fn is_flagged(&self) -> bool {
        self.label != Label::Benign
    }
}

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Rule id.
    pub rule: String,
    /// Category the rule speaks for (`any` for shared and negative rules).
    pub category: Scope,
    /// Part the rule plays.
    pub role: Role,
    /// Signed weight: negative for counter-evidence (news, warnings, ...).
    pub weight: f32,
    /// Byte span into the original text.
    pub span: Span,
    /// The original text at `span`.
    pub text: String,
    /// One line for humans.
    pub explain: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (risk {:.2}, lang {})",
            self.label.as_str().to_uppercase(),
            self.risk,
            self.lang
        )?;
        let s = self.scores;
        write!(
            f,
            "  scores: sabotage {:.2} · reconnaissance {:.2} · lure {:.2}",
            s.sabotage, s.reconnaissance, s.lure
        )?;
        if let Some(m) = self.model {
            write!(
                f,
                "\n  model:  sabotage {:.2} · reconnaissance {:.2} · lure {:.2}{}",
                m.sabotage,
                m.reconnaissance,
                m.lure,
                if self.truncated {
                    " (text truncated)"
                } else {
                    ""
                }
            )?;
        }
        let top = match self.label.category() {
            Some(c) => c,
            None => self.scores.top().0,
        };
        let parts: Vec<String> = self
            .contributions
            .iter()
            .filter(|c| c.category == top)
            .map(|c| format!("{} {:+.2}", c.term, c.logit))
            .collect();
        if !parts.is_empty() {
            write!(f, "\n  why {top}: {}", parts.join(" · "))?;
        }
        if self.model_discount > 0.0 {
            write!(
                f,
                "\n  model discounted by {:.1} logits: a short text with no positive rule evidence beyond a weak cue",
                self.model_discount
            )?;
        }
        if let Some(e) = &self.model_error {
            write!(f, "\n  model not used: {e}")?;
        }
        if self.evidence.is_empty() {
            write!(f, "\n  no rule fired")?;
        }
        for e in &self.evidence {
            write!(
                f,
                "\n  {:+.1} {:<28} {}/{} «{}» @{}..{}: {}",
                e.weight, e.rule, e.category, e.role, e.text, e.span.start, e.span.end, e.explain
            )?;
        }
        Ok(())
    }
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}
