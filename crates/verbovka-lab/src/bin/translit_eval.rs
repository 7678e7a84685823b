//! Measures the normaliser's transliteration step (`verbovka::normalize`, step 7) both ways:
//!
//! * `--pairs FILE.jsonl` (lines `{"latin": …, "cyrillic": …}`, e.g. the lab's transliterated
//!   variants next to their originals): how much of the Cyrillic is recovered — the share of
//!   the original's normalised words found in the normalised Latin text (as a multiset), and
//!   the share of texts with at least 90 % of their words back;
//! * `--keep FILE` (plain lines or `.jsonl` with `"text"`; text whose Latin words must stay
//!   Latin: English, or Cyrillic posts with links, brands and English quotes): the share of
//!   lines on which any all-Latin word of two or more letters was converted, and of such words.
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin translit_eval -- --pairs pairs.jsonl \
//!     --keep english.txt [--show 20]
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use verbovka_lab::data::load_background_file;

const USAGE: &str = "usage: translit_eval [--pairs FILE.jsonl]... [--keep FILE]... [--show N]

--pairs: JSON lines {\"latin\", \"cyrillic\"}: recovery of the Cyrillic words from the Latin.
--keep:  text whose Latin words must stay Latin: share of lines and words converted.
--show N: print up to N failures of each kind.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("translit_eval: {e}");
            ExitCode::from(2)
        }
    }
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// How many words of `want` are in `got`, counted as multisets.
fn common(want: &[String], got: &[String]) -> usize {
    let mut bag: HashMap<&str, usize> = HashMap::new();
    for w in got {
        *bag.entry(w.as_str()).or_default() += 1;
    }
    want.iter()
        .filter(|w| {
            bag.get_mut(w.as_str())
                .filter(|n| **n > 0)
                .map(|n| *n -= 1)
                .is_some()
        })
        .count()
}

fn latin_words(s: &str) -> Vec<String> {
    words(s)
        .into_iter()
        .filter(|w| w.len() >= 2 && w.bytes().all(|b| b.is_ascii_lowercase()))
        // Runs of three letters are squeezed by an earlier step (`www` → `w`), not converted.
        .filter(|w| {
            !w.as_bytes()
                .windows(3)
                .any(|t| t[0] == t[1] && t[1] == t[2])
        })
        .collect()
}

fn run() -> Result<(), String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_env();
    let (mut pairs, mut keep, mut show) = (Vec::<PathBuf>::new(), Vec::<PathBuf>::new(), 0usize);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("pairs") => pairs.push(p.value().map_err(|e| e.to_string())?.into()),
            Long("keep") => keep.push(p.value().map_err(|e| e.to_string())?.into()),
            Long("show") => {
                show = p
                    .value()
                    .map_err(|e| e.to_string())?
                    .parse()
                    .map_err(|e| format!("--show: {e}"))?
            }
            Long("help") | Short('h') => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("{} (try --help)", other.unexpected())),
        }
    }
    if pairs.is_empty() && keep.is_empty() {
        return Err("nothing to measure: give --pairs or --keep (try --help)".into());
    }
    for path in &pairs {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (mut texts, mut good, mut found, mut total, mut shown) = (0, 0, 0usize, 0usize, 0);
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            let (Some(lat), Some(cyr)) = (v["latin"].as_str(), v["cyrillic"].as_str()) else {
                return Err(format!(
                    "{}:{}: needs \"latin\" and \"cyrillic\"",
                    path.display(),
                    i + 1
                ));
            };
            let want = words(verbovka::normalize(cyr).as_str());
            let got = verbovka::normalize(lat).into_string();
            let hit = common(&want, &words(&got));
            texts += 1;
            found += hit;
            total += want.len();
            if want.is_empty() || hit * 10 >= want.len() * 9 {
                good += 1;
            } else if shown < show {
                shown += 1;
                println!("  miss: {lat}\n     → {got}");
            }
        }
        println!(
            "{}: {} texts, words recovered {:.1} % ({} / {}), texts with ≥ 90 % of words {:.1} %",
            path.display(),
            texts,
            100.0 * found as f64 / total.max(1) as f64,
            found,
            total,
            100.0 * good as f64 / texts.max(1) as f64
        );
    }
    for path in &keep {
        let lines = load_background_file(path).map_err(|e| e.to_string())?;
        let (mut changed, mut with_latin, mut lw, mut lw_conv, mut shown) =
            (0, 0, 0usize, 0usize, 0);
        for ex in &lines {
            let before = latin_words(&ex.text.to_lowercase());
            if before.is_empty() {
                continue;
            }
            with_latin += 1;
            let norm = verbovka::normalize(&ex.text);
            let conv = before.len() - common(&before, &latin_words(norm.as_str()));
            lw += before.len();
            lw_conv += conv;
            if conv > 0 {
                changed += 1;
                if shown < show {
                    shown += 1;
                    println!("  converted: {}\n          → {}", ex.text, norm.as_str());
                }
            }
        }
        println!(
            "{}: {} lines, {} with Latin words; lines with a word converted {:.2} % ({}), Latin words converted {:.2} % ({} / {})",
            path.display(),
            lines.len(),
            with_latin,
            100.0 * changed as f64 / with_latin.max(1) as f64,
            changed,
            100.0 * lw_conv as f64 / lw.max(1) as f64,
            lw_conv,
            lw
        );
    }
    Ok(())
}
