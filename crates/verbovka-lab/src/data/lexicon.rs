//! The generator's word lists. They live in `data/lexicons/*.toml` so that they can be read
//! and extended without touching code; they are embedded at build time (the dataset must not
//! depend on the working directory) and parsed once.
//!
//! The generator draws entries by position: reordering a list changes the dataset.

use super::data_err;
use crate::Result;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One embedded lexicon file: its path in the crate (for errors) and its text.
macro_rules! lexicon_file {
    ($name:literal) => {
        (
            concat!("data/lexicons/", $name),
            include_str!(concat!("../../data/lexicons/", $name)),
        )
    };
}

const RU: (&str, &str) = lexicon_file!("ru.toml");
const UK: (&str, &str) = lexicon_file!("uk.toml");
const COMMON: (&str, &str) = lexicon_file!("common.toml");

/// All lists, as the files give them.
#[derive(Debug)]
pub(super) struct Lexicon {
    /// Russian swap groups (`ru.toml`).
    pub(super) ru: Vec<SwapGroup>,
    /// Ukrainian swap groups (`uk.toml`).
    pub(super) uk: Vec<SwapGroup>,
    /// Lower-case stems of the words worth obfuscating.
    pub(super) key_stems: Vec<String>,
    /// Emoji the `emoji` obfuscation puts inside a word.
    pub(super) emoji_inside: Vec<String>,
    /// Emoji of the register step.
    pub(super) emoji_decor: Vec<String>,
    /// Parts of random Telegram names.
    pub(super) handles: Handles,
    /// Benign sentences for the `wrapped` variants.
    pub(super) context: Context,
}

/// Benign sentences put around a post (greetings, weather, chat notices), per language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Context {
    /// Russian sentences.
    pub(super) ru: Vec<String>,
    /// Ukrainian sentences.
    pub(super) uk: Vec<String>,
}

/// Interchangeable phrases of one grammatical form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SwapGroup {
    /// What the group is for; names it in errors.
    pub(super) name: String,
    /// At least two, none shared with another group of the file.
    pub(super) phrases: Vec<String>,
}

/// Parts of random Telegram names: one or two words, then a suffix.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Handles {
    /// Joined by `_` when there are two.
    pub(super) words: Vec<String>,
    /// May hold `""` (no suffix).
    pub(super) suffixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwapFile {
    group: Vec<SwapGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonFile {
    key_stems: Vec<String>,
    emoji_inside: Vec<String>,
    emoji_decor: Vec<String>,
    handles: Handles,
    context: Context,
}

/// What is wrong with which file; kept by the `OnceLock` (the lab's error is not `Clone`).
#[derive(Debug)]
struct Malformed {
    file: &'static str,
    message: String,
}

impl Lexicon {
    /// The embedded lexicon, parsed and checked on first use.
    pub(super) fn get() -> Result<&'static Lexicon> {
        static LEXICON: OnceLock<Result<Lexicon, Malformed>> = OnceLock::new();
        LEXICON
            .get_or_init(|| Lexicon::parse(RU, UK, COMMON))
            .as_ref()
            .map_err(|m| data_err(m.file.to_string(), m.message.clone()))
    }

    /// Each argument is `(file name, text)`.
    fn parse(
        ru: (&'static str, &str),
        uk: (&'static str, &str),
        common: (&'static str, &str),
    ) -> Result<Lexicon, Malformed> {
        let ru = swap_groups(ru)?;
        let uk = swap_groups(uk)?;
        let (file, text) = common;
        let c: CommonFile = from_toml(file, text)?;
        check_list(file, "key_stems", &c.key_stems, false)?;
        if let Some(s) = c.key_stems.iter().find(|s| s.to_lowercase() != **s) {
            // Words are lower-cased before the comparison: such a stem would never match.
            return Err(malformed(
                file,
                format!("key_stems: `{s}` is not lower case"),
            ));
        }
        check_list(file, "emoji_inside", &c.emoji_inside, false)?;
        check_list(file, "emoji_decor", &c.emoji_decor, false)?;
        check_list(file, "handles.words", &c.handles.words, false)?;
        check_list(file, "handles.suffixes", &c.handles.suffixes, true)?;
        check_list(file, "context.ru", &c.context.ru, false)?;
        check_list(file, "context.uk", &c.context.uk, false)?;
        Ok(Lexicon {
            ru,
            uk,
            key_stems: c.key_stems,
            emoji_inside: c.emoji_inside,
            emoji_decor: c.emoji_decor,
            handles: c.handles,
            context: c.context,
        })
    }
}

fn malformed(file: &'static str, message: String) -> Malformed {
    Malformed { file, message }
}

fn from_toml<T: DeserializeOwned>(file: &'static str, text: &str) -> Result<T, Malformed> {
    toml::from_str(text).map_err(|e| malformed(file, e.to_string().trim_end().to_string()))
}

/// Parses a swap file; a phrase may be in one group only, or the swap would depend on which
/// group happened to claim it.
fn swap_groups((file, text): (&'static str, &str)) -> Result<Vec<SwapGroup>, Malformed> {
    let groups = from_toml::<SwapFile>(file, text)?.group;
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (gi, g) in groups.iter().enumerate() {
        let list = format!("group {} ({})", gi + 1, g.name);
        if g.phrases.len() < 2 {
            return Err(malformed(
                file,
                format!("{list}: needs at least two phrases to swap"),
            ));
        }
        check_list(file, &list, &g.phrases, false)?;
        for p in &g.phrases {
            if let Some(prev) = owner.insert(p.to_lowercase(), gi) {
                let other = if prev == gi {
                    "twice in this group".to_string()
                } else {
                    format!("also in group {} ({})", prev + 1, groups[prev].name)
                };
                return Err(malformed(file, format!("{list}: `{p}` is {other}")));
            }
        }
    }
    Ok(groups)
}

/// A list must have entries; an entry must not be blank (unless `blank_ok`) or padded.
fn check_list(
    file: &'static str,
    list: &str,
    entries: &[String],
    blank_ok: bool,
) -> Result<(), Malformed> {
    if entries.is_empty() {
        return Err(malformed(file, format!("{list}: empty list")));
    }
    for (i, e) in entries.iter().enumerate() {
        if e.trim() != e {
            return Err(malformed(
                file,
                format!("{list}: entry {} `{e}` has spaces around it", i + 1),
            ));
        }
        if e.is_empty() && !blank_ok {
            return Err(malformed(file, format!("{list}: entry {} is empty", i + 1)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Lexicon::parse` with one file replaced by `text`.
    fn parse_with(file: &'static str, text: &str) -> Result<Lexicon, Malformed> {
        let pick = |f: (&'static str, &'static str)| if f.0 == file { (file, text) } else { f };
        Lexicon::parse(pick(RU), pick(UK), pick(COMMON))
    }

    fn error(file: &'static str, text: &str) -> String {
        let m = parse_with(file, text).expect_err("malformed lexicon accepted");
        assert_eq!(m.file, file);
        data_err(m.file.to_string(), m.message).to_string()
    }

    #[test]
    fn embedded_lexicon_loads() {
        let lex = Lexicon::get().expect("embedded lexicon");
        assert!(lex.ru.len() > 40 && lex.uk.len() > 40);
        assert_eq!(lex.ru[0].phrases[0], "в Киеве", "file order kept");
        assert_eq!(
            lex.handles.suffixes.iter().filter(|s| s.is_empty()).count(),
            3
        );
    }

    #[test]
    fn malformed_files_name_the_file_and_list() {
        let (ru, uk, common) = (RU.0, UK.0, COMMON.0);
        let e = error(ru, "[[group]\nname = \"x\"\n");
        assert!(
            e.starts_with("data/lexicons/ru.toml: TOML parse error at line 1"),
            "{e}"
        );
        let e = error(uk, "[[group]]\nname = \"verbs\"\n");
        assert!(
            e.starts_with("data/lexicons/uk.toml:") && e.contains("`phrases`"),
            "{e}"
        );
        let e = error(ru, "[[group]]\nname = \"verbs\"\nphrases = [\"a\"]\n");
        assert!(e.contains("group 1 (verbs): needs at least two"), "{e}");
        let e = error(ru, "[[group]]\nname = \"a\"\nphrases = [\"x\", \"y\"]\n[[group]]\nname = \"b\"\nphrases = [\"z\", \"X\"]\n");
        assert!(e.contains("group 2 (b): `X` is also in group 1 (a)"), "{e}");
        let e = error(ru, "[[group]]\nname = \"a\"\nphrases = [\"x\", \" y\"]\n");
        assert!(
            e.contains("group 1 (a): entry 2 ` y` has spaces around it"),
            "{e}"
        );
        let e = error(
            ru,
            "[[group]]\nname = \"a\"\nphrases = [\"x\", \"y\"]\ncolour = 1\n",
        );
        assert!(e.contains("unknown field `colour`"), "{e}");

        let good = COMMON.1;
        let e = error(common, &good.replacen("\"подж\"", "\"Подж\"", 1));
        assert!(
            e.contains("common.toml: key_stems: `Подж` is not lower case"),
            "{e}"
        );
        let e = error(common, &good.replacen("\"🔥\"", "\"\"", 1));
        assert!(
            e.contains("common.toml: emoji_inside: entry 1 is empty"),
            "{e}"
        );
        let e = error(
            common,
            &good.replacen("key_stems = [", "key_stems = \"x\"\nold = [", 1),
        );
        assert!(e.contains("key_stems") && e.contains("invalid type"), "{e}");
    }
}
