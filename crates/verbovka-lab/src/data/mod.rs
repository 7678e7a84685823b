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
//! - **lexical swaps** — interchangeable phrases of the same grammatical form from built-in
//!   Russian and Ukrainian lists: targets (military/volunteer cars, TCC offices, relay
//!   cabinets, substations, towers, police cars), reconnaissance objects, cities (nominative and
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

use crate::{Error, Label, Lang, Result};
use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Examples, loading, splits
// ---------------------------------------------------------------------------------------------

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
    Error::Data {
        origin,
        message: message.into(),
    }
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

// ---------------------------------------------------------------------------------------------
// Lexicon: groups of interchangeable phrases of one grammatical form
// ---------------------------------------------------------------------------------------------

/// Russian swap groups. Every phrase in a group can replace every other in the same context.
const RU_GROUPS: &[&[&str]] = &[
    // cities, Ukraine, locative
    &[
        "в Киеве",
        "в Харькове",
        "в Днепре",
        "в Одессе",
        "во Львове",
        "в Запорожье",
        "в Николаеве",
        "в Полтаве",
        "в Виннице",
        "в Житомире",
        "в Черкассах",
        "в Сумах",
        "в Чернигове",
        "в Ровно",
        "в Луцке",
        "в Ужгороде",
        "в Ивано-Франковске",
        "в Тернополе",
        "в Хмельницком",
        "в Кропивницком",
        "в Кривом Роге",
        "в Херсоне",
        "в Белой Церкви",
        "в Павлограде",
        "в Каменском",
        "в Кременчуге",
        "в Броварах",
        "в Ирпене",
    ],
    // cities, Ukraine, nominative
    &[
        "Киев",
        "Харьков",
        "Днепр",
        "Одесса",
        "Львов",
        "Запорожье",
        "Николаев",
        "Полтава",
        "Винница",
        "Житомир",
        "Черкассы",
        "Сумы",
        "Чернигов",
        "Ровно",
        "Луцк",
        "Ужгород",
        "Тернополь",
        "Хмельницкий",
        "Кривой Рог",
        "Херсон",
        "Белая Церковь",
        "Кременчуг",
    ],
    // cities, Russia, locative
    &[
        "в Москве",
        "в Петербурге",
        "в Санкт-Петербурге",
        "в Подмосковье",
        "в Белгороде",
        "в Курске",
        "в Брянске",
        "в Ростове",
        "в Воронеже",
        "в Краснодаре",
        "в Самаре",
        "в Екатеринбурге",
        "в Новосибирске",
        "в Казани",
        "в Нижнем Новгороде",
        "в Туле",
        "в Смоленске",
        "в Твери",
        "в Липецке",
        "в Ярославле",
    ],
    // cities, Russia, nominative
    &[
        "Москва",
        "Петербург",
        "Белгород",
        "Курск",
        "Брянск",
        "Ростов",
        "Воронеж",
        "Краснодар",
        "Самара",
        "Екатеринбург",
        "Новосибирск",
        "Казань",
        "Тула",
        "Смоленск",
        "Тверь",
    ],
    &[
        "по всей Украине",
        "по всей стране",
        "по всем городам",
        "в любом городе",
        "в любой области",
    ],
    // arson targets, accusative: military and volunteer vehicles
    &[
        "машину ВСУ",
        "авто ВСУ",
        "автомобиль ВСУ",
        "пикап ВСУ",
        "военную машину",
        "военный автомобиль",
        "машину военных",
        "авто военных",
        "тачку ВСУшников",
        "машину волонтеров",
        "машину волонтёров",
        "авто волонтеров",
        "машину ЗСУ",
        "авто ЗСУ",
    ],
    // arson targets, accusative: offices
    &[
        "ТЦК",
        "здание ТЦК",
        "военкомат",
        "здание военкомата",
        "офис ТЦК",
        "отделение ТЦК",
        "пункт ТЦК",
    ],
    &[
        "отделение Новой почты",
        "отделение Укрпочты",
        "почтомат",
        "отделение почты",
    ],
    // railway
    &[
        "релейный шкаф",
        "релейную будку",
        "релейный ящик",
        "шкаф СЦБ",
        "релейку",
        "трансформаторную будку",
    ],
    &["релейные шкафы", "релейные будки", "шкафы СЦБ", "релейки"],
    &[
        "железную дорогу",
        "ж/д пути",
        "железнодорожные пути",
        "рельсы",
        "пути",
    ],
    &[
        "подстанцию",
        "электроподстанцию",
        "трансформаторную подстанцию",
        "вышку связи",
        "вышку мобильной связи",
        "вышку сотовой связи",
    ],
    &[
        "машину полиции",
        "полицейскую машину",
        "патрульную машину",
        "авто полиции",
        "машину ДПС",
        "машину Росгвардии",
        "авто Росгвардии",
    ],
    // reconnaissance objects, accusative
    &[
        "колонну техники",
        "военную технику",
        "технику ВСУ",
        "передвижение техники",
        "скопление военных",
        "расположение военных",
        "места дислокации",
        "позиции ВСУ",
    ],
    &[
        "ПВО",
        "позиции ПВО",
        "работу ПВО",
        "зенитки",
        "средства ПВО",
        "системы ПВО",
    ],
    &["блокпост", "блокпосты", "КПП", "чекпоинт"],
    &[
        "аэродром",
        "военный аэродром",
        "аэропорт",
        "военную часть",
        "воинскую часть",
    ],
    &[
        "места прилетов",
        "места прилётов",
        "прилеты",
        "прилёты",
        "последствия прилетов",
        "места попаданий",
    ],
    &[
        "мост",
        "вокзал",
        "железнодорожную станцию",
        "ж/д станцию",
        "развязку",
        "трассу",
    ],
    // verbs
    &["поджечь", "сжечь", "спалить"],
    &["подожги", "сожги", "спали"],
    &["подожгите", "сожгите", "спалите"],
    &[
        "сфотографировать",
        "сфоткать",
        "заснять",
        "снять на телефон",
        "снять на видео",
        "отснять",
    ],
    &[
        "сфотографируй",
        "сфоткай",
        "сними",
        "засними",
        "сними на телефон",
    ],
    &["сфотографируйте", "сфоткайте", "снимите", "заснимите"],
    &["скинуть", "отправить", "прислать", "переслать", "кинуть"],
    &["скинь", "отправь", "пришли", "перешли", "кинь"],
    &["скиньте", "отправьте", "пришлите", "перешлите"],
    &[
        "установить камеру",
        "поставить камеру",
        "повесить камеру",
        "установить видеокамеру",
    ],
    // coordinates
    &[
        "координаты",
        "геолокацию",
        "геометку",
        "точку на карте",
        "локацию",
        "точные координаты",
        "геопозицию",
    ],
    // money and pay
    &[
        "оплата сразу",
        "оплата моментально",
        "оплата в тот же день",
        "деньги сразу",
        "расчёт сразу",
        "расчет сразу",
        "выплата сразу",
        "оплата сразу после выполнения",
    ],
    &[
        "оплата в крипте",
        "оплата криптой",
        "оплата в USDT",
        "оплата на карту",
        "оплата в криптовалюте",
    ],
    &[
        "лёгкие деньги",
        "легкие деньги",
        "быстрые деньги",
        "хорошие деньги",
    ],
    &[
        "лёгкий заработок",
        "легкий заработок",
        "быстрый заработок",
        "хороший заработок",
        "высокий заработок",
    ],
    &[
        "подработка",
        "халтура",
        "работа на пару часов",
        "разовая работа",
    ],
    &[
        "подработку",
        "халтуру",
        "работу на пару часов",
        "разовую работу",
    ],
    &[
        "работа для смелых",
        "работа для решительных",
        "работа для рисковых",
        "работа для отважных",
    ],
    &[
        "тестовое задание",
        "пробное задание",
        "первое задание",
        "проверочное задание",
    ],
    &["задание", "поручение"],
    &[
        "анонимно",
        "полная анонимность",
        "гарантируем анонимность",
        "всё анонимно",
        "все анонимно",
    ],
    // contact phrases
    &[
        "пиши в лс",
        "пишите в лс",
        "пиши в личку",
        "пишите в личку",
        "стучи в лс",
        "пиши в личные сообщения",
        "детали в лс",
        "подробности в лс",
        "подробности в личке",
        "все детали в личке",
    ],
    &["пиши", "пишите"],
    &["звони", "звоните"],
    &["обращайся", "обращайтесь"],
    &["присоединяйся", "присоединяйтесь"],
    &[
        "Привет",
        "Здравствуйте",
        "Добрый день",
        "Всем привет",
        "Хай",
    ],
];

/// Ukrainian swap groups (same rules as [`RU_GROUPS`]).
const UK_GROUPS: &[&[&str]] = &[
    &[
        "у Києві",
        "в Києві",
        "у Харкові",
        "у Дніпрі",
        "в Одесі",
        "у Львові",
        "у Запоріжжі",
        "у Миколаєві",
        "у Полтаві",
        "у Вінниці",
        "у Житомирі",
        "у Черкасах",
        "у Сумах",
        "у Чернігові",
        "у Рівному",
        "у Луцьку",
        "в Ужгороді",
        "в Івано-Франківську",
        "у Тернополі",
        "у Хмельницькому",
        "у Кропивницькому",
        "у Кривому Розі",
        "у Херсоні",
        "у Білій Церкві",
        "у Павлограді",
        "у Кременчуці",
        "у Броварах",
        "в Ірпені",
    ],
    &[
        "Київ",
        "Харків",
        "Дніпро",
        "Одеса",
        "Львів",
        "Запоріжжя",
        "Миколаїв",
        "Полтава",
        "Вінниця",
        "Житомир",
        "Черкаси",
        "Суми",
        "Чернігів",
        "Рівне",
        "Луцьк",
        "Ужгород",
        "Тернопіль",
        "Хмельницький",
        "Кривий Ріг",
        "Херсон",
        "Біла Церква",
        "Кременчук",
    ],
    &[
        "по всій Україні",
        "по всіх містах",
        "в будь-якому місті",
        "по всій країні",
        "в будь-якій області",
    ],
    &[
        "машину ЗСУ",
        "авто ЗСУ",
        "автівку ЗСУ",
        "автомобіль ЗСУ",
        "пікап ЗСУ",
        "військову машину",
        "військове авто",
        "військовий автомобіль",
        "машину військових",
        "авто військових",
        "машину волонтерів",
        "авто волонтерів",
        "автівку волонтерів",
    ],
    &[
        "ТЦК",
        "будівлю ТЦК",
        "приміщення ТЦК",
        "військкомат",
        "офіс ТЦК",
        "відділ ТЦК",
    ],
    &[
        "відділення Нової пошти",
        "відділення Укрпошти",
        "поштомат",
        "відділення пошти",
    ],
    &[
        "релейну шафу",
        "релейну будку",
        "релейну коробку",
        "шафу СЦБ",
        "релейку",
        "трансформаторну будку",
    ],
    &["релейні шафи", "релейні будки", "шафи СЦБ", "релейки"],
    &[
        "залізницю",
        "колії",
        "залізничні колії",
        "рейки",
        "залізничне полотно",
    ],
    &[
        "підстанцію",
        "електропідстанцію",
        "трансформаторну підстанцію",
        "вишку зв'язку",
        "вишку мобільного зв'язку",
        "вишку зв’язку",
    ],
    &[
        "машину поліції",
        "поліцейську машину",
        "патрульну машину",
        "авто поліції",
    ],
    &[
        "колону техніки",
        "військову техніку",
        "техніку ЗСУ",
        "пересування техніки",
        "скупчення військових",
        "розташування військових",
        "місця дислокації",
        "позиції ЗСУ",
    ],
    &[
        "ППО",
        "позиції ППО",
        "роботу ППО",
        "засоби ППО",
        "системи ППО",
        "зенітки",
    ],
    &["блокпост", "блокпости", "КПП", "чекпоінт"],
    &[
        "аеродром",
        "військовий аеродром",
        "аеропорт",
        "військову частину",
    ],
    &[
        "місця прильотів",
        "прильоти",
        "наслідки прильотів",
        "місця влучань",
    ],
    &["міст", "вокзал", "залізничну станцію", "розв'язку", "трасу"],
    &["підпалити", "спалити"],
    &["підпали", "спали"],
    &["підпаліть", "спаліть"],
    &[
        "сфотографувати",
        "сфоткати",
        "зняти на телефон",
        "зняти на відео",
        "відзняти",
        "зафіксувати",
    ],
    &[
        "сфотографуй",
        "сфоткай",
        "зніми",
        "зніми на телефон",
        "зафіксуй",
    ],
    &["сфотографуйте", "сфоткайте", "зніміть", "зафіксуйте"],
    &["скинути", "надіслати", "відправити", "переслати", "кинути"],
    &["скинь", "надішли", "відправ", "перешли", "кинь"],
    &["скиньте", "надішліть", "відправте", "перешліть"],
    &[
        "встановити камеру",
        "поставити камеру",
        "повісити камеру",
        "встановити відеокамеру",
    ],
    &[
        "координати",
        "геолокацію",
        "геомітку",
        "точку на карті",
        "локацію",
        "точні координати",
        "геопозицію",
    ],
    &[
        "оплата одразу",
        "оплата відразу",
        "оплата миттєво",
        "оплата в той же день",
        "гроші одразу",
        "розрахунок одразу",
        "виплата одразу",
        "оплата одразу після виконання",
    ],
    &[
        "оплата в крипті",
        "оплата криптою",
        "оплата в USDT",
        "оплата на картку",
        "оплата в криптовалюті",
    ],
    &[
        "легкі гроші",
        "швидкі гроші",
        "хороші гроші",
        "великі гроші",
    ],
    &[
        "легкий заробіток",
        "швидкий заробіток",
        "хороший заробіток",
        "високий заробіток",
    ],
    &[
        "підробіток",
        "халтура",
        "робота на пару годин",
        "разова робота",
    ],
    &["халтуру", "роботу на пару годин", "разову роботу"],
    &[
        "робота для сміливих",
        "робота для рішучих",
        "робота для ризикових",
        "робота для відважних",
    ],
    &[
        "тестове завдання",
        "пробне завдання",
        "перше завдання",
        "перевірочне завдання",
    ],
    &["завдання", "доручення"],
    &[
        "анонімно",
        "повна анонімність",
        "гарантуємо анонімність",
        "все анонімно",
        "усе анонімно",
    ],
    &[
        "пиши в лс",
        "пишіть в лс",
        "пиши в особисті",
        "пишіть в особисті",
        "стукай в лс",
        "пиши в приват",
        "деталі в лс",
        "подробиці в лс",
        "деталі в особистих",
        "усі деталі в особистих",
    ],
    &["пиши", "пишіть"],
    &["дзвони", "дзвоніть", "телефонуй", "телефонуйте"],
    &["звертайся", "звертайтеся", "звертайтесь"],
    &[
        "долучайся",
        "долучайтеся",
        "долучайтесь",
        "приєднуйся",
        "приєднуйтесь",
    ],
    &[
        "Привіт",
        "Вітаю",
        "Доброго дня",
        "Добрий день",
        "Всім привіт",
        "Хай",
    ],
];

/// Stems of words worth obfuscating (lower case, Russian and Ukrainian): evaders hide the
/// words that filters look for.
const KEY_STEMS: &[&str] = &[
    "подж",
    "поджог",
    "сжеч",
    "сожг",
    "спал",
    "підпал",
    "заработ",
    "подработ",
    "заробіт",
    "підробіт",
    "работ",
    "робот",
    "деньг",
    "деньж",
    "грош",
    "оплат",
    "плат",
    "выплат",
    "виплат",
    "задани",
    "завданн",
    "фот",
    "сфот",
    "сним",
    "сня",
    "знім",
    "зня",
    "видео",
    "відео",
    "координат",
    "геолок",
    "геомет",
    "геоміт",
    "тцк",
    "всу",
    "зсу",
    "военкомат",
    "військкомат",
    "военн",
    "військ",
    "техник",
    "техні",
    "колон",
    "блокпост",
    "пво",
    "ппо",
    "аэродром",
    "аеродром",
    "прилет",
    "прилёт",
    "прильот",
    "релей",
    "шаф",
    "шкаф",
    "подстанц",
    "підстанц",
    "вышк",
    "вишк",
    "машин",
    "авто",
    "поліц",
    "полиц",
    "железн",
    "залізн",
    "рельс",
    "рейк",
    "крипт",
    "аноним",
    "анонім",
    "камер",
    "бот",
    "телеграм",
    "лс",
    "личк",
    "особист",
    "пиш",
    "смел",
    "сміл",
    "легк",
    "быстр",
    "швидк",
    "вербу",
    "коктейл",
    "молотов",
    "бензин",
];

// ---------------------------------------------------------------------------------------------
// Obfuscations
// ---------------------------------------------------------------------------------------------

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

const EMOJI_INSIDE: &[&str] = &[
    "🔥", "💰", "💸", "✅", "🚀", "💵", "👉", "⭐", "💣", "⚡️", "❗",
];
const EMOJI_DECOR: &[&str] = &[
    "🔥", "💰", "💸", "⚡️", "✅", "❗️", "‼️", "🚀", "💵", "🤑", "📍", "📸", "👉", "⚠️", "💯", "🎯",
    "🕵️", "💳", "📲", "🤝",
];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.usize(..items.len()))
    }
}

/// Applies one obfuscation to one word. `uk` prefers Latin `i` for Ukrainian `і`. Returns
/// `None` if the kind cannot change this word (e.g. digits for a word without о/з/ч/б).
fn obfuscate_chars(
    word: &str,
    kind: Obfuscation,
    uk: bool,
    rng: &mut fastrand::Rng,
) -> Option<String> {
    let out = obfuscate_chars_raw(word, kind, uk, rng)?;
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
            let e = pick(rng, EMOJI_INSIDE).copied().unwrap_or("🔥");
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

/// Applies `kind` to `word` with an RNG seeded by `seed`; `None` if the kind cannot change it.
/// For tests and for users who want to probe the normaliser.
pub fn obfuscate_word(word: &str, kind: Obfuscation, seed: u64) -> Option<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let uk = guess_lang(word) == Lang::Uk;
    obfuscate_chars(word, kind, uk, &mut rng)
}

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

fn is_contact_token(tok: &str) -> bool {
    tok.contains('@')
        || tok.contains("t.me")
        || tok.contains("http")
        || tok.contains("www.")
        || tok.contains('/')
        || tok.contains(".com")
}

/// Byte ranges of alphabetic runs (≥ 3 letters) outside links, handles and URLs.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
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

fn is_cyrillic_word(w: &str) -> bool {
    w.chars().any(|c| ('\u{0400}'..='\u{04ff}').contains(&c))
}

fn is_key_word(w: &str) -> bool {
    let lw = w.to_lowercase();
    KEY_STEMS.iter().any(|s| lw.starts_with(s))
}

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

fn shuffle_order(text: &str, rng: &mut fastrand::Rng) -> String {
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

fn swap_adjacent_words(text: &str, rng: &mut fastrand::Rng) -> String {
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

fn add_typos(text: &str, uk: bool, rng: &mut fastrand::Rng) -> String {
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

/// Rebuilds `text` with the chosen spans transformed.
fn replace_spans(
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

fn change_register(text: &str, rng: &mut fastrand::Rng) -> String {
    let emoji = |rng: &mut fastrand::Rng| pick(rng, EMOJI_DECOR).copied().unwrap_or("🔥");
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

// ---------------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------------

/// A compiled swap list: one case-insensitive alternation of all phrases (longest first, word
/// boundaries checked by hand, see TECH-NOTES on `\b` with Cyrillic) and phrase → group.
#[derive(Debug)]
struct Lexicon {
    re: Regex,
    groups: &'static [&'static [&'static str]],
    index: HashMap<String, usize>,
}

impl Lexicon {
    fn new(groups: &'static [&'static [&'static str]]) -> Result<Self> {
        let mut index = HashMap::new();
        let mut phrases: Vec<&str> = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            for p in g.iter() {
                index.entry(p.to_lowercase()).or_insert(gi);
                phrases.push(p);
            }
        }
        phrases.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        phrases.dedup();
        let alts: Vec<String> = phrases.iter().map(|p| regex::escape(p)).collect();
        let re = Regex::new(&format!("(?i)(?:{})", alts.join("|")))
            .map_err(|e| Error::Config(format!("generator lexicon: {e}")))?;
        Ok(Lexicon { re, groups, index })
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
                .iter()
                .copied()
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

const HANDLE_A: &[&str] = &[
    "work",
    "job",
    "easy",
    "fast",
    "quick",
    "money",
    "cash",
    "zarobitok",
    "zarabotok",
    "robota",
    "rabota",
    "task",
    "help",
    "pidrobitok",
    "podrabotka",
    "dengi",
    "groshi",
    "profit",
    "deal",
    "agent",
    "anon",
    "shadow",
    "night",
    "real",
    "top",
    "vip",
    "smart",
    "dark",
    "free",
    "secret",
    "partner",
    "mission",
    "silent",
    "ghost",
    "tema",
    "shara",
    "bablo",
    "kesh",
    "start",
];
const HANDLE_B: &[&str] = &[
    "_ua", "_ukr", "_24", "_fast", "_pay", "_online", "_team", "_now", "_kyiv", "_kh", "_odesa",
    "_go", "", "", "", "_pro", "_info", "_msk", "_spb", "_ru", "_club", "_hub",
];
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn random_handle(rng: &mut fastrand::Rng, bot: bool) -> String {
    let a = pick(rng, HANDLE_A).copied().unwrap_or("work");
    let mut h = a.to_string();
    if rng.f32() < 0.5 {
        let a2 = pick(rng, HANDLE_A).copied().unwrap_or("money");
        if a2 != a {
            h.push('_');
            h.push_str(a2);
        }
    }
    h.push_str(pick(rng, HANDLE_B).copied().unwrap_or(""));
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
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            positives_per_category: 6500,
            hard_negatives: 9000,
            obfuscated_share_positive: 0.35,
            obfuscated_share_negative: 0.15,
        }
    }
}

/// Expands seed posts into variants (see the module docs for what it varies).
#[derive(Debug)]
pub struct Generator {
    ru: Lexicon,
    uk: Lexicon,
    amount: Regex,
    link: Regex,
    handle: Regex,
    phone: Regex,
}

impl Generator {
    /// Compiles the built-in lists and patterns.
    pub fn new() -> Result<Self> {
        let num = r"\d{1,3}(?:[ \x{a0}]\d{3})+|\d+";
        let dec = r"(?:[.,]\d+)?";
        let mult = r"(?:k|к|тыс\.?|тис\.?)";
        let cur_word = r"usdt|usd|грн\.?|гривен\w*|гривн\w*|гривень|гривні|гривня|рублей|рубля|рубль|руб\.?|долларов|доллара|доллар|доларів|долара|долари|долар|баксов|баксів|бакса|баксы|бакс|евро|євро|euro|eur";
        let amount = format!(
            r"(?i)(?P<psym>[$€₴₽])\s?(?P<pnum>{num})(?P<pdec>{dec})\s?(?P<pmult>{mult})?|(?:(?P<lo>{num}){dec}\s?(?:{mult})?(?P<sep>\s?[-–—]\s?|\s+до\s+))?(?P<num>{num})(?P<dec>{dec})\s?(?P<mult>{mult})?\s?(?P<cur>[$€₴₽]|{cur_word})"
        );
        let compile =
            |p: &str| Regex::new(p).map_err(|e| Error::Config(format!("generator pattern: {e}")));
        Ok(Generator {
            ru: Lexicon::new(RU_GROUPS)?,
            uk: Lexicon::new(UK_GROUPS)?,
            amount: compile(&amount)?,
            link: compile(
                r"(?i)(?P<scheme>https?://)?(?:t\.me|telegram\.me)/(?P<path>\+?[A-Za-z0-9_]+)(?P<start>\?start=[A-Za-z0-9_-]+)?",
            )?,
            handle: compile(r"@[A-Za-z][A-Za-z0-9_]{2,31}")?,
            phone: compile(
                r"\+7[\s-]?\(?\d{3}\)?[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}|\+?(?:38)?0\d{2}[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}",
            )?,
        })
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
        let t = self.link.replace_all(text, |caps: &Captures| {
            let scheme = caps.name("scheme").map_or("", |m| m.as_str());
            let path = caps.name("path").map_or("", |m| m.as_str());
            let new_path = if path.starts_with('+') {
                format!("+{}", random_code(rng, 16))
            } else {
                random_handle(rng, path.to_lowercase().ends_with("bot"))
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
            format!("@{}", random_handle(rng, m.to_lowercase().ends_with("bot")))
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

    fn obfuscate_text(
        &self,
        text: &str,
        uk: bool,
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
                is_key_word(w) && w.chars().count() >= 3
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
                obfuscate_chars(w, kind, uk, rng).map(|s| (s, kind))
            } else {
                None
            };
            match applied.or_else(|| {
                obfuscate_chars(w, Obfuscation::ZeroWidth, uk, rng)
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

    /// Makes one variant of `ex`'s text; returns the text and the obfuscations applied.
    fn make_variant(
        &self,
        ex: &Example,
        obfuscate: bool,
        rng: &mut fastrand::Rng,
    ) -> (String, Vec<Obfuscation>) {
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
            t = change_register(&t, rng);
        }
        if obfuscate {
            self.obfuscate_text(&t, uk, rng)
        } else {
            (t, Vec::new())
        }
    }

    /// Up to `n` distinct variants of `ex` (never equal to it), same label, family and lang,
    /// tagged `generated` (and `obfuscated`, `obf:<kind>` where obfuscated). Deterministic in
    /// `(cfg.seed, ex.family, ex.text)`.
    pub fn variants(&self, ex: &Example, n: usize, cfg: &GeneratorConfig) -> Vec<Example> {
        let key = format!("{}\u{1f}{}", ex.family, ex.text);
        let mut rng = fastrand::Rng::with_seed(cfg.seed ^ stable_hash(&key));
        let share = if ex.label == Label::Benign {
            cfg.obfuscated_share_negative
        } else {
            cfg.obfuscated_share_positive
        };
        let mut seen: HashSet<String> = HashSet::new();
        seen.insert(ex.text.clone());
        let mut out = Vec::with_capacity(n);
        let mut attempts = 0;
        while out.len() < n && attempts < n * 6 + 10 {
            attempts += 1;
            let obf = rng.f32() < share;
            let (text, kinds) = self.make_variant(ex, obf, &mut rng);
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

impl Obfuscation {
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

// ---------------------------------------------------------------------------------------------
// Background
// ---------------------------------------------------------------------------------------------

/// Lines shorter than this (in characters) are not background posts.
const BACKGROUND_MIN_CHARS: usize = 25;
/// ... nor lines with fewer words.
const BACKGROUND_MIN_WORDS: usize = 4;
/// Longer posts are clipped (at a space) to this many characters.
const BACKGROUND_MAX_CHARS: usize = 1000;

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    match cut.rfind(char::is_whitespace) {
        Some(p) if p > cut.len() / 2 => cut[..p].trim_end().to_string(),
        _ => cut,
    }
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

struct SourceLines {
    stem: String,
    lang: Lang,
    weight: f64,
    /// (line number, text, extra tag)
    lines: Vec<(usize, String, Option<String>)>,
}

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
/// 25 characters or 4 words are skipped, long posts clipped to 1,000 characters, duplicates
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
            return Err(Error::Config(format!(
                "{}: held-out data must never be used for training data",
                corpora_dir.display()
            )));
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
        .map_err(|e| Error::Config(format!("markdown pattern: {e}")))?;
    for f in &files {
        sources.push(read_source(f, &md_link)?);
    }
    let sizes: Vec<usize> = sources.iter().map(|s| s.lines.len()).collect();
    let weights: Vec<f64> = sources.iter().map(|s| s.weight).collect();
    let quotas = allocate(&sizes, &weights, n);
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for ((src, q), path) in sources.into_iter().zip(quotas).zip(&files) {
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut rng = fastrand::Rng::with_seed(seed ^ stable_hash(&name));
        let mut idx: Vec<usize> = (0..src.lines.len()).collect();
        rng.shuffle(&mut idx);
        idx.truncate(q);
        idx.sort_unstable();
        for i in idx {
            let Some((line_no, text, extra)) = src.lines.get(i) else {
                continue;
            };
            if !seen.insert(dedupe_key(text)) {
                continue;
            }
            let mut tags = vec!["background".to_string(), format!("src:{name}")];
            if let Some(t) = extra {
                tags.push(t.clone());
            }
            let lang = if src.lang == Lang::Other {
                guess_lang(text)
            } else {
                src.lang
            };
            out.push(Example {
                text: text.clone(),
                label: Label::Benign,
                family: format!("bg:{}:{}", src.stem, line_no),
                tags,
                lang,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------

/// Key for duplicate detection: lower case, whitespace collapsed.
fn dedupe_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Settings of [`build_dataset`].
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// Expansion settings (including the RNG seed).
    pub generator: GeneratorConfig,
    /// Number of background lines to sample.
    pub background: usize,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            generator: GeneratorConfig::default(),
            background: 50_000,
        }
    }
}

/// Train, dev and test examples, shuffled deterministically.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Training examples.
    pub train: Vec<Example>,
    /// Development examples.
    pub dev: Vec<Example>,
    /// Test examples.
    pub test: Vec<Example>,
    /// Things worth a look: duplicate seeds, label conflicts, dropped duplicates.
    pub warnings: Vec<String>,
}

impl Dataset {
    /// The examples of one split.
    pub fn split(&self, split: Split) -> &[Example] {
        match split {
            Split::Train => &self.train,
            Split::Dev => &self.dev,
            Split::Test => &self.test,
        }
    }

    /// Counts per split of labels, languages and tags.
    pub fn stats(&self) -> DatasetStats {
        let mut rows: BTreeMap<String, [usize; 3]> = BTreeMap::new();
        for (si, split) in Split::ALL.iter().enumerate() {
            for ex in self.split(*split) {
                let mut keys = vec![
                    "all".to_string(),
                    format!("label:{}", ex.label),
                    format!("lang:{}", ex.lang),
                ];
                if ex.label != Label::Benign && ex.has_tag("obfuscated") {
                    keys.push(format!("obfuscated:{}", ex.label));
                }
                for t in &ex.tags {
                    if !t.starts_with("topic:") {
                        keys.push(format!("tag:{t}"));
                    }
                }
                for k in keys {
                    if let Some(c) = rows.entry(k).or_default().get_mut(si) {
                        *c += 1;
                    }
                }
            }
        }
        let mut families: [HashSet<&str>; 3] = Default::default();
        for (si, split) in Split::ALL.iter().enumerate() {
            for ex in self.split(*split) {
                if !ex.has_tag("background") {
                    if let Some(f) = families.get_mut(si) {
                        f.insert(ex.family.as_str());
                    }
                }
            }
        }
        rows.insert(
            "families (seeded)".to_string(),
            [families[0].len(), families[1].len(), families[2].len()],
        );
        DatasetStats { rows }
    }

    /// Writes the splits into `dir` (created if needed): `train.jsonl` with everything;
    /// `dev.jsonl` and `test.jsonl` with the seeded examples only (seeds and variants: text
    /// written for this project, fit to commit) and `dev_background.jsonl`,
    /// `test_background.jsonl` with their background lines (real corpus text, which must not
    /// be copied into the repository: regenerate them, pass them to `evaluate --background`).
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let train = dir.join("train.jsonl");
        write_jsonl(&train, &self.train)?;
        let mut paths = vec![train];
        for split in [Split::Dev, Split::Test] {
            let (bg, own): (Vec<Example>, Vec<Example>) = self
                .split(split)
                .iter()
                .cloned()
                .partition(|e| e.has_tag("background"));
            let p = dir.join(format!("{}.jsonl", split.as_str()));
            write_jsonl(&p, &own)?;
            paths.push(p);
            let p = dir.join(format!("{}_background.jsonl", split.as_str()));
            write_jsonl(&p, &bg)?;
            paths.push(p);
        }
        Ok(paths)
    }
}

/// Counts per split: rows keyed `all`, `label:*`, `lang:*`, `obfuscated:<label>`, `tag:*`,
/// `families (seeded)`; columns train, dev, test.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetStats {
    /// Row key → [train, dev, test].
    pub rows: BTreeMap<String, [usize; 3]>,
}

impl DatasetStats {
    /// The count for one row and split (0 if absent).
    pub fn get(&self, key: &str, split: Split) -> usize {
        self.rows
            .get(key)
            .and_then(|r| r.get(split as usize).copied())
            .unwrap_or(0)
    }
}

impl fmt::Display for DatasetStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            f,
            "{:<width$} {:>8} {:>8} {:>8} {:>8}",
            "", "train", "dev", "test", "total"
        )?;
        for (k, r) in &self.rows {
            writeln!(
                f,
                "{:<width$} {:>8} {:>8} {:>8} {:>8}",
                k,
                r[0],
                r[1],
                r[2],
                r[0] + r[1] + r[2]
            )?;
        }
        Ok(())
    }
}

/// Builds the dataset: expands `seeds` with [`Generator::expand`], adds `cfg.background` lines
/// from `corpora_dir` (if given) with [`sample_background`], removes duplicate texts (keeping
/// the copy in test, then dev, then train, so no text is in two splits) and splits by family.
pub fn build_dataset(
    seeds: &[Example],
    corpora_dir: Option<&Path>,
    cfg: &BuildConfig,
) -> Result<Dataset> {
    let mut warnings = Vec::new();
    let mut seed_seen: HashMap<String, &Example> = HashMap::new();
    for s in seeds {
        let k = dedupe_key(&s.text);
        if let Some(prev) = seed_seen.get(&k) {
            let what = if prev.label == s.label {
                "duplicate seed"
            } else {
                "label conflict"
            };
            warnings.push(format!(
                "{what}: families `{}` ({}) and `{}` ({}): {}",
                prev.family,
                prev.label,
                s.family,
                s.label,
                clip(&s.text, 80)
            ));
        } else {
            seed_seen.insert(k, s);
        }
    }
    let generator = Generator::new()?;
    let mut all = generator.expand(seeds, &cfg.generator);
    if let Some(dir) = corpora_dir {
        all.extend(sample_background(dir, cfg.background, cfg.generator.seed)?);
    }
    // Test first, then dev, then train; seeds before variants before background.
    let rank = |e: &Example| {
        let s = match e.split() {
            Split::Test => 0,
            Split::Dev => 1,
            Split::Train => 2,
        };
        let kind = if e.has_tag("seed") {
            0
        } else if e.has_tag("background") {
            2
        } else {
            1
        };
        (s, kind)
    };
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by_key(|&i| rank(&all[i]));
    let mut seen: HashMap<String, Label> = HashMap::new();
    let mut keep = vec![false; all.len()];
    let (mut dropped, mut conflicts) = (0usize, 0usize);
    for i in order {
        let k = dedupe_key(&all[i].text);
        match seen.get(&k) {
            Some(l) => {
                dropped += 1;
                if *l != all[i].label {
                    conflicts += 1;
                }
            }
            None => {
                seen.insert(k, all[i].label);
                keep[i] = true;
            }
        }
    }
    if dropped > 0 {
        warnings.push(format!(
            "dropped {dropped} duplicate texts ({conflicts} of them with a different label)"
        ));
    }
    let mut ds = Dataset {
        warnings,
        ..Dataset::default()
    };
    for (ex, k) in all.into_iter().zip(keep) {
        if !k {
            continue;
        }
        match ex.split() {
            Split::Train => ds.train.push(ex),
            Split::Dev => ds.dev.push(ex),
            Split::Test => ds.test.push(ex),
        }
    }
    let mut rng = fastrand::Rng::with_seed(cfg.generator.seed);
    rng.shuffle(&mut ds.train);
    rng.shuffle(&mut ds.dev);
    rng.shuffle(&mut ds.test);
    Ok(ds)
}
