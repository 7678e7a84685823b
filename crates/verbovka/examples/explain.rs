//! Explains the verdict on one text, for humans.
//!
//! ```sh
//! cargo run --release --example explain -- "П.і.д.п.а.л.и авто ЗСУ, 500$ після відео, пиши @x"
//! echo "текст" | cargo run --release --example explain
//! cargo run --release --example explain -- --rules my_rules.toml "текст"
//! ```
//!
//! `--rules FILE` adds a rule file (allow rules, own cues; the format of
//! `src/rules/default.toml`) to the embedded rules.
//!
//! Exit status (the same for `score_export`, `score_jsonl` and `explain`):
//! * 0: the text was explained;
//! * 1: part of the input could not be used: stdin was not UTF-8 (its bad bytes are read as
//!   U+FFFD, and the text so read is explained);
//! * 2: the run failed: bad arguments, stdin cannot be read, the detector cannot be built.

use std::io::Read;
use std::process::ExitCode;

#[path = "support/user_rules.rs"]
mod user_rules;

const HELP: &str =
    "Explains the verdict on one text: the normalised text, the scores, and every rule
that fired with its span and why.

usage: explain [--rules FILE] [--model DIR] TEXT...        (reads stdin without TEXT)

  --rules FILE     add the rules of FILE (the format of the embedded default.toml: allow
                   rules with role \"allow\", own cues) to the embedded rules
  --model DIR      score with the model in DIR instead of the embedded one

Exit status: 0 explained, 1 stdin was not UTF-8 (bad bytes read as U+FFFD, the rest
explained), 2 the run failed (arguments, stdin cannot be read, the detector).";

fn main() -> ExitCode {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut words = Vec::new();
    let mut rules = None;
    let mut model = None;
    loop {
        match parser.next() {
            Ok(None) => break,
            Ok(Some(Short('h') | Long("help"))) => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            Ok(Some(Long("rules"))) => match parser.value() {
                Ok(v) => rules = Some(v.to_string_lossy().into_owned()),
                Err(e) => {
                    eprintln!("explain: {e}");
                    return ExitCode::from(2);
                }
            },
            Ok(Some(Long("model"))) => match parser.value() {
                Ok(v) => model = Some(v.to_string_lossy().into_owned()),
                Err(e) => {
                    eprintln!("explain: {e}");
                    return ExitCode::from(2);
                }
            },
            Ok(Some(Value(v))) => words.push(v.to_string_lossy().into_owned()),
            Ok(Some(other)) => {
                eprintln!(
                    "explain: {}\n(explain --help for usage)",
                    other.unexpected()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("explain: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut text = words.join(" ");
    let mut status = ExitCode::SUCCESS;
    if text.is_empty() {
        let mut bytes = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
            eprintln!("explain: cannot read stdin: {e}");
            return ExitCode::from(2);
        }
        text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "explain: stdin is not UTF-8 (first bad byte at {}): bad bytes read as U+FFFD",
                    e.utf8_error().valid_up_to()
                );
                status = ExitCode::from(1);
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
    }
    let mut builder = verbovka::Detector::builder();
    if let Some(path) = &rules {
        match user_rules::load(path) {
            Ok(u) => {
                eprintln!(
                    "explain: {} rules from {path} added to the embedded rules",
                    u.count
                );
                for id in &u.replaced {
                    eprintln!("explain: {path} replaces the default rule `{id}`");
                }
                builder = builder.rules(u.set);
            }
            Err(e) => {
                eprintln!("explain: --rules: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(dir) = &model {
        match verbovka::model::load_dir(dir) {
            Ok(m) => builder = builder.classifier(Some(m)),
            Err(e) => {
                eprintln!("explain: --model: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let detector = match builder.build() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("explain: {e}");
            return ExitCode::from(2);
        }
    };
    let normalized = verbovka::normalize(&text);
    println!("text:       {}", text.trim_end());
    println!("normalised: {}", normalized.as_str().trim_end());
    println!("{}", detector.score(&text));
    status
}
