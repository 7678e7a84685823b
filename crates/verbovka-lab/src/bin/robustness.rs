//! Recall under padding: how many positives of a labelled split stay flagged when something is
//! put in front of them (200 `!`, one benign post of the same split, a long benign preamble of
//! several posts) or after them, and how many hard negatives get flagged the same way (benign
//! + benign). The evasion the model's window invites (issue 11: "the whole post is read").
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin robustness -- crates/verbovka-lab/data/generated/test.jsonl
//! ```
//!
//! The benign posts put around a text are ordinary benign text, never hard negatives (a
//! preamble of news and warnings is a text with many chances to be flagged of its own): the
//! real messages of `--background FILE` (e.g. the split's `test_background.jsonl`) when given,
//! else the split's benign items without the `hard` tag; deterministic by position, so a run
//! measures the shipped detector (`Detector::new()`, or `--model DIR`) on one fixed set. The
//! report says how often the padding alone is flagged.

use std::path::PathBuf;
use std::process::ExitCode;

use verbovka::{Detector, Label};
use verbovka_lab::data::{load_background_file, load_jsonl, Example};

const USAGE: &str = "usage: robustness FILE.jsonl [--model DIR [--windows stride|sentences]] [--background FILE.jsonl]

Prints, for the positives of FILE, the share flagged plain and with 200 `!`, one benign post, a
long benign preamble (about 1,500 characters) in front, and one benign post after; and for its
hard negatives the share flagged plain and with the same benign text around them.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("robustness: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let (mut file, mut model) = (None::<PathBuf>, None::<PathBuf>);
    let mut background = None::<PathBuf>;
    let mut windows = verbovka::model::Windows::Stride;
    let mut args = lexopt::Parser::from_env();
    while let Some(arg) = args.next()? {
        match arg {
            Long("model") => model = Some(args.value()?.into()),
            Long("windows") => windows = verbovka_lab::parse_windows(&args.value()?.string()?)?,
            Long("background") => background = Some(args.value()?.into()),
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(());
            }
            Value(v) if file.is_none() => file = Some(v.into()),
            other => return Err(format!("{}\n{USAGE}", other.unexpected()).into()),
        }
    }
    let file = file.ok_or(USAGE)?;
    let detector = match model {
        Some(dir) => Detector::builder()
            .classifier(Some(verbovka_lab::load_model(&dir, windows)?))
            .build()?,
        None => Detector::new()?,
    };
    let examples = load_jsonl(&file)?;
    let padding: Vec<Example> = match &background {
        Some(path) => load_background_file(path)?
            .into_iter()
            .filter(|e| !e.has_tag("short"))
            .collect(),
        None => examples
            .iter()
            .filter(|e| e.label == Label::Benign && !e.has_tag("hard"))
            .cloned()
            .collect(),
    };
    let benign: Vec<&str> = padding.iter().map(|e| e.text.as_str()).collect();
    if benign.is_empty() {
        return Err(format!(
            "{}: no benign texts to pad with (no benign item without the `hard` tag; give --background)",
            background.as_ref().unwrap_or(&file).display()
        )
        .into());
    }
    println!(
        "padding: {} benign texts from {}",
        benign.len(),
        background.as_ref().unwrap_or(&file).display()
    );
    let one = |i: usize| benign[i.wrapping_mul(7919) % benign.len()];
    let preamble = |i: usize| {
        let mut s = String::new();
        let mut k = i;
        while s.chars().count() < 1500 {
            s.push_str(one(k));
            s.push('\n');
            k += 1;
        }
        s
    };
    type Variant = (
        &'static str,
        fn(&str, usize, &dyn Fn(usize) -> String) -> String,
    );
    let variants: [Variant; 5] = [
        ("plain", |t, _, _| t.to_string()),
        ("200 `!` in front", |t, _, _| {
            format!("{} {t}", "!".repeat(200))
        }),
        ("a benign post in front", |t, i, pre| {
            format!("{}\n{t}", pre(i).lines().next().unwrap_or(""))
        }),
        ("a long preamble in front", |t, i, pre| {
            format!("{}{t}", pre(i))
        }),
        ("a benign post after", |t, i, pre| {
            format!("{t}\n{}", pre(i).lines().next().unwrap_or(""))
        }),
    ];
    let pre = |i: usize| preamble(i);
    let alone: Vec<String> = (0..1000).map(pre).collect();
    let flagged = detector
        .score_batch(&alone)
        .iter()
        .filter(|v| v.is_flagged())
        .count();
    println!("the long preamble alone: flagged {flagged} / 1000");
    for (name, positive) in [("positives", true), ("hard negatives", false)] {
        let items: Vec<&str> = examples
            .iter()
            .filter(|e| {
                if positive {
                    e.label != Label::Benign
                } else {
                    e.label == Label::Benign && e.has_tag("hard")
                }
            })
            .map(|e| e.text.as_str())
            .collect();
        println!("{name}: {}", items.len());
        for (label, make) in &variants {
            let texts: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, t)| make(t, i, &pre))
                .collect();
            let flagged = detector
                .score_batch(&texts)
                .iter()
                .filter(|v| v.is_flagged())
                .count();
            println!(
                "  {label:<26} flagged {flagged:>5} / {} = {:.1} %",
                texts.len(),
                100.0 * flagged as f64 / texts.len().max(1) as f64
            );
        }
    }
    Ok(())
}
