//! Trains the two letter-trigram models the normaliser's transliteration step compares: one over
//! Cyrillic words (Russian and Ukrainian), one over Latin words (English). The library embeds
//! the tables (`crates/verbovka/src/normalize/{cyrillic,latin}.lm`) and reads a Latin word as
//! Cyrillic only when its best Cyrillic reading is more likely under the first model than the
//! word itself under the second.
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin charlm -- --cyrillic ../shared/corpora \
//!     --latin /usr/share/common-licenses --latin "$(rustc --print sysroot)/share/doc/rust/html/releases.md" \
//!     --out crates/verbovka/src/normalize
//! ```
//!
//! Each input is a file or a directory (its files, sorted by name; `.jsonl` lines give their
//! `"text"` field, other files their lines). Text is lower-cased, `ё` folded to `е` and
//! apostrophe variants made `'` here — not by `verbovka::normalize`, whose output depends on
//! these very tables. A word is a maximal run of the model's letters (Cyrillic: `а`–`я`, `є і ї
//! ґ`, `'`; Latin: `a`–`z`, `'`); apostrophes at a word's ends are dropped.
//!
//! The model: `P(c | a b)` with Witten–Bell interpolation down to add-one unigrams, over the
//! alphabet plus a word-boundary symbol (index 0), stored as one byte per `(a, b, c)`:
//! `round(8 · −log2 P)`, at most 255, row-major. Deterministic: the same inputs give the same
//! bytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CYRILLIC: &str = "абвгдежзийклмнопрстуфхцчшщъыьэюяєіїґ'";
const LATIN: &str = "abcdefghijklmnopqrstuvwxyz'";

const USAGE: &str = "usage: charlm --cyrillic PATH... --latin PATH... --out DIR

Trains letter-trigram models over Cyrillic words (--cyrillic: files or directories of Russian and
Ukrainian text) and Latin words (--latin: English text), and writes DIR/cyrillic.lm and
DIR/latin.lm (one byte per trigram: 8 * -log2 P, at most 255). Deterministic.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("charlm: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    cyrillic: Vec<PathBuf>,
    latin: Vec<PathBuf>,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_env();
    let (mut cyrillic, mut latin, mut out) = (Vec::new(), Vec::new(), None);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("cyrillic") => cyrillic.push(p.value().map_err(|e| e.to_string())?.into()),
            Long("latin") => latin.push(p.value().map_err(|e| e.to_string())?.into()),
            Long("out") => out = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("help") | Short('h') => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("{} (try --help)", other.unexpected())),
        }
    }
    if cyrillic.is_empty() || latin.is_empty() {
        return Err("both --cyrillic and --latin are required (try --help)".into());
    }
    let out = out.ok_or("--out is required (try --help)")?;
    Ok(Args {
        cyrillic,
        latin,
        out,
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    for (name, alphabet, inputs) in [
        ("cyrillic", CYRILLIC, &args.cyrillic),
        ("latin", LATIN, &args.latin),
    ] {
        let mut model = Counts::new(alphabet);
        for path in files(inputs)? {
            let text = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let jsonl = path.extension().is_some_and(|x| x == "jsonl");
            for (i, line) in text.lines().enumerate() {
                if jsonl {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
                    if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                        model.add_text(t);
                    }
                } else {
                    model.add_text(line);
                }
            }
        }
        let table = model.costs();
        let out = args.out.join(format!("{name}.lm"));
        fs::write(&out, &table).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!(
            "{}: {} words, {} letters -> {} ({} bytes)",
            name,
            model.words,
            model.letters,
            out.display(),
            table.len()
        );
    }
    Ok(())
}

/// The files named, directories expanded to their files sorted by name.
fn files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut inner: Vec<PathBuf> = fs::read_dir(p)
                .map_err(|e| format!("cannot list {}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && !is_readme(p))
                .collect();
            inner.sort();
            out.extend(inner);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn is_readme(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.eq_ignore_ascii_case("README.md"))
}

struct Counts {
    alphabet: Vec<char>,
    /// n(a, b, c) over symbol indices (0 = boundary).
    tri: Vec<u64>,
    words: u64,
    letters: u64,
}

impl Counts {
    fn new(alphabet: &str) -> Self {
        let alphabet: Vec<char> = alphabet.chars().collect();
        let v = alphabet.len() + 1;
        Counts {
            alphabet,
            tri: vec![0; v * v * v],
            words: 0,
            letters: 0,
        }
    }

    fn v(&self) -> usize {
        self.alphabet.len() + 1
    }

    fn index(&self, c: char) -> Option<usize> {
        self.alphabet.iter().position(|&a| a == c).map(|i| i + 1)
    }

    fn add_text(&mut self, text: &str) {
        let mut word: Vec<usize> = Vec::new();
        for c in text.chars().flat_map(char::to_lowercase).chain([' ']) {
            let c = match c {
                'ё' => 'е',
                '’' | 'ʼ' | '‘' | '`' | '′' => '\'',
                c => c,
            };
            match self.index(c) {
                Some(i) => word.push(i),
                None => {
                    self.add_word(&word);
                    word.clear();
                }
            }
        }
    }

    fn add_word(&mut self, word: &[usize]) {
        let apostrophe = self.alphabet.len(); // `'` is the last letter of both alphabets
        let mut w = word;
        while w.first() == Some(&apostrophe) {
            w = &w[1..];
        }
        while w.last() == Some(&apostrophe) {
            w = &w[..w.len() - 1];
        }
        if w.is_empty() {
            return;
        }
        self.words += 1;
        self.letters += w.len() as u64;
        let v = self.v();
        let (mut a, mut b) = (0, 0);
        for &c in w.iter().chain([0].iter()) {
            self.tri[(a * v + b) * v + c] += 1;
            (a, b) = (b, c);
        }
    }

    /// Witten–Bell interpolated costs, one byte per trigram.
    fn costs(&self) -> Vec<u8> {
        let v = self.v();
        let mut bi = vec![0u64; v * v];
        let mut uni = vec![0u64; v];
        for a in 0..v {
            for b in 0..v {
                for c in 0..v {
                    let n = self.tri[(a * v + b) * v + c];
                    bi[b * v + c] += n;
                    uni[c] += n;
                }
            }
        }
        let total: u64 = uni.iter().sum();
        let p1: Vec<f64> = uni
            .iter()
            .map(|&n| (n as f64 + 1.0) / (total as f64 + v as f64))
            .collect();
        let witten_bell = |counts: &[u64], lower: &dyn Fn(usize) -> f64| -> Vec<f64> {
            let n: u64 = counts.iter().sum();
            let types = counts.iter().filter(|&&k| k > 0).count() as f64;
            (0..v)
                .map(|c| {
                    if n == 0 {
                        lower(c)
                    } else {
                        (counts[c] as f64 + types * lower(c)) / (n as f64 + types)
                    }
                })
                .collect()
        };
        let p2: Vec<Vec<f64>> = (0..v)
            .map(|b| witten_bell(&bi[b * v..(b + 1) * v], &|c| p1[c]))
            .collect();
        let mut out = Vec::with_capacity(v * v * v);
        for a in 0..v {
            for (b, lower) in p2.iter().enumerate() {
                let row = &self.tri[(a * v + b) * v..(a * v + b + 1) * v];
                let p3 = witten_bell(row, &|c| lower[c]);
                out.extend(
                    p3.iter()
                        .map(|&p| (-p.log2() * 8.0).round().clamp(0.0, 255.0) as u8),
                );
            }
        }
        out
    }
}
