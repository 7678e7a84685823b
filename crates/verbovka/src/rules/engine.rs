//! Compiled rules: one aho-corasick automaton for every keyword (and for the first word of
//! every wildcard phrase), one `RegexSet` for the patterns.
//!
//! Wildcard phrases (`военн* част*`) are not put in the `RegexSet`: their literal head goes
//! into the automaton and only where it matches is the phrase checked (a straight walk, or an
//! anchored regex for a `*` inside a word). That keeps the set small, which is what keeps it
//! on the fast DFA path.

use super::spec::{Role, RuleSpec, Scope, ScoringSpec};
use crate::{Error, Result, Span};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use std::collections::HashMap;

/// A compiled, immutable rule set; cheap to share between threads.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    scoring: ScoringSpec,
    keywords: Option<AhoCorasick>,
    /// For each automaton pattern: what to check and which rule it belongs to.
    keyword_rules: Vec<Vec<Keyword>>,
    /// Wildcard phrases, indexed by [`Keyword::Phrase`].
    phrases: Vec<Phrase>,
    patterns: Option<RegexSet>,
    /// For each set pattern: its rule and the same regex alone, to find the span.
    pattern_rules: Vec<(usize, Regex)>,
    /// Per rule: where its matches count nothing (`neutral` in the rule file), if anywhere.
    neutral: Vec<Option<Neutral>>,
}

/// A rule's `neutral` and `neutral_unless` regexes, compiled.
#[derive(Debug, Clone)]
struct Neutral {
    within: Vec<Regex>,
    unless: Vec<Regex>,
}

impl Neutral {
    /// The byte ranges of `text` where the rule's matches count nothing: matches of `within`
    /// inside which no `unless` regex matches.
    fn ranges(&self, text: &str) -> Vec<(usize, usize)> {
        self.within
            .iter()
            .flat_map(|re| re.find_iter(text))
            .filter(|m| !self.unless.iter().any(|u| u.is_match(m.as_str())))
            .map(|m| (m.start(), m.end()))
            .collect()
    }
}

/// The neutral ranges of each rule that has any, found once per text on first need.
struct NeutralCache<'a> {
    set: &'a RuleSet,
    text: &'a str,
    ranges: Vec<Option<Vec<(usize, usize)>>>,
}

impl NeutralCache<'_> {
    /// Whether the match `start..end` of `rule` lies inside one of its neutral ranges.
    fn covers(&mut self, rule: usize, start: usize, end: usize) -> bool {
        let Some(Some(neutral)) = self.set.neutral.get(rule) else {
            return false;
        };
        let Some(slot) = self.ranges.get_mut(rule) else {
            return false;
        };
        slot.get_or_insert_with(|| neutral.ranges(self.text))
            .iter()
            .any(|&(a, b)| a <= start && end <= b)
    }
}

/// A wildcard phrase (`военн* част*`): literal parts, each `*` between them a run of word
/// characters or apostrophes (`[\w']*`), matched at the start of the text it is given.
#[derive(Debug, Clone)]
enum Phrase {
    /// Every part after a `*` starts with a character the run cannot hold (the default
    /// rules' `военн* част*` shape): each run is then the longest one, so matching is a
    /// straight walk, exactly what the anchored regex matches. Compiling 112 such regexes
    /// (each with Unicode `\w`) was half of building the default rules.
    Walk(Vec<String>),
    /// Any other phrase (a `*` before a word character, `а*9б`): the anchored regex, whose
    /// greedy runs may give back characters.
    Regex(Regex),
}

impl Phrase {
    fn new(word: &str, rule: &str, shown: &str) -> Result<Self> {
        let parts: Vec<String> = word.split('*').map(str::to_string).collect();
        let walks = parts[1..]
            .iter()
            .all(|p| p.chars().next().is_some_and(|c| !in_run(c)));
        if walks {
            return Ok(Phrase::Walk(parts));
        }
        let body: Vec<String> = parts.iter().map(|p| regex::escape(p)).collect();
        let source = format!("^(?:{})", body.join(r"[\w']*"));
        compile_regex(&source, rule, shown).map(Phrase::Regex)
    }

    /// The end of the phrase's match at the start of `text`, if it matches there.
    fn match_end(&self, text: &str) -> Option<usize> {
        match self {
            Phrase::Regex(re) => re.find(text).map(|m| m.end()),
            Phrase::Walk(parts) => {
                let mut at = 0;
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        at = text[at..]
                            .find(|c: char| !in_run(c))
                            .map_or(text.len(), |n| at + n);
                    }
                    if !text[at..].starts_with(part.as_str()) {
                        return None;
                    }
                    at += part.len();
                }
                Some(at)
            }
        }
    }
}

/// What a phrase's `*` runs over: the regex class `[\w']` (Unicode `\w`).
fn in_run(c: char) -> bool {
    c == '\'' || regex_syntax::is_word_character(c)
}

/// How an automaton match becomes a hit of a rule.
#[derive(Debug, Clone, Copy)]
enum Keyword {
    /// The whole word must end where the keyword ends.
    Exact(usize),
    /// A stem: the word may go on.
    Prefix(usize),
    /// The head of a wildcard phrase: the phrase must match here; `prefix` if the phrase
    /// itself ends in `*`.
    Phrase {
        rule: usize,
        phrase: usize,
        prefix: bool,
    },
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

/// A rule that fired: its index in the set, its first match in the *normalised* text, and the
/// factor on its weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index into [`RuleSet::rules`].
    pub rule: usize,
    /// Leftmost match, a byte span of the normalised text.
    pub span: Span,
    /// Factor on the rule's weight: 1, or the rule file's `quoted_weight` for an offer quoted
    /// inside a news or warning frame (see [`crate::scoring`]).
    pub factor: f32,
}

/// Limits for compiling patterns. The DFA limit is raised from regex's default because a
/// set of Cyrillic patterns otherwise falls off the fast path (see TECH-NOTES).
const REGEX_SIZE_LIMIT: usize = 32 << 20;
const DFA_SIZE_LIMIT: usize = 32 << 20;

/// Compiles one pattern, refusing one that can match the empty string: it would match at
/// every position of every text (no evidence in that), and searching for its non-empty
/// matches restarts at each of them (`(?:п.*щ)?` took 24 s on 400 KB).
fn compile_regex(source: &str, rule: &str, shown: &str) -> Result<Regex> {
    let err = |message: String| Error::Rule {
        rule: rule.to_string(),
        message: format!("pattern {shown:?}: {message}"),
    };
    let re = RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let min_len = regex_syntax::Parser::new()
        .parse(source)
        .ok()
        .and_then(|hir| hir.properties().minimum_len());
    if min_len == Some(0) {
        return Err(err(
            "can match the empty string; make what it must contain non-optional".into(),
        ));
    }
    Ok(re)
}

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
        let mut keyword_rules: Vec<Vec<Keyword>> = Vec::new();
        let mut phrases = Vec::new();
        for (ri, r) in spec.rules.iter().enumerate() {
            for k in &r.keywords {
                let (word, prefix) = match k.strip_suffix('*') {
                    Some(w) => (w, true),
                    None => (k.as_str(), false),
                };
                let (head, kind) = match word.split_once('*') {
                    None if prefix => (word, Keyword::Prefix(ri)),
                    None => (word, Keyword::Exact(ri)),
                    Some((head, _)) => {
                        phrases.push(Phrase::new(word, &r.id, k)?);
                        (
                            head,
                            Keyword::Phrase {
                                rule: ri,
                                phrase: phrases.len() - 1,
                                prefix,
                            },
                        )
                    }
                };
                let pi = *index.entry(head.to_string()).or_insert_with(|| {
                    words.push(head.to_string());
                    keyword_rules.push(Vec::new());
                    words.len() - 1
                });
                keyword_rules[pi].push(kind);
            }
        }
        let keywords = if words.is_empty() {
            None
        } else {
            // A full DFA without prefilter: on Cyrillic every other byte is 0xD0/0xD1, so
            // prefilters find candidates everywhere and only slow the scan down.
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .prefilter(false)
                .build(&words)
                .map_err(|e| Error::RuleMatcher {
                    what: "keyword automaton",
                    source: e.into(),
                })?;
            Some(ac)
        };

        let mut sources = Vec::new();
        let mut pattern_rules = Vec::new();
        for (ri, r) in spec.rules.iter().enumerate() {
            for p in &r.patterns {
                pattern_rules.push((ri, compile_regex(p, &r.id, p)?));
                sources.push(p.clone());
            }
        }
        let mut neutral = Vec::with_capacity(spec.rules.len());
        for r in &spec.rules {
            let compile = |sources: &[String]| -> Result<Vec<Regex>> {
                sources.iter().map(|p| compile_regex(p, &r.id, p)).collect()
            };
            neutral.push(if r.neutral.is_empty() {
                None
            } else {
                Some(Neutral {
                    within: compile(&r.neutral)?,
                    unless: compile(&r.neutral_unless)?,
                })
            });
        }
        let patterns = if sources.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(&sources)
                .size_limit(REGEX_SIZE_LIMIT * 4)
                .dfa_size_limit(DFA_SIZE_LIMIT * 2)
                .build()
                .map_err(|e| Error::RuleMatcher {
                    what: "pattern set",
                    source: e.into(),
                })?;
            Some(set)
        };
        Ok(RuleSet {
            rules,
            scoring: spec.scoring,
            keywords,
            keyword_rules,
            phrases,
            patterns,
            pattern_rules,
            neutral,
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

    /// Every rule that fires on a *normalised* text, once each with its leftmost match
    /// outside the rule's `neutral` ranges, ordered by position. A stem's span covers the
    /// whole word it starts.
    pub fn find(&self, normalized: &str) -> Vec<Hit> {
        let text = normalized;
        let mut first: Vec<Option<Span>> = vec![None; self.rules.len()];
        let mut neutral = NeutralCache {
            set: self,
            text,
            ranges: vec![None; self.rules.len()],
        };
        let mut note = |rule: usize, start: usize, end: usize| {
            if neutral.covers(rule, start, end) {
                return false;
            }
            let slot = &mut first[rule];
            if slot.is_none_or(|s| start < s.start) {
                *slot = Some(Span { start, end });
            }
            true
        };
        if let Some(ac) = &self.keywords {
            for m in ac.find_overlapping_iter(text) {
                let (s, e) = (m.start(), m.end());
                if !at_word_start(text, s) {
                    continue;
                }
                let ends_word = at_word_end(text, e);
                for kw in &self.keyword_rules[m.pattern().as_usize()] {
                    match *kw {
                        Keyword::Exact(rule) if ends_word => {
                            note(rule, s, e);
                        }
                        Keyword::Prefix(rule) => {
                            note(rule, s, word_end(text, e));
                        }
                        Keyword::Phrase {
                            rule,
                            phrase,
                            prefix,
                        } => {
                            if let Some(n) = self.phrases[phrase].match_end(&text[s..]) {
                                let end = s + n;
                                if prefix {
                                    note(rule, s, word_end(text, end));
                                } else if at_word_end(text, end) {
                                    note(rule, s, end);
                                }
                            }
                        }
                        Keyword::Exact(_) => {}
                    }
                }
            }
        }
        if let Some(set) = &self.patterns {
            for pi in set.matches(text).iter() {
                let (rule, re) = &self.pattern_rules[pi];
                // The leftmost non-empty match that is not neutral (`note` skips those).
                for m in re.find_iter(text).filter(|m| !m.is_empty()) {
                    if note(*rule, m.start(), m.end()) {
                        break;
                    }
                }
            }
        }
        let mut hits: Vec<Hit> = first
            .into_iter()
            .enumerate()
            .filter_map(|(rule, span)| {
                Some(Hit {
                    rule,
                    span: span?,
                    factor: 1.0,
                })
            })
            .collect();
        hits.sort_by_key(|h| (h.span.start, h.span.end, h.rule));
        hits
    }
}

fn is_word_char(c: char) -> bool {
    crate::normalize::is_alphanumeric(c) || c == '\'' || c == '_'
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(keywords: &[&str]) -> RuleSet {
        // The default file's header (scoring constants), then one rule per keyword.
        let header = super::super::DEFAULT_RULES
            .split("[[rule]]")
            .next()
            .unwrap_or_default();
        let mut toml = String::from(header);
        for (i, k) in keywords.iter().enumerate() {
            toml.push_str(&format!(
                "[[rule]]\nid = \"r{i}\"\ncategory = \"sabotage\"\nrole = \"action\"\n\
                 weight = 1.0\nexplain = \"x\"\nkeywords = [{k:?}]\n"
            ));
        }
        let spec = RuleSpec::from_toml(&toml, "test").expect("spec");
        RuleSet::compile(&spec).expect("compiles")
    }

    /// `(rule, matched text)` of every hit.
    fn hits<'t>(set: &RuleSet, text: &'t str) -> Vec<(usize, &'t str)> {
        set.find(text)
            .iter()
            .map(|h| (h.rule, &text[h.span.start..h.span.end]))
            .collect()
    }

    #[test]
    fn keywords_match_at_word_starts() {
        let set = rules(&["бус", "автобус", "подожг*", "военн* част*", "поджог"]);
        assert_eq!(hits(&set, "автобус"), [(1, "автобус")]);
        assert_eq!(hits(&set, "бус у автобуса"), [(0, "бус")]);
        assert_eq!(hits(&set, "их подожгли"), [(2, "подожгли")]);
        assert_eq!(hits(&set, "сподожгли, поджоги"), []);
        assert_eq!(
            hits(&set, "у военной части поджог!"),
            [(3, "военной части"), (4, "поджог")]
        );
    }

    #[test]
    fn keywords_starting_with_a_non_word_character_match_anywhere() {
        let set = rules(&["$ сразу", "авто", " зсу"]);
        assert_eq!(
            hits(&set, "500$ сразу, авто зсу"),
            [(0, "$ сразу"), (1, "авто"), (2, " зсу")]
        );
        assert_eq!(hits(&set, "500$ сразуже"), []);
    }

    /// The walk matches what the anchored regex `^(?:part[\w']*part…)` matches, for every
    /// phrase of the default rules, on texts built from the phrase's own parts, word runs of
    /// every kind `\w` holds (letters, marks, digits, `_`, `‿`) and the characters around them.
    #[test]
    fn phrase_walks_match_the_regex_they_replace() {
        let spec = RuleSpec::embedded().expect("default rules");
        let fillers = [
            "",
            "ой",
            "'",
            "ої'в",
            "\u{301}",
            "9",
            "_",
            "‿",
            "-",
            " ",
            ".",
            "ъ\u{300}а",
            "ЁЖ",
            "x",
        ];
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let mut walks = 0;
        for k in spec.rules.iter().flat_map(|r| &r.keywords) {
            let word = k.strip_suffix('*').unwrap_or(k);
            if !word.contains('*') {
                continue;
            }
            let phrase = Phrase::new(word, "r", k).expect("phrase");
            if matches!(phrase, Phrase::Walk(_)) {
                walks += 1;
            }
            let parts: Vec<&str> = word.split('*').collect();
            let source = format!(
                "^(?:{})",
                parts
                    .iter()
                    .map(|p| regex::escape(p))
                    .collect::<Vec<_>>()
                    .join(r"[\w']*")
            );
            let re = Regex::new(&source).expect("regex");
            for _ in 0..200 {
                let mut text = String::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        for _ in 0..next(3) {
                            text.push_str(fillers[next(fillers.len())]);
                        }
                    }
                    // Now and then a part cut short or left out.
                    match next(10) {
                        0 => {}
                        1 => text.push_str(&part.chars().take(2).collect::<String>()),
                        _ => text.push_str(part),
                    }
                }
                for _ in 0..next(3) {
                    text.push_str(fillers[next(fillers.len())]);
                }
                assert_eq!(
                    phrase.match_end(&text),
                    re.find(&text).map(|m| m.end()),
                    "{k:?} on {text:?}"
                );
            }
        }
        assert!(walks > 100, "the default phrases walk ({walks})");
    }

    #[test]
    fn a_star_before_a_word_character_keeps_the_regex() {
        // The run must give back a `9` for the rest to match: only the regex does that.
        let set = rules(&["а*9б", "тип*5"]);
        assert!(matches!(set.phrases[0], Phrase::Regex(_)));
        assert_eq!(hits(&set, "а99б"), [(0, "а99б")]);
        assert_eq!(hits(&set, "ааа9б тип5 типа5"), [(0, "ааа9б"), (1, "тип5")]);
    }
}
