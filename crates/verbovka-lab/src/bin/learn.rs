//! Folds a moderator's corrections into a model: fine-tunes every member from its weights on
//! the corrections mixed with the original training data, recalibrates on dev, writes a new
//! model directory, and prints before/after figures on the test split, on the corrections'
//! own held-out part and on any `--eval` file (see `verbovka_lab::finetune`).
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin learn -- --model crates/verbovka/models/default \
//!     --corrections reviewed.csv --out my-model
//! # then: verbovka::model::load_dir("my-model"), or score_export --model my-model
//! ```
//!
//! Corrections: `.jsonl` or `.csv`, either `{text, label}` records or what `score_export`
//! wrote with a `correct_label` (benign, sabotage, reconnaissance, lure) or `verdict`
//! (right, wrong) added; unreviewed records are counted and left out. `--data DIR` holds
//! `train.jsonl` (rehearsal), `dev.jsonl` and `dev_background.jsonl` (calibration), and
//! `test.jsonl` with `test_background.jsonl` (the before/after figures); it defaults to the
//! lab's generated splits (`make_dataset` writes the train and background files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use verbovka::model::Windows;
use verbovka::Detector;
use verbovka_lab::calibrate::{calibrate_model, CalibrationTargets};
use verbovka_lab::data::{load_background_file, load_jsonl, Example};
use verbovka_lab::eval::{records, Report};
use verbovka_lab::finetune::{
    default_out, finetune_dir, read_corrections, split_holdout, FinetuneOptions,
};
use verbovka_lab::train::{self, read_examples};

const USAGE: &str = "usage: learn --model DIR --corrections FILE [--corrections FILE ...] [--out DIR] \
[--data DIR] [--holdout SHARE] [--eval FILE ...] [--steps N] [--lr X] [--share X] [--context X] [--focus] [--seed N] [--workers N]

  --holdout SHARE  share of the corrections kept out of learning and measured (default 0.2; 0 for none)
  --eval FILE      a labelled JSONL file measured before and after (repeatable)
  --steps N        optimisation steps per member (default 200), --share X corrections per batch (0.25)
  --focus          calibrate reading focus parts (calibrate --focus)
  --context X      share of examples read inside real background text (default 0; FinetuneOptions::context_share)";

fn main() -> ExitCode {
    for var in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, "1");
        }
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("learn: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    model: PathBuf,
    corrections: Vec<PathBuf>,
    out: Option<PathBuf>,
    data: PathBuf,
    holdout: f64,
    eval: Vec<PathBuf>,
    opts: FinetuneOptions,
    focus: bool,
}

fn parse_args() -> Result<Option<Args>, Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let mut a = Args {
        model: PathBuf::new(),
        corrections: Vec::new(),
        out: None,
        data: PathBuf::from("crates/verbovka-lab/data/generated"),
        holdout: 0.2,
        eval: Vec::new(),
        opts: FinetuneOptions::default(),
        focus: false,
    };
    let mut model = None;
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("model") => model = Some(PathBuf::from(p.value()?)),
            Long("corrections") => a.corrections.push(PathBuf::from(p.value()?)),
            Long("out") => a.out = Some(PathBuf::from(p.value()?)),
            Long("data") => a.data = PathBuf::from(p.value()?),
            Long("holdout") => a.holdout = p.value()?.parse()?,
            Long("eval") => a.eval.push(PathBuf::from(p.value()?)),
            Long("steps") => a.opts.steps = p.value()?.parse()?,
            Long("lr") => a.opts.learning_rate = p.value()?.parse()?,
            Long("share") => a.opts.correction_share = p.value()?.parse()?,
            Long("focus") => a.focus = true,
            Long("context") => a.opts.context_share = p.value()?.parse()?,
            Long("seed") => a.opts.seed = p.value()?.parse()?,
            Long("workers") => a.opts.workers = p.value()?.parse()?,
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected()).into()),
        }
    }
    a.model = model.ok_or(USAGE)?;
    if a.corrections.is_empty() {
        return Err(format!("--corrections is required\n{USAGE}").into());
    }
    if !(0.0..1.0).contains(&a.holdout) {
        return Err(format!("--holdout must be in [0, 1), got {}", a.holdout).into());
    }
    Ok(Some(a))
}

/// One evaluation set: its name and examples.
struct EvalSet {
    name: String,
    examples: Vec<Example>,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    let started = Instant::now();
    let mut corrections = Vec::new();
    for path in &args.corrections {
        let c = read_corrections(path)?;
        eprintln!(
            "{}: {} corrections, {} unreviewed records left out",
            path.display(),
            c.examples.len(),
            c.unreviewed.len()
        );
        corrections.extend(c.examples);
    }
    let (learn, held) = if args.holdout > 0.0 && corrections.len() >= 10 {
        split_holdout(corrections, args.holdout)
    } else {
        (corrections, Vec::new())
    };
    eprintln!(
        "learning from {} corrections, {} held out",
        learn.len(),
        held.len()
    );
    let originals = read_examples(&args.data.join("train.jsonl"))?;
    let mut sets = Vec::new();
    let test = args.data.join("test.jsonl");
    if test.exists() {
        let mut examples = load_jsonl(&test)?;
        let bg = args.data.join("test_background.jsonl");
        if bg.exists() {
            examples.extend(load_background_file(&bg)?);
        }
        sets.push(EvalSet {
            name: "test split".into(),
            examples,
        });
    }
    if !held.is_empty() {
        sets.push(EvalSet {
            name: "held-out corrections".into(),
            examples: held.iter().map(as_data_example).collect(),
        });
    }
    for path in &args.eval {
        sets.push(EvalSet {
            name: path.display().to_string(),
            examples: load_jsonl(path)?,
        });
    }

    // Training runs candle single-threaded on each worker thread (RAYON_NUM_THREADS=1 above,
    // as `train` does); scoring and calibration get their own pool of `workers` threads.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.opts.workers)
        .build()?;
    let before = pool.install(|| measure(&args.model, &sets))?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.model));
    let note = format!(
        "Corrections from {} ({} learned, {} held out), by `learn` on {}.",
        args.corrections
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect::<Vec<_>>()
            .join(", "),
        learn.len(),
        held.len(),
        verbovka_lab::card::today_utc()
    );
    let t = Instant::now();
    let reports = finetune_dir(&args.model, &out, &learn, &originals, &args.opts, &note)?;
    for r in &reports {
        eprintln!(
            "member {}: loss on corrections {:.4} → {:.4}, on rehearsal {:.4} → {:.4} ({:.0} s)",
            r.name,
            r.corrections_loss.0,
            r.corrections_loss.1,
            r.rehearsal_loss.0,
            r.rehearsal_loss.1,
            r.seconds
        );
    }
    let tuned = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let dev = args.data.join("dev.jsonl");
    let dev_bg: Vec<PathBuf> = [args.data.join("dev_background.jsonl")]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    let fit = pool.install(|| {
        calibrate_model(
            &out,
            &dev,
            &dev_bg,
            CalibrationTargets::default(),
            Windows::Stride,
            args.focus,
        )
        .map_err(|e| e.to_string())
    })?;
    eprintln!(
        "recalibrated on {}: {}, thresholds {:?} (dev binary F1 {:.3}, hard FPR {:.3})",
        dev.display(),
        fit.form,
        fit.calibration.thresholds.0 .0,
        fit.binary_f1,
        fit.hard_fpr
    );
    let calibrated = t.elapsed().as_secs_f64();
    let after = pool.install(|| measure(&out, &sets))?;

    println!("| set | n | figure | before | after |");
    println!("|---|---:|---|---:|---:|");
    for ((set, b), a) in sets.iter().zip(&before).zip(&after) {
        for (figure, fb, fa) in figures(b)
            .into_iter()
            .zip(figures(a))
            .map(|(x, y)| (x.0, x.1, y.1))
        {
            println!(
                "| {} | {} | {figure} | {fb} | {fa} |",
                set.name,
                set.examples.len()
            );
        }
    }
    eprintln!(
        "wrote {} in {:.0} s (fine-tuning {:.0} s, calibration {:.0} s)",
        out.display(),
        started.elapsed().as_secs_f64(),
        tuned,
        calibrated
    );
    Ok(())
}

fn as_data_example(e: &train::Example) -> Example {
    Example {
        text: e.text.clone(),
        label: e.label,
        family: e
            .family
            .as_ref()
            .and_then(|f| f.as_str().map(str::to_string))
            .unwrap_or_default(),
        tags: e.tags.clone(),
        lang: verbovka_lab::data::guess_lang(&e.text),
    }
}

fn measure(model: &Path, sets: &[EvalSet]) -> verbovka::Result<Vec<Report>> {
    let detector = Detector::builder()
        .classifier(Some(verbovka_lab::load_model(model, Windows::Stride)?))
        .build()?;
    Ok(sets
        .iter()
        .map(|s| {
            let texts: Vec<&str> = s.examples.iter().map(|e| e.text.as_str()).collect();
            let verdicts = detector.score_batch(&texts);
            Report::compute(&records(&s.examples, &verdicts))
        })
        .collect())
}

/// The figures worth a line: F1 and rates where the set has what they need.
fn figures(r: &Report) -> Vec<(&'static str, String)> {
    let pct = |x: f64| format!("{:.2} %", 100.0 * x);
    let rate = |c: usize, n: usize| format!("{} ({c}/{n})", pct(c as f64 / n.max(1) as f64));
    let b = &r.binary;
    let positives = b.tp + b.fn_;
    let benign = b.fp + b.tn;
    let mut out = Vec::new();
    if positives > 0 {
        out.push(("recall (flagged)", rate(b.tp, positives)));
    }
    if positives > 0 && benign > 0 {
        out.push(("binary F1", format!("{:.4}", b.f1)));
        out.push(("macro F1", format!("{:.4}", r.macro_f1)));
    }
    if r.hard_negative_fpr.total > 0 {
        out.push((
            "hard-negative FPR",
            rate(r.hard_negative_fpr.count, r.hard_negative_fpr.total),
        ));
    }
    if r.background_fpr.total > 0 {
        out.push((
            "background FPR",
            rate(r.background_fpr.count, r.background_fpr.total),
        ));
    }
    if benign > 0 && r.hard_negative_fpr.total == 0 {
        out.push(("benign flagged", rate(b.fp, benign)));
    }
    let correct = (r.accuracy * r.n as f64).round() as usize;
    out.push(("exact label", rate(correct, r.n)));
    out
}
