//! The agent's book (its frameworks, executors, tasks and update streams)
//! and its reactions, one file per kind of event:
//!
//! - `run_task.rs`: a task arrives; its executor's container is launched;
//! - `lifecycle.rs`: executors exiting, hitting limits, being killed or
//!   shut down;
//! - `executor_calls.rs`: the executor API (subscribe, update, message);
//! - `master_events.rs`: the master's other events, and the status updates
//!   the agent forwards and resends to it;
//! - `recovery.rs`: checkpoints, and taking executors back after a restart.
//!
//! The book is behind one mutex, [`Agent::lock`], held only for
//! bookkeeping. Module calls (hooks, and the isolators inside the
//! containerizer's launch, update and cleanup) and container kills run on
//! blocking threads with the book unlocked, so that a slow module delays
//! only what waits for it, not the agent's runtime or its other events.
//! While its container launches, an executor is [`ContainerPhase::Launching`]:
//! tasks for it are queued, and kills, shutdowns and limitations are noted
//! and carried out when the launch returns (see `run_task.rs`).

mod executor_calls;
mod lifecycle;
mod master_events;
mod recovery;
mod run_task;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Condvar, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::mpsc;

use super::{status_updates::StatusUpdates, AgentConfig};
use crate::{
    containerizer::Containerizer,
    domain::convert::resources_from_proto,
    domain::status::{is_terminal, StatusBuilder},
    domain::Recent,
    domain::{EventSender, QueueStats},
    extension::{Hooks, Limitation},
    proto::{
        agent::{self as ap, agent_call},
        v1::{
            self,
            executor::{event as xevent, Event as XEvent},
            TaskState,
        },
    },
};

/// A refused executor call: HTTP status and message.
pub type Refusal = (u16, String);

/// A task on the agent: as launched, its state, and since when (seconds
/// since the epoch).
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub info: v1::TaskInfo,
    pub state: TaskState,
    pub since: f64,
}

impl TaskRecord {
    fn new(info: v1::TaskInfo, state: TaskState) -> Self {
        TaskRecord {
            info,
            state,
            since: crate::domain::status::now_seconds(),
        }
    }

    fn set_state(&mut self, state: TaskState) {
        if self.state != state {
            self.state = state;
            self.since = crate::domain::status::now_seconds();
        }
    }
}

#[derive(Debug)]
struct ExecutorRun {
    info: v1::ExecutorInfo,
    /// The agent id the executor was launched under (its sandbox's):
    /// every update of its tasks carries it, even once the agent has been
    /// removed and registers under a new one.
    agent_id: String,
    container_id: String,
    sandbox: PathBuf,
    container: ContainerPhase,
    /// Tasks joined while the container was launching: the isolators are
    /// told its new size once it has started.
    grown: bool,
    /// The executor's event stream, once it subscribed.
    connection: Option<(u64, EventSender<XEvent>)>,
    /// Tasks waiting for the executor to subscribe.
    queued: Vec<v1::TaskInfo>,
    tasks: BTreeMap<String, TaskRecord>,
    /// Tasks that ended and whose every update was acknowledged (they left
    /// `tasks`), newest last, for `/state`'s `completed_tasks`; bounded.
    finished: Vec<TaskRecord>,
    /// Whether the executor ever subscribed.
    subscribed: bool,
    /// Set once the executor is being shut down or killed.
    shutting_down: bool,
    /// The limit an isolator reported; the container is destroyed for it.
    limitation: Option<Limitation>,
}

/// Where an executor's container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContainerPhase {
    /// The containerizer is launching it, with the book unlocked: there is
    /// no process yet to signal or destroy.
    Launching,
    /// Started; the pid of its first process, when known.
    Started(Option<u32>),
}

impl ExecutorRun {
    /// The container's first process, once started.
    fn pid(&self) -> Option<u32> {
        match self.container {
            ContainerPhase::Launching => None,
            ContainerPhase::Started(pid) => pid,
        }
    }
}

#[derive(Debug)]
struct FrameworkRun {
    info: v1::FrameworkInfo,
    executors: BTreeMap<String, ExecutorRun>,
}

/// An executor in a snapshot of the agent (for `/state` and tools).
#[derive(Debug, Clone)]
pub struct ExecutorSummary {
    pub framework_id: String,
    pub executor_id: String,
    pub name: String,
    /// The executor's `source` (the task id for command executors).
    pub source: String,
    pub container_id: String,
    pub sandbox: PathBuf,
    /// Tasks given to the executor (for a finished executor: all its
    /// tasks, ended).
    pub tasks: Vec<TaskRecord>,
    /// Tasks waiting for the executor to subscribe.
    pub queued: Vec<v1::TaskInfo>,
    /// Tasks that ended and were acknowledged while the executor ran on.
    pub finished: Vec<TaskRecord>,
    /// The executor as launched (for the command executor, as the agent
    /// made it).
    pub info: v1::ExecutorInfo,
    /// The agent id it was launched under.
    pub agent_id: String,
    pub completed: bool,
    /// The framework, reported to a master the agent re-registers with
    /// (so it learns how finished tasks ended).
    pub framework_info: v1::FrameworkInfo,
}

/// How many acknowledged finished tasks the agent remembers.
const FINISHED_TASKS_KEPT: usize = 1000;

/// How many ended tasks one executor remembers for `/state`.
const FINISHED_PER_EXECUTOR_KEPT: usize = 1000;

/// How many finished executors (and their sandboxes) `/state` lists.
const COMPLETED_EXECUTORS_KEPT: usize = 200;

/// The agent's book: its frameworks with their executors and tasks, the
/// tasks' update streams, and the connection to the master. (The master's
/// `AgentState` is something else: what the master knows of one agent.)
#[derive(Debug)]
pub struct AgentBook {
    pub agent_id: Option<String>,
    frameworks: BTreeMap<String, FrameworkRun>,
    completed: Recent<ExecutorSummary>,
    updates: StatusUpdates,
    /// Calls to the master, while connected.
    pub to_master: Option<mpsc::UnboundedSender<ap::AgentCall>>,
    next_connection: u64,
    /// What `/metrics/snapshot` cannot recompute from the state.
    pub counters: crate::domain::metrics::Counters,
    /// Finished tasks whose updates were all acknowledged, newest last
    /// (reported to a master the agent re-registers with).
    finished_tasks: Recent<ap::RunningTask>,
}

impl AgentBook {
    fn new() -> Self {
        AgentBook {
            agent_id: None,
            frameworks: BTreeMap::new(),
            completed: Recent::new(COMPLETED_EXECUTORS_KEPT),
            updates: StatusUpdates::default(),
            to_master: None,
            next_connection: 0,
            counters: Default::default(),
            finished_tasks: Recent::new(FINISHED_TASKS_KEPT),
        }
    }

    /// Status updates not yet acknowledged (resent until they are).
    pub fn pending_updates(&self) -> usize {
        self.updates.pending()
    }

    /// Whether a container is being launched.
    fn launching(&self) -> bool {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .any(|run| run.container == ContainerPhase::Launching)
    }
}

/// The agent: its settings, modules and state.
pub struct Agent {
    pub config: AgentConfig,
    hooks: Hooks,
    pub containerizer: Containerizer,
    /// `host:port` of the agent's own HTTP endpoints.
    pub endpoint: String,
    pub info: v1::AgentInfo,
    state: Mutex<AgentBook>,
    /// Signalled whenever a container launch has returned.
    launched: Condvar,
    /// Taken by each isolator update, so that they apply in turn.
    resizing: Mutex<()>,
    /// When the agent started.
    pub started: std::time::Instant,
    /// The figures of every executor's event queue.
    pub queue_stats: std::sync::Arc<QueueStats>,
    /// Derives each executor's token.
    pub token_key: crate::domain::auth::TokenKey,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The agent id the task of `status` ran under: its executor's.
fn ran_on(state: &AgentBook, framework_id: &str, status: &v1::TaskStatus) -> Option<String> {
    let framework = state.frameworks.get(framework_id)?;
    let run = match &status.executor_id {
        Some(executor) => framework.executors.get(&executor.value),
        None => framework
            .executors
            .values()
            .find(|run| run.tasks.contains_key(&status.task_id.value)),
    }?;
    Some(run.agent_id.clone()).filter(|id| !id.is_empty())
}

fn agent_call_of(
    kind: agent_call::Type,
    agent_id: &str,
    fill: impl FnOnce(&mut ap::AgentCall),
) -> ap::AgentCall {
    let mut call = ap::AgentCall {
        agent_id: v1::AgentId {
            value: agent_id.to_owned(),
        },
        r#type: Some(kind as i32),
        ..Default::default()
    };
    fill(&mut call);
    call
}

fn executor_event(kind: xevent::Type, fill: impl FnOnce(&mut XEvent)) -> XEvent {
    let mut e = XEvent {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    fill(&mut e);
    e
}
impl Agent {
    pub fn new(
        config: AgentConfig,
        hooks: Hooks,
        containerizer: Containerizer,
        endpoint: String,
        info: v1::AgentInfo,
        token_key: crate::domain::auth::TokenKey,
    ) -> Self {
        Agent {
            token_key,
            config,
            hooks,
            containerizer,
            endpoint,
            info,
            state: Mutex::new(AgentBook::new()),
            launched: Condvar::new(),
            resizing: Mutex::new(()),
            started: std::time::Instant::now(),
            queue_stats: Default::default(),
        }
    }

    /// Whether containers run as their task's user: asked for, and the
    /// agent is root (otherwise they run as the agent's user).
    pub fn switches_user(&self) -> bool {
        self.config.switch_user && nix::unistd::geteuid().is_root()
    }

    pub fn lock(&self) -> MutexGuard<'_, AgentBook> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send_to_master(state: &AgentBook, call: ap::AgentCall) {
        if let Some(tx) = &state.to_master {
            let _ = tx.send(call);
        }
    }

    /// An agent-generated update (acknowledged like an executor's): the
    /// agent's id and a fresh uuid are added to `status`.
    fn agent_update(&self, state: &mut AgentBook, framework_id: &str, status: StatusBuilder) {
        let mut status = status.with_uuid().build();
        let agent_id = ran_on(state, framework_id, &status)
            .or_else(|| state.agent_id.clone())
            .unwrap_or_default();
        status.agent_id = Some(v1::AgentId { value: agent_id });
        self.forward_update(state, framework_id, status);
    }

    /// Resources of the running containers.
    pub fn used_resources(&self) -> Vec<crate::domain::Resource> {
        let state = self.lock();
        state
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .flat_map(|run| {
                container_resources(
                    &run.info,
                    run.tasks
                        .values()
                        .filter(|t| !is_terminal(t.state))
                        .map(|t| &t.info),
                )
            })
            .collect()
    }

    /// Every executor, running and completed.
    pub fn executors(&self) -> Vec<ExecutorSummary> {
        let state = self.lock();
        let running = state.frameworks.iter().flat_map(|(fid, f)| {
            f.executors
                .iter()
                .map(move |(eid, run)| summary(fid, f, eid, run, false))
        });
        running.chain(state.completed.iter().cloned()).collect()
    }
}

fn summary(
    framework_id: &str,
    framework: &FrameworkRun,
    executor_id: &str,
    run: &ExecutorRun,
    completed: bool,
) -> ExecutorSummary {
    ExecutorSummary {
        framework_id: framework_id.to_owned(),
        executor_id: executor_id.to_owned(),
        name: run.info.name.clone().unwrap_or_default(),
        source: run.info.source.clone().unwrap_or_default(),
        container_id: run.container_id.clone(),
        sandbox: run.sandbox.clone(),
        tasks: run.tasks.values().cloned().collect(),
        queued: run.queued.clone(),
        finished: run.finished.clone(),
        info: run.info.clone(),
        agent_id: run.agent_id.clone(),
        completed,
        framework_info: framework.info.clone(),
    }
}

/// The executor of `framework_id` that runs `task_id`.
fn executor_of_task(state: &AgentBook, framework_id: &str, task_id: &str) -> Option<String> {
    state
        .frameworks
        .get(framework_id)?
        .executors
        .iter()
        .find(|(_, run)| {
            run.tasks.contains_key(task_id) || run.queued.iter().any(|t| t.task_id.value == task_id)
        })
        .map(|(id, _)| id.clone())
}

/// The container `task_id` of `framework_id` runs in, as a status carries
/// it: its id and its first process (running executors first, then those
/// that ended).
fn container_status_of(
    state: &AgentBook,
    framework_id: &str,
    task_id: &str,
) -> Option<v1::ContainerStatus> {
    let running = state.frameworks.get(framework_id).and_then(|f| {
        f.executors.values().find(|run| {
            run.tasks.contains_key(task_id) || run.queued.iter().any(|t| t.task_id.value == task_id)
        })
    });
    let (container_id, pid) = match running {
        Some(run) => (run.container_id.clone(), run.pid()),
        None => state
            .completed
            .iter()
            .find(|e| {
                e.framework_id == framework_id
                    && e.tasks.iter().any(|t| t.info.task_id.value == task_id)
            })
            .map(|e| (e.container_id.clone(), None))?,
    };
    Some(v1::ContainerStatus {
        container_id: Some(v1::ContainerId {
            value: container_id,
            parent: None,
        }),
        executor_pid: pid,
    })
}

/// What a container holds: its executor's resources and its tasks'.
fn container_resources<'a>(
    executor: &v1::ExecutorInfo,
    tasks: impl IntoIterator<Item = &'a v1::TaskInfo>,
) -> Vec<crate::domain::Resource> {
    let mut all = resources_from_proto(&executor.resources);
    for task in tasks {
        all.extend(resources_from_proto(&task.resources));
    }
    all
}

/// Moves an executor to the completed list, dropping its framework when it
/// was the last.
fn remove_executor(state: &mut AgentBook, framework_id: &str, executor_id: &str) {
    let Some(framework) = state.frameworks.get_mut(framework_id) else {
        return;
    };
    if let Some(run) = framework.executors.remove(executor_id) {
        let done = summary(framework_id, framework, executor_id, &run, true);
        state.completed.push(done);
    }
    if framework.executors.is_empty() {
        state.frameworks.remove(framework_id);
    }
}
