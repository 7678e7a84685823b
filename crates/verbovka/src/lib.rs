//! verbovka finds Telegram posts that recruit people for sabotage or spying, in Russian,
//! Ukrainian and the mix of both, among ordinary messages and among the news reports and
//! police warnings that use the very same words.
//!
//! # Quick start
//!
//! ```
//! use verbovka::{Detector, Label};
//!
//! let detector = Detector::new()?; // embedded rules (+ embedded model with the default feature)
//! let verdict = detector.score("Треба пiдп@лити авто ЗСУ біля ТЦК, 500$ одразу після відео. Пиши @job_ua");
//! assert_eq!(verdict.label, Label::Sabotage);
//! for e in &verdict.evidence {
//!     println!("{:+.1} {} «{}»: {}", e.weight, e.rule, e.text, e.explain);
//! }
//! let news = detector.score("СБУ затримала агента, який за 500$ підпалював авто ЗСУ. Йому загрожує до 8 років.");
//! assert_eq!(news.label, Label::Benign);
//! # Ok::<(), verbovka::Error>(())
//! ```
//!
//! # The pipeline
//!
//! [`Detector::score`] runs, for each text:
//!
//! 1. **normalise** ([`normalize()`]): undo obfuscation — look-alike Latin/Greek/fullwidth/
//!    mathematical letters, digits used as letters (`п0дж0г`), zero-width characters and soft
//!    hyphens, emoji and asterisks between letters, letter spacing (`п о д ж о г`, `п.о.д.ж.о.г`), repeated
//!    letters, Latin transliteration (`pidpalyty avto`, `4to`, `pi6i`) — while keeping a map
//!    from every normalised byte back to the original;
//! 2. **rules** ([`rules`]): weighted keywords (aho-corasick) and regexes (`RegexSet`) from a
//!    TOML file embedded in the crate ([`rules::DEFAULT_RULES`]); each hit keeps its span;
//! 3. **model** ([`Classifier`], [`model`]): small transformers trained for this task, fed the
//!    normalised text — the shipped default is an ensemble of three, whose logits are averaged
//!    ([`model::Ensemble`], with the `embedded-model` feature, on by default);
//! 4. **fuse** ([`scoring`]): rule evidence and model logits become per-category scores; the
//!    formula is documented in [`scoring`];
//! 5. the [`Verdict`]: `label` (`sabotage`, `reconnaissance`, `lure` or `benign`), `risk`,
//!    `scores`, `lang`, and `evidence` — every rule that fired, positive or negative, with its
//!    span into the *original* text, the original substring and a one-line explanation.
//!
//! Each stage is replaceable alone: build a [`Detector`] with [`Detector::builder`] from your
//! own [`rules::RuleSet`] (e.g. the default extended with [`rules::RuleSpec::extend`]), your
//! own [`Classifier`], [`scoring::Fusion`] constants or [`scoring::Thresholds`].
//!
//! # Batches and threads
//!
//! [`Detector::score_batch`] scores many texts on the caller's rayon pool (run it inside
//! `ThreadPool::install` to choose the pool); the model packs each batch's texts without
//! padding (see [`model::TransformerClassifier`]), and every text gets the verdict it would get
//! alone, bit for bit, on every [`model::Engine`] (AVX-512, AVX2+FMA or portable, chosen at run
//! time or with [`DetectorBuilder::engine`]). The
//! detector is `Send + Sync` and cheap to clone. The library never prints, reads environment
//! variables, touches the network or keeps global state.
//!
//! For calibration and analysis, [`Detector::analyse_batch`] returns what the pipeline knows
//! of each text before fusion: the normalised text, the rule hits and evidence, and the model's
//! raw logits.
//!
//! # Operating points
//!
//! The embedded model's calibration carries an alarm-budget curve measured on the dev split:
//! thresholds moved together, each with the dev real messages flagged per 10,000, the dev
//! positives flagged and the dev hard negatives flagged (the model card prints it). Pick a
//! point by how many alarms your moderators can review:
//!
//! ```
//! use verbovka::Detector;
//!
//! // At most 5 alarms per 10,000 ordinary dev messages, best recall within that.
//! let strict = Detector::builder().alarm_rate(5e-4).build()?;
//! println!("thresholds: {:?}", strict.thresholds());
//! assert!(Detector::builder().alarm_rate(f64::NAN).build().is_err()); // a rate, not NaN
//! # Ok::<(), verbovka::Error>(())
//! ```
//!
//! The rates were measured on dev text, not on yours: check a point on a sample of your own
//! traffic ([`scoring::Calibration::thresholds_for_alarm_rate`]).
//!
//! # Inputs
//!
//! [`telegram`] reads Telegram Desktop exports (JSON, single chat or whole account, and HTML
//! with the `telegram-html` feature) as a stream of [`telegram::Message`]s, in constant memory, counting what it skips and why.
//! The examples `score_export` and `score_jsonl` batch-score exports and JSON Lines.
//!
//! # Reports
//!
//! [`report::write_html`] renders scored messages as one self-contained HTML file for a
//! moderator: run summary, flags per day, top authors and chats, each message with its
//! evidence highlighted by role, scores and filters; hostile text stays text. It is a pure
//! function (entries and counts in, HTML out), shared by the examples' `--format html`.
//!
//! # Untrusted input
//!
//! Any `&str` is accepted: nothing panics, evidence spans always lie on character boundaries
//! of the text given, and cost is linear in the text's length (regexes are finite automata;
//! the model reads a long text in overlapping windows, at most 16 of them, and marks the verdict
//! `truncated` when a text is longer than that; it also reads at most 3 focus parts of ≤ 900
//! bytes, the lines where rules fire, [`scoring::focus_parts`]).
//! Memory is linear in the text as well: some 10–40 bytes of heap per byte of ordinary text, at
//! most about 150 for text that Unicode normalisation expands (U+FDFA; `tests/memory.rs`
//! counts it). [`Detector::score`] reads all of the `&str` it is given, so bound what you pass:
//! the export reader cuts texts at [`telegram::Reader::max_text_bytes`] (1 MiB by default: a
//! worst-case text then costs under 150 MB, a process with the default detector stays under
//! 300 MB) and steps over message objects larger than
//! [`telegram::Reader::max_message_bytes`] (16 MiB); `score_jsonl` cuts its texts at 1 MiB too.
//! Rule files are validated when loaded: an unknown field, bad regex, non-canonical keyword or
//! unknown category fails with an [`Error`] naming the rule.
//!
//! # Features
//!
//! * `embedded-model` (default): embeds `models/default` (three members stored as f16, ~8.6 MB,
//!   widened to f32 at load) so [`Detector::new`] needs no paths. Without it,
//!   [`Detector::new`] is rules only, and a model or ensemble can be loaded from a directory
//!   ([`model::load_dir`]).
//! * `telegram-html` (off): reads Telegram Desktop's HTML exports; pulls in an HTML parser
//!   (`scraper`). The JSON reader is always built.
//!
//! Training, the dataset, calibration fitting and evaluation live in the workspace's
//! `verbovka-lab` crate, which is not published.
//!
//! # What it does not do
//!
//! It scores text only (no images, no account metadata), Russian and Ukrainian only; it flags
//! posts for a human to review, it does not prove intent. The model card
//! (`models/default/README.md`) has the measured quality.
#![deny(missing_docs)]
// `unsafe` lives in one place, the engine's SIMD kernels (`model/fast.rs`).
#![deny(unsafe_code)]

mod classifier;
mod detector;
mod error;
mod lang;
mod types;
mod verdict;

pub mod model;
pub mod normalize;
pub mod report;
pub mod rules;
pub mod scoring;
pub mod telegram;

pub use classifier::{Classifier, ModelOutput};
pub use detector::{Analysis, Detector, DetectorBuilder};
pub use error::{BoxError, Error, Result};
pub use normalize::{normalize, Normalized};
pub use types::{Category, Label, Lang, PerCategory, Scores, Span};
pub use verdict::{Evidence, Verdict};

// The nouns most programs need, flat; the modules hold the rest and the manual.
pub use model::{Ensemble, TransformerClassifier};
pub use rules::{RuleSet, RuleSpec};
pub use scoring::{Calibration, Contribution, Fusion, Term, Thresholds};
pub use telegram::{Message, Reader};

/// The README's examples are compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
