//! The transformer classifier: gradients reach every parameter, kernels agree, batching is
//! invisible, truncation is reported, model directories load or fail with a clear message.
//! Run with `cargo test --release --test model` (debug candle is ~37× slower).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{Device, Tensor};
use verbovka::model::{Activation, ModelConfig, Pooling, TransformerClassifier};
use verbovka::{Classifier, Error};
use verbovka_lab::card::sha256_hex;
use verbovka_lab::nn::{pad_batch, Pass, Reference};
use verbovka_lab::tokenizer::train_tokenizer;
use verbovka_lab::train::{
    classification_loss, init_model, save_model, train, Progress, TrainOptions,
};

fn tiny_config(activation: Activation, bias: bool) -> ModelConfig {
    ModelConfig {
        name: "tiny".into(),
        vocab_size: 60,
        d_model: 16,
        n_layers: 2,
        n_heads: 2,
        d_ff: 32,
        max_len: 32,
        activation,
        linear_bias: bias,
        layer_norm_eps: 1e-5,
        pad_id: 0,
        pooling: Pooling::Mean,
        thresholds: None,
    }
}

/// The four activations, with and without biases, the last two with attention pooling.
const SHAPES: [(Activation, bool, Pooling); 5] = [
    (Activation::Relu, false, Pooling::Mean),
    (Activation::QuickGelu, true, Pooling::Mean),
    (Activation::GeluErf, false, Pooling::Mean),
    (Activation::Gelu, true, Pooling::Attention),
    (Activation::Relu, false, Pooling::Attention),
];

fn shape_config((activation, bias, pooling): (Activation, bool, Pooling)) -> ModelConfig {
    ModelConfig {
        pooling,
        ..tiny_config(activation, bias)
    }
}

fn tmp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "verbovka-model-test-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const TEXTS: &[&str] = &[
    "шукаємо людей для легкої роботи, оплата щодня, пиши в бот",
    "подожги релейный шкаф и сними на видео, оплата в крипте",
    "нужно фотографировать колонны техники и отправлять координаты",
    "в києві затримали паліїв авто зсу, сбу попереджає",
    "продам камеру для відеоспостереження, майже нова",
    "работа для смелых, 500 долларов за задание",
    "рецепт шашлику на вихідні",
    "",
];

/// A tokenizer trained on the test texts plus a classifier with random weights, saved to a dir.
fn tiny_model_dir(cfg_in: &ModelConfig) -> (PathBuf, ModelConfig) {
    let corpus: Vec<String> = TEXTS
        .iter()
        .cycle()
        .take(64)
        .map(|s| s.to_string())
        .collect();
    let tokenizer = train_tokenizer(corpus.iter(), 60).unwrap();
    let mut cfg = cfg_in.clone();
    cfg.vocab_size = tokenizer.get_vocab_size(true);
    let (varmap, _) = init_model(&cfg, 7).unwrap();
    let mut vars: Vec<(String, candle_core::Var)> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let dir = tmp_dir("dir");
    save_model(&dir, &cfg, &tokenizer, &vars).unwrap();
    (dir, cfg)
}

#[test]
fn every_trainable_tensor_gets_a_nonzero_gradient() {
    for shape in SHAPES {
        let (_, bias, pooling) = shape;
        let cfg = shape_config(shape);
        let (varmap, encoder) = init_model(&cfg, 1).unwrap();
        let rows: Vec<Vec<u32>> = vec![
            vec![5, 6, 7, 8, 9],
            vec![10, 11],
            vec![3, 4, 5, 6, 7, 8, 9, 10],
        ];
        let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        let targets = [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 1.0]];
        let mut pass = Pass::training(0.0, 3);
        let loss = classification_loss(&encoder, &refs, &targets, 0, &mut pass).unwrap();
        let grads = loss.backward().unwrap();
        let data = varmap.data().lock().unwrap();
        let per_layer = 8 + if bias { 4 } else { 0 };
        assert_eq!(
            data.len(),
            2 + cfg.n_layers * per_layer + 2 + 2 + usize::from(pooling == Pooling::Attention),
            "parameter count"
        );
        for (name, var) in data.iter() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{shape:?}: no gradient for {name}"));
            let norm = g
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                norm > 0.0 && norm.is_finite(),
                "{shape:?}: zero gradient for {name}"
            );
        }
    }
}

#[test]
fn fused_kernels_have_no_backward_which_is_why_training_uses_the_slow_ones() {
    let cfg = tiny_config(Activation::Relu, false);
    let (varmap, encoder) = init_model(&cfg, 1).unwrap();
    let rows: Vec<&[u32]> = vec![&[5, 6, 7], &[8, 9]];
    let loss = classification_loss(
        &encoder,
        &rows,
        &[[1.0, 0.0, 0.0]; 2],
        0,
        &mut Pass::inference(),
    )
    .unwrap();
    let grads = loss.backward().unwrap();
    let data = varmap.data().lock().unwrap();
    let missing = data
        .iter()
        .filter(|(_, v)| grads.get(v.as_tensor()).is_none())
        .count();
    assert!(
        missing > 0,
        "candle's fused ops now have a backward: revisit nn::Kernels"
    );
}

#[test]
fn fused_and_differentiable_kernels_agree() {
    let cfg = tiny_config(Activation::QuickGelu, true);
    let (_, encoder) = init_model(&cfg, 2).unwrap();
    let rows: Vec<&[u32]> = vec![&[5, 6, 7, 8, 9, 10, 11], &[12, 13], &[]];
    let (ids, mask) = pad_batch(&rows, 0, &Device::Cpu).unwrap();
    let a = encoder
        .forward(&ids, &mask, &mut Pass::inference())
        .unwrap();
    let b = encoder
        .forward(&ids, &mask, &mut Pass::differentiable())
        .unwrap();
    let diff = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-5, "fused vs differentiable differ by {diff}");
}

#[test]
fn padding_does_not_change_a_texts_logits() {
    for shape in [SHAPES[0], SHAPES[4]] {
        padding_does_not_change_logits_of(shape_config(shape));
    }
}

fn padding_does_not_change_logits_of(cfg: ModelConfig) {
    let (_, encoder) = init_model(&cfg, 3).unwrap();
    let short: &[u32] = &[5, 6, 7];
    let (ids, mask) = pad_batch(&[short], 0, &Device::Cpu).unwrap();
    let alone = encoder
        .forward(&ids, &mask, &mut Pass::inference())
        .unwrap();
    let long: &[u32] = &[3, 4, 5, 6, 7, 8, 9, 10, 11];
    let (ids, mask) = pad_batch(&[long, short], 0, &Device::Cpu).unwrap();
    let both = encoder
        .forward(&ids, &mask, &mut Pass::inference())
        .unwrap();
    let padded = both.get(1).unwrap().unsqueeze(0).unwrap();
    let diff: f32 = (alone - padded)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(
        diff < 1e-5,
        "{:?}: padding changed logits by {diff}",
        cfg.pooling
    );
}

#[test]
fn a_text_scores_the_same_alone_and_in_a_batch_in_input_order() {
    let (dir, _) = tiny_model_dir(&tiny_config(Activation::Relu, false));
    let clf = TransformerClassifier::from_dir(&dir)
        .unwrap()
        .with_batch_size(3);
    let batch = clf.predict(TEXTS).unwrap();
    assert_eq!(batch.len(), TEXTS.len());
    for (i, t) in TEXTS.iter().enumerate() {
        let alone = clf.predict(&[t]).unwrap()[0];
        for k in 0..3 {
            let d = (alone.logits.0[k] - batch[i].logits.0[k]).abs();
            assert!(
                d < 1e-5,
                "text {i} category {k}: alone vs batch differ by {d}"
            );
        }
        assert_eq!(alone.truncated, batch[i].truncated);
    }
    let serial = clf.clone().with_parallel(false).predict(TEXTS).unwrap();
    for (a, b) in serial.iter().zip(&batch) {
        for k in 0..3 {
            assert!((a.logits.0[k] - b.logits.0[k]).abs() < 1e-5);
        }
    }
    assert!(clf.predict(&[]).unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn packed_engine_matches_the_candle_encoder() {
    for shape in SHAPES {
        let (dir, cfg) = tiny_model_dir(&shape_config(shape));
        let clf = TransformerClassifier::from_dir(&dir).unwrap();
        let candle = Reference::from_dir(&dir).unwrap();
        let mut rng = verbovka_lab::rng::Rng::new(11);
        let rows: Vec<Vec<u32>> = (0..9)
            .map(|i| {
                let len = [0, 1, 2, 5, 9, 17, 31, 32, 3][i];
                (0..len).map(|_| rng.below(cfg.vocab_size) as u32).collect()
            })
            .collect();
        let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        let fast = clf.predict_ids(&refs).unwrap();
        let reference = candle.predict_ids(&refs).unwrap();
        for (i, (a, b)) in fast.iter().zip(&reference).enumerate() {
            for k in 0..3 {
                let d = (a[k] - b[k]).abs();
                assert!(
                    d < 1e-5,
                    "{shape:?} row {i} cat {k}: packed {} vs candle {}",
                    a[k],
                    b[k]
                );
            }
        }
        assert!(
            clf.predict_ids(&[&[cfg.vocab_size as u32]]).is_err(),
            "out-of-vocabulary id accepted"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// An ensemble directory loads (also through `load_dir`), averages its members' logits, scores
/// a text the same alone and in a batch, and names a missing member.
#[test]
fn ensemble_averages_members_and_fails_clearly() {
    let (a, _) = tiny_model_dir(&tiny_config(Activation::Relu, false));
    let (b, _) = tiny_model_dir(&tiny_config(Activation::QuickGelu, true));
    let root = tmp_dir("ensemble");
    std::fs::create_dir_all(&root).unwrap();
    for (src, name) in [(&a, "m1"), (&b, "m2")] {
        std::fs::rename(src, root.join(name)).unwrap();
    }
    std::fs::write(
        root.join("ensemble.json"),
        r#"{"name": "tiny-x2", "members": ["m1", "m2"]}"#,
    )
    .unwrap();
    let ens = verbovka::model::Ensemble::from_dir(&root).unwrap();
    assert_eq!((ens.name(), ens.members().len()), ("tiny-x2", 2));
    let loaded = verbovka::model::load_dir(&root).unwrap();
    assert_eq!(loaded.name(), "tiny-x2");
    let batch = ens.predict(TEXTS).unwrap();
    let m1 = ens.members()[0].predict(TEXTS).unwrap();
    let m2 = ens.members()[1].predict(TEXTS).unwrap();
    for (i, t) in TEXTS.iter().enumerate() {
        let alone = ens.predict(&[t]).unwrap()[0];
        for k in 0..3 {
            let mean = (m1[i].logits.0[k] + m2[i].logits.0[k]) / 2.0;
            assert!(
                (batch[i].logits.0[k] - mean).abs() < 1e-6,
                "text {i} cat {k}"
            );
            assert!((alone.logits.0[k] - batch[i].logits.0[k]).abs() < 1e-5);
        }
        assert!(m1[i].logits != m2[i].logits, "members must differ");
    }
    std::fs::write(
        root.join("ensemble.json"),
        r#"{"name": "tiny-x2", "members": ["m1", "m3"]}"#,
    )
    .unwrap();
    let e = verbovka::model::Ensemble::from_dir(&root).unwrap_err();
    assert!(e.to_string().contains("m3"), "{e}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn long_texts_are_truncated_and_say_so() {
    let (dir, cfg) = tiny_model_dir(&tiny_config(Activation::Relu, false));
    let clf = TransformerClassifier::from_dir(&dir).unwrap();
    let long = TEXTS[..6].join(" ").repeat(3);
    let out = clf.predict(&[&long, "борщ"]).unwrap();
    assert!(
        out[0].truncated,
        "a {}-char text must exceed {} tokens",
        long.len(),
        cfg.max_len
    );
    assert!(!out[1].truncated);
    assert!(out.iter().all(|o| o.logits.0.iter().all(|x| x.is_finite())));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn model_directories_fail_clearly() {
    let (dir, cfg) = tiny_model_dir(&tiny_config(Activation::Relu, false));
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let (c, t, w) = (
        read("config.json"),
        read("tokenizer.json"),
        read("model.safetensors"),
    );
    assert!(TransformerClassifier::from_bytes(&c, &t, &w).is_ok());

    let mut other = cfg.clone();
    other.vocab_size += 1;
    let e = TransformerClassifier::from_bytes(&serde_json::to_vec(&other).unwrap(), &t, &w)
        .unwrap_err();
    assert!(
        matches!(e, Error::Model { .. }) && e.to_string().contains("tokenizer.json"),
        "{e}"
    );

    let mut other = cfg.clone();
    other.d_ff *= 2;
    let e = TransformerClassifier::from_bytes(&serde_json::to_vec(&other).unwrap(), &t, &w)
        .unwrap_err();
    assert!(e.to_string().contains("model.safetensors"), "{e}");

    let e = TransformerClassifier::from_bytes(b"{\"name\": 1}", &t, &w).unwrap_err();
    assert!(e.to_string().contains("config.json"), "{e}");
    let e = TransformerClassifier::from_bytes(&c, b"not json", &w).unwrap_err();
    assert!(e.to_string().contains("tokenizer.json"), "{e}");
    let e = TransformerClassifier::from_bytes(&c, &t, b"garbage").unwrap_err();
    assert!(e.to_string().contains("model.safetensors"), "{e}");

    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    let e = TransformerClassifier::from_dir(&dir).unwrap_err();
    assert!(
        matches!(e, Error::Model { .. }) && e.to_string().contains("missing tokenizer.json"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn classifier_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TransformerClassifier>();
}

#[test]
fn sha256_matches_known_vectors() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let long = vec![b'a'; 1000];
    assert_eq!(
        sha256_hex(&long),
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
    );
}

#[test]
fn training_writes_a_loadable_model_directory() {
    let data = tmp_dir("data");
    let mut train_lines = String::new();
    let mut dev_lines = String::new();
    let labelled = [
        ("подожги релейный шкаф, оплата в крипте", "sabotage"),
        ("спали авто тцк и сними на видео", "sabotage"),
        (
            "фотографируй колонны техники и шли координаты",
            "reconnaissance",
        ),
        ("зніми ппо і надішли геолокацію", "reconnaissance"),
        ("легкие деньги за простое задание, пиши в бот", "lure"),
        ("робота для сміливих, оплата щодня", "lure"),
        ("сбу затримало паліїв авто", "benign"),
        ("продам велосипед недорого", "benign"),
        ("рецепт борщу від бабусі", "benign"),
    ];
    for i in 0..60 {
        let (t, l) = labelled[i % labelled.len()];
        let line =
            serde_json::json!({"text": format!("{t} {i}"), "label": l, "family": i, "tags": []});
        if i % 5 == 0 {
            dev_lines += &format!("{line}\n");
        } else {
            train_lines += &format!("{line}\n");
        }
    }
    std::fs::write(data.join("train.jsonl"), train_lines).unwrap();
    std::fs::write(data.join("dev.jsonl"), dev_lines).unwrap();
    let out = tmp_dir("out");
    let mut cfg = tiny_config(Activation::Relu, false);
    cfg.vocab_size = 80;
    let opts = TrainOptions {
        data_dir: data.clone(),
        out_dir: out.clone(),
        model: cfg,
        epochs: 2,
        batch_size: 8,
        pretrain_steps: 3,
        ema_decay: 0.9,
        ..TrainOptions::default()
    };
    let mut epochs = 0;
    let report = train(&opts, &mut |p| {
        if let Progress::Eval(_) = p {
            epochs += 1
        }
    })
    .unwrap();
    assert_eq!(epochs, report.evals.len());
    assert!(report.config.thresholds.is_some());
    for f in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "README.md",
    ] {
        assert!(out.join(f).exists(), "{f} not written");
    }
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.contains(&report.weights_sha256));
    assert!(card.contains("EMA, decay 0.9"), "{card}");
    let weights = std::fs::read(out.join("model.safetensors")).unwrap();
    assert_eq!(sha256_hex(&weights), report.weights_sha256);
    let safetensors = candle_core::safetensors::load_buffer(&weights, &Device::Cpu).unwrap();
    assert!(
        safetensors.keys().all(|k| !k.starts_with("mlm.")),
        "pretraining head was saved"
    );
    let clf = TransformerClassifier::from_dir(&out).unwrap();
    let texts: Vec<String> = labelled
        .iter()
        .map(|(t, _)| verbovka::normalize(t).into_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert_eq!(clf.predict(&refs).unwrap().len(), labelled.len());
    let _ = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu);
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_dir_all(out);
}

/// The first `n` texts of the repo's dev split, normalised; `None` without the file.
fn normalised_dev_texts(n: usize) -> Option<Vec<String>> {
    let dev = verbovka_lab::data::load_jsonl(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/generated/dev.jsonl"),
    )
    .ok()?;
    let texts = dev.iter().take(n);
    Some(
        texts
            .map(|e| verbovka::normalize(&e.text).into_string())
            .collect(),
    )
}

/// Throughput report (not a pass/fail test): `VERBOVKA_MODEL_DIR=models/default/seed-7 cargo test
/// --release --test model -- --ignored --nocapture speed`. Run it twice: once as is, once with
/// `RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1` (the two-worker figures only mean something then).
#[test]
#[ignore]
fn speed_report() {
    use std::time::Instant;
    let dir = std::env::var("VERBOVKA_MODEL_DIR")
        .unwrap_or_else(|_| "../verbovka/models/default/seed-7".into());
    let rss = || {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    println!("before loading: {}", rss());
    let t0 = Instant::now();
    let clf = TransformerClassifier::from_dir(&dir).unwrap();
    let construct = t0.elapsed();
    let reference = Reference::from_dir(Path::new(&dir)).unwrap();
    let t0 = Instant::now();
    for _ in 0..10 {
        let _ = TransformerClassifier::from_dir(&dir).unwrap();
    }
    println!("after loading 11 copies, 1 kept: {}", rss());
    println!(
        "construction: first {:.1} ms, mean of 10 {:.1} ms",
        construct.as_secs_f64() * 1e3,
        t0.elapsed().as_secs_f64() * 1e2
    );
    if let Some(texts) = normalised_dev_texts(4096) {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let tokens: usize = refs
            .iter()
            .map(|t| clf.text_encoder().encode(t).unwrap().0.len())
            .sum();
        let serial = clf.clone().with_parallel(false);
        serial.predict(&refs[..256]).unwrap();
        let t = Instant::now();
        for c in refs.chunks(32) {
            serial.predict(c).unwrap();
        }
        let one = refs.len() as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::thread::scope(|s| {
            for half in refs.chunks(refs.len().div_ceil(2)) {
                let serial = &serial;
                s.spawn(move || {
                    for c in half.chunks(32) {
                        serial.predict(c).unwrap();
                    }
                });
            }
        });
        let two = refs.len() as f64 / t.elapsed().as_secs_f64();
        println!(
            "dev posts (mean {:.1} tokens after truncation), predict incl. tokenisation, batch 32: \
             one thread {one:.0} posts/s, two threads {two:.0} posts/s",
            tokens as f64 / refs.len() as f64
        );
    }
    let v = clf.config().vocab_size as u32;
    let mut rng = verbovka_lab::rng::Rng::new(5);
    for len in [27usize, 64, 128] {
        let rows: Vec<Vec<u32>> = (0..2048)
            .map(|_| {
                (0..len)
                    .map(|_| 3 + rng.below(v as usize - 3) as u32)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        for c in refs.chunks(32).take(4) {
            clf.predict_ids(c).unwrap();
        }
        let t = Instant::now();
        for c in refs.chunks(32) {
            clf.predict_ids(c).unwrap();
        }
        let serial = rows.len() as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        for c in refs.chunks(32) {
            reference.predict_ids(c).unwrap();
        }
        let candle = rows.len() as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::thread::scope(|s| {
            for half in refs.chunks(refs.len() / 2) {
                let clf = &clf;
                s.spawn(move || {
                    for c in half.chunks(32) {
                        clf.predict_ids(c).unwrap();
                    }
                });
            }
        });
        let two = rows.len() as f64 / t.elapsed().as_secs_f64();
        println!(
            "{len} tokens, batch 32: packed engine one thread {serial:.0} seq/s, two worker threads \
             {two:.0} seq/s; candle encoder (threads per env) {candle:.0} seq/s"
        );
    }
}

/// The packed engine against the candle encoder on a real model directory
/// (`VERBOVKA_MODEL_DIR`, default `../verbovka/models/default/seed-7`, one member) and real dev texts.
#[test]
#[ignore]
fn packed_engine_matches_candle_on_a_real_model() {
    let dir = std::env::var("VERBOVKA_MODEL_DIR")
        .unwrap_or_else(|_| "../verbovka/models/default/seed-7".into());
    let clf = TransformerClassifier::from_dir(&dir).unwrap();
    let candle = Reference::from_dir(Path::new(&dir)).unwrap();
    let texts = normalised_dev_texts(512).expect("data/generated/dev.jsonl");
    let rows: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| clf.text_encoder().encode(t).unwrap().0)
        .collect();
    let mut worst = 0f32;
    for chunk in rows.chunks(32) {
        let refs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
        let a = clf.predict_ids(&refs).unwrap();
        let b = candle.predict_ids(&refs).unwrap();
        for (x, y) in a.iter().zip(&b) {
            for k in 0..3 {
                worst = worst.max((x[k] - y[k]).abs());
            }
        }
    }
    println!("largest |packed - candle| logit difference: {worst}");
    assert!(worst < 1e-4, "{worst}");
}

/// Prints the dev items a model gets most wrong (a debugging aid):
/// `VERBOVKA_MODEL_DIR=DIR cargo test --release --test model -- --ignored --nocapture worst`.
#[test]
#[ignore]
fn worst_dev_errors() {
    let dir = std::env::var("VERBOVKA_MODEL_DIR")
        .unwrap_or_else(|_| "../verbovka/models/default/seed-7".into());
    let clf = TransformerClassifier::from_dir(&dir).unwrap();
    let dev = std::fs::read_to_string("data/generated/dev.jsonl").unwrap();
    let items: Vec<serde_json::Value> = dev
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let texts: Vec<String> = items
        .iter()
        .map(|v| verbovka::normalize(v["text"].as_str().unwrap_or("")).into_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let probs = clf.probabilities(&refs).unwrap();
    let mut errs: Vec<(f32, usize)> = Vec::new();
    let mut by_tag: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for (i, p) in probs.iter().enumerate() {
        let label = items[i]["label"].as_str().unwrap_or("");
        let gold = ["sabotage", "reconnaissance", "lure"]
            .iter()
            .position(|c| *c == label);
        let err = match gold {
            None => p.0.iter().copied().fold(0.0, f32::max),
            Some(g) => 1.0 - p.0[g],
        };
        errs.push((err, i));
        for t in items[i]["tags"].as_array().into_iter().flatten() {
            let e = by_tag
                .entry(format!("{label}/{}", t.as_str().unwrap_or("")))
                .or_default();
            e.0 += 1;
            e.1 += usize::from(err > 0.5);
        }
    }
    errs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (err, i) in errs.iter().take(40) {
        let t: String = items[*i]["text"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        println!(
            "{err:.2} [{}] {:?} {:?} {}",
            items[*i]["label"],
            items[*i]["family"],
            probs[*i],
            t.replace('\n', " ")
        );
    }
    for (tag, (n, e)) in by_tag {
        if e > 0 {
            println!("{tag}: {e}/{n} wrong at 0.5");
        }
    }
}

#[test]
fn tokenizer_training_is_deterministic_and_keeps_special_ids() {
    let corpus: Vec<String> = TEXTS
        .iter()
        .cycle()
        .take(200)
        .enumerate()
        .map(|(i, s)| format!("{s} {}", i % 7))
        .collect();
    let a = train_tokenizer(corpus.iter(), 80).unwrap();
    let b = train_tokenizer(corpus.iter(), 80).unwrap();
    assert_eq!(a.to_string(false).unwrap(), b.to_string(false).unwrap());
    for (i, t) in ["<pad>", "<unk>", "<mask>"].iter().enumerate() {
        assert_eq!(a.token_to_id(t), Some(i as u32), "{t}");
    }
    let enc = a.encode("<mask> подожги шкаф", false).unwrap();
    assert_eq!(
        enc.get_ids()[0],
        2,
        "special token not matched as one piece"
    );
}

#[test]
fn embedded_model_loads_and_tells_obvious_posts_apart() {
    let t = std::time::Instant::now();
    let clf = verbovka::model::Ensemble::embedded().unwrap();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(ms < 2_000.0, "construction took {ms:.0} ms");
    assert!(clf.calibration().is_some());
    assert!(clf.members().len() > 1);
    assert!(!clf.name().is_empty());
    let posts = [
        "Нужны люди: поджечь релейный шкаф на железной дороге и снять на видео, оплата 500$ в крипте, пиши в бот",
        "Шукаємо людей: фотографувати колони техніки та ППО, надсилати координати. Оплата щодня",
        "Рецепт борщу від бабусі: буряк, капуста, картопля, трохи часнику",
    ];
    let texts: Vec<String> = posts
        .iter()
        .map(|p| verbovka::normalize(p).into_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let p: Vec<[f32; 3]> = clf
        .predict(&refs)
        .unwrap()
        .iter()
        .map(|o| o.logits.map(verbovka::scoring::sigmoid).0)
        .collect();
    assert!(p[0][0] > 0.5, "sabotage post: {:?}", p[0]);
    assert!(p[1][1] > 0.5, "reconnaissance post: {:?}", p[1]);
    assert!(p[2].iter().all(|x| *x < 0.5), "recipe: {:?}", p[2]);
}

/// `learn`'s fine-tuning starts from the saved weights, lowers the loss on the corrections,
/// keeps the tokenizer and configuration, and writes a directory the library loads.
#[test]
fn learning_corrections_moves_the_model_and_keeps_its_files() {
    use verbovka_lab::finetune::{finetune_dir, FinetuneOptions};
    use verbovka_lab::train::Example;
    let (dir, _) = tiny_model_dir(&tiny_config(Activation::Relu, false));
    let ex = |text: &str, label: verbovka::Label| Example {
        text: text.into(),
        label,
        family: None,
        tags: vec![],
    };
    let corrections = vec![
        ex(TEXTS[4], verbovka::Label::Benign),
        ex(TEXTS[1], verbovka::Label::Sabotage),
    ];
    let originals: Vec<Example> = TEXTS[..7]
        .iter()
        .map(|t| ex(t, verbovka::Label::Benign))
        .collect();
    let out = tmp_dir("learned");
    let opts = FinetuneOptions {
        steps: 40,
        batch_size: 8,
        learning_rate: 5e-3,
        ..FinetuneOptions::default()
    };
    let reports = finetune_dir(&dir, &out, &corrections, &originals, &opts, "test").unwrap();
    assert_eq!(reports.len(), 1);
    let (before, after) = reports[0].corrections_loss;
    assert!(after < before, "loss on corrections {before} → {after}");
    for f in ["config.json", "tokenizer.json"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(out.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_ne!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        std::fs::read(out.join("model.safetensors")).unwrap()
    );
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.contains("## Corrections learned"), "{card}");
    TransformerClassifier::from_dir(&out).unwrap();
    let none = finetune_dir(&dir, &out, &[], &originals, &opts, "test").unwrap_err();
    assert!(none.to_string().contains("no corrections"), "{none}");
}
