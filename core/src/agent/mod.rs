//! The agent: registers with the master, runs executors in sandboxes,
//! serves the executor API, and delivers status updates reliably.
//!
//! - `state.rs`: the agent's state and its reactions;
//! - `master_link.rs`: the connection to the master;
//! - `status_updates.rs`: per-task update streams, resent until acknowledged;
//! - `resources.rs`: what the agent offers.

pub mod checkpoint;
mod master_link;
mod resources;
mod state;
mod status_updates;

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use tokio::net::TcpListener;

pub use master_link::post_calls;
pub use resources::{detect, ResourceOverrides};
pub use state::{Agent, ExecutorSummary};

use crate::{
    api,
    containerizer::{Containerizer, Freezer},
    domain::Resource,
    extension::{HookPlugin, IsolatorPlugin},
    proto::v1,
};

/// Everything an agent needs besides its listener.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `host:port` of the master.
    pub master: String,
    /// The name the master and executors use to reach this agent.
    pub hostname: String,
    pub work_dir: PathBuf,
    /// Filled from detection and overrides by [`run`].
    pub resources_detected: Vec<Resource>,
    pub resources: ResourceOverrides,
    /// The `corral` program: run as the launch helper of every container
    /// (`<program> container-launch`) and as the command executor
    /// (`<program> executor`).
    pub executor_program: PathBuf,
    pub status_update_retry: Duration,
    pub executor_registration_timeout: Duration,
    pub executor_shutdown_grace: Duration,
    pub executor_heartbeat_interval: Duration,
    /// The master is considered gone after this long without an event.
    pub master_timeout: Duration,
    /// The cgroup under which containers' freezer cgroups are made.
    pub cgroups_root: String,
}

impl AgentConfig {
    pub fn new(master: impl Into<String>, work_dir: PathBuf, executor_program: PathBuf) -> Self {
        AgentConfig {
            master: master.into(),
            hostname: "127.0.0.1".to_owned(),
            work_dir,
            resources_detected: Vec::new(),
            resources: ResourceOverrides::default(),
            executor_program,
            status_update_retry: Duration::from_secs(10),
            executor_registration_timeout: Duration::from_secs(60),
            executor_shutdown_grace: Duration::from_secs(5),
            executor_heartbeat_interval: Duration::from_secs(30 * 60),
            master_timeout: Duration::from_secs(75),
            cgroups_root: "corral".to_owned(),
        }
    }
}

/// The modules an agent uses.
pub struct AgentModules {
    pub hooks: Vec<Box<dyn HookPlugin>>,
    /// Isolators, in the configured order.
    pub isolators: Vec<Box<dyn IsolatorPlugin>>,
}

impl std::fmt::Debug for AgentModules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentModules")
            .field(
                "hooks",
                &self
                    .hooks
                    .iter()
                    .map(|h| h.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "isolators",
                &self
                    .isolators
                    .iter()
                    .map(|i| i.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Runs an agent on `listener` until `shutdown` completes; its executors
/// are then killed.
pub async fn run(
    listener: TcpListener,
    mut config: AgentConfig,
    modules: AgentModules,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.work_dir)?;
    let port = listener.local_addr()?.port();
    config.resources_detected = detect(&config.resources, &config.work_dir);
    let endpoint = format!("{}:{port}", config.hostname);
    let info = v1::AgentInfo {
        hostname: config.hostname.clone(),
        port: Some(i32::from(port)),
        ..Default::default()
    };
    tracing::info!(
        endpoint,
        master = %config.master,
        resources = %crate::master::format_resources(&config.resources_detected),
        "agent starting"
    );
    let (limitations_tx, mut limitations) = tokio::sync::mpsc::unbounded_channel();
    let freezer = match Freezer::detect(&config.cgroups_root) {
        Ok(f) => {
            tracing::info!(freezer = ?f, "containers are destroyed through their freezer cgroups");
            Some(f)
        }
        Err(why) => {
            tracing::warn!(
                %why,
                "no freezer cgroups: a process that leaves its container's session survives the container unless it has its own pid namespace (namespaces/pid)"
            );
            None
        }
    };
    let containerizer = Containerizer::new(
        modules.isolators,
        config.executor_program.clone(),
        limitations_tx,
        freezer,
    );
    tracing::info!(isolation = ?containerizer.isolator_names(), "containerizer ready");
    let agent = Arc::new(Agent::new(
        config,
        modules.hooks,
        containerizer,
        endpoint,
        info,
    ));
    let limits = tokio::spawn({
        let agent = agent.clone();
        async move {
            while let Some((container_id, limitation)) = limitations.recv().await {
                agent.on_limitation(&container_id, limitation);
            }
        }
    });
    agent.recover();
    let link = tokio::spawn(master_link::maintain(agent.clone()));
    let resender = tokio::spawn({
        let agent = agent.clone();
        async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(500));
            loop {
                ticker.tick().await;
                agent.resend_due();
            }
        }
    });
    let router = api::agent_routes::router(agent.clone());
    let stopping = agent.clone();
    let result = axum::serve(crate::api::http::no_delay(listener), router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Leave the master first, so that nothing of the teardown is
            // reported; then kill the executors, which ends their streams.
            link.abort();
            resender.abort();
            limits.abort();
            // `abort` cancels a task at its next await only: one being
            // polled on another worker right now (handling a RUN_TASK, or
            // re-subscribing) would still act after `kill_all`. Wait until
            // they are gone.
            let _ = link.await;
            let _ = resender.await;
            let _ = limits.await;
            stopping.kill_all();
            stopping.containerizer.shutdown();
        })
        .await;
    result
}
