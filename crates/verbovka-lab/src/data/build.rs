//! The assembled dataset: seeds, their variants and background, deduplicated across splits.

use super::text::{clip, dedupe_key};
use super::{sample_background, write_jsonl, Example, Generator, GeneratorConfig, Split};
use crate::{Error, Label, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

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
                for t in ["obfuscated", "translit", "wrapped"] {
                    if ex.label != Label::Benign && ex.has_tag(t) {
                        keys.push(format!("{t}:{}", ex.label));
                    }
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

/// Counts per split: rows keyed `all`, `label:*`, `lang:*`, `obfuscated:<label>`,
/// `translit:<label>`, `wrapped:<label>` (positives), `tag:*`,
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
    let background = match corpora_dir {
        Some(dir) => sample_background(dir, cfg.background, cfg.generator.seed)?,
        None => Vec::new(),
    };
    let mut generator = Generator::new()?;
    // Real lines of each split become the benign context of that split's wrapped variants.
    generator.add_context(&background);
    let mut all = generator.expand(seeds, &cfg.generator);
    all.extend(background);
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
