//! [`TransformerClassifier`]: the trained encoder behind the crate's [`Classifier`] seam.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use tokenizers::Tokenizer;

use super::config::ModelConfig;
use super::fast::{Engine, Scratch, Transformer};
use super::tokenizer::{TextEncoder, TokScratch};
use crate::scoring::Calibration;
use crate::{Classifier, Error, ModelOutput, PerCategory, Result};

/// File names inside a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// See [`CONFIG_FILE`].
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// See [`CONFIG_FILE`].
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Optional: fusion constants and thresholds fitted on dev (the lab's `calibrate`).
pub const CALIBRATION_FILE: &str = "calibration.json";

/// The crate's one batching policy. Texts per engine call and per parallel task of
/// [`Classifier::predict`] (and so of `Detector::score_batch`).
const DEFAULT_BATCH: usize = 32;

/// Most tokens per engine call (a call also closes at `batch_size` texts): the activations
/// (~4.6 KB per token) then stay in the core's L2 cache, and the ids tokenised just before the
/// call are still in cache when it runs. Measured with `predict` on one thread, test split:
/// 32 texts per call without a cap 210 µs/post, capped at 128 / 256 / 512 / 1024 tokens
/// 182 / 186 / 190 / 200 µs/post; on the bench corpus 116–118 µs/post whatever the cap.
const MAX_TOKENS: usize = 256;

/// Windows read per text by default: a text longer than the model's `max_len` tokens is read
/// in overlapping windows of `max_len` tokens, half a window apart (the last one ends with the
/// text), and each category's logit is the largest over its windows, so that an offer after a
/// long preamble or a padding of junk is still seen. 16 windows of 128 tokens cover 1,088
/// tokens (about 4,500 characters, more than a Telegram post holds); a longer text is read to
/// there and marked truncated. Cost: at most 16 × `max_len` tokens per text.
const DEFAULT_WINDOWS: usize = 16;

/// Work buffers of one engine call in flight: the tokenizer's and the engine's scratch and the
/// token ids of the windows being scored.
#[derive(Default)]
struct Workspace {
    engine: Scratch,
    tok: TokScratch,
    /// The ids of the text being split into windows.
    text_ids: Vec<u32>,
    ids: Vec<u32>,
    /// `ids[start..end]` of each window, and the index (in the call) of its text.
    ranges: Vec<(usize, usize, usize)>,
}

/// Workspaces kept between calls: a call checks one out and gives it back, so the pool holds
/// as many as calls ever ran at once (capped), and nothing lives in thread-locals or globals.
#[derive(Default)]
struct WorkspacePool(Mutex<Vec<Workspace>>);

impl WorkspacePool {
    /// Most workspaces kept (one per concurrent call; ~20 MB each at 32 texts × 128 tokens).
    const MAX_KEPT: usize = 64;

    fn take(&self) -> Workspace {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }

    fn give(&self, w: Workspace) {
        if let Ok(mut v) = self.0.lock() {
            if v.len() < Self::MAX_KEPT {
                v.push(w);
            }
        }
    }

    /// (workspaces kept, bytes they hold).
    fn stats(&self) -> (usize, usize) {
        self.0.lock().map_or((0, 0), |v| {
            let bytes = v
                .iter()
                .map(|w| {
                    w.engine.bytes()
                        + (w.ids.capacity() + w.text_ids.capacity()) * 4
                        + w.ranges.capacity() * 24
                })
                .sum();
            (v.len(), bytes)
        })
    }
}

impl std::fmt::Debug for WorkspacePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, bytes) = self.stats();
        f.debug_struct("WorkspacePool")
            .field("kept", &n)
            .field("bytes", &bytes)
            .finish()
    }
}

/// The small transformer encoder as a [`Classifier`].
///
/// Inputs are **normalised** texts (`verbovka::normalize`). Each text is tokenised and read in
/// windows of [`ModelConfig::max_len`] tokens, half a window apart, each category taking its
/// largest logit over the windows (so that nothing put in front of an offer hides it); up to
/// 16 windows by default ([`Self::with_max_windows`]), a longer text is read to there and
/// reported as [`ModelOutput::truncated`]. User
/// text never produces the tokenizer's special tokens (a typed `<mask>` is read as the
/// characters it is). The
/// texts are scored in consecutive batches of at most [`Self::with_batch_size`] texts and about
/// 256 tokens, and returned in input order. On each [`Engine`], a text scores the same bit for
/// bit alone and in a batch, at any position, whatever the batch size, token cap or threads
/// (see the engine's docs); engines differ from one another by float rounding (tested at
/// 1e-4 on logits).
///
/// **Batching policy** (the only one in the crate: [`crate::Detector`] hands its texts over in
/// input order). The engine packs the sequences of a batch one after another instead of padding
/// them — exactly what padding plus an attention mask computes, minus the padding — so its cost
/// is the batch's token count whatever the mix of lengths, and no sorting by length is needed.
/// Batches are capped at ~256 tokens so that their activations stay in the core's L2 cache, and
/// each is tokenised right before it is scored, on the same thread (ids stay in cache).
///
/// Inference runs on a packed single-threaded engine (AVX-512 or AVX2+FMA kernels when the CPU
/// has them, else plain Rust, see [`Self::with_engine`]; the same function as the lab's candle
/// encoder, tested against it there): each batch uses
/// exactly one thread, whatever `RAYON_NUM_THREADS`/`CANDLE_NUM_THREADS` say, and the batches of
/// one `predict` call run in parallel on the caller's rayon pool (turn that off with
/// [`Self::with_parallel`] when calling from your own workers). Work buffers (~20 MB per batch
/// in flight at 32 × 128 tokens) are kept in a pool owned by the classifier and shared by its
/// clones.
#[derive(Debug, Clone)]
pub struct TransformerClassifier {
    config: ModelConfig,
    encoder: TextEncoder,
    fast: Arc<Transformer>,
    pool: Arc<WorkspacePool>,
    batch_size: usize,
    /// Most tokens per engine call (a batch also closes at `batch_size` texts).
    max_tokens: usize,
    /// Most windows read per text.
    max_windows: usize,
    /// Ids of the pieces that end a sentence (`.`, `!`, `?`, `…`), sorted.
    sentence_ends: Arc<[u32]>,
    /// Where windows start.
    windows: Windows,
    parallel: bool,
    calibration: Option<Calibration>,
}

fn model_err(origin: &str, message: impl Into<String>) -> Error {
    Error::Model {
        origin: origin.to_string(),
        message: message.into(),
    }
}

/// Parses and checks the contents of `calibration.json`.
pub(crate) fn parse_calibration(json: &[u8], origin: &str) -> Result<Calibration> {
    let c: Calibration = serde_json::from_slice(json)
        .map_err(|e| model_err(origin, format!("{CALIBRATION_FILE}: {e}")))?;
    c.validate()
        .map_err(|e| model_err(origin, format!("{CALIBRATION_FILE}: {e}")))?;
    Ok(c)
}

/// `dir/calibration.json` parsed and checked, or `None` when the directory has none.
pub(crate) fn read_calibration(dir: &Path, origin: &str) -> Result<Option<Calibration>> {
    match std::fs::read(dir.join(CALIBRATION_FILE)) {
        Ok(bytes) => parse_calibration(&bytes, origin).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(model_err(
            origin,
            format!("cannot read {CALIBRATION_FILE}: {e}"),
        )),
    }
}

impl TransformerClassifier {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let origin = dir.display().to_string();
        let read = |name: &str| -> Result<Vec<u8>> {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    model_err(
                        &origin,
                        format!("missing {name} (expected {})", p.display()),
                    )
                } else {
                    model_err(&origin, format!("cannot read {name}: {e}"))
                }
            })
        };
        let config = read(CONFIG_FILE)?;
        let tokenizer = read(TOKENIZER_FILE)?;
        let weights = read(WEIGHTS_FILE)?;
        let model = Self::load(&config, &tokenizer, &weights, &origin)?;
        Ok(model.with_calibration(read_calibration(dir, &origin)?))
    }

    /// Attaches a calibration given as the contents of `calibration.json`.
    pub fn with_calibration_json(self, json: &[u8], origin: &str) -> Result<Self> {
        Ok(self.with_calibration(Some(parse_calibration(json, origin)?)))
    }

    /// Attaches (or removes) the fusion constants and thresholds a detector should use with
    /// this model.
    pub fn with_calibration(mut self, calibration: Option<Calibration>) -> Self {
        self.calibration = calibration;
        self
    }

    /// Builds a classifier from the three files' contents.
    pub fn from_bytes(
        config_json: &[u8],
        tokenizer_json: &[u8],
        safetensors: &[u8],
    ) -> Result<Self> {
        Self::load(config_json, tokenizer_json, safetensors, "<bytes>")
    }

    fn load(config: &[u8], tokenizer: &[u8], weights: &[u8], origin: &str) -> Result<Self> {
        let config = ModelConfig::from_json(config, origin)?;
        let encoder = TextEncoder::from_json(tokenizer, config.max_len)
            .map_err(|e| model_err(origin, format!("{TOKENIZER_FILE}: {e}")))?;
        Self::from_encoder(config, encoder, weights, origin)
    }

    /// Builds a classifier from a parsed config and tokenizer and the safetensors bytes.
    pub fn from_parts(
        config: ModelConfig,
        tokenizer: Tokenizer,
        weights: &[u8],
        origin: &str,
    ) -> Result<Self> {
        // A typed `<pad>`/`<mask>`/`<unk>` is text, never a special token.
        let mut tokenizer = tokenizer;
        tokenizer.set_encode_special_tokens(true);
        let encoder = TextEncoder::new(tokenizer, config.max_len);
        Self::from_encoder(config, encoder, weights, origin)
    }

    fn from_encoder(
        config: ModelConfig,
        encoder: TextEncoder,
        weights: &[u8],
        origin: &str,
    ) -> Result<Self> {
        config
            .validate()
            .map_err(|e| model_err(origin, format!("{CONFIG_FILE}: {e}")))?;
        let tok_vocab = encoder.vocab_size();
        if tok_vocab != config.vocab_size {
            return Err(model_err(
                origin,
                format!(
                    "{TOKENIZER_FILE} has {tok_vocab} tokens but {CONFIG_FILE} says vocab_size {}",
                    config.vocab_size
                ),
            ));
        }
        let fast = Transformer::from_safetensors(&config, weights).map_err(|e| {
            model_err(
                origin,
                format!("{WEIGHTS_FILE} does not match {CONFIG_FILE}: {e}"),
            )
        })?;
        // Pieces that end a sentence: windows start after them.
        let sentence_ends = encoder.sentence_ends().into();
        Ok(TransformerClassifier {
            config,
            encoder,
            sentence_ends,
            windows: Windows::default(),
            fast: Arc::new(fast),
            pool: Arc::default(),
            batch_size: DEFAULT_BATCH,
            max_tokens: MAX_TOKENS,
            max_windows: DEFAULT_WINDOWS,
            parallel: true,
            calibration: None,
        })
    }

    /// Sets how many texts go through the encoder at once, and per parallel task (default 32).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets how many windows of `max_len` tokens are read per text (default 16; 1 reads only
    /// the beginning, as versions before 2026-12 did).
    pub fn with_max_windows(mut self, windows: usize) -> Self {
        self.max_windows = windows.max(1);
        self
    }

    /// Where the windows over a long text start (default [`Windows::Stride`]).
    pub fn with_windows(mut self, windows: Windows) -> Self {
        self.windows = windows;
        self
    }

    /// Whether the batches of one `predict` call run in parallel on rayon (default true). Turn
    /// it off when you already call `predict` from several threads.
    pub fn with_parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The tokenizer with the model's window.
    pub fn text_encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    /// Per-category probabilities (sigmoid of the logits) in [`crate::Category::ALL`] order.
    pub fn probabilities(&self, texts: &[&str]) -> Result<Vec<PerCategory<f32>>> {
        Ok(self
            .predict(texts)?
            .iter()
            .map(|o| o.logits.map(crate::scoring::sigmoid))
            .collect())
    }

    /// Logits of pre-tokenised rows (each at most `max_len` ids; an empty row stands for one
    /// pad token), in the given order, by the packed engine that [`Classifier::predict`] uses,
    /// on this thread, in engine calls of at most the same token budget.
    pub fn predict_ids(&self, rows: &[&[u32]]) -> Result<Vec<[f32; 3]>> {
        let mut ws = self.pool.take();
        let out = self.predict_ids_with(rows, &mut ws.engine);
        self.pool.give(ws);
        out
    }

    fn predict_ids_with(&self, rows: &[&[u32]], engine: &mut Scratch) -> Result<Vec<[f32; 3]>> {
        let mut out = Vec::with_capacity(rows.len());
        let mut start = 0;
        while start < rows.len() {
            let mut end = start;
            let mut tokens = 0;
            while end < rows.len() && end - start < self.batch_size && tokens < self.max_tokens {
                tokens += rows[end].len().max(1);
                end += 1;
            }
            out.extend(
                self.fast
                    .forward_with(&rows[start..end], self.config.pad_id, engine)?,
            );
            start = end;
        }
        Ok(out)
    }

    /// Runs the model on these kernels ([`Engine::Auto`]: the fastest this CPU has, the
    /// default); an engine this CPU lacks is an error. The weights are shared, not re-packed.
    pub fn with_engine(mut self, engine: Engine) -> Result<Self> {
        let engine = engine.resolve()?;
        if engine != self.fast.engine() {
            let mut fast = (*self.fast).clone();
            fast.set_engine(engine)?;
            self.fast = Arc::new(fast);
        }
        Ok(self)
    }

    /// The kernels the model runs on (never `Auto`).
    pub fn engine(&self) -> Engine {
        self.fast.engine()
    }

    /// (work buffers kept in the pool, bytes they hold): one per engine call that ran at the
    /// same time as another.
    pub fn pool_stats(&self) -> (usize, usize) {
        self.pool.stats()
    }

    /// Tokenises and scores `texts` (one batch after another, on this thread) into `out`.
    fn predict_serial(&self, texts: &[&str], out: &mut [ModelOutput]) -> Result<()> {
        let mut ws = self.pool.take();
        let r = self.predict_with(texts, out, &mut ws);
        self.pool.give(ws);
        r
    }

    fn predict_with(
        &self,
        texts: &[&str],
        out: &mut [ModelOutput],
        ws: &mut Workspace,
    ) -> Result<()> {
        let Workspace {
            engine,
            tok,
            text_ids,
            ids,
            ranges,
        } = ws;
        let window = self.config.max_len.max(1);
        let stride = (window / 2).max(1);
        let limit = window + (self.max_windows - 1) * stride;
        let mut done = 0;
        while done < texts.len() {
            // Tokenise texts until the call holds `batch_size` texts or `max_tokens` tokens.
            ids.clear();
            ranges.clear();
            let mut end = done;
            while end < texts.len() && end - done < self.batch_size {
                let (Some(t), Some(o)) = (texts.get(end), out.get_mut(end)) else {
                    break;
                };
                text_ids.clear();
                o.truncated = self.encoder.encode_prefix_into(t, text_ids, tok, limit)?;
                let sentences = self.windows == Windows::Sentences;
                let is_end = |id: &u32| sentences && self.sentence_ends.binary_search(id).is_ok();
                for s in window_starts(text_ids, window, stride, is_end) {
                    let e = (s + window).min(text_ids.len());
                    let start = ids.len();
                    ids.extend_from_slice(&text_ids[s..e]);
                    ranges.push((start, ids.len(), end - done));
                }
                end += 1;
                if ids.len() >= self.max_tokens {
                    break;
                }
            }
            let rows: Vec<&[u32]> = ranges.iter().map(|&(a, b, _)| &ids[a..b]).collect();
            let logits = self.fast.forward_with(&rows, self.config.pad_id, engine)?;
            let chunk = &mut out[done..end];
            for o in chunk.iter_mut() {
                o.logits = PerCategory([f32::NEG_INFINITY; 3]);
            }
            for (&(_, _, k), l) in ranges.iter().zip(logits) {
                let o = &mut chunk[k];
                for (m, x) in o.logits.0.iter_mut().zip(l) {
                    *m = m.max(x);
                }
            }
            done = end;
        }
        Ok(())
    }
}

/// Where the windows over a text longer than the model's `max_len` tokens start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Windows {
    /// Half a window apart, the last one ending with the text: the fewest windows, and the
    /// shipped calibration was fitted with them.
    #[default]
    Stride,
    /// Also at every sentence start (after `.`, `!`, `?`, `…`) at least 16 tokens after the
    /// previous sentence window, so an offer behind a preamble is read from where it begins,
    /// as it would be alone. Measured on the issue-11 test split (shipped ensemble, fusion
    /// refitted on dev for these windows): positives flagged with a real post in front 85.6 %
    /// against 88.8 % plain (stride windows: 80.1 % against 94.3 %), but plain recall 88.8 %
    /// instead of 94.3 % at a hard-negative rate of 4.4 % instead of 5.8 %: the extra windows
    /// give hard negatives (a warning that quotes an offer) more chances, so the thresholds
    /// rise. Up to about one window per 16 tokens (≤ 4× the stride windows' cost on long texts).
    Sentences,
}

/// Least tokens between two window starts.
const MIN_WINDOW_GAP: usize = 16;

/// Where the windows over a text's `ids` start: at 0, then at the first sentence start (the
/// token after a sentence end, `is_end`) at least [`MIN_WINDOW_GAP`] tokens after a window
/// that began a sentence (1 token after one that did not), or a `stride` on when no sentence
/// starts before that, the last full window ending with the text; sentences that start
/// inside that last full window get windows of their own to the end. The model was trained on posts
/// that begin at their first token, so an offer after a preamble is read best from a window
/// that begins where it begins. About `len / MIN_WINDOW_GAP` windows at most (two per stride
/// where stride windows and sentence starts alternate).
fn window_starts<'a>(
    ids: &'a [u32],
    window: usize,
    stride: usize,
    is_end: impl Fn(&u32) -> bool + 'a,
) -> impl Iterator<Item = usize> + 'a {
    let n = ids.len();
    let mut next = Some(0usize);
    // Whether the window at `s` began a sentence: only then is the next one held 16 tokens
    // off (a stride window just before a sentence start must not hide it).
    let mut at_sentence = true;
    std::iter::from_fn(move || {
        let s = next?;
        let gap = if at_sentence { MIN_WINDOW_GAP } else { 1 };
        // Within the last full window, sentence starts up to the end still get their own
        // (shorter) window: an offer that ends the text is read from where it begins.
        let to = if s + window >= n { n } else { s + stride };
        let found = (s + gap..to).find(|&i| is_end(&ids[i - 1]) && !is_end(&ids[i]));
        at_sentence = found.is_some();
        next = match found {
            Some(i) => Some(i),
            None if s + window >= n => None,
            None => Some((s + stride).min(n - window).max(s + 1)),
        };
        Some(s)
    })
}

impl Classifier for TransformerClassifier {
    fn predict(&self, texts: &[&str]) -> Result<Vec<ModelOutput>> {
        let mut out = vec![ModelOutput::default(); texts.len()];
        let b = self.batch_size;
        if self.parallel && texts.len() > b {
            out.par_chunks_mut(b)
                .zip(texts.par_chunks(b))
                .try_for_each(|(out, texts)| self.predict_serial(texts, out))?;
        } else {
            self.predict_serial(texts, &mut out)?;
        }
        Ok(out)
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn calibration(&self) -> Option<Calibration> {
        self.calibration.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> TransformerClassifier {
        TransformerClassifier::from_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/seed-7"
        ))
        .expect("models/default/seed-7")
    }

    const TEXTS: &[&str] = &[
        "шукаємо людей для легкої роботи, оплата щодня, пиши в бот",
        "подожги релейный шкаф и сними на видео, оплата в крипте",
        "",
        "нужно фотографировать колонны техники и отправлять координаты",
        "рецепт шашлику на вихідні",
    ];

    /// Work buffers live in a pool owned by the classifier (no thread-locals): one per call
    /// that ran at the same time as another, shared by clones, reused across calls.
    #[test]
    fn work_buffers_are_pooled_per_concurrent_call() {
        let clf = shipped().with_parallel(false).with_batch_size(2);
        assert_eq!(clf.pool_stats().0, 0);
        let texts: Vec<&str> = TEXTS.iter().cycle().take(40).copied().collect();
        let first = clf.predict(&texts).expect("predict");
        // Bit for bit: every engine's sums run in an order fixed by construction.
        let same = |a: &[ModelOutput], b: &[ModelOutput]| {
            assert_eq!(a, b);
        };
        let (kept, bytes) = clf.pool_stats();
        assert_eq!(kept, 1);
        assert!(bytes > 0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        same(&clf.predict(&texts).expect("predict"), &first);
                    }
                });
            }
        });
        let (kept, _) = clf.pool_stats();
        assert!((1..=4).contains(&kept), "{kept} kept");
        let clone = clf.clone();
        same(&clone.predict(&texts[..3]).expect("predict"), &first[..3]);
        assert_eq!(clone.pool_stats().0, kept);
        // In parallel on rayon: the same outputs, in input order.
        let par = clf
            .clone()
            .with_parallel(true)
            .predict(&texts)
            .expect("par");
        same(&par, &first);
        // Calls cut by the token cap instead of the text count: the same scores.
        for max_tokens in [1, 7, 40] {
            let mut capped = clf.clone().with_batch_size(64);
            capped.max_tokens = max_tokens;
            same(&capped.predict(&texts).expect("capped"), &first);
        }
    }

    /// Texts for the batching tests: the table above, a windowed one, a long padded one.
    fn batching_texts() -> Vec<String> {
        let mut t: Vec<String> = TEXTS.iter().map(|s| s.to_string()).collect();
        t.push(crate::normalize(&"рецепт шашлику на вихідні, ".repeat(30)).into_string());
        t.push(
            crate::normalize(&format!(
                "{} подожги релейный шкаф, оплата в крипте",
                "!".repeat(200)
            ))
            .into_string(),
        );
        t.push("пиши".into());
        let base = t.clone();
        for (i, b) in base.iter().enumerate() {
            t.push(format!("{b} {}", base[(i + 3) % base.len()]));
        }
        t
    }

    /// On every engine this CPU has: a text's logits are bit for bit the same scored alone, in
    /// one call with all the others, at another position, in calls of another size or token
    /// cap, sequentially or in parallel on 1 or 2 threads (engines the CPU lacks are named on
    /// stderr; the portable one always runs).
    #[test]
    fn logits_are_bit_identical_however_texts_are_batched_on_every_engine() {
        let texts = batching_texts();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let rev: Vec<&str> = refs.iter().rev().copied().collect();
        let base = shipped();
        for e in crate::model::fast::tests::engines_here() {
            let clf = base
                .clone()
                .with_engine(e)
                .expect("engine")
                .with_parallel(false);
            assert_eq!(clf.engine(), e);
            let alone: Vec<ModelOutput> = refs
                .iter()
                .map(|t| clf.predict(&[t]).expect("alone")[0])
                .collect();
            assert_eq!(clf.predict(&refs).expect("all"), alone, "{e}: one call");
            let mut back = clf.predict(&rev).expect("reversed");
            back.reverse();
            assert_eq!(back, alone, "{e}: reversed");
            for (batch, cap) in [
                (1, 256),
                (3, 256),
                (64, 1),
                (64, 40),
                (64, usize::MAX),
                (5, 130),
            ] {
                let mut c = clf.clone().with_batch_size(batch);
                c.max_tokens = cap;
                assert_eq!(
                    c.predict(&refs).expect("cut"),
                    alone,
                    "{e}: {batch} texts, {cap} tokens"
                );
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .expect("pool");
                    let par = c.clone().with_parallel(true);
                    let out = pool.install(|| par.predict(&refs)).expect("parallel");
                    assert_eq!(out, alone, "{e}: {batch}/{cap} on {threads} threads");
                }
            }
            // predict_ids: a window alone and among others.
            let ids: Vec<Vec<u32>> = refs
                .iter()
                .map(|t| clf.text_encoder().encode(t).expect("encode").0)
                .collect();
            let rows: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
            let all = clf.predict_ids(&rows).expect("ids");
            for (r, l) in rows.iter().zip(&all) {
                assert_eq!(&clf.predict_ids(&[r]).expect("one")[0], l, "{e}: ids");
            }
        }
    }

    /// Across engines the logits agree within float rounding (1e-4; the SIMD engines fuse
    /// multiply-adds, the portable one does not) and an engine the CPU lacks is refused.
    #[test]
    fn engines_agree_within_rounding() {
        let texts = batching_texts();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let base = shipped().with_engine(Engine::Portable).expect("portable");
        assert_eq!(base.engine(), Engine::Portable);
        let want = base.predict(&refs).expect("portable");
        for e in crate::model::fast::tests::engines_here() {
            let got = base
                .clone()
                .with_engine(e)
                .expect("engine")
                .predict(&refs)
                .expect("e");
            for (x, y) in got.iter().zip(&want) {
                assert_eq!(x.truncated, y.truncated);
                for k in 0..3 {
                    assert!(
                        (x.logits.0[k] - y.logits.0[k]).abs() < 1e-4,
                        "{e}: {x:?} vs {y:?}"
                    );
                }
            }
        }
        for e in Engine::ALL {
            assert_eq!(base.clone().with_engine(e).is_ok(), e.is_supported(), "{e}");
        }
        assert_eq!(
            base.with_engine(Engine::Auto).expect("auto").engine(),
            Engine::detect()
        );
    }

    /// A typed special token is text: it never becomes `<pad>`, `<unk>` or `<mask>`.
    #[test]
    fn typed_special_tokens_are_text() {
        let clf = shipped();
        for text in ["<mask>", "<pad> <unk> <mask><mask>", &"<mask>".repeat(130)] {
            let (ids, _) = clf.text_encoder().encode(text).expect("encode");
            assert!(
                !ids.is_empty() && ids.iter().all(|&i| i > 2),
                "{text}: {ids:?}"
            );
        }
    }

    /// A long text is read in windows: its logits are the largest of its windows' own (each
    /// scored alone through `predict_ids`), an offer after 200 `!` or a long preamble is seen,
    /// and the text is truncated only past the last window.
    /// Windows start at 0, at sentence starts at least 16 tokens apart, at most a stride
    /// apart, and the last one ends with the text.
    #[test]
    fn windows_start_at_sentence_starts() {
        const END: u32 = 1;
        let starts = |ids: &[u32], w: usize, s: usize| -> Vec<usize> {
            window_starts(ids, w, s, |&id| id == END).collect()
        };
        let plain = vec![5u32; 300];
        assert_eq!(starts(&plain, 128, 64), [0, 64, 128, 172]);
        assert_eq!(starts(&plain[..128], 128, 64), [0]);
        assert_eq!(starts(&plain[..10], 128, 64), [0]);
        assert_eq!(starts(&[], 128, 64), [0]);
        let mut ids = plain.clone();
        for at in [9, 29, 39, 99, 101] {
            ids[at] = END; // sentences start at 10, 30, 40, 100, 102
        }
        // 10 is under 16 tokens from 0; 30 then 100 (40 is too close to 30; 102 to 100).
        assert_eq!(starts(&ids, 128, 64), [0, 30, 94, 100, 164, 172]);
        // A run of enders is one boundary, after its last.
        let mut ids = plain.clone();
        ids[40] = END;
        ids[41] = END;
        assert_eq!(starts(&ids, 128, 64)[..2], [0, 42]);
        // A sentence starting inside the last full window gets its own, shorter one.
        let mut ids = plain.clone();
        ids[249] = END;
        assert_eq!(starts(&ids, 128, 64), [0, 64, 128, 172, 250]);
        // Tiny windows and strides still move on.
        assert_eq!(starts(&plain[..5], 2, 1), [0, 1, 2, 3]);
    }

    #[test]
    fn long_texts_are_read_in_windows() {
        let clf = shipped().with_parallel(false);
        let offer = "подожги релейный шкаф и сними на видео, оплата в крипте, пиши в бот";
        let padded = format!("{} {offer}", "!".repeat(200));
        let preamble = format!("{} {offer}", "рецепт шашлику на вихідні, ".repeat(60));
        let texts: Vec<String> = [offer, padded.as_str(), preamble.as_str()]
            .iter()
            .map(|t| crate::normalize(t).into_string())
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let out = clf.predict(&texts).expect("predict");
        let first_only = clf
            .clone()
            .with_max_windows(1)
            .predict(&texts)
            .expect("one window");
        let enc = clf.text_encoder();
        for (i, text) in texts.iter().enumerate() {
            let ids = enc.encode_all(text).expect("encode");
            let (w, s) = (enc.max_len(), enc.max_len() / 2);
            let is_end = |_: &u32| false; // the default: stride windows
            let rows: Vec<&[u32]> = window_starts(&ids, w, s, is_end)
                .map(|a| &ids[a..(a + w).min(ids.len())])
                .collect();
            let each = clf.predict_ids(&rows).expect("windows");
            for k in 0..3 {
                let want = each.iter().map(|l| l[k]).fold(f32::NEG_INFINITY, f32::max);
                assert!(
                    (out[i].logits.0[k] - want).abs() < 1e-5,
                    "text {i} category {k}"
                );
                assert!(out[i].logits.0[k] >= first_only[i].logits.0[k] - 1e-5);
            }
            assert!(!out[i].truncated, "text {i} fits 16 windows");
            assert_eq!(first_only[i].truncated, ids.len() > w);
        }
        // The offer is found behind the padding as well as alone.
        let sabotage = |o: &ModelOutput| o.logits.0[0];
        assert!(sabotage(&out[0]) > 0.0, "{:?}", out[0]);
        assert!(
            sabotage(&out[1]) > 0.0 && sabotage(&out[2]) > 0.0,
            "{out:?}"
        );
        // Behind a preamble of whole sentences the offer gets a window of its own that
        // begins where it begins: it scores at least as it does alone.
        let sentences = format!("{} {offer}", "Рецепт шашлику на вихідні. ".repeat(60));
        let behind = clf
            .clone()
            .with_windows(Windows::Sentences)
            .predict(&[crate::normalize(&sentences).as_str()])
            .expect("sentences");
        for k in 0..3 {
            assert!(
                behind[0].logits.0[k] >= out[0].logits.0[k] - 1e-4,
                "{behind:?} vs {:?}",
                out[0]
            );
        }
        // Past 16 windows the text is read to there and marked truncated.
        let huge = "рецепт шашлику на вихідні. ".repeat(400);
        assert!(clf.predict(&[huge.as_str()]).expect("huge")[0].truncated);
    }
}

#[cfg(test)]
mod probe {
    use super::*;
    use crate::model::fast::thread_cpu;

    /// Wall-clock time of the parts of `Detector::new` (best of 7; a measuring aid):
    /// `cargo test --release --lib load_probe -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn load_probe() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/default/seed-7");
        let read = |f: &str| std::fs::read(format!("{dir}/{f}")).expect("file");
        let (config, tok, weights) = (read(CONFIG_FILE), read(TOKENIZER_FILE), read(WEIGHTS_FILE));
        let cfg = ModelConfig::from_json(&config, "probe").expect("config");
        let best = |f: &mut dyn FnMut()| -> f64 {
            (0..7)
                .map(|_| {
                    let t0 = std::time::Instant::now();
                    f();
                    t0.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        };
        let tokenizer = Tokenizer::from_bytes(&tok).expect("tokenizer");
        println!(
            "Tokenizer::from_bytes: {:.1} ms",
            best(&mut || {
                std::hint::black_box(Tokenizer::from_bytes(&tok).ok());
            })
        );
        println!(
            "TextEncoder::new: {:.1} ms",
            best(&mut || {
                std::hint::black_box(TextEncoder::new(tokenizer.clone(), cfg.max_len));
            })
        );
        println!(
            "TextEncoder::from_json: {:.1} ms",
            best(&mut || {
                std::hint::black_box(TextEncoder::from_json(&tok, cfg.max_len).ok());
            })
        );
        println!(
            "Transformer::from_safetensors: {:.1} ms",
            best(&mut || {
                std::hint::black_box(Transformer::from_safetensors(&cfg, &weights).ok());
            })
        );
        println!(
            "TransformerClassifier::from_bytes: {:.1} ms",
            best(&mut || {
                std::hint::black_box(
                    TransformerClassifier::from_bytes(&config, &tok, &weights).ok(),
                );
            })
        );
        println!(
            "RuleSet::embedded: {:.1} ms",
            best(&mut || {
                std::hint::black_box(crate::RuleSet::embedded().ok());
            })
        );
        #[cfg(feature = "embedded-model")]
        println!(
            "Ensemble::embedded: {:.1} ms",
            best(&mut || {
                std::hint::black_box(crate::model::Ensemble::embedded().ok());
            })
        );
        println!(
            "Detector::new: {:.1} ms",
            best(&mut || {
                std::hint::black_box(crate::Detector::new().ok());
            })
        );
    }

    /// CPU time per post of `predict` (one thread) at several batch sizes, alternating, best
    /// of 7 (a measuring aid): `cargo test --release --lib batch_size_probe -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn batch_size_probe() {
        let clf = TransformerClassifier::from_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/seed-7"
        ))
        .expect("model")
        .with_parallel(false);
        // JSON lines with a `text` field (default: the test split), e.g. the peer harness's
        // posts file.
        let path = std::env::var("VERBOVKA_PROBE_POSTS").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../verbovka-lab/data/generated/test.jsonl"
            )
            .into()
        });
        let text = std::fs::read_to_string(path).expect("posts");
        let mut texts: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                v["text"]
                    .as_str()
                    .map(|t| crate::normalize(t).into_string())
            })
            .collect();
        texts.truncate(3000);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let sizes = [
            (32usize, usize::MAX),
            (64, 64),
            (64, 128),
            (64, 192),
            (64, 256),
            (64, 512),
        ];
        let clfs: Vec<TransformerClassifier> = sizes
            .iter()
            .map(|&(b, t)| {
                let mut c = clf.clone().with_batch_size(b);
                c.max_tokens = t;
                c
            })
            .collect();
        let mut best = vec![f64::INFINITY; sizes.len()];
        for _ in 0..7 {
            for (i, c) in clfs.iter().enumerate() {
                let t0 = thread_cpu();
                c.predict(&refs).expect("predict");
                best[i] = best[i].min(thread_cpu() - t0);
            }
        }
        for ((b, m), t) in sizes.iter().zip(&best) {
            println!(
                "batch {b:>3}, max tokens {m:>5}: {:.1} µs/post",
                t * 1e6 / refs.len() as f64
            );
        }
    }
}
