//! Criterion benches, one module per pipeline stage, each with declared throughput:
//! `normalise`, `rules`, `pipeline` (rules only), `tokenize`, `model` (forward at batch 1, 8, 32,
//! 128 on the default engine, and every engine the CPU has at 32), `score_batch` (whole
//! pipeline with one model and with the default three, on every engine the CPU has: the
//! default engine on 1 thread and the pool, the others on the pool), `export` (Telegram export
//! reading).
//!
//! Corpus: `benches/common/corpus.rs` — a fixed mixture of real posts from `../shared/corpora`
//! (read by path) and the repo's test split, most 5–40 tokens with a tail past 256; the committed
//! `crates/verbovka-lab/data/generated` splits when the shared corpora are absent. Model: `$VERBOVKA_BENCH_MODEL`
//! or `models/default` (model stages are skipped when neither exists).
//!
//! Run: `cargo bench --bench bench_main` (one stage: `cargo bench --bench bench_main -- model`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use verbovka::model::Engine;

mod common {
    pub mod corpus;
}
use common::corpus;

/// `n` posts of the bench corpus (its origin is printed once per call).
fn corpus(n: usize) -> Vec<String> {
    let (posts, origin) = corpus::posts(n);
    eprintln!("corpus: {} posts from {origin}", posts.len());
    posts
}

fn bytes(posts: &[String]) -> u64 {
    posts.iter().map(|p| p.len() as u64).sum()
}

mod normalise {
    use super::*;

    pub fn bench(c: &mut Criterion) {
        let posts = corpus(2000);
        let mut g = c.benchmark_group("normalise");
        g.throughput(Throughput::Bytes(bytes(&posts)));
        g.bench_function("posts", |b| {
            b.iter(|| {
                for p in &posts {
                    black_box(verbovka::normalize(p));
                }
            })
        });
        g.finish();
    }
}

mod rules {
    use super::*;

    /// Normalise + rules on one core: the cost the rules stage adds per post.
    pub fn bench(c: &mut Criterion) {
        let posts = corpus(2000);
        let rules = verbovka::rules::RuleSet::embedded().expect("embedded rules");
        let mut g = c.benchmark_group("rules");
        g.throughput(Throughput::Bytes(bytes(&posts)));
        g.bench_function("normalise+rules", |b| {
            b.iter(|| {
                for p in &posts {
                    let n = verbovka::normalize(p);
                    black_box(rules.find(n.as_str()));
                }
            })
        });
        let normalised: Vec<String> = posts
            .iter()
            .map(|p| verbovka::normalize(p).into_string())
            .collect();
        g.bench_function("rules-only", |b| {
            b.iter(|| {
                for p in &normalised {
                    black_box(rules.find(p));
                }
            })
        });
        g.finish();
    }
}

mod pipeline {
    use super::*;

    /// Whole `Detector::score` without a model, one core, and `score_batch` on the pool.
    pub fn bench(c: &mut Criterion) {
        let posts = corpus(2000);
        let det = verbovka::Detector::rules_only().expect("rules-only detector");
        let mut g = c.benchmark_group("pipeline_rules_only");
        g.throughput(Throughput::Elements(posts.len() as u64));
        g.bench_function("score (1 thread)", |b| {
            b.iter(|| {
                for p in &posts {
                    black_box(det.score(p));
                }
            })
        });
        g.bench_function("score_batch (pool)", |b| {
            b.iter(|| black_box(det.score_batch(&posts)))
        });
        g.finish();
    }
}

/// The model to bench, loaded once; `None` (stage skipped) without one.
fn load_model() -> Option<verbovka::model::TransformerClassifier> {
    let dir = corpus::model_dir()?;
    match verbovka::model::TransformerClassifier::from_dir(&dir) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("model stages skipped: {e}");
            None
        }
    }
}

fn normalised(posts: &[String]) -> Vec<String> {
    posts
        .iter()
        .map(|p| verbovka::normalize(p).into_string())
        .collect()
}

mod tokenize {
    use super::*;

    /// The model's tokenizer on normalised posts, one core (throughput: input bytes): the
    /// fast path `TextEncoder::encode` uses, and `tokenizers`' own `encode_fast` (reference).
    pub fn bench(c: &mut Criterion) {
        let Some(model) = load_model() else { return };
        let posts = normalised(&corpus(2000));
        let enc = model.text_encoder();
        let mut g = c.benchmark_group("tokenize");
        g.throughput(Throughput::Bytes(bytes(&posts)));
        g.bench_function("encode (1 thread)", |b| {
            b.iter(|| {
                for p in &posts {
                    black_box(enc.encode(p).ok());
                }
            })
        });
        g.bench_function("tokenizers encode_fast, reference (1 thread)", |b| {
            b.iter(|| {
                for p in &posts {
                    black_box(enc.encode_reference(p).ok());
                }
            })
        });
        g.finish();
    }
}

mod model {
    use super::*;

    /// Model forward on pre-tokenised posts (sorted by length, cut into batches of `B`), one
    /// thread, at B = 1, 8, 32, 128 (throughput: posts).
    pub fn bench(c: &mut Criterion) {
        let Some(model) = load_model() else { return };
        let posts = normalised(&corpus(1024));
        let mut ids: Vec<Vec<u32>> = posts
            .iter()
            .filter_map(|p| model.text_encoder().encode(p).ok().map(|e| e.0))
            .collect();
        ids.sort_by_key(Vec::len);
        let tokens: usize = ids.iter().map(|r| r.len().max(1)).sum();
        eprintln!(
            "model: {} posts, {:.1} tokens per post read",
            ids.len(),
            tokens as f64 / ids.len() as f64
        );
        let mut g = c.benchmark_group("model");
        g.throughput(Throughput::Elements(ids.len() as u64));
        for batch in [1usize, 8, 32, 128] {
            let batches: Vec<Vec<&[u32]>> = ids
                .chunks(batch)
                .map(|c| c.iter().map(Vec::as_slice).collect())
                .collect();
            // Every engine this CPU has at batch 32; the others on the default (`Auto`) one.
            let engines = if batch == 32 {
                Engine::available()
            } else {
                vec![Engine::detect()]
            };
            for e in engines {
                let Ok(model) = model.clone().with_engine(e) else {
                    continue;
                };
                g.bench_with_input(
                    BenchmarkId::new(format!("forward {e}"), batch),
                    &batches,
                    |b, batches| {
                        b.iter(|| {
                            for rows in batches {
                                black_box(model.predict_ids(rows).ok());
                            }
                        })
                    },
                );
            }
        }
        g.finish();
    }
}

mod score_batch {
    use super::*;

    /// `Detector::score_batch` (raw text → verdict: normalise, rules, tokenise, model, fusion)
    /// on a 1-thread pool and on a pool of all cores (throughput: posts): with one model (the
    /// bench model) and with the shipped default (`Detector::new()`, an ensemble of three).
    pub fn bench(c: &mut Criterion) {
        let posts = corpus(2000);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        // (name, detector, threads): the default engine on 1 thread and all cores, every other
        // engine this CPU has on all cores (names carry the engine, so that one run compares
        // them back to back).
        let mut detectors = Vec::new();
        for e in Engine::available() {
            let threads: Vec<usize> = if e == Engine::detect() {
                vec![1, cores]
            } else {
                vec![cores]
            };
            if let Some(model) = load_model().and_then(|m| m.with_engine(e).ok()) {
                match verbovka::Detector::builder()
                    .classifier(Some(Arc::new(model) as Arc<dyn verbovka::Classifier>))
                    .build()
                {
                    Ok(d) => {
                        detectors.push((format!("with model {e}, threads"), d, threads.clone()))
                    }
                    Err(e) => eprintln!("score_batch with one model skipped: {e}"),
                }
            }
            // The default without focus parts beside it: what reading them costs.
            if e == Engine::detect() {
                if let Ok(d) = verbovka::Detector::builder().engine(e).focus(false).build() {
                    if d.has_model() {
                        let name = format!("default detector {e} no focus parts, threads");
                        detectors.push((name, d, vec![cores]));
                    }
                }
            }
            match verbovka::Detector::builder().engine(e).build() {
                Ok(d) if d.has_model() => {
                    detectors.push((format!("default detector {e}, threads"), d, threads))
                }
                Ok(_) => eprintln!("score_batch of the default skipped: no embedded model"),
                Err(e) => eprintln!("score_batch of the default skipped: {e}"),
            }
        }
        let mut g = c.benchmark_group("score_batch");
        g.throughput(Throughput::Elements(posts.len() as u64));
        for (name, det, threads) in &detectors {
            for &threads in threads {
                let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
                    continue;
                };
                g.bench_function(BenchmarkId::new(name.as_str(), threads), |b| {
                    b.iter(|| pool.install(|| black_box(det.score_batch(&posts))))
                });
            }
        }
        // The default model alone (tokenise + forward of every member) on normalised posts.
        #[cfg(feature = "embedded-model")]
        if let Ok(ens) = verbovka::model::Ensemble::embedded() {
            use verbovka::Classifier;
            let norm = normalised(&posts);
            let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
            if let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(cores).build() {
                g.bench_function(
                    BenchmarkId::new("default model only, threads", cores),
                    |b| b.iter(|| pool.install(|| black_box(ens.predict(&refs).ok()))),
                );
            }
        }
        g.finish();
    }
}

mod construct {
    use super::*;

    /// `Detector::new()`: parsing the embedded rules, tokenizers and weights and packing the
    /// weights (issue 3: ≤ 200 ms).
    pub fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("construct");
        g.bench_function("Detector::new", |b| {
            b.iter(|| black_box(verbovka::Detector::new().map(|d| d.has_model())))
        });
        g.finish();
    }
}

mod export {
    use super::*;

    /// A single-chat Telegram Desktop JSON export of the corpus posts, as Telegram writes it
    /// (half plain `text`, half `text` as an entity array).
    fn export_json(posts: &[String]) -> String {
        let messages: Vec<serde_json::Value> = posts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let text = if i % 2 == 0 {
                    serde_json::json!(p)
                } else {
                    serde_json::json!([{"type": "bold", "text": "!"}, p])
                };
                serde_json::json!({
                    "id": i + 1, "type": "message",
                    "date": "2024-05-01T08:01:00", "date_unixtime": (1714550460 + i).to_string(),
                    "from": "Олена Коваль", "from_id": format!("user{}", 510000000 + i % 50),
                    "text": text,
                    "text_entities": [{"type": "plain", "text": p}],
                })
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "name": "Bench chat", "type": "public_supergroup", "id": 1876543210,
            "messages": messages,
        }))
        .unwrap_or_default()
    }

    /// `telegram::Reader` over a JSON export file (throughput: file bytes).
    pub fn bench(c: &mut Criterion) {
        let posts = corpus(4000);
        let json = export_json(&posts);
        let path = std::env::temp_dir().join(format!("verbovka-bench-{}.json", std::process::id()));
        if std::fs::write(&path, &json).is_err() {
            eprintln!("export skipped: cannot write {}", path.display());
            return;
        }
        let mut g = c.benchmark_group("export");
        g.throughput(Throughput::Bytes(json.len() as u64));
        g.bench_function("read json file", |b| {
            b.iter(|| {
                let Ok(reader) = verbovka::telegram::Reader::open(&path) else {
                    return 0;
                };
                black_box(reader.filter_map(Result::ok).count())
            })
        });
        g.finish();
        let _ = std::fs::remove_file(&path);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = normalise::bench, rules::bench, pipeline::bench, tokenize::bench, model::bench,
        score_batch::bench, construct::bench, export::bench
}
criterion_main!(benches);
