//! A Ballista scheduler or executor whose sessions know `verbovka_score`, `verbovka_label` and
//! `verbovka_evidence`. See the crate README for one machine and several.

use std::io::Write;
use std::process::ExitCode;

use verbovka_datafusion::cluster::{self, ExecutorOptions};
use verbovka_datafusion::Functions;

const HELP: &str = "A Ballista scheduler or executor with verbovka's SQL functions.

usage: verbovka-ballista scheduler [--bind-host H] [--external-host H] [--port P]
       verbovka-ballista executor  [--bind-host H] [--external-host H] [--port P]
                                   [--grpc-port P] [--scheduler HOST:PORT] [--vcores N]
                                   [--work-dir DIR]

scheduler (one per cluster; plans queries, hands out tasks):
  --bind-host H      address to listen on (default 0.0.0.0)
  --external-host H  name executors and clients use for it (default localhost)
  --port P           gRPC port (default 50050; 0: any free port)

executor (one or more per machine; reads the data, scores, shuffles):
  --bind-host H      address of its Arrow Flight service (default 0.0.0.0)
  --external-host H  name other executors and the client use for it (default: its address
                     as the scheduler sees it)
  --port P           Arrow Flight port (default 50051; 0: any free port)
  --grpc-port P      gRPC port the scheduler pushes tasks to (default 50052; 0: any free)
  --scheduler H:P    the scheduler (default localhost:50050)
  --vcores N         tasks at once (default 0: the number of CPUs)
  --work-dir DIR     shuffle files (default a fresh temporary folder)

Logs go to stderr (RUST_LOG=error|warn|info|debug|trace, default info); the first stdout
line says where it listens, an executor prints `ready` once registered.
Both run until SIGINT or SIGTERM. Exit status 0 on a clean stop, 2 on bad arguments or a
failed start.";

enum Mode {
    Scheduler {
        bind: String,
        external: String,
        port: u16,
    },
    Executor(ExecutorOptions),
}

fn parse() -> Result<Option<Mode>, String> {
    use lexopt::prelude::*;
    let e = |e: lexopt::Error| e.to_string();
    let mut p = lexopt::Parser::from_env();
    let mode = match p.next().map_err(e)? {
        Some(Value(v)) if v == "scheduler" => "scheduler",
        Some(Value(v)) if v == "executor" => "executor",
        Some(Short('h') | Long("help")) => return Ok(None),
        Some(Value(v)) => {
            return Err(format!(
                "unknown mode `{}` (scheduler or executor)",
                v.to_string_lossy()
            ))
        }
        Some(other) => return Err(other.unexpected().to_string()),
        None => return Err("a mode is needed: scheduler or executor".into()),
    };
    let mut bind = "0.0.0.0".to_string();
    let mut external: Option<String> = None;
    let mut port: Option<u16> = None;
    let mut grpc_port = 50052u16;
    let mut scheduler = "localhost:50050".to_string();
    let mut vcores = 0usize;
    let mut work_dir = None;
    while let Some(arg) = p.next().map_err(e)? {
        match arg {
            Long("bind-host") => bind = p.value().map_err(e)?.string().map_err(e)?,
            Long("external-host") => external = Some(p.value().map_err(e)?.string().map_err(e)?),
            Long("port") => port = Some(p.value().map_err(e)?.parse().map_err(e)?),
            Long("grpc-port") if mode == "executor" => {
                grpc_port = p.value().map_err(e)?.parse().map_err(e)?
            }
            Long("scheduler") if mode == "executor" => {
                scheduler = p.value().map_err(e)?.string().map_err(e)?
            }
            Long("vcores") if mode == "executor" => {
                vcores = p.value().map_err(e)?.parse().map_err(e)?
            }
            Long("work-dir") if mode == "executor" => {
                work_dir = Some(p.value().map_err(e)?.string().map_err(e)?)
            }
            Short('h') | Long("help") => return Ok(None),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Some(if mode == "scheduler" {
        Mode::Scheduler {
            bind,
            external: external.unwrap_or_else(|| "localhost".into()),
            port: port.unwrap_or(50050),
        }
    } else {
        let (host, sport) = scheduler
            .rsplit_once(':')
            .ok_or_else(|| format!("--scheduler {scheduler}: expected HOST:PORT"))?;
        let scheduler_port = sport
            .parse()
            .map_err(|_| format!("--scheduler {scheduler}: `{sport}` is not a port"))?;
        Mode::Executor(ExecutorOptions {
            bind_host: bind,
            external_host: external,
            port: port.unwrap_or(50051),
            grpc_port,
            scheduler_host: host.to_string(),
            scheduler_port,
            vcores,
            work_dir,
        })
    }))
}

/// Log records to stderr, one line each; the level from `RUST_LOG` (a bare level only).
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            eprintln!(
                "{}.{:03} {:<5} {}: {}",
                t.as_secs(),
                t.subsec_millis(),
                r.level(),
                r.target(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    let mode = match parse() {
        Ok(Some(m)) => m,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("verbovka-ballista: {err}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    let _ = log::set_logger(&StderrLog);
    log::set_max_level(level);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Ballista's own binaries do this: plan decoding recurses deeply on large queries.
        .thread_stack_size(32 << 20)
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            eprintln!("verbovka-ballista: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let functions = Functions::new();
    let result = runtime.block_on(async move {
        match mode {
            Mode::Scheduler {
                bind,
                external,
                port,
            } => {
                let listener = tokio::net::TcpListener::bind((bind.as_str(), port))
                    .await
                    .map_err(|e| format!("scheduler: cannot listen on {bind}:{port}: {e}"))?;
                let addr = listener.local_addr().map_err(|e| e.to_string())?;
                let config = cluster::scheduler_config(&functions, &bind, &external, addr.port());
                say(format!(
                    "scheduler listening on {addr} (as {external}:{})",
                    addr.port()
                ));
                cluster::run_scheduler(listener, config)
                    .await
                    .map_err(|e| format!("scheduler: {e}"))
            }
            Mode::Executor(mut options) => {
                let free = cluster::free_ports(&options.bind_host, 2)
                    .map_err(|e| format!("executor: no free port on {}: {e}", options.bind_host))?;
                if options.port == 0 {
                    options.port = free[0];
                }
                if options.grpc_port == 0 {
                    options.grpc_port = free[1];
                }
                // Loaded before registering: a task never waits for it, a bad model fails here.
                verbovka_datafusion::default_detector()
                    .map_err(|e| format!("executor: the detector failed to load: {e}"))?;
                say(format!(
                    "executor flight service on {}:{}, grpc {}, scheduler {}:{}",
                    options.bind_host,
                    options.port,
                    options.grpc_port,
                    options.scheduler_host,
                    options.scheduler_port
                ));
                let config = cluster::executor_config(&functions, &options);
                cluster::run_executor(config, || say("ready".into()))
                    .await
                    .map_err(|e| format!("executor: {e}"))
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("verbovka-ballista: {err}");
            ExitCode::from(2)
        }
    }
}
