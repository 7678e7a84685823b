//! Obfuscations: the ways evaders disguise words, generated only in forms that
//! `verbovka::normalize` undoes, so that a model learns to read through them.

use super::guess_lang;
use super::lexicon::Lexicon;
use super::text::{pick, replace_spans, word_spans};
use crate::Lang;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// One way evaders disguise a word; every one is undone by the normaliser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Obfuscation {
    /// Latin look-alikes inside a Cyrillic word (`подрaбoткa`; Ukrainian `і` → Latin `i`).
    Latin,
    /// Greek look-alikes (`ο ρ α κ χ`, capitals `Α Β Ε Η Κ Μ Ο Ρ Τ Χ`).
    Greek,
    /// Digits for letters (`п0дж0г`, `3аработок`, `4ат`, `6ыстро`).
    Digits,
    /// Letters separated by spaces (`п о д ж о г`).
    Spacing,
    /// Letters separated by dots (`п.о.д.ж.о.г`).
    Dots,
    /// Letters separated by hyphens (`п-о-д-ж-о-г`).
    Hyphens,
    /// Zero-width spaces U+200B between letters.
    ZeroWidth,
    /// Soft hyphens U+00AD between letters.
    SoftHyphen,
    /// An emoji inside the word (`под🔥жог`).
    Emoji,
    /// A letter repeated (`поооджог`).
    Repeat,
    /// Fullwidth Latin forms (`ｐｏｄ` via look-alikes, `ＵＳＤＴ`).
    Fullwidth,
    /// Mathematical bold / sans-serif bold Latin forms (`𝐩𝐨𝐝`, `𝗨𝗦𝗗𝗧`).
    Math,
}

impl Obfuscation {
    /// All kinds.
    pub const ALL: [Obfuscation; 12] = [
        Obfuscation::Latin,
        Obfuscation::Greek,
        Obfuscation::Digits,
        Obfuscation::Spacing,
        Obfuscation::Dots,
        Obfuscation::Hyphens,
        Obfuscation::ZeroWidth,
        Obfuscation::SoftHyphen,
        Obfuscation::Emoji,
        Obfuscation::Repeat,
        Obfuscation::Fullwidth,
        Obfuscation::Math,
    ];

    /// Lower-case name, as in the `obf:<kind>` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Obfuscation::Latin => "latin",
            Obfuscation::Greek => "greek",
            Obfuscation::Digits => "digits",
            Obfuscation::Spacing => "spacing",
            Obfuscation::Dots => "dots",
            Obfuscation::Hyphens => "hyphens",
            Obfuscation::ZeroWidth => "zerowidth",
            Obfuscation::SoftHyphen => "softhyphen",
            Obfuscation::Emoji => "emoji",
            Obfuscation::Repeat => "repeat",
            Obfuscation::Fullwidth => "fullwidth",
            Obfuscation::Math => "math",
        }
    }

    /// Kinds that insert or repeat characters instead of replacing Cyrillic letters, so they
    /// also work on Latin words.
    fn is_separator(self) -> bool {
        matches!(
            self,
            Obfuscation::Spacing
                | Obfuscation::Dots
                | Obfuscation::Hyphens
                | Obfuscation::ZeroWidth
                | Obfuscation::SoftHyphen
                | Obfuscation::Emoji
                | Obfuscation::Repeat
        )
    }
}

/// Cyrillic letter → Latin look-alike.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' => 'a',
        'е' => 'e',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'у' => 'y',
        'х' => 'x',
        'к' => 'k',
        'і' => 'i',
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'І' => 'I',
        'У' => 'Y',
        _ => return None,
    })
}

/// Cyrillic letter → Greek look-alike.
fn greek_lookalike(c: char) -> Option<char> {
    Some(match c {
        'о' => 'ο',
        'р' => 'ρ',
        'а' => 'α',
        'к' => 'κ',
        'х' => 'χ',
        'А' => 'Α',
        'В' => 'Β',
        'Е' => 'Ε',
        'К' => 'Κ',
        'М' => 'Μ',
        'Н' => 'Η',
        'О' => 'Ο',
        'Р' => 'Ρ',
        'Т' => 'Τ',
        'Х' => 'Χ',
        'І' => 'Ι',
        _ => return None,
    })
}

/// Cyrillic letter → digit.
fn digit_lookalike(c: char) -> Option<char> {
    Some(match c {
        'о' | 'О' => '0',
        'з' | 'З' => '3',
        'ч' | 'Ч' => '4',
        'б' | 'Б' => '6',
        _ => return None,
    })
}

/// ASCII letter → fullwidth (`style` 0), mathematical bold (1) or sans-serif bold (2).
fn styled_ascii(c: char, style: u8) -> Option<char> {
    let (upper_base, lower_base) = match style {
        0 => (0xFF21u32, 0xFF41u32),
        1 => (0x1D400, 0x1D41A),
        _ => (0x1D5D4, 0x1D5EE),
    };
    let cp = if c.is_ascii_uppercase() {
        upper_base + (c as u32 - 'A' as u32)
    } else if c.is_ascii_lowercase() {
        lower_base + (c as u32 - 'a' as u32)
    } else {
        return None;
    };
    char::from_u32(cp)
}

/// Whether `w` holds a Cyrillic letter (the normaliser maps look-alikes back only then).
fn is_cyrillic_word(w: &str) -> bool {
    w.chars().any(|c| ('\u{0400}'..='\u{04ff}').contains(&c))
}

/// Whether `w` starts with one of `stems` (lower case): the words filters look for.
fn is_key_word(w: &str, stems: &[String]) -> bool {
    let lw = w.to_lowercase();
    stems.iter().any(|s| lw.starts_with(s.as_str()))
}

/// Applies one obfuscation to one word. `uk` prefers Latin `i` for Ukrainian `і`; `emoji` are
/// those to put inside a word. Returns `None` if the kind cannot change this word (e.g. digits
/// for a word without о/з/ч/б).
fn obfuscate_chars(
    word: &str,
    kind: Obfuscation,
    uk: bool,
    emoji: &[String],
    rng: &mut fastrand::Rng,
) -> Option<String> {
    let out = obfuscate_chars_raw(word, kind, uk, emoji, rng)?;
    // The normaliser maps look-alikes back only inside words that still hold a Cyrillic
    // letter; a word turned wholly Latin would stay Latin.
    if is_cyrillic_word(word) && !is_cyrillic_word(&out) {
        return None;
    }
    Some(out)
}

fn obfuscate_chars_raw(
    word: &str,
    kind: Obfuscation,
    uk: bool,
    emoji: &[String],
    rng: &mut fastrand::Rng,
) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 2 {
        return None;
    }
    let join = |sep: &str| -> String {
        let mut s = String::new();
        for (i, c) in chars.iter().enumerate() {
            if i > 0 {
                s.push_str(sep);
            }
            s.push(*c);
        }
        s
    };
    // Substitutes a share of mappable letters (at least one).
    let substitute = |rng: &mut fastrand::Rng, map: &dyn Fn(char) -> Option<char>, share: f32| {
        let positions: Vec<usize> = chars
            .iter()
            .enumerate()
            .filter(|(_, c)| map(**c).is_some())
            .map(|(i, _)| i)
            .collect();
        if positions.is_empty() {
            return None;
        }
        let forced = positions.get(rng.usize(..positions.len())).copied();
        let mut out = String::new();
        for (i, c) in chars.iter().enumerate() {
            let hit = Some(i) == forced || (positions.contains(&i) && rng.f32() < share);
            match (hit, map(*c)) {
                (true, Some(m)) => out.push(m),
                _ => out.push(*c),
            }
        }
        Some(out)
    };
    match kind {
        Obfuscation::Latin => {
            if uk && chars.iter().any(|c| *c == 'і' || *c == 'І') && rng.f32() < 0.7 {
                let only_i = |c: char| match c {
                    'і' => Some('i'),
                    'І' => Some('I'),
                    _ => None,
                };
                substitute(rng, &only_i, 1.0)
            } else {
                substitute(rng, &latin_lookalike, 0.5)
            }
        }
        Obfuscation::Greek => substitute(rng, &greek_lookalike, 0.5),
        Obfuscation::Digits => {
            // As the normaliser reads them: a leading digit is a letter only before five or
            // more letters (3аработок), other digits only between letters (п0дж0г).
            let n = chars.len();
            let lead = digit_lookalike(chars[0]).filter(|_| n >= 5);
            match lead {
                Some(d) if rng.f32() < 0.3 => Some(
                    std::iter::once(d)
                        .chain(chars[1..].iter().copied())
                        .collect(),
                ),
                _ => {
                    let inner = |i: usize, c: char| {
                        if i == 0 || i + 1 == n {
                            None
                        } else {
                            digit_lookalike(c)
                        }
                    };
                    let positions: Vec<usize> =
                        (0..n).filter(|&i| inner(i, chars[i]).is_some()).collect();
                    let forced = pick(rng, &positions).copied()?;
                    let mut out = String::new();
                    for (i, c) in chars.iter().enumerate() {
                        match inner(i, *c) {
                            Some(d) if i == forced || rng.f32() < 0.7 => out.push(d),
                            _ => out.push(*c),
                        }
                    }
                    Some(out)
                }
            }
        }
        // The normaliser joins runs of four or more separated single letters.
        Obfuscation::Spacing | Obfuscation::Dots | Obfuscation::Hyphens if chars.len() < 4 => None,
        Obfuscation::Spacing => Some(join(" ")),
        Obfuscation::Dots => Some(join(".")),
        Obfuscation::Hyphens => Some(join("-")),
        Obfuscation::ZeroWidth | Obfuscation::SoftHyphen => {
            let mark = if kind == Obfuscation::ZeroWidth {
                '\u{200B}'
            } else {
                '\u{00AD}'
            };
            let every = rng.bool();
            let mut out = String::new();
            let mut inserted = false;
            let last = chars.len() - 1;
            for (i, c) in chars.iter().enumerate() {
                out.push(*c);
                if i < last && (every || rng.f32() < 0.4) {
                    out.push(mark);
                    inserted = true;
                }
            }
            if !inserted {
                // Always at least one mark, in the middle.
                let mid = chars.len() / 2;
                out = chars[..mid].iter().collect::<String>()
                    + &mark.to_string()
                    + &chars[mid..].iter().collect::<String>();
            }
            Some(out)
        }
        Obfuscation::Emoji => {
            let pos = 1 + rng.usize(..chars.len() - 1);
            let e = pick(rng, emoji).map_or("🔥", String::as_str);
            Some(
                chars[..pos].iter().collect::<String>()
                    + e
                    + &chars[pos..].iter().collect::<String>(),
            )
        }
        Obfuscation::Repeat => {
            // A letter with different neighbours: the normaliser squeezes runs of three or
            // more to one, so repeating half of "оо" would not come back.
            let single = |i: usize| {
                let c = chars[i];
                (i == 0 || chars[i - 1] != c) && chars.get(i + 1) != Some(&c)
            };
            let singles: Vec<usize> = (0..chars.len()).filter(|&i| single(i)).collect();
            let vowels: Vec<usize> = singles
                .iter()
                .copied()
                .filter(|&i| "аеиоуыэюяіїєАЕИОУЫЭЮЯІЇЄ".contains(chars[i]))
                .collect();
            let pos = match pick(rng, &vowels).or_else(|| pick(rng, &singles)) {
                Some(p) => *p,
                None => return None,
            };
            let extra = 2 + rng.usize(..3);
            let mut out = String::new();
            for (i, c) in chars.iter().enumerate() {
                out.push(*c);
                if i == pos {
                    for _ in 0..extra {
                        out.push(*c);
                    }
                }
            }
            Some(out)
        }
        Obfuscation::Fullwidth | Obfuscation::Math => {
            let style = if kind == Obfuscation::Fullwidth {
                0
            } else {
                1 + rng.u8(..2)
            };
            let mut changed = false;
            let mut out = String::new();
            for c in &chars {
                let ascii = if c.is_ascii_alphabetic() {
                    Some(*c)
                } else {
                    latin_lookalike(*c)
                };
                match ascii.and_then(|a| styled_ascii(a, style)) {
                    Some(s) => {
                        out.push(s);
                        changed = true;
                    }
                    None => out.push(*c),
                }
            }
            changed.then_some(out)
        }
    }
}

/// Applies `kind` to `word` with an RNG seeded by `seed`; `None` if the kind cannot change it
/// (or if the embedded lexicon is malformed, which [`Generator::new`] reports). For tests and
/// for users who want to probe the normaliser.
///
/// [`Generator::new`]: super::Generator::new
pub fn obfuscate_word(word: &str, kind: Obfuscation, seed: u64) -> Option<String> {
    let emoji = &Lexicon::get().ok()?.emoji_inside;
    let mut rng = fastrand::Rng::with_seed(seed);
    let uk = guess_lang(word) == Lang::Uk;
    obfuscate_chars(word, kind, uk, emoji, &mut rng)
}

/// Obfuscates one to three words of `text`, key words first (or, sometimes, sprinkles
/// look-alike letters over all of it); returns the text and the kinds applied.
pub(super) fn obfuscate_text(
    text: &str,
    uk: bool,
    lexicon: &Lexicon,
    rng: &mut fastrand::Rng,
) -> (String, Vec<Obfuscation>) {
    let spans = word_spans(text);
    if spans.is_empty() {
        return (text.to_string(), Vec::new());
    }
    if rng.f32() < 0.15 {
        // Look-alike letters sprinkled over every Cyrillic word ("подрaбoткy" spam style).
        let all: HashSet<usize> = (0..spans.len()).collect();
        let mut changed = false;
        let out = replace_spans(text, &spans, &all, |w| {
            let mut s = String::with_capacity(w.len());
            for c in w.chars() {
                match latin_lookalike(c) {
                    Some(l) if rng.f32() < 0.25 => s.push(l),
                    _ => s.push(c),
                }
            }
            if s != w && is_cyrillic_word(&s) {
                changed = true;
                s
            } else {
                w.to_string()
            }
        });
        if changed {
            return (out, vec![Obfuscation::Latin]);
        }
    }
    let key: Vec<usize> = (0..spans.len())
        .filter(|&i| {
            let w = &text[spans[i].0..spans[i].1];
            is_key_word(w, &lexicon.key_stems) && w.chars().count() >= 3
        })
        .collect();
    let long: Vec<usize> = (0..spans.len())
        .filter(|&i| text[spans[i].0..spans[i].1].chars().count() >= 4)
        .collect();
    let pool = if !key.is_empty() {
        key
    } else if !long.is_empty() {
        long
    } else {
        (0..spans.len()).collect()
    };
    let nkinds = if rng.f32() < 0.3 { 2 } else { 1 };
    let mut kinds: Vec<Obfuscation> = Vec::new();
    while kinds.len() < nkinds {
        // Latin look-alikes are the most common trick: weight them double.
        let k = if rng.f32() < 0.12 {
            Obfuscation::Latin
        } else {
            pick(rng, &Obfuscation::ALL)
                .copied()
                .unwrap_or(Obfuscation::Latin)
        };
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let nwords = 1 + rng.usize(..pool.len().min(3));
    let mut pool = pool;
    rng.shuffle(&mut pool);
    let chosen: Vec<usize> = pool.into_iter().take(nwords).collect();
    let mut assignment: HashMap<usize, Obfuscation> = HashMap::new();
    for (j, i) in chosen.iter().enumerate() {
        if let Some(k) = kinds.get(j % kinds.len()) {
            assignment.insert(*i, *k);
        }
    }
    let chosen_set: HashSet<usize> = chosen.iter().copied().collect();
    let mut used: Vec<Obfuscation> = Vec::new();
    let mut idx = 0usize;
    let mut order: Vec<usize> = chosen_set.iter().copied().collect();
    order.sort_unstable();
    let out = replace_spans(text, &spans, &chosen_set, |w| {
        let i = order.get(idx).copied().unwrap_or(0);
        idx += 1;
        let kind = assignment
            .get(&i)
            .copied()
            .unwrap_or(Obfuscation::ZeroWidth);
        let cyr = is_cyrillic_word(w);
        let applied = if cyr
            || matches!(kind, Obfuscation::Fullwidth | Obfuscation::Math)
            || kind.is_separator()
        {
            obfuscate_chars(w, kind, uk, &lexicon.emoji_inside, rng).map(|s| (s, kind))
        } else {
            None
        };
        match applied.or_else(|| {
            obfuscate_chars(w, Obfuscation::ZeroWidth, uk, &lexicon.emoji_inside, rng)
                .map(|s| (s, Obfuscation::ZeroWidth))
        }) {
            Some((s, k)) => {
                if !used.contains(&k) {
                    used.push(k);
                }
                s
            }
            None => w.to_string(),
        }
    });
    used.sort();
    (out, used)
}
