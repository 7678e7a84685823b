//! A scheduler and two executors (`verbovka-ballista` child processes on 127.0.0.1, free
//! ports) run the README's queries over a few thousand rows in several Parquet files; the
//! results equal one process's DataFusion. Bounded in time: every wait has a deadline, and
//! the children are killed when the test ends, passes or fails.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use verbovka_datafusion::{cluster, messages, Functions};

/// How long a child may take to say it listens / is registered (it loads the model first).
const START: Duration = Duration::from_secs(120);
/// How long the queries may take on the cluster.
const QUERIES: Duration = Duration::from_secs(300);

/// Children killed on drop, whatever happens to the test.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `verbovka-ballista ARGS`, stderr to `log`; returns the child and its stdout lines.
fn spawn(args: &[&str], log: &std::path::Path, procs: &mut Procs) -> mpsc::Receiver<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verbovka-ballista"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("verbovka-ballista starts");
    let out = child.stdout.take().unwrap();
    procs.0.push(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, what: &str, log: &std::path::Path) -> String {
    let deadline = std::time::Instant::now() + START;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(what) => return line,
            Ok(_) => {}
            Err(e) => panic!(
                "no `{what}` from verbovka-ballista within {START:?} ({e}); its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
        }
    }
}

async fn run(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

const QUERIES_SQL: [&str; 2] = [
    "SELECT chat, count(*) AS flagged FROM messages WHERE verbovka_label(text) <> 'benign' \
     GROUP BY chat ORDER BY chat",
    "SELECT chat, id, verbovka_label(text) AS label, verbovka_score(text)['risk'] AS risk, \
     verbovka_score(text)['truncated'] AS truncated, verbovka_evidence(text) AS evidence \
     FROM messages ORDER BY chat, id",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_executors_give_the_single_process_result() {
    let dir = common::TempDir::new("cluster");
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let msgs = common::messages(3000);
    common::write_parquet(&data, &msgs, 6);

    // One process: the reference.
    let local = SessionContext::new();
    Functions::new().register(&local);
    messages::register_messages(&local, "messages", &data)
        .await
        .unwrap();
    let mut want = Vec::new();
    for sql in QUERIES_SQL {
        want.push(
            pretty_format_batches(&run(&local, sql).await)
                .unwrap()
                .to_string(),
        );
    }
    assert!(
        want[0].lines().count() > 6,
        "flagged rows in several chats:\n{}",
        want[0]
    );

    let mut procs = Procs(Vec::new());
    let slog = dir.0.join("scheduler.log");
    let srx = spawn(
        &[
            "scheduler",
            "--bind-host",
            "127.0.0.1",
            "--external-host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        &slog,
        &mut procs,
    );
    let line = wait_for(&srx, "scheduler listening on", &slog);
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or_else(|| panic!("no port in `{line}`"))
        .to_string();
    let scheduler = format!("127.0.0.1:{port}");
    let mut logs = Vec::new();
    let mut ready = Vec::new();
    for k in 0..2 {
        let log = dir.0.join(format!("executor-{k}.log"));
        let rx = spawn(
            &[
                "executor",
                "--bind-host",
                "127.0.0.1",
                "--external-host",
                "127.0.0.1",
                "--port",
                "0",
                "--grpc-port",
                "0",
                "--scheduler",
                &scheduler,
                "--vcores",
                "1",
            ],
            &log,
            &mut procs,
        );
        ready.push((rx, log.clone()));
        logs.push(log);
    }
    for (rx, log) in &ready {
        wait_for(rx, "ready", log);
    }

    let cluster_run = async {
        let ctx = cluster::remote_context(&format!("df://{scheduler}"), &Functions::new())
            .await
            .unwrap();
        // Twelve scan tasks for two one-slot executors: both get work.
        run(&ctx, "SET datafusion.execution.target_partitions = 12").await;
        messages::register_messages(&ctx, "messages", &data)
            .await
            .unwrap();
        let mut got = Vec::new();
        for sql in QUERIES_SQL {
            got.push(
                pretty_format_batches(&run(&ctx, sql).await)
                    .unwrap()
                    .to_string(),
            );
        }
        got
    };
    let got = tokio::time::timeout(QUERIES, cluster_run)
        .await
        .unwrap_or_else(|_| panic!("the cluster's queries took over {QUERIES:?}"));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    assert_eq!(
        got[1].lines().count(),
        msgs.len() + 4,
        "a row per message (+ table frame)"
    );
    // Both executors ran tasks: the result is the cluster's, not one executor's.
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        // "Finished task" when the scheduler pushes tasks (Ballista's default), "Received
        // task" when executors pull them.
        let tasks = text.matches("Finished task").count() + text.matches("Received task").count();
        assert!(tasks > 0, "{} ran no task:\n{text}", log.display());
    }
    drop(procs);
}
