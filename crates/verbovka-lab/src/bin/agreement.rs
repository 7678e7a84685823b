//! Scores the same texts with two model directories (each fused with the embedded rules and
//! its own `calibration.json`, exactly as `Detector::builder().classifier(..)` builds it) and
//! prints how far the verdicts agree: number of texts, label agreement, flagged/not-flagged
//! agreement, the largest and the median absolute change of each category's fused score, and
//! the texts whose labels differ. Made to check that a converted model (`compact`: f32 → f16)
//! behaves as the original.
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin agreement -- --a /tmp/f32 \
//!     --b crates/verbovka/models/default crates/verbovka-lab/data/generated/test.jsonl
//! cargo run --release -p verbovka-lab --bin agreement -- --a /tmp/f32 \
//!     --b crates/verbovka/models/default ../shared/heldout/*.txt ../shared/heldout/*.jsonl
//! ```
//!
//! Inputs are read as the lab reads background files (`data::load_background_file`): `.jsonl`
//! files (each non-empty line a JSON object with a `text` field; `label`, `family` and `lang`
//! checked when present) and plain text files (each non-empty line, trimmed, one text). Figures
//! are printed per file and for all files together; the differing texts are listed over all
//! files by their family (`file:line` for a text that has none).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use verbovka::{Detector, Verdict};
use verbovka_lab::data::load_background_file;

const USAGE: &str = "usage: agreement --a MODEL_DIR --b MODEL_DIR [--show N] FILE...

Scores every text of FILE... (.jsonl: the `text` field of each line; other files: one text per
non-empty line) with the detector built on model A and on model B (each with its own
calibration.json) and prints label agreement, flagged agreement, and the max and median absolute
change (B - A) of each category's fused score, per file and for all files; then the first N
(default 20) texts whose labels differ.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agreement: {e}");
            ExitCode::from(2)
        }
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn run() -> Res<()> {
    use lexopt::prelude::*;
    let (mut a, mut b, mut show, mut files) = (None::<PathBuf>, None::<PathBuf>, 20, Vec::new());
    let mut args = lexopt::Parser::from_env();
    while let Some(arg) = args.next()? {
        match arg {
            Long("a") => a = Some(args.value()?.into()),
            Long("b") => b = Some(args.value()?.into()),
            Long("show") => show = args.value()?.parse()?,
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(());
            }
            Value(v) => files.push(PathBuf::from(v)),
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected()).into()),
        }
    }
    let (a, b) = (a.ok_or(USAGE)?, b.ok_or(USAGE)?);
    if files.is_empty() {
        return Err(format!("no input files\n{USAGE}").into());
    }
    let detector = |dir: &Path| -> Res<Detector> {
        let model =
            verbovka::model::load_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Detector::builder().classifier(Some(model)).build()?)
    };
    let (da, db) = (detector(&a)?, detector(&b)?);
    println!("A: {}\nB: {}", a.display(), b.display());
    if da.thresholds() != db.thresholds() {
        println!(
            "note: the thresholds differ (A {:?}, B {:?})",
            da.thresholds(),
            db.thresholds()
        );
    }

    let mut all_texts = Vec::new();
    let mut all_pairs = Vec::new();
    let mut rows = Vec::new();
    for file in &files {
        let texts = load_background_file(file)?;
        let raw: Vec<&str> = texts.iter().map(|t| t.text.as_str()).collect();
        let (va, vb) = (da.score_batch(&raw), db.score_batch(&raw));
        for (v, name) in [(&va, "A"), (&vb, "B")] {
            if let Some(e) = v.iter().find_map(|v| v.model_error.as_ref()) {
                return Err(format!("{}: model {name} failed: {e}", file.display()).into());
            }
        }
        let pairs: Vec<(Verdict, Verdict)> = va.into_iter().zip(vb).collect();
        rows.push((file.display().to_string(), summary(&pairs)));
        all_texts.extend(texts);
        all_pairs.extend(pairs);
    }
    if files.len() > 1 {
        rows.push(("all".to_string(), summary(&all_pairs)));
    }
    print_table(&rows);

    let differ: Vec<usize> = (0..all_pairs.len())
        .filter(|&i| all_pairs[i].0.label != all_pairs[i].1.label)
        .collect();
    println!(
        "\ntexts whose labels differ: {}{}",
        differ.len(),
        if differ.len() > show {
            format!(" (first {show})")
        } else {
            String::new()
        }
    );
    for &i in differ.iter().take(show) {
        let (va, vb) = &all_pairs[i];
        println!(
            "  {}: {} {} -> {} {}  {}",
            all_texts[i].family,
            va.label,
            fmt_scores(va),
            vb.label,
            fmt_scores(vb),
            excerpt(&all_texts[i].text, 140)
        );
    }
    Ok(())
}

/// Agreement figures of a set of (A, B) verdict pairs.
struct Summary {
    n: usize,
    labels_agree: usize,
    flagged_agree: usize,
    /// Per category (sabotage, reconnaissance, lure): max and median of |B - A|.
    max: [f64; 3],
    median: [f64; 3],
}

fn summary(pairs: &[(Verdict, Verdict)]) -> Summary {
    let mut max = [0.0; 3];
    let mut median = [0.0; 3];
    for (c, (mx, md)) in max.iter_mut().zip(&mut median).enumerate() {
        let mut d: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| (f64::from(scores(b)[c]) - f64::from(scores(a)[c])).abs())
            .collect();
        d.sort_by(f64::total_cmp);
        *mx = d.last().copied().unwrap_or(0.0);
        *md = median_of_sorted(&d);
    }
    Summary {
        n: pairs.len(),
        labels_agree: pairs.iter().filter(|(a, b)| a.label == b.label).count(),
        flagged_agree: pairs
            .iter()
            .filter(|(a, b)| a.is_flagged() == b.is_flagged())
            .count(),
        max,
        median,
    }
}

fn median_of_sorted(d: &[f64]) -> f64 {
    match d.len() {
        0 => 0.0,
        n if n % 2 == 1 => d[n / 2],
        n => (d[n / 2 - 1] + d[n / 2]) / 2.0,
    }
}

fn print_table(rows: &[(String, Summary)]) {
    let pct = |k: usize, n: usize| {
        if n == 0 {
            100.0
        } else {
            100.0 * k as f64 / n as f64
        }
    };
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    println!(
        "\n{:<width$}  {:>6}  {:>18}  {:>18}  {:>29}  {:>29}",
        "file",
        "texts",
        "labels agree",
        "flagged agree",
        "max |Δscore| sab / rec / lure",
        "median |Δscore| sab/rec/lure",
    );
    for (name, s) in rows {
        println!(
            "{:<width$}  {:>6}  {:>18}  {:>18}  {:>29}  {:>29}",
            name,
            s.n,
            format!("{} ({:.2} %)", s.labels_agree, pct(s.labels_agree, s.n)),
            format!("{} ({:.2} %)", s.flagged_agree, pct(s.flagged_agree, s.n)),
            format!("{:.1e} / {:.1e} / {:.1e}", s.max[0], s.max[1], s.max[2]),
            format!(
                "{:.1e} / {:.1e} / {:.1e}",
                s.median[0], s.median[1], s.median[2]
            ),
        );
    }
}

/// The fused scores in [`verbovka::Category::ALL`] order.
fn scores(v: &Verdict) -> [f32; 3] {
    let s = &v.scores;
    [s.sabotage, s.reconnaissance, s.lure]
}

fn fmt_scores(v: &Verdict) -> String {
    let s = scores(v);
    format!("({:.4} {:.4} {:.4})", s[0], s[1], s[2])
}

/// The first `n` characters of `text` on one line.
fn excerpt(text: &str, n: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle() {
        assert_eq!(median_of_sorted(&[]), 0.0);
        assert_eq!(median_of_sorted(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median_of_sorted(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    }

    #[test]
    fn excerpt_cuts_on_characters() {
        assert_eq!(excerpt("привіт\nсвіт", 20), "привіт світ");
        assert_eq!(excerpt("привіт світ", 3), "при…");
    }
}
