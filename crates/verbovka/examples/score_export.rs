//! Scores every message of a Telegram Desktop export and writes the flagged ones.
//!
//! ```text
//! cargo run --release --example score_export -- PATH [--all] [--threshold X]
//!     [--format jsonl|csv|html] [--out FILE] [--rules FILE] [--model DIR]
//! ```
//! `PATH` is an export folder or file, JSON (`result.json`) or HTML (`messages*.html`),
//! detected. One record per flagged message (every message with `--all`) goes to `--out` or
//! stdout; a progress bar and, at the end, a summary go to stderr. `--threshold X` sets every
//! category's threshold to X. `--format html` writes one self-contained report to open in a
//! browser (`verbovka::report`) instead of records. `--rules FILE` adds a rule file (allow
//! rules, own cues; the format of `src/rules/default.toml`) to the embedded rules.
//!
//! Exit status (the same for `score_export`, `score_jsonl` and `explain`):
//! * 0: every message read was scored (or skipped for holding nothing to score: service
//!   messages, no text, unknown types);
//! * 1: part of the input could not be used: damaged messages skipped (listed in the summary
//!   with their place), or the export damaged part-way; everything readable was scored and
//!   written;
//! * 2: the run failed: bad arguments, the input or output cannot be opened (or `--out` is the
//!   input), writing failed, the detector or the reader failed.
//!
//! The summary always adds up: read = scored + skipped.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use verbovka::report::{self, Entry, RunSummary};
use verbovka::scoring::Thresholds;
use verbovka::telegram::{ChatKind, Format, Message, ReadStats, Reader, SkipReason};
use verbovka::{Category, Detector, Label, PerCategory, Verdict};

/// Messages scored together (the detector spreads a batch over the rayon pool).
const BATCH: usize = 256;

#[path = "support/report_out.rs"]
mod report_out;
#[path = "support/user_rules.rs"]
mod user_rules;

#[derive(Clone, Copy, PartialEq)]
enum OutFormat {
    Jsonl,
    Csv,
    Html,
}

struct Args {
    path: String,
    all: bool,
    threshold: Option<f32>,
    format: OutFormat,
    out: Option<String>,
    rules: Option<String>,
    model: Option<String>,
}

const HELP: &str = "Scores every message of a Telegram Desktop export and writes the flagged ones.

usage: score_export PATH [--all] [--threshold X] [--format jsonl|csv|html] [--out FILE]
                    [--rules FILE] [--model DIR]

  PATH             an export folder or file: JSON (result.json) or HTML (messages*.html)
  --all            write every message, not only the flagged ones
  --threshold X    one threshold in (0, 1] for every category (default: the model's)
  --format F       jsonl (default), csv, or html: one self-contained report for a browser
                   (summary, per-day chart, each message with its evidence highlighted,
                   filters; at most 100,000 messages, the rest counted)
  --out FILE       write records (or the report) here instead of stdout
  --rules FILE     add the rules of FILE (the format of the embedded default.toml: allow
                   rules with role \"allow\", own cues) to the embedded rules; a rule
                   with a default rule's id replaces it
  --model DIR      score with the model in DIR (e.g. one the lab's `learn` wrote from your
                   corrections) instead of the embedded one
  -h, --help       this text

Exit status: 0 every message read was scored (or held nothing to score), 1 part of the
input could not be used (damaged messages skipped, or the export damaged part-way; the rest
is written), 2 the run failed (arguments, input or output cannot be opened, --out is the
input, writing failed, the reader failed).";

/// `Ok(None)` when `--help` was asked for.
fn parse_args() -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let e = |e: lexopt::Error| e.to_string();
    let mut parser = lexopt::Parser::from_env();
    let mut args = Args {
        path: String::new(),
        all: false,
        threshold: None,
        format: OutFormat::Jsonl,
        out: None,
        rules: None,
        model: None,
    };
    let mut path = None;
    while let Some(arg) = parser.next().map_err(e)? {
        match arg {
            Long("all") => args.all = true,
            Long("threshold") => {
                let v = parser.value().map_err(e)?.string().map_err(e)?;
                let t: f32 = v
                    .parse()
                    .map_err(|_| format!("--threshold wants a number, got `{v}`"))?;
                if !(t > 0.0 && t <= 1.0) {
                    return Err(format!("--threshold must be in (0, 1], got {t}"));
                }
                args.threshold = Some(t);
            }
            Long("format") => {
                args.format = match parser.value().map_err(e)?.string().map_err(e)?.as_str() {
                    "jsonl" => OutFormat::Jsonl,
                    "csv" => OutFormat::Csv,
                    "html" => OutFormat::Html,
                    other => return Err(format!("--format is jsonl, csv or html, got `{other}`")),
                }
            }
            Long("out") => args.out = Some(parser.value().map_err(e)?.string().map_err(e)?),
            Long("rules") => args.rules = Some(parser.value().map_err(e)?.string().map_err(e)?),
            Long("model") => args.model = Some(parser.value().map_err(e)?.string().map_err(e)?),
            Short('h') | Long("help") => return Ok(None),
            Value(v) if path.is_none() => path = Some(v.string().map_err(e)?),
            other => return Err(other.unexpected().to_string()),
        }
    }
    args.path = path.ok_or("no export PATH given")?;
    Ok(Some(args))
}

/// One output record: where the message is, what it says, and the verdict.
#[derive(Serialize)]
struct Record<'a> {
    chat: Option<&'a str>,
    chat_id: Option<i64>,
    chat_kind: ChatKind,
    message_id: i64,
    date: Option<String>,
    author: Option<&'a str>,
    author_id: Option<&'a str>,
    forwarded_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarded_from_id: Option<&'a str>,
    link: Option<String>,
    text: &'a str,
    /// The reader cut the text at `Reader::max_text_bytes`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    text_truncated: bool,
    links: &'a [String],
    #[serde(flatten)]
    verdict: &'a Verdict,
}

impl<'a> Record<'a> {
    fn new(m: &'a Message, verdict: &'a Verdict) -> Self {
        Record {
            chat: m.chat.name.as_deref(),
            chat_id: m.chat.id,
            chat_kind: m.chat.kind,
            message_id: m.id,
            date: m.date_iso(),
            author: m.author.as_deref(),
            author_id: m.author_id.as_deref(),
            forwarded_from: m.forwarded_from.as_deref(),
            forwarded_from_id: m.forwarded_from_id.as_deref(),
            link: m.link(),
            text: &m.text,
            text_truncated: m.truncated,
            links: &m.links,
            verdict,
        }
    }
}

const CSV_HEADER: &str = "chat,chat_id,message_id,date,author,author_id,link,label,risk,sabotage,reconnaissance,lure,lang,rules,text";

/// One CSV cell. A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR
/// first) gets a leading `'`, so an author named `=HYPERLINK(…)` stays text.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Text for the terminal: control characters (ANSI escapes among them) shown as `\u{..}`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn write_record(out: &mut impl Write, format: OutFormat, r: &Record<'_>) -> io::Result<()> {
    match format {
        OutFormat::Html => unreachable!("the report is written at the end"),
        OutFormat::Jsonl => {
            serde_json::to_writer(&mut *out, r)?;
            out.write_all(b"\n")
        }
        OutFormat::Csv => {
            let v = r.verdict;
            let rules: Vec<&str> = v.evidence.iter().map(|e| e.rule.as_str()).collect();
            let opt = |x: Option<String>| x.unwrap_or_default();
            let fields = [
                csv_field(r.chat.unwrap_or_default()),
                opt(r.chat_id.map(|i| i.to_string())),
                r.message_id.to_string(),
                opt(r.date.clone()),
                csv_field(r.author.unwrap_or_default()),
                csv_field(r.author_id.unwrap_or_default()),
                opt(r.link.clone()),
                v.label.to_string(),
                format!("{:.3}", v.risk),
                format!("{:.3}", v.scores.sabotage),
                format!("{:.3}", v.scores.reconnaissance),
                format!("{:.3}", v.scores.lure),
                v.lang.to_string(),
                csv_field(&rules.join(";")),
                csv_field(r.text),
            ];
            writeln!(out, "{}", fields.join(","))
        }
    }
}

/// What the reading thread hands over.
enum Batch {
    Messages(Vec<Message>),
    Damaged(verbovka::Error),
}

/// Reads on its own thread, so that parsing overlaps scoring.
fn spawn_reader(
    mut reader: Reader,
    position: Arc<AtomicU64>,
) -> (mpsc::Receiver<Batch>, std::thread::JoinHandle<ReadStats>) {
    let (tx, rx) = mpsc::sync_channel(4);
    let handle = std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(item) = reader.next() {
            match item {
                Ok(m) => {
                    batch.push(m);
                    if batch.len() == BATCH {
                        position.store(reader.bytes_read(), Ordering::Relaxed);
                        if tx
                            .send(Batch::Messages(std::mem::replace(
                                &mut batch,
                                Vec::with_capacity(BATCH),
                            )))
                            .is_err()
                        {
                            break;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Batch::Messages(std::mem::take(&mut batch)));
                    let _ = tx.send(Batch::Damaged(e));
                    break;
                }
            }
        }
        position.store(reader.bytes_read(), Ordering::Relaxed);
        if !batch.is_empty() {
            let _ = tx.send(Batch::Messages(batch));
        }
        reader.stats().clone()
    });
    (rx, handle)
}

#[derive(Default)]
struct Tally {
    scored: u64,
    written: u64,
    flagged: [u64; 3],
    authors: HashMap<(String, String), u64>,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n(score_export --help for usage)");
            return ExitCode::from(2);
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if std::fs::metadata(&args.path).is_ok_and(|m| m.file_type().is_fifo()) {
            eprintln!(
                "score_export: {} is a named pipe: waiting for a writer…",
                args.path
            );
        }
    }
    let reader = match Reader::open(&args.path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read the export: {e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = Detector::builder();
    if let Some(t) = args.threshold {
        builder = builder.thresholds(Thresholds(PerCategory::splat(t)));
    }
    let mut rules_note = String::new();
    if let Some(path) = &args.rules {
        match user_rules::load(path) {
            Ok(u) => {
                rules_note = format!(" + {} rules from {path}", u.count);
                eprintln!(
                    "score_export: {} rules from {path} added to the embedded rules",
                    u.count
                );
                for id in &u.replaced {
                    eprintln!("score_export: {path} replaces the default rule `{id}`");
                }
                builder = builder.rules(u.set);
            }
            Err(e) => {
                eprintln!("error: --rules: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(dir) = &args.model {
        match verbovka::model::load_dir(dir) {
            Ok(model) => builder = builder.classifier(Some(model)),
            Err(e) => {
                eprintln!("error: --model: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let detector = match builder.build() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot build the detector: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.out {
        if let Err(e) = output_is_not_input(path, &args.path) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => match File::create(path) {
            Ok(f) => Box::new(BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write {path}: {e}");
                return ExitCode::from(2);
            }
        },
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };

    let format = reader.format();
    let total = reader.total_bytes();
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.enable_steady_tick(Duration::from_millis(200));

    let start = Instant::now();
    let position = Arc::new(AtomicU64::new(0));
    let (batches, handle) = spawn_reader(reader, Arc::clone(&position));
    let mut tally = Tally::default();
    let mut collected = report_out::Collector::default();
    let mut damage = None;
    let mut write_error = None;
    if args.format == OutFormat::Csv {
        if let Err(e) = writeln!(out, "{CSV_HEADER}") {
            write_error = Some(e);
        }
    }
    for batch in batches.iter() {
        let messages = match batch {
            Batch::Messages(m) => m,
            Batch::Damaged(e) => {
                damage = Some(e);
                break;
            }
        };
        let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
        let verdicts = detector.score_batch(&texts);
        for (m, v) in messages.iter().zip(&verdicts) {
            tally.scored += 1;
            if let Some(c) = v.label.category() {
                tally.flagged[c.index()] += 1;
                let key = (
                    m.author.clone().unwrap_or_else(|| "(no name)".into()),
                    m.author_id.clone().unwrap_or_default(),
                );
                *tally.authors.entry(key).or_default() += 1;
            }
            if (args.all || v.is_flagged()) && write_error.is_none() {
                if args.format == OutFormat::Html {
                    if collected.push(Entry::from_message(m, v.clone())) {
                        tally.written += 1;
                    }
                } else {
                    match write_record(&mut out, args.format, &Record::new(m, v)) {
                        Ok(()) => tally.written += 1,
                        Err(e) => write_error = Some(e),
                    }
                }
            }
        }
        if write_error.is_some() {
            break;
        }
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        bar.set_position(position.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{} msgs, {:.0} msg/s, {} flagged",
            tally.scored,
            tally.scored as f64 / secs,
            tally.flagged.iter().sum::<u64>()
        ));
    }
    drop(batches); // stops the reader if scoring ended early
    let stats = match handle.join() {
        Ok(stats) => stats,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown cause");
            bar.finish_and_clear();
            eprintln!(
                "error: the export reader failed ({why}) after {} messages",
                tally.scored
            );
            return ExitCode::from(2);
        }
    };
    if args.format == OutFormat::Html && write_error.is_none() {
        let mut run = RunSummary::from_read_stats(&args.path, &stats);
        run.scored = tally.scored;
        run.detector = format!(
            "{}{rules_note}",
            if detector.has_model() {
                "rules + model"
            } else {
                "rules only"
            }
        );
        run.thresholds = Some(detector.thresholds());
        run.omitted = collected.omitted;
        run.generated = report_out::now_utc();
        if let Some(e) = &damage {
            run.notes.push(format!(
                "the export is damaged: {e}; the messages before were scored"
            ));
        }
        if let Err(e) = report::write_html(&mut out, &run, &collected.entries) {
            write_error = Some(e);
        }
    }
    if let Err(e) = out.flush() {
        write_error.get_or_insert(e);
    }
    bar.finish_and_clear();
    summary(
        &args,
        format,
        detector.has_model(),
        &stats,
        &tally,
        collected.omitted,
        start.elapsed(),
    );

    if let Some(e) = write_error {
        eprintln!("error: writing the output failed: {e}");
        return ExitCode::from(2);
    }
    if let Some(e) = damage {
        eprintln!("error: the export is damaged: {e}");
        eprintln!(
            "       the {} messages before the damage were scored",
            tally.scored
        );
        return ExitCode::from(1);
    }
    if stats.damaged() > 0 {
        eprintln!(
            "error: {} damaged message(s) skipped (the rest was scored)",
            stats.damaged()
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Refuses an `--out` that is the export itself or a file inside an export folder: creating it
/// would truncate the input before it is read.
fn output_is_not_input(out: &str, input: &str) -> Result<(), String> {
    let (Ok(out_abs), Ok(input_abs)) = (std::fs::canonicalize(out), std::fs::canonicalize(input))
    else {
        return Ok(()); // a new file cannot be the input
    };
    if out_abs == input_abs || (input_abs.is_dir() && out_abs.starts_with(&input_abs)) {
        return Err(format!(
            "--out {out} would overwrite the export being read ({input}); write elsewhere"
        ));
    }
    Ok(())
}

fn summary(
    args: &Args,
    format: Format,
    model: bool,
    stats: &ReadStats,
    tally: &Tally,
    omitted: u64,
    elapsed: Duration,
) {
    let secs = elapsed.as_secs_f64();
    let skipped: Vec<String> = SkipReason::ALL
        .iter()
        .filter(|r| stats.skipped(**r) > 0)
        .map(|r| format!("{r} {}", stats.skipped(*r)))
        .collect();
    let format = match format {
        Format::Json => "json",
        Format::Html => "html",
    };
    let detector = if model { "rules + model" } else { "rules only" };
    eprintln!(
        "score_export: {} ({format}, {} chats; detector: {detector})",
        args.path, stats.chats
    );
    eprintln!(
        "  read {} messages: {} scored, {} skipped{}",
        stats.read(),
        tally.scored,
        stats.skipped_total(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", skipped.join(", "))
        }
    );
    if stats.read() != tally.scored + stats.skipped_total() {
        eprintln!(
            "  note: {} messages were read but not scored (scoring stopped early)",
            stats.read() - tally.scored - stats.skipped_total()
        );
    }
    for note in &stats.notes {
        eprintln!("  skipped: {}", printable(&note.to_string()));
    }
    if stats.damaged() > stats.notes.len() as u64 {
        eprintln!(
            "  ({} more damaged messages not listed)",
            stats.damaged() - stats.notes.len() as u64
        );
    }
    if stats.truncated > 0 {
        eprintln!(
            "  {} messages had texts longer than {} bytes, cut there",
            stats.truncated,
            verbovka::telegram::MAX_TEXT_BYTES
        );
    }
    if stats.undated > 0 {
        eprintln!("  {} messages have no usable date", stats.undated);
    }
    let per: Vec<String> = Category::ALL
        .iter()
        .map(|c| format!("{} {}", Label::from(*c), tally.flagged[c.index()]))
        .collect();
    eprintln!(
        "  flagged {}: {} (threshold {})",
        tally.flagged.iter().sum::<u64>(),
        per.join(", "),
        args.threshold
            .map_or("default".to_owned(), |t| t.to_string())
    );
    let mut authors: Vec<(&(String, String), &u64)> = tally.authors.iter().collect();
    authors.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !authors.is_empty() {
        eprintln!("  top flagged authors:");
        for ((name, id), n) in authors.into_iter().take(10) {
            let id = if id.is_empty() {
                String::new()
            } else {
                format!(" ({id})")
            };
            eprintln!("    {n:>6}  {}{}", printable(name), printable(&id));
        }
    }
    if args.format == OutFormat::Html {
        eprintln!(
            "  wrote a report of {} messages to {}{}",
            tally.written,
            args.out.as_deref().unwrap_or("stdout"),
            if omitted > 0 {
                format!(" ({omitted} more left out: the report's limit)")
            } else {
                String::new()
            }
        );
    } else {
        eprintln!(
            "  wrote {} records to {}",
            tally.written,
            args.out.as_deref().unwrap_or("stdout")
        );
    }
    eprintln!(
        "  elapsed {secs:.2} s, {:.0} messages/s",
        tally.scored as f64 / secs.max(1e-9)
    );
}
