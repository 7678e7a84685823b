//! Text helpers shared by the generator's edits, background sampling and deduplication.

use std::collections::HashSet;

/// A random element; `None` for an empty slice.
pub(super) fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.usize(..items.len()))
    }
}

pub(super) fn is_contact_token(tok: &str) -> bool {
    tok.contains('@')
        || tok.contains("t.me")
        || tok.contains("http")
        || tok.contains("www.")
        || tok.contains('/')
        || tok.contains(".com")
}

/// Byte ranges of alphabetic runs (≥ 3 letters) outside links, handles and URLs.
pub(super) fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut tok_start: Option<usize> = None;
    let push_token = |start: usize, end: usize, spans: &mut Vec<(usize, usize)>| {
        let tok = &text[start..end];
        if is_contact_token(tok) {
            return;
        }
        let mut run: Option<usize> = None;
        let mut count = 0usize;
        for (i, c) in tok.char_indices() {
            if c.is_alphabetic() {
                if run.is_none() {
                    run = Some(i);
                    count = 0;
                }
                count += 1;
            } else if let Some(r) = run.take() {
                if count >= 3 {
                    spans.push((start + r, start + i));
                }
            }
        }
        if let Some(r) = run {
            if count >= 3 {
                spans.push((start + r, end));
            }
        }
    };
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = tok_start.take() {
                push_token(s, i, &mut spans);
            }
        } else if tok_start.is_none() {
            tok_start = Some(i);
        }
    }
    if let Some(s) = tok_start {
        push_token(s, text.len(), &mut spans);
    }
    spans
}

/// Rebuilds `text` with the chosen spans transformed.
pub(super) fn replace_spans(
    text: &str,
    spans: &[(usize, usize)],
    chosen: &HashSet<usize>,
    mut f: impl FnMut(&str) -> String,
) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for (i, (s, e)) in spans.iter().enumerate() {
        if !chosen.contains(&i) {
            continue;
        }
        out.push_str(&text[last..*s]);
        out.push_str(&f(&text[*s..*e]));
        last = *e;
    }
    out.push_str(&text[last..]);
    out
}

/// The first `max_chars` characters, cut at a space if one is in the second half.
pub(super) fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    match cut.rfind(char::is_whitespace) {
        Some(p) if p > cut.len() / 2 => cut[..p].trim_end().to_string(),
        _ => cut,
    }
}

/// Key for duplicate detection: lower case, whitespace collapsed.
pub(super) fn dedupe_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
