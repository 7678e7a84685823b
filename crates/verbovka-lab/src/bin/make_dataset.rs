//! Builds the labelled dataset from hand-written seeds and real background text.
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin make_dataset -- \
//!     --seeds crates/verbovka-lab/data/seeds --corpora ../shared/corpora \
//!     --out crates/verbovka-lab/data/generated [--seed 42] \
//!     [--positives-per-category 6500] [--hard-negatives 9000] [--background 50000]
//! ```
//!
//! `--seeds` and `--out` default to the lab's `data/seeds` and `data/generated`; without
//! `--corpora` there is no background. Writes into `--out`: `train.jsonl` (everything),
//! `dev.jsonl` and `test.jsonl` (seeds and their variants: our own text, committed) and
//! `dev_background.jsonl`, `test_background.jsonl` (real corpus lines, never committed);
//! prints counts per split, label and tag. See the lab's `data/README.md` for the datasheet
//! and the exact command behind the committed splits.

use std::path::PathBuf;
use std::process::ExitCode;
use verbovka_lab::data::{build_dataset, load_seeds, BuildConfig};

struct Args {
    seeds: PathBuf,
    corpora: Option<PathBuf>,
    out: PathBuf,
    cfg: BuildConfig,
}

fn parse_args() -> Result<Args, String> {
    let mut seeds = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/seeds"));
    let mut corpora = None;
    let mut out = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/generated"));
    let mut cfg = BuildConfig::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let num = |s: String, name: &str| s.parse::<usize>().map_err(|e| format!("{name}: {e}"));
        match a.as_str() {
            "--seeds" => seeds = value("--seeds")?.into(),
            "--corpora" => corpora = Some(value("--corpora")?.into()),
            "--no-background" => corpora = None,
            "--out" => out = value("--out")?.into(),
            "--seed" => {
                cfg.generator.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--positives-per-category" => {
                cfg.generator.positives_per_category = num(value(&a)?, &a)?
            }
            "--hard-negatives" => cfg.generator.hard_negatives = num(value(&a)?, &a)?,
            "--background" => cfg.background = num(value(&a)?, &a)?,
            "-h" | "--help" => {
                return Err(
                    "usage: make_dataset [--seeds DIR] [--corpora DIR | --no-background] \
                     [--out DIR] [--seed N] [--positives-per-category N] [--hard-negatives N] \
                     [--background N]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(Args {
        seeds,
        corpora,
        out,
        cfg,
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let started = std::time::Instant::now();
    let seeds = load_seeds(&args.seeds).map_err(|e| e.to_string())?;
    eprintln!("{} seeds from {}", seeds.len(), args.seeds.display());
    let ds =
        build_dataset(&seeds, args.corpora.as_deref(), &args.cfg).map_err(|e| e.to_string())?;
    for w in &ds.warnings {
        eprintln!("warning: {w}");
    }
    let paths = ds.write(&args.out).map_err(|e| e.to_string())?;
    println!("{}", ds.stats());
    for p in paths {
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        println!("wrote {} ({:.2} MB)", p.display(), size as f64 / 1e6);
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("make_dataset: {e}");
            ExitCode::FAILURE
        }
    }
}
