//! Rows per second through the functions, for BENCHMARKS.md (a benchmark, not a test):
//!
//! 1. `Detector::score_batch` on the texts in memory, in batches of 8,192 (DataFusion's batch
//!    size): the reference;
//! 2. DataFusion in this process, `SELECT count(*) FROM messages WHERE verbovka_label(text) <>
//!    'benign'` over the same texts as a memory table (the engine's own overhead) and as
//!    Parquet files (plus reading and decoding);
//! 3. the same query on Ballista (`verbovka-ballista` child processes on 127.0.0.1): one
//!    executor, two executors, one again (A-B-A, so drift in the machine's load shows).
//!
//! Every figure is the median of `--runs` runs, variants interleaved run by run.
//!
//! ```text
//! cargo bench -p verbovka-datafusion --bench throughput -- [--rows N] [--runs K] [--no-ballista]
//! ```
//! Corpus: the one of verbovka's own benches (`crates/verbovka/benches/common/corpus.rs`).

#[allow(dead_code)]
#[path = "../../verbovka/benches/common/corpus.rs"]
mod corpus;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use verbovka::telegram::{Chat, ChatKind, Message};
use verbovka::Detector;
use verbovka_datafusion::messages::{self, ParquetSink};
use verbovka_datafusion::{cluster, Functions};

const QUERY: &str = "SELECT count(*) FROM messages WHERE verbovka_label(text) <> 'benign'";
const FILES: usize = 8;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    let out = Command::new("lscpu")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let field = |k: &str| {
        out.lines()
            .find(|l| l.starts_with(k))
            .map(|l| l[k.len()..].trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{}, family {} model {} stepping {}, {} CPUs, {} thread(s) per core",
        field("Model name:"),
        field("CPU family:"),
        field("Model:"),
        field("Stepping:"),
        field("CPU(s):"),
        field("Thread(s) per core:")
    )
}

async fn count(ctx: &SessionContext) -> i64 {
    let b = ctx.sql(QUERY).await.unwrap().collect().await.unwrap();
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// Children killed on drop.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `verbovka-ballista ARGS` and waits (≤ 120 s) for a stdout line containing `until`.
fn spawn(args: &[&str], until: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verbovka-ballista"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("verbovka-ballista starts");
    let out = child.stdout.take().unwrap();
    let until = until.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(&until) {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("verbovka-ballista did not start within 120 s");
    (child, line)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut rows = 16_384usize;
    let mut runs = 7usize;
    let mut ballista = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().and_then(|v| v.parse().ok()).expect("--rows N"),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs K"),
            "--no-ballista" => ballista = false,
            "--bench" => {} // cargo bench passes it
            other => panic!("unknown argument {other}"),
        }
    }
    let (texts, origin) = corpus::posts(rows);
    let bytes: usize = texts.iter().map(String::len).sum();
    println!("cpu: {}", cpu_model());
    println!(
        "corpus: {} posts ({:.1} MB, mean {:.0} bytes) from {origin}",
        texts.len(),
        bytes as f64 / 1e6,
        bytes as f64 / texts.len() as f64
    );
    println!(
        "rayon threads per process: {}",
        rayon::current_num_threads()
    );

    let detector = Arc::new(Detector::new().unwrap());
    let dir = std::env::temp_dir().join(format!("verbovka-df-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let per = texts.len().div_ceil(FILES);
    for (k, chunk) in texts.chunks(per).enumerate() {
        let mut sink =
            ParquetSink::new(std::fs::File::create(dir.join(format!("part-{k}.parquet"))).unwrap())
                .unwrap();
        for (i, t) in chunk.iter().enumerate() {
            sink.push(&Message {
                chat: Chat {
                    name: Some(format!("chat-{}", i % 10)),
                    id: Some(i as i64 % 10),
                    kind: ChatKind::PublicChannel,
                    left: false,
                },
                id: (k * per + i) as i64,
                date_unixtime: Some(1_714_550_400),
                author: None,
                author_id: None,
                forwarded_from: None,
                forwarded_from_id: None,
                reply_to_message_id: None,
                text: t.clone(),
                links: vec![],
                truncated: false,
            })
            .unwrap();
        }
        sink.finish().unwrap();
    }

    // Reference and in-process DataFusion, interleaved.
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
    let batches: Vec<RecordBatch> = texts
        .chunks(8192)
        .map(|c| {
            let a: ArrayRef = Arc::new(c.iter().map(|s| Some(s.as_str())).collect::<StringArray>());
            RecordBatch::try_new(schema.clone(), vec![a]).unwrap()
        })
        .collect();
    let mem = SessionContext::new();
    Functions::with_detector(detector.clone()).register(&mem);
    mem.register_table(
        "messages",
        Arc::new(MemTable::try_new(schema, vec![batches]).unwrap()),
    )
    .unwrap();
    let pq = SessionContext::new();
    Functions::with_detector(detector.clone()).register(&pq);
    messages::register_messages(&pq, "messages", &dir)
        .await
        .unwrap();

    let direct_flagged = |d: &Detector| -> i64 {
        texts
            .chunks(8192)
            .map(|c| d.score_batch(c).iter().filter(|v| v.is_flagged()).count() as i64)
            .sum()
    };
    let want = direct_flagged(&detector); // also warms caches and the pool
    println!("flagged: {want} of {}", texts.len());
    let (mut t_direct, mut t_mem, mut t_pq) = (Vec::new(), Vec::new(), Vec::new());
    println!("load before in-process runs: {}", loadavg());
    for _ in 0..runs {
        let t = Instant::now();
        assert_eq!(direct_flagged(&detector), want);
        t_direct.push(texts.len() as f64 / t.elapsed().as_secs_f64());
        // Fresh functions: the memory table hands out the same arrays every run, and the
        // functions reuse the verdicts of arrays they scored a moment ago.
        Functions::with_detector(detector.clone()).register(&mem);
        let t = Instant::now();
        assert_eq!(count(&mem).await, want);
        t_mem.push(texts.len() as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        assert_eq!(count(&pq).await, want);
        t_pq.push(texts.len() as f64 / t.elapsed().as_secs_f64());
    }
    println!("load after: {}", loadavg());
    let (d, m, p) = (
        median(t_direct.clone()),
        median(t_mem.clone()),
        median(t_pq.clone()),
    );
    println!("| path | rows/s (median of {runs}) | min..max | vs score_batch |");
    println!("|---|---:|---|---:|");
    let row = |name: &str, med: f64, v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        println!(
            "| {name} | {med:.0} | {lo:.0}..{hi:.0} | {:+.1} % |",
            (med / d - 1.0) * 100.0
        );
    };
    row("score_batch, batches of 8,192", d, &t_direct);
    row("DataFusion, memory table", m, &t_mem);
    row("DataFusion, 8 Parquet files", p, &t_pq);

    if !ballista {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let mut procs = Procs(Vec::new());
    let (s, line) = spawn(
        &[
            "scheduler",
            "--bind-host",
            "127.0.0.1",
            "--external-host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        "listening",
    );
    procs.0.push(s);
    let port: String = line
        .rsplit(':')
        .next()
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let scheduler = format!("127.0.0.1:{port}");
    let executor = || {
        spawn(
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
            ],
            "ready",
        )
        .0
    };
    procs.0.push(executor());
    let ctx = cluster::remote_context(&format!("df://{scheduler}"), &Functions::new())
        .await
        .unwrap();
    ctx.sql(&format!(
        "SET datafusion.execution.target_partitions = {FILES}"
    ))
    .await
    .unwrap()
    .collect()
    .await
    .unwrap();
    messages::register_messages(&ctx, "messages", &dir)
        .await
        .unwrap();
    assert_eq!(count(&ctx).await, want); // warm-up
    let mut phases: Vec<(String, Vec<f64>)> = Vec::new();
    for phase in ["1 executor", "2 executors", "1 executor (again)"] {
        match phase {
            "2 executors" => {
                procs.0.push(executor());
                // The newcomer polls for work within a second; let it register.
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            "1 executor (again)" => {
                let mut second = procs.0.pop().unwrap();
                // SIGTERM: the executor tells the scheduler it is leaving.
                let _ = Command::new("kill")
                    .args(["-TERM", &second.id().to_string()])
                    .status();
                let _ = second.wait();
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            _ => {}
        }
        println!("load before {phase}: {}", loadavg());
        let mut v = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            assert_eq!(count(&ctx).await, want);
            v.push(texts.len() as f64 / t.elapsed().as_secs_f64());
        }
        phases.push((phase.to_string(), v));
    }
    println!("load after: {}", loadavg());
    let one = median(phases[0].1.clone());
    println!("| Ballista, target_partitions {FILES} | rows/s (median of {runs}) | min..max | vs 1 executor | vs score_batch |");
    println!("|---|---:|---|---:|---:|");
    for (name, v) in &phases {
        let med = median(v.clone());
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        println!(
            "| {name} | {med:.0} | {lo:.0}..{hi:.0} | {:.2}× | {:+.1} % |",
            med / one,
            (med / d - 1.0) * 100.0
        );
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}
