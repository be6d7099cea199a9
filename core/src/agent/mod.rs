//! The agent as a state machine and its effects: registers with the master,
//! runs executors in containers, answers their calls, and delivers status
//! updates reliably. It knows no HTTP server: `api` serves it and
//! `server::agent` puts the two together.
//!
//! - `state/`: the agent's book of frameworks, executors and tasks, and
//!   its reactions to the master, executors and containers (one file per
//!   kind of event; see its module doc);
//! - `master_link.rs`: the connection to the master;
//! - `status_updates.rs`: per-task update streams, resent until acknowledged;
//! - `resources.rs`: what the agent offers;
//! - `sandbox_files.rs`: sandbox files opened for the `/files/*` endpoints
//!   without following links out of the sandbox or blocking on FIFOs.

pub(crate) mod checkpoint;
mod master_link;
mod resources;
pub mod sandbox_files;
mod state;
mod status_updates;

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use tokio::task::JoinHandle;

pub use master_link::post_calls;
pub use resources::{detect, ResourceOverrides};
pub(crate) use state::{Agent, ExecutorSummary, TaskRecord};

use crate::{
    containerizer::{Containerizer, Freezer},
    domain::{
        ids::{path_under, IdKind, Part, PathError},
        Resource,
    },
    extension::{Hooks, IsolatorPlugin},
    proto::v1,
};

/// The sandbox of one run of an executor,
/// `<work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>`,
/// refused (before anything is created) when an id is not a plain name.
pub fn sandbox_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> Result<PathBuf, PathError> {
    path_under(
        work_dir,
        &[
            Part::Fixed("slaves"),
            Part::Id(IdKind::Agent, agent_id),
            Part::Fixed("frameworks"),
            Part::Id(IdKind::Framework, framework_id),
            Part::Fixed("executors"),
            Part::Id(IdKind::Executor, executor_id),
            Part::Fixed("runs"),
            Part::Id(IdKind::Container, container_id),
        ],
    )
}

/// Everything an agent needs besides its listener.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `host:port` of the master, or the `zk://` URL it is detected at.
    pub master: String,
    /// With a detected master: `host:port` of the one leading now (`None`
    /// while none leads), followed as it changes.
    pub leader: Option<tokio::sync::watch::Receiver<Option<String>>>,
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
    /// The HTTP server's bounds.
    pub http: crate::domain::limits::HttpLimits,
    /// The agent's own credential, proven to the master (Mesos'
    /// `--credential`).
    pub credential: Option<crate::domain::auth::Credential>,
    /// Who must authenticate on the agent's endpoints: operators
    /// (`http_readonly`, with `credentials`).
    pub http_auth: crate::domain::auth::HttpAuth,
    /// Executors must show the token the agent gave them (Mesos'
    /// `--authenticate_http_executors`).
    pub authenticate_executors: bool,
    /// Containers run as their task's user (Mesos' `--switch_user`); only
    /// an agent running as root can.
    pub switch_user: bool,
    /// Who may read which sandboxes (`access_sandboxes`).
    pub acls: Option<std::sync::Arc<crate::domain::acls::Acls>>,
    /// Serve HTTPS with these (plain HTTP when none).
    pub tls: Option<crate::domain::auth::TlsFiles>,
    /// The CA (PEM) that verifies the master, which is then reached over
    /// HTTPS; handed to executors to verify this agent when it serves
    /// HTTPS.
    pub tls_ca: Option<PathBuf>,
}

impl AgentConfig {
    pub fn new(master: impl Into<String>, work_dir: PathBuf, executor_program: PathBuf) -> Self {
        AgentConfig {
            master: master.into(),
            leader: None,
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
            http: Default::default(),
            credential: None,
            http_auth: Default::default(),
            authenticate_executors: false,
            switch_user: true,
            acls: None,
            tls: None,
            tls_ca: None,
        }
    }
}

/// The modules an agent uses.
pub struct AgentModules {
    pub hooks: Hooks,
    /// Isolators, in the configured order.
    pub isolators: Vec<Box<dyn IsolatorPlugin>>,
}

impl std::fmt::Debug for AgentModules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentModules")
            .field("hooks", &self.hooks.names())
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

/// An agent that runs: its state, and the tasks that keep it connected to
/// the master, resend status updates and carry isolators' limitations.
#[derive(Debug)]
pub(crate) struct Running {
    pub agent: Arc<Agent>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopped: AtomicBool,
}

impl Running {
    /// Leaves the master first, so that nothing of the teardown is
    /// reported; then kills the executors, which ends their streams.
    /// Stopping twice is harmless.
    pub async fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in &tasks {
            task.abort();
        }
        // `abort` cancels a task at its next await only: one being polled
        // on another worker right now (handling a RUN_TASK, or
        // re-subscribing) would still act after `kill_all`. Wait until they
        // are gone.
        for task in tasks {
            let _ = task.await;
        }
        // Destroy and cleanup call modules: off the runtime.
        let agent = self.agent.clone();
        let stopped = tokio::task::spawn_blocking(move || {
            agent.kill_all();
            agent.containerizer.shutdown();
        });
        if let Err(e) = stopped.await {
            tracing::error!(error = %e, "stopping the executors failed");
        }
    }
}

/// Starts an agent that will be reached on `port`: detects its resources,
/// sets up its containerizer, takes back what its checkpoints hold, and
/// starts following the master.
pub(crate) async fn start(
    mut config: AgentConfig,
    modules: AgentModules,
    port: u16,
) -> std::io::Result<Running> {
    std::fs::create_dir_all(&config.work_dir)?;
    config.resources_detected = detect(&config.resources, &config.work_dir);
    let endpoint = format!("{}:{port}", config.hostname);
    let info = v1::AgentInfo {
        hostname: config.hostname.clone(),
        port: Some(i32::from(port)),
        ..Default::default()
    };
    tracing::info!(
        endpoint,
        master = %crate::domain::master_detection::shown(&config.master),
        resources = %crate::domain::format_resources(&config.resources_detected),
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
    let token_key = checkpoint::token_key(&config.work_dir)?;
    let agent = Arc::new(Agent::new(
        config,
        modules.hooks,
        containerizer,
        endpoint,
        info,
        token_key,
    ));
    let limits = tokio::spawn({
        let agent = agent.clone();
        async move {
            while let Some((container_id, limitation)) = limitations.recv().await {
                agent.on_limitation(&container_id, limitation);
            }
        }
    });
    {
        // Isolators' recovery is a module call: off the runtime.
        let agent = agent.clone();
        tokio::task::spawn_blocking(move || agent.recover())
            .await
            .map_err(std::io::Error::other)?;
    }
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
    Ok(Running {
        agent,
        tasks: Mutex::new(vec![link, resender, limits]),
        stopped: AtomicBool::new(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandboxes_are_under_the_work_dir_or_refused() {
        let work = Path::new("/var/lib/corral");
        assert_eq!(
            sandbox_dir(work, "S1", "F1", "e", "c").unwrap(),
            Path::new("/var/lib/corral/slaves/S1/frameworks/F1/executors/e/runs/c")
        );
        let attacks = [
            ("", "F1", "e"),
            ("..", "F1", "e"),
            ("S1", "/tmp/escape", "e"),
            ("S1", "..", "e"),
            ("S1", "F1", "/tmp/escape"),
            ("S1", "F1", "../../x"),
            ("S1", "F1", ".."),
            ("S1", "F1", "."),
            ("S1", "F1", "a\0b"),
        ];
        for (agent, framework, executor) in attacks {
            let refused = sandbox_dir(work, agent, framework, executor, "c");
            assert!(
                refused.is_err(),
                "{agent} {framework} {executor}: {refused:?}"
            );
        }
        assert!(sandbox_dir(work, "S1", "F1", "e", "../c").is_err());
        let long = "x".repeat(256);
        let error = sandbox_dir(work, "S1", "F1", &long, "c").unwrap_err();
        assert!(error.to_string().contains("256 bytes long"), "{error}");
    }
}
