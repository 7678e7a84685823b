//! `--rules FILE` of the examples: the embedded default rules extended with a user's file
//! (same format as `src/rules/default.toml`), so allow rules and own cues need no rebuild.

use verbovka::rules::{RuleSet, RuleSpec, ScoringSpec};

/// A user rule file, merged into the default rules and compiled.
pub struct UserRules {
    pub set: RuleSet,
    /// Rules of the file.
    pub count: usize,
    /// Ids of default rules the file replaces (same id).
    pub replaced: Vec<String>,
}

/// Reads `path`, checks it and merges it into the embedded rules. Errors name the file and,
/// for a bad rule, the rule and what is wrong with it.
pub fn load(path: &str) -> Result<UserRules, String> {
    let user = RuleSpec::from_path(path).map_err(|e| describe(path, e))?;
    if user.scoring != ScoringSpec::default() {
        return Err(format!(
            "rule file {path}: a [scoring] table is not taken from a user rule file (the \
             embedded constants go with the model's calibration); remove it"
        ));
    }
    if user.rules.is_empty() {
        return Err(format!("rule file {path}: no [[rule]] in it"));
    }
    let mut spec = RuleSpec::embedded().map_err(|e| e.to_string())?;
    let replaced = user
        .rules
        .iter()
        .filter(|r| spec.rules.iter().any(|d| d.id == r.id))
        .map(|r| r.id.clone())
        .collect();
    let count = user.rules.len();
    spec.extend(user);
    let set = RuleSet::compile(&spec).map_err(|e| describe(path, e))?;
    Ok(UserRules {
        set,
        count,
        replaced,
    })
}

/// The error with the file's name in front, unless it names it already.
fn describe(path: &str, e: verbovka::Error) -> String {
    match e {
        verbovka::Error::RuleFile { .. } => e.to_string(),
        verbovka::Error::Io { .. } => format!("cannot read rule file {e}"),
        other => format!("rule file {path}: {other}"),
    }
}
