//! The master's state and everything that changes it. Methods run with the
//! state locked and never block: events go out through bounded queues that
//! overflow rather than block (`domain::events`),
//! allocator notifications through the allocator thread's queue.
//!
//! This file holds the state's types and what every change uses (sending
//! to frameworks and agents); each child module is one kind of change.

mod agents;
mod calls;
mod frameworks;
mod observers;
mod offers;
mod reconcile;
mod recovery;
mod snapshot;
mod task_table;

pub use snapshot::MasterSnapshot;
pub use task_table::TaskTable;

pub use observers::{framed as framed_event, heartbeat as heartbeat_event};
#[cfg(test)]
mod tests;

use crate::domain::Recent;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

use super::{
    allocator::AllocatorHandle,
    registry::{AgentRecord, Registry},
};
use crate::{
    domain::{
        deliver,
        events::QueueStats,
        metrics::{AllocatorStats, Counters},
        status::state_of,
        EventSender, Resource,
    },
    extension::{FrameworkEntry, Hooks},
    proto::{
        agent::{self as ap, master_event},
        v1::{
            self,
            scheduler::{event, Event},
        },
    },
};

/// How many finished tasks to remember per framework.
const COMPLETED_TASKS_KEPT: usize = 1000;
/// How many removed frameworks the master keeps for operators.
const COMPLETED_FRAMEWORKS_KEPT: usize = 50;
/// `Filters.refuse_seconds` when a DECLINE or ACCEPT gives none (Mesos' default).
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

/// Timing and identity of a master.
#[derive(Debug, Clone)]
pub struct MasterSettings {
    pub master_id: String,
    pub hostname: String,
    pub port: u16,
    pub heartbeat_interval: Duration,
    pub agent_ping_interval: Duration,
    /// An agent not heard from for this long is removed.
    pub agent_timeout: Duration,
    /// Every setting, as `/master/flags` shows it.
    pub flags: BTreeMap<String, String>,
    /// The largest share of admitted agents that may be removed at once
    /// for not re-registering after a failover (Mesos'
    /// `recovery_agent_removal_limit`).
    pub recovery_agent_removal_limit: f64,
    /// The bound of each framework's event queue, in bytes.
    pub framework_queue_bytes: usize,
    /// The bound of each agent's event queue, in bytes.
    pub agent_queue_bytes: usize,
    /// The bound of each operator's SUBSCRIBE queue beyond its snapshot.
    pub observer_queue_bytes: usize,
    /// Who may do what (Mesos' `--acls`); everything when none.
    pub acls: Option<Arc<crate::domain::acls::Acls>>,
}

/// An offer that was made and not yet used, declined or rescinded.
#[derive(Debug, Clone)]
pub struct OfferView {
    pub id: String,
    pub framework_id: String,
    pub agent_id: String,
    pub resources: Vec<Resource>,
}

/// A refused call. `api` answers each kind with the status Mesos uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Malformed or inconsistent; the message says what was wrong.
    #[error("{0}")]
    Invalid(String),
    #[error("Framework is not subscribed")]
    NotSubscribed,
    #[error("agent '{0}' is not registered")]
    UnknownAgent(String),
    #[error("Received an unexpected 'UNKNOWN' call")]
    UnknownCall,
    /// An id that would become a path breaks the id rule.
    #[error("{0}")]
    BadId(#[from] crate::domain::ids::IdError),
    /// A field Mesos' protobuf marks required is missing (or empty).
    #[error("Missing required fields: {0}")]
    MissingField(&'static str),
    /// The authenticated principal may not do this.
    #[error("{0}")]
    Forbidden(String),
}

impl CallError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        CallError::Invalid(message.into())
    }
}

/// An open SUBSCRIBE stream.
#[derive(Debug)]
struct Connection {
    stream_id: String,
    events: EventSender<Event>,
}

/// What the master knows of a task.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    pub info: v1::TaskInfo,
    pub framework_id: String,
    pub agent_id: String,
    pub executor_id: Option<String>,
    /// The latest status (initially `TASK_STAGING`).
    pub status: v1::TaskStatus,
    /// Task and executor resources, returned to the allocator once.
    pub resources: Vec<Resource>,
    pub resources_recovered: bool,
    /// The statuses it went through after the master's `TASK_STAGING`,
    /// oldest first, without their `data` (what an operator reads to see
    /// why a task ended): at most [`STATUS_HISTORY`], the first kept.
    pub history: Vec<v1::TaskStatus>,
}

/// Most statuses a task's history keeps (its first and the latest ones).
pub const STATUS_HISTORY: usize = 12;

impl TaskEntry {
    /// Makes `status` the latest, and records it in the history unless it
    /// repeats the latest state and message (a resent update).
    pub fn set_status(&mut self, status: v1::TaskStatus) {
        let repeat = self
            .history
            .last()
            .is_some_and(|last| last.state == status.state && last.message == status.message);
        if !repeat {
            if self.history.len() == STATUS_HISTORY {
                self.history.remove(1);
            }
            self.history.push(v1::TaskStatus {
                data: None,
                ..status.clone()
            });
        }
        self.status = status;
    }
}

#[derive(Debug)]
pub struct FrameworkState {
    pub id: String,
    pub info: v1::FrameworkInfo,
    pub role: String,
    connection: Option<Connection>,
    /// Set in snapshots only (which hold no connection): whether the
    /// framework was connected when the snapshot was taken.
    connected_in_snapshot: bool,
    pub tasks: TaskTable,
    /// Its finished tasks, newest last, shared with snapshots.
    pub completed: Recent<Arc<TaskEntry>>,
    offers: BTreeSet<String>,
    disconnected_at: Option<Instant>,
    /// When it first subscribed (to this master, or recovered by it) and
    /// last re-subscribed, in seconds since the epoch.
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
}

impl FrameworkState {
    pub fn connected(&self) -> bool {
        self.connection.is_some() || self.connected_in_snapshot
    }

    /// Its finished tasks, oldest first.
    pub fn completed_tasks(&self) -> impl DoubleEndedIterator<Item = &TaskEntry> + '_ {
        self.completed.iter().map(|t| &**t)
    }

    /// A copy for reading off the lock: everything but its event stream.
    /// Costs its small fields; its tasks are shared, not copied.
    fn snapshot(&self) -> FrameworkState {
        FrameworkState {
            id: self.id.clone(),
            info: self.info.clone(),
            role: self.role.clone(),
            connection: None,
            connected_in_snapshot: self.connected(),
            tasks: self.tasks.clone(),
            completed: self.completed.clone(),
            offers: self.offers.clone(),
            disconnected_at: self.disconnected_at,
            registered_time: self.registered_time,
            reregistered_time: self.reregistered_time,
        }
    }
}

#[derive(Debug)]
struct AgentConnection {
    id: u64,
    events: EventSender<ap::MasterEvent>,
}

#[derive(Debug)]
pub struct KnownAgent {
    pub id: String,
    pub info: v1::AgentInfo,
    pub endpoint: String,
    connection: Option<AgentConnection>,
    /// Set in snapshots only: whether it was connected when taken.
    connected_in_snapshot: bool,
    last_seen: Instant,
    /// When it registered with this master and last re-registered, in
    /// seconds since the epoch.
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    /// The principal it authenticated as when it registered: only that
    /// principal may re-register under its id or call as it.
    pub principal: Option<String>,
}

impl KnownAgent {
    pub fn connected(&self) -> bool {
        self.connection.is_some() || self.connected_in_snapshot
    }

    /// A copy for reading off the lock: everything but its event stream.
    fn snapshot(&self) -> KnownAgent {
        KnownAgent {
            id: self.id.clone(),
            info: self.info.clone(),
            endpoint: self.endpoint.clone(),
            connection: None,
            connected_in_snapshot: self.connected(),
            last_seen: self.last_seen,
            registered_time: self.registered_time,
            reregistered_time: self.reregistered_time,
            principal: self.principal.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct OfferState {
    framework_id: String,
    agent_id: String,
    resources: Vec<Resource>,
}

/// The master.
pub struct Master {
    settings: MasterSettings,
    allocator: AllocatorHandle,
    hooks: Hooks,
    start: Instant,
    frameworks: BTreeMap<String, FrameworkState>,
    agents: BTreeMap<String, KnownAgent>,
    offers: BTreeMap<String, OfferState>,
    next_framework: u64,
    next_agent: u64,
    next_offer: u64,
    next_connection: u64,
    /// Wakes the allocation loop early.
    allocation_wanted: Arc<Notify>,
    /// What `/metrics/snapshot` cannot recompute from the state.
    counters: Counters,
    /// Allocation cycles, recorded by the allocation loop.
    allocator_stats: Arc<AllocatorStats>,
    /// When the master started, in seconds since the epoch.
    start_time: f64,
    /// Where admitted agents and frameworks are kept across restarts.
    registry: Option<Registry>,
    /// Admitted agents that have not re-registered since the master
    /// started, and when they are given up on.
    recovering: BTreeMap<String, AgentRecord>,
    recovery_deadline: Instant,
    /// Agents removed since the master started (their unknown tasks
    /// reconcile as lost with `REASON_AGENT_REMOVED`).
    removed_agents: BTreeSet<String>,
    /// Removed agents that came back under a new id and still report
    /// how their old tasks ended: old id → the agent sending those
    /// updates, where acknowledgements naming the old id go.
    returned_agents: BTreeMap<String, String>,
    /// Frameworks removed since the master started, newest last.
    completed_frameworks: Recent<FrameworkState>,
    /// The master's IPv4 address, resolved once at start.
    ip: Option<std::net::Ipv4Addr>,
    /// Every event queue's figures.
    queue_stats: Arc<QueueStats>,
    /// Operators' SUBSCRIBE streams.
    observers: observers::Observers,
}

impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("id", &self.settings.master_id)
            .field("frameworks", &self.frameworks.len())
            .field("agents", &self.agents.len())
            .field("offers", &self.offers.len())
            .finish()
    }
}

/// `hostname`'s IPv4 address: itself if it is one, else the first one it
/// resolves to (once, at start, before anything is served).
fn ipv4_of(hostname: &str) -> Option<std::net::Ipv4Addr> {
    if let Ok(ip) = hostname.parse() {
        return Some(ip);
    }
    use std::net::ToSocketAddrs;
    (hostname, 0)
        .to_socket_addrs()
        .ok()?
        .find_map(|a| match a.ip() {
            std::net::IpAddr::V4(ip) => Some(ip),
            std::net::IpAddr::V6(_) => None,
        })
}

/// What the allocator is told of a framework.
fn framework_spec(id: &str, info: &v1::FrameworkInfo, active: bool) -> FrameworkEntry {
    let mut roles = info.roles.clone();
    if roles.is_empty() {
        roles.push(info.role.clone().unwrap_or_else(|| "*".to_owned()));
    }
    FrameworkEntry {
        id: id.to_owned(),
        role: role_of(info),
        weight: 1.0,
        active,
        name: info.name.clone(),
        user: info.user.clone(),
        principal: info.principal.clone(),
        roles,
        capabilities: info
            .capabilities
            .iter()
            .filter_map(|c| c.r#type)
            .map(|t| {
                v1::framework_info::capability::Type::try_from(t)
                    .map_or_else(|_| format!("UNKNOWN_{t}"), |t| t.as_str_name().to_owned())
            })
            .collect(),
    }
}

/// The role a framework's resources are allocated to.
fn role_of(info: &v1::FrameworkInfo) -> String {
    info.roles
        .first()
        .cloned()
        .or_else(|| info.role.clone())
        .unwrap_or_else(|| "*".to_owned())
}

impl Master {
    pub fn new(settings: MasterSettings, allocator: AllocatorHandle, hooks: Hooks) -> Self {
        let settings_hostname = settings.hostname.clone();
        Master {
            settings,
            allocator,
            hooks,
            start: Instant::now(),
            frameworks: BTreeMap::new(),
            agents: BTreeMap::new(),
            offers: BTreeMap::new(),
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
            next_connection: 0,
            allocation_wanted: Arc::new(Notify::new()),
            counters: Counters::default(),
            allocator_stats: AllocatorStats::new(),
            start_time: crate::domain::status::now_seconds(),
            registry: None,
            recovering: BTreeMap::new(),
            recovery_deadline: Instant::now(),
            removed_agents: BTreeSet::new(),
            returned_agents: BTreeMap::new(),
            completed_frameworks: Recent::new(COMPLETED_FRAMEWORKS_KEPT),
            queue_stats: Arc::default(),
            observers: Default::default(),
            ip: ipv4_of(&settings_hostname),
        }
    }

    /// The master's IPv4 address as Mesos' `MasterInfo.ip`: the four
    /// octets in network order read as a little-endian `uint32` (Mesos
    /// stores `in_addr.s_addr`), so `127.0.0.1` is 16777343. 0 if unknown.
    pub fn ip_as_mesos_u32(&self) -> u32 {
        self.ip.map_or(0, crate::domain::master_detection::mesos_ip)
    }

    pub fn settings(&self) -> &MasterSettings {
        &self.settings
    }

    pub fn frameworks(&self) -> &BTreeMap<String, FrameworkState> {
        &self.frameworks
    }

    pub fn agents(&self) -> &BTreeMap<String, KnownAgent> {
        &self.agents
    }

    /// Allocation cycles, recorded by the allocation loop.
    pub fn allocator_stats(&self) -> &Arc<AllocatorStats> {
        &self.allocator_stats
    }

    /// Wakes the allocation loop early.
    pub fn allocation_wanted(&self) -> &Arc<Notify> {
        &self.allocation_wanted
    }

    /// The offers outstanding.
    pub fn outstanding_offers(&self) -> Vec<OfferView> {
        self.offers
            .iter()
            .map(|(id, o)| OfferView {
                id: id.clone(),
                framework_id: o.framework_id.clone(),
                agent_id: o.agent_id.clone(),
                resources: o.resources.clone(),
            })
            .collect()
    }

    /// Seconds since the master started.
    pub fn uptime_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Milliseconds since the master started (the allocator's clock).
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    pub fn master_info(&self) -> v1::MasterInfo {
        let s = &self.settings;
        v1::MasterInfo {
            id: s.master_id.clone(),
            ip: self.ip_as_mesos_u32(),
            port: u32::from(s.port),
            pid: Some(format!("master@{}:{}", s.hostname, s.port)),
            hostname: Some(s.hostname.clone()),
            version: Some(crate::VERSION.to_owned()),
            address: Some(v1::Address {
                hostname: Some(s.hostname.clone()),
                ip: self.ip.map(|ip| ip.to_string()),
                port: i32::from(s.port),
            }),
        }
    }

    fn send(&self, framework_id: &str, event: Event) {
        if let Some(conn) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.connection.as_ref())
        {
            deliver(&conn.events, event);
        }
    }

    fn send_update(&self, framework_id: &str, status: v1::TaskStatus) {
        if let Some(conn) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.connection.as_ref())
        {
            self.queue_update(framework_id, &conn.events, status);
        }
    }

    /// Logs and queues an UPDATE on `events`; false when the stream is
    /// gone or its queue overflowed.
    fn queue_update(
        &self,
        framework_id: &str,
        events: &EventSender<Event>,
        status: v1::TaskStatus,
    ) -> bool {
        let state = state_of(&status);
        tracing::info!(
            framework_id,
            task_id = %status.task_id.value,
            agent_id = status.agent_id.as_ref().map_or("", |a| a.value.as_str()),
            state = state.as_str_name(),
            "task status update"
        );
        deliver(
            events,
            Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(event::Update { status }),
                ..Default::default()
            },
        )
    }

    fn send_to_agent(&self, agent_id: &str, event: ap::MasterEvent) -> bool {
        match self
            .agents
            .get(agent_id)
            .and_then(|a| a.connection.as_ref())
        {
            Some(conn) => deliver(&conn.events, event),
            None => false,
        }
    }
}

fn error_event(message: &str) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.to_owned(),
        }),
        ..Default::default()
    }
}

fn master_event_of(
    kind: master_event::Type,
    fill: impl FnOnce(&mut ap::MasterEvent),
) -> ap::MasterEvent {
    let mut e = ap::MasterEvent {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    fill(&mut e);
    e
}
