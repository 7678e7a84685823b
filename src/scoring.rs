//! Turning rule hits (and model logits) into per-category scores.
//!
//! # Rule evidence
//! Every rule counts once, however often it matches (repeating a word adds nothing). Rules of
//! the same role and scope are partly redundant (two target rules are two views of one
//! target), so within a role the strongest rule counts fully and each other one half:
//! `R = max + ½·(sum − max)`. For each category `c`:
//!
//! * `core(c)`  = Σ over roles of `R` for the positive rules scoped to `c` that fired
//!   (actions, targets, hooks);
//! * `support`  = Σ over roles of `R` for the positive rules scoped `any` that fired
//!   (payment, contact, proof, secrecy, urgency);
//! * `counter`  = Σ weights of the negative rules that fired (news, warning, reported speech,
//!   legitimate context), at most `counter_cap` from the rule file, so that no amount of news
//!   vocabulary can hide an ad entirely;
//! * `E(c)` = `g·core(c) + min(support, core(c)) − counter` for sabotage and reconnaissance,
//!   with `g = min(1, ½ + support/2)`, and `core(c) + support − counter` for lure.
//!
//! Support counts for sabotage and reconnaissance only as far as there is evidence specific to
//! them: "paid at once, DM me" alone is at most a lure, never sabotage. And an ad offers
//! something or names a way to answer: targets and actions with no support at all (as in a
//! news report) count half. A rule that does not
//! fire adds nothing, and `E(c)` is monotone in every positive weight.
//!
//! Police memos and news quote the offers they warn about. When a news, warning or
//! reported-speech rule fires outside quotation marks, every positive rule whose match lies
//! inside `«…»`, `„…“`, `“…”` or `"…"` counts with `quoted_weight` (½ by default, from the
//! rule file) of its weight; the evidence lists the reduced weight.
//!
//! # Scores
//! Without a model, `score(c) = σ(bias + E(c))` with `bias` from the rule file (−3.5 by default:
//! one weak cue stays below 0.1; action + target + payment + contact passes 0.9).
//! With a model giving logit `m(c)`, `score(c) = σ(a·m(c) + b·E(c) + o)`, the [`Fusion`]
//! constants `a, b > 0` chosen on the dev split: the model alone can flag a post no rule hit,
//! rules shift the model's log-odds, and news/warning evidence pulls it down. The result is in
//! [0, 1] and monotone in the model logit and in every positive rule weight.
//!
//! The label is the category with the highest score if that score reaches its category's
//! threshold, else `benign`; `risk` is the highest score.

use crate::rules::{Hit, Role, RuleSet};
use crate::{Category, Error, Label, Result, Scores};
use serde::{Deserialize, Serialize};

/// Rule evidence per category, in log-odds units, before the bias (`E(c)` in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RuleEvidence {
    /// `E(c)` in [`Category::ALL`] order.
    pub evidence: [f32; 3],
    /// Total counter-evidence (already subtracted in `evidence`).
    pub counter: f32,
}

/// Rule results of one normalised text: what fired and what it adds up to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleAnalysis {
    /// One hit per rule that fired.
    pub hits: Vec<Hit>,
    /// Per hit: the factor on its weight (1, or `quoted_weight` for reported quotes).
    pub factors: Vec<f32>,
    /// The evidence per category.
    pub evidence: RuleEvidence,
}

/// Runs the rules over a normalised text and sums their evidence (see module docs).
pub fn analyse(rules: &RuleSet, norm: &str) -> RuleAnalysis {
    let hits = rules.find(norm);
    let factors = quote_factors(rules, &hits, norm);
    let evidence = rule_evidence(rules, &hits, &factors);
    RuleAnalysis {
        hits,
        factors,
        evidence,
    }
}

/// Per hit, the factor on its weight: `quoted_weight` for a positive hit inside quotation
/// marks when a news, warning or reported-speech rule fired outside any quotes, else 1.
pub fn quote_factors(rules: &RuleSet, hits: &[Hit], norm: &str) -> Vec<f32> {
    let mut factors = vec![1.0; hits.len()];
    let frames = |h: &Hit| {
        rules
            .rules()
            .get(h.rule)
            .is_some_and(|r| matches!(r.role, Role::News | Role::Warning | Role::Reported))
    };
    // Most posts have no news/warning hit: then the text is not scanned for quotes at all.
    if !hits.iter().any(frames) {
        return factors;
    }
    let quoted = quoted_ranges(norm);
    if quoted.is_empty() {
        return factors;
    }
    let inside = |h: &Hit| {
        quoted
            .iter()
            .any(|&(a, b)| a <= h.span.start && h.span.end <= b)
    };
    let framed = hits.iter().any(|h| frames(h) && !inside(h));
    if framed {
        for (f, h) in factors.iter_mut().zip(hits) {
            let positive = rules
                .rules()
                .get(h.rule)
                .is_some_and(|r| !r.role.is_negative());
            if positive && inside(h) {
                *f = rules.scoring().quoted_weight;
            }
        }
    }
    factors
}

/// Byte ranges strictly inside closed pairs of quotation marks: `«…»` (nested counted),
/// `„…“`/`„…”`, `“…”` and straight `"…"`. An unclosed quote marks nothing.
pub fn quoted_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut guillemet: Option<(usize, usize)> = None; // (start, depth)
    let mut curly: Option<(usize, char)> = None; // (start, opening mark)
    let mut straight: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let after = i + c.len_utf8();
        match c {
            '«' => match &mut guillemet {
                Some((_, d)) => *d += 1,
                None => guillemet = Some((after, 1)),
            },
            '»' => {
                if let Some((start, d)) = &mut guillemet {
                    *d -= 1;
                    if *d == 0 {
                        out.push((*start, i));
                        guillemet = None;
                    }
                }
            }
            '„' if curly.is_none() => curly = Some((after, '„')),
            '“' | '”' => match curly {
                Some((start, opener)) if opener == '„' || c == '”' => {
                    out.push((start, i));
                    curly = None;
                }
                Some(_) => {}
                None if c == '“' => curly = Some((after, '“')),
                None => {}
            },
            '"' => match straight.take() {
                Some(start) => out.push((start, i)),
                None => straight = Some(after),
            },
            _ => {}
        }
    }
    out
}

/// Sums rule hits into per-category evidence (see module docs); `factors` (one per hit, or
/// empty for all 1) scale the hits' weights.
pub fn rule_evidence(rules: &RuleSet, hits: &[Hit], factors: &[f32]) -> RuleEvidence {
    // Per (scope, role): the sum and the strongest weight. Scope slots 0..3 are the
    // categories, 3 is `any`; `find` yields each rule once.
    let mut sum = [[0f32; ROLES]; 4];
    let mut max = [[0f32; ROLES]; 4];
    let mut counter = 0f32;
    for (k, h) in hits.iter().enumerate() {
        let Some(rule) = rules.rules().get(h.rule) else {
            continue;
        };
        let weight = rule.weight * factors.get(k).copied().unwrap_or(1.0);
        if rule.role.is_negative() {
            counter += weight;
        } else {
            let slot = rule.scope.category().map_or(3, Category::index);
            let role = rule.role as usize;
            sum[slot][role] += weight;
            max[slot][role] = max[slot][role].max(weight);
        }
    }
    // Within a role, the strongest rule counts fully and the others half.
    let total = |slot: usize| -> f32 {
        (0..ROLES)
            .map(|r| max[slot][r] + ROLE_REST * (sum[slot][r] - max[slot][r]))
            .sum()
    };
    let counter = counter.min(rules.scoring().counter_cap);
    let support = total(3);
    let evidence = Category::ALL.map(|c| {
        let core = total(c.index());
        if c == Category::Lure {
            core + support - counter
        } else {
            // An ad offers something or names a way to answer; without any support,
            // targets and actions alone (as in news) count half.
            let gate = (0.5 + support / 2.0).min(1.0);
            gate * core + support.min(core) - counter
        }
    });
    RuleEvidence { evidence, counter }
}

/// Number of [`crate::rules::Role`] variants.
const ROLES: usize = 12;
const _: () = assert!(crate::rules::Role::Legit as usize + 1 == ROLES);
/// Share of a role's weaker rules in its total.
const ROLE_REST: f32 = 0.5;

/// How model logits and rule evidence are combined: `σ(a·m + b·E + o)` per category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fusion {
    /// `a`: weight of the model logit.
    pub model_scale: f32,
    /// `b`: weight of the rule evidence.
    pub rule_scale: f32,
    /// `o`: offset per category.
    pub offset: [f32; 3],
}

impl Fusion {
    /// Checks that the constants keep the formula monotone and finite.
    pub fn validate(&self) -> Result<()> {
        let ok = self.model_scale.is_finite()
            && self.model_scale > 0.0
            && self.rule_scale.is_finite()
            && self.rule_scale > 0.0
            && self.offset.iter().all(|o| o.is_finite());
        if ok {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "fusion constants must be finite with positive scales: {self:?}"
            )))
        }
    }
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion {
            model_scale: 1.0,
            rule_scale: 0.5,
            offset: [0.0; 3],
        }
    }
}

/// Per-category decision thresholds on the fused scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds(pub [f32; 3]);

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds([0.5; 3])
    }
}

impl Thresholds {
    /// Checks every threshold is in (0, 1].
    pub fn validate(&self) -> Result<()> {
        if self
            .0
            .iter()
            .all(|t| t.is_finite() && *t > 0.0 && *t <= 1.0)
        {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "thresholds must be in (0, 1]: {:?}",
                self.0
            )))
        }
    }

    /// The label for a set of scores: the top category if it reaches its threshold.
    pub fn label(&self, scores: Scores) -> Label {
        let a = scores.to_array();
        let mut best: Option<(Category, f32)> = None;
        for c in Category::ALL {
            let s = a[c.index()];
            if s >= self.0[c.index()] && best.is_none_or(|(_, b)| s > b) {
                best = Some((c, s));
            }
        }
        best.map_or(Label::Benign, |(c, _)| c.into())
    }
}

/// The logistic function, safe for any finite input.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Rules-only scores: `σ(bias + E(c))`.
pub fn rule_scores(bias: f32, ev: &RuleEvidence) -> Scores {
    Scores::from_array(ev.evidence.map(|e| sigmoid(bias + e)))
}

/// Fused scores: `σ(a·m(c) + b·E(c) + o(c))`.
pub fn fused_scores(f: &Fusion, model_logits: [f32; 3], ev: &RuleEvidence) -> Scores {
    let mut out = [0f32; 3];
    for i in 0..3 {
        out[i] =
            sigmoid(f.model_scale * model_logits[i] + f.rule_scale * ev.evidence[i] + f.offset[i]);
    }
    Scores::from_array(out)
}

/// Fusion constants and thresholds fitted for one model on its dev split; they travel with
/// the model (`calibration.json` beside its weights) and a [`crate::Detector`] built with that
/// model uses them unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// How model logits and rule evidence combine.
    pub fusion: Fusion,
    /// Per-category thresholds on the fused scores.
    pub thresholds: Thresholds,
}

impl Calibration {
    /// Checks both parts.
    pub fn validate(&self) -> Result<()> {
        self.fusion.validate()?;
        self.thresholds.validate()
    }
}

/// One dev example for [`fit_calibration`].
#[derive(Debug, Clone, Copy)]
pub struct CalibrationItem {
    /// The gold label.
    pub gold: Label,
    /// The model's logits.
    pub logits: [f32; 3],
    /// The rules' evidence.
    pub evidence: RuleEvidence,
    /// A hard negative (news, warning, job ad, ...): counted in the hard false-positive rate.
    pub hard: bool,
}

/// What [`fit_calibration`] maximises and the false-positive rates it must respect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationTargets {
    /// The figure to maximise.
    pub objective: CalibrationObjective,
    /// Largest share of hard negatives that may be flagged.
    pub max_hard_fpr: f32,
    /// Largest share of other benign texts (background) that may be flagged.
    pub max_background_fpr: f32,
}

/// The figure [`fit_calibration`] maximises within the false-positive targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationObjective {
    /// Macro F1 over the three categories: rewards naming the right category.
    MacroF1,
    /// Binary F1 (any category against benign) — whether a post is flagged at all, what a
    /// moderator acts on; macro F1 breaks ties.
    BinaryF1,
    /// The mean of binary and macro F1.
    Mean,
}

/// Quality of one calibration on the items it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalibrationFit {
    /// The calibration.
    pub calibration: Calibration,
    /// Macro F1 over the three categories (exact label).
    pub macro_f1: f32,
    /// Binary F1: any category against benign.
    pub binary_f1: f32,
    /// Share of hard negatives flagged.
    pub hard_fpr: f32,
    /// Share of other benign items flagged.
    pub background_fpr: f32,
}

/// Chooses the rule weight `b` (from a small grid, `a = 1`, offsets 0: thresholds absorb
/// them) and per-category thresholds that maximise the targets' objective on `items` while keeping both
/// false-positive rates within `targets`; where no choice meets them, the one that comes
/// closest. Thresholds are searched coordinate-wise on a 0.01 grid from four starting points.
pub fn fit_calibration(items: &[CalibrationItem], targets: CalibrationTargets) -> CalibrationFit {
    let mut best: Option<(f32, CalibrationFit)> = None;
    for b in [0.25f32, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0] {
        let fusion = Fusion {
            model_scale: 1.0,
            rule_scale: b,
            offset: [0.0; 3],
        };
        let scores: Vec<Scores> = items
            .iter()
            .map(|it| fused_scores(&fusion, it.logits, &it.evidence))
            .collect();
        // Coordinate ascent is greedy: start it from several points and keep the best.
        for start in [0.5f32, 0.3, 0.7, 0.9] {
            let mut th = [start; 3];
            let mut current = evaluate_fit(items, &scores, fusion, th);
            for _round in 0..4 {
                let before = th;
                for c in 0..3 {
                    for step in 1..100 {
                        let mut t = th;
                        t[c] = step as f32 / 100.0;
                        let fit = evaluate_fit(items, &scores, fusion, t);
                        if objective(&fit, targets) > objective(&current, targets) {
                            current = fit;
                            th = t;
                        }
                    }
                }
                if th == before {
                    break;
                }
            }
            let value = objective(&current, targets);
            if best.as_ref().is_none_or(|(v, _)| value > *v) {
                best = Some((value, current));
            }
        }
    }
    match best {
        Some((_, fit)) => fit,
        None => evaluate_fit(items, &[], Fusion::default(), [0.5; 3]),
    }
}

/// The objective's figure when the targets are met; below zero, growing with the violation,
/// otherwise.
fn objective(fit: &CalibrationFit, t: CalibrationTargets) -> f32 {
    let over = (fit.hard_fpr - t.max_hard_fpr).max(0.0)
        + (fit.background_fpr - t.max_background_fpr).max(0.0) * 10.0;
    if over > 0.0 {
        return -over;
    }
    match t.objective {
        CalibrationObjective::MacroF1 => fit.macro_f1,
        CalibrationObjective::BinaryF1 => fit.binary_f1 + 1e-3 * fit.macro_f1,
        CalibrationObjective::Mean => 0.5 * (fit.binary_f1 + fit.macro_f1),
    }
}

fn evaluate_fit(
    items: &[CalibrationItem],
    scores: &[Scores],
    fusion: Fusion,
    th: [f32; 3],
) -> CalibrationFit {
    let thresholds = Thresholds(th);
    let (mut tp, mut fp, mut fneg) = ([0usize; 3], [0usize; 3], [0usize; 3]);
    let (mut hard, mut hard_flagged, mut bg, mut bg_flagged) = (0usize, 0usize, 0usize, 0usize);
    let (mut btp, mut bfp, mut bfn) = (0usize, 0usize, 0usize);
    for (it, s) in items.iter().zip(scores) {
        let pred = thresholds.label(*s);
        if let Some(g) = it.gold.category() {
            if pred.category() == Some(g) {
                tp[g.index()] += 1;
            } else {
                fneg[g.index()] += 1;
            }
        }
        if let Some(p) = pred.category() {
            if it.gold.category() != Some(p) {
                fp[p.index()] += 1;
            }
        }
        match (it.gold != Label::Benign, pred != Label::Benign) {
            (true, true) => btp += 1,
            (false, true) => bfp += 1,
            (true, false) => bfn += 1,
            (false, false) => {}
        }
        if it.gold == Label::Benign {
            let flagged = usize::from(pred != Label::Benign);
            if it.hard {
                hard += 1;
                hard_flagged += flagged;
            } else {
                bg += 1;
                bg_flagged += flagged;
            }
        }
    }
    let f1 = |c: usize| {
        let denom = 2 * tp[c] + fp[c] + fneg[c];
        if denom == 0 {
            0.0
        } else {
            2.0 * tp[c] as f32 / denom as f32
        }
    };
    let rate = |k: usize, n: usize| if n == 0 { 0.0 } else { k as f32 / n as f32 };
    CalibrationFit {
        calibration: Calibration { fusion, thresholds },
        macro_f1: (f1(0) + f1(1) + f1(2)) / 3.0,
        binary_f1: if btp == 0 {
            0.0
        } else {
            2.0 * btp as f32 / (2 * btp + bfp + bfn) as f32
        },
        hard_fpr: rate(hard_flagged, hard),
        background_fpr: rate(bg_flagged, bg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSpec;
    use crate::Span;

    /// Ten items per row: gold label, logits, hard negative.
    fn calibration_items() -> Vec<CalibrationItem> {
        let rows = [
            (Label::Benign, [-4.0, -4.0, -4.0], false),
            (Label::Benign, [-4.0, -4.0, 1.0], true),
            (Label::Sabotage, [3.0, -4.0, -4.0], false),
            // Reconnaissance posts whose lure score is higher than their reconnaissance score
            // and than the lure posts' own: naming them right costs the lure posts.
            (Label::Reconnaissance, [-4.0, 2.0, 2.5], false),
            (Label::Lure, [-4.0, -4.0, 2.2], false),
        ];
        rows.iter()
            .flat_map(|&(gold, logits, hard)| {
                std::iter::repeat_n(
                    CalibrationItem {
                        gold,
                        logits,
                        evidence: RuleEvidence::default(),
                        hard,
                    },
                    10,
                )
            })
            .collect()
    }

    #[test]
    fn calibration_objectives_trade_category_for_flagging() {
        let items = calibration_items();
        let targets = |objective| CalibrationTargets {
            objective,
            max_hard_fpr: 0.0,
            max_background_fpr: 0.0,
        };
        let macro_fit = fit_calibration(&items, targets(CalibrationObjective::MacroF1));
        let binary_fit = fit_calibration(&items, targets(CalibrationObjective::BinaryF1));
        for fit in [macro_fit, binary_fit] {
            assert_eq!((fit.hard_fpr, fit.background_fpr), (0.0, 0.0), "{fit:?}");
        }
        // Macro F1: lure threshold above the reconnaissance posts' lure score (0.924), so
        // they are named right and the lure posts (0.900) are missed.
        assert!(
            macro_fit.calibration.thresholds.0[2] > 0.924,
            "{macro_fit:?}"
        );
        assert!(
            (macro_fit.macro_f1 - 2.0 / 3.0).abs() < 1e-4,
            "{macro_fit:?}"
        );
        assert!((macro_fit.binary_f1 - 0.8).abs() < 1e-4, "{macro_fit:?}");
        // Binary F1: every positive flagged, reconnaissance named lure.
        assert!((binary_fit.binary_f1 - 1.0).abs() < 1e-6, "{binary_fit:?}");
        assert!(binary_fit.macro_f1 < macro_fit.macro_f1, "{binary_fit:?}");
    }

    fn set() -> RuleSet {
        let spec = RuleSpec::from_toml(
            r#"
[[rule]]
id = "a"
category = "sabotage"
role = "action"
weight = 2.0
explain = "x"
keywords = ["поджечь"]
[[rule]]
id = "t"
category = "sabotage"
role = "target"
weight = 1.5
explain = "x"
keywords = ["авто"]
[[rule]]
id = "p"
category = "any"
role = "payment"
weight = 1.0
explain = "x"
keywords = ["оплата"]
[[rule]]
id = "n"
category = "any"
role = "news"
weight = 2.0
explain = "x"
keywords = ["задержан"]
"#,
            "test",
        )
        .unwrap();
        RuleSet::compile(&spec).unwrap()
    }

    fn hits(idx: &[usize]) -> Vec<Hit> {
        idx.iter()
            .map(|&rule| Hit {
                rule,
                span: Span { start: 0, end: 1 },
            })
            .collect()
    }

    #[test]
    fn support_is_gated_by_core() {
        let r = set();
        let only_pay = rule_evidence(&r, &hits(&[2]), &[]);
        assert_eq!(only_pay.evidence, [0.0, 0.0, 1.0]);
        let ad = rule_evidence(&r, &hits(&[0, 1, 2]), &[]);
        assert_eq!(ad.evidence, [4.5, 0.0, 1.0]);
        let news = rule_evidence(&r, &hits(&[0, 1, 2, 3]), &[]);
        assert_eq!(news.evidence, [2.5, -2.0, -1.0]);
        // Without any support (no payment, contact, ...), an action alone counts half.
        assert_eq!(rule_evidence(&r, &hits(&[0]), &[]).evidence[0], 1.0);
    }

    #[test]
    fn quoted_ranges_pair_marks() {
        let text = "сказал «поджечь «авто»» и „оплата“ или “x” и \"y\" но «открыта";
        let got: Vec<&str> = quoted_ranges(text)
            .iter()
            .map(|&(a, b)| &text[a..b])
            .collect();
        assert_eq!(got, ["поджечь «авто»", "оплата", "x", "y"]);
        assert!(quoted_ranges("» ” “ „").is_empty());
    }

    /// Quoted offer words count `quoted_weight` only when news/warning words frame them
    /// from outside the quotes.
    #[test]
    fn quotes_discount_only_in_a_news_frame() {
        let r = set();
        // Factor per rule index: поджечь (0), авто (1), оплата (2), задержан (3).
        let factors = |t: &str| {
            let hits = r.find(t);
            let mut by_rule = [f32::NAN; 4];
            for (h, f) in hits.iter().zip(quote_factors(&r, &hits, t)) {
                by_rule[h.rule] = f;
            }
            by_rule
        };
        let framed = factors("задержан за «поджечь авто, оплата сразу»");
        assert_eq!(framed, [0.5, 0.5, 0.5, 1.0]);
        assert_eq!(factors("«поджечь авто», оплата сразу")[..3], [1.0; 3]);
        assert_eq!(factors("поджечь авто, оплата, «задержан»")[..3], [1.0; 3]);
        let framed = analyse(&r, "задержан за «поджечь авто, оплата сразу»");
        let plain = analyse(&r, "задержан за поджечь авто, оплата сразу");
        assert!(framed.evidence.evidence[0] < plain.evidence.evidence[0]);
    }

    #[test]
    fn thresholds_pick_top_category() {
        let t = Thresholds([0.5, 0.5, 0.6]);
        assert_eq!(t.label(Scores::from_array([0.2, 0.7, 0.9])), Label::Lure);
        assert_eq!(t.label(Scores::from_array([0.2, 0.4, 0.55])), Label::Benign);
        assert_eq!(
            t.label(Scores::from_array([0.8, 0.4, 0.55])),
            Label::Sabotage
        );
    }
}
