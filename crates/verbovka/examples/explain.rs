//! Explains the verdict on one text, for humans.
//!
//! ```sh
//! cargo run --release --example explain -- "П.і.д.п.а.л.и авто ЗСУ, 500$ після відео, пиши @x"
//! echo "текст" | cargo run --release --example explain
//! ```

use std::io::Read;
use std::process::ExitCode;

const HELP: &str =
    "Explains the verdict on one text: the normalised text, the scores, and every rule
that fired with its span and why.

usage: explain TEXT...        (reads stdin without TEXT)";

fn main() -> ExitCode {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut words = Vec::new();
    loop {
        match parser.next() {
            Ok(None) => break,
            Ok(Some(Short('h') | Long("help"))) => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
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
    if text.is_empty() {
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("explain: cannot read stdin: {e}");
            return ExitCode::from(2);
        }
    }
    let detector = match verbovka::Detector::new() {
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
    ExitCode::SUCCESS
}
