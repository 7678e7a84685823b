//! verbovka's side of the peer harness (`benches/peers/harness.py`).
//!
//! ```text
//! # the bench corpus, normalised, tokenised and scored, as JSON lines (for the correctness check)
//! cargo run --release -p verbovka-lab --bin dump_logits -- dump MODEL_DIR N OUT.jsonl
//! # a timing server: reads `MODE THREADS` lines on stdin, answers one JSON line per pass
//! cargo run --release -p verbovka-lab --bin dump_logits -- serve MODEL_DIR POSTS.jsonl [ENGINE]
//! ```
//!
//! ENGINE (`auto`, `avx512`, `avx2-fma`, `portable`; default `auto`) picks the kernels every member
//! runs, so one AVX-512 machine also measures the AVX2+FMA engine (`harness.py --engine avx2-fma`).
//!
//! Modes of `serve` (each pass scores every post of POSTS.jsonl once, on a rayon pool of
//! THREADS threads, timed inside this process — wall and CPU seconds — model already loaded
//! and warmed):
//! - `forward`: `predict_ids` on pre-tokenised, length-sorted batches of 32 (the model alone);
//! - `model`: `Classifier::predict` on the normalised texts (tokenise + model);
//! - `pipeline`: `Detector::score_batch` with the model on the raw texts (normalise, rules,
//!   tokenise, model, fuse).
//!
//! MODEL_DIR is one model or an ensemble directory (`ensemble.json`, e.g. `models/default`):
//! then `dump` writes every member's ids (`member_ids`, `ids` = the first member's) and the
//! ensemble's averaged logits, `forward` runs every member on its own batches, and `pipeline`
//! is the detector with the ensemble and its calibration (the default detector's job).
//!
//! The corpus is `benches/common/corpus.rs`; its posts are written outside the repository.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use verbovka::model::{Engine, Ensemble, TransformerClassifier, ENSEMBLE_FILE};
use verbovka::{Classifier, Detector};

#[path = "../../../verbovka/benches/common/corpus.rs"]
mod corpus;

const BATCH: usize = 32;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["dump", dir, n, out] => dump(dir, n, out),
        ["serve", dir, posts] => serve(dir, posts, "auto"),
        ["serve", dir, posts, engine] => serve(dir, posts, engine),
        _ => Err(
            "usage: dump_logits dump MODEL_DIR N OUT.jsonl | serve MODEL_DIR POSTS.jsonl [ENGINE]"
                .into(),
        ),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dump_logits: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The model of MODEL_DIR: its members (one for a single model) and the classifier the
/// detector runs (the ensemble, with its calibration, or the single model).
fn load(dir: &str, engine: Engine) -> Res<(Vec<TransformerClassifier>, Arc<dyn Classifier>)> {
    if std::path::Path::new(dir).join(ENSEMBLE_FILE).exists() {
        let ensemble = Ensemble::from_dir(dir)?.with_engine(engine)?;
        Ok((ensemble.members().to_vec(), Arc::new(ensemble)))
    } else {
        let model = TransformerClassifier::from_dir(dir)?.with_engine(engine)?;
        Ok((vec![model.clone()], Arc::new(model)))
    }
}

fn dump(dir: &str, n: &str, out: &str) -> Res<()> {
    let (members, model) = load(dir, Engine::Auto)?;
    let (posts, origin) = corpus::posts(n.parse()?);
    let norm: Vec<String> = posts
        .iter()
        .map(|p| verbovka::normalize(p).into_string())
        .collect();
    let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
    let outputs = model.predict(&refs)?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut lens = Vec::with_capacity(posts.len());
    for ((p, q), o) in posts.iter().zip(&norm).zip(&outputs) {
        let first = members[0].text_encoder();
        let all = first.encode_all(q)?;
        let (ids, truncated) = first.encode(q)?;
        lens.push((all.len(), ids.len()));
        let member_ids = members
            .iter()
            .map(|m| Ok(m.text_encoder().encode(q)?.0))
            .collect::<Res<Vec<_>>>()?;
        let line = serde_json::json!({
            "text": p, "norm": q, "ids": ids, "member_ids": member_ids, "n_tokens": all.len(),
            "truncated": truncated, "logits": o.logits,
        });
        writeln!(w, "{line}")?;
    }
    w.flush()?;
    let mut full: Vec<usize> = lens.iter().map(|l| l.0).collect();
    full.sort_unstable();
    let pct = |q: f64| full[((full.len() - 1) as f64 * q) as usize];
    let summary = serde_json::json!({
        "posts": posts.len(), "origin": origin,
        "bytes": posts.iter().map(String::len).sum::<usize>(),
        "tokens_mean": full.iter().sum::<usize>() as f64 / full.len() as f64,
        "tokens_read_mean": lens.iter().map(|l| l.1).sum::<usize>() as f64 / lens.len() as f64,
        "tokens_p10_p50_p90_p99_max": [pct(0.1), pct(0.5), pct(0.9), pct(0.99), pct(1.0)],
        "share_5_to_40": full.iter().filter(|&&l| (5..=40).contains(&l)).count() as f64 / full.len() as f64,
        "share_over_max_len": lens.iter().filter(|l| l.0 > l.1).count() as f64 / lens.len() as f64,
    });
    println!("{summary}");
    Ok(())
}

/// CPU time of this process so far (user + system, all threads).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn serve(dir: &str, path: &str, engine: &str) -> Res<()> {
    let (members, model) = load(dir, engine.parse()?)?;
    let text = std::fs::read_to_string(path)?;
    let mut raw = Vec::new();
    let mut norm = Vec::new();
    // Per member, the ids of every post.
    let mut ids: Vec<Vec<Vec<u32>>> = vec![Vec::new(); members.len()];
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        raw.push(v["text"].as_str().unwrap_or_default().to_string());
        norm.push(v["norm"].as_str().unwrap_or_default().to_string());
        let per_member: Vec<Vec<u32>> = match v.get("member_ids") {
            Some(m) => serde_json::from_value(m.clone())?,
            None => vec![serde_json::from_value(v["ids"].clone())?],
        };
        if per_member.len() != members.len() {
            return Err(format!(
                "{path}: ids for {} members, the model has {}",
                per_member.len(),
                members.len()
            )
            .into());
        }
        for (all, row) in ids.iter_mut().zip(per_member) {
            all.push(row);
        }
    }
    let norm_refs: Vec<&str> = norm.iter().map(String::as_str).collect();
    // Per member, its posts sorted by its own token counts, in batches of 32.
    let batches: Vec<(usize, Vec<&[u32]>)> = ids
        .iter()
        .enumerate()
        .flat_map(|(k, rows)| {
            let mut order: Vec<usize> = (0..rows.len()).collect();
            order.sort_by_key(|&i| rows[i].len());
            order
                .chunks(BATCH)
                .map(|c| (k, c.iter().map(|&i| rows[i].as_slice()).collect()))
                .collect::<Vec<_>>()
        })
        .collect();
    let detector = Detector::builder()
        .classifier(Some(model.clone()))
        .build()?;
    let pools: Vec<rayon::ThreadPool> = (1..=2)
        .map(|t| rayon::ThreadPoolBuilder::new().num_threads(t).build())
        .collect::<Result<_, _>>()?;
    let run = |mode: &str, threads: usize| -> Res<(f64, f64)> {
        use rayon::prelude::*;
        let pool = pools
            .get(threads.wrapping_sub(1))
            .ok_or("threads must be 1 or 2")?;
        let (t0, c0) = (Instant::now(), cpu_seconds());
        pool.install(|| -> Res<()> {
            match mode {
                "forward" => {
                    let out: Vec<Vec<[f32; 3]>> = batches
                        .par_iter()
                        .map(|(k, b)| members[*k].predict_ids(b))
                        .collect::<Result<_, _>>()?;
                    std::hint::black_box(out);
                }
                "model" => {
                    std::hint::black_box(model.predict(&norm_refs)?);
                }
                "pipeline" => {
                    std::hint::black_box(detector.score_batch(&raw));
                }
                _ => return Err(format!("unknown mode {mode}").into()),
            }
            Ok(())
        })?;
        Ok((t0.elapsed().as_secs_f64(), cpu_seconds() - c0))
    };
    for mode in ["forward", "model", "pipeline"] {
        run(mode, 2)?;
    }
    let engine = members.first().map_or(Engine::Auto, |m| m.engine());
    println!(
        "{}",
        serde_json::json!({"ready": true, "posts": raw.len(), "engine": engine.to_string()})
    );
    std::io::stdout().flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let mut it = line.split_whitespace();
        let (Some(mode), Some(threads)) = (it.next(), it.next()) else {
            break;
        };
        let (secs, cpu) = run(mode, threads.parse()?)?;
        println!(
            "{}",
            serde_json::json!({"mode": mode, "threads": threads.parse::<usize>()?, "seconds": secs, "cpu_seconds": cpu})
        );
        std::io::stdout().flush()?;
    }
    Ok(())
}
