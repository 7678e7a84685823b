//! The same SQL as the `sql` example, run on a Ballista cluster of `verbovka-ballista`
//! processes (see the crate README).
//!
//! ```text
//! cargo run --release -p verbovka-datafusion --example ballista_client -- \
//!     [--scheduler df://localhost:50050] [--partitions N] PATH [QUERY]
//! ```
//! `PATH` must name the same files on the client and on every executor. `--partitions`
//! (default 8) is `datafusion.execution.target_partitions`: the number of scan tasks, at
//! least the cluster's total vcores. Exit status 0 on success, 2 on any error.

use std::path::PathBuf;
use std::process::ExitCode;

use verbovka_datafusion::{cluster, messages, Functions};

const DEFAULT_QUERY: &str = "SELECT chat, count(*) AS flagged FROM messages \
     WHERE verbovka_label(text) <> 'benign' GROUP BY chat ORDER BY flagged DESC, chat";

const USAGE: &str =
    "usage: ballista_client [--scheduler df://HOST:PORT] [--partitions N] PATH [QUERY]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut scheduler = "df://localhost:50050".to_string();
    let mut partitions = 8usize;
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scheduler" => match args.next() {
                Some(v) => scheduler = v,
                None => return usage("--scheduler needs a value"),
            },
            "--partitions" => match args.next().and_then(|v| v.parse().ok()).filter(|&n| n > 0) {
                Some(n) => partitions = n,
                None => return usage("--partitions needs a positive number"),
            },
            "-h" | "--help" => return usage(""),
            _ => rest.push(a),
        }
    }
    let (path, query) = match rest.as_slice() {
        [p] => (p.clone(), DEFAULT_QUERY.to_string()),
        [p, q] => (p.clone(), q.clone()),
        _ => return usage("PATH is needed (and at most one QUERY)"),
    };
    let run = async {
        let ctx = cluster::remote_context(&scheduler, &Functions::new()).await?;
        ctx.sql(&format!(
            "SET datafusion.execution.target_partitions = {partitions}"
        ))
        .await?
        .collect()
        .await?;
        messages::register_messages(&ctx, "messages", &PathBuf::from(&path)).await?;
        ctx.sql(&query).await?.show().await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ballista_client: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage(why: &str) -> ExitCode {
    if !why.is_empty() {
        eprintln!("ballista_client: {why}");
    }
    eprintln!("{USAGE}\ndefault QUERY: {DEFAULT_QUERY}");
    ExitCode::from(2)
}
