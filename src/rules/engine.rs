//! Compiled rules: one aho-corasick automaton for all keywords, one `RegexSet` for all patterns.

use super::spec::{Role, RuleSpec, Scope, ScoringSpec};
use crate::{Error, Result, Span};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use std::collections::HashMap;

/// A compiled, immutable rule set; cheap to share between threads.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    scoring: ScoringSpec,
    keywords: Option<AhoCorasick>,
    /// For each automaton pattern: the rules using that keyword and whether as a prefix.
    keyword_rules: Vec<Vec<(usize, bool)>>,
    patterns: Option<RegexSet>,
    /// For each set pattern: its rule and the same regex alone, to find the span.
    pattern_rules: Vec<PatternRule>,
}

#[derive(Debug, Clone)]
struct PatternRule {
    rule: usize,
    re: Regex,
    boundary: Boundary,
}

/// Which word boundaries a regex match must respect.
#[derive(Debug, Clone, Copy)]
enum Boundary {
    /// A pattern as the user wrote it: none.
    None,
    /// A wildcard keyword ending in `*`: it must start a word.
    Start,
    /// A wildcard keyword: it must start and end at word boundaries.
    Both,
}

fn compile_regex(source: &str, rule: &str, shown: &str) -> Result<Regex> {
    RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| Error::Rule {
            rule: rule.to_string(),
            message: format!("pattern {shown:?}: {e}"),
        })
}

/// A compiled rule's description, as evidence shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// Category it speaks for.
    pub scope: Scope,
    /// Part it plays.
    pub role: Role,
    /// Strength (positive; negative roles subtract it).
    pub weight: f32,
    /// One line for humans.
    pub explain: String,
}

/// A rule that fired: its index in the set and its first match in the *normalised* text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`RuleSet::rules`].
    pub rule: usize,
    /// Leftmost match, a byte span of the normalised text.
    pub span: Span,
}

/// Limits for compiling patterns. The DFA limit is raised from regex's default because a
/// set of Cyrillic patterns otherwise falls off the fast path (see TECH-NOTES).
const REGEX_SIZE_LIMIT: usize = 32 << 20;
const DFA_SIZE_LIMIT: usize = 32 << 20;

impl RuleSet {
    /// The embedded default rules, compiled.
    pub fn embedded() -> Result<Self> {
        Self::compile(&RuleSpec::embedded()?)
    }

    /// Validates and compiles a rule spec. An invalid regex fails naming its rule.
    pub fn compile(spec: &RuleSpec) -> Result<Self> {
        spec.validate()?;
        let rules: Vec<Rule> = spec
            .rules
            .iter()
            .map(|r| Rule {
                id: r.id.clone(),
                scope: r.category,
                role: r.role,
                weight: r.weight,
                explain: r.explain.clone(),
            })
            .collect();

        let mut words: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut keyword_rules: Vec<Vec<(usize, bool)>> = Vec::new();
        let mut sources = Vec::new();
        let mut pattern_rules = Vec::new();
        for (ri, r) in spec.rules.iter().enumerate() {
            for k in &r.keywords {
                let (word, prefix) = match k.strip_suffix('*') {
                    Some(w) => (w, true),
                    None => (k.as_str(), false),
                };
                if word.contains('*') {
                    // A phrase with inner wildcards (`военн* част*`) becomes a regex whose
                    // word boundaries are checked like a keyword's.
                    let body: Vec<String> = word.split('*').map(regex::escape).collect();
                    let source = body.join(r"[\w']*");
                    let re = compile_regex(&source, &r.id, k)?;
                    let boundary = if prefix {
                        Boundary::Start
                    } else {
                        Boundary::Both
                    };
                    sources.push(source);
                    pattern_rules.push(PatternRule {
                        rule: ri,
                        re,
                        boundary,
                    });
                    continue;
                }
                let pi = *index.entry(word.to_string()).or_insert_with(|| {
                    words.push(word.to_string());
                    keyword_rules.push(Vec::new());
                    words.len() - 1
                });
                keyword_rules[pi].push((ri, prefix));
            }
        }
        let keywords = if words.is_empty() {
            None
        } else {
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&words)
                .map_err(|e| Error::Config(format!("keyword automaton: {e}")))?;
            Some(ac)
        };
        for (ri, r) in spec.rules.iter().enumerate() {
            for p in &r.patterns {
                let re = compile_regex(p, &r.id, p)?;
                sources.push(p.clone());
                pattern_rules.push(PatternRule {
                    rule: ri,
                    re,
                    boundary: Boundary::None,
                });
            }
        }
        let patterns = if sources.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(&sources)
                .size_limit(REGEX_SIZE_LIMIT * 4)
                .dfa_size_limit(DFA_SIZE_LIMIT * 2)
                .build()
                .map_err(|e| Error::Config(format!("pattern set: {e}")))?;
            Some(set)
        };
        Ok(RuleSet {
            rules,
            scoring: spec.scoring,
            keywords,
            keyword_rules,
            patterns,
            pattern_rules,
        })
    }

    /// The rules, in file order; [`Hit::rule`] indexes this.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The scoring constants the rules were written for.
    pub fn scoring(&self) -> ScoringSpec {
        self.scoring
    }

    /// Every rule that fires on a *normalised* text, once each with its leftmost match,
    /// ordered by position.
    pub fn find(&self, normalized: &str) -> Vec<Hit> {
        let mut first: HashMap<usize, Span> = HashMap::new();
        let mut note = |rule: usize, span: Span| {
            first
                .entry(rule)
                .and_modify(|s| {
                    if span.start < s.start {
                        *s = span
                    }
                })
                .or_insert(span);
        };
        if let Some(ac) = &self.keywords {
            for m in ac.find_overlapping_iter(normalized) {
                let (s, e) = (m.start(), m.end());
                if !at_word_start(normalized, s) {
                    continue;
                }
                let ends_word = at_word_end(normalized, e);
                for &(rule, prefix) in &self.keyword_rules[m.pattern().as_usize()] {
                    if ends_word {
                        note(rule, Span { start: s, end: e });
                    } else if prefix {
                        // Evidence shows the whole word, not just the stem.
                        note(
                            rule,
                            Span {
                                start: s,
                                end: word_end(normalized, e),
                            },
                        );
                    }
                }
            }
        }
        if let Some(set) = &self.patterns {
            for pi in set.matches(normalized).iter() {
                let p = &self.pattern_rules[pi];
                let first = p.re.find_iter(normalized).find(|m| {
                    let (s, e) = (m.start(), m.end());
                    !m.is_empty()
                        && match p.boundary {
                            Boundary::None => true,
                            Boundary::Start => at_word_start(normalized, s),
                            Boundary::Both => {
                                at_word_start(normalized, s) && at_word_end(normalized, e)
                            }
                        }
                });
                if let Some(m) = first {
                    let end = match p.boundary {
                        Boundary::Start => word_end(normalized, m.end()),
                        _ => m.end(),
                    };
                    note(
                        p.rule,
                        Span {
                            start: m.start(),
                            end,
                        },
                    );
                }
            }
        }
        let mut hits: Vec<Hit> = first
            .into_iter()
            .map(|(rule, span)| Hit { rule, span })
            .collect();
        hits.sort_by_key(|h| (h.span.start, h.span.end, h.rule));
        hits
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '_'
}

/// Whether a match starting at byte `s` starts a word (or starts with a non-word character).
fn at_word_start(text: &str, s: usize) -> bool {
    !starts_with_word_char(&text[s..]) || !ends_with_word_char(&text[..s])
}

/// Whether a match ending at byte `e` ends a word (or ends with a non-word character).
fn at_word_end(text: &str, e: usize) -> bool {
    !ends_with_word_char(&text[..e]) || !starts_with_word_char(&text[e..])
}

/// The end of the word that byte `e` lies in (or `e` itself at a boundary).
fn word_end(text: &str, e: usize) -> usize {
    text[e..]
        .find(|c: char| !is_word_char(c))
        .map_or(text.len(), |n| e + n)
}

fn starts_with_word_char(s: &str) -> bool {
    s.chars().next().is_some_and(is_word_char)
}

fn ends_with_word_char(s: &str) -> bool {
    s.chars().next_back().is_some_and(is_word_char)
}
