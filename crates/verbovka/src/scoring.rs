//! Turning rule hits (and model logits) into per-category scores.
//!
//! # Rule evidence
//! Every rule counts once, however often it matches (repeating a word adds nothing). Rules of
//! the same role and scope are partly redundant (two target rules are two views of one
//! target), so within a role the strongest rule counts fully and the others half, up to a cap:
//! `R = max + ½·min(sum − max, role_rest_cap)`, with `role_rest_cap` from the rule file
//! (1 by default, so a role adds at most ½ over its strongest rule: a long war report naming
//! an airfield, aircraft, troops and strikes does not add up to an offer). For each category
//! `c`:
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
//! * **allow rules** (role `allow`, an operator's own file: a channel's handle, a known
//!   employer) are not part of `E(c)`: their summed weight is subtracted from every category's
//!   fused log-odds as it stands ([`Term::Allow`], weight 1), outside `counter_cap`.
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
//! **Short texts.** One word, an emoji or a greeting is not an offer on the model's say alone:
//! when the positive rules that fired on a text of fewer than `short_text_letters` letters
//! (rule file, 48 by default) weigh no more than `short_text_min_evidence` together (none
//! fired, or one weak cue), `d = short_text_prior · (1 − letters / short_text_letters)` (8 at most) is
//! subtracted from every model logit before fusion; the verdict reports it as
//! `model_discount`.
//!
//! The label is the category with the highest score if that score reaches its category's
//! threshold, else `benign`; `risk` is the highest score.

use crate::rules::{Hit, Role, RuleSet};
use crate::{Category, Error, Label, PerCategory, Result, Scores};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Rule evidence per category, in log-odds units, before the bias (`E(c)` in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RuleEvidence {
    /// `E(c)` in [`Category::ALL`] order.
    pub evidence: PerCategory<f32>,
    /// Total counter-evidence (already subtracted in `evidence`).
    pub counter: f32,
    /// Per category, each role's own part, in [`Role`] order (the role terms a fitted
    /// [`Fusion`] weighs): for a positive role its total (strongest rule + ½ the others, up to
    /// `role_rest_cap`) over the rules scoped to that category plus the same over the rules
    /// scoped `any`; for a counter role minus its rules' weight (at most `counter_cap`).
    pub roles: PerCategory<[f32; ROLES]>,
}

/// Rule results of one normalised text: what fired and what it adds up to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleAnalysis {
    /// One hit per rule that fired, with its quote factor applied.
    pub hits: Vec<Hit>,
    /// The evidence per category.
    pub evidence: RuleEvidence,
}

/// Runs the rules over a normalised text and sums their evidence (see module docs).
pub(crate) fn analyse(rules: &RuleSet, norm: &str) -> RuleAnalysis {
    let mut hits = rules.find(norm);
    apply_quote_factors(rules, &mut hits, norm);
    let evidence = rule_evidence(rules, &hits);
    RuleAnalysis { hits, evidence }
}

/// Sets `quoted_weight` as the factor of each positive hit inside quotation marks when a news,
/// warning or reported-speech rule fired outside any quotes (the others keep theirs).
pub(crate) fn apply_quote_factors(rules: &RuleSet, hits: &mut [Hit], norm: &str) {
    let frames = |h: &Hit| {
        rules
            .rules()
            .get(h.rule)
            .is_some_and(|r| matches!(r.role, Role::News | Role::Warning | Role::Reported))
    };
    // Most posts have no news/warning hit: then the text is not scanned for quotes at all.
    if !hits.iter().any(frames) {
        return;
    }
    let quoted = quoted_ranges(norm);
    if quoted.is_empty() {
        return;
    }
    let inside = |h: &Hit| {
        quoted
            .iter()
            .any(|&(a, b)| a <= h.span.start && h.span.end <= b)
    };
    if !hits.iter().any(|h| frames(h) && !inside(h)) {
        return;
    }
    for h in hits.iter_mut() {
        if is_positive(rules, h) && inside(h) {
            h.factor = rules.scoring().quoted_weight;
        }
    }
}

/// Whether a hit's rule counts for a category (an action, target, payment, ...), not against.
fn is_positive(rules: &RuleSet, h: &Hit) -> bool {
    rules
        .rules()
        .get(h.rule)
        .is_some_and(|r| !r.role.is_negative())
}

/// Byte ranges strictly inside closed pairs of quotation marks: `«…»` (nested counted),
/// `„…“`/`„…”`, `“…”` and straight `"…"`. An unclosed quote marks nothing.
pub(crate) fn quoted_ranges(text: &str) -> Vec<(usize, usize)> {
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

/// Parts of a post the model reads again on their own ("focus parts"), as byte ranges of the
/// normalised text: from the start of each line (in a text longer than `FOCUS_BYTES` also of
/// each sentence) where a positive rule fired to the end of the line of the last positive hit
/// within [`FOCUS_BYTES`], the [`FOCUS_PARTS`] whose rules weigh most; never the whole text.
/// The model pools its window over the tokens, so an offer that shares a window with a
/// preamble, a trailer or the rest of a channel post is diluted by them: measured on the
/// issue-11 test split, 32.9 % of positives stayed flagged behind ~1,500 characters of real
/// text (94.4 % alone) although the preamble alone was flagged 2 times in 1,000, and the model
/// gave 264 of the 266 missed ones less than 0.5. Read as its own lines, the offer is read as
/// it would be alone. Hits inside a quote that a news or warning frame discounted (a `factor`
/// below 1) start no part: a memo quoting an offer stays one text. Cost: at most `FOCUS_PARTS`
/// extra texts of ≤ `FOCUS_BYTES` per post (about one window each), none for a one-line post
/// whose rules fire only in its first sentence (criterion `score_batch`, default detector, 2
/// threads, Intel Xeon AVX-512, one run: 1,575 posts/s with parts, 1,624 without).
///
/// Measured on dev (2026-12-08, shipped members, fusion refitted each time with dev
/// hard-negative FPR ≤ 3 %): cross-validated objective 0.9634 with the line starts looked for
/// in the normalised text (which has none: only sentence starts of long texts were found),
/// 0.9664 with the lines of the original, 0.9670 with parts that also end at the offer's line
/// (this rule); dev positives flagged with one benign post in front 85.1 / 93.4 / 93.1 % and
/// after 84.4 / 82.5 / 92.7 % (plain 95.4 / 94.3 / 94.0 %).
///
/// `line_starts`: where the lines of the original begin in `norm`
/// ([`crate::Normalized::line_starts`]; the normalised text itself has no line breaks).
pub fn focus_parts(
    rules: &RuleSet,
    hits: &[Hit],
    norm: &str,
    line_starts: &[usize],
) -> Vec<std::ops::Range<usize>> {
    // The weight of a positive hit at full weight; `None` for the others (counter-evidence,
    // and offers a news or warning frame quotes).
    let weight = |h: &Hit| {
        let rule = rules.rules().get(h.rule)?;
        (!rule.role.is_negative() && h.factor >= 1.0).then_some(rule.weight)
    };
    let mut starts: Vec<usize> = Vec::new();
    for h in hits.iter().filter(|h| weight(h).is_some()) {
        let s = part_start(norm, line_starts, h.span.start);
        if (s > 0 || !line_starts.is_empty()) && !starts.contains(&s) {
            starts.push(s);
        }
    }
    // Each candidate weighs the positive hits inside it.
    let mut parts: Vec<(f32, std::ops::Range<usize>)> = starts
        .into_iter()
        .filter_map(|s| {
            let mut end = floor_boundary(norm, (s + FOCUS_BYTES).min(norm.len()));
            let inside = |end: usize| {
                hits.iter()
                    .filter(move |h| s <= h.span.start && h.span.end <= end)
                    .filter(|h| weight(h).is_some())
            };
            // Up to the end of the line of the last positive hit inside.
            let last = inside(end).map(|h| h.span.end).max()?;
            let next = line_starts[line_starts.partition_point(|&l| l <= last)..]
                .first()
                .copied();
            end = next.map_or(end, |n| end.min(n.saturating_sub(1)));
            if s == 0 && end >= norm.len() {
                return None;
            }
            let total = inside(end).filter_map(weight).sum();
            Some((total, s..end))
        })
        .collect();
    parts.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.start.cmp(&b.1.start)));
    parts.truncate(FOCUS_PARTS);
    parts.sort_by_key(|p| p.1.start);
    parts.into_iter().map(|p| p.1).collect()
}

/// Most focus parts per post, and the most bytes of one (about one model window of Cyrillic
/// text; a Latin or emoji text gets less than a window).
pub const FOCUS_PARTS: usize = 3;
/// See [`FOCUS_PARTS`].
pub const FOCUS_BYTES: usize = 900;
/// How far back from a hit its line or sentence start is looked for; without one in reach the
/// part starts at the hit's word.
const FOCUS_LOOKBACK: usize = 400;

/// The start of the line holding byte `at` (the last of `line_starts` at or before it), or
/// in a text longer than [`FOCUS_BYTES`] of its sentence (after `.`, `!`, `?`, `…` and white
/// space) if that is later, looked for at most [`FOCUS_LOOKBACK`] bytes back; else `at`.
/// White space at the start is skipped.
///
/// Sentence starts only in long texts: in a short news post a later sentence read alone
/// ("he was promised 500 $ for burning a car") looks like the offer it reports. Measured on
/// dev (members fine-tuned on 2026-12-07, not shipped; one-scale fusion refitted each time):
/// cross-validated objective 0.9671 without parts, 0.9420 with sentence starts in every text,
/// 0.9661 with them only in texts over 700 bytes and 0.9672 over `FOCUS_BYTES` (this rule);
/// test positives behind ~1,500 characters of real text (400 of them) flagged 37.5 / 84.8 /
/// 84.8 / 84.8 %. (Those runs looked for line starts in the normalised text, which has none:
/// the lines are found through the map to the original since 2026-12-08.)
fn part_start(text: &str, line_starts: &[usize], at: usize) -> usize {
    let sentences = text.len() > FOCUS_BYTES;
    let from = floor_boundary(text, at.saturating_sub(FOCUS_LOOKBACK));
    let line = line_starts[..line_starts.partition_point(|&l| l <= at)]
        .last()
        .copied()
        .filter(|&l| l >= from);
    let mut start = line.or((from == 0).then_some(0));
    if sentences {
        let mut prev = None;
        for (i, c) in text[from..at].char_indices() {
            let here = from + i;
            if c.is_whitespace()
                && matches!(prev, Some('.' | '!' | '?' | '…'))
                && start.is_none_or(|s| s <= here)
            {
                start = Some(here + c.len_utf8());
            }
            prev = Some(c);
        }
    }
    let mut s = start.unwrap_or(at);
    while let Some(c) = text[s..at].chars().next().filter(|c| c.is_whitespace()) {
        s += c.len_utf8();
    }
    s
}

/// The largest char boundary of `text` at or below `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Sums rule hits into per-category evidence (see module docs), each weight times its hit's
/// factor.
pub(crate) fn rule_evidence(rules: &RuleSet, hits: &[Hit]) -> RuleEvidence {
    // Per (scope, role): the sum and the strongest weight. Scope slots 0..3 are the
    // categories, 3 is `any`; `find` yields each rule once.
    let mut sum = [[0f32; ROLES]; 4];
    let mut max = [[0f32; ROLES]; 4];
    let mut counter = 0f32;
    let mut against = [0f32; ROLES];
    for h in hits {
        let Some(rule) = rules.rules().get(h.rule) else {
            continue;
        };
        let weight = rule.weight * h.factor;
        if rule.role == Role::Allow {
            // Outside `counter` and its cap: it acts through its own fusion term only.
            against[rule.role as usize] += weight;
        } else if rule.role.is_negative() {
            counter += weight;
            against[rule.role as usize] += weight;
        } else {
            let slot = rule.scope.category().map_or(3, Category::index);
            let role = rule.role as usize;
            sum[slot][role] += weight;
            max[slot][role] = max[slot][role].max(weight);
        }
    }
    // Within a role, the strongest rule counts fully and the others half, up to the cap.
    // `sum − max` never falls when a rule is added, so the total stays monotone.
    let cap = rules.scoring().role_rest_cap;
    let role_total =
        |slot: usize, r: usize| max[slot][r] + ROLE_REST * (sum[slot][r] - max[slot][r]).min(cap);
    let total = |slot: usize| -> f32 { (0..ROLES).map(|r| role_total(slot, r)).sum() };
    let counter_cap = rules.scoring().counter_cap;
    let roles = Category::ALL.map(|c| {
        std::array::from_fn(|r| {
            if r == Role::Allow as usize {
                -against[r]
            } else if against[r] > 0.0 {
                -against[r].min(counter_cap)
            } else {
                role_total(c.index(), r) + role_total(3, r)
            }
        })
    });
    let counter = counter.min(counter_cap);
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
    RuleEvidence {
        evidence: PerCategory(evidence),
        counter,
        roles: PerCategory(roles),
    }
}

/// Number of [`crate::rules::Role`] variants.
pub const ROLES: usize = Role::ALL.len();
const _: () = assert!(Role::Allow as usize + 1 == ROLES);
/// Share of a role's weaker rules in its total.
const ROLE_REST: f32 = 0.5;

/// One term of a category's fused log-odds (see [`Fusion`]): the offset, the model's logit,
/// the rules' combined evidence `E(c)`, or one rule role's own part
/// ([`RuleEvidence::roles`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Term {
    /// A constant per category (its value is 1).
    Offset,
    /// The model's logit for the category (less any short-text discount).
    Model,
    /// The rules' combined evidence `E(c)` (module docs).
    Rules,
    /// The [`Role::Action`] part.
    Action,
    /// The [`Role::Target`] part.
    Target,
    /// The [`Role::Hook`] part.
    Hook,
    /// The [`Role::Payment`] part.
    Payment,
    /// The [`Role::Contact`] part.
    Contact,
    /// The [`Role::Proof`] part.
    Proof,
    /// The [`Role::Secrecy`] part.
    Secrecy,
    /// The [`Role::Urgency`] part.
    Urgency,
    /// The [`Role::News`] part (≤ 0).
    News,
    /// The [`Role::Warning`] part (≤ 0).
    Warning,
    /// The [`Role::Reported`] part (≤ 0).
    Reported,
    /// The [`Role::Legit`] part (≤ 0).
    Legit,
    /// The [`Role::Allow`] part (≤ 0): minus the weights of the allow rules that fired. Its
    /// weight is 1 in every fusion unless a calibration file says otherwise; `calibrate`
    /// never fits it (dev has no allow rules), so an allow rule of weight `w` lowers every
    /// category's log-odds by exactly `w`.
    Allow,
}

/// Number of [`Term`] variants.
pub const TERMS: usize = 3 + ROLES;

impl Term {
    /// Every term, in the order of [`TermWeights`].
    pub const ALL: [Term; TERMS] = [
        Term::Offset,
        Term::Model,
        Term::Rules,
        Term::Action,
        Term::Target,
        Term::Hook,
        Term::Payment,
        Term::Contact,
        Term::Proof,
        Term::Secrecy,
        Term::Urgency,
        Term::News,
        Term::Warning,
        Term::Reported,
        Term::Legit,
        Term::Allow,
    ];

    /// Position in [`Term::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The rule role this term stands for, if it is a role term.
    pub fn role(self) -> Option<Role> {
        self.index().checked_sub(3).map(|i| Role::ALL[i])
    }

    /// Lower-case name, as in `calibration.json` and JSON verdicts.
    pub fn as_str(self) -> &'static str {
        match self {
            Term::Offset => "offset",
            Term::Model => "model",
            Term::Rules => "rules",
            t => t.role().map_or("", Role::as_str),
        }
    }

    /// The term's value for category `c`: 1 for the offset, the model logit `m`, `E(c)`, or
    /// the role's part.
    pub fn value(self, c: Category, m: f32, ev: &RuleEvidence) -> f32 {
        match self {
            Term::Offset => 1.0,
            Term::Model => m,
            Term::Rules => ev.evidence[c],
            t => t.role().map_or(0.0, |r| ev.roles[c][r as usize]),
        }
    }
}

const _: () = assert!(Role::Allow as usize + 3 == Term::Allow as usize);

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One category's weight per [`Term`], in [`Term::ALL`] order. Serialised as a map from term
/// name to weight, zero weights left out.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TermWeights(pub [f32; TERMS]);

impl TermWeights {
    /// The weight of one term.
    pub fn get(&self, t: Term) -> f32 {
        self.0[t.index()]
    }

    /// Sets the weight of one term.
    pub fn set(&mut self, t: Term, w: f32) -> &mut Self {
        self.0[t.index()] = w;
        self
    }
}

impl Serialize for TermWeights {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let nonzero = Term::ALL.iter().filter(|t| self.get(**t) != 0.0);
        let mut map = s.serialize_map(Some(nonzero.clone().count()))?;
        for t in nonzero {
            map.serialize_entry(t, &self.get(*t))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TermWeights {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<Term, f32>::deserialize(d)?;
        let mut w = TermWeights::default();
        w.set(Term::Allow, 1.0);
        for (t, v) in map {
            w.set(t, v);
        }
        Ok(w)
    }
}

/// How model logits and rule evidence are combined: per category `c`,
/// `score(c) = σ(Σ_t w_t(c) · x_t(c))` over the [`Term`]s `x_t` (offset, model logit, `E(c)`,
/// each role's part). Every weight but the offset's is ≥ 0 and the model's is > 0, so a score
/// never falls when the model's logit or a positive rule's weight rises, nor rises with
/// counter-evidence; each term's product is reported in the verdict
/// ([`crate::Verdict::contributions`]), so the explanation is the formula.
///
/// The lab's `calibrate` fits the weights per category on the dev split (a logistic
/// regression under those sign constraints, kept only when it beats the one-scale form on
/// dev), in the manner of Rspamd's neural layer over its symbols. The one-scale form
/// `σ(a·m + b·E + o)` ([`Fusion::scaled`]) is the special case with only the offset, model and
/// rules terms; `calibration.json` files written in that form (`model_scale`, `rule_scale`,
/// `offset`) still load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "FusionRepr", into = "FusionRepr")]
pub struct Fusion {
    /// The term weights of each category.
    pub weights: PerCategory<TermWeights>,
}

/// `calibration.json`'s two spellings of a [`Fusion`].
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum FusionRepr {
    Weights(WeightsRepr),
    Scaled(ScaledRepr),
}

/// The term weights per category.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightsRepr {
    sabotage: TermWeights,
    reconnaissance: TermWeights,
    lure: TermWeights,
}

/// The one-scale form of calibrations made before 2026-12.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaledRepr {
    model_scale: f32,
    rule_scale: f32,
    offset: PerCategory<f32>,
}

impl From<FusionRepr> for Fusion {
    fn from(r: FusionRepr) -> Self {
        match r {
            FusionRepr::Weights(w) => Fusion {
                weights: PerCategory([w.sabotage, w.reconnaissance, w.lure]),
            },
            FusionRepr::Scaled(s) => Fusion::scaled(s.model_scale, s.rule_scale, s.offset),
        }
    }
}

impl From<Fusion> for FusionRepr {
    fn from(f: Fusion) -> Self {
        let [sabotage, reconnaissance, lure] = f.weights.0;
        FusionRepr::Weights(WeightsRepr {
            sabotage,
            reconnaissance,
            lure,
        })
    }
}

impl Fusion {
    /// The one-scale form `σ(a·m(c) + b·E(c) + o(c))`.
    pub fn scaled(model_scale: f32, rule_scale: f32, offset: PerCategory<f32>) -> Fusion {
        Fusion {
            weights: offset.map(|o| {
                let mut w = TermWeights::default();
                w.set(Term::Offset, o)
                    .set(Term::Model, model_scale)
                    .set(Term::Rules, rule_scale)
                    .set(Term::Allow, 1.0);
                w
            }),
        }
    }

    /// What a detector without a model uses: `σ(bias + E(c))`.
    pub(crate) fn rules_only(bias: f32) -> Fusion {
        let mut f = Fusion::scaled(0.0, 1.0, PerCategory::splat(bias));
        for w in &mut f.weights.0 {
            w.set(Term::Model, 0.0);
        }
        f
    }

    /// Checks that every weight is finite, the model's > 0 and every other but the offset's
    /// ≥ 0 (the formula stays monotone).
    pub fn validate(&self) -> Result<()> {
        for (c, w) in self.weights.pairs() {
            for t in Term::ALL {
                let v = w.get(t);
                let ok = v.is_finite()
                    && match t {
                        Term::Offset => true,
                        Term::Model => v > 0.0,
                        _ => v >= 0.0,
                    };
                if !ok {
                    return Err(Error::Config(format!(
                        "fusion weight of {t} for {c} must be finite and {}, got {v}",
                        match t {
                            Term::Model => "> 0",
                            _ => ">= 0",
                        }
                    )));
                }
            }
        }
        Ok(())
    }

    /// The fused log-odds of category `c` for model logit `m`.
    pub fn logit(&self, c: Category, m: f32, ev: &RuleEvidence) -> f32 {
        let w = &self.weights[c];
        Term::ALL
            .iter()
            .map(|&t| w.get(t) * t.value(c, m, ev))
            .sum()
    }

    /// Fused scores: `σ(Σ_t w_t(c)·x_t(c))` per category.
    pub fn scores(&self, model_logits: PerCategory<f32>, ev: &RuleEvidence) -> Scores {
        Scores::from_array(Category::ALL.map(|c| sigmoid(self.logit(c, model_logits[c], ev))))
    }

    /// Every term with a nonzero product, per category: what [`Fusion::scores`] summed.
    pub fn contributions(
        &self,
        model_logits: PerCategory<f32>,
        ev: &RuleEvidence,
    ) -> Vec<Contribution> {
        let mut out = Vec::new();
        for c in Category::ALL {
            let w = &self.weights[c];
            for t in Term::ALL {
                let (weight, value) = (w.get(t), t.value(c, model_logits[c], ev));
                if weight * value != 0.0 {
                    out.push(Contribution {
                        category: c,
                        term: t,
                        value,
                        weight,
                        logit: weight * value,
                    });
                }
            }
        }
        out
    }
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::scaled(1.0, 0.5, PerCategory::splat(0.0))
    }
}

/// One term's part in a category's fused log-odds: the score is `σ` of the sum of `logit`
/// over the category's contributions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Contribution {
    /// The category scored.
    pub category: Category,
    /// The term.
    pub term: Term,
    /// The term's value (1 for the offset; the model's logit; rule evidence in log-odds).
    pub value: f32,
    /// Its weight in this category's fusion.
    pub weight: f32,
    /// `weight · value`, in log-odds.
    pub logit: f32,
}

/// Per-category decision thresholds on the fused scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds(pub PerCategory<f32>);

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds(PerCategory::splat(0.5))
    }
}

impl Thresholds {
    /// Checks every threshold is in (0, 1].
    pub fn validate(&self) -> Result<()> {
        if self
            .0
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
            if s >= self.0[c] && best.is_none_or(|(_, b)| s > b) {
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

/// What is subtracted from the model's logits before fusion: `prior · (1 − letters/L)` for a
/// text of `letters < L` letters on which no positive rule fired, else 0 (see module docs).
pub(crate) fn short_text_discount(rules: &RuleSet, analysis: &RuleAnalysis, norm: &str) -> f32 {
    let spec = rules.scoring();
    let limit = spec.short_text_letters as usize;
    if limit == 0 || spec.short_text_prior <= 0.0 {
        return 0.0;
    }
    let positive: f32 = analysis
        .hits
        .iter()
        .filter(|h| is_positive(rules, h))
        .filter_map(|h| rules.rules().get(h.rule).map(|r| r.weight * h.factor))
        .sum();
    if positive > spec.short_text_min_evidence {
        return 0.0;
    }
    let letters = norm
        .chars()
        .filter(|c| c.is_alphabetic())
        .take(limit)
        .count();
    spec.short_text_prior * (1.0 - letters as f32 / limit as f32)
}

/// Fusion constants and thresholds fitted for one model on its dev split; they travel with
/// the model (`calibration.json` beside its weights) and a [`crate::Detector`] built with that
/// model uses them unless told otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// How model logits and rule evidence combine.
    pub fusion: Fusion,
    /// Per-category thresholds on the fused scores (the shipped operating point).
    pub thresholds: Thresholds,
    /// Other thresholds the same fit allows, with what they gave on dev, in order of rising
    /// alarm rate: pick one by alarm budget with [`Calibration::thresholds_for_alarm_rate`]
    /// (or [`crate::DetectorBuilder::alarm_rate`]). Empty in calibrations made before 2026-12.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operating_points: Vec<OperatingPoint>,
    /// Whether the fit read each post's focus parts ([`focus_parts`]) as scoring does: a
    /// [`crate::Detector`] built with this calibration reads them exactly then, so scoring
    /// matches the fit. Absent (false) in calibrations made before 2026-12-07.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub focus: bool,
}

/// One choice of thresholds and what it gave on the dev split it was measured on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatingPoint {
    /// The per-category thresholds.
    pub thresholds: Thresholds,
    /// Dev real messages (the background: Telegram channels, chats, comments, …) flagged, per
    /// 10,000.
    pub alarms_per_10k: f32,
    /// Share of dev positives flagged (any category).
    pub recall: f32,
    /// Share of dev hard negatives (news, warnings, job ads, …) flagged.
    pub hard_fpr: f32,
}

impl Calibration {
    /// Checks both parts and every operating point.
    pub fn validate(&self) -> Result<()> {
        self.fusion.validate()?;
        self.thresholds.validate()?;
        for p in &self.operating_points {
            p.thresholds.validate()?;
            let rate = |x: f32| x.is_finite() && (0.0..=1.0).contains(&x);
            if !(p.alarms_per_10k.is_finite()
                && (0.0..=10_000.0).contains(&p.alarms_per_10k)
                && rate(p.recall)
                && rate(p.hard_fpr))
            {
                return Err(Error::Config(format!(
                    "operating point out of range (alarms per 10,000 in [0, 10000], rates in [0, 1]): {p:?}"
                )));
            }
        }
        Ok(())
    }

    /// The thresholds of the operating point with the highest dev recall among those that
    /// flagged at most `alarms_per_message` of dev's real messages (e.g. `1e-3`: 10 alarms
    /// per 10,000). The rate was measured on dev text, not on yours: check it on a sample of
    /// your own traffic. Fails when the calibration has no operating points or none is
    /// within the budget (the message names the lowest rate available).
    pub fn thresholds_for_alarm_rate(&self, alarms_per_message: f64) -> Result<Thresholds> {
        if !(alarms_per_message.is_finite() && alarms_per_message >= 0.0) {
            return Err(Error::Config(format!(
                "alarm rate must be a finite share >= 0, got {alarms_per_message}"
            )));
        }
        let budget = alarms_per_message * 10_000.0;
        let best = self
            .operating_points
            .iter()
            .filter(|p| p.alarms_per_10k as f64 <= budget + 1e-9)
            .max_by(|a, b| {
                a.recall
                    .total_cmp(&b.recall)
                    .then(b.alarms_per_10k.total_cmp(&a.alarms_per_10k))
            });
        match best {
            Some(p) => Ok(p.thresholds),
            None => {
                let lowest = self
                    .operating_points
                    .iter()
                    .map(|p| p.alarms_per_10k)
                    .min_by(f32::total_cmp);
                Err(Error::Config(match lowest {
                    Some(l) => format!(
                        "no operating point flags at most {budget:.2} per 10,000 messages (lowest: {l:.2} per 10,000)"
                    ),
                    None => "this calibration has no operating points (refit it with the lab's calibrate)".to_string(),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSpec;
    use crate::Span;

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
                factor: 1.0,
            })
            .collect()
    }

    /// The alarm budget picks the best-recall point within it, and says what is available
    /// when none is; bad points and rates are errors.
    #[test]
    fn thresholds_for_alarm_rate_picks_within_the_budget() {
        let point = |t: f32, alarms: f32, recall: f32| OperatingPoint {
            thresholds: Thresholds(PerCategory::splat(t)),
            alarms_per_10k: alarms,
            recall,
            hard_fpr: 0.01,
        };
        let mut cal = Calibration {
            fusion: Fusion::default(),
            thresholds: Thresholds(PerCategory::splat(0.5)),
            operating_points: vec![
                point(0.9, 0.5, 0.80),
                point(0.7, 2.0, 0.90),
                point(0.5, 9.0, 0.95),
            ],
            focus: false,
        };
        cal.validate().unwrap();
        let t = |cal: &Calibration, rate: f64| {
            cal.thresholds_for_alarm_rate(rate)
                .map(|t| t.0[Category::Sabotage])
        };
        assert_eq!(t(&cal, 1e-3).unwrap(), 0.5); // 10 per 10,000
        assert_eq!(t(&cal, 2e-4).unwrap(), 0.7); // 2 per 10,000
        assert_eq!(t(&cal, 1e-4).unwrap(), 0.9);
        let err = t(&cal, 1e-5).unwrap_err().to_string();
        assert!(err.contains("lowest: 0.50 per 10,000"), "{err}");
        assert!(t(&cal, f64::NAN).is_err() && t(&cal, -1.0).is_err());
        cal.operating_points.push(point(0.5, f32::NAN, 0.9));
        assert!(cal.validate().is_err());
        cal.operating_points.clear();
        let err = t(&cal, 1.0).unwrap_err().to_string();
        assert!(err.contains("no operating points"), "{err}");
    }

    #[test]
    fn support_is_gated_by_core() {
        let r = set();
        let only_pay = rule_evidence(&r, &hits(&[2]));
        assert_eq!(only_pay.evidence.0, [0.0, 0.0, 1.0]);
        let ad = rule_evidence(&r, &hits(&[0, 1, 2]));
        assert_eq!(ad.evidence.0, [4.5, 0.0, 1.0]);
        let news = rule_evidence(&r, &hits(&[0, 1, 2, 3]));
        assert_eq!(news.evidence.0, [2.5, -2.0, -1.0]);
        // Without any support (no payment, contact, ...), an action alone counts half.
        assert_eq!(rule_evidence(&r, &hits(&[0])).evidence.0[0], 1.0);
        // Each role's own part: category-scoped for sabotage, `any` for every category,
        // counter roles negative.
        let role = |ev: &RuleEvidence, c: Category, r: Role| ev.roles[c][r as usize];
        assert_eq!(role(&news, Category::Sabotage, Role::Action), 2.0);
        assert_eq!(role(&news, Category::Lure, Role::Action), 0.0);
        assert_eq!(role(&news, Category::Lure, Role::Payment), 1.0);
        assert_eq!(role(&news, Category::Reconnaissance, Role::News), -2.0);
        assert_eq!(role(&ad, Category::Sabotage, Role::News), 0.0);
    }

    /// Both spellings of a fusion load; the weights form round-trips; the one-scale form is
    /// its special case; a negative role weight or a zero model weight is refused.
    #[test]
    fn fusion_forms_load_and_validate() {
        let old: Fusion = serde_json::from_str(
            r#"{"model_scale": 1.0, "rule_scale": 0.5, "offset": [0.0, -1.0, 0.0]}"#,
        )
        .unwrap();
        assert_eq!(old, Fusion::scaled(1.0, 0.5, PerCategory([0.0, -1.0, 0.0])));
        let json = serde_json::to_string(&old).unwrap();
        assert_eq!(
            json,
            r#"{"sabotage":{"model":1.0,"rules":0.5,"allow":1.0},"reconnaissance":{"offset":-1.0,"model":1.0,"rules":0.5,"allow":1.0},"lure":{"model":1.0,"rules":0.5,"allow":1.0}}"#
        );
        assert_eq!(serde_json::from_str::<Fusion>(&json).unwrap(), old);
        // Files written before allow rules existed give them weight 1; an explicit weight stays.
        let before = r#"{"sabotage":{"model":1.0},"reconnaissance":{"model":1.0},"lure":{"model":1.0,"allow":0.5}}"#;
        let f: Fusion = serde_json::from_str(before).unwrap();
        assert_eq!(f.weights[Category::Sabotage].get(Term::Allow), 1.0);
        assert_eq!(f.weights[Category::Lure].get(Term::Allow), 0.5);
        old.validate().unwrap();
        let mut bad = old;
        bad.weights[Category::Lure].set(Term::Warning, -0.1);
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("warning for lure"), "{err}");
        let mut bad = old;
        bad.weights[Category::Sabotage].set(Term::Model, 0.0);
        assert!(bad.validate().is_err());
        assert!(serde_json::from_str::<Fusion>(r#"{"sabotage":{"modle":1.0}}"#).is_err());
    }

    /// A category's score is σ of the sum of its contributions, and every term with a
    /// nonzero part is listed.
    #[test]
    fn contributions_add_up_to_the_score() {
        let r = set();
        let ev = rule_evidence(&r, &hits(&[0, 1, 2, 3]));
        let mut f = Fusion::scaled(0.8, 0.4, PerCategory([0.1, -0.2, 0.3]));
        f.weights[Category::Sabotage]
            .set(Term::Action, 0.7)
            .set(Term::News, 0.5);
        let m = PerCategory([1.5, -2.0, 0.25]);
        let scores = f.scores(m, &ev);
        let parts = f.contributions(m, &ev);
        for c in Category::ALL {
            let sum: f32 = parts
                .iter()
                .filter(|p| p.category == c)
                .map(|p| p.logit)
                .sum();
            assert!((sigmoid(sum) - scores.get(c)).abs() < 1e-6, "{c}");
        }
        let sab: Vec<(Term, f32)> = parts
            .iter()
            .filter(|p| p.category == Category::Sabotage)
            .map(|p| (p.term, p.logit))
            .collect();
        assert_eq!(
            sab,
            [
                (Term::Offset, 0.1),
                (Term::Model, 1.2),
                (Term::Rules, 0.4 * 2.5),
                (Term::Action, 0.7 * 2.0),
                (Term::News, 0.5 * -2.0)
            ]
        );
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
            let mut hits = r.find(t);
            apply_quote_factors(&r, &mut hits, t);
            let mut by_rule = [f32::NAN; 4];
            for h in &hits {
                by_rule[h.rule] = h.factor;
            }
            by_rule
        };
        let framed = factors("задержан за «поджечь авто, оплата сразу»");
        assert_eq!(framed, [0.5, 0.5, 0.5, 1.0]);
        assert_eq!(factors("«поджечь авто», оплата сразу")[..3], [1.0; 3]);
        assert_eq!(factors("поджечь авто, оплата, «задержан»")[..3], [1.0; 3]);
        let framed = analyse(&r, "задержан за «поджечь авто, оплата сразу»");
        let plain = analyse(&r, "задержан за поджечь авто, оплата сразу");
        assert!(framed.evidence.evidence.0[0] < plain.evidence.evidence.0[0]);
    }

    /// Short texts with no positive rule lose up to `short_text_prior` model logits; a
    /// positive rule, a long text or the setting at 0 leaves the model alone.
    #[test]
    fn short_text_discount_needs_no_positive_rule_and_few_letters() {
        let r = embedded_rules();
        assert_eq!(
            (r.scoring().short_text_letters, r.scoring().short_text_prior),
            (48, 8.0)
        );
        let d = |t: &str| short_text_discount(r, &analyse(r, t), t);
        assert_eq!(d(""), 8.0);
        assert_eq!(d("👍"), 8.0);
        assert!((d("привіт") - 8.0 * (1.0 - 6.0 / 48.0)).abs() < 1e-6);
        assert_eq!(d("підпали тцк за 500$"), 0.0, "a positive rule fired");
        assert_eq!(d(&"звичайний день ".repeat(5)), 0.0, "48 letters or more");
        let off = |t: &str| short_text_discount(&set(), &analyse(&set(), t), t);
        assert_eq!(off("привіт"), 0.0, "short_text_letters = 0 turns it off");
    }

    #[test]
    fn thresholds_pick_top_category() {
        let t = Thresholds(PerCategory([0.5, 0.5, 0.6]));
        assert_eq!(t.label(Scores::from_array([0.2, 0.7, 0.9])), Label::Lure);
        assert_eq!(t.label(Scores::from_array([0.2, 0.4, 0.55])), Label::Benign);
        assert_eq!(
            t.label(Scores::from_array([0.8, 0.4, 0.55])),
            Label::Sabotage
        );
    }

    /// Focus parts start where an offer begins after other text, never at the text's start,
    /// never at an offer a warning quotes, at most `FOCUS_PARTS`, on char boundaries.
    #[test]
    fn focus_parts_start_at_the_offers_line_or_sentence() {
        let rules = embedded_rules();
        // As the detector calls it: on the normalised text, lines from the original.
        let parts = |t: &str| {
            let n = crate::normalize(t);
            let a = analyse(rules, n.as_str());
            focus_parts(rules, &a.hits, n.as_str(), &n.line_starts(t))
                .into_iter()
                .map(|r| n.as_str()[r].to_string())
                .collect::<Vec<_>>()
        };
        let offer = "Нужно поджечь авто у военкомата, оплата 500$ сразу, пиши @fire_job";
        let norm_offer = crate::normalize(offer).into_string();
        assert!(parts(offer).is_empty(), "{:?}", parts(offer));
        for sep in ["\n", "\r\n", " \n\n  ", "\u{2029}"] {
            let after_line = format!("Доброе утро всем, сегодня солнечно и тепло.{sep}{offer}");
            assert_eq!(parts(&after_line), vec![norm_offer.clone()], "{sep:?}");
        }
        // An offer with a trailer: its own line (a trailer with a cue of its own, here the
        // urgency of "сегодня", extends the part to its line).
        let before = format!("{offer}\nВсем хорошего вечера и мирного неба.");
        assert_eq!(parts(&before), vec![norm_offer.clone()]);
        let cue = format!("{offer}\nДоброе утро всем, сегодня солнечно и тепло.");
        assert_eq!(
            parts(&cue),
            vec!["доброе утро всем, сегодня солнечно и тепло.".to_string()]
        );
        // Sentence starts count in long texts only.
        let after_sentence = format!("Вчера был хороший день. Мы гуляли в парке! {offer}");
        assert!(parts(&after_sentence).is_empty());
        let day = "Вчера был хороший день, мы гуляли в парке и ели мороженое. ".repeat(10);
        let after_sentences = format!("{day}{offer}");
        assert_eq!(parts(&after_sentences), vec![norm_offer.clone()]);
        let quoted = format!("СБУ предупреждает: вам могут написать «{offer}». Не отвечайте.");
        assert!(parts(&quoted).is_empty(), "{:?}", parts(&quoted));
        let many: String = (0..10).map(|i| format!("Строка {i}.\n{offer}\n")).collect();
        let got = parts(&many);
        assert!(!got.is_empty() && got.len() <= FOCUS_PARTS, "{}", got.len());
        assert!(got
            .iter()
            .all(|p| p.len() <= FOCUS_BYTES && p.starts_with("нужно")));
        // A hit far from any line or sentence start: the part starts at its word.
        let long = format!("{} {offer}", "слово ".repeat(200));
        assert!(parts(&long).iter().all(|p| !p.starts_with(' ')));
    }

    use proptest::prelude::*;

    /// The default rules, compiled once for all cases.
    fn embedded_rules() -> &'static RuleSet {
        static RULES: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
        RULES.get_or_init(|| RuleSet::embedded().expect("embedded rules"))
    }

    proptest! {
    /// Adding a positive rule's hit (at any quote factor) never lowers any category's evidence or fused score.
    #[test]
    fn scores_are_monotone_in_positive_rules(mask in any::<u64>(), extra in 0usize..64, m in -6f32..6.0, q in 0f32..=1.0, qx in 0f32..=1.0) {
        let rules = embedded_rules();
        let n = rules.rules().len();
        let hit = |i: usize| Hit { rule: i, span: Span { start: 0, end: 1 }, factor: 1.0 };
        // Hits may carry a quote factor in [0, 1] (see `apply_quote_factors`).
        let base: Vec<_> = (0..n.min(64)).filter(|i| mask >> i & 1 == 1).map(|i| Hit { factor: q, ..hit(i) }).collect();
        let extra = extra % n;
        prop_assume!(!rules.rules()[extra].role.is_negative());
        prop_assume!(!base.iter().any(|h| h.rule == extra));
        let mut more = base.clone();
        more.push(Hit { factor: qx, ..hit(extra) });
        let (e0, e1) = (rule_evidence(rules, &base), rule_evidence(rules, &more));
        // Any valid fusion: nonnegative term weights drawn from the mask.
        let mut f = Fusion::default();
        for (i, t) in Term::ALL.into_iter().enumerate().skip(2) {
            for c in Category::ALL {
                f.weights[c].set(t, ((mask >> ((i * 3 + c.index()) % 64)) & 3) as f32 * 0.5);
            }
        }
        f.validate().unwrap();
        for c in Category::ALL {
            prop_assert!(e1.evidence[c] >= e0.evidence[c] - 1e-6);
            let m = PerCategory::splat(m);
            let (s0, s1) = (f.scores(m, &e0).get(c), f.scores(m, &e1).get(c));
            prop_assert!(s1 >= s0 - 1e-6);
        }
    }
    }
}
