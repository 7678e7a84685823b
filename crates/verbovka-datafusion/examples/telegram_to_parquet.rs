//! Telegram Desktop exports to Parquet message files (`chat, chat_id, id, date, author,
//! text`), read with verbovka's streaming reader: memory stays at one row group whatever the
//! export's size.
//!
//! ```text
//! cargo run --release -p verbovka-datafusion --example telegram_to_parquet -- \
//!     EXPORT... --out DIR [--rows-per-file N]
//! ```
//! Each `EXPORT` (a folder or `result.json`) becomes `DIR/part-NNNNN.parquet` files of at most
//! `N` rows (default 1,000,000). Exit status as verbovka's examples: 0 everything read was
//! written (service and empty messages skipped), 1 damaged messages skipped or an export
//! damaged part-way (the rest is written), 2 the run failed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use verbovka::telegram::Reader;
use verbovka_datafusion::messages::ParquetSink;

const USAGE: &str = "usage: telegram_to_parquet EXPORT... --out DIR [--rows-per-file N]";

struct Out {
    dir: PathBuf,
    per_file: u64,
    files: usize,
    sink: Option<ParquetSink<File>>,
    rows: u64,
}

impl Out {
    fn push(&mut self, m: &verbovka::telegram::Message) -> Result<(), String> {
        if self
            .sink
            .as_ref()
            .is_some_and(|s| s.rows() >= self.per_file)
        {
            self.close()?;
        }
        if self.sink.is_none() {
            let path = self.dir.join(format!("part-{:05}.parquet", self.files));
            let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.sink =
                Some(ParquetSink::new(file).map_err(|e| format!("{}: {e}", path.display()))?);
            self.files += 1;
        }
        let sink = self.sink.as_mut().expect("opened above");
        sink.push(m)
            .map_err(|e| format!("writing {}: {e}", self.dir.display()))
    }

    fn close(&mut self) -> Result<(), String> {
        if let Some(sink) = self.sink.take() {
            self.rows += sink
                .finish()
                .map_err(|e| format!("writing {}: {e}", self.dir.display()))?;
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let mut inputs = Vec::new();
    let mut dir = None;
    let mut per_file = 1_000_000u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => dir = args.next().map(PathBuf::from),
            "--rows-per-file" => {
                match args.next().and_then(|v| v.parse().ok()).filter(|&n| n > 0) {
                    Some(n) => per_file = n,
                    None => return fail("--rows-per-file needs a positive number"),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => inputs.push(PathBuf::from(a)),
        }
    }
    let Some(dir) = dir else {
        return fail("--out DIR is needed");
    };
    if inputs.is_empty() {
        return fail("at least one EXPORT is needed");
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(&format!("{}: {e}", dir.display()));
    }
    let mut out = Out {
        dir,
        per_file,
        files: 0,
        sink: None,
        rows: 0,
    };
    let mut damaged = false;
    for input in &inputs {
        match convert(input, &mut out) {
            Ok(d) => damaged |= d,
            Err(e) => return fail(&e),
        }
    }
    if let Err(e) = out.close() {
        return fail(&e);
    }
    eprintln!(
        "telegram_to_parquet: {} rows in {} files under {}",
        out.rows,
        out.files,
        out.dir.display()
    );
    if damaged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Converts one export; `Ok(true)` when part of it was damaged.
fn convert(input: &Path, out: &mut Out) -> Result<bool, String> {
    let mut reader = Reader::open(input).map_err(|e| e.to_string())?;
    let mut damaged = false;
    for m in reader.by_ref() {
        match m {
            Ok(m) => out.push(&m)?,
            Err(e) => {
                eprintln!("telegram_to_parquet: {e}");
                damaged = true;
            }
        }
    }
    let stats = reader.stats();
    for note in &stats.notes {
        eprintln!("telegram_to_parquet: skipped: {note}");
    }
    let lost: u64 = verbovka::telegram::SkipReason::ALL
        .iter()
        .filter(|r| r.is_damage())
        .map(|r| stats.skipped[r.index()])
        .sum();
    eprintln!(
        "telegram_to_parquet: {}: {} messages, {} skipped ({} damaged)",
        input.display(),
        stats.yielded,
        stats.skipped_total(),
        lost
    );
    Ok(damaged || lost > 0)
}

fn fail(why: &str) -> ExitCode {
    eprintln!("telegram_to_parquet: {why}\n{USAGE}");
    ExitCode::from(2)
}
