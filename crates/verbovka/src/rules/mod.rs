//! Data-driven rules: keywords and regular expressions with weights, each hit with its span.
//!
//! A rule file is TOML (see `src/rules/default.toml`, embedded as the default):
//!
//! ```toml
//! [scoring]
//! bias = -4.0                 # log-odds of a post with no evidence
//!
//! [[rule]]
//! id = "sab.arson"            # unique; evidence names it
//! category = "sabotage"       # sabotage | reconnaissance | lure | any
//! role = "action"             # see `Role`
//! weight = 2.0                # > 0; negative roles subtract it
//! explain = "arson verb"      # one line for humans
//! keywords = ["поджог", "подожг*"]     # canonical lower-case text; `*` at the end = prefix
//! patterns = ['\d+\s?\$']              # regexes over the normalised text
//! ```
//!
//! Keywords are written in the normaliser's canonical form (lower case, Cyrillic look-alikes
//! undone): loading rejects a keyword that normalisation would change, since it could never
//! match. A keyword matches at word boundaries; a trailing `*` lets the word go on
//! (`подожг*` matches `подожгу`, `подожгли`); a `*` inside a phrase lets that word go on
//! (`военн* част*` matches `военной части`). Patterns are matched as they are; avoid `\b`
//! (Unicode word boundaries make a `RegexSet` on Cyrillic text hundreds of times slower).
//!
//! How hits become scores is in [`crate::scoring`].

mod engine;
mod spec;

pub use engine::{Hit, Rule, RuleSet};
pub use spec::{Role, RuleDef, RuleSpec, Scope, ScoringSpec};

/// The embedded default rule file.
pub const DEFAULT_RULES: &str = include_str!("default.toml");
