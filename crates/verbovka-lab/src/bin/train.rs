//! Trains models: tokenizer, optional masked-LM pretraining, classifier.
//!
//! ```sh
//! # the shipped ensemble (then run `calibrate` and `compact` on crates/verbovka/models/default)
//! cargo run --release -p verbovka-lab --bin train -- --data crates/verbovka-lab/data/generated \
//!     --corpora ../shared/corpora --epochs 2 --members 7,1234,42 --out crates/verbovka/models/default
//! # one model
//! cargo run --release -p verbovka-lab --bin train -- --data crates/verbovka-lab/data/generated \
//!     --corpora ../shared/corpora --epochs 2 --seed 7 --out crates/verbovka-lab/trained
//! ```
//! Defaults are the shipped members' settings (`--out` defaults to `crates/verbovka-lab/trained`). Other options: `--pretrain-steps N`, `--vocab N`,
//! `--d-model N`, `--layers N`, `--heads N`, `--ff N`, `--max-len N`,
//! `--activation relu|quick_gelu|gelu_erf|gelu`, `--pooling mean|attention`, `--bias`, `--batch N`, `--lr X`,
//! `--dropout X`, `--token-dropout X`, `--label-smoothing X`, `--weight-decay X`, `--ema DECAY`,
//! `--teacher DIR` (repeatable: distil from these models' mean prediction), `--distill-weight X`,
//! `--workers N`, `--patience N`, `--evals-per-epoch N`, `--corpus-lines N`, `--max-train N`,
//! `--name NAME`, `--card-notes FILE` (Markdown appended to the model card).
//!
//! `--members S1,S2,...` trains one model per seed into `OUT/seed-S` (same options otherwise)
//! and writes `OUT/ensemble.json` listing them: the shipped default is such an ensemble
//! (`verbovka::model::Ensemble`); calibrate `OUT` afterwards.
//!
//! Speed: sets `RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1` (each worker thread runs candle
//! single-threaded on its share of the batch) and tunes glibc malloc, which TECH-NOTES measured
//! at 1.45–1.8× for candle training.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use verbovka_lab::train::{train, Phase, Progress, TrainOptions};

fn tune_malloc() {
    // SAFETY: mallopt only changes allocator parameters; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

fn parse<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
    let v = v.unwrap_or_else(|| die(&format!("{flag} needs a value")));
    v.parse()
        .unwrap_or_else(|_| die(&format!("{flag}: cannot parse `{v}`")))
}

fn die(msg: &str) -> ! {
    eprintln!("train: {msg}");
    std::process::exit(2)
}

fn main() {
    tune_malloc();
    for var in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, "1");
        }
    }
    let mut o = TrainOptions::default();
    let argv: Vec<String> = std::env::args().collect();
    o.command = format!(
        "cargo run --release -p verbovka-lab --bin train -- {}",
        argv[1..].join(" ")
    );
    let mut members: Vec<u64> = Vec::new();
    let mut args = argv.into_iter().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => o.data_dir = PathBuf::from(parse::<String>(&a, args.next())),
            "--corpora" => o.corpora_dir = Some(PathBuf::from(parse::<String>(&a, args.next()))),
            "--out" => o.out_dir = PathBuf::from(parse::<String>(&a, args.next())),
            "--epochs" => o.epochs = parse(&a, args.next()),
            "--seed" => o.seed = parse(&a, args.next()),
            "--pretrain-steps" => o.pretrain_steps = parse(&a, args.next()),
            "--vocab" => o.model.vocab_size = parse(&a, args.next()),
            "--d-model" => o.model.d_model = parse(&a, args.next()),
            "--layers" => o.model.n_layers = parse(&a, args.next()),
            "--heads" => o.model.n_heads = parse(&a, args.next()),
            "--ff" => o.model.d_ff = parse(&a, args.next()),
            "--max-len" => o.model.max_len = parse(&a, args.next()),
            "--name" => o.model.name = parse(&a, args.next()),
            "--activation" => {
                let v: String = parse(&a, args.next());
                o.model.activation = serde_json::from_str(&format!("\"{v}\""))
                    .unwrap_or_else(|_| die(&format!("unknown activation `{v}`")));
            }
            "--pooling" => {
                let v: String = parse(&a, args.next());
                o.model.pooling = serde_json::from_str(&format!("\"{v}\""))
                    .unwrap_or_else(|_| die(&format!("unknown pooling `{v}`")));
            }
            "--bias" => o.model.linear_bias = true,
            "--batch" => o.batch_size = parse(&a, args.next()),
            "--lr" => o.learning_rate = parse(&a, args.next()),
            "--dropout" => o.dropout = parse(&a, args.next()),
            "--workers" => o.workers = parse(&a, args.next()),
            "--patience" => o.patience = parse(&a, args.next()),
            "--evals-per-epoch" => o.evals_per_epoch = parse(&a, args.next()),
            "--token-dropout" => o.token_dropout = parse(&a, args.next()),
            "--label-smoothing" => o.label_smoothing = parse(&a, args.next()),
            "--weight-decay" => o.weight_decay = parse(&a, args.next()),
            "--ema" => o.ema_decay = parse(&a, args.next()),
            "--members" => {
                let v: String = parse(&a, args.next());
                members = v
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse()
                            .unwrap_or_else(|_| die(&format!("--members: bad seed `{s}`")))
                    })
                    .collect();
            }
            "--teacher" => o
                .teachers
                .push(PathBuf::from(parse::<String>(&a, args.next()))),
            "--distill-weight" => o.distill_weight = parse(&a, args.next()),
            "--corpus-lines" => o.corpus_lines_per_file = parse(&a, args.next()),
            "--max-train" => o.max_train = Some(parse(&a, args.next())),
            "--card-notes" => {
                let path: String = parse(&a, args.next());
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| die(&format!("--card-notes {path}: {e}")));
                o.card_notes = Some(text);
            }
            "-h" | "--help" => {
                let doc: Vec<&str> = include_str!("train.rs")
                    .lines()
                    .take_while(|l| l.starts_with("//!"))
                    .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
                    .collect();
                println!("{}", doc.join("\n"));
                return;
            }
            other => die(&format!("unknown argument `{other}` (see --help)")),
        }
    }
    if members.is_empty() {
        run(&o);
        return;
    }
    let root = o.out_dir.clone();
    let mut names = Vec::new();
    for seed in members {
        let name = format!("seed-{seed}");
        eprintln!("== member {name}");
        let mut m = o.clone();
        m.seed = seed;
        m.out_dir = root.join(&name);
        run(&m);
        names.push(name);
    }
    let spec = serde_json::json!({ "name": format!("{}-x{}", o.model.name, names.len()), "members": names });
    let path = root.join("ensemble.json");
    let text = serde_json::to_string_pretty(&spec).unwrap_or_default() + "\n";
    if let Err(e) = std::fs::write(&path, text) {
        die(&format!("{}: {e}", path.display()));
    }
    eprintln!("wrote {}", path.display());
}

/// One training run with progress on stderr.
fn run(o: &TrainOptions) {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let style = ProgressStyle::with_template(
        "{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} loss {msg} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut on_progress = |p: Progress| match p {
        Progress::Stage(s) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("[{:>6.1}s] {s}", started.elapsed().as_secs_f32());
        }
        Progress::PhaseStart { phase, total } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            let b = ProgressBar::new(total as u64).with_style(style.clone());
            b.set_prefix(match phase {
                Phase::Pretrain => "pretrain".to_string(),
                Phase::Finetune(e) => format!("epoch {e}"),
            });
            bar = Some(b);
        }
        Progress::Step { step, loss, .. } => {
            if let Some(b) = &bar {
                b.set_position(step as u64);
                b.set_message(format!("{loss:.4}"));
            }
        }
        Progress::Eval(e) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            let c = &e.dev.per_category;
            eprintln!(
                "epoch {} step {} ({:.0}s): train loss {:.4}, dev loss {:.4}, dev F1 @0.5 sab {:.3} rec {:.3} lure {:.3} binary {:.3}, benign FPR {:.4}",
                e.epoch, e.step, e.seconds, e.train_loss, e.dev_loss, c[0].f1, c[1].f1, c[2].f1,
                e.dev.binary.f1, e.dev.benign_fpr
            );
        }
        _ => {}
    };
    match train(o, &mut on_progress) {
        Ok(r) => {
            let t = r.config.thresholds.unwrap_or([0.5; 3]);
            eprintln!(
                "done in {:.1} min: kept step {}, dev binary F1 {:.3} (P {:.3} R {:.3}), macro F1 {:.3}, benign FPR {:.4}; thresholds {:?}",
                r.seconds / 60.0, r.best_step, r.dev.binary.f1, r.dev.binary.precision,
                r.dev.binary.recall, r.dev.macro_f1, r.dev.benign_fpr, t
            );
            if let Some(test) = &r.test {
                eprintln!(
                    "test (reported only): binary F1 {:.3} (P {:.3} R {:.3}), macro F1 {:.3}, benign FPR {:.4}",
                    test.binary.f1, test.binary.precision, test.binary.recall, test.macro_f1,
                    test.benign_fpr
                );
            }
            eprintln!(
                "wrote {} (weights {} bytes, sha256 {})",
                o.out_dir.display(),
                r.weights_bytes,
                r.weights_sha256
            );
        }
        Err(e) => die(&e.to_string()),
    }
}
