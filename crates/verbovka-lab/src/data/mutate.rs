//! Edits that keep a post's meaning but change its surface, as real posts vary: word order,
//! typos and register.

use super::text::{pick, replace_spans, word_spans};
use std::collections::HashSet;

/// Splits into sentences (after `.`, `!`, `?`, `…` followed by whitespace).
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        cur.push(c);
        if matches!(c, '.' | '!' | '?' | '…') && chars.peek().is_some_and(|n| n.is_whitespace()) {
            // Keep runs like "!!!" together: only split when the next char is whitespace.
            let s = cur.trim().to_string();
            if !s.is_empty() {
                out.push(s);
            }
            cur.clear();
        }
    }
    let s = cur.trim().to_string();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// Shuffles the lines (keeping the first one in place half the time) or, in a one-line post,
/// the sentences.
pub(super) fn shuffle_order(text: &str, rng: &mut fastrand::Rng) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() >= 2 {
        let mut lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        let keep_first = rng.bool();
        if keep_first {
            rng.shuffle(&mut lines[1..]);
        } else {
            rng.shuffle(&mut lines);
        }
        return lines.join("\n");
    }
    let mut sents = sentences(text);
    if sents.len() < 2 {
        return text.to_string();
    }
    rng.shuffle(&mut sents);
    sents.join(" ")
}

/// Swaps two neighbouring words of four letters or more.
pub(super) fn swap_adjacent_words(text: &str, rng: &mut fastrand::Rng) -> String {
    let mut toks: Vec<&str> = text.split(' ').collect();
    // Only longer words: swapping prepositions and currency words reads as noise.
    let plain = |t: &str| t.chars().count() >= 4 && t.chars().all(char::is_alphabetic);
    let candidates: Vec<usize> = (0..toks.len().saturating_sub(1))
        .filter(|&i| plain(toks[i]) && plain(toks[i + 1]))
        .collect();
    match pick(rng, &candidates) {
        Some(&i) => {
            toks.swap(i, i + 1);
            toks.join(" ")
        }
        None => text.to_string(),
    }
}

/// Rows of the Russian and Ukrainian ЙЦУКЕН layouts (a typo hits a neighbouring key).
const KEYBOARD_ROWS: &[&str] = &[
    "йцукенгшщзхъ",
    "фывапролджэ",
    "ячсмитьбю",
    "йцукенгшщзхї",
    "фівапролджє",
];

fn keyboard_neighbour(c: char, rng: &mut fastrand::Rng) -> Option<char> {
    let lc = c.to_lowercase().next()?;
    for row in KEYBOARD_ROWS {
        let r: Vec<char> = row.chars().collect();
        if let Some(p) = r.iter().position(|x| *x == lc) {
            let mut options = Vec::new();
            if p > 0 {
                options.push(r[p - 1]);
            }
            if p + 1 < r.len() {
                options.push(r[p + 1]);
            }
            return pick(rng, &options).copied();
        }
    }
    None
}

fn vowel_confusion(c: char, uk: bool) -> Option<char> {
    Some(match (c, uk) {
        ('о', false) => 'а',
        ('а', false) => 'о',
        ('е', false) => 'и',
        ('и', false) => 'е',
        ('и', true) => 'і',
        ('і', true) => 'и',
        ('е', true) => 'и',
        _ => return None,
    })
}

fn typo_word(word: &str, uk: bool, rng: &mut fastrand::Rng) -> String {
    let mut cs: Vec<char> = word.chars().collect();
    if cs.len() < 4 {
        return word.to_string();
    }
    let inner = 1 + rng.usize(..cs.len() - 2);
    match rng.u8(..5) {
        0 => cs.swap(inner, inner + 1),
        1 => {
            cs.remove(inner);
        }
        2 => cs.insert(inner, cs[inner]),
        3 => {
            if let Some(n) = keyboard_neighbour(cs[inner], rng) {
                cs[inner] = n;
            }
        }
        _ => {
            let pos: Vec<usize> = (0..cs.len())
                .filter(|&i| vowel_confusion(cs[i], uk).is_some())
                .collect();
            if let Some(&p) = pick(rng, &pos) {
                if let Some(v) = vowel_confusion(cs[p], uk) {
                    cs[p] = v;
                }
            }
        }
    }
    cs.into_iter().collect()
}

/// About one typo per 12 words of four letters or more (at least one).
pub(super) fn add_typos(text: &str, uk: bool, rng: &mut fastrand::Rng) -> String {
    let spans: Vec<(usize, usize)> = word_spans(text)
        .into_iter()
        .filter(|(s, e)| text[*s..*e].chars().count() >= 4)
        .collect();
    if spans.is_empty() {
        return text.to_string();
    }
    let n = 1 + spans.len() / 12;
    let mut chosen: HashSet<usize> = HashSet::new();
    for _ in 0..n {
        chosen.insert(rng.usize(..spans.len()));
    }
    replace_spans(text, &spans, &chosen, |w| typo_word(w, uk, rng))
}

/// One change of register: emoji in front or per line, CAPS, caps first line, lower case, no
/// punctuation, flattened lines, or `!!!`/emoji at the end; emoji are drawn from `decor`.
pub(super) fn change_register(text: &str, decor: &[String], rng: &mut fastrand::Rng) -> String {
    let emoji = |rng: &mut fastrand::Rng| pick(rng, decor).map_or("🔥", String::as_str);
    match rng.u8(..8) {
        0 => {
            let n = 1 + rng.usize(..3);
            let mut pre = String::new();
            for _ in 0..n {
                pre.push_str(emoji(rng));
            }
            format!("{pre} {text}")
        }
        1 => {
            let e = emoji(rng);
            let lines: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.trim().is_empty() {
                        l.to_string()
                    } else {
                        format!("{e} {l}")
                    }
                })
                .collect();
            lines.join("\n")
        }
        2 => text.to_uppercase(),
        3 => {
            let mut lines = text.lines();
            let first = lines.next().unwrap_or("").to_uppercase();
            let rest: Vec<&str> = lines.collect();
            if rest.is_empty() {
                first
            } else {
                format!("{first}\n{}", rest.join("\n"))
            }
        }
        4 => text.to_lowercase(),
        5 => {
            // No punctuation: drop sentence punctuation followed by whitespace or the end.
            let cs: Vec<char> = text.chars().collect();
            let mut out = String::new();
            for (i, c) in cs.iter().enumerate() {
                let next_space = match cs.get(i + 1) {
                    None => true,
                    Some(n) => n.is_whitespace(),
                };
                if matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '…') && next_space {
                    continue;
                }
                if matches!(c, '«' | '»' | '"') {
                    continue;
                }
                out.push(*c);
            }
            out
        }
        6 => {
            let flat: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            flat.join(" ")
        }
        _ => {
            let e = emoji(rng);
            let tail = if rng.bool() {
                "!!!".to_string()
            } else {
                e.repeat(3)
            };
            format!("{} {tail}", text.trim_end())
        }
    }
}
