//! Step 7: Russian and Ukrainian written in Latin letters, read back as Cyrillic.
//!
//! Chat translit (`zarabotok`, `pi6i`, `4to`, `hochesh`), the official schemes (Russian
//! GOST/BGN-like `zh kh ts ch sh shch y ya yu`; Ukrainian national 2010 `h y i yi ie iu ia kh
//! shch zgh`) and their mixtures are all one search: each Latin letter or digraph has a few
//! Cyrillic readings (`h` → `х` or `г`, `y` → `ы`, `и` or `й`, `c` → `ц`, `к` or `с`, `4` → `ч`,
//! `6`/`w` → `ш`, …) and a beam search keeps the reading a letter-trigram model of Russian and
//! Ukrainian words likes best. Digraphs compete with their letters (`sh` is `ш` or `сх`), so
//! "longest first" is the model's choice, not a fixed rule.
//!
//! Whether to convert at all is measured, not guessed: a word's *margin* is how many bits more
//! likely its best Cyrillic reading is under the Cyrillic model than the word itself under a
//! letter-trigram model of English. A run of Latin words (not interrupted by a Cyrillic word)
//! is converted when most of its words lean Cyrillic and their margins add up; a lone Latin
//! word among Cyrillic text needs a clear margin of its own. Inside a converted run, words that
//! read as clearly English (brand names, `iphone`) stay. Links, handles, hashtags, e-mail
//! addresses, words joined with `_` and words with other digits are never touched. Both
//! models are trained by the lab's `charlm` and embedded here (`cyrillic.lm`, `latin.lm`:
//! one byte per trigram, `8 · −log2 P`).
//!
//! The decision for a word depends on the word alone, and a converted run can only leave
//! clearly English words behind, so normalising the output again changes nothing.

use std::collections::HashMap;

use super::{is_alphanumeric, is_cyrillic, letters_and_spaces, Normalized, Unit};

/// Cyrillic letters of the model, in table order after the boundary symbol (index 0):
/// `а`–`я` (U+0430–U+044F), `є і ї ґ`, `'`.
const CV: usize = 38;
/// Latin: boundary, `a`–`z`, `'`.
const LV: usize = 28;
static CYRILLIC: &[u8; CV * CV * CV] = include_bytes!("cyrillic.lm");
static LATIN: &[u8; LV * LV * LV] = include_bytes!("latin.lm");

/// Cost of a digit under the English model (in eighths of a bit): English words do not hold
/// `4` or `6`.
const DIGIT_COST: u32 = 96;
/// States kept per position of the beam search.
const BEAM: usize = 12;
/// Longest word considered (bytes); longer ones are left as they are.
const MAX_WORD: usize = 40;

/// Margins are in eighths of a bit. A lone Latin word among Cyrillic text (or a text of one
/// word) is read as Cyrillic from this margin on.
const LONE_MARGIN: i32 = 8 * 8;
/// A run of two or more words is converted when at least half its words have a positive
/// margin and the margins sum to at least this.
const RUN_MARGIN: i32 = 4 * 8;
/// Fewest words of two or more letters in a run that may be converted inside a Cyrillic post.
const MIN_RUN_AMONG_CYRILLIC: usize = 3;
/// Inside a converted run, a word whose margin is below this stays Latin.
const KEEP_ENGLISH: i32 = -6 * 8;

fn cyr_index(c: char) -> usize {
    match c {
        'а'..='я' => c as usize - 'а' as usize + 1,
        'є' => 33,
        'і' => 34,
        'ї' => 35,
        'ґ' => 36,
        '\'' => 37,
        _ => 0,
    }
}

fn lat_index(b: u8) -> Option<usize> {
    match b {
        b'a'..=b'z' => Some((b - b'a') as usize + 1),
        b'\'' => Some(27),
        _ => None,
    }
}

#[inline]
fn cyr_cost(a: usize, b: usize, c: usize) -> u32 {
    CYRILLIC[(a * CV + b) * CV + c] as u32
}

/// A reading of a Latin letter or digraph and what it costs (eighths of a bit) under each
/// scheme: `[Russian, Ukrainian]`. The costs say how a writer of that language spells the
/// Cyrillic letter (`h` is mostly `х` in Russian chat and `г` in Ukrainian; `y` is `ы` or `и`),
/// and keep a rare reading from winning on the letter model alone.
type Option3 = (&'static str, [u8; 2]);

/// The readings of the Latin letters and digraphs that start with `first`, longest first.
fn patterns(first: u8) -> &'static [(&'static str, &'static [Option3])] {
    match first {
        b'a' => &[("a", &[("а", [0, 0])])],
        b'b' => &[("b", &[("б", [0, 0])])],
        b'c' => &[
            ("ch", &[("ч", [0, 0])]),
            ("c", &[("ц", [0, 0]), ("к", [16, 16]), ("с", [16, 16])]),
        ],
        b'd' => &[("d", &[("д", [0, 0])])],
        b'e' => &[("e", &[("е", [0, 0]), ("э", [16, 48]), ("є", [48, 16])])],
        b'f' => &[("f", &[("ф", [0, 0])])],
        b'g' => &[("g", &[("г", [0, 8]), ("ґ", [48, 16])])],
        b'h' => &[("h", &[("х", [0, 24]), ("г", [16, 0])])],
        b'i' => &[
            ("ia", &[("я", [16, 0]), ("ия", [8, 16])]),
            ("ie", &[("є", [24, 0])]),
            ("iu", &[("ю", [16, 0])]),
            ("i", &[("и", [0, 16]), ("і", [32, 0]), ("й", [16, 0])]),
        ],
        b'j' => &[
            ("ja", &[("я", [0, 0])]),
            ("je", &[("е", [8, 24]), ("є", [48, 0])]),
            ("ji", &[("ї", [32, 0])]),
            ("jo", &[("е", [8, 24]), ("йо", [8, 0])]),
            ("ju", &[("ю", [0, 0])]),
            ("j", &[("й", [0, 0]), ("ж", [24, 32])]),
        ],
        b'k' => &[("kh", &[("х", [0, 0])]), ("k", &[("к", [0, 0])])],
        b'l' => &[("l", &[("л", [0, 0])])],
        b'm' => &[("m", &[("м", [0, 0])])],
        b'n' => &[("n", &[("н", [0, 0])])],
        b'o' => &[("o", &[("о", [0, 0])])],
        b'p' => &[("p", &[("п", [0, 0])])],
        b'q' => &[("q", &[("к", [24, 24])])],
        b'r' => &[("r", &[("р", [0, 0])])],
        b's' => &[
            ("shch", &[("щ", [0, 0])]),
            ("sch", &[("щ", [0, 8])]),
            ("sh", &[("ш", [0, 0])]),
            ("s", &[("с", [0, 0])]),
        ],
        b't' => &[
            ("ts", &[("ц", [0, 0])]),
            ("tz", &[("ц", [8, 8])]),
            ("t", &[("т", [0, 0])]),
        ],
        b'u' => &[("u", &[("у", [0, 0])])],
        b'v' => &[("v", &[("в", [0, 0])])],
        b'w' => &[("w", &[("ш", [0, 0]), ("в", [24, 24])])],
        b'x' => &[("x", &[("х", [0, 0]), ("кс", [16, 16])])],
        b'y' => &[
            ("ya", &[("я", [0, 0])]),
            ("ye", &[("е", [8, 24]), ("є", [48, 0])]),
            ("yi", &[("ї", [32, 0])]),
            ("yo", &[("е", [8, 24]), ("йо", [8, 0])]),
            ("yu", &[("ю", [0, 0])]),
            ("y", &[("ы", [0, 32]), ("и", [16, 0]), ("й", [8, 8])]),
        ],
        b'z' => &[
            ("zgh", &[("зг", [24, 0])]),
            ("zh", &[("ж", [0, 0])]),
            ("z", &[("з", [0, 0])]),
        ],
        b'\'' => &[("'", &[("ь", [0, 16]), ("ъ", [16, 48]), ("'", [32, 0])])],
        b'4' => &[("4", &[("ч", [0, 0])])],
        b'6' => &[("6", &[("ш", [0, 0])])],
        _ => &[],
    }
}

/// Consonants a soft sign may follow that the Latin spelling left out.
fn takes_soft_sign(c: char) -> bool {
    matches!(
        c,
        'б' | 'в' | 'д' | 'з' | 'л' | 'м' | 'н' | 'п' | 'р' | 'с' | 'т' | 'ф' | 'ч' | 'ш' | 'ж'
    )
}

/// What reading an unwritten soft sign costs, per scheme.
const SOFT_SIGN_COST: [u32; 2] = [16, 24];

/// The spelling conventions a reading follows (the index into an [`Option3`]'s costs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Russian = 0,
    Ukrainian = 1,
}

/// A Latin word's best Cyrillic reading: for each piece, the byte range of the word it
/// reads, its Cyrillic letters and whether a soft sign follows them; and its cost.
#[derive(Clone)]
struct Reading {
    /// `(from, to, letters, soft sign after them)`.
    pieces: Vec<(usize, usize, &'static str, bool)>,
    cost: u32,
}

/// The beam search over readings (module docs). `word` holds only bytes [`patterns`] knows.
fn read_cyrillic(word: &[u8], scheme: Scheme) -> Reading {
    #[derive(Clone, Copy)]
    struct State {
        a: u8,
        b: u8,
        cost: u32,
        node: u32,
    }
    struct Node {
        parent: u32,
        from: u8,
        to: u8,
        out: &'static str,
        soft: bool,
    }
    const ROOT: u32 = u32::MAX;
    let n = word.len();
    let mut at: Vec<Vec<State>> = vec![Vec::new(); n + 1];
    at[0].push(State {
        a: 0,
        b: 0,
        cost: 0,
        node: ROOT,
    });
    let mut nodes: Vec<Node> = Vec::new();
    for p in 0..n {
        let mut states = std::mem::take(&mut at[p]);
        states.sort_unstable_by_key(|s| (s.cost, s.a, s.b));
        states.truncate(BEAM);
        for s in &states {
            for &(pat, outs) in patterns(word[p]) {
                if !word[p..].starts_with(pat.as_bytes()) {
                    continue;
                }
                let q = p + pat.len();
                for &(out, costs) in outs {
                    let (mut a, mut b) = (s.a as usize, s.b as usize);
                    let mut cost = s.cost + costs[scheme as usize] as u32;
                    for c in out.chars() {
                        let c = cyr_index(c);
                        cost += cyr_cost(a, b, c);
                        (a, b) = (b, c);
                    }
                    // Chat translit drops the soft sign (`delat`, `zhizn`, `bolshe`): after a
                    // consonant that takes one, it may be read back.
                    let softens = out.chars().last().is_some_and(takes_soft_sign);
                    for soft in [false, true] {
                        if soft && !softens {
                            continue;
                        }
                        let (mut a, mut b, mut cost) = (a, b, cost);
                        if soft {
                            let c = cyr_index('ь');
                            cost += SOFT_SIGN_COST[scheme as usize] + cyr_cost(a, b, c);
                            (a, b) = (b, c);
                        }
                        nodes.push(Node {
                            parent: s.node,
                            from: p as u8,
                            to: q as u8,
                            out,
                            soft,
                        });
                        let next = State {
                            a: a as u8,
                            b: b as u8,
                            cost,
                            node: (nodes.len() - 1) as u32,
                        };
                        match at[q].iter_mut().find(|t| t.a == next.a && t.b == next.b) {
                            Some(t) if t.cost <= cost => {}
                            Some(t) => *t = next,
                            None => at[q].push(next),
                        }
                    }
                }
            }
        }
    }
    let best = at[n]
        .iter()
        .map(|s| (s.cost + cyr_cost(s.a as usize, s.b as usize, 0), s.node))
        .min();
    let Some((cost, mut node)) = best else {
        return Reading {
            pieces: Vec::new(),
            cost: u32::MAX,
        };
    };
    let mut pieces = Vec::new();
    while node != ROOT {
        let nd = &nodes[node as usize];
        pieces.push((nd.from as usize, nd.to as usize, nd.out, nd.soft));
        node = nd.parent;
    }
    pieces.reverse();
    Reading { pieces, cost }
}

/// The word's cost under the English model.
fn latin_cost(word: &[u8]) -> u32 {
    let (mut a, mut b, mut cost) = (0usize, 0usize, 0u32);
    for &x in word {
        match lat_index(x) {
            Some(c) => {
                cost += LATIN[(a * LV + b) * LV + c] as u32;
                (a, b) = (b, c);
            }
            None => {
                cost += DIGIT_COST;
                (a, b) = (0, 0);
            }
        }
    }
    cost + LATIN[(a * LV + b) * LV] as u32
}

/// A Latin word that may be transliteration: its unit range and letter count.
struct Word {
    start: usize,
    end: usize,
    letters: usize,
}

/// Where a run of candidate words stops: a word with Cyrillic letters.
enum Piece {
    Word(Word),
    Break,
}

/// Characters that make a whitespace-separated token a link, handle, tag, address or
/// identifier, which is never converted.
fn marks_identifier(c: char) -> bool {
    matches!(
        c,
        '@' | '/' | '#' | '_' | '=' | '&' | '%' | '\\' | '<' | '>'
    )
}

/// The words of `units` in order, candidates and breaks.
fn pieces(units: &[Unit]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if units[i].c == ' ' {
            i += 1;
            continue;
        }
        let t0 = i;
        while i < units.len() && units[i].c != ' ' {
            i += 1;
        }
        let token = &units[t0..i];
        let identifier = token.iter().any(|u| marks_identifier(u.c))
            || token.windows(3).any(|w| {
                // `t.me`, `example.com`, `10:30`: a dot or colon inside a word.
                matches!(w[1].c, '.' | ':')
                    && w[0].c.is_ascii_alphanumeric()
                    && w[2].c.is_ascii_alphanumeric()
            });
        // Words inside the token: runs of letters, digits and inner apostrophes.
        let mut j = t0;
        while j < i {
            let c = units[j].c;
            if !(is_alphanumeric(c) || c == '\'') {
                j += 1;
                continue;
            }
            let w0 = j;
            while j < i && (is_alphanumeric(units[j].c) || units[j].c == '\'') {
                j += 1;
            }
            // A leading apostrophe opens a quote, and then a trailing one closes it; a
            // trailing one alone is a soft sign (`pyat'`).
            let (mut a, mut b) = (w0, j);
            while a < b && units[a].c == '\'' {
                a += 1;
            }
            if a > w0 || b == a + 1 || units[a..b].iter().any(|u| !u.c.is_ascii()) {
                while b > a && units[b - 1].c == '\'' {
                    b -= 1;
                }
            }
            let w = &units[a..b];
            if w.iter().any(|u| is_cyrillic(u.c)) {
                out.push(Piece::Break);
                continue;
            }
            let letters = w.iter().filter(|u| u.c.is_ascii_lowercase()).count();
            let candidate = !identifier
                && letters > 0
                && b - a <= MAX_WORD
                && w.iter()
                    .all(|u| u.c.is_ascii_lowercase() || matches!(u.c, '\'' | '4' | '6'));
            if candidate {
                out.push(Piece::Word(Word {
                    start: a,
                    end: b,
                    letters,
                }));
            }
        }
    }
    out
}

/// A candidate word, scored: its best reading under each scheme.
struct Scored {
    start: usize,
    end: usize,
    letters: usize,
    /// Bits (in eighths) by which the better of its readings beats the English model; a
    /// property of the word alone, so that a second pass decides alike.
    margin: i32,
    readings: [Reading; 2],
}

/// Scores a word; `memo` keeps the scores of the words of this text seen before (prose repeats
/// its words).
fn score(units: &[Unit], w: Word, memo: &mut HashMap<Vec<u8>, (i32, [Reading; 2])>) -> Scored {
    let bytes: Vec<u8> = units[w.start..w.end].iter().map(|u| u.c as u8).collect();
    let (margin, readings) = memo
        .entry(bytes)
        .or_insert_with_key(|bytes| {
            let readings = [
                read_cyrillic(bytes, Scheme::Russian),
                read_cyrillic(bytes, Scheme::Ukrainian),
            ];
            let best = readings[0].cost.min(readings[1].cost);
            let margin = latin_cost(bytes) as i64 - best as i64;
            (
                margin.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
                readings,
            )
        })
        .clone();
    Scored {
        start: w.start,
        end: w.end,
        letters: w.letters,
        margin,
        readings,
    }
}

/// The words of one run to convert (module docs), with the scheme the run is read in.
fn decide(run: &[Scored], among_cyrillic: bool) -> (Vec<&Scored>, Scheme) {
    let voting: Vec<&Scored> = run.iter().filter(|w| w.letters >= 2).collect();
    let leaning = voting.iter().filter(|w| w.margin > 0).count();
    let sum: i64 = voting.iter().map(|w| w.margin as i64).sum();
    let convert = match voting.len() {
        0 => false,
        // In a Cyrillic post, Latin words are mostly names, brands and quotes
        // (`Europa Clipper`): only a longer run that reads as Cyrillic throughout counts.
        n if among_cyrillic => {
            n >= MIN_RUN_AMONG_CYRILLIC && leaning * 3 >= n * 2 && sum >= RUN_MARGIN as i64
        }
        1 => voting[0].margin >= LONE_MARGIN && voting[0].letters >= 3,
        n => leaning * 2 >= n && sum >= RUN_MARGIN as i64,
    };
    if !convert {
        return (Vec::new(), Scheme::Russian);
    }
    let words: Vec<&Scored> = run
        .iter()
        .filter(|w| w.letters < 2 || w.margin >= KEEP_ENGLISH)
        .filter(|w| w.letters >= 2 || voting.len() >= 2)
        .collect();
    // One post is written in one convention: the scheme that reads the run's words best.
    let total = |s: Scheme| -> u64 {
        words
            .iter()
            .map(|w| w.readings[s as usize].cost as u64)
            .sum()
    };
    let scheme = if total(Scheme::Ukrainian) < total(Scheme::Russian) {
        Scheme::Ukrainian
    } else {
        Scheme::Russian
    };
    (words, scheme)
}

/// Converts the transliterated runs of `units`; whether anything changed.
fn transliterate(units: &mut Vec<Unit>) -> bool {
    let mut convert: Vec<(usize, usize, Vec<Unit>)> = Vec::new();
    let mut run: Vec<Word> = Vec::new();
    let mut memo = HashMap::new();
    let pieces = pieces(units);
    // Whether any word has Cyrillic letters; converting only adds such words, so a second
    // pass judges the words left Latin at least as strictly (module docs).
    let among_cyrillic = pieces.iter().any(|p| matches!(p, Piece::Break));
    let mut flush = |run: &mut Vec<Word>, units: &[Unit]| {
        // A run that no reading could convert is not scored: most Latin in a Cyrillic post is
        // a name or two.
        let voting = run.iter().filter(|w| w.letters >= 2).count();
        if voting
            < if among_cyrillic {
                MIN_RUN_AMONG_CYRILLIC
            } else {
                1
            }
        {
            run.clear();
            return;
        }
        let scored: Vec<Scored> = run.drain(..).map(|w| score(units, w, &mut memo)).collect();
        let (words, scheme) = decide(&scored, among_cyrillic);
        for w in words {
            let mut out = Vec::new();
            for &(from, to, cyr, soft) in &w.readings[scheme as usize].pieces {
                let (start, end) = (units[w.start + from].start, units[w.start + to - 1].end);
                out.extend(cyr.chars().map(|c| Unit { c, start, end }));
                if soft {
                    out.push(Unit {
                        c: 'ь', start, end
                    });
                }
            }
            convert.push((w.start, w.end, out));
        }
    };
    for p in pieces {
        match p {
            Piece::Word(w) => run.push(w),
            Piece::Break => flush(&mut run, units),
        }
    }
    flush(&mut run, units);
    if convert.is_empty() {
        return false;
    }
    convert.sort_unstable_by_key(|c| c.0);
    let mut out = Vec::with_capacity(units.len());
    let mut i = 0;
    for (start, end, cyr) in convert {
        out.extend_from_slice(&units[i..start]);
        out.extend(cyr);
        i = end;
    }
    out.extend_from_slice(&units[i..]);
    *units = out;
    true
}

/// Step 7 on a text the other steps have normalised.
pub(super) fn apply(n: Normalized) -> Normalized {
    // Most texts have no two Latin letters in a row: nothing to read.
    if !n
        .text
        .as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_lowercase())
    {
        return n;
    }
    let mut units: Vec<Unit> = n
        .text
        .char_indices()
        .map(|(i, c)| {
            let (start, end) = n.src.get(i).unwrap_or((0, 0));
            Unit { c, start, end }
        })
        .collect();
    if !transliterate(&mut units) {
        return n;
    }
    // What a second pass of steps 3–6 would do to the new Cyrillic words.
    letters_and_spaces(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(w: &str, scheme: Scheme) -> String {
        read_cyrillic(w.as_bytes(), scheme)
            .pieces
            .iter()
            .map(|p| format!("{}{}", p.2, if p.3 { "ь" } else { "" }))
            .collect()
    }

    #[test]
    fn readings() {
        use Scheme::{Russian as Ru, Ukrainian as Uk};
        for (latin, scheme, want) in [
            ("zarabotok", Ru, "заработок"),
            ("podzhog", Ru, "поджог"),
            ("pidpalyty", Uk, "підпалити"),
            ("shchaslyvyi", Uk, "щасливий"),
            ("hochesh", Ru, "хочешь"),
            ("4to", Ru, "что"),
            ("pi6i", Ru, "пиши"),
            ("hroshi", Uk, "гроші"),
            ("vyyizd", Uk, "виїзд"),
        ] {
            assert_eq!(reading(latin, scheme), want, "{latin}");
        }
    }

    /// Whole posts and runs are read as Cyrillic; English, names in Cyrillic posts, links and
    /// handles stay.
    #[test]
    fn posts() {
        let n = |s: &str| crate::normalize(s).into_string();
        for (input, want) in [
            (
                "Nuzhno podzhech mashinu u voenkomata, oplata 500$ srazu. Pishi @job_kh",
                "нужно поджечь машину у военкомата, оплата 500$ сразу. пиши @job_kh",
            ),
            (
                "Treba pidpalyty avto ZSU bilia TTSK, 500$ odrazu pislia video",
                "треба підпалити авто зсу біля тцк, 500$ одразу після відео",
            ),
            ("zarabotok", "заработок"),
            ("Privet! 4to delaew?", "привет! что делаешь?"),
            (
                "The quick brown fox jumps over the lazy dog",
                "the quick brown fox jumps over the lazy dog",
            ),
            (
                "Глава NASA хочет нанести удар по Маску",
                "глава nasa хочет нанести удар по маску",
            ),
            (
                "подробнее: https://naked-science.ru/article/v-kitae-nashli-krater",
                "подробнее: https://naked-science.ru/article/v-kitae-nashli-krater",
            ),
            (
                "Купил iPhone 15 Pro Max, пишите в лс",
                "купил iphone 15 pro max, пишите в лс",
            ),
            (
                "Привет, nuzhno sdelat odnu zadachu segodnya, пиши",
                "привет, нужно сделать одну задачу сегодня, пиши",
            ),
        ] {
            assert_eq!(n(input), want, "input {input:?}");
        }
    }

    #[test]
    fn spans_map_back_to_the_latin() {
        use crate::normalize::tests::original_of;
        let orig = "Shchas nuzhno podzhech mashinu";
        assert_eq!(original_of(orig, "щас"), Some("Shchas"));
        assert_eq!(original_of(orig, "машину"), Some("mashinu"));
    }

    #[test]
    fn idempotent_on_mixed_scripts() {
        for text in [
            "Nuzhno podzhech mashinu, iphone pro max, oplata srazu",
            "Santiago Vila and the group www",
            "Привет, nuzhno sdelat odnu zadachu segodnya, пиши",
            "p o d z h o g avto zsu",
            "zaaarabotok dlya vsekh, pi6i v lichku",
        ] {
            let once = crate::normalize(text);
            assert_eq!(
                crate::normalize(once.as_str()).as_str(),
                once.as_str(),
                "{text:?}"
            );
        }
    }
}
