//! Closed sets and small values shared by every stage: categories, per-category values,
//! labels, languages, spans.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A kind of recruitment the detector scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Arson or damage: military/volunteer cars, TCC offices, railway relay cabinets, substations, cell towers.
    Sabotage,
    /// Photographing, filming or geotagging troops, air defence, checkpoints, strike sites; sending coordinates.
    Reconnaissance,
    /// A vague paid "task" / "easy money" hook with no explicit target yet.
    Lure,
}

impl Category {
    /// All categories in their fixed order (the order of model outputs and of [`Scores`]).
    pub const ALL: [Category; 3] = [Category::Sabotage, Category::Reconnaissance, Category::Lure];

    /// Position of this category in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sabotage => "sabotage",
            Category::Reconnaissance => "reconnaissance",
            Category::Lure => "lure",
        }
    }
}

/// One value per category, in [`Category::ALL`] order: model logits, rule evidence, fusion
/// offsets, thresholds. Indexed by [`Category`]; serialises as a 3-element array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PerCategory<T>(pub [T; 3]);

impl<T: Copy> PerCategory<T> {
    /// The same value for every category.
    pub fn splat(v: T) -> Self {
        PerCategory([v; 3])
    }

    /// Applies `f` to each value.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PerCategory<U> {
        PerCategory(self.0.map(f))
    }

    /// `(category, value)` pairs in [`Category::ALL`] order.
    pub fn pairs(&self) -> impl Iterator<Item = (Category, T)> + '_ {
        Category::ALL.into_iter().zip(self.0.iter().copied())
    }
}

impl<T> From<[T; 3]> for PerCategory<T> {
    fn from(a: [T; 3]) -> Self {
        PerCategory(a)
    }
}

impl<T> std::ops::Index<Category> for PerCategory<T> {
    type Output = T;
    fn index(&self, c: Category) -> &T {
        &self.0[c.index()]
    }
}

impl<T> std::ops::IndexMut<Category> for PerCategory<T> {
    fn index_mut(&mut self, c: Category) -> &mut T {
        &mut self.0[c.index()]
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict's label: the top category, or `benign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Nothing recruiting (including news and warnings about recruitment).
    Benign,
    /// See [`Category::Sabotage`].
    Sabotage,
    /// See [`Category::Reconnaissance`].
    Reconnaissance,
    /// See [`Category::Lure`].
    Lure,
}

impl Label {
    /// The category, or `None` for benign.
    pub fn category(self) -> Option<Category> {
        match self {
            Label::Benign => None,
            Label::Sabotage => Some(Category::Sabotage),
            Label::Reconnaissance => Some(Category::Reconnaissance),
            Label::Lure => Some(Category::Lure),
        }
    }

    /// Lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        self.category().map_or("benign", Category::as_str)
    }
}

impl From<Category> for Label {
    fn from(c: Category) -> Self {
        match c {
            Category::Sabotage => Label::Sabotage,
            Category::Reconnaissance => Label::Reconnaissance,
            Category::Lure => Label::Lure,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Label {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "benign" => Ok(Label::Benign),
            "sabotage" => Ok(Label::Sabotage),
            "reconnaissance" => Ok(Label::Reconnaissance),
            "lure" => Ok(Label::Lure),
            other => Err(crate::Error::Config(format!(
                "unknown label `{other}` (expected benign, sabotage, reconnaissance or lure)"
            ))),
        }
    }
}

/// Language of a post, guessed from letters (і ї є ґ vs ы э ъ ё) and frequent words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Russian.
    Ru,
    /// Ukrainian.
    Uk,
    /// Both (surzhyk or a bilingual post).
    Mixed,
    /// No Cyrillic text.
    Other,
}

impl Lang {
    /// Guesses the language of `text` from its letters and frequent words (as
    /// [`crate::Verdict::lang`] does).
    pub fn detect(text: &str) -> Lang {
        crate::lang::detect(crate::normalize(text).as_str(), text)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Ru => "ru",
            Lang::Uk => "uk",
            Lang::Mixed => "mixed",
            Lang::Other => "other",
        })
    }
}

/// Per-category scores in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Scores {
    /// Score for [`Category::Sabotage`].
    pub sabotage: f32,
    /// Score for [`Category::Reconnaissance`].
    pub reconnaissance: f32,
    /// Score for [`Category::Lure`].
    pub lure: f32,
}

impl Scores {
    /// Builds scores from values in [`Category::ALL`] order.
    pub fn from_array(a: [f32; 3]) -> Self {
        Scores {
            sabotage: a[0],
            reconnaissance: a[1],
            lure: a[2],
        }
    }

    /// The scores as an array in [`Category::ALL`] order.
    pub fn to_array(self) -> [f32; 3] {
        [self.sabotage, self.reconnaissance, self.lure]
    }

    /// The scores per category.
    pub fn per_category(self) -> PerCategory<f32> {
        PerCategory(self.to_array())
    }

    /// The score of one category.
    pub fn get(self, c: Category) -> f32 {
        self.to_array()[c.index()]
    }

    /// The highest-scoring category and its score (ties go to the earlier category).
    pub fn top(self) -> (Category, f32) {
        let a = self.to_array();
        let mut best = 0;
        for i in 1..3 {
            if a[i] > a[best] {
                best = i;
            }
        }
        (Category::ALL[best], a[best])
    }
}

/// A half-open byte range `[start, end)` into a text; always on `char` boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The slice of `text` this span covers, or `None` if it does not fit `text`.
    pub fn slice(self, text: &str) -> Option<&str> {
        text.get(self.start..self.end)
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.end - self.start
    }

    /// Whether the span is empty.
    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }
}
