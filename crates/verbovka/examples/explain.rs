//! Explains the verdict on one text, for humans.
//!
//! ```sh
//! cargo run --release --example explain -- "П.і.д.п.а.л.и авто ЗСУ, 500$ після відео, пиши @x"
//! echo "текст" | cargo run --release --example explain
//! ```

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
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
