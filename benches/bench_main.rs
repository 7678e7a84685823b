//! Criterion benches, one module per pipeline stage, each with declared throughput.
//!
//! Corpus: real Telegram posts from `../shared/corpora/ru_telegram_channels.jsonl` and
//! `uk_ua_gec_source.txt` when present (the developers' machines), else the repo's own case
//! tables, so the bench runs anywhere. Run: `cargo bench --bench bench_main`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

/// Up to `n` short posts (≤ 1,000 bytes), Russian and Ukrainian mixed.
fn corpus(n: usize) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut posts = Vec::new();
    let tg = format!("{root}/../shared/corpora/ru_telegram_channels.jsonl");
    let uk = format!("{root}/../shared/corpora/uk_ua_gec_source.txt");
    if let (Ok(tg), Ok(uk)) = (std::fs::read_to_string(tg), std::fs::read_to_string(uk)) {
        let ru = tg.lines().filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()?
                .get("text")?
                .as_str()
                .map(str::to_string)
        });
        let uk = uk.lines().map(str::to_string);
        for (a, b) in ru.zip(uk) {
            posts.extend(
                [a, b]
                    .into_iter()
                    .filter(|p| !p.is_empty() && p.len() <= 1000),
            );
            if posts.len() >= n {
                break;
            }
        }
    } else {
        for f in ["positives.toml", "negatives.toml"] {
            let text =
                std::fs::read_to_string(format!("{root}/tests/cases/{f}")).unwrap_or_default();
            let v: toml::Value =
                toml::from_str(&text).unwrap_or(toml::Value::Table(Default::default()));
            if let Some(cases) = v.get("case").and_then(|c| c.as_array()) {
                posts.extend(
                    cases
                        .iter()
                        .filter_map(|c| c.get("text")?.as_str().map(str::to_string)),
                );
            }
        }
    }
    posts.truncate(n);
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = normalise::bench, rules::bench, pipeline::bench
}
criterion_main!(benches);
