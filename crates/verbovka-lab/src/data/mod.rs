//! Labelled dataset: seed files, family-wise splits, the seed-expansion generator and background
//! sampling from real corpora.
//!
//! # File format
//! Seeds and generated sets are JSON Lines, one example a line:
//!
//! ```json
//! {"text": "Нужны люди для подработки, пиши в лс", "label": "lure", "family": "lure-ru-012",
//!  "tags": ["channel-ad"], "lang": "ru"}
//! ```
//!
//! `label` is `sabotage`, `reconnaissance`, `lure` or `benign`; `lang` is `ru`, `uk`, `mixed`
//! (also accepted: `surzhyk`) or `other`. Seed files may carry a free-text `note`, which is
//! ignored. [`load_seeds`] requires `family` and `lang`; [`load_jsonl`] (evaluation input) does not.
//!
//! # Splits
//! Every example belongs to a *family* (a seed and all its variants, or one background source
//! line). [`Split::of_family`] hashes the family name (FNV-1a 64 + a SplitMix64 finaliser, both
//! fixed here, so the split never changes between runs, machines or Rust versions and does not
//! depend on file order) into 100 buckets: 0–69 train, 70–84 dev, 85–99 test. All variants of
//! a seed land in the seed's split, so the test split measures generalisation to phrasings
//! whose family the model never saw.
//!
//! # Generator
//! [`Generator`] turns one seed into variants of the same label, family and split. Each variant
//! draws, from an RNG seeded by `(seed, family, text)` (so adding seeds does not change the
//! variants of the others):
//! - **lexical swaps** — interchangeable phrases of the same grammatical form from the Russian
//!   and Ukrainian lists in the lab's `data/lexicons/` (data, so that they are edited without
//!   touching code): targets (military/volunteer cars, TCC offices, relay cabinets,
//!   substations, towers, police cars), reconnaissance objects, cities (nominative and
//!   locative), verbs of arson, filming and sending, coordinates, pay and contact phrases,
//!   greetings, and singular/plural imperatives (inflections);
//! - **amounts and currencies** — `$300`, `15 000 грн`, `20к руб`, `500 USDT`, ranges; roubles
//!   stay roubles (Russian-side posts), the others mix hryvnias, dollars, USDT and euros;
//! - **contacts** — `@handles`, `@..._bot`, `t.me/...` links (with `?start=` kept) and phone
//!   numbers are replaced by fresh random ones;
//! - **word order** — sentence or line shuffles, a swap of two adjacent words;
//! - **typos** — letter swaps, drops, doubles, keyboard neighbours, vowel confusions;
//! - **register** — emoji, CAPS, lower case, no punctuation, flattened or broken lines;
//! - **obfuscations** ([`Obfuscation`]) that the normaliser undoes, applied to one to three
//!   key words (or, sometimes, look-alike letters sprinkled over the whole text).
//!
//! Variants carry the tag `generated`; obfuscated ones also `obfuscated` and `obf:<kind>`;
//! originals carry `seed`; benign seeds carry `hard` (they are hard negatives by design);
//! background lines carry `background` and `src:<file>`.
//!
//! # Background
//! [`sample_background`] draws real lines from the corpora directory (`*.txt` lines and the
//! `text` field of `*.jsonl`), never from a path with a `heldout` component.

mod background;
mod build;
mod generate;
mod lexicon;
mod mutate;
mod obfuscate;
mod text;
mod translit;

pub use background::sample_background;
pub use build::{build_dataset, BuildConfig, Dataset, DatasetStats};
pub use generate::{Generator, GeneratorConfig};
pub use obfuscate::{obfuscate_word, Obfuscation};
pub use translit::{transliterate, transliterate_plain, TranslitScheme};

use crate::{Error, Label, Lang, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The post as a user would see it (not normalised).
    pub text: String,
    /// Gold label.
    pub label: Label,
    /// Family: a seed and all its variants share one; it decides the split.
    pub family: String,
    /// Free tags (`seed`, `generated`, `obfuscated`, `obf:<kind>`, `hard`, `background`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Language of the text.
    pub lang: Lang,
}

impl Example {
    /// Whether the example carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The split this example belongs to (from its family).
    pub fn split(&self) -> Split {
        Split::of_family(&self.family)
    }

    fn add_tag(&mut self, tag: &str) {
        if !self.has_tag(tag) {
            self.tags.push(tag.to_string());
        }
    }
}

/// A dataset split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training data (70 % of families).
    Train,
    /// Development data for early stopping and thresholds (15 %).
    Dev,
    /// Held-out test data, never used for training or tuning (15 %).
    Test,
}

impl Split {
    /// All splits in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];

    /// Lower-case name (`train`, `dev`, `test`).
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }

    /// The split of a family: stable hash into 100 buckets, 0–69 train, 70–84 dev, 85–99 test.
    pub fn of_family(family: &str) -> Split {
        match stable_hash(family) % 100 {
            0..=69 => Split::Train,
            70..=84 => Split::Dev,
            _ => Split::Test,
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hash of a string that never changes: FNV-1a 64 followed by the SplitMix64 finaliser (so
/// the low bits are well mixed). Used for splits and for per-example RNG seeds.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Deserialize)]
struct RawLine {
    text: Option<String>,
    label: Option<String>,
    family: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    lang: Option<String>,
}

fn parse_lang(s: &str) -> Option<Lang> {
    match s.trim().to_lowercase().as_str() {
        "ru" => Some(Lang::Ru),
        "uk" | "ua" => Some(Lang::Uk),
        "mixed" | "surzhyk" | "ru+uk" | "uk+ru" => Some(Lang::Mixed),
        "other" => Some(Lang::Other),
        _ => None,
    }
}

/// Guesses the language as the detector does (distinctive letters and frequent words of the
/// normalised text).
pub fn guess_lang(text: &str) -> Lang {
    Lang::detect(text)
}

fn data_err(origin: String, message: impl Into<String>) -> Error {
    verbovka::Error::Data {
        origin,
        message: message.into(),
    }
    .into()
}

/// Parses one JSONL line. `origin` is `file:line`. Without `require_family`, a missing family
/// becomes `origin` and a missing lang is guessed.
fn parse_line(line: &str, origin: &str, require_family: bool) -> Result<Example> {
    let raw: RawLine = serde_json::from_str(line)
        .map_err(|e| data_err(origin.to_string(), format!("invalid JSON: {e}")))?;
    let text = raw
        .text
        .ok_or_else(|| data_err(origin.to_string(), "missing field `text`"))?;
    if text.trim().is_empty() {
        return Err(data_err(origin.to_string(), "empty `text`"));
    }
    let label_str = raw
        .label
        .ok_or_else(|| data_err(origin.to_string(), "missing field `label`"))?;
    let label: Label = label_str
        .trim()
        .parse()
        .map_err(|_| data_err(origin.to_string(), format!("unknown label `{label_str}`")))?;
    let family = match raw.family {
        Some(f) if !f.trim().is_empty() => f.trim().to_string(),
        _ if require_family => {
            return Err(data_err(
                origin.to_string(),
                "missing or empty field `family`",
            ))
        }
        _ => origin.to_string(),
    };
    let lang = match raw.lang {
        Some(l) => parse_lang(&l).ok_or_else(|| {
            data_err(
                origin.to_string(),
                format!("unknown lang `{l}` (ru, uk, mixed, other)"),
            )
        })?,
        None if require_family => {
            return Err(data_err(origin.to_string(), "missing field `lang`"));
        }
        None => guess_lang(&text),
    };
    let mut tags: Vec<String> = Vec::new();
    for t in raw.tags.unwrap_or_default() {
        let t = t.trim().to_string();
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    Ok(Example {
        text,
        label,
        family,
        tags,
        lang,
    })
}

fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn parse_jsonl(path: &Path, require_family: bool) -> Result<Vec<Example>> {
    let content = read_to_string(path)?;
    let content = content.strip_prefix('\u{feff}').unwrap_or(&content);
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let origin = format!("{}:{}", path.display(), i + 1);
        out.push(parse_line(line, &origin, require_family)?);
    }
    Ok(out)
}

/// Loads a labelled JSONL file (evaluation input or a generated split). `text` and `label` are
/// required; a missing `family` becomes `file:line`, a missing `lang` is guessed, `tags`
/// default to none. Errors name the file and line.
pub fn load_jsonl(path: &Path) -> Result<Vec<Example>> {
    parse_jsonl(path, false)
}

/// Loads a file of background text for evaluation, every item tagged `background`: JSONL
/// (`*.jsonl`, field `text`; `label` defaults to benign, other fields as in [`load_jsonl`]) or
/// plain text, one item per non-empty line (benign, family `file:line`, language guessed).
pub fn load_background_file(path: &Path) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    if path.extension().is_some_and(|x| x == "jsonl") {
        let content = read_to_string(path)?;
        for (i, line) in content.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let origin = format!("{}:{}", path.display(), i + 1);
            let mut v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| data_err(origin.clone(), format!("invalid JSON: {e}")))?;
            if let Some(obj) = v.as_object_mut() {
                obj.entry("label").or_insert_with(|| "benign".into());
            }
            let mut ex = parse_line(&v.to_string(), &origin, false)?;
            ex.add_tag("background");
            out.push(ex);
        }
    } else {
        let content = read_to_string(path)?;
        for (i, line) in content.lines().enumerate() {
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            out.push(Example {
                text: text.to_string(),
                label: Label::Benign,
                family: format!("{}:{}", path.display(), i + 1),
                tags: vec!["background".to_string()],
                lang: guess_lang(text),
            });
        }
    }
    Ok(out)
}

/// Loads every `*.jsonl` seed file in `dir` (in name order). Each line needs `text`, `label`,
/// `family` and `lang`; `tags` and `note` are optional. Errors name the file and line.
pub fn load_seeds(dir: &Path) -> Result<Vec<Example>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|x| x == "jsonl") {
            files.push(path);
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        out.extend(parse_jsonl(&f, true)?);
    }
    Ok(out)
}

/// Writes examples as JSON Lines (`text`, `label`, `family`, `tags`, `lang`).
pub fn write_jsonl(path: &Path, examples: &[Example]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    for ex in examples {
        let line = serde_json::to_string(ex)
            .map_err(|e| data_err(path.display().to_string(), e.to_string()))?;
        writeln!(w, "{line}").map_err(|e| Error::io(path, e))?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}
