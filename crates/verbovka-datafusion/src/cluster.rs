//! Ballista: a scheduler and executors that know the three functions, and a client context.
//!
//! A query's SQL is planned on the client, its logical plan is decoded and planned again on
//! the scheduler, and each stage's physical plan is decoded on the executor that runs it; all
//! three resolve `verbovka_*` by name, so all three register the functions:
//!
//! * client: [`remote_context`] (Ballista's `SessionContext::remote`, then [`Functions::register`]);
//! * scheduler: [`scheduler_config`] sets `SchedulerConfig::override_session_builder` to
//!   Ballista's default session builder plus the functions;
//! * executor: [`executor_config`] sets `ExecutorProcessConfig::override_function_registry`
//!   to Ballista's default registry plus the functions.
//!
//! Only executors score (and load the model, at their first batch); a scheduler loads it only
//! if a query calls a function on a constant, which the planner folds.

use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::common::Result;
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use crate::Functions;

/// Ballista's error as DataFusion's, so one `Result` type serves the whole crate.
fn ballista_err(e: ballista_core::error::BallistaError) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(e))
}

/// A scheduler's configuration with the functions on its session builder; `external_host` is
/// the name executors and clients use to reach it.
pub fn scheduler_config(
    functions: &Functions,
    bind_host: &str,
    external_host: &str,
    port: u16,
) -> SchedulerConfig {
    let functions = functions.clone();
    let builder: ballista_scheduler::SessionBuilder = Arc::new(move |config| {
        let mut state = default_session_builder(config)?;
        functions.register_on(&mut state)?;
        Ok(state)
    });
    SchedulerConfig {
        bind_host: bind_host.to_string(),
        external_host: external_host.to_string(),
        bind_port: port,
        ..SchedulerConfig::default()
    }
    .with_override_session_builder(builder)
}

/// Runs a scheduler on `listener` until the process ends (in-memory cluster state: one
/// scheduler per cluster).
pub async fn run_scheduler(
    listener: tokio::net::TcpListener,
    config: SchedulerConfig,
) -> Result<()> {
    config.validate().map_err(ballista_err)?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista_err)?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
            .await
            .map_err(ballista_err)?;
    start_grpc_service_with_listener(listener, scheduler)
        .await
        .map_err(ballista_err)
}

/// Ballista's default function registry (DataFusion's built-ins) plus the three functions.
pub fn executor_registry(functions: &Functions) -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for udf in functions.udfs() {
        registry
            .scalar_functions
            .insert(udf.name().to_string(), udf);
    }
    registry
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Address the executor's Arrow Flight service binds (shuffle and result data).
    pub bind_host: String,
    /// Name other executors and the client use to fetch this executor's data; `None`: the
    /// address it registers with (its own IP as the scheduler sees it).
    pub external_host: Option<String>,
    /// Arrow Flight port.
    pub port: u16,
    /// gRPC port the scheduler pushes tasks to (Ballista's default push-staged scheduling).
    pub grpc_port: u16,
    /// Scheduler host and port.
    pub scheduler_host: String,
    /// Scheduler gRPC port.
    pub scheduler_port: u16,
    /// Tasks run at once (0: the number of CPUs).
    pub vcores: usize,
    /// Shuffle files; `None`: a fresh temporary folder.
    pub work_dir: Option<String>,
}

/// An executor's configuration with the functions in its registry.
pub fn executor_config(functions: &Functions, options: &ExecutorOptions) -> ExecutorProcessConfig {
    ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        // Executors started with their scheduler wait for it rather than fail.
        scheduler_connect_timeout_seconds: 30,
        vcores: options.vcores,
        work_dir: options.work_dir.clone(),
        override_function_registry: Some(Arc::new(executor_registry(functions))),
        ..ExecutorProcessConfig::default()
    }
}

/// Runs an executor until SIGINT/SIGTERM or the scheduler stops it. `on_ready` is called once,
/// when its first heartbeat to the scheduler succeeded (it is then registered).
pub async fn run_executor(
    config: ExecutorProcessConfig,
    on_ready: impl FnOnce() + Send + 'static,
) -> Result<()> {
    let health = config.health.clone();
    let watch = tokio::spawn(async move {
        while !health.is_ready() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        on_ready();
    });
    let result = start_executor_process(Arc::new(config))
        .await
        .map_err(ballista_err);
    watch.abort();
    result
}

/// A client context on the scheduler at `url` (`df://host:port`) with the functions
/// registered. Set `datafusion.execution.target_partitions` to at least the cluster's total
/// vcores: it is the number of scan tasks.
pub async fn remote_context(url: &str, functions: &Functions) -> Result<SessionContext> {
    let ctx = SessionContext::remote(url).await?;
    // After `remote`: Ballista's upgrade of a session state resets its scalar functions.
    functions.register(&ctx);
    Ok(ctx)
}

/// `n` distinct free TCP ports on `host` (bound together, then released): for an executor
/// started with port 0, whose services bind their ports themselves.
pub fn free_ports(host: &str, n: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind((host, 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::FunctionRegistry;

    #[test]
    fn executor_registry_has_builtins_and_functions() {
        let r = executor_registry(&Functions::new());
        for name in ["abs", "lower", crate::SCORE, crate::LABEL, crate::EVIDENCE] {
            assert!(r.udf(name).is_ok(), "{name} missing");
        }
    }

    #[test]
    fn scheduler_sessions_know_the_functions() {
        let config = scheduler_config(&Functions::new(), "127.0.0.1", "localhost", 0);
        let builder = config.override_session_builder.expect("builder set");
        let state = builder(datafusion::prelude::SessionConfig::new()).unwrap();
        for name in [crate::SCORE, crate::LABEL, crate::EVIDENCE, "abs"] {
            assert!(state.udf(name).is_ok(), "{name} missing");
        }
    }
}
