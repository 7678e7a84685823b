//! Scores JSON Lines: one object with a `"text"` field per line in, one verdict per line out.
//!
//! ```sh
//! cargo run --release --example score_jsonl -- examples/data/sample.jsonl
//! cat posts.jsonl | cargo run --release --example score_jsonl
//! ```
//!
//! Output keeps input order, one line per input line. A line that is not JSON or has no
//! string `text` gets `{"error": "..."}` in its place, and the program exits with status 1 at
//! the end (after writing everything).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

/// Lines scored together: enough for the parallel batch to pay off, small enough to stream.
const CHUNK: usize = 512;

fn main() -> ExitCode {
    match run() {
        Ok(0) => ExitCode::SUCCESS,
        Ok(bad) => {
            eprintln!(
                "score_jsonl: {bad} line(s) could not be scored (see their \"error\" objects)"
            );
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

A line that is not JSON or has no string `text` gets {\"error\": ...} in its place.
Exit status: 0 every line scored, 1 some lines had errors, 2 the input cannot be read.";

fn run() -> Result<usize, Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut path: Option<String> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            Value(v) if path.is_none() => path = Some(v.string()?),
            other => {
                return Err(
                    format!("{}\n(score_jsonl --help for usage)", other.unexpected()).into(),
                )
            }
        }
    }
    let (input, name): (Box<dyn BufRead>, String) = match path {
        None => (Box::new(BufReader::new(std::io::stdin())), "<stdin>".into()),
        Some(path) => {
            let f = std::fs::File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
            (Box::new(BufReader::new(f)), path)
        }
    };
    let detector = verbovka::Detector::new()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut bad = 0;
    let mut chunk: Vec<Result<String, String>> = Vec::with_capacity(CHUNK);
    // Lines are split as bytes: a line that is not UTF-8 is one bad line, not the end of the
    // run; a UTF-8 byte-order mark before the first line is dropped.
    let mut read_error = None;
    for (n, line) in input.split(b'\n').enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                read_error = Some(format!("{name}: after line {n}: {e}"));
                break;
            }
        };
        let mut bytes = line.as_slice();
        if n == 0 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let item = match std::str::from_utf8(bytes) {
            Ok(line) => text_of(line),
            Err(e) => Err(format!("not UTF-8 (byte {})", e.valid_up_to())),
        };
        chunk.push(item.map_err(|e| format!("line {}: {e}", n + 1)));
        if chunk.len() == CHUNK {
            bad += flush(&detector, &mut chunk, &mut out)?;
        }
    }
    // Everything read so far is written, even when reading failed part-way.
    bad += flush(&detector, &mut chunk, &mut out)?;
    out.flush()?;
    if let Some(e) = read_error {
        return Err(e.into());
    }
    Ok(bad)
}

/// The `text` field of one JSON line.
fn text_of(line: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    match value.get("text") {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err("`text` is not a string".into()),
        None => Err("no `text` field".into()),
    }
}

/// Scores the good lines of a chunk together and writes every line's result in order.
fn flush(
    detector: &verbovka::Detector,
    chunk: &mut Vec<Result<String, String>>,
    out: &mut impl Write,
) -> Result<usize, Box<dyn std::error::Error>> {
    let texts: Vec<&str> = chunk.iter().filter_map(|r| r.as_deref().ok()).collect();
    let mut verdicts = detector.score_batch(&texts).into_iter();
    let mut bad = 0;
    for item in chunk.drain(..) {
        match item {
            Ok(_) => {
                let v = verdicts
                    .next()
                    .ok_or("internal: fewer verdicts than texts")?;
                serde_json::to_writer(&mut *out, &v)?;
            }
            Err(e) => {
                bad += 1;
                serde_json::to_writer(&mut *out, &serde_json::json!({ "error": e }))?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(bad)
}
