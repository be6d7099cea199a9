//! The master's state and everything that changes it. Methods run with the
//! state locked and never block: events go out through unbounded channels,
//! allocator notifications through the allocator thread's queue.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use tokio::{
    sync::{mpsc, Notify},
    time::Instant,
};

use super::{
    allocator::{AllocatorCommand, AllocatorHandle},
    registry::{AgentRecord, FrameworkRecord, Recovered, Registry},
    validation::{validate_task, Context},
};
use crate::{
    domain::{
        convert::{resources_from_proto, resources_to_proto},
        deliver,
        metrics::{AllocatorStats, Counters},
        status::{is_terminal, state_of, StatusBuilder},
        Resource, ResourceBag,
    },
    extension::{AgentSpec, Allocation, FrameworkSpec, Hooks, LabelPoint, RecoveredResources},
    proto::{
        agent::{self as ap, master_event},
        v1::{
            self,
            scheduler::{call, event, Call, Event},
            task_status::{Reason, Source},
            TaskState,
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
}

/// An offer that was made and not yet used, declined or rescinded.
#[derive(Debug, Clone)]
pub struct OfferView {
    pub id: String,
    pub framework_id: String,
    pub agent_id: String,
    pub resources: Vec<Resource>,
}

/// A refused call: the HTTP status and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub status: u16,
    pub message: String,
}

impl CallError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        CallError {
            status: 400,
            message: message.into(),
        }
    }
}

/// An open SUBSCRIBE stream.
#[derive(Debug)]
struct Connection {
    stream_id: String,
    events: mpsc::UnboundedSender<Box<Event>>,
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
}

#[derive(Debug)]
pub struct FrameworkState {
    pub id: String,
    pub info: v1::FrameworkInfo,
    pub role: String,
    connection: Option<Connection>,
    pub tasks: BTreeMap<String, TaskEntry>,
    pub completed: VecDeque<TaskEntry>,
    offers: BTreeSet<String>,
    disconnected_at: Option<Instant>,
}

impl FrameworkState {
    pub fn connected(&self) -> bool {
        self.connection.is_some()
    }
}

#[derive(Debug)]
struct AgentConnection {
    id: u64,
    events: mpsc::UnboundedSender<Box<ap::MasterEvent>>,
}

#[derive(Debug)]
pub struct AgentEntry {
    pub id: String,
    pub info: v1::AgentInfo,
    pub endpoint: String,
    connection: Option<AgentConnection>,
    last_seen: Instant,
}

impl AgentEntry {
    pub fn connected(&self) -> bool {
        self.connection.is_some()
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
    pub settings: MasterSettings,
    allocator: AllocatorHandle,
    hooks: Hooks,
    start: Instant,
    pub frameworks: BTreeMap<String, FrameworkState>,
    pub agents: BTreeMap<String, AgentEntry>,
    offers: BTreeMap<String, OfferState>,
    next_framework: u64,
    next_agent: u64,
    next_offer: u64,
    next_connection: u64,
    /// Wakes the allocation loop early.
    pub allocation_wanted: Arc<Notify>,
    /// What `/metrics/snapshot` cannot recompute from the state.
    pub counters: Counters,
    /// Allocation cycles, recorded by the allocation loop.
    pub allocator_stats: Arc<AllocatorStats>,
    /// When the master started, in seconds since the epoch.
    pub start_time: f64,
    /// Where admitted agents and frameworks are kept across restarts.
    registry: Option<Registry>,
    /// Admitted agents that have not re-registered since the master
    /// started, and when they are given up on.
    recovering: BTreeMap<String, AgentRecord>,
    recovery_deadline: Instant,
    /// Agents removed since the master started (their unknown tasks
    /// reconcile as lost with `REASON_AGENT_REMOVED`).
    removed_agents: BTreeSet<String>,
    /// Frameworks removed since the master started, newest last.
    pub completed_frameworks: VecDeque<FrameworkState>,
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

fn framework_spec(id: &str, role: &str, active: bool) -> FrameworkSpec {
    FrameworkSpec {
        id: id.to_owned(),
        role: role.to_owned(),
        weight: 1.0,
        active,
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
            completed_frameworks: VecDeque::new(),
        }
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
            ip: 0,
            port: u32::from(s.port),
            pid: Some(format!("master@{}:{}", s.hostname, s.port)),
            hostname: Some(s.hostname.clone()),
            version: Some(crate::VERSION.to_owned()),
            address: Some(v1::Address {
                hostname: Some(s.hostname.clone()),
                ip: None,
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
        let state = state_of(&status);
        tracing::info!(
            framework_id,
            task_id = %status.task_id.value,
            agent_id = status.agent_id.as_ref().map_or("", |a| a.value.as_str()),
            state = state.as_str_name(),
            "task status update"
        );
        self.send(
            framework_id,
            Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(event::Update { status }),
                ..Default::default()
            },
        );
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

    // ----- frameworks -------------------------------------------------------

    /// SUBSCRIBE: registers a new framework or re-subscribes a known one.
    /// Returns the framework id, the new stream id and the event receiver.
    pub fn subscribe(
        &mut self,
        call_framework_id: Option<&str>,
        subscribe: call::Subscribe,
    ) -> Result<(String, String, mpsc::UnboundedReceiver<Box<Event>>), CallError> {
        self.counters.bump("messages_register_framework");
        let mut info = subscribe.framework_info;
        let info_id = info.id.as_ref().map(|id| id.value.clone());
        if info_id.as_deref() != call_framework_id {
            return Err(CallError::bad_request(
                "'framework_id' differs from 'subscribe.framework_info.id'",
            ));
        }
        if let Some(t) = info.failover_timeout {
            if !t.is_finite() || t < 0.0 {
                return Err(CallError::bad_request(format!(
                    "'framework_info.failover_timeout' must be a non-negative number of seconds, got {t}"
                )));
            }
        }
        let id = match info_id {
            Some(id) => id,
            None => {
                let id = format!("{}-{:04}", self.settings.master_id, self.next_framework);
                self.next_framework += 1;
                id
            }
        };
        info.id = Some(v1::FrameworkId { value: id.clone() });
        let role = role_of(&info);
        let stream_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: v1::FrameworkId { value: id.clone() },
                heartbeat_interval_seconds: Some(self.settings.heartbeat_interval.as_secs_f64()),
                master_info: Some(self.master_info()),
            }),
            ..Default::default()
        };
        deliver(&tx, subscribed);
        let connection = Connection {
            stream_id: stream_id.clone(),
            events: tx,
        };
        match self.frameworks.get_mut(&id) {
            Some(framework) => {
                if let Some(old) = framework.connection.replace(connection) {
                    deliver(&old.events, error_event("Framework failed over"));
                }
                framework.info = info;
                framework.disconnected_at = None;
                self.allocator
                    .send(AllocatorCommand::SetFrameworkActive(id.clone(), true));
                tracing::info!(framework_id = %id, "framework re-subscribed");
            }
            None => {
                self.allocator
                    .send(AllocatorCommand::AddFramework(framework_spec(
                        &id, &role, true,
                    )));
                self.frameworks.insert(
                    id.clone(),
                    FrameworkState {
                        id: id.clone(),
                        info,
                        role,
                        connection: Some(connection),
                        tasks: BTreeMap::new(),
                        completed: VecDeque::new(),
                        offers: BTreeSet::new(),
                        disconnected_at: None,
                    },
                );
                tracing::info!(framework_id = %id, "framework subscribed");
            }
        }
        self.persist_framework(&id);
        self.allocation_wanted.notify_one();
        Ok((id, stream_id, rx))
    }

    /// The SUBSCRIBE stream `stream_id` of `framework_id` closed.
    pub fn framework_disconnected(&mut self, framework_id: &str, stream_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        if framework.connection.as_ref().map(|c| c.stream_id.as_str()) != Some(stream_id) {
            return;
        }
        framework.connection = None;
        framework.disconnected_at = Some(Instant::now());
        let offers: Vec<String> = std::mem::take(&mut framework.offers).into_iter().collect();
        tracing::info!(framework_id, "framework disconnected");
        self.persist_framework(framework_id);
        self.allocator.send(AllocatorCommand::SetFrameworkActive(
            framework_id.to_owned(),
            false,
        ));
        for offer in offers {
            self.drop_offer(&offer, None);
        }
    }

    /// Checks that a call comes from the framework's current stream.
    fn check_stream(&self, framework_id: &str, stream_id: &str) -> Result<(), CallError> {
        let framework = self.frameworks.get(framework_id).ok_or_else(|| {
            CallError::bad_request(format!("Framework '{framework_id}' cannot be found"))
        })?;
        match &framework.connection {
            None => Err(CallError { status: 403, message: "Framework is not subscribed".into() }),
            Some(c) if c.stream_id != stream_id => Err(CallError::bad_request(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID '{framework_id}'"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Every call but SUBSCRIBE.
    pub fn handle_call(&mut self, stream_id: &str, call: Call) -> Result<(), CallError> {
        let framework_id = call
            .framework_id
            .as_ref()
            .map(|f| f.value.clone())
            .ok_or_else(|| CallError::bad_request("Expecting 'framework_id' to be present"))?;
        self.check_stream(&framework_id, stream_id)?;
        let kind = call.r#type.and_then(|t| call::Type::try_from(t).ok());
        if let Some(metric) = kind.and_then(call_metric) {
            self.counters.bump(metric);
        }
        fn need<T>(payload: Option<T>, name: &str) -> Result<T, CallError> {
            payload
                .ok_or_else(|| CallError::bad_request(format!("Expecting '{name}' to be present")))
        }
        match kind {
            None => Err(CallError::bad_request("Expecting 'type' to be present")),
            Some(call::Type::Unknown) => Err(CallError {
                status: 501,
                message: "Received an unexpected 'UNKNOWN' call".into(),
            }),
            Some(call::Type::Subscribe) => Err(CallError::bad_request(
                "Expecting 'Mesos-Stream-Id' header to be absent for a SUBSCRIBE call",
            )),
            Some(call::Type::Teardown) => {
                self.remove_framework(&framework_id, "the framework tore itself down");
                Ok(())
            }
            Some(call::Type::Accept) => {
                self.accept(&framework_id, need(call.accept, "accept")?);
                Ok(())
            }
            Some(call::Type::Decline) => {
                let decline = need(call.decline, "decline")?;
                let refuse = decline
                    .filters
                    .and_then(|f| f.refuse_seconds)
                    .unwrap_or(DEFAULT_REFUSE_SECONDS);
                for offer_id in decline.offer_ids {
                    if self
                        .offers
                        .get(&offer_id.value)
                        .is_some_and(|o| o.framework_id == framework_id)
                    {
                        self.drop_offer(&offer_id.value, Some(refuse));
                    }
                }
                Ok(())
            }
            Some(call::Type::Revive) => {
                self.allocator.send(AllocatorCommand::Revive(framework_id));
                self.allocation_wanted.notify_one();
                Ok(())
            }
            Some(call::Type::Suppress) => {
                self.allocator
                    .send(AllocatorCommand::Suppress(framework_id));
                Ok(())
            }
            Some(call::Type::Kill) => {
                self.kill(&framework_id, need(call.kill, "kill")?);
                Ok(())
            }
            Some(call::Type::Shutdown) => {
                let shutdown = need(call.shutdown, "shutdown")?;
                self.send_to_agent(
                    &shutdown.agent_id.value,
                    master_event_of(master_event::Type::ShutdownExecutor, |e| {
                        e.shutdown_executor = Some(master_event::ShutdownExecutor {
                            framework_id: v1::FrameworkId {
                                value: framework_id.clone(),
                            },
                            executor_id: shutdown.executor_id,
                        })
                    }),
                );
                Ok(())
            }
            Some(call::Type::Acknowledge) => {
                self.acknowledge(&framework_id, need(call.acknowledge, "acknowledge")?)
            }
            Some(call::Type::Reconcile) => {
                self.reconcile(&framework_id, need(call.reconcile, "reconcile")?);
                Ok(())
            }
            Some(call::Type::Message) => {
                let message = need(call.message, "message")?;
                self.send_to_agent(
                    &message.agent_id.value,
                    master_event_of(master_event::Type::Message, |e| {
                        e.message = Some(master_event::Message {
                            framework_id: v1::FrameworkId {
                                value: framework_id.clone(),
                            },
                            executor_id: message.executor_id,
                            data: message.data,
                        })
                    }),
                );
                Ok(())
            }
            // Like Mesos' built-in allocator, requests are accepted and ignored.
            Some(call::Type::Request) => Ok(()),
        }
    }

    /// Removes a framework: its tasks are killed on their agents, its offers
    /// and allocations released, its stream closed.
    pub fn remove_framework(&mut self, framework_id: &str, why: &str) {
        let Some(mut framework) = self.frameworks.remove(framework_id) else {
            return;
        };
        tracing::info!(framework_id, why, "removing framework");
        if let Some(registry) = &self.registry {
            if let Err(e) = registry.remove_framework(framework_id) {
                tracing::error!(framework_id, error = %e, "cannot remove the framework from the registry");
            }
        }
        for offer in std::mem::take(&mut framework.offers) {
            self.offers.remove(&offer);
        }
        let agents: BTreeSet<String> = framework
            .tasks
            .values()
            .map(|t| t.agent_id.clone())
            .collect();
        for agent in agents {
            self.send_to_agent(
                &agent,
                master_event_of(master_event::Type::ShutdownFramework, |e| {
                    e.shutdown_framework = Some(master_event::ShutdownFramework {
                        framework_id: v1::FrameworkId {
                            value: framework_id.to_owned(),
                        },
                    })
                }),
            );
        }
        self.allocator
            .send(AllocatorCommand::RemoveFramework(framework_id.to_owned()));
        // Dropping the connection ends the SUBSCRIBE stream.
        drop(framework.connection.take());
        // Kept for operators (Mesos' completed_frameworks): tasks still
        // live are killed with the framework.
        for (task_id, mut task) in std::mem::take(&mut framework.tasks) {
            if !is_terminal(state_of(&task.status)) {
                task.status = StatusBuilder::new(&task_id, TaskState::TaskKilled, Source::Master)
                    .reason(Reason::FrameworkRemoved)
                    .message(format!("Framework removed: {why}"))
                    .agent(&task.agent_id)
                    .executor(task.executor_id.as_deref())
                    .build();
                self.counters.task_state(TaskState::TaskKilled);
            }
            framework.completed.push_back(task);
        }
        while framework.completed.len() > COMPLETED_TASKS_KEPT {
            framework.completed.pop_front();
        }
        self.completed_frameworks.push_back(framework);
        if self.completed_frameworks.len() > COMPLETED_FRAMEWORKS_KEPT {
            self.completed_frameworks.pop_front();
        }
    }

    fn kill(&mut self, framework_id: &str, kill: call::Kill) {
        let task_id = kill.task_id.value.clone();
        let agent = self.frameworks[framework_id]
            .tasks
            .get(&task_id)
            .map(|t| t.agent_id.clone());
        match agent {
            Some(agent_id) => {
                let sent = self.send_to_agent(
                    &agent_id,
                    master_event_of(master_event::Type::KillTask, |e| {
                        e.kill_task = Some(master_event::KillTask {
                            framework_id: v1::FrameworkId {
                                value: framework_id.to_owned(),
                            },
                            task_id: kill.task_id,
                            kill_policy: kill.kill_policy,
                        })
                    }),
                );
                if !sent {
                    tracing::warn!(
                        framework_id,
                        task_id,
                        agent_id,
                        "cannot kill task: its agent is disconnected"
                    );
                }
            }
            None => {
                let status = StatusBuilder::new(&task_id, TaskState::TaskLost, Source::Master)
                    .reason(Reason::Reconciliation)
                    .message("Attempted to kill an unknown task")
                    .build();
                self.send_update(framework_id, status);
            }
        }
    }

    fn acknowledge(&mut self, framework_id: &str, ack: call::Acknowledge) -> Result<(), CallError> {
        if uuid::Uuid::from_slice(&ack.uuid).is_err() {
            return Err(CallError::bad_request(format!(
                "'acknowledge.uuid' must be a 16-byte UUID, got {} bytes",
                ack.uuid.len()
            )));
        }
        let task_id = ack.task_id.value.clone();
        self.send_to_agent(
            &ack.agent_id.value,
            master_event_of(master_event::Type::Acknowledge, |e| {
                e.acknowledge = Some(master_event::Acknowledge {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_owned(),
                    },
                    task_id: ack.task_id,
                    uuid: ack.uuid.clone(),
                })
            }),
        );
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("checked by check_stream");
        let done = framework.tasks.get(&task_id).is_some_and(|t| {
            is_terminal(state_of(&t.status))
                && t.status.uuid.as_deref() == Some(ack.uuid.as_slice())
        });
        if done {
            let task = framework.tasks.remove(&task_id).expect("just found");
            framework.completed.push_back(task);
            if framework.completed.len() > COMPLETED_TASKS_KEPT {
                framework.completed.pop_front();
            }
        }
        Ok(())
    }

    /// Answers a RECONCILE (see docs/reconciliation.md): one UPDATE per
    /// task asked about, or per live task when the list is empty; answers
    /// come from the master (`SOURCE_MASTER`, no uuid, never acknowledged).
    fn reconcile(&mut self, framework_id: &str, reconcile: call::Reconcile) {
        let framework = &self.frameworks[framework_id];
        let partition_aware =
            framework.info.capabilities.iter().any(|c| {
                c.r#type == Some(v1::framework_info::capability::Type::PartitionAware as i32)
            });
        let answer = |task: &TaskEntry| {
            let mut status = task.status.clone();
            status.source = Some(Source::Master as i32);
            status.reason = Some(Reason::Reconciliation as i32);
            status.message = Some("Reconciliation: Latest task state".into());
            status.uuid = None;
            status.timestamp = Some(crate::domain::status::now_seconds());
            status
        };
        let statuses: Vec<v1::TaskStatus> = if reconcile.tasks.is_empty() {
            // Implicit: every task the master has not forgotten as done.
            framework.tasks.values().map(answer).collect()
        } else {
            reconcile
                .tasks
                .iter()
                .filter(|t| {
                    // Tasks of an agent still re-registering get no answer
                    // until it is back or removed, as in Mesos.
                    framework.tasks.contains_key(&t.task_id.value)
                        || !t
                            .agent_id
                            .as_ref()
                            .is_some_and(|a| self.recovering.contains_key(&a.value))
                })
                .map(|t| {
                    let id = &t.task_id.value;
                    let known = framework.tasks.get(id).or_else(|| {
                        framework
                            .completed
                            .iter()
                            .rev()
                            .find(|c| c.info.task_id.value == *id)
                    });
                    if let Some(task) = known {
                        return answer(task);
                    }
                    let agent = t.agent_id.as_ref().map(|a| a.value.as_str());
                    let (state, reason, message) = match agent {
                        Some(a) if self.removed_agents.contains(a) => (
                            if partition_aware {
                                TaskState::TaskGone
                            } else {
                                TaskState::TaskLost
                            },
                            Reason::AgentRemoved,
                            format!("Reconciliation: agent {a} was removed"),
                        ),
                        _ => (
                            if partition_aware {
                                TaskState::TaskUnknown
                            } else {
                                TaskState::TaskLost
                            },
                            Reason::Reconciliation,
                            "Reconciliation: Task is unknown".to_owned(),
                        ),
                    };
                    let mut b = StatusBuilder::new(id, state, Source::Master)
                        .reason(reason)
                        .message(message);
                    if let Some(agent) = agent {
                        b = b.agent(agent);
                    }
                    b.build()
                })
                .collect()
        };
        for status in statuses {
            self.send_update(framework_id, status);
        }
    }

    // ----- offers -------------------------------------------------------------

    /// Turns an allocation cycle's grants into OFFERS events.
    pub fn apply_grants(&mut self, grants: Vec<Allocation>) {
        let mut by_framework: BTreeMap<String, Vec<v1::Offer>> = BTreeMap::new();
        for grant in grants {
            let usable = self
                .frameworks
                .get(&grant.framework_id)
                .is_some_and(FrameworkState::connected)
                && self
                    .agents
                    .get(&grant.agent_id)
                    .is_some_and(AgentEntry::connected);
            if !usable {
                self.recover(&grant.framework_id, &grant.agent_id, grant.resources, None);
                continue;
            }
            let id = format!("{}-O{}", self.settings.master_id, self.next_offer);
            self.next_offer += 1;
            let agent = &self.agents[&grant.agent_id];
            by_framework
                .entry(grant.framework_id.clone())
                .or_default()
                .push(v1::Offer {
                    id: v1::OfferId { value: id.clone() },
                    framework_id: v1::FrameworkId {
                        value: grant.framework_id.clone(),
                    },
                    agent_id: v1::AgentId {
                        value: grant.agent_id.clone(),
                    },
                    hostname: agent.info.hostname.clone(),
                    resources: resources_to_proto(&grant.resources),
                    attributes: agent.info.attributes.clone(),
                    executor_ids: Vec::new(),
                });
            if let Some(framework) = self.frameworks.get_mut(&grant.framework_id) {
                framework.offers.insert(id.clone());
            }
            self.offers.insert(
                id,
                OfferState {
                    framework_id: grant.framework_id,
                    agent_id: grant.agent_id,
                    resources: grant.resources,
                },
            );
        }
        for (framework_id, offers) in by_framework {
            self.send(
                &framework_id,
                Event {
                    r#type: Some(event::Type::Offers as i32),
                    offers: Some(event::Offers { offers }),
                    ..Default::default()
                },
            );
        }
    }

    fn recover(
        &self,
        framework_id: &str,
        agent_id: &str,
        resources: Vec<Resource>,
        refuse_seconds: Option<f64>,
    ) {
        if resources.is_empty() {
            return;
        }
        self.allocator.send(AllocatorCommand::Recover(
            RecoveredResources {
                allocation: Allocation {
                    framework_id: framework_id.to_owned(),
                    agent_id: agent_id.to_owned(),
                    resources,
                },
                refuse_seconds,
            },
            self.now_ms(),
        ));
    }

    /// Removes an offer and returns its resources to the allocator. With
    /// `refuse` (a decline) it is not rescinded; without, the framework is
    /// told the offer is gone.
    fn drop_offer(&mut self, offer_id: &str, refuse: Option<f64>) {
        let Some(offer) = self.offers.remove(offer_id) else {
            return;
        };
        if let Some(framework) = self.frameworks.get_mut(&offer.framework_id) {
            framework.offers.remove(offer_id);
        }
        if refuse.is_none() {
            self.send(
                &offer.framework_id,
                Event {
                    r#type: Some(event::Type::Rescind as i32),
                    rescind: Some(event::Rescind {
                        offer_id: v1::OfferId {
                            value: offer_id.to_owned(),
                        },
                    }),
                    ..Default::default()
                },
            );
        }
        self.recover(
            &offer.framework_id,
            &offer.agent_id,
            offer.resources,
            refuse,
        );
    }

    fn accept(&mut self, framework_id: &str, accept: call::Accept) {
        let refuse = accept
            .filters
            .and_then(|f| f.refuse_seconds)
            .unwrap_or(DEFAULT_REFUSE_SECONDS);
        let tasks: Vec<v1::TaskInfo> = accept
            .operations
            .into_iter()
            .filter_map(|op| match op.r#type.and_then(|t| v1::offer::operation::Type::try_from(t).ok()) {
                Some(v1::offer::operation::Type::Launch) => op.launch.map(|l| l.task_infos),
                other => {
                    tracing::warn!(framework_id, operation = ?other, "unsupported offer operation ignored");
                    None
                }
            })
            .flatten()
            .collect();

        // Take the offers: every one must exist, be this framework's and be on one agent.
        let mut offers = Vec::new();
        let mut problems = Vec::new();
        for offer_id in &accept.offer_ids {
            match self.offers.get(&offer_id.value) {
                Some(o) if o.framework_id == framework_id => {
                    let o = self.offers.remove(&offer_id.value).expect("just found");
                    if let Some(f) = self.frameworks.get_mut(framework_id) {
                        f.offers.remove(&offer_id.value);
                    }
                    offers.push(o);
                }
                _ => problems.push(format!(
                    "offer '{}' is unknown or no longer valid",
                    offer_id.value
                )),
            }
        }
        if accept.offer_ids.is_empty() {
            problems.push("no offers were accepted".to_owned());
        }
        let agents: BTreeSet<&str> = offers.iter().map(|o| o.agent_id.as_str()).collect();
        if agents.len() > 1 {
            problems.push("the offers are on more than one agent".to_owned());
        }
        let agent_id = agents.first().map(|a| (*a).to_owned()).unwrap_or_default();
        if problems.is_empty()
            && !self
                .agents
                .get(&agent_id)
                .is_some_and(AgentEntry::connected)
        {
            problems.push(format!("agent '{agent_id}' is not connected"));
        }
        if !problems.is_empty() {
            let message = problems.join("; ");
            for task in &tasks {
                self.task_error(framework_id, task, &message);
            }
            for offer in offers {
                self.recover(
                    &offer.framework_id,
                    &offer.agent_id,
                    offer.resources,
                    Some(refuse),
                );
            }
            return;
        }

        let mut remaining = ResourceBag::default();
        for offer in &offers {
            remaining.add(&ResourceBag::new(&offer.resources));
        }
        let mut seen = HashSet::new();
        for mut task in tasks {
            let checked = {
                let framework = &self.frameworks[framework_id];
                let known = |id: &str| framework.tasks.contains_key(id);
                validate_task(
                    &task,
                    &Context {
                        agent_id: &agent_id,
                        known_task: &known,
                        seen: &seen,
                        remaining: &remaining,
                    },
                )
            };
            let consumed = match checked {
                Ok(consumed) => consumed,
                Err(message) => {
                    self.task_error(framework_id, &task, &message);
                    continue;
                }
            };
            remaining.subtract(&consumed);
            seen.insert(task.task_id.value.clone());
            let task_agent = task.agent_id.value.clone();
            self.hooks.decorate_labels(
                LabelPoint::MasterLaunch,
                framework_id,
                &task_agent,
                &mut task,
            );
            self.launch(framework_id, &agent_id, task, consumed.to_list());
        }
        self.recover(framework_id, &agent_id, remaining.to_list(), Some(refuse));
    }

    fn task_error(&mut self, framework_id: &str, task: &v1::TaskInfo, message: &str) {
        tracing::warn!(framework_id, task_id = %task.task_id.value, message, "invalid task");
        self.counters.task_state(TaskState::TaskError);
        let status = StatusBuilder::new(&task.task_id.value, TaskState::TaskError, Source::Master)
            .reason(Reason::TaskInvalid)
            .message(message)
            .agent(&task.agent_id.value)
            .build();
        self.send_update(framework_id, status);
    }

    fn launch(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        task: v1::TaskInfo,
        resources: Vec<Resource>,
    ) {
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("accepting framework exists");
        let status =
            StatusBuilder::new(&task.task_id.value, TaskState::TaskStaging, Source::Master)
                .agent(agent_id)
                .executor(task.executor.as_ref().map(|e| e.executor_id.value.as_str()))
                .build();
        let entry = TaskEntry {
            info: task.clone(),
            framework_id: framework_id.to_owned(),
            agent_id: agent_id.to_owned(),
            executor_id: task.executor.as_ref().map(|e| e.executor_id.value.clone()),
            status,
            resources,
            resources_recovered: false,
        };
        framework.tasks.insert(task.task_id.value.clone(), entry);
        let framework_info = framework.info.clone();
        tracing::info!(framework_id, agent_id, task_id = %task.task_id.value, "launching task");
        self.send_to_agent(
            agent_id,
            master_event_of(master_event::Type::RunTask, |e| {
                e.run_task = Some(master_event::RunTask {
                    framework_info,
                    task,
                })
            }),
        );
    }

    // ----- agents -------------------------------------------------------------

    /// An agent (re-)registers; returns its id, the connection id and the
    /// event receiver.
    pub fn agent_subscribe(
        &mut self,
        subscribe: ap::Subscribe,
    ) -> (String, u64, mpsc::UnboundedReceiver<Box<ap::MasterEvent>>) {
        let mut info = subscribe.agent_info;
        if let Some(id) = info
            .id
            .as_ref()
            .filter(|id| self.removed_agents.contains(&id.value))
        {
            // A removed agent may not come back under its old id: it is told
            // to shut its tasks down, then registers afresh (as in Mesos).
            tracing::warn!(agent_id = %id.value, "a removed agent tried to re-register; telling it to shut down");
            let (tx, rx) = mpsc::unbounded_channel();
            deliver(
                &tx,
                master_event_of(master_event::Type::Shutdown, |e| {
                    e.shutdown = Some(master_event::Shutdown {
                        message: format!(
                            "agent {} was removed; register again as a new agent",
                            id.value
                        ),
                    })
                }),
            );
            self.next_connection += 1;
            return (id.value.clone(), self.next_connection, rx);
        }
        let id = match info.id.as_ref() {
            Some(id) if !id.value.is_empty() => id.value.clone(),
            _ => {
                let id = format!("{}-S{}", self.settings.master_id, self.next_agent);
                self.next_agent += 1;
                id
            }
        };
        info.id = Some(v1::AgentId { value: id.clone() });
        let (tx, rx) = mpsc::unbounded_channel();
        deliver(
            &tx,
            master_event_of(master_event::Type::Registered, |e| {
                e.registered = Some(master_event::Registered {
                    agent_id: v1::AgentId { value: id.clone() },
                    ping_interval_seconds: self.settings.agent_ping_interval.as_secs_f64(),
                })
            }),
        );
        self.next_connection += 1;
        let connection = AgentConnection {
            id: self.next_connection,
            events: tx,
        };
        let total = resources_from_proto(&info.resources);

        let reported: BTreeSet<(String, String)> = subscribe
            .tasks
            .iter()
            .map(|t| {
                let framework_id = t.framework_info.id.as_ref().map(|f| f.value.clone());
                (
                    framework_id.unwrap_or_default(),
                    t.task.task_id.value.clone(),
                )
            })
            .collect();
        // Tasks the agent already runs (it re-registers after a disconnect).
        let mut used: BTreeMap<String, Vec<Resource>> = BTreeMap::new();
        for running in subscribe.tasks {
            let framework_id = running
                .framework_info
                .id
                .as_ref()
                .map(|f| f.value.clone())
                .unwrap_or_default();
            let Some(framework) = self.frameworks.get_mut(&framework_id) else {
                continue;
            };
            let task_id = running.task.task_id.value.clone();
            let already_completed = framework
                .completed
                .iter()
                .any(|t| t.info.task_id.value == task_id);
            if framework.tasks.contains_key(&task_id) || already_completed {
                continue;
            }
            let resources = resources_from_proto(&running.task.resources);
            let state = TaskState::try_from(running.state).unwrap_or(TaskState::TaskRunning);
            let entry = TaskEntry {
                framework_id: framework_id.clone(),
                agent_id: id.clone(),
                executor_id: running
                    .task
                    .executor
                    .as_ref()
                    .map(|e| e.executor_id.value.clone()),
                status: StatusBuilder::new(&task_id, state, Source::Agent)
                    .agent(&id)
                    .build(),
                info: running.task,
                resources: resources.clone(),
                resources_recovered: is_terminal(state),
            };
            if is_terminal(state) {
                // How a task ended before the master restarted.
                framework.completed.push_back(entry);
                continue;
            }
            used.entry(framework_id.clone())
                .or_default()
                .extend(resources.iter().cloned());
            framework.tasks.insert(task_id.clone(), entry);
        }

        let known = self.agents.contains_key(&id) || self.recovering.remove(&id).is_some();
        self.counters.bump(if known {
            "slave_reregistrations"
        } else {
            "slave_registrations"
        });
        if let Some(registry) = &self.registry {
            let record = AgentRecord {
                info: info.clone(),
                endpoint: subscribe.endpoint.clone(),
            };
            if let Err(e) = registry.admit_agent(&id, &record) {
                tracing::error!(agent_id = %id, error = %e, "cannot admit the agent to the registry");
            }
        }
        match self.agents.get_mut(&id) {
            Some(agent) => {
                agent.info = info;
                agent.endpoint = subscribe.endpoint;
                agent.connection = Some(connection);
                agent.last_seen = Instant::now();
                self.allocator
                    .send(AllocatorCommand::SetAgentActive(id.clone(), true));
                tracing::info!(agent_id = %id, "agent re-registered");
                self.lose_unreported_tasks(&id, &reported);
            }
            None => {
                self.allocator.send(AllocatorCommand::AddAgent(AgentSpec {
                    id: id.clone(),
                    hostname: info.hostname.clone(),
                    total,
                    used: used
                        .into_iter()
                        .map(|(framework_id, resources)| Allocation {
                            framework_id,
                            agent_id: id.clone(),
                            resources,
                        })
                        .collect(),
                    active: true,
                }));
                tracing::info!(agent_id = %id, hostname = %info.hostname, endpoint = %subscribe.endpoint, "agent registered");
                self.agents.insert(
                    id.clone(),
                    AgentEntry {
                        id: id.clone(),
                        info,
                        endpoint: subscribe.endpoint,
                        connection: Some(connection),
                        last_seen: Instant::now(),
                    },
                );
            }
        }
        self.allocation_wanted.notify_one();
        (id, self.next_connection, rx)
    }

    /// The agent's event stream closed.
    pub fn agent_disconnected(&mut self, agent_id: &str, connection: u64) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if agent.connection.as_ref().map(|c| c.id) != Some(connection) {
            return;
        }
        agent.connection = None;
        tracing::warn!(agent_id, "agent disconnected");
        // As in Mesos: only checkpointing frameworks' tasks can outlive
        // their agent's process; the others are lost now.
        let message = format!("agent {agent_id} disconnected");
        self.lose_tasks(
            agent_id,
            Reason::AgentDisconnected,
            &message,
            true,
            |f, _| f.info.checkpoint != Some(true),
        );
        self.allocator
            .send(AllocatorCommand::SetAgentActive(agent_id.to_owned(), false));
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for offer in offers {
            self.drop_offer(&offer, None);
        }
    }

    /// A call from an agent.
    pub fn agent_call(&mut self, call: ap::AgentCall) -> Result<(), CallError> {
        let agent_id = call.agent_id.value.clone();
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return Err(CallError {
                status: 404,
                message: format!("agent '{agent_id}' is not registered"),
            });
        };
        agent.last_seen = Instant::now();
        match call
            .r#type
            .and_then(|t| ap::agent_call::Type::try_from(t).ok())
        {
            Some(ap::agent_call::Type::Pong) => Ok(()),
            Some(ap::agent_call::Type::Update) => {
                let update = call
                    .update
                    .ok_or_else(|| CallError::bad_request("Expecting 'update' to be present"))?;
                self.status_update(&agent_id, &update.framework_id.value, update.status);
                Ok(())
            }
            Some(ap::agent_call::Type::ExecutorExited) => {
                let exited = call.executor_exited.ok_or_else(|| {
                    CallError::bad_request("Expecting 'executor_exited' to be present")
                })?;
                self.send(
                    &exited.framework_id.value,
                    Event {
                        r#type: Some(event::Type::Failure as i32),
                        failure: Some(event::Failure {
                            agent_id: Some(v1::AgentId { value: agent_id }),
                            executor_id: Some(exited.executor_id),
                            status: Some(exited.status),
                        }),
                        ..Default::default()
                    },
                );
                Ok(())
            }
            Some(ap::agent_call::Type::Message) => {
                let m = call
                    .message
                    .ok_or_else(|| CallError::bad_request("Expecting 'message' to be present"))?;
                self.send(
                    &m.framework_id.value,
                    Event {
                        r#type: Some(event::Type::Message as i32),
                        message: Some(event::Message {
                            agent_id: v1::AgentId { value: agent_id },
                            executor_id: m.executor_id,
                            data: m.data,
                        }),
                        ..Default::default()
                    },
                );
                Ok(())
            }
            Some(ap::agent_call::Type::Unknown) | None => {
                Err(CallError::bad_request("Expecting 'type' to be present"))
            }
        }
    }

    fn status_update(&mut self, agent_id: &str, framework_id: &str, status: v1::TaskStatus) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            // The framework is gone: the agent should not run its tasks.
            self.send_to_agent(
                agent_id,
                master_event_of(master_event::Type::ShutdownFramework, |e| {
                    e.shutdown_framework = Some(master_event::ShutdownFramework {
                        framework_id: v1::FrameworkId {
                            value: framework_id.to_owned(),
                        },
                    })
                }),
            );
            return;
        };
        let mut recovered = None;
        self.counters.bump("messages_status_update");
        if let Some(task) = framework.tasks.get_mut(&status.task_id.value) {
            let state = state_of(&status);
            if state_of(&task.status) != state {
                tracing::info!(
                    framework_id,
                    task_id = %status.task_id.value,
                    agent_id,
                    state = state.as_str_name(),
                    reason = status.reason.and_then(|r| Reason::try_from(r).ok()).map(|r| r.as_str_name()),
                    "task state changed"
                );
                self.counters.task_state(state);
            }
            self.counters.bump("valid_status_updates");
            task.status = status.clone();
            if let Some(executor) = &status.executor_id {
                task.executor_id = Some(executor.value.clone());
            }
            if is_terminal(state_of(&status)) && !task.resources_recovered {
                task.resources_recovered = true;
                recovered = Some(task.resources.clone());
            }
        }
        if let Some(resources) = recovered {
            self.recover(framework_id, agent_id, resources, None);
        }
        self.send_update(framework_id, status);
    }

    /// Removes an agent: its tasks are lost, its offers rescinded.
    pub fn remove_agent(&mut self, agent_id: &str, why: &str) {
        let Some(agent) = self.agents.remove(agent_id) else {
            return;
        };
        tracing::warn!(agent_id, why, "removing agent");
        self.counters.bump("slave_removals");
        self.forget_agent(agent_id);
        if let Some(conn) = &agent.connection {
            deliver(
                &conn.events,
                master_event_of(master_event::Type::Shutdown, |e| {
                    e.shutdown = Some(master_event::Shutdown {
                        message: format!("agent removed: {why}"),
                    })
                }),
            );
        }
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for offer in offers {
            self.drop_offer(&offer, None);
        }
        self.allocator
            .send(AllocatorCommand::RemoveAgent(agent_id.to_owned()));
        let message = format!("agent {agent_id} removed: {why}");
        self.lose_tasks(agent_id, Reason::AgentRemoved, &message, false, |_, _| true);
    }

    /// Periodic upkeep: pings agents, removes silent ones, and removes
    /// frameworks whose failover timeout passed.
    pub fn tick(&mut self) {
        let now = Instant::now();
        if !self.recovering.is_empty() && now >= self.recovery_deadline {
            self.give_up_recovering_agents();
        }
        let silent: Vec<String> = self
            .agents
            .values()
            .filter(|a| now.duration_since(a.last_seen) > self.settings.agent_timeout)
            .map(|a| a.id.clone())
            .collect();
        for agent in silent {
            let why = format!("not heard from for {:?}", self.settings.agent_timeout);
            self.remove_agent(&agent, &why);
        }
        for agent in self.agents.values() {
            if let Some(conn) = &agent.connection {
                deliver(
                    &conn.events,
                    master_event_of(master_event::Type::Ping, |_| {}),
                );
            }
        }
        let expired: Vec<String> = self
            .frameworks
            .values()
            .filter(|f| {
                f.disconnected_at.is_some_and(|at| {
                    let timeout = f.info.failover_timeout.unwrap_or(0.0).clamp(0.0, 1e9);
                    now.duration_since(at) >= Duration::from_secs_f64(timeout)
                })
            })
            .map(|f| f.id.clone())
            .collect();
        for framework in expired {
            self.remove_framework(&framework, "its failover timeout passed");
        }
    }

    /// Closes every stream (the master is shutting down).
    pub fn close_all(&mut self) {
        // The registry file is released now, so a master started in its
        // place (in this process too) can open it.
        self.registry = None;
        for framework in self.frameworks.values_mut() {
            framework.connection = None;
        }
        for agent in self.agents.values_mut() {
            agent.connection = None;
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

// ----- registry and recovery ---------------------------------------------------

impl Master {
    /// Starts from what the registry kept: frameworks wait (inactive) for
    /// their schedulers until their failover deadline; admitted agents have
    /// `reregister_timeout` to come back before they are removed.
    pub fn recover_from_registry(
        &mut self,
        registry: Registry,
        recovered: Recovered,
        reregister_timeout: Duration,
    ) {
        let now = Instant::now();
        let wall = crate::domain::status::now_seconds();
        for (id, record) in recovered.frameworks {
            let timeout = record.info.failover_timeout.unwrap_or(0.0).clamp(0.0, 1e9);
            // A framework connected when the master went down gets its whole
            // failover timeout from now.
            let remaining = record
                .failover_deadline
                .map_or(timeout, |d| (d - wall).clamp(0.0, timeout));
            let disconnected_at = now
                .checked_sub(Duration::from_secs_f64(timeout - remaining))
                .unwrap_or(now);
            let role = role_of(&record.info);
            self.allocator
                .send(AllocatorCommand::AddFramework(framework_spec(
                    &id, &role, false,
                )));
            tracing::info!(framework_id = %id, remaining_secs = remaining, "framework recovered from the registry");
            self.frameworks.insert(
                id.clone(),
                FrameworkState {
                    id,
                    info: record.info,
                    role,
                    connection: None,
                    tasks: BTreeMap::new(),
                    completed: VecDeque::new(),
                    offers: BTreeSet::new(),
                    disconnected_at: Some(disconnected_at),
                },
            );
        }
        for (id, record) in recovered.agents {
            tracing::info!(agent_id = %id, endpoint = %record.endpoint, "agent recovered from the registry; waiting for it to re-register");
            self.recovering.insert(id, record);
        }
        self.recovery_deadline = now + reregister_timeout;
        self.registry = Some(registry);
    }

    /// Marks the live tasks on `agent_id` that `which` selects as lost
    /// (master-generated updates, no uuid), keeps them as completed and,
    /// with `recover`, returns their resources to the allocator.
    fn lose_tasks(
        &mut self,
        agent_id: &str,
        reason: Reason,
        message: &str,
        recover: bool,
        which: impl Fn(&FrameworkState, &str) -> bool,
    ) {
        let mut lost = Vec::new();
        for framework in self.frameworks.values_mut() {
            let ids: Vec<String> = framework
                .tasks
                .iter()
                .filter(|(id, t)| {
                    t.agent_id == agent_id
                        && !is_terminal(state_of(&t.status))
                        && which(framework, id)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                let mut task = framework.tasks.remove(&id).expect("just listed");
                let status = StatusBuilder::new(&id, TaskState::TaskLost, Source::Master)
                    .reason(reason)
                    .message(message)
                    .agent(agent_id)
                    .executor(task.executor_id.as_deref())
                    .build();
                task.status = status.clone();
                tracing::info!(framework_id = %framework.id, task_id = %id, agent_id, state = "TASK_LOST", reason = reason.as_str_name(), "task state changed");
                let resources =
                    (recover && !task.resources_recovered).then(|| task.resources.clone());
                task.resources_recovered = true;
                framework.completed.push_back(task);
                lost.push((framework.id.clone(), status, resources));
            }
        }
        for (framework_id, status, resources) in lost {
            self.counters.task_state(TaskState::TaskLost);
            if let Some(resources) = resources {
                self.recover(&framework_id, agent_id, resources, None);
            }
            self.send_update(&framework_id, status);
        }
    }

    /// A known agent re-registered without some of the live tasks the
    /// master placed on it (it restarted without recovering them): they are
    /// lost, with `REASON_AGENT_RESTARTED`.
    fn lose_unreported_tasks(&mut self, agent_id: &str, reported: &BTreeSet<(String, String)>) {
        let message = format!("agent {agent_id} restarted without this task");
        self.lose_tasks(agent_id, Reason::AgentRestarted, &message, true, |f, id| {
            !reported.contains(&(f.id.clone(), id.to_owned()))
        });
    }

    /// Writes a framework's record (connected, or with its deadline).
    fn persist_framework(&self, framework_id: &str) {
        let (Some(registry), Some(framework)) = (&self.registry, self.frameworks.get(framework_id))
        else {
            return;
        };
        let failover_deadline = framework.disconnected_at.map(|at| {
            let timeout = framework
                .info
                .failover_timeout
                .unwrap_or(0.0)
                .clamp(0.0, 1e9);
            crate::domain::status::now_seconds() - at.elapsed().as_secs_f64() + timeout
        });
        let record = FrameworkRecord {
            info: framework.info.clone(),
            failover_deadline,
        };
        if let Err(e) = registry.put_framework(framework_id, &record) {
            tracing::error!(framework_id, error = %e, "cannot write the framework to the registry");
        }
    }

    /// An agent is gone for good: out of the registry, remembered as removed.
    fn forget_agent(&mut self, agent_id: &str) {
        if let Some(registry) = &self.registry {
            if let Err(e) = registry.remove_agent(agent_id) {
                tracing::error!(agent_id, error = %e, "cannot remove the agent from the registry");
            }
        }
        self.removed_agents.insert(agent_id.to_owned());
    }

    /// The re-registration timeout passed: admitted agents that did not come
    /// back are removed, unless that would be more than the removal limit.
    fn give_up_recovering_agents(&mut self) {
        let missing = self.recovering.len();
        let admitted = missing + self.agents.len();
        let share = missing as f64 / admitted.max(1) as f64;
        if share > self.settings.recovery_agent_removal_limit {
            tracing::error!(
                missing,
                admitted,
                limit = self.settings.recovery_agent_removal_limit,
                "refusing to remove agents that did not re-register: more than the recovery removal limit; they stay admitted until they return or an operator intervenes"
            );
            self.recovery_deadline = Instant::now() + self.settings.agent_timeout;
            return;
        }
        for (agent_id, _) in std::mem::take(&mut self.recovering) {
            tracing::warn!(
                agent_id,
                "agent did not re-register after master failover; removing it"
            );
            self.counters.bump("recovery_slave_removals");
            self.counters.bump("slave_removals");
            self.forget_agent(&agent_id);
            let ids: Vec<String> = self.frameworks.keys().cloned().collect();
            for framework_id in ids {
                self.send(
                    &framework_id,
                    Event {
                        r#type: Some(event::Type::Failure as i32),
                        failure: Some(event::Failure {
                            agent_id: Some(v1::AgentId {
                                value: agent_id.clone(),
                            }),
                            executor_id: None,
                            status: None,
                        }),
                        ..Default::default()
                    },
                );
            }
        }
    }
}

/// The `messages_*` counter (Mesos' v0 message names) of a scheduler call.
fn call_metric(kind: call::Type) -> Option<&'static str> {
    Some(match kind {
        call::Type::Subscribe => "messages_register_framework",
        call::Type::Teardown => "messages_unregister_framework",
        call::Type::Accept => "messages_launch_tasks",
        call::Type::Decline => "messages_decline_offers",
        call::Type::Revive => "messages_revive_offers",
        call::Type::Suppress => "messages_suppress_offers",
        call::Type::Kill => "messages_kill_task",
        call::Type::Shutdown => "messages_shutdown_executor",
        call::Type::Acknowledge => "messages_status_update_acknowledgement",
        call::Type::Reconcile => "messages_reconcile_tasks",
        call::Type::Message => "messages_framework_to_executor",
        call::Type::Request => "messages_resource_request",
        _ => return None,
    })
}
