//! Scores a labelled JSONL file with the detector and prints the evaluation report.
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin evaluate -- crates/verbovka-lab/data/generated/test.jsonl \
//!     --background crates/verbovka-lab/data/generated/test_background.jsonl [--json] \
//!     [--rules-only | --model DIR] [--errors OUT.jsonl]
//! ```
//!
//! Input lines: `text`, `label`, optional `tags` (`hard`, `obfuscated`, ...). `--background`
//! files (repeatable) are benign text, JSONL (`text`) or one post per line, tagged
//! `background`. Without `--model`/`--rules-only` the default detector (embedded model if
//! built with one) is used. `--json` prints the report as JSON. `--errors OUT.jsonl` writes every
//! misclassified example (text, gold and predicted label, scores, tags) for a look at what
//! goes wrong — on dev, not on test, if the look may lead to changes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use verbovka::{Detector, Error};
use verbovka_lab::data::{load_background_file, load_jsonl, Example};
use verbovka_lab::eval::Report;

enum Which {
    Default,
    RulesOnly,
    Model(PathBuf),
}

struct Args {
    file: PathBuf,
    background: Vec<PathBuf>,
    json: bool,
    which: Which,
    errors: Option<PathBuf>,
    rules: Option<PathBuf>,
    windows: verbovka::model::Windows,
}

const USAGE: &str =
    "usage: evaluate FILE.jsonl [--background FILE ...] [--json] [--rules-only | --model DIR] \
     [--rules RULES.toml] [--errors OUT.jsonl] [--windows stride|sentences (with --model)]";

fn parse_args() -> Result<Args, String> {
    let mut file = None;
    let mut background = Vec::new();
    let mut json = false;
    let mut which = Which::Default;
    let mut errors = None;
    let mut rules = None;
    let mut windows = verbovka::model::Windows::Stride;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--background" => background.push(it.next().ok_or("--background needs a file")?.into()),
            "--json" => json = true,
            "--errors" => errors = Some(it.next().ok_or("--errors needs a file")?.into()),
            "--rules-only" => which = Which::RulesOnly,
            "--rules" => rules = Some(it.next().ok_or("--rules needs a file")?.into()),
            "--model" => which = Which::Model(it.next().ok_or("--model needs a directory")?.into()),
            "--windows" => {
                windows = verbovka_lab::parse_windows(
                    &it.next().ok_or("--windows needs stride or sentences")?,
                )?
            }
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option `{s}`\n{USAGE}")),
            _ if file.is_none() => file = Some(PathBuf::from(a)),
            _ => return Err(format!("one input file only\n{USAGE}")),
        }
    }
    let file = file.ok_or(USAGE)?;
    Ok(Args {
        file,
        background,
        json,
        which,
        errors,
        rules,
        windows,
    })
}

/// The detector to measure; `rules` replaces the embedded rule file (to compare settings).
fn detector(
    which: &Which,
    rules: Option<&Path>,
    windows: verbovka::model::Windows,
) -> Result<Detector, Error> {
    let mut b = Detector::builder();
    if let Some(path) = rules {
        let spec = verbovka::RuleSpec::from_path(path)?;
        b = b.rules(verbovka::RuleSet::compile(&spec)?);
    }
    match which {
        Which::Default => b.build(),
        Which::RulesOnly => b.classifier(None).build(),
        Which::Model(dir) => b
            .classifier(Some(verbovka_lab::load_model(dir, windows)?))
            .build(),
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mut examples: Vec<Example> = load_jsonl(&args.file).map_err(|e| e.to_string())?;
    for b in &args.background {
        examples.extend(load_background_file(b).map_err(|e| e.to_string())?);
    }
    let detector =
        detector(&args.which, args.rules.as_deref(), args.windows).map_err(|e| e.to_string())?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let started = Instant::now();
    let verdicts = detector.score_batch(&texts);
    let secs = started.elapsed().as_secs_f64();
    let records = verbovka_lab::eval::records(&examples, &verdicts);
    if let Some(path) = &args.errors {
        write_errors(path, &examples, &verdicts)?;
    }
    let report = Report::compute(&records);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        println!("{report}");
    }
    eprintln!(
        "{} texts in {:.2} s ({:.0} posts/s), model: {}",
        texts.len(),
        secs,
        texts.len() as f64 / secs.max(1e-9),
        if detector.has_model() {
            "yes"
        } else {
            "no (rules only)"
        }
    );
    Ok(())
}

/// Writes the misclassified examples as JSON Lines.
fn write_errors(
    path: &std::path::Path,
    examples: &[Example],
    verdicts: &[verbovka::Verdict],
) -> Result<(), String> {
    use std::io::Write;
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(fail)?);
    for (e, v) in examples.iter().zip(verdicts) {
        if e.label != v.label {
            let line = serde_json::json!({
                "text": e.text, "gold": e.label, "predicted": v.label, "risk": v.risk,
                "scores": v.scores, "model": v.model, "tags": e.tags,
            });
            writeln!(out, "{line}").map_err(fail)?;
        }
    }
    out.flush().map_err(fail)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evaluate: {e}");
            ExitCode::FAILURE
        }
    }
}
