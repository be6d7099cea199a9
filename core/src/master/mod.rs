//! The master as a state machine and its effects: frameworks, agents,
//! offers and tasks, the allocation cycle and the upkeep timer. It knows no
//! HTTP: `api` serves it and `server::master` puts the two together.
//!
//! - `state/`: the state and every change to it;
//! - `allocator.rs`: the allocator module on its own thread;
//! - `validation.rs`: checking tasks before launch (`TASK_ERROR`);
//! - `registry.rs`: the registry file;
//! - `operator_view.rs`: tasks, agents and frameworks as the v1 operator
//!   API's messages.

mod allocator;
pub(crate) mod operator_view;
pub(crate) mod registry;
mod state;
mod validation;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use tokio::task::JoinHandle;

pub(crate) use allocator::AllocatorHandle;
pub(crate) use state::{
    framed_event, heartbeat_event, CallError, FrameworkState, KnownAgent, Master, MasterSettings,
    OfferView, TaskEntry,
};
/// The check ACCEPT runs on each decoded `TaskInfo`, public only for the
/// fuzz targets of `corral-fuzz` (`fuzz/`); not an API.
#[doc(hidden)]
pub use state::{MasterSnapshot, TaskTable};
pub use validation::{validate_task, Context as ValidationContext, TaskInvalid};

use crate::extension::{AllocatorPlugin, Hooks};

/// The master as its tasks and the HTTP handlers share it.
pub(crate) type SharedMaster = Arc<Mutex<Master>>;

/// Locks the master; a panic while it was locked does not make it unusable.
pub(crate) fn lock(master: &SharedMaster) -> MutexGuard<'_, Master> {
    master
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Locks a contender shared by the election and the registry.
pub(crate) fn lock_contender(
    contender: &registry::SharedContender,
) -> MutexGuard<'_, Box<dyn crate::extension::MasterContenderPlugin>> {
    contender
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Everything a master needs besides its listener.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// The name agents and frameworks use to reach this master.
    pub hostname: String,
    pub heartbeat_interval: Duration,
    pub allocation_interval: Duration,
    pub agent_ping_interval: Duration,
    pub agent_timeout: Duration,
    /// The registry file; none keeps nothing across restarts.
    pub registry: Option<std::path::PathBuf>,
    /// The election this master joins (`zk://...`, as given, secrets and
    /// all); its registry then lives in the election's store.
    pub zk: Option<String>,
    /// How long admitted agents have to re-register after a restart.
    pub agent_reregister_timeout: Duration,
    /// See [`MasterSettings::recovery_agent_removal_limit`].
    pub recovery_agent_removal_limit: f64,
    /// Bytes of events queued for a framework that does not read its
    /// stream before it is disconnected.
    pub framework_queue_bytes: usize,
    /// The same for an agent (much larger: see `domain::events`).
    pub agent_queue_bytes: usize,
    /// The same for an operator's SUBSCRIBE stream, beyond its snapshot.
    pub observer_queue_bytes: usize,
    /// The HTTP server's bounds.
    pub http: crate::domain::limits::HttpLimits,
    /// Who must authenticate, and the credentials they may use.
    pub auth: crate::domain::auth::HttpAuth,
    /// Who may do what (Mesos' `--acls`).
    pub acls: Option<Arc<crate::domain::acls::Acls>>,
    /// Serve HTTPS with these (plain HTTP when none).
    pub tls: Option<crate::domain::auth::TlsFiles>,
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            hostname: "127.0.0.1".to_owned(),
            heartbeat_interval: Duration::from_secs(15),
            allocation_interval: Duration::from_secs(1),
            agent_ping_interval: Duration::from_secs(15),
            agent_timeout: Duration::from_secs(75),
            registry: None,
            zk: None,
            agent_reregister_timeout: Duration::from_secs(600),
            recovery_agent_removal_limit: 1.0,
            framework_queue_bytes: crate::domain::events::FRAMEWORK_QUEUE_BYTES,
            agent_queue_bytes: crate::domain::events::AGENT_QUEUE_BYTES,
            observer_queue_bytes: crate::domain::events::OBSERVER_QUEUE_BYTES,
            http: Default::default(),
            auth: Default::default(),
            acls: None,
            tls: None,
        }
    }
}

/// The modules a master uses.
pub struct MasterModules {
    pub allocator: Box<dyn AllocatorPlugin>,
    pub hooks: Hooks,
}

impl std::fmt::Debug for MasterModules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterModules")
            .field("allocator", &self.allocator.name())
            .field("hooks", &self.hooks.names())
            .finish()
    }
}

/// Why a master could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error("cannot start the allocator thread: {0}")]
    AllocatorThread(#[from] std::io::Error),
}

/// A master that runs: its state, and the allocation and upkeep tasks that
/// drive it. Dropping it leaves the tasks running; call [`Running::stop`].
#[derive(Debug)]
pub(crate) struct Running {
    pub master: SharedMaster,
    tasks: Vec<JoinHandle<()>>,
    stopped: AtomicBool,
}

impl Running {
    /// Ends every event stream (so that open connections can finish) and
    /// stops the allocation and upkeep tasks. Stopping twice is harmless.
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        lock(&self.master).close_all();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts a master that will be reached on `port`: opens its registry (if
/// any) and recovers from it, starts the allocator's thread, the allocation
/// cycle and the upkeep timer. Must be called inside a tokio runtime.
pub(crate) fn start(
    config: &MasterConfig,
    modules: MasterModules,
    port: u16,
) -> Result<Running, StartError> {
    let registry = match &config.registry {
        Some(path) => {
            let (registry, recovered) = registry::Registry::open(path)?;
            tracing::info!(
                registry = %path.display(),
                agents = recovered.agents.len(),
                frameworks = recovered.frameworks.len(),
                "registry read"
            );
            Some((registry, recovered))
        }
        None => None,
    };
    start_with(
        config,
        modules,
        port,
        uuid::Uuid::new_v4().to_string(),
        registry,
    )
}

/// [`start`] with the master's id and its registry (read already) given:
/// how a master elected through a contender starts.
pub(crate) fn start_with(
    config: &MasterConfig,
    modules: MasterModules,
    port: u16,
    master_id: String,
    registry: Option<(registry::Registry, registry::Recovered)>,
) -> Result<Running, StartError> {
    let settings = MasterSettings {
        master_id,
        hostname: config.hostname.clone(),
        port,
        heartbeat_interval: config.heartbeat_interval,
        agent_ping_interval: config.agent_ping_interval,
        agent_timeout: config.agent_timeout,
        recovery_agent_removal_limit: config.recovery_agent_removal_limit,
        framework_queue_bytes: config.framework_queue_bytes,
        agent_queue_bytes: config.agent_queue_bytes,
        observer_queue_bytes: config.observer_queue_bytes,
        acls: config.acls.clone(),
        flags: [
            ("hostname", config.hostname.clone()),
            ("port", port.to_string()),
            (
                "heartbeat_interval",
                mesos_duration(config.heartbeat_interval),
            ),
            (
                "allocation_interval",
                mesos_duration(config.allocation_interval),
            ),
            (
                "agent_ping_interval",
                mesos_duration(config.agent_ping_interval),
            ),
            ("agent_timeout", mesos_duration(config.agent_timeout)),
            ("allocator", modules.allocator.name().to_owned()),
            ("hooks", modules.hooks.names().join(",")),
            ("version", crate::VERSION.to_owned()),
            (
                "registry",
                match (&config.zk, &config.registry) {
                    (Some(_), _) => "zookeeper".to_owned(),
                    (None, Some(p)) => p.display().to_string(),
                    (None, None) => "in_memory".to_owned(),
                },
            ),
            (
                "zk",
                config
                    .zk
                    .as_deref()
                    .map_or(String::new(), crate::domain::master_detection::shown),
            ),
            (
                "agent_reregister_timeout",
                mesos_duration(config.agent_reregister_timeout),
            ),
            (
                "recovery_agent_removal_limit",
                format!("{}", config.recovery_agent_removal_limit),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    };
    tracing::info!(master_id = %settings.master_id, port, allocator = modules.allocator.name(), "master starting");
    let allocator = AllocatorHandle::spawn(modules.allocator)?;
    let mut state = Master::new(settings, allocator.clone(), modules.hooks);
    if let Some((registry, recovered)) = registry {
        state.recover_from_registry(registry, recovered, config.agent_reregister_timeout);
    }
    let master = Arc::new(Mutex::new(state));
    let tasks = vec![
        tokio::spawn(allocation_loop(
            master.clone(),
            allocator,
            config.allocation_interval,
        )),
        tokio::spawn(upkeep_loop(master.clone(), config.agent_ping_interval)),
    ];
    Ok(Running {
        master,
        tasks,
        stopped: AtomicBool::new(false),
    })
}

/// A duration as Mesos prints flags: `15secs`, `500ms`.
fn mesos_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}secs", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

async fn allocation_loop(master: SharedMaster, allocator: AllocatorHandle, every: Duration) {
    let wanted = lock(&master).allocation_wanted().clone();
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = wanted.notified() => {}
        }
        let (now, stats) = {
            let m = lock(&master);
            (m.now_ms(), m.allocator_stats().clone())
        };
        let started = std::time::Instant::now();
        let grants = allocator.allocate(now).await;
        stats.record(started.elapsed().as_micros() as u64);
        if !grants.is_empty() {
            lock(&master).apply_grants(grants);
        }
    }
}

async fn upkeep_loop(master: SharedMaster, every: Duration) {
    let mut ticker = tokio::time::interval(every.min(Duration::from_secs(1)));
    loop {
        ticker.tick().await;
        lock(&master).tick();
    }
}
