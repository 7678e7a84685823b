//! The seed-expansion generator: lexical swaps, amounts and contacts here, the other edits in
//! `mutate` and `obfuscate`.

use super::lexicon::{Handles, Lexicon, SwapGroup};
use super::mutate::{add_typos, change_register, shuffle_order, swap_adjacent_words};
use super::obfuscate::{obfuscate_text, Obfuscation};
use super::stable_hash;
use super::text::pick;
use super::translit::translit_variant;
use super::Example;
use crate::{Label, Lang, Result};
use regex::{Captures, Regex};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A compiled swap list: one case-insensitive alternation of all phrases (longest first, word
/// boundaries checked by hand) and phrase → group.
#[derive(Debug)]
struct Swaps {
    re: Regex,
    groups: &'static [SwapGroup],
    index: HashMap<String, usize>,
}

impl Swaps {
    /// `groups` share no phrase (the lexicon checks it), so a phrase names its group.
    fn new(groups: &'static [SwapGroup]) -> Result<Self> {
        let mut index = HashMap::new();
        let mut phrases: Vec<&str> = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            for p in &g.phrases {
                index.insert(p.to_lowercase(), gi);
                phrases.push(p);
            }
        }
        phrases.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let alts: Vec<String> = phrases.iter().map(|p| regex::escape(p)).collect();
        let re = Regex::new(&format!("(?i)(?:{})", alts.join("|")))
            .map_err(|e| verbovka::Error::Config(format!("generator lexicon: {e}")))?;
        Ok(Swaps { re, groups, index })
    }

    fn swap(&self, text: &str, rng: &mut fastrand::Rng) -> String {
        let active: Vec<bool> = self.groups.iter().map(|_| rng.f32() < 0.7).collect();
        let mut out = String::with_capacity(text.len() + 16);
        let mut last = 0;
        for m in self.re.find_iter(text) {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if before.is_some_and(is_word_char)
                || after.is_some_and(is_word_char)
                || hyphen_joined(text, m.start(), m.end())
            {
                continue;
            }
            let key = m.as_str().to_lowercase();
            let Some(&gi) = self.index.get(&key) else {
                continue;
            };
            if !active.get(gi).copied().unwrap_or(false) {
                continue;
            }
            let Some(group) = self.groups.get(gi) else {
                continue;
            };
            let others: Vec<&str> = group
                .phrases
                .iter()
                .map(String::as_str)
                .filter(|p| p.to_lowercase() != key)
                .collect();
            let Some(&alt) = pick(rng, &others) else {
                continue;
            };
            out.push_str(&text[last..m.start()]);
            let letters = m.as_str().chars().filter(|c| c.is_alphabetic()).count();
            let abbreviation = letters <= 4 && m.as_str().chars().all(|c| !c.is_lowercase());
            if abbreviation {
                out.push_str(alt);
            } else {
                out.push_str(&capitalize_like(m.as_str(), alt));
            }
            last = m.end();
        }
        out.push_str(&text[last..]);
        out
    }
}

/// `replacement` in the case of `template`: all caps, capitalised, or as written.
fn capitalize_like(template: &str, replacement: &str) -> String {
    let letters: Vec<char> = template.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()) {
        return replacement.to_uppercase();
    }
    let first_upper = template.chars().next().is_some_and(char::is_uppercase);
    let mut cs = replacement.chars();
    match cs.next() {
        Some(f) if first_upper && f.is_lowercase() => {
            f.to_uppercase().collect::<String>() + cs.as_str()
        }
        _ => replacement.to_string(),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether the range is glued to a neighbouring word by a hyphen (`Санкт-Петербург`).
fn hyphen_joined(text: &str, start: usize, end: usize) -> bool {
    let mut back = text[..start].chars().rev();
    let mut fwd = text[end..].chars();
    let joined_before = back.next() == Some('-') && back.next().is_some_and(char::is_alphanumeric);
    let joined_after = fwd.next() == Some('-') && fwd.next().is_some_and(char::is_alphanumeric);
    joined_before || joined_after
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Currency {
    Usd,
    Usdt,
    Eur,
    Uah,
    Rub,
}

impl Currency {
    /// Rough units per US dollar (only to keep swapped amounts plausible).
    fn per_usd(self) -> f64 {
        match self {
            Currency::Usd | Currency::Usdt => 1.0,
            Currency::Eur => 0.9,
            Currency::Uah => 41.0,
            Currency::Rub => 95.0,
        }
    }

    fn classify(s: &str) -> Currency {
        let s = s.to_lowercase();
        if s.contains("руб") || s.contains('₽') {
            Currency::Rub
        } else if s.contains("грн") || s.contains("грив") || s.contains('₴') {
            Currency::Uah
        } else if s.contains("usdt") {
            Currency::Usdt
        } else if s.contains('€') || s.contains("евро") || s.contains("євро") || s.contains("eur")
        {
            Currency::Eur
        } else {
            Currency::Usd
        }
    }
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A plausible Telegram name from `handles`' parts; a bot's ends in `bot`.
fn random_handle(rng: &mut fastrand::Rng, handles: &Handles, bot: bool) -> String {
    let a = pick(rng, &handles.words).map_or("work", String::as_str);
    let mut h = a.to_string();
    if rng.f32() < 0.5 {
        let a2 = pick(rng, &handles.words).map_or("money", String::as_str);
        if a2 != a {
            h.push('_');
            h.push_str(a2);
        }
    }
    h.push_str(pick(rng, &handles.suffixes).map_or("", String::as_str));
    if rng.f32() < 0.4 {
        h.push_str(&rng.u16(1..1000).to_string());
    }
    if bot {
        h.push_str(if rng.bool() { "_bot" } else { "bot" });
    }
    if rng.f32() < 0.15 {
        let mut cs = h.chars();
        if let Some(f) = cs.next() {
            h = f.to_ascii_uppercase().to_string() + cs.as_str();
        }
    }
    h
}

fn random_code(rng: &mut fastrand::Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(ALNUM[rng.usize(..ALNUM.len())]))
        .collect()
}

fn round_nice(v: f64) -> u64 {
    if !v.is_finite() || v < 10.0 {
        return 10;
    }
    let mag = 10f64.powf(v.log10().floor() - 1.0).max(10.0);
    ((v / mag).round() * mag) as u64
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn format_amount(
    lo: Option<u64>,
    n: u64,
    sep: &str,
    cur: Currency,
    uk: bool,
    rng: &mut fastrand::Rng,
) -> String {
    let k_style = n >= 1000
        && n.is_multiple_of(1000)
        && !lo.is_some_and(|l| l < 1000 || l % 1000 != 0)
        && rng.f32() < 0.35;
    let num = |v: u64, rng: &mut fastrand::Rng| -> String {
        if v >= 10_000 || (v >= 1000 && rng.bool()) {
            group_thousands(v)
        } else {
            v.to_string()
        }
    };
    let body = match lo {
        Some(l) => format!("{}{}{}", num(l, rng), sep, num(n, rng)),
        None => num(n, rng),
    };
    if k_style && matches!(cur, Currency::Uah | Currency::Rub) {
        let k = n / 1000;
        let body = match lo {
            Some(l) => format!("{}{}{}", l / 1000, sep, k),
            None => k.to_string(),
        };
        let forms: &[&str] = match (cur, uk) {
            (Currency::Rub, _) => &["{}к руб", "{} тыс. рублей", "{}к ₽"],
            (_, true) => &["{}к грн", "{} тис. грн", "{}к гривень"],
            (_, false) => &["{}к грн", "{} тыс. грн", "{}к гривен"],
        };
        return pick(rng, forms)
            .copied()
            .unwrap_or("{}к")
            .replace("{}", &body);
    }
    let forms: &[&str] = match (cur, uk) {
        (Currency::Usd, false) => &["${}", "{}$", "{} $", "{} долларов", "{} USD", "{} баксов"],
        (Currency::Usd, true) => &["${}", "{}$", "{} $", "{} доларів", "{} USD", "{} баксів"],
        (Currency::Usdt, _) => &["{} USDT", "{} usdt", "{}$ в USDT", "{} USDT (TRC20)"],
        (Currency::Eur, false) => &["{}€", "{} €", "{} евро"],
        (Currency::Eur, true) => &["{}€", "{} €", "{} євро"],
        (Currency::Uah, false) => &["{} грн", "{} грн.", "{} гривен", "{}₴"],
        (Currency::Uah, true) => &["{} грн", "{} грн.", "{} гривень", "{}₴"],
        (Currency::Rub, _) => &["{} рублей", "{} руб.", "{}₽", "{} ₽"],
    };
    pick(rng, forms)
        .copied()
        .unwrap_or("{}")
        .replace("{}", &body)
}

fn parse_number(num: &str, dec: &str, mult: &str) -> Option<f64> {
    let digits: String = num.chars().filter(char::is_ascii_digit).collect();
    let mut v: f64 = digits.parse().ok()?;
    let dec_digits: String = dec.chars().filter(char::is_ascii_digit).collect();
    if !dec_digits.is_empty() {
        let frac: f64 = format!("0.{dec_digits}").parse().ok()?;
        v += frac;
    }
    if !mult.is_empty() {
        v *= 1000.0;
    }
    Some(v)
}

/// Settings of [`Generator::expand`].
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// RNG seed; the same seed and seeds give the same output.
    pub seed: u64,
    /// Target number of examples (seeds + variants) per positive category.
    pub positives_per_category: usize,
    /// Target number of benign seed examples (hard negatives) + variants.
    pub hard_negatives: usize,
    /// Share of positive variants that are obfuscated.
    pub obfuscated_share_positive: f32,
    /// Share of hard-negative variants that are obfuscated (so that obfuscation alone is not
    /// a signal of recruitment).
    pub obfuscated_share_negative: f32,
    /// Share of positive variants written in Latin letters (whole or a run of words; tagged
    /// `translit`, never `obfuscated`).
    pub translit_share_positive: f32,
    /// Share of hard-negative variants written in Latin letters (so that transliteration
    /// alone is not a signal).
    pub translit_share_negative: f32,
    /// Share of variants (positive and benign) with benign context around them (tag
    /// `wrapped`).
    pub wrapped_share: f32,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            positives_per_category: 6500,
            hard_negatives: 9000,
            obfuscated_share_positive: 0.35,
            obfuscated_share_negative: 0.15,
            translit_share_positive: 0.08,
            translit_share_negative: 0.06,
            wrapped_share: 0.10,
        }
    }
}

/// Expands seed posts into variants (see the module docs for what it varies).
#[derive(Debug)]
pub struct Generator {
    lexicon: &'static Lexicon,
    ru: Swaps,
    uk: Swaps,
    amount: Regex,
    link: Regex,
    handle: Regex,
    phone: Regex,
    /// Real benign lines per split (train, dev, test) and language (Russian, Ukrainian) for
    /// the `wrapped` variants; see [`Generator::add_context`].
    context: [[Vec<String>; 2]; 3],
}

/// Longest wrapped text, in characters (the model reads 128 tokens).
const WRAPPED_MAX_CHARS: usize = 450;
/// Longest real line used as context.
const CONTEXT_MAX_CHARS: usize = 200;
/// Salt of the second RNG stream (transliteration and wrapping), so that adding these steps
/// left the other variants of a seed as they were.
const AUX_SALT: u64 = 0x7472_616e_736c_6974;

impl Generator {
    /// Compiles the embedded lexicon and the patterns; fails, naming the file and list, if a
    /// lexicon file is malformed.
    pub fn new() -> Result<Self> {
        let lexicon = Lexicon::get()?;
        let num = r"\d{1,3}(?:[ \x{a0}]\d{3})+|\d+";
        let dec = r"(?:[.,]\d+)?";
        let mult = r"(?:k|к|тыс\.?|тис\.?)";
        let cur_word = r"usdt|usd|грн\.?|гривен\w*|гривн\w*|гривень|гривні|гривня|рублей|рубля|рубль|руб\.?|долларов|доллара|доллар|доларів|долара|долари|долар|баксов|баксів|бакса|баксы|бакс|евро|євро|euro|eur";
        let amount = format!(
            r"(?i)(?P<psym>[$€₴₽])\s?(?P<pnum>{num})(?P<pdec>{dec})\s?(?P<pmult>{mult})?|(?:(?P<lo>{num}){dec}\s?(?:{mult})?(?P<sep>\s?[-–—]\s?|\s+до\s+))?(?P<num>{num})(?P<dec>{dec})\s?(?P<mult>{mult})?\s?(?P<cur>[$€₴₽]|{cur_word})"
        );
        let compile = |p: &str| {
            Regex::new(p).map_err(|e| verbovka::Error::Config(format!("generator pattern: {e}")))
        };
        Ok(Generator {
            lexicon,
            ru: Swaps::new(&lexicon.ru)?,
            uk: Swaps::new(&lexicon.uk)?,
            amount: compile(&amount)?,
            link: compile(
                r"(?i)(?P<scheme>https?://)?(?:t\.me|telegram\.me)/(?P<path>\+?[A-Za-z0-9_]+)(?P<start>\?start=[A-Za-z0-9_-]+)?",
            )?,
            handle: compile(r"@[A-Za-z][A-Za-z0-9_]{2,31}")?,
            phone: compile(
                r"\+7[\s-]?\(?\d{3}\)?[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}|\+?(?:38)?0\d{2}[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}",
            )?,
            context: Default::default(),
        })
    }

    /// Adds real benign lines (the sampled background) as context for `wrapped` variants.
    /// A line serves only seeds of its own split (so no text crosses splits); Russian and
    /// Ukrainian lines of 2 to 200 characters are kept, in the given order.
    pub fn add_context(&mut self, lines: &[Example]) {
        for e in lines {
            let n = e.text.chars().count();
            if !(2..=CONTEXT_MAX_CHARS).contains(&n) {
                continue;
            }
            let li = match e.lang {
                Lang::Ru => 0,
                Lang::Uk => 1,
                Lang::Mixed | Lang::Other => continue,
            };
            if let Some(pool) = self
                .context
                .get_mut(e.split() as usize)
                .and_then(|p| p.get_mut(li))
            {
                pool.push(e.text.trim().to_string());
            }
        }
    }

    /// One benign line for `ex`'s split and language: a real line (70 %, when there are) or a
    /// sentence of the lexicon.
    fn context_line(&self, ex: &Example, rng: &mut fastrand::Rng) -> Option<String> {
        let li = match ex.lang {
            Lang::Ru => 0,
            Lang::Uk => 1,
            Lang::Mixed | Lang::Other => rng.usize(..2),
        };
        let real = self
            .context
            .get(ex.split() as usize)
            .and_then(|p| p.get(li))
            .map_or(&[][..], Vec::as_slice);
        if !real.is_empty() && rng.f32() < 0.7 {
            return pick(rng, real).cloned();
        }
        let lex = if li == 0 {
            &self.lexicon.context.ru
        } else {
            &self.lexicon.context.uk
        };
        pick(rng, lex).cloned()
    }

    /// `text` with one or two benign lines before and/or after it, at most
    /// [`WRAPPED_MAX_CHARS`] in all; `None` if no line fits.
    fn wrap(&self, text: &str, ex: &Example, rng: &mut fastrand::Rng) -> Option<String> {
        let mut total = text.chars().count();
        if total + 10 > WRAPPED_MAX_CHARS {
            return None;
        }
        let (n_before, n_after) = match rng.u8(..10) {
            0..=3 => (1, 0),
            4..=6 => (0, 1),
            _ => (1, 1),
        };
        let extra = |rng: &mut fastrand::Rng| usize::from(rng.f32() < 0.3);
        let (n_before, n_after) = (
            n_before + if n_before > 0 { extra(rng) } else { 0 },
            n_after + if n_after > 0 { extra(rng) } else { 0 },
        );
        let sep = *pick(rng, &["\n", "\n", "\n\n", " "]).unwrap_or(&"\n");
        let take = |n: usize, rng: &mut fastrand::Rng, total: &mut usize| -> Vec<String> {
            let mut out = Vec::new();
            for _ in 0..n {
                let Some(line) = self.context_line(ex, rng) else {
                    continue;
                };
                let len = line.chars().count() + sep.chars().count();
                if *total + len <= WRAPPED_MAX_CHARS && !text.contains(line.as_str()) {
                    *total += len;
                    out.push(line);
                }
            }
            out
        };
        let before = take(n_before, rng, &mut total);
        let after = take(n_after, rng, &mut total);
        if before.is_empty() && after.is_empty() {
            return None;
        }
        let mut parts = before;
        parts.push(text.to_string());
        parts.extend(after);
        Some(parts.join(sep))
    }

    fn swap_amounts(&self, text: &str, uk: bool, rng: &mut fastrand::Rng) -> String {
        let pick_class = |rng: &mut fastrand::Rng| match rng.u8(..20) {
            0..=7 => Currency::Uah,
            8..=14 => Currency::Usd,
            15..=18 => Currency::Usdt,
            _ => Currency::Eur,
        };
        self.amount
            .replace_all(text, |caps: &Captures| {
                let whole = caps.get(0).map_or("", |m| m.as_str());
                let (start, end) = caps.get(0).map_or((0, 0), |m| (m.start(), m.end()));
                let before = text[..start].chars().next_back();
                let after = text[end..].chars().next();
                if before.is_some_and(is_word_char)
                    || (whole.chars().next_back().is_some_and(char::is_alphabetic)
                        && after.is_some_and(is_word_char))
                {
                    return whole.to_string();
                }
                let g = |n: &str| caps.name(n).map_or("", |m| m.as_str());
                let (cur_s, num_s, dec_s, mult_s) = if caps.name("psym").is_some() {
                    (g("psym"), g("pnum"), g("pdec"), g("pmult"))
                } else {
                    (g("cur"), g("num"), g("dec"), g("mult"))
                };
                let cur = Currency::classify(cur_s);
                let usd = parse_number(num_s, dec_s, mult_s)
                    .map(|v| v / cur.per_usd())
                    .filter(|v| *v >= 1.0)
                    .unwrap_or_else(|| 50.0 + f64::from(rng.u32(..1950)));
                let new_cur = if cur == Currency::Rub {
                    Currency::Rub
                } else {
                    pick_class(rng)
                };
                let factor = 0.5 + 1.5 * f64::from(rng.f32());
                let n = round_nice(usd * factor * new_cur.per_usd());
                let lo = caps
                    .name("lo")
                    .map(|_| round_nice(n as f64 * (0.3 + 0.4 * f64::from(rng.f32()))));
                let sep = caps.name("sep").map_or("-", |m| m.as_str());
                let sep = if sep.contains("до") {
                    " до "
                } else if rng.bool() {
                    "-"
                } else {
                    "–"
                };
                let out = format_amount(lo.filter(|l| *l < n), n, sep, new_cur, uk, rng);
                // "грн." before a full stop or comma would double the punctuation.
                match (out.strip_suffix('.'), after) {
                    (Some(stripped), Some(a)) if a.is_ascii_punctuation() => stripped.to_string(),
                    _ => out,
                }
            })
            .into_owned()
    }

    fn swap_contacts(&self, text: &str, rng: &mut fastrand::Rng) -> String {
        let handles = &self.lexicon.handles;
        let t = self.link.replace_all(text, |caps: &Captures| {
            let scheme = caps.name("scheme").map_or("", |m| m.as_str());
            let path = caps.name("path").map_or("", |m| m.as_str());
            let new_path = if path.starts_with('+') {
                format!("+{}", random_code(rng, 16))
            } else {
                random_handle(rng, handles, path.to_lowercase().ends_with("bot"))
            };
            let start = match caps.name("start") {
                Some(_) => format!("?start={}", random_code(rng, 8)),
                None => String::new(),
            };
            let host = if rng.f32() < 0.1 {
                "telegram.me"
            } else {
                "t.me"
            };
            format!("{scheme}{host}/{new_path}{start}")
        });
        let t = self.handle.replace_all(&t, |caps: &Captures| {
            let m = caps.get(0).map_or("", |m| m.as_str());
            format!(
                "@{}",
                random_handle(rng, handles, m.to_lowercase().ends_with("bot"))
            )
        });
        let t = self.phone.replace_all(&t, |caps: &Captures| {
            let m = caps.get(0).map_or("", |m| m.as_str());
            if m.starts_with("+7") {
                format!(
                    "+7 9{:02} {:03}-{:02}-{:02}",
                    rng.u32(..100),
                    rng.u32(..1000),
                    rng.u32(..100),
                    rng.u32(..100)
                )
            } else {
                let op = pick(
                    rng,
                    &[
                        "50", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99", "63",
                    ],
                )
                .copied()
                .unwrap_or("67");
                format!(
                    "+380 {op} {:03} {:02} {:02}",
                    rng.u32(..1000),
                    rng.u32(..100),
                    rng.u32(..100)
                )
            }
        });
        t.into_owned()
    }

    /// Makes one variant of `ex`'s text; returns the text before obfuscation, the text and the
    /// obfuscations applied.
    fn make_variant(
        &self,
        ex: &Example,
        obfuscate: bool,
        rng: &mut fastrand::Rng,
    ) -> (String, String, Vec<Obfuscation>) {
        let (use_ru, use_uk) = match ex.lang {
            Lang::Ru => (true, false),
            Lang::Uk => (false, true),
            Lang::Mixed | Lang::Other => (true, true),
        };
        let uk = ex.lang == Lang::Uk;
        let mut t = ex.text.clone();
        if use_ru {
            t = self.ru.swap(&t, rng);
        }
        if use_uk {
            t = self.uk.swap(&t, rng);
        }
        if rng.f32() < 0.85 {
            t = self.swap_amounts(&t, uk, rng);
        }
        if rng.f32() < 0.85 {
            t = self.swap_contacts(&t, rng);
        }
        if rng.f32() < 0.25 {
            t = shuffle_order(&t, rng);
        }
        if rng.f32() < 0.15 {
            t = swap_adjacent_words(&t, rng);
        }
        if rng.f32() < 0.3 {
            t = add_typos(&t, uk, rng);
        }
        if rng.f32() < 0.35 {
            t = change_register(&t, &self.lexicon.emoji_decor, rng);
        }
        if obfuscate {
            let (o, kinds) = obfuscate_text(&t, uk, self.lexicon, rng);
            (t, o, kinds)
        } else {
            (t.clone(), t, Vec::new())
        }
    }

    /// Up to `n` distinct variants of `ex` (never equal to it), same label, family and lang,
    /// tagged `generated` (and `obfuscated`, `obf:<kind>` where obfuscated; `translit`,
    /// `translit:<scheme>`, `translit:whole` or `translit:partial` where written in Latin
    /// letters instead; `wrapped` where benign lines surround it). Deterministic in
    /// `(cfg.seed, ex.family, ex.text)` and the context lines of the split.
    pub fn variants(&self, ex: &Example, n: usize, cfg: &GeneratorConfig) -> Vec<Example> {
        let key = format!("{}\u{1f}{}", ex.family, ex.text);
        let mut rng = fastrand::Rng::with_seed(cfg.seed ^ stable_hash(&key));
        // Transliteration and wrapping draw from their own stream.
        let mut aux = fastrand::Rng::with_seed(cfg.seed ^ stable_hash(&key) ^ AUX_SALT);
        let (share, translit_share) = if ex.label == Label::Benign {
            (cfg.obfuscated_share_negative, cfg.translit_share_negative)
        } else {
            (cfg.obfuscated_share_positive, cfg.translit_share_positive)
        };
        // A seed its author obfuscated stays in Cyrillic (one disguise at a time).
        let translit_share = if ex.has_tag("obfuscated") {
            0.0
        } else {
            translit_share
        };
        let mut seen: HashSet<String> = HashSet::new();
        seen.insert(ex.text.clone());
        let mut out = Vec::with_capacity(n);
        let mut attempts = 0;
        while out.len() < n && attempts < n * 6 + 10 {
            attempts += 1;
            let obf = rng.f32() < share;
            let (plain, mut text, mut kinds) = self.make_variant(ex, obf, &mut rng);
            let mut translit = None;
            if aux.f32() < translit_share {
                if let Some(t) = translit_variant(&plain, ex.lang, &mut aux) {
                    text = t.text;
                    kinds.clear();
                    translit = Some((t.scheme, t.whole));
                }
            }
            let mut wrapped = false;
            if aux.f32() < cfg.wrapped_share {
                if let Some(w) = self.wrap(&text, ex, &mut aux) {
                    text = w;
                    wrapped = true;
                }
            }
            if text.trim().is_empty() || !seen.insert(text.clone()) {
                continue;
            }
            let mut v = Example {
                text,
                label: ex.label,
                family: ex.family.clone(),
                tags: ex.tags.iter().filter(|t| *t != "seed").cloned().collect(),
                lang: ex.lang,
            };
            v.add_tag("generated");
            if !kinds.is_empty() {
                v.add_tag("obfuscated");
                for k in kinds {
                    v.add_tag(&format!("obf:{}", k.as_str()));
                }
            }
            if let Some((scheme, whole)) = translit {
                v.add_tag("translit");
                v.add_tag(&format!("translit:{}", scheme.as_str()));
                v.add_tag(if whole {
                    "translit:whole"
                } else {
                    "translit:partial"
                });
            }
            if wrapped {
                v.add_tag("wrapped");
            }
            out.push(v);
        }
        out
    }

    /// Seeds plus variants: each positive category gets about `positives_per_category`
    /// examples and the benign seeds about `hard_negatives`, spread evenly over the seeds of
    /// that label (in a fixed order independent of file order). Originals are tagged `seed`;
    /// benign seeds and their variants `hard`.
    pub fn expand(&self, seeds: &[Example], cfg: &GeneratorConfig) -> Vec<Example> {
        let mut by_label: BTreeMap<&str, Vec<&Example>> = BTreeMap::new();
        for s in seeds {
            by_label.entry(s.label.as_str()).or_default().push(s);
        }
        let mut out = Vec::new();
        for (label, mut group) in by_label {
            group.sort_by_key(|e| {
                (
                    stable_hash(&format!("{}\u{1f}{}", e.family, e.text)),
                    e.text.clone(),
                )
            });
            let target = if label == "benign" {
                cfg.hard_negatives
            } else {
                cfg.positives_per_category
            };
            let c = group.len();
            for (i, s) in group.into_iter().enumerate() {
                // Seed i gets floor(T(i+1)/c) - floor(Ti/c) examples, at least the original.
                let total = (target * (i + 1) / c).saturating_sub(target * i / c).max(1);
                let mut orig = s.clone();
                orig.add_tag("seed");
                if orig.label == Label::Benign {
                    orig.add_tag("hard");
                }
                for v in self.variants(&orig, total - 1, cfg) {
                    out.push(v);
                }
                out.push(orig);
            }
        }
        out
    }
}
