//! Background: real corpus lines as benign examples, so that the model sees the everyday text
//! it must leave alone. Read by path, never copied into the repository.

use super::text::{clip, dedupe_key};
use super::{data_err, guess_lang, read_to_string, stable_hash, Example};
use crate::{Error, Label, Lang, Result};
use regex::Regex;
use std::collections::HashSet;
use std::path::Path;

/// Lines shorter than this (in characters) are not background posts.
const BACKGROUND_MIN_CHARS: usize = 25;
/// ... nor lines with fewer words.
const BACKGROUND_MIN_WORDS: usize = 4;
/// Longer posts are clipped (at a space) to this many characters.
const BACKGROUND_MAX_CHARS: usize = 1000;
/// Short replies (`Да.`, `Ти розумний?`) from chat and dialogue utterance files are kept
/// apart and get this share (1/24) of the sample: real chats are full of them.
const SHORT_SHARE_DIVISOR: usize = 24;
/// Short replies need this many characters (and a letter).
const SHORT_MIN_CHARS: usize = 2;

/// Whether a file holds chat or dialogue utterances (the source of short replies).
fn is_utterance_file(stem: &str) -> bool {
    stem.contains("utterances")
}

/// Telegram exports keep markdown (`**bold**`, `[label](url)`); a reader sees the label only.
/// Left in, it would be a shortcut: no seed has markdown.
fn strip_markdown(text: &str, md_link: &Regex) -> String {
    let t = md_link.replace_all(text, "$1");
    let mut out = t
        .replace("**", "")
        .replace("__", "")
        .replace("~~", "")
        .replace("```", "");
    out.retain(|c| c != '`');
    out
}

/// The usable lines of one corpus file, deduplicated.
struct SourceLines {
    stem: String,
    lang: Lang,
    weight: f64,
    /// (line number, text, extra tag)
    lines: Vec<(usize, String, Option<String>)>,
    /// Short replies (utterance files only): (line number, text).
    short: Vec<(usize, String)>,
}

/// Reads one corpus file: `*.txt` lines or the `text` field of `*.jsonl` (its `topic` becomes
/// a tag), without short lines and markdown, clipped.
fn read_source(path: &Path, md_link: &Regex) -> Result<SourceLines> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let jsonl = path.extension().is_some_and(|x| x == "jsonl");
    let content = read_to_string(path)?;
    let mut lines = Vec::new();
    let mut short = Vec::new();
    let utterances = is_utterance_file(&stem);
    let mut seen: HashSet<String> = HashSet::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (text, extra) = if jsonl {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                data_err(
                    format!("{}:{}", path.display(), i + 1),
                    format!("invalid JSON: {e}"),
                )
            })?;
            let text = v
                .get("text")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_string();
            let topic = v
                .get("topic")
                .and_then(|t| t.as_str())
                .map(|t| format!("topic:{t}"));
            (strip_markdown(text.as_str(), md_link), topic)
        } else {
            (line.to_string(), None)
        };
        let text = text.trim();
        if text.chars().count() < BACKGROUND_MIN_CHARS
            || text.split_whitespace().count() < BACKGROUND_MIN_WORDS
        {
            if utterances
                && text.chars().count() >= SHORT_MIN_CHARS
                && text.chars().any(char::is_alphabetic)
                && seen.insert(dedupe_key(text))
            {
                short.push((i + 1, text.to_string()));
            }
            continue;
        }
        let text = clip(text, BACKGROUND_MAX_CHARS);
        if !seen.insert(dedupe_key(&text)) {
            continue;
        }
        lines.push((i + 1, text, extra));
    }
    let lang = if name.starts_with("ru_") {
        Lang::Ru
    } else if name.starts_with("uk_") {
        Lang::Uk
    } else {
        Lang::Other
    };
    // Telegram posts are the target domain: they weigh three times as much.
    let boost = if stem.contains("telegram") { 3.0 } else { 1.0 };
    let weight = (lines.len() as f64).sqrt() * boost;
    // Parallel files (`*_source` / `*_corrected`) share families line by line.
    let stem = stem
        .trim_end_matches("_source")
        .trim_end_matches("_corrected")
        .to_string();
    Ok(SourceLines {
        stem,
        lang,
        weight,
        lines,
        short,
    })
}

/// Quotas per source: proportional to weight, capped by what each source has (water-filling).
fn allocate(sizes: &[usize], weights: &[f64], n: usize) -> Vec<usize> {
    let mut quota = vec![0usize; sizes.len()];
    let mut active: Vec<usize> = (0..sizes.len()).filter(|&i| sizes[i] > 0).collect();
    let mut remaining = n;
    loop {
        let w: f64 = active.iter().map(|&i| weights[i]).sum();
        if active.is_empty() || remaining == 0 || w <= 0.0 {
            break;
        }
        let saturated: Vec<usize> = active
            .iter()
            .copied()
            .filter(|&i| (sizes[i] as f64) <= remaining as f64 * weights[i] / w)
            .collect();
        if saturated.is_empty() {
            let mut given = 0;
            for &i in &active {
                let q = ((remaining as f64) * weights[i] / w).floor() as usize;
                quota[i] = q.min(sizes[i]);
                given += quota[i];
            }
            // Hand out the rounding remainder one by one.
            let mut left = remaining.saturating_sub(given);
            for &i in &active {
                if left == 0 {
                    break;
                }
                if quota[i] < sizes[i] {
                    quota[i] += 1;
                    left -= 1;
                }
            }
            break;
        }
        for i in saturated {
            quota[i] = sizes[i];
            remaining = remaining.saturating_sub(sizes[i]);
            active.retain(|&a| a != i);
        }
    }
    quota
}

/// Samples up to `n` real lines from the `*.txt` and `*.jsonl` files in `corpora_dir` (the
/// `text` field of JSONL), as benign examples tagged `background` and `src:<file>`. Lines under
/// 25 characters or 4 words are skipped, except in chat and dialogue utterance files
/// (`*utterances*`), whose short replies of 2 characters or more fill 1/24 of `n` (tag `short`;
/// shares ∝ √(short lines)). Long posts are clipped to 1,000 characters, duplicates
/// dropped. Sources get shares ∝ √(lines) (Telegram ×3), capped by what they have. Each line
/// is its own family (`bg:<file>:<line>`; `_source`/`_corrected` parallel files share them).
/// Refuses any path with a `heldout` component.
pub fn sample_background(corpora_dir: &Path, n: usize, seed: u64) -> Result<Vec<Example>> {
    let canon = std::fs::canonicalize(corpora_dir).map_err(|e| Error::io(corpora_dir, e))?;
    for p in [corpora_dir, canon.as_path()] {
        if p.components().any(|c| {
            c.as_os_str()
                .to_string_lossy()
                .to_lowercase()
                .contains("heldout")
        }) {
            return Err(verbovka::Error::Config(format!(
                "{}: held-out data must never be used for training data",
                corpora_dir.display()
            ))
            .into());
        }
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(corpora_dir).map_err(|e| Error::io(corpora_dir, e))? {
        let path = entry.map_err(|e| Error::io(corpora_dir, e))?.path();
        let ok_ext = path.extension().is_some_and(|x| x == "txt" || x == "jsonl");
        let readme = path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().to_lowercase().starts_with("readme"));
        if path.is_file() && ok_ext && !readme {
            files.push(path);
        }
    }
    files.sort();
    let mut sources = Vec::new();
    let md_link = Regex::new(r"\[([^\]\n]*)\]\([^)\s]*\)")
        .map_err(|e| verbovka::Error::Config(format!("markdown pattern: {e}")))?;
    for f in &files {
        sources.push(read_source(f, &md_link)?);
    }
    let short_sizes: Vec<usize> = sources.iter().map(|s| s.short.len()).collect();
    let short_weights: Vec<f64> = short_sizes.iter().map(|&s| (s as f64).sqrt()).collect();
    let short_quotas = allocate(&short_sizes, &short_weights, n / SHORT_SHARE_DIVISOR);
    let sizes: Vec<usize> = sources.iter().map(|s| s.lines.len()).collect();
    let weights: Vec<f64> = sources.iter().map(|s| s.weight).collect();
    let quotas = allocate(&sizes, &weights, n - short_quotas.iter().sum::<usize>());
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (((src, q), short_q), path) in sources
        .into_iter()
        .zip(quotas)
        .zip(short_quotas)
        .zip(&files)
    {
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        // The lines a quota takes: a shuffle seeded by the source (and kind), in file order.
        let pick = |len: usize, quota: usize, key: &str| -> Vec<usize> {
            let mut rng = fastrand::Rng::with_seed(seed ^ stable_hash(key));
            let mut idx: Vec<usize> = (0..len).collect();
            rng.shuffle(&mut idx);
            idx.truncate(quota);
            idx.sort_unstable();
            idx
        };
        let lang_of = |text: &str| {
            if src.lang == Lang::Other {
                guess_lang(text)
            } else {
                src.lang
            }
        };
        let mut push = |line_no: &dyn std::fmt::Display, text: &String, extra: Option<&str>| {
            if !seen.insert(dedupe_key(text)) {
                return;
            }
            let mut tags = vec!["background".to_string(), format!("src:{name}")];
            tags.extend(extra.map(str::to_string));
            out.push(Example {
                text: text.clone(),
                label: Label::Benign,
                family: format!("bg:{}:{}", src.stem, line_no),
                tags,
                lang: lang_of(text),
            });
        };
        for i in pick(src.lines.len(), q, &name) {
            if let Some((line_no, text, extra)) = src.lines.get(i) {
                push(line_no, text, extra.as_deref());
            }
        }
        for i in pick(src.short.len(), short_q, &format!("{name}:short")) {
            if let Some((line_no, text)) = src.short.get(i) {
                push(line_no, text, Some("short"));
            }
        }
    }
    Ok(out)
}
