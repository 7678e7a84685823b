//! [verbovka]'s detector as SQL functions of [Apache DataFusion](https://datafusion.apache.org)
//! (55), and a [Ballista](https://datafusion.apache.org/ballista/) (55) scheduler and executor
//! that know them: score an archive of messages with SQL, on one machine or a cluster.
//!
//! ```no_run
//! use datafusion::prelude::SessionContext;
//! use verbovka_datafusion::{messages, Functions};
//!
//! # async fn run() -> datafusion::error::Result<()> {
//! let ctx = SessionContext::new();
//! Functions::new().register(&ctx);
//! messages::register_messages(&ctx, "messages", "archive/".as_ref()).await?; // Parquet or JSONL
//! ctx.sql("SELECT chat, count(*) FROM messages WHERE verbovka_label(text) <> 'benign' GROUP BY chat")
//!     .await?
//!     .show()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The functions
//!
//! | SQL | returns |
//! |---|---|
//! | `verbovka_score(text)` | struct `{label: Utf8, risk: Float32, sabotage: Float32, reconnaissance: Float32, lure: Float32, truncated: Boolean}` |
//! | `verbovka_label(text)` | `benign`, `sabotage`, `reconnaissance` or `lure` (Utf8) |
//! | `verbovka_evidence(text)` | the rules that fired, a JSON array (Utf8) of `{rule, category, role, weight, span: {start, end}, text, explain}`; spans are byte offsets into the text |
//!
//! The values are those of [`verbovka::Verdict`] (`label`, `risk`, `scores`, `truncated`,
//! `evidence`) for the same text, bit for bit: each Arrow batch is scored with one
//! [`Detector::score_batch`](verbovka::Detector::score_batch) call, the detector's parallel
//! path. Read a field with `verbovka_score(text)['risk']`.
//!
//! * **Input**: `Utf8`, `LargeUtf8` and `Utf8View` are read as they are, a dictionary of
//!   strings is unpacked. Any other type is a plan error naming the function and the type
//!   (`verbovka_label takes a string (Utf8, LargeUtf8 or Utf8View), got Int64; cast it first`).
//! * **Nulls** stay null (the functions are strict); an **empty string** is scored like any
//!   text (it is benign).
//! * **Long texts**: a text over [`DEFAULT_MAX_TEXT_BYTES`] (1 MiB, [`Functions::max_text_bytes`]
//!   to change) is cut there on a character boundary before scoring, as verbovka's export
//!   reader cuts its texts, so one row cannot take more than ~150 MB; its `truncated` is true
//!   (the model reads at most 16 windows of a text anyway).
//! * **Cost** is the model's, once per text and call site: `verbovka_score(text)['risk'],
//!   verbovka_score(text)['label']` and a filter's `verbovka_label(text)` on the same batch
//!   run the model once (DataFusion 55 evaluates each of them separately, apache/datafusion#25329;
//!   the functions keep the verdicts of the last 16 arrays they scored and reuse them for the
//!   same array). A function evaluated above a filter reads the filtered batch, a new array:
//!   the rows that passed are scored again there. [`Functions::texts_scored`] counts what the
//!   model was given.
//!
//! # The detector
//!
//! [`Functions::new`] uses one process-wide detector ([`default_detector`]: embedded rules
//! and model), built at the first batch scored and shared by every session of the process.
//! That cache is this crate's, documented here; verbovka itself keeps no global state.
//! [`Functions::with_detector`] takes your own (`Arc<Detector>`: own rules, thresholds or
//! alarm rate). The functions of one [`Functions`] share its detector.
//!
//! `score_batch` runs on rayon's global pool (`RAYON_NUM_THREADS`, default one thread per
//! CPU), which DataFusion's partitions share: a process scores with all its CPUs whatever the
//! number of partitions.
//!
//! # Message tables
//!
//! [`messages::register_messages`] registers a file or folder of Parquet or JSON Lines files
//! as a table. [`messages::ParquetSink`] writes verbovka's Telegram export messages
//! ([`verbovka::telegram::Reader`]) to Parquet in [`messages::messages_schema`]: `chat`,
//! `chat_id`, `id`, `date` (UTC), `author`, `text`. The examples:
//!
//! ```text
//! cargo run --release -p verbovka-datafusion --example telegram_to_parquet -- EXPORT... --out DIR
//! cargo run --release -p verbovka-datafusion --example sql -- DIR ["SELECT ..."]
//! ```
//!
//! # Ballista
//!
//! With the `ballista` feature (default), the [`cluster`] module and the `verbovka-ballista`
//! binary (`scheduler` and `executor` modes) register the functions where Ballista resolves
//! them: the scheduler's session builder and the executors' function registry; the client
//! ([`cluster::remote_context`]) registers them on its own session. The crate README says how
//! to start a cluster on one machine and on several; the `ballista_client` example runs the
//! same SQL on it.
//!
//! Without the feature the crate is the functions and message tables only (no gRPC stack).
#![deny(missing_docs)]

#[cfg(feature = "ballista")]
pub mod cluster;
pub mod messages;
mod udf;

pub use udf::{
    default_detector, score_fields, Functions, DEFAULT_MAX_TEXT_BYTES, EVIDENCE, LABEL, SCORE,
};
