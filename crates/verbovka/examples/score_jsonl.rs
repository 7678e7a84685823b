//! Scores JSON Lines: one object with a `"text"` field per line in, one verdict per line out.
//!
//! ```sh
//! cargo run --release --example score_jsonl -- examples/data/sample.jsonl
//! cat posts.jsonl | cargo run --release --example score_jsonl
//! ```
//!
//! Output keeps input order, one line per input line. A line that is not JSON or has no
//! string `text` gets `{"error": "..."}` in its place; a summary (read = scored + errors)
//! goes to stderr at the end.
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

/// Lines scored together: enough for the parallel batch to pay off, small enough to stream.
const CHUNK: usize = 512;

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

usage: score_jsonl [FILE]     (reads stdin without FILE)

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

fn run(tally: &mut Tally) -> Result<Outcome, Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut path: Option<String> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(Outcome::Help);
            }
            Value(v) if path.is_none() => path = Some(v.string()?),
            other => {
                return Err(
                    format!("{}\n(score_jsonl --help for usage)", other.unexpected()).into(),
                )
            }
        }
    }
    let (mut input, name): (Box<dyn BufRead>, String) = match path {
        None => (Box::new(BufReader::new(std::io::stdin())), "<stdin>".into()),
        Some(path) => {
            let f = std::fs::File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
            (Box::new(BufReader::new(f)), path)
        }
    };
    let detector = verbovka::Detector::new()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut chunk: Vec<Result<(String, bool), String>> = Vec::with_capacity(CHUNK);
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
        chunk.push(lines::text_of(&line, n, lines::MAX_TEXT_BYTES));
        n += 1;
        if chunk.len() == CHUNK {
            flush(&detector, &mut chunk, &mut out, tally)?;
        }
    }
    // Everything read so far is written, even when reading failed part-way.
    flush(&detector, &mut chunk, &mut out, tally)?;
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

/// Scores the good lines of a chunk together and writes every line's result in order.
fn flush(
    detector: &verbovka::Detector,
    chunk: &mut Vec<Result<(String, bool), String>>,
    out: &mut impl Write,
    tally: &mut Tally,
) -> Result<(), Box<dyn std::error::Error>> {
    let texts: Vec<&str> = chunk
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(t, _)| t.as_str()))
        .collect();
    let mut verdicts = detector.score_batch(&texts).into_iter();
    for item in chunk.drain(..) {
        tally.read += 1;
        match item {
            Ok((_, cut)) => {
                let v = verdicts
                    .next()
                    .ok_or("internal: fewer verdicts than texts")?;
                tally.scored += 1;
                tally.truncated += u64::from(cut);
                let record = Record {
                    verdict: &v,
                    text_truncated: cut,
                };
                serde_json::to_writer(&mut *out, &record)?;
            }
            Err(e) => {
                tally.bad += 1;
                serde_json::to_writer(&mut *out, &serde_json::json!({ "error": e }))?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}
