//! Fits the fusion of a model with the rules on the DEV split and writes
//! `DIR/calibration.json` (the rule weight and per-category thresholds the detector uses
//! with that model). Never run it on the test split.
//!
//! By default it maximises dev binary F1 (flagged or not: what a moderator acts on; macro F1
//! breaks ties) with at most 4 % of dev hard negatives and 0.15 % of dev background flagged;
//! `--objective macro` maximises macro F1 instead (the default until 2026-11-25).
//!
//! ```text
//! cargo run --release --example calibrate -- --model models/default \
//!     --dev models/data/generated/dev.jsonl --background models/data/generated/dev_background.jsonl
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use verbovka::data::{load_background_file, load_jsonl};
use verbovka::normalize;
use verbovka::rules::RuleSet;
use verbovka::scoring::{
    analyse, fit_calibration, CalibrationItem, CalibrationObjective, CalibrationTargets,
};

const USAGE: &str = "usage: calibrate --model DIR --dev FILE.jsonl [--background FILE ...] [--max-hard-fpr X] [--max-background-fpr X] [--objective macro|binary|mean]";

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
    let (mut model_dir, mut dev, mut background) = (None, None, Vec::new());
    let mut targets = CalibrationTargets {
        objective: CalibrationObjective::BinaryF1,
        max_hard_fpr: 0.04,
        max_background_fpr: 0.0015,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--model" => model_dir = Some(PathBuf::from(val()?)),
            "--dev" => dev = Some(PathBuf::from(val()?)),
            "--background" => background.push(PathBuf::from(val()?)),
            "--max-hard-fpr" => targets.max_hard_fpr = val()?.parse()?,
            "--max-background-fpr" => targets.max_background_fpr = val()?.parse()?,
            "--objective" => {
                targets.objective = match val()?.as_str() {
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
            _ => return Err(USAGE.into()),
        }
    }
    let (model_dir, dev) = (model_dir.ok_or(USAGE)?, dev.ok_or(USAGE)?);
    if dev.to_string_lossy().contains("test") {
        return Err("refusing to calibrate on a test split".into());
    }
    let model = verbovka::model::load_dir(&model_dir)?;
    let rules = RuleSet::embedded()?;
    let mut examples = load_jsonl(&dev)?;
    for b in &background {
        examples.extend(load_background_file(b)?);
    }
    eprintln!("scoring {} dev examples", examples.len());
    let normalized: Vec<String> = examples
        .iter()
        .map(|e| normalize(&e.text).into_string())
        .collect();
    let mut items = Vec::with_capacity(examples.len());
    for (chunk_ex, chunk_norm) in examples.chunks(256).zip(normalized.chunks(256)) {
        let texts: Vec<&str> = chunk_norm.iter().map(String::as_str).collect();
        let out = model.predict(&texts)?;
        for ((ex, norm), o) in chunk_ex.iter().zip(chunk_norm).zip(out) {
            items.push(CalibrationItem {
                gold: ex.label,
                logits: o.logits,
                evidence: analyse(&rules, norm).evidence,
                hard: ex.has_tag("hard"),
            });
        }
    }
    let fit = fit_calibration(&items, targets);
    eprintln!(
        "rule weight {:.2}, thresholds {:?}: dev macro F1 {:.3}, binary F1 {:.3}, hard FPR {:.3}, background FPR {:.4}",
        fit.calibration.fusion.rule_scale, fit.calibration.thresholds.0, fit.macro_f1, fit.binary_f1, fit.hard_fpr, fit.background_fpr
    );
    let path = model_dir.join("calibration.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&fit.calibration)? + "\n",
    )?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
