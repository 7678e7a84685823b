//! Training the shipped model: tokenizer, optional masked-LM pretraining on background corpora,
//! classification fine-tuning with early stopping, threshold choice on dev, and the model files.
//!
//! The library never prints: progress goes to a callback. Parallelism: each step's batch is split
//! over [`TrainOptions::workers`] OS threads that each run candle on their share and return
//! gradients, which are averaged (TECH-NOTES: 1.5× over candle's own threads on 2 cores when the
//! process runs with `RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1`, which the `train` example sets).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use verbovka::model::{
    Ensemble, ModelConfig, TextEncoder, Transformer, TransformerClassifier, CONFIG_FILE,
    TOKENIZER_FILE, WEIGHTS_FILE,
};

use crate::card::{render_card, sha256_hex, today_utc};
use crate::metrics::{choose_thresholds, evaluate, Metrics};
use crate::nn::{pad_batch, Encoder, Pass};
use crate::rng::Rng;
use crate::tokenizer::{train_tokenizer, MASK, PAD};
use crate::{Category, Error, Label, Result};
use verbovka::scoring::sigmoid;

/// One labelled line of `train.jsonl` / `dev.jsonl` / `test.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The post (raw; normalised before use).
    pub text: String,
    /// Gold label.
    pub label: Label,
    /// Seed family (all variants of one seed share it).
    #[serde(default)]
    pub family: Option<serde_json::Value>,
    /// Free tags such as `hard`, `obfuscated`, `background`.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Reads a labelled JSONL file (blank lines skipped; other fields ignored).
pub fn read_examples(path: &Path) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ex: Example = serde_json::from_str(line).map_err(|e| verbovka::Error::Data {
            origin: format!("{}:{}", path.display(), i + 1),
            message: e.to_string(),
        })?;
        out.push(ex);
    }
    Ok(out)
}

/// The normalisation applied to every text before tokenisation (training and inference alike):
/// [`verbovka::normalize()`].
pub fn normalise(text: &str) -> String {
    verbovka::normalize(text).into_string()
}

/// Lines of background text sampled from a corpora directory.
#[derive(Debug, Clone)]
pub struct CorpusSample {
    /// File name inside the directory.
    pub file: String,
    /// Sampled, normalised lines.
    pub lines: Vec<String>,
}

/// Samples up to `per_file` non-empty lines from every `*.txt` / `*.jsonl` (field `text`) file
/// of `dir`, deterministically from `seed`, and normalises them. Refuses a path through a
/// directory named `heldout`.
pub fn sample_corpora(dir: &Path, per_file: usize, seed: u64) -> Result<Vec<CorpusSample>> {
    if dir.components().any(|c| c.as_os_str() == "heldout") {
        return Err(verbovka::Error::Config(format!(
            "{} is a held-out directory and must not be used for training",
            dir.display()
        ))
        .into());
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt" || x == "jsonl"))
        .collect();
    names.sort();
    let mut rng = Rng::new(seed ^ 0xC0_4B05);
    let mut out = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let is_jsonl = path.extension().is_some_and(|x| x == "jsonl");
        let mut lines: Vec<String> = text
            .lines()
            .filter_map(|l| {
                if is_jsonl {
                    serde_json::from_str::<serde_json::Value>(l)
                        .ok()
                        .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
                } else {
                    Some(l.to_string())
                }
            })
            .filter(|l| l.trim().chars().count() >= 8)
            .collect();
        rng.shuffle(&mut lines);
        lines.truncate(per_file);
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(CorpusSample {
            file,
            lines: lines.iter().map(|l| normalise(l)).collect(),
        });
    }
    Ok(out)
}

/// Everything that controls a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Directory with `train.jsonl`, `dev.jsonl` (and optionally `test.jsonl`, only reported).
    pub data_dir: PathBuf,
    /// Background corpora (tokenizer training and masked-LM pretraining); `None` for none.
    pub corpora_dir: Option<PathBuf>,
    /// Where the model files go.
    pub out_dir: PathBuf,
    /// Architecture; `vocab_size` is the requested tokenizer size, `pad_id` is set by training.
    pub model: ModelConfig,
    /// Maximum fine-tuning epochs.
    pub epochs: usize,
    /// Dev evaluations per epoch (early stopping and weight selection happen at these points).
    pub evals_per_epoch: usize,
    /// Stop after this many evaluations without a better dev loss.
    pub patience: usize,
    /// Share of a training text's tokens deleted at random in each step (augmentation).
    pub token_dropout: f32,
    /// Label smoothing: training targets become `eps/2` and `1 − eps/2`, which bounds the
    /// logits (the dev set's unseen seed families are otherwise missed with p ≈ 0.0005).
    pub label_smoothing: f32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Examples per optimisation step.
    pub batch_size: usize,
    /// Peak learning rate (AdamW; linear warm-up, cosine decay to 10 %).
    pub learning_rate: f64,
    /// Decoupled weight decay of the matrices (not of norms, biases or positions).
    pub weight_decay: f64,
    /// Share of steps used for warm-up.
    pub warmup_fraction: f64,
    /// Dropout probability in training.
    pub dropout: f32,
    /// Gradient clipping by global norm.
    pub clip_norm: f32,
    /// Decay of an exponential moving average of the weights (0: off). With it, dev
    /// evaluation, early stopping and the saved model use the averaged weights, which smooths
    /// the step-to-step swings of the dev loss at a high learning rate.
    pub ema_decay: f64,
    /// OS threads per step.
    pub workers: usize,
    /// Lines sampled per corpus file.
    pub corpus_lines_per_file: usize,
    /// Masked-LM pretraining steps before fine-tuning (0: none).
    pub pretrain_steps: usize,
    /// Trained models (directories) whose averaged predictions on the training texts become
    /// part of the targets (distillation): an ensemble generalises better to unseen seed
    /// families than any one member, and one student keeps one model's speed. Empty: none.
    pub teachers: Vec<PathBuf>,
    /// With teachers, the share of the target taken from them: target =
    /// `(1 − w)·smoothed label + w·σ(mean teacher logit)`.
    pub distill_weight: f32,
    /// Use only the first N training examples (quick experiments).
    pub max_train: Option<usize>,
    /// The command line, for the model card.
    pub command: String,
    /// Extra Markdown appended to the model card under "Notes" (e.g. how the settings were
    /// chosen).
    pub card_notes: Option<String>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            data_dir: PathBuf::from("crates/verbovka-lab/data/generated"),
            corpora_dir: None,
            out_dir: PathBuf::from("crates/verbovka-lab/trained"),
            model: ModelConfig::default(),
            epochs: 2,
            evals_per_epoch: 4,
            patience: 3,
            token_dropout: 0.15,
            label_smoothing: 0.1,
            seed: 42,
            batch_size: 32,
            learning_rate: 5e-4,
            weight_decay: 0.05,
            warmup_fraction: 0.05,
            dropout: 0.2,
            clip_norm: 1.0,
            ema_decay: 0.0,
            workers: 2,
            corpus_lines_per_file: 20_000,
            pretrain_steps: 0,
            teachers: Vec::new(),
            distill_weight: 0.5,
            max_train: None,
            command: String::new(),
            card_notes: None,
        }
    }
}

/// Which optimisation phase a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Masked-LM pretraining.
    Pretrain,
    /// Classification fine-tuning (epoch number from 1).
    Finetune(usize),
}

/// Figures at one dev evaluation during fine-tuning.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Epoch number from 1.
    pub epoch: usize,
    /// Optimisation steps done so far.
    pub step: usize,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f32,
    /// Mean dev loss (the early-stopping criterion).
    pub dev_loss: f32,
    /// Dev figures at thresholds 0.5.
    pub dev: Metrics,
    /// Seconds since fine-tuning began.
    pub seconds: f32,
}

/// What training reports as it goes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Progress {
    /// A stage begins (human-readable).
    Stage(String),
    /// A phase of `total` optimisation steps begins.
    PhaseStart {
        /// The phase.
        phase: Phase,
        /// Its number of steps.
        total: usize,
    },
    /// One optimisation step finished.
    Step {
        /// The phase.
        phase: Phase,
        /// Steps done in this phase.
        step: usize,
        /// Steps in this phase.
        total: usize,
        /// Running mean loss.
        loss: f32,
    },
    /// A dev evaluation finished.
    Eval(Box<EvalReport>),
}

/// The outcome of [`train`], also rendered into the model card.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Final configuration (with vocabulary size, pad id and thresholds).
    pub config: ModelConfig,
    /// Examples per label in train / dev / test.
    pub label_counts: Vec<(String, [usize; 4])>,
    /// Tags counts in train (for the card).
    pub train_tags: Vec<(String, usize)>,
    /// Corpus files and lines used (tokenizer and pretraining).
    pub corpora: Vec<(String, usize)>,
    /// Mean tokens per training text and the share truncated.
    pub mean_tokens: f32,
    /// Share of training texts longer than `max_len` tokens.
    pub truncated_share: f32,
    /// Pretraining steps and final masked-LM loss.
    pub pretrain: Option<(usize, f32)>,
    /// Figures at every dev evaluation.
    pub evals: Vec<EvalReport>,
    /// The optimisation step whose weights were kept.
    pub best_step: usize,
    /// Optimisation steps in one epoch.
    pub steps_per_epoch: usize,
    /// Dev evaluations per epoch.
    pub evals_per_epoch: usize,
    /// Dev figures of the kept weights at thresholds 0.5.
    pub dev_at_half: Metrics,
    /// Dev figures at the chosen thresholds.
    pub dev: Metrics,
    /// Test figures at the chosen thresholds (reported only, never used for choices).
    pub test: Option<Metrics>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f32,
    /// SHA-256 of `model.safetensors`.
    pub weights_sha256: String,
    /// Size of `model.safetensors` in bytes.
    pub weights_bytes: usize,
    /// Options that shaped the run.
    pub options: TrainSummary,
}

/// The training options worth printing in a model card.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// See [`TrainOptions::seed`].
    pub seed: u64,
    /// See [`TrainOptions::epochs`].
    pub epochs: usize,
    /// See [`TrainOptions::batch_size`].
    pub batch_size: usize,
    /// See [`TrainOptions::learning_rate`].
    pub learning_rate: f64,
    /// See [`TrainOptions::dropout`].
    pub dropout: f32,
    /// See [`TrainOptions::token_dropout`].
    pub token_dropout: f32,
    /// See [`TrainOptions::label_smoothing`].
    pub label_smoothing: f32,
    /// See [`TrainOptions::weight_decay`].
    pub weight_decay: f64,
    /// See [`TrainOptions::ema_decay`].
    pub ema_decay: f64,
    /// See [`TrainOptions::pretrain_steps`].
    pub pretrain_steps: usize,
    /// Teacher directories (as given) and [`TrainOptions::distill_weight`]; empty: none.
    pub teachers: Vec<String>,
    /// See [`TrainOptions::distill_weight`].
    pub distill_weight: f32,
    /// See [`TrainOptions::command`].
    pub command: String,
}

/// Creates the classifier's variables with seeded initial values: normal(0, 0.02) matrices and
/// embeddings, unit layer-norm scales, zero biases. Returns the variable map and the encoder.
pub fn init_model(cfg: &ModelConfig, seed: u64) -> Result<(VarMap, Encoder)> {
    cfg.validate()?;
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    Encoder::load(vb.clone(), cfg)?;
    reinit(&varmap, seed)?;
    let encoder = Encoder::load(vb, cfg)?;
    Ok((varmap, encoder))
}

pub(crate) fn sorted_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap
        .data()
        .lock()
        .map_or_else(|e| e.into_inner().clone(), |d| d.clone());
    let mut v: Vec<(String, Var)> = data.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn reinit(varmap: &VarMap, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    for (name, var) in sorted_vars(varmap) {
        let shape = var.shape().clone();
        let n = shape.elem_count();
        let values: Vec<f32> = if name.ends_with(".bias") {
            vec![0.0; n]
        } else if name.contains("ln") {
            vec![1.0; n]
        } else {
            (0..n).map(|_| 0.02 * rng.normal()).collect()
        };
        var.set(&Tensor::from_vec(values, shape, &Device::Cpu)?)?;
    }
    Ok(())
}

/// Numerically stable binary cross-entropy with logits, mean over all elements:
/// `max(x,0) − x·y + ln(1 + e^{−|x|})`. Differentiable.
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let softplus_neg_abs = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((logits.relu()? - (logits * targets)?)? + softplus_neg_abs)?.mean_all()
}

pub(crate) fn targets_of(label: Label) -> [f32; 3] {
    let mut t = [0f32; 3];
    if let Some(c) = label.category() {
        t[c.index()] = 1.0;
    }
    t
}

/// `σ` of the teachers' mean logit per text and category (the teachers as one [`Ensemble`]).
fn teacher_probabilities(teachers: &[PathBuf], texts: &[String]) -> Result<Vec<[f32; 3]>> {
    let members = teachers
        .iter()
        .map(TransformerClassifier::from_dir)
        .collect::<verbovka::Result<Vec<_>>>()?;
    let ensemble = Ensemble::new("teachers", members)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    Ok(verbovka::Classifier::predict(&ensemble, &refs)?
        .iter()
        .map(|o| o.logits.map(sigmoid).0)
        .collect())
}

/// The distillation target: `(1 − w)·label + w·teacher`.
fn distill(label: [f32; 3], teacher: [f32; 3], w: f32) -> [f32; 3] {
    std::array::from_fn(|c| (1.0 - w) * label[c] + w * teacher[c])
}

/// Moves 0/1 targets `eps/2` towards 1/2 (label smoothing for independent sigmoids).
pub(crate) fn smooth(t: [f32; 3], eps: f32) -> [f32; 3] {
    t.map(|y| y * (1.0 - eps) + eps / 2.0)
}

/// Classification loss of one batch of token rows, with differentiable kernels.
pub fn classification_loss(
    encoder: &Encoder,
    rows: &[&[u32]],
    targets: &[[f32; 3]],
    pad_id: u32,
    pass: &mut Pass,
) -> Result<Tensor> {
    let device = Device::Cpu;
    let (ids, mask) = pad_batch(rows, pad_id, &device)?;
    let logits = encoder.forward(&ids, &mask, pass)?;
    let flat: Vec<f32> = targets.iter().flatten().copied().collect();
    let y = Tensor::from_vec(flat, (targets.len(), 3), &device)?;
    Ok(bce_with_logits(&logits, &y)?)
}

/// AdamW over named variables, with per-variable weight decay.
pub(crate) struct AdamW {
    vars: Vec<Var>,
    decay: Vec<bool>,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
    t: i32,
    weight_decay: f64,
}

impl AdamW {
    pub(crate) fn new(vars: &[(String, Var)], weight_decay: f64) -> Self {
        let decay = vars
            .iter()
            .map(|(n, _)| n.ends_with(".weight") && !n.contains("ln") || n == "embeddings.word")
            .collect();
        AdamW {
            vars: vars.iter().map(|(_, v)| v.clone()).collect(),
            decay,
            m: vec![None; vars.len()],
            v: vec![None; vars.len()],
            t: 0,
            weight_decay,
        }
    }

    pub(crate) fn step(&mut self, grads: &[Option<Tensor>], lr: f64) -> Result<()> {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.t += 1;
        let c1 = 1.0 / (1.0 - B1.powi(self.t));
        let c2 = 1.0 / (1.0 - B2.powi(self.t));
        for (i, g) in grads.iter().enumerate() {
            let Some(g) = g else { continue };
            let m = match &self.m[i] {
                Some(m) => ((m * B1)? + (g * (1.0 - B1))?)?,
                None => (g * (1.0 - B1))?,
            };
            let v = match &self.v[i] {
                Some(v) => ((v * B2)? + (g.sqr()? * (1.0 - B2))?)?,
                None => (g.sqr()? * (1.0 - B2))?,
            };
            let update = ((&m * c1)? / ((&v * c2)?.sqrt()? + 1e-8)?)?;
            let theta = self.vars[i].as_tensor();
            let decayed = if self.decay[i] {
                (theta * (1.0 - lr * self.weight_decay))?
            } else {
                theta.copy()?
            };
            let next = (decayed - (update * lr)?)?;
            self.vars[i].set(&next)?;
            self.m[i] = Some(m);
            self.v[i] = Some(v);
        }
        Ok(())
    }
}

/// What one optimisation step needs besides the batch (see [`step`]).
pub(crate) struct StepSettings {
    pub pad_id: u32,
    pub token_dropout: f32,
    pub dropout: f32,
    pub clip_norm: f32,
    pub workers: usize,
}

/// One optimisation step of training and of `learn`'s fine-tuning: the batch of (token row,
/// target) split over `workers` threads, each deleting tokens and drawing dropout from its
/// own seed (drawn from `rng` in part order), gradients averaged, clipped, one AdamW step at
/// `lr`. Returns the batch's mean loss.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step(
    encoder: &Encoder,
    vars: &[(String, Var)],
    opt: &mut AdamW,
    items: &[(&[u32], [f32; 3])],
    s: &StepSettings,
    lr: f64,
    rng: &mut Rng,
) -> Result<f32> {
    let ranges = split_ranges(items.len(), s.workers);
    let seeds: Vec<u64> = (0..ranges.len()).map(|_| rng.next_u64()).collect();
    let parts = run_parts(ranges.len(), |w| {
        let part = &items[ranges[w].clone()];
        let mut r = Rng::new(seeds[w]);
        let rows: Vec<Vec<u32>> = part
            .iter()
            .map(|(row, _)| drop_tokens(row, s.token_dropout, &mut r))
            .collect();
        let rows: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        let targets: Vec<[f32; 3]> = part.iter().map(|(_, t)| *t).collect();
        let mut pass = Pass::training(s.dropout, r.next_u64());
        let loss = classification_loss(encoder, &rows, &targets, s.pad_id, &mut pass)?;
        let grads = loss.backward()?;
        let g = vars
            .iter()
            .map(|(_, v)| grads.get(v.as_tensor()).cloned())
            .collect();
        Ok((g, loss.to_scalar::<f32>()?, part.len()))
    })?;
    let (mut grads, loss) = combine(parts)?;
    clip(&mut grads, s.clip_norm)?;
    opt.step(&grads, lr)?;
    Ok(loss)
}

/// Runs `f(part)` for `parts` parts on as many scoped OS threads (inline for one part).
pub(crate) fn run_parts<T: Send, F: Fn(usize) -> Result<T> + Sync>(
    parts: usize,
    f: F,
) -> Result<Vec<T>> {
    if parts <= 1 {
        return Ok(vec![f(0)?]);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..parts)
            .map(|i| {
                let f = &f;
                s.spawn(move || f(i))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| verbovka::Error::Config("a training worker panicked".into()))?
            })
            .collect()
    })
}

/// Splits `n` items into `parts` contiguous ranges of near-equal size (no empty range).
pub(crate) fn split_ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    (0..parts)
        .map(|i| (i * n / parts)..((i + 1) * n / parts))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Gradients of a loss computed in parts; each part returns (grads per var, loss, weight).
pub(crate) fn combine(
    parts: Vec<(Vec<Option<Tensor>>, f32, usize)>,
) -> Result<(Vec<Option<Tensor>>, f32)> {
    let total: usize = parts.iter().map(|p| p.2).sum::<usize>().max(1);
    let n_vars = parts.first().map_or(0, |p| p.0.len());
    let mut out: Vec<Option<Tensor>> = vec![None; n_vars];
    let mut loss = 0.0;
    for (grads, l, w) in parts {
        let share = w as f64 / total as f64;
        loss += l * share as f32;
        for (o, g) in out.iter_mut().zip(grads) {
            if let Some(g) = g {
                let g = (g * share)?;
                *o = Some(match o.take() {
                    Some(acc) => (acc + g)?,
                    None => g,
                });
            }
        }
    }
    Ok((out, loss))
}

pub(crate) fn clip(grads: &mut [Option<Tensor>], max_norm: f32) -> Result<f32> {
    let mut sq = 0f32;
    for g in grads.iter().flatten() {
        sq += g.sqr()?.sum_all()?.to_scalar::<f32>()?;
    }
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let s = (max_norm / norm) as f64;
        for g in grads.iter_mut() {
            if let Some(t) = g.take() {
                *g = Some((t * s)?);
            }
        }
    }
    Ok(norm)
}

pub(crate) fn schedule(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let p = (step - warmup) as f64 / (total - warmup).max(1) as f64;
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p.min(1.0)).cos()))
}

/// Length-bucketed batches: shuffle, sort pools of 50 batches by length, cut, shuffle batches.
fn make_batches(lengths: &[usize], batch: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    rng.shuffle(&mut idx);
    let mut batches = Vec::new();
    for pool in idx.chunks(batch * 50) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| lengths[i]);
        batches.extend(pool.chunks(batch).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// Deletes each token with probability `p` (keeping at least one).
pub(crate) fn drop_tokens(row: &[u32], p: f32, rng: &mut Rng) -> Vec<u32> {
    if p <= 0.0 || row.len() < 2 {
        return row.to_vec();
    }
    let kept: Vec<u32> = row.iter().copied().filter(|_| rng.uniform() >= p).collect();
    if kept.is_empty() {
        vec![row[rng.below(row.len())]]
    } else {
        kept
    }
}

/// Logits of token rows by the packed inference engine built from the current variables,
/// batches of 32 spread over `workers` threads; output in input order.
/// Exponential moving average of the trainable weights (`TrainOptions::ema_decay`). The
/// decay ramps up as `min(d, (1 + t) / (10 + t))` so early averages are not dominated by the
/// random initialisation.
struct Ema {
    decay: f64,
    avg: Vec<Tensor>,
}

impl Ema {
    fn new(vars: &[(String, Var)], decay: f64) -> Result<Option<Self>> {
        if decay == 0.0 {
            return Ok(None);
        }
        // Detached copies: a tensor derived from a `Var` records its op, and a running average
        // of such tensors would keep every step's weights alive through that chain.
        let avg = vars
            .iter()
            .map(|(_, v)| v.as_tensor().copy().map(|t| t.detach()))
            .collect::<candle_core::Result<_>>()?;
        Ok(Some(Ema { decay, avg }))
    }

    fn update(&mut self, vars: &[(String, Var)], step: usize) -> Result<()> {
        let d = self.decay.min((1.0 + step as f64) / (10.0 + step as f64));
        for (a, (_, v)) in self.avg.iter_mut().zip(vars) {
            *a = (a.affine(d, 0.0)? + v.as_tensor().detach().affine(1.0 - d, 0.0)?)?;
        }
        Ok(())
    }

    /// Puts the averaged weights into `vars` and returns the live ones.
    fn swap_in(&self, vars: &[(String, Var)]) -> Result<Vec<Tensor>> {
        let mut live = Vec::with_capacity(vars.len());
        for ((_, v), a) in vars.iter().zip(&self.avg) {
            live.push(v.as_tensor().copy()?.detach());
            v.set(a)?;
        }
        Ok(live)
    }
}

pub(crate) fn predict_fast(
    cfg: &ModelConfig,
    vars: &[(String, Var)],
    rows: &[Vec<u32>],
    workers: usize,
) -> Result<Vec<[f32; 3]>> {
    let weights =
        safetensors::serialize(vars.iter().map(|(n, v)| (n.as_str(), v.as_tensor())), None)?;
    let fast = Transformer::from_safetensors(cfg, &weights)?;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i].len());
    let chunks: Vec<&[usize]> = order.chunks(32).collect();
    let workers = workers.clamp(1, chunks.len().max(1));
    let parts = run_parts(workers, |w| {
        let mut out = Vec::new();
        for chunk in chunks.iter().skip(w).step_by(workers) {
            let r: Vec<&[u32]> = chunk.iter().map(|&i| rows[i].as_slice()).collect();
            out.extend(chunk.iter().copied().zip(fast.forward(&r, cfg.pad_id)?));
        }
        Ok(out)
    })?;
    let mut logits = vec![[0f32; 3]; rows.len()];
    for (i, l) in parts.into_iter().flatten() {
        logits[i] = l;
    }
    Ok(logits)
}

pub(crate) fn mean_bce(logits: &[[f32; 3]], labels: &[Label]) -> f32 {
    let mut s = 0f64;
    for (l, y) in logits.iter().zip(labels) {
        let t = targets_of(*y);
        for k in 0..3 {
            let x = l[k] as f64;
            s += x.max(0.0) - x * t[k] as f64 + (-x.abs()).exp().ln_1p();
        }
    }
    (s / (3 * labels.len().max(1)) as f64) as f32
}

/// Masked-LM pretraining: predicts 15 % of tokens (80 % `<mask>`, 10 % random, 10 % kept) with
/// an output layer tied to the word embeddings plus a bias `mlm.bias`.
#[allow(clippy::too_many_arguments)]
fn pretrain(
    encoder: &Encoder,
    varmap: &VarMap,
    rows: &[Vec<u32>],
    cfg: &ModelConfig,
    mask_id: u32,
    opts: &TrainOptions,
    rng: &mut Rng,
    progress: &mut dyn FnMut(Progress),
) -> Result<f32> {
    let vb = VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu);
    let bias = vb.get(cfg.vocab_size, "mlm.bias")?;
    let vars = sorted_vars(varmap);
    let mut opt = AdamW::new(&vars, opts.weight_decay);
    let total = opts.pretrain_steps;
    let warmup = (total / 20).max(1);
    let batch = opts.batch_size * 2;
    let first_normal = 3u32;
    progress(Progress::PhaseStart {
        phase: Phase::Pretrain,
        total,
    });
    let mut running = 0f32;
    for step in 0..total {
        let mut picked: Vec<&[u32]> = (0..batch)
            .map(|_| rows[rng.below(rows.len())].as_slice())
            .collect();
        picked.sort_by_key(|r| r.len());
        let seeds: Vec<u64> = (0..opts.workers).map(|_| rng.next_u64()).collect();
        let ranges = split_ranges(picked.len(), opts.workers);
        let parts = run_parts(ranges.len(), |w| {
            let part = &picked[ranges[w].clone()];
            let mut r = Rng::new(seeds[w]);
            let mut inputs: Vec<Vec<u32>> = Vec::with_capacity(part.len());
            let t = part.iter().map(|p| p.len()).max().unwrap_or(1).max(1);
            let (mut positions, mut targets) = (Vec::new(), Vec::new());
            for (b, row) in part.iter().enumerate() {
                let mut ids = row.to_vec();
                let mut any = false;
                for j in 0..ids.len() {
                    let last_chance = !any && j + 1 == ids.len();
                    if r.uniform() < 0.15 || last_chance {
                        any = true;
                        positions.push((b * t + j) as u32);
                        targets.push(ids[j]);
                        let u = r.uniform();
                        if u < 0.8 {
                            ids[j] = mask_id;
                        } else if u < 0.9 {
                            ids[j] = first_normal
                                + r.below(cfg.vocab_size - first_normal as usize) as u32;
                        }
                    }
                }
                inputs.push(ids);
            }
            let refs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
            let (ids, mask) = pad_batch(&refs, cfg.pad_id, &Device::Cpu)?;
            let mut pass = Pass::training(opts.dropout, r.next_u64());
            let h = encoder.hidden(&ids, &mask, &mut pass)?;
            let (bsz, tt, d) = h.dims3()?;
            let n = positions.len();
            let pos = Tensor::from_vec(positions, n, &Device::Cpu)?;
            let sel = h.reshape((bsz * tt, d))?.index_select(&pos, 0)?;
            let logits = sel
                .matmul(&encoder.word_embeddings().t()?)?
                .broadcast_add(&bias)?;
            let y = Tensor::from_vec(targets, n, &Device::Cpu)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            let grads = loss.backward()?;
            let g = vars
                .iter()
                .map(|(_, v)| grads.get(v.as_tensor()).cloned())
                .collect();
            Ok((g, loss.to_scalar::<f32>()?, n))
        })?;
        let (mut grads, loss) = combine(parts)?;
        clip(&mut grads, opts.clip_norm)?;
        opt.step(&grads, schedule(step, total, warmup, opts.learning_rate))?;
        running = if step == 0 {
            loss
        } else {
            0.98 * running + 0.02 * loss
        };
        progress(Progress::Step {
            phase: Phase::Pretrain,
            step: step + 1,
            total,
            loss: running,
        });
    }
    Ok(running)
}

/// Trains tokenizer and model from `opts.data_dir`, writes `config.json`, `tokenizer.json`,
/// `model.safetensors` and `README.md` (model card) into `opts.out_dir`.
pub fn train(opts: &TrainOptions, progress: &mut dyn FnMut(Progress)) -> Result<TrainReport> {
    let started = Instant::now();
    if opts.batch_size == 0 || opts.workers == 0 || opts.epochs == 0 {
        return Err(verbovka::Error::Config(
            "batch_size, workers and epochs must be positive".into(),
        )
        .into());
    }
    if !(0.0..1.0).contains(&opts.ema_decay) {
        return Err(verbovka::Error::Config(format!(
            "ema_decay must be in [0, 1), got {}",
            opts.ema_decay
        ))
        .into());
    }
    opts.model.validate()?;
    progress(Progress::Stage("reading data".into()));
    let mut train_set = read_examples(&opts.data_dir.join("train.jsonl"))?;
    if let Some(n) = opts.max_train {
        let mut rng = Rng::new(opts.seed ^ 0x5EED);
        rng.shuffle(&mut train_set);
        train_set.truncate(n);
    }
    let dev_set = read_examples(&opts.data_dir.join("dev.jsonl"))?;
    let test_path = opts.data_dir.join("test.jsonl");
    let test_set = if test_path.exists() {
        Some(read_examples(&test_path)?)
    } else {
        None
    };
    if train_set.is_empty() || dev_set.is_empty() {
        return Err(verbovka::Error::Data {
            origin: opts.data_dir.display().to_string(),
            message: "train.jsonl and dev.jsonl must not be empty".into(),
        }
        .into());
    }
    let norm =
        |set: &[Example]| -> Vec<String> { set.iter().map(|e| normalise(&e.text)).collect() };
    let train_texts = norm(&train_set);
    let dev_texts = norm(&dev_set);
    let teacher_probs = if opts.teachers.is_empty() {
        None
    } else {
        progress(Progress::Stage(format!(
            "teachers: scoring the training texts with {} models",
            opts.teachers.len()
        )));
        Some(teacher_probabilities(&opts.teachers, &train_texts)?)
    };
    let mut corpora = match &opts.corpora_dir {
        Some(dir) => {
            progress(Progress::Stage(format!(
                "sampling corpora from {}",
                dir.display()
            )));
            sample_corpora(dir, opts.corpus_lines_per_file, opts.seed)?
        }
        None => Vec::new(),
    };
    // Background lines that also appear in dev or test stay out of tokenizer and pretraining
    // text, so no evaluation text is seen in any form before evaluation.
    let held: std::collections::HashSet<String> = dev_texts
        .iter()
        .cloned()
        .chain(test_set.iter().flatten().map(|e| normalise(&e.text)))
        .collect();
    for c in &mut corpora {
        c.lines.retain(|l| !held.contains(l));
    }

    progress(Progress::Stage("training tokenizer".into()));
    let tok_texts = train_texts
        .iter()
        .chain(corpora.iter().flat_map(|c| c.lines.iter()));
    let tokenizer = train_tokenizer(tok_texts, opts.model.vocab_size)?;
    let mut cfg = opts.model.clone();
    cfg.vocab_size = tokenizer.get_vocab_size(true);
    cfg.pad_id = token_id(&tokenizer, PAD)?;
    let mask_id = token_id(&tokenizer, MASK)?;
    cfg.thresholds = None;
    let text_encoder = TextEncoder::new(tokenizer.clone(), cfg.max_len);
    progress(Progress::Stage("tokenising".into()));
    let encode_all = |texts: &[String]| -> Result<Vec<(Vec<u32>, bool)>> {
        Ok(texts
            .iter()
            .map(|t| text_encoder.encode(t))
            .collect::<verbovka::Result<_>>()?)
    };
    let train_enc = encode_all(&train_texts)?;
    let dev_rows: Vec<Vec<u32>> = encode_all(&dev_texts)?.into_iter().map(|e| e.0).collect();
    let n_train = train_enc.len();
    let mean_tokens =
        train_enc.iter().map(|e| e.0.len()).sum::<usize>() as f32 / n_train.max(1) as f32;
    let truncated_share = train_enc.iter().filter(|e| e.1).count() as f32 / n_train.max(1) as f32;
    let train_rows: Vec<Vec<u32>> = train_enc.into_iter().map(|e| e.0).collect();
    let train_labels: Vec<Label> = train_set.iter().map(|e| e.label).collect();
    let dev_labels: Vec<Label> = dev_set.iter().map(|e| e.label).collect();

    let (varmap, encoder) = init_model(&cfg, opts.seed)?;
    let mut rng = Rng::new(opts.seed.wrapping_mul(0x2545_F491_4F6C_DD1D));

    let pretrain_result = if opts.pretrain_steps > 0 {
        progress(Progress::Stage("masked-LM pretraining".into()));
        let mut rows: Vec<Vec<u32>> = Vec::new();
        for line in corpora.iter().flat_map(|c| c.lines.iter()) {
            let (ids, _) = text_encoder.encode(line)?;
            if ids.len() >= 5 {
                rows.push(ids);
            }
        }
        rows.extend(train_rows.iter().filter(|r| r.len() >= 5).cloned());
        if rows.is_empty() {
            None
        } else {
            let loss = pretrain(
                &encoder, &varmap, &rows, &cfg, mask_id, opts, &mut rng, progress,
            )?;
            Some((opts.pretrain_steps, loss))
        }
    } else {
        None
    };

    // Fine-tuning.
    let vars: Vec<(String, Var)> = sorted_vars(&varmap)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("mlm."))
        .collect();
    let mut opt = AdamW::new(&vars, opts.weight_decay);
    let lengths: Vec<usize> = train_rows.iter().map(Vec::len).collect();
    let steps_per_epoch = n_train.div_ceil(opts.batch_size);
    let total_steps = steps_per_epoch * opts.epochs;
    let warmup = ((total_steps as f64 * opts.warmup_fraction) as usize).max(1);
    let mut global_step = 0;
    let mut evals = Vec::new();
    let mut best: Option<(f32, usize, Vec<Tensor>)> = None;
    let half = [0.5f32; 3];
    let eval_every = match opts.evals_per_epoch {
        0 | 1 => steps_per_epoch,
        k => steps_per_epoch.div_ceil(k),
    };
    let t_eval = Instant::now();
    let mut since_eval = (0f64, 0usize);
    let mut evals_without_gain = 0;
    let mut ema = Ema::new(&vars, opts.ema_decay)?;
    'epochs: for epoch in 1..=opts.epochs {
        let batches = make_batches(&lengths, opts.batch_size, &mut rng);
        progress(Progress::PhaseStart {
            phase: Phase::Finetune(epoch),
            total: batches.len(),
        });
        let mut loss_sum = 0f64;
        for (k, batch) in batches.iter().enumerate() {
            let items: Vec<(&[u32], [f32; 3])> = batch
                .iter()
                .map(|&i| {
                    let label = smooth(targets_of(train_labels[i]), opts.label_smoothing);
                    let target = match &teacher_probs {
                        Some(t) => distill(label, t[i], opts.distill_weight),
                        None => label,
                    };
                    (train_rows[i].as_slice(), target)
                })
                .collect();
            let loss = step(
                &encoder,
                &vars,
                &mut opt,
                &items,
                &StepSettings {
                    pad_id: cfg.pad_id,
                    token_dropout: opts.token_dropout,
                    dropout: opts.dropout,
                    clip_norm: opts.clip_norm,
                    workers: opts.workers,
                },
                schedule(global_step, total_steps, warmup, opts.learning_rate),
                &mut rng,
            )?;
            if let Some(ema) = &mut ema {
                ema.update(&vars, global_step)?;
            }
            global_step += 1;
            loss_sum += loss as f64;
            since_eval.0 += loss as f64;
            since_eval.1 += 1;
            progress(Progress::Step {
                phase: Phase::Finetune(epoch),
                step: k + 1,
                total: batches.len(),
                loss: (loss_sum / (k + 1) as f64) as f32,
            });
            if (k + 1) % eval_every != 0 && k + 1 != batches.len() {
                continue;
            }
            // With an EMA, the averaged weights are evaluated (and kept if best).
            let live = match &ema {
                Some(ema) => Some(ema.swap_in(&vars)?),
                None => None,
            };
            let logits = predict_fast(&cfg, &vars, &dev_rows, opts.workers);
            let improved = logits.as_ref().is_ok_and(|l| {
                let loss = mean_bce(l, &dev_labels);
                !matches!(&best, Some(b) if loss >= b.0)
            });
            let snapshot = if improved {
                let copy = vars.iter().map(|(_, v)| v.as_tensor().copy());
                Some(copy.collect::<candle_core::Result<Vec<_>>>()?)
            } else {
                None
            };
            if let Some(live) = live {
                for ((_, v), t) in vars.iter().zip(&live) {
                    v.set(t)?;
                }
            }
            let logits = logits?;
            let dev_loss = mean_bce(&logits, &dev_labels);
            let probs: Vec<[f32; 3]> = logits.iter().map(|l| l.map(sigmoid)).collect();
            let report = EvalReport {
                epoch,
                step: global_step,
                train_loss: (since_eval.0 / since_eval.1.max(1) as f64) as f32,
                dev_loss,
                dev: evaluate(&probs, &dev_labels, &half),
                seconds: t_eval.elapsed().as_secs_f32(),
            };
            since_eval = (0.0, 0);
            progress(Progress::Eval(Box::new(report.clone())));
            evals.push(report);
            if let Some(snapshot) = snapshot {
                best = Some((dev_loss, global_step, snapshot));
                evals_without_gain = 0;
            } else {
                evals_without_gain += 1;
                if evals_without_gain >= opts.patience {
                    break 'epochs;
                }
            }
        }
    }
    let best_step = match &best {
        Some((_, e, snapshot)) => {
            for ((_, v), t) in vars.iter().zip(snapshot) {
                v.set(t)?;
            }
            *e
        }
        None => 0,
    };

    progress(Progress::Stage("choosing thresholds on dev".into()));
    let dev_probs: Vec<[f32; 3]> = predict_fast(&cfg, &vars, &dev_rows, opts.workers)?
        .iter()
        .map(|l| l.map(sigmoid))
        .collect();
    let thresholds = choose_thresholds(&dev_probs, &dev_labels);
    cfg.thresholds = Some(thresholds);
    let dev_at_half = evaluate(&dev_probs, &dev_labels, &half);
    let dev = evaluate(&dev_probs, &dev_labels, &thresholds);
    let test = match &test_set {
        Some(set) => {
            let rows: Vec<Vec<u32>> = norm(set)
                .iter()
                .map(|t| text_encoder.encode(t).map(|e| e.0))
                .collect::<verbovka::Result<_>>()?;
            let labels: Vec<Label> = set.iter().map(|e| e.label).collect();
            let probs: Vec<[f32; 3]> = predict_fast(&cfg, &vars, &rows, opts.workers)?
                .iter()
                .map(|l| l.map(sigmoid))
                .collect();
            Some(evaluate(&probs, &labels, &thresholds))
        }
        None => None,
    };

    progress(Progress::Stage(format!(
        "writing {}",
        opts.out_dir.display()
    )));
    let (weights_sha256, weights_bytes) = save_model(&opts.out_dir, &cfg, &tokenizer, &vars)?;
    let corpora_readme = opts
        .corpora_dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("README.md")).ok());

    let count = |set: &[Example]| {
        let mut c = [0usize; 4];
        for e in set {
            c[e.label.category().map_or(0, |c| c.index() + 1)] += 1;
        }
        c
    };
    let mut label_counts = vec![
        ("train".to_string(), count(&train_set)),
        ("dev".to_string(), count(&dev_set)),
    ];
    if let Some(t) = &test_set {
        label_counts.push(("test".to_string(), count(t)));
    }
    let mut tags: HashMap<String, usize> = HashMap::new();
    for e in &train_set {
        for t in &e.tags {
            *tags.entry(t.clone()).or_default() += 1;
        }
    }
    let mut train_tags: Vec<(String, usize)> = tags.into_iter().collect();
    train_tags.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let report = TrainReport {
        config: cfg,
        label_counts,
        train_tags,
        corpora: corpora
            .iter()
            .map(|c| (c.file.clone(), c.lines.len()))
            .collect(),
        mean_tokens,
        truncated_share,
        pretrain: pretrain_result,
        evals,
        best_step,
        steps_per_epoch,
        evals_per_epoch: opts.evals_per_epoch.max(1),
        dev_at_half,
        dev,
        test,
        seconds: started.elapsed().as_secs_f32(),
        weights_sha256,
        weights_bytes,
        options: TrainSummary {
            seed: opts.seed,
            epochs: opts.epochs,
            batch_size: opts.batch_size,
            learning_rate: opts.learning_rate,
            dropout: opts.dropout,
            token_dropout: opts.token_dropout,
            label_smoothing: opts.label_smoothing,
            weight_decay: opts.weight_decay,
            ema_decay: opts.ema_decay,
            pretrain_steps: opts.pretrain_steps,
            teachers: opts
                .teachers
                .iter()
                .map(|t| t.display().to_string())
                .collect(),
            distill_weight: opts.distill_weight,
            command: opts.command.clone(),
        },
    };
    let card_path = opts.out_dir.join("README.md");
    let mut card = render_card(&report, corpora_readme.as_deref(), &today_utc());
    if let Some(notes) = &opts.card_notes {
        card += "\n## Notes\n\n";
        card += notes.trim_end();
        card += "\n";
    }
    std::fs::write(&card_path, card).map_err(|e| Error::io(&card_path, e))?;
    Ok(report)
}

fn token_id(tokenizer: &Tokenizer, token: &str) -> Result<u32> {
    tokenizer
        .token_to_id(token)
        .ok_or_else(|| verbovka::Error::Config(format!("trained tokenizer lacks {token}")).into())
}

/// Writes `config.json`, `tokenizer.json` and `model.safetensors` (the given variables) into
/// `dir`; returns the SHA-256 and size of the weights file.
pub fn save_model(
    dir: &Path,
    cfg: &ModelConfig,
    tokenizer: &Tokenizer,
    vars: &[(String, Var)],
) -> Result<(String, usize)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let cfg_path = dir.join(CONFIG_FILE);
    let json = serde_json::to_string_pretty(cfg)
        .map_err(|e| verbovka::Error::Config(format!("cannot serialise config: {e}")))?;
    std::fs::write(&cfg_path, json + "\n").map_err(|e| Error::io(&cfg_path, e))?;
    let tok_path = dir.join(TOKENIZER_FILE);
    let tok_json = tokenizer.to_string(false).map_err(Error::Tokenizer)?;
    std::fs::write(&tok_path, tok_json).map_err(|e| Error::io(&tok_path, e))?;
    let w_path = dir.join(WEIGHTS_FILE);
    let tensors: HashMap<String, Tensor> = vars
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&tensors, &w_path)?;
    let bytes = std::fs::read(&w_path).map_err(|e| Error::io(&w_path, e))?;
    Ok((sha256_hex(&bytes), bytes.len()))
}

/// Names of the categories, for reports.
pub fn category_names() -> [&'static str; 3] {
    Category::ALL.map(Category::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The average moves from the initial weights towards the live ones by `1 − d` per step
    /// (with `d` ramped up early), and `swap_in` hands the live weights back untouched.
    #[test]
    fn ema_averages_and_swaps() -> Result<()> {
        let dev = Device::Cpu;
        let var = Var::from_tensor(&Tensor::zeros(4, DType::F32, &dev)?)?;
        let vars = vec![("w".to_string(), var)];
        let mut ema = Ema::new(&vars, 0.5)?.ok_or(verbovka::Error::Config("no ema".into()))?;
        vars[0].1.set(&Tensor::ones(4, DType::F32, &dev)?)?;
        ema.update(&vars, 100)?; // d = min(0.5, 101/110) = 0.5
        assert!(
            !ema.avg[0].track_op(),
            "the average must not record ops (memory)"
        );
        let live = ema.swap_in(&vars)?;
        assert_eq!(vars[0].1.as_tensor().to_vec1::<f32>()?, [0.5; 4]);
        assert_eq!(live[0].to_vec1::<f32>()?, [1.0; 4]);
        ema.update(&vars, 0)?; // d = min(0.5, 1/10) = 0.1: 0.1·0.5 + 0.9·0.5
        assert_eq!(ema.avg[0].to_vec1::<f32>()?, [0.5; 4]);
        assert!(Ema::new(&vars, 0.0)?.is_none());
        Ok(())
    }

    /// Distillation mixes the smoothed label with the teachers' probability; a missing teacher
    /// directory is an error naming it, before any training.
    #[test]
    fn distill_targets_and_missing_teacher() {
        let t = distill(smooth(targets_of(Label::Lure), 0.1), [0.2, 0.0, 0.6], 0.5);
        let want = [0.125, 0.025, 0.775];
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{t:?}"
        );
        let err = teacher_probabilities(&[PathBuf::from("no/such/teacher")], &["x".into()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no/such/teacher"), "{err}");
    }
}
