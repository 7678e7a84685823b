//! The default detector on every engine this CPU has: the same labels as on the portable
//! engine for the sample texts and the case tables (scores within the engines' rounding), and
//! `score` == `score_batch` bit for bit on each. Engines the CPU lacks are named on stderr and
//! refused by the builder.
#![cfg(feature = "embedded-model")]

use verbovka::model::Engine;
use verbovka::{Detector, Verdict};

/// The texts of `examples/data/sample.jsonl` and `tests/cases/*.toml`.
fn texts() -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut out = Vec::new();
    let sample = std::fs::read_to_string(format!("{root}/examples/data/sample.jsonl"))
        .expect("sample.jsonl");
    for line in sample.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        out.push(v["text"].as_str().expect("text").to_string());
    }
    for name in ["positives.toml", "negatives.toml"] {
        let text = std::fs::read_to_string(format!("{root}/tests/cases/{name}")).expect("cases");
        let v: toml::Value = toml::from_str(&text).expect("toml");
        for case in v["case"].as_array().expect("cases") {
            out.push(case["text"].as_str().expect("text").to_string());
        }
    }
    assert!(out.len() > 300, "{} texts", out.len());
    out
}

fn scores(v: &Verdict) -> [f32; 3] {
    [v.scores.sabotage, v.scores.reconnaissance, v.scores.lure]
}

#[test]
fn every_engine_gives_the_portable_labels_and_batch_equals_single() {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let portable = Detector::builder()
        .engine(Engine::Portable)
        .build()
        .expect("portable");
    let want = portable.score_batch(&refs);
    for e in Engine::ALL {
        if !e.is_supported() {
            eprintln!("engine {e}: not run, this CPU lacks it");
            let err = Detector::builder()
                .engine(e)
                .build()
                .expect_err("unsupported");
            assert!(err.to_string().contains(e.name()), "{err}");
            continue;
        }
        let det = Detector::builder().engine(e).build().expect("engine");
        let got = det.score_batch(&refs);
        for ((t, g), w) in refs.iter().zip(&got).zip(&want) {
            assert_eq!(g.label, w.label, "{e}: {t}");
            for (a, b) in scores(g).iter().zip(scores(w)) {
                // A logit moves a score by at most a quarter of its change (1e-4 on logits).
                assert!((a - b).abs() < 3e-5, "{e}: {t}: {g:?} vs {w:?}");
            }
        }
        // One at a time: the verdicts of the batch, bit for bit.
        for (t, g) in refs.iter().zip(&got).step_by(3) {
            assert_eq!(&det.score(t), g, "{e}: {t}");
        }
    }
}

#[test]
fn an_engine_with_a_given_classifier_is_an_error() {
    let model = verbovka::model::Ensemble::embedded().expect("embedded");
    let err = Detector::builder()
        .classifier(Some(std::sync::Arc::new(model)))
        .engine(Engine::Portable)
        .build()
        .expect_err("engine with a classifier");
    assert!(err.to_string().contains("engine"), "{err}");
    // Rules only: nothing to run, the engine is only checked.
    assert!(Detector::builder()
        .classifier(None)
        .engine(Engine::Portable)
        .build()
        .is_ok());
}
