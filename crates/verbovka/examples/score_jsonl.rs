//! Scores JSON Lines: one object with a `"text"` field per line in, one verdict per line out.
//!
//! ```sh
//! cargo run --release --example score_jsonl -- examples/data/sample.jsonl
//! cat posts.jsonl | cargo run --release --example score_jsonl
//! cargo run --release --example score_jsonl -- posts.jsonl --format html --out report.html
//! ```
//!
//! Output keeps input order, one line per input line. A line that is not JSON or has no
//! string `text` gets `{"error": "..."}` in its place; a summary (read = scored + errors)
//! goes to stderr at the end. `--format html` writes one self-contained report of the flagged
//! lines instead (every line with `--all`), showing a line's `chat`, `author`, `author_id`,
//! `id`, `date` and `link` fields where it has them. `--rules FILE` adds a rule file to the
//! embedded rules.
//!
//! Exit status (the same for `score_export`, `score_jsonl` and `explain`):
//! * 0: every line read was scored;
//! * 1: part of the input could not be used: lines with errors (each has its error record),
//!   or reading failed part-way (every line before is written);
//! * 2: the run failed: bad arguments, the input cannot be opened, the detector cannot be
//!   built, writing failed.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

#[path = "support/jsonl_lines.rs"]
mod lines;
#[path = "support/report_out.rs"]
mod report_out;
#[path = "support/user_rules.rs"]
mod user_rules;

use verbovka::report::{self, Entry, RunSummary};

/// Lines scored together: enough for the parallel batch to pay off, small enough to stream.
const CHUNK: usize = 512;

/// Errors a report lists (all are counted).
const MAX_NOTES: usize = 100;

/// What a run did.
#[derive(Default)]
struct Tally {
    read: u64,
    scored: u64,
    bad: u64,
    truncated: u64,
}

fn main() -> ExitCode {
    let mut tally = Tally::default();
    let result = run(&mut tally);
    if tally.read > 0 || result.is_ok() {
        eprintln!(
            "score_jsonl: read {} lines: {} scored, {} with errors{}",
            tally.read,
            tally.scored,
            tally.bad,
            if tally.truncated > 0 {
                format!(
                    " ({} texts cut at {} bytes)",
                    tally.truncated,
                    lines::MAX_TEXT_BYTES
                )
            } else {
                String::new()
            }
        );
    }
    match result {
        Ok(Outcome::Help) => ExitCode::SUCCESS,
        Ok(Outcome::Done) if tally.bad == 0 => ExitCode::SUCCESS,
        Ok(Outcome::Done) => {
            eprintln!(
                "score_jsonl: {} line(s) could not be scored (see their \"error\" objects)",
                tally.bad
            );
            ExitCode::from(1)
        }
        Ok(Outcome::ReadFailed(e)) => {
            eprintln!("score_jsonl: {e} (every line before it was written)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("score_jsonl: {e}");
            ExitCode::from(2)
        }
    }
}

const HELP: &str =
    "Scores JSON Lines: one object with a \"text\" field per line in, one verdict per
line out, in input order.

usage: score_jsonl [FILE] [--format jsonl|html] [--all] [--out FILE] [--rules FILE] [--model DIR]
                             (reads stdin without FILE)

  --format F       jsonl (default): one verdict per line; html: one self-contained report
                   of the flagged lines for a browser (at most 100,000, the rest counted),
                   with each line's chat, author, author_id, id, date and link fields
  --all            with html: every line, not only the flagged ones
  --out FILE       write here instead of stdout
  --rules FILE     add the rules of FILE (the format of the embedded default.toml: allow
                   rules with role \"allow\", own cues) to the embedded rules
  --model DIR      score with the model in DIR (e.g. one the lab's `learn` wrote) instead of
                   the embedded one

A line that is not JSON or has no string `text` gets {\"error\": ...} in its place; a
text longer than 1 MiB is cut there (its record says \"text_truncated\": true).
Exit status: 0 every line scored, 1 part of the input could not be used (lines with
errors, or reading failed part-way; the rest is written), 2 the run failed (arguments,
input cannot be opened, writing failed).";

enum Outcome {
    Help,
    Done,
    /// Reading failed part-way; everything read before was written.
    ReadFailed(String),
}

/// Where the results go.
enum Sink {
    Jsonl,
    /// The report's entries; `all`: every line, not only the flagged ones.
    Html {
        collected: report_out::Collector,
        all: bool,
        /// The first errors, shown in the report's notes.
        errors: Vec<String>,
    },
}

fn run(tally: &mut Tally) -> Result<Outcome, Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut path: Option<String> = None;
    let mut html = false;
    let mut all = false;
    let mut out_path: Option<String> = None;
    let mut rules_path: Option<String> = None;
    let mut model_dir: Option<String> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(Outcome::Help);
            }
            Long("format") => {
                html = match parser.value()?.string()?.as_str() {
                    "jsonl" => false,
                    "html" => true,
                    other => return Err(format!("--format is jsonl or html, got `{other}`").into()),
                }
            }
            Long("all") => all = true,
            Long("out") => out_path = Some(parser.value()?.string()?),
            Long("rules") => rules_path = Some(parser.value()?.string()?),
            Long("model") => model_dir = Some(parser.value()?.string()?),
            Value(v) if path.is_none() => path = Some(v.string()?),
            other => {
                return Err(
                    format!("{}\n(score_jsonl --help for usage)", other.unexpected()).into(),
                )
            }
        }
    }
    if all && !html {
        return Err("--all goes with --format html (JSON Lines output has every line)".into());
    }
    let (mut input, name): (Box<dyn BufRead>, String) = match &path {
        None => (Box::new(BufReader::new(std::io::stdin())), "<stdin>".into()),
        Some(path) => {
            let f = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
            (Box::new(BufReader::new(f)), path.clone())
        }
    };
    let mut builder = verbovka::Detector::builder();
    let mut rules_note = String::new();
    if let Some(p) = &rules_path {
        let u = user_rules::load(p).map_err(|e| format!("--rules: {e}"))?;
        eprintln!(
            "score_jsonl: {} rules from {p} added to the embedded rules",
            u.count
        );
        for id in &u.replaced {
            eprintln!("score_jsonl: {p} replaces the default rule `{id}`");
        }
        rules_note = format!(" + {} rules from {p}", u.count);
        builder = builder.rules(u.set);
    }
    if let Some(dir) = &model_dir {
        builder = builder.classifier(Some(
            verbovka::model::load_dir(dir).map_err(|e| format!("--model: {e}"))?,
        ));
    }
    let detector = builder.build()?;
    let mut out: Box<dyn Write> = match &out_path {
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
        Some(o) => {
            if let (Some(i), Ok(a), Ok(b)) = (
                &path,
                std::fs::canonicalize(o),
                std::fs::canonicalize(path.as_deref().unwrap_or_default()),
            ) {
                if a == b {
                    return Err(format!(
                        "--out {o} would overwrite the input {i}; write elsewhere"
                    )
                    .into());
                }
            }
            let f = std::fs::File::create(o).map_err(|e| format!("cannot write {o}: {e}"))?;
            Box::new(BufWriter::new(f))
        }
    };
    let mut sink = if html {
        Sink::Html {
            collected: report_out::Collector::default(),
            all,
            errors: Vec::new(),
        }
    } else {
        Sink::Jsonl
    };
    let mut chunk: Vec<Result<(String, bool), String>> = Vec::with_capacity(CHUNK);
    // With html, each good line's fields for the report, in step with `chunk`.
    let mut metas: Vec<Meta> = Vec::new();
    // Lines are read as bytes, at most MAX_LINE_BYTES kept: a line that is not UTF-8 or too
    // long is one bad line, not the end of the run (nor all of memory).
    let mut read_error = None;
    let mut n = 0;
    loop {
        let line = match lines::read_line(&mut input, lines::MAX_LINE_BYTES) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                read_error = Some(format!("{name}: reading failed after line {n}: {e}"));
                break;
            }
        };
        let text = lines::text_of(&line, n, lines::MAX_TEXT_BYTES);
        if html {
            metas.push(if text.is_ok() {
                Meta::of(&line)
            } else {
                Meta::default()
            });
        }
        chunk.push(text);
        n += 1;
        if chunk.len() == CHUNK {
            flush(
                &detector, &mut chunk, &mut metas, &mut out, &mut sink, tally,
            )?;
        }
    }
    // Everything read so far is written, even when reading failed part-way.
    flush(
        &detector, &mut chunk, &mut metas, &mut out, &mut sink, tally,
    )?;
    if let Sink::Html {
        collected, errors, ..
    } = &sink
    {
        let mut run = RunSummary::new(&name);
        run.read = tally.read;
        run.scored = tally.scored;
        run.skipped = vec![("lines with errors".into(), tally.bad)];
        run.detector = format!("rules + model{rules_note}");
        if !detector.has_model() {
            run.detector = format!("rules only{rules_note}");
        }
        run.thresholds = Some(detector.thresholds());
        run.omitted = collected.omitted;
        run.generated = report_out::now_utc();
        if tally.truncated > 0 {
            run.notes.push(format!(
                "{} texts longer than {} bytes were cut there",
                tally.truncated,
                lines::MAX_TEXT_BYTES
            ));
        }
        run.notes.extend(errors.iter().cloned());
        if tally.bad > errors.len() as u64 {
            run.notes.push(format!(
                "{} more lines with errors not listed",
                tally.bad - errors.len() as u64
            ));
        }
        if let Some(e) = &read_error {
            run.notes.push(e.clone());
        }
        report::write_html(&mut out, &run, &collected.entries)?;
        eprintln!(
            "score_jsonl: wrote a report of {} lines to {}{}",
            collected.entries.len(),
            out_path.as_deref().unwrap_or("stdout"),
            if collected.omitted > 0 {
                format!(" ({} more left out: the report's limit)", collected.omitted)
            } else {
                String::new()
            }
        );
    }
    out.flush()?;
    Ok(match read_error {
        Some(e) => Outcome::ReadFailed(e),
        None => Outcome::Done,
    })
}

/// A verdict, and whether its text was cut at `MAX_TEXT_BYTES`.
#[derive(serde::Serialize)]
struct Record<'a> {
    #[serde(flatten)]
    verdict: &'a verbovka::Verdict,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    text_truncated: bool,
}

/// A line's fields the report shows besides its text (strings or numbers).
#[derive(Default)]
struct Meta {
    chat: Option<String>,
    author: Option<String>,
    author_id: Option<String>,
    id: Option<i64>,
    date: Option<String>,
    link: Option<String>,
}

impl Meta {
    /// The fields of a line `text_of` accepted (so it is UTF-8 JSON, perhaps after a BOM or
    /// before a CR).
    fn of(line: &lines::Line) -> Meta {
        let lines::Line::Bytes(bytes) = line else {
            return Meta::default();
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes.trim_ascii_end()) else {
            return Meta::default();
        };
        let text = |k: &str| match v.get(k) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Meta {
            chat: text("chat"),
            author: text("author"),
            author_id: text("author_id"),
            id: v
                .get("id")
                .or_else(|| v.get("message_id"))
                .and_then(|i| i.as_i64()),
            date: text("date"),
            link: text("link"),
        }
    }
}

/// Scores the good lines of a chunk together and writes every line's result in order (or,
/// for the report, keeps them).
fn flush(
    detector: &verbovka::Detector,
    chunk: &mut Vec<Result<(String, bool), String>>,
    metas: &mut Vec<Meta>,
    out: &mut impl Write,
    sink: &mut Sink,
    tally: &mut Tally,
) -> Result<(), Box<dyn std::error::Error>> {
    let texts: Vec<&str> = chunk
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(t, _)| t.as_str()))
        .collect();
    let mut verdicts = detector.score_batch(&texts).into_iter();
    let mut metas = metas.drain(..);
    for item in chunk.drain(..) {
        tally.read += 1;
        let meta = metas.next();
        match item {
            Ok((text, cut)) => {
                let v = verdicts
                    .next()
                    .ok_or("internal: fewer verdicts than texts")?;
                tally.scored += 1;
                tally.truncated += u64::from(cut);
                match sink {
                    Sink::Jsonl => {
                        let record = Record {
                            verdict: &v,
                            text_truncated: cut,
                        };
                        serde_json::to_writer(&mut *out, &record)?;
                    }
                    Sink::Html { collected, all, .. } => {
                        if *all || v.is_flagged() {
                            let meta = meta.unwrap_or_default();
                            let mut entry = Entry::new(text, v);
                            entry.chat = meta.chat;
                            entry.author = meta.author;
                            entry.author_id = meta.author_id;
                            entry.message_id = meta.id;
                            entry.date = meta.date;
                            entry.link = meta.link;
                            entry.text_truncated = cut;
                            collected.push(entry);
                        }
                        continue;
                    }
                }
            }
            Err(e) => {
                tally.bad += 1;
                if let Sink::Html { errors, .. } = sink {
                    if errors.len() < MAX_NOTES {
                        errors.push(e);
                    }
                    continue;
                }
                serde_json::to_writer(&mut *out, &serde_json::json!({ "error": e }))?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}
