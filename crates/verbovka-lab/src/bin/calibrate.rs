//! Fits the fusion of a model with the rules on the DEV split and writes
//! `DIR/calibration.json` (the term weights and per-category thresholds the detector uses
//! with that model; see `verbovka_lab::calibrate::fit_calibration`). Never run it on the
//! test split.
//!
//! By default it maximises dev binary F1 (flagged or not: what a moderator acts on; macro F1
//! breaks ties) with at most 4 % of dev hard negatives and 0.15 % of dev background flagged;
//! `--objective macro` maximises macro F1 instead (the default until 2026-11-25).
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin calibrate -- --model crates/verbovka/models/default \
//!     --dev crates/verbovka-lab/data/generated/dev.jsonl \
//!     --background crates/verbovka-lab/data/generated/dev_background.jsonl
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use verbovka_lab::calibrate::{calibrate_model, CalibrationObjective, CalibrationTargets};

const USAGE: &str = "usage: calibrate --model DIR --dev FILE.jsonl [--background FILE ...] [--max-hard-fpr X] [--max-background-fpr X] [--max-telegram-fpr X] [--objective macro|binary|mean] [--windows stride|sentences] [--focus]

--focus: the detector also reads each post's focus parts (verbovka::scoring::focus_parts), and
the calibration says so (detectors built with it read them too).

Also writes the alarm-budget curve (operating_points: thresholds moved together, each with dev
background alarms per 10,000, dev recall and hard-negative rate) and prints it as a table.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("calibrate: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let (mut model_dir, mut dev, mut background) = (None, None, Vec::new());
    let mut targets = CalibrationTargets::default();
    let mut windows = verbovka::model::Windows::Stride;
    let mut focus = false;
    let mut args = lexopt::Parser::from_env();
    while let Some(arg) = args.next()? {
        match arg {
            Long("model") => model_dir = Some(PathBuf::from(args.value()?)),
            Long("windows") => windows = verbovka_lab::parse_windows(&args.value()?.string()?)?,
            Long("dev") => dev = Some(PathBuf::from(args.value()?)),
            Long("focus") => focus = true,
            Long("background") => background.push(PathBuf::from(args.value()?)),
            Long("max-hard-fpr") => targets.max_hard_fpr = args.value()?.parse()?,
            Long("max-background-fpr") => targets.max_background_fpr = args.value()?.parse()?,
            Long("max-telegram-fpr") => targets.max_telegram_fpr = args.value()?.parse()?,
            Long("objective") => {
                targets.objective = match args.value()?.string()?.as_str() {
                    "macro" => CalibrationObjective::MacroF1,
                    "binary" => CalibrationObjective::BinaryF1,
                    "mean" => CalibrationObjective::Mean,
                    other => {
                        return Err(
                            format!("--objective: unknown {other:?} (macro, binary, mean)").into(),
                        )
                    }
                }
            }
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected()).into()),
        }
    }
    let (model_dir, dev) = (model_dir.ok_or(USAGE)?, dev.ok_or(USAGE)?);
    eprintln!(
        "scoring {} and {} background file(s)",
        dev.display(),
        background.len()
    );
    let fit = calibrate_model(&model_dir, &dev, &background, targets, windows, focus)?;
    for (form, cv) in &fit.candidates {
        eprintln!("  {cv:.4}  {form}");
    }
    eprintln!(
        "{}, thresholds {:?}: dev macro F1 {:.3}, binary F1 {:.3}, hard FPR {:.3}, background FPR {:.4}, Telegram FPR {:.4}\nfusion {}",
        fit.form, fit.calibration.thresholds.0 .0, fit.macro_f1, fit.binary_f1, fit.hard_fpr, fit.background_fpr, fit.telegram_fpr,
        serde_json::to_string(&fit.calibration.fusion)?
    );
    println!("| alarms per 10,000 dev background | dev recall | dev hard-negative FPR | thresholds sab / rec / lure |");
    println!("|---:|---:|---:|---|");
    for p in &fit.calibration.operating_points {
        let t = p.thresholds.0 .0;
        println!(
            "| {:.1} | {:.1} % | {:.1} % | {:.3} / {:.3} / {:.3} |",
            p.alarms_per_10k,
            100.0 * p.recall,
            100.0 * p.hard_fpr,
            t[0],
            t[1],
            t[2]
        );
    }
    eprintln!(
        "wrote {}/calibration.json and alarm_curve.svg",
        model_dir.display()
    );
    Ok(())
}
