//! SQL over a folder (or file) of Parquet or JSON Lines messages, in this process.
//!
//! ```text
//! cargo run --release -p verbovka-datafusion --example sql -- PATH [QUERY]
//! ```
//! `PATH` is registered as table `messages`; the default query counts flagged messages per
//! chat. Exit status 0 on success, 2 on any error (named on stderr).

use std::path::PathBuf;
use std::process::ExitCode;

use datafusion::prelude::SessionContext;
use verbovka_datafusion::{messages, Functions};

const DEFAULT_QUERY: &str = "SELECT chat, count(*) AS flagged FROM messages \
     WHERE verbovka_label(text) <> 'benign' GROUP BY chat ORDER BY flagged DESC, chat";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().filter(|a| a != "-h" && a != "--help") else {
        eprintln!(
            "usage: sql PATH [QUERY]\n\nPATH: a folder or file of .parquet or .jsonl messages, \
                   table `messages`\ndefault QUERY: {DEFAULT_QUERY}"
        );
        return ExitCode::from(2);
    };
    let query = args.next().unwrap_or_else(|| DEFAULT_QUERY.to_string());
    let ctx = SessionContext::new();
    Functions::new().register(&ctx);
    let run = async {
        messages::register_messages(&ctx, "messages", &PathBuf::from(&path)).await?;
        ctx.sql(&query).await?.show().await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sql: {e}");
            ExitCode::from(2)
        }
    }
}
