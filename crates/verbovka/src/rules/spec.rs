//! The rule file as data: parsed with serde, validated before it is compiled.

use crate::{normalize, Category, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// Which category a rule speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Evidence for one category only.
    Sabotage,
    /// Evidence for one category only.
    Reconnaissance,
    /// Evidence for one category only.
    Lure,
    /// Shared evidence (payment, contact, proof, ... and every negative role).
    Any,
}

impl Scope {
    /// The category, or `None` for [`Scope::Any`].
    pub fn category(self) -> Option<Category> {
        match self {
            Scope::Sabotage => Some(Category::Sabotage),
            Scope::Reconnaissance => Some(Category::Reconnaissance),
            Scope::Lure => Some(Category::Lure),
            Scope::Any => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.category().map_or("any", Category::as_str))
    }
}

/// The part a rule plays in an ad (or against it): it decides the sign of the rule's weight
/// and explains the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// What the recruit is asked to do (burn, photograph, send coordinates).
    Action,
    /// What it is done to (TCC office, relay cabinet, checkpoint, air defence).
    Target,
    /// A lure's hook ("easy money", "work for the brave", "one task").
    Hook,
    /// Money offered: amounts, currencies, crypto, "paid at once".
    Payment,
    /// How to reach the handler: @handles, t.me links, bots, "DM me".
    Contact,
    /// Proof demanded: photo or video report.
    Proof,
    /// Secrecy promised: anonymous, no questions.
    Secrecy,
    /// Urgency: today, urgently.
    Urgency,
    /// Counter-evidence: news of arrests, courts, sentences.
    News,
    /// Counter-evidence: police/SBU warnings, advice not to fall for offers.
    Warning,
    /// Counter-evidence: reported speech about an offer ("he was offered").
    Reported,
    /// Counter-evidence: a legitimate context (official employment, fundraising report).
    Legit,
    /// An operator's allow rule (a channel's own handle, a known employer, a phrase): its
    /// weight is subtracted from every category's fused log-odds as it stands, outside
    /// `counter_cap` and the calibrated rule scale, so a user can overrule the detector for
    /// what they know to be harmless. Meant for user rule files, not the embedded one.
    Allow,
}

impl Role {
    /// Every role, in declaration order (the index order of per-role arrays).
    pub const ALL: [Role; 13] = [
        Role::Action,
        Role::Target,
        Role::Hook,
        Role::Payment,
        Role::Contact,
        Role::Proof,
        Role::Secrecy,
        Role::Urgency,
        Role::News,
        Role::Warning,
        Role::Reported,
        Role::Legit,
        Role::Allow,
    ];

    /// Whether hits of this role lower the scores.
    pub fn is_negative(self) -> bool {
        matches!(
            self,
            Role::News | Role::Warning | Role::Reported | Role::Legit | Role::Allow
        )
    }

    /// Lower-case name, as in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Action => "action",
            Role::Target => "target",
            Role::Hook => "hook",
            Role::Payment => "payment",
            Role::Contact => "contact",
            Role::Proof => "proof",
            Role::Secrecy => "secrecy",
            Role::Urgency => "urgency",
            Role::News => "news",
            Role::Warning => "warning",
            Role::Reported => "reported",
            Role::Legit => "legit",
            Role::Allow => "allow",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique id.
    pub id: String,
    /// Category it speaks for.
    pub category: Scope,
    /// Part it plays.
    pub role: Role,
    /// Strength, in log-odds units; > 0.
    pub weight: f32,
    /// One line for humans.
    pub explain: String,
    /// Canonical keywords; a trailing `*` makes a prefix.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Regular expressions over the normalised text.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Where the rule's matches count nothing: regexes over the normalised text; a match of
    /// the rule (keyword or pattern) lying wholly inside a match of one of these is skipped,
    /// and the rule fires only if it matches elsewhere. A channel's own handle ending a post
    /// is a signature, not a "write to me".
    #[serde(default)]
    pub neutral: Vec<String>,
    /// Regexes that void a `neutral` match when one of them matches inside it: an invitation
    /// to write next to the handle makes it count again.
    #[serde(default)]
    pub neutral_unless: Vec<String>,
}

/// Constants of the scoring formula (see [`crate::scoring`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringSpec {
    /// Log-odds of a post with no evidence at all.
    pub bias: f32,
    /// The most that counter-evidence (news, warnings, ...) can subtract.
    pub counter_cap: f32,
    /// Factor on a positive rule's weight when its match lies inside quotation marks in a
    /// text framed as news, a warning or reported speech (a rule of one of those roles fired
    /// outside the quotes): police memos and news quote the offers they warn about.
    #[serde(default = "default_quoted_weight")]
    pub quoted_weight: f32,
    /// Texts with fewer letters than this and no positive rule evidence have their model
    /// logits lowered (see [`crate::scoring`]): one word, an emoji or a greeting is not an
    /// offer on the model's say alone. 0 turns it off.
    #[serde(default)]
    pub short_text_letters: u32,
    /// The most that is subtracted from a short text's model logits (at 0 letters; linearly
    /// less up to `short_text_letters`).
    #[serde(default)]
    pub short_text_prior: f32,
    /// Positive rule evidence a short text needs to escape that discount: the weights (times
    /// their quote factor) of its positive hits must add up to more than this. 0: any positive
    /// hit does; a higher value keeps one weak cue (`urgency`, one target word) from lifting
    /// the model's say on a two-word reply.
    #[serde(default)]
    pub short_text_min_evidence: f32,
    /// The most that a role's weaker rules add together, before their ½ (see
    /// [`crate::scoring`]): many weak target words in a long news text do not add up to an
    /// offer. `inf` is the old unbounded sum.
    #[serde(default = "default_role_rest_cap")]
    pub role_rest_cap: f32,
}

fn default_role_rest_cap() -> f32 {
    ROLE_REST_CAP
}

/// The default [`ScoringSpec::role_rest_cap`].
const ROLE_REST_CAP: f32 = 1.0;

fn default_quoted_weight() -> f32 {
    0.5
}

impl Default for ScoringSpec {
    fn default() -> Self {
        ScoringSpec {
            bias: -3.5,
            counter_cap: 6.0,
            quoted_weight: default_quoted_weight(),
            short_text_letters: 0,
            short_text_prior: 0.0,
            short_text_min_evidence: 0.0,
            role_rest_cap: default_role_rest_cap(),
        }
    }
}

/// A whole rule file: scoring constants and rules. Can be combined before compiling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Scoring constants; the default if absent.
    #[serde(default)]
    pub scoring: ScoringSpec,
    /// The rules.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleDef>,
}

impl RuleSpec {
    /// The embedded default rules.
    pub fn embedded() -> Result<Self> {
        Self::from_toml(super::DEFAULT_RULES, "<embedded default rules>")
    }

    /// Parses a rule file from a string; `origin` names it in errors. Validates every rule.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let spec: RuleSpec = toml::from_str(text).map_err(|source| Error::RuleFile {
            origin: origin.to_string(),
            source,
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads and parses a rule file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Adds the rules of `other`; a rule with an id already present replaces the old one.
    /// The scoring constants of `self` are kept.
    pub fn extend(&mut self, other: RuleSpec) {
        // By id through an index: linear in both files (100,000 rules took 102 s by search).
        let mut at: std::collections::HashMap<String, usize> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        for rule in other.rules {
            match at.get(&rule.id) {
                Some(&i) => self.rules[i] = rule,
                None => {
                    at.insert(rule.id.clone(), self.rules.len());
                    self.rules.push(rule);
                }
            }
        }
    }

    /// Checks everything that can be checked without compiling regexes: unique ids, weights,
    /// roles that fit their scope, canonical keywords.
    pub fn validate(&self) -> Result<()> {
        if !self.scoring.bias.is_finite()
            || self.scoring.counter_cap.is_nan()
            || self.scoring.counter_cap < 0.0
            || !(0.0..=1.0).contains(&self.scoring.quoted_weight)
            || !(0.0..=20.0).contains(&self.scoring.short_text_prior)
            || !(0.0..=20.0).contains(&self.scoring.short_text_min_evidence)
            || self.scoring.role_rest_cap.is_nan()
            || self.scoring.role_rest_cap < 0.0
        {
            return Err(Error::Config(format!(
                "scoring: bias must be finite, counter_cap ≥ 0, quoted_weight in [0, 1], \
                 short_text_prior and short_text_min_evidence in [0, 20] and role_rest_cap ≥ 0, \
                 got {:?}",
                self.scoring
            )));
        }
        let mut ids = HashSet::new();
        for r in &self.rules {
            let err = |message: String| Error::Rule {
                rule: r.id.clone(),
                message,
            };
            if r.id.trim().is_empty() {
                return Err(err("empty id".into()));
            }
            if !ids.insert(r.id.as_str()) {
                return Err(err("duplicate id".into()));
            }
            if !(r.weight.is_finite() && r.weight > 0.0 && r.weight <= 10.0) {
                let hint = if r.weight < 0.0 {
                    "; the role gives the sign: for an allow rule write a positive weight with \
                     role `allow` and category `any` (counter-evidence: `legit`, `news`, \
                     `warning`, `reported`)"
                } else {
                    ""
                };
                return Err(err(format!(
                    "weight must be in (0, 10], got {}{hint}",
                    r.weight
                )));
            }
            if r.explain.trim().is_empty() {
                return Err(err("empty `explain`".into()));
            }
            if r.keywords.is_empty() && r.patterns.is_empty() {
                return Err(err("needs at least one keyword or pattern".into()));
            }
            if !r.neutral_unless.is_empty() && r.neutral.is_empty() {
                return Err(err("`neutral_unless` needs `neutral` patterns".into()));
            }
            if r.role.is_negative() && r.category != Scope::Any {
                return Err(err(format!(
                    "negative role `{}` must have category `any`, got `{}`",
                    r.role, r.category
                )));
            }
            for k in &r.keywords {
                let word = k.strip_suffix('*').unwrap_or(k);
                if word.trim().is_empty() || word.starts_with('*') || k.contains("**") {
                    return Err(err(format!(
                        "bad keyword {k:?}: `*` may not start it or repeat"
                    )));
                }
                let canon = normalize(word);
                if canon.as_str() != word {
                    return Err(err(format!(
                        "keyword {k:?} is not canonical (the normaliser turns it into {:?}); \
                         write it in lower case, with Cyrillic letters and single spaces",
                        canon.as_str()
                    )));
                }
            }
        }
        Ok(())
    }
}
