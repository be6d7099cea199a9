//! The agent's state and its reactions: to master events, to executors'
//! calls, and to executor processes exiting.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use nix::sys::signal::Signal;
use tokio::sync::mpsc;

use super::{
    checkpoint::{self, ExecutorCheckpoint},
    status_updates::StatusUpdates,
    AgentConfig,
};
use crate::{
    containerizer::{self, command_environment, launcher, Containerizer, LaunchRequest},
    domain::convert::resources_from_proto,
    domain::deliver,
    domain::status::{is_terminal, state_of, StatusBuilder},
    domain::{ExecutorDescription, KeyValue},
    extension::{
        ContainerLimitation, ContainerSpec, ContainerSummary, Hooks, LabelPoint, VolumeSpec,
    },
    proto::{
        agent::{self as ap, agent_call},
        v1::{
            self,
            executor::{event as xevent, Event as XEvent},
            task_status::{Reason, Source},
            TaskState,
        },
    },
};

/// A refused executor call: HTTP status and message.
pub type Refusal = (u16, String);

#[derive(Debug)]
struct TaskRecord {
    info: v1::TaskInfo,
    state: TaskState,
}

#[derive(Debug)]
struct ExecutorRun {
    info: v1::ExecutorInfo,
    container_id: String,
    sandbox: PathBuf,
    pid: Option<u32>,
    /// The executor's event stream, once it subscribed.
    connection: Option<(u64, mpsc::UnboundedSender<Box<XEvent>>)>,
    /// Tasks waiting for the executor to subscribe.
    queued: Vec<v1::TaskInfo>,
    tasks: BTreeMap<String, TaskRecord>,
    /// Whether the executor ever subscribed.
    subscribed: bool,
    /// Set once the executor is being shut down or killed.
    shutting_down: bool,
    /// The limit an isolator reported; the container is destroyed for it.
    limitation: Option<ContainerLimitation>,
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
    pub framework_name: String,
    pub executor_id: String,
    pub name: String,
    /// The executor's `source` (the task id for command executors).
    pub source: String,
    pub container_id: String,
    pub sandbox: PathBuf,
    pub tasks: Vec<(String, TaskState)>,
    pub completed: bool,
    /// The framework and the tasks themselves, reported to a master the
    /// agent re-registers with (so it learns how finished tasks ended).
    pub framework_info: v1::FrameworkInfo,
    pub task_infos: Vec<v1::TaskInfo>,
}

/// How many acknowledged finished tasks the agent remembers.
const FINISHED_TASKS_KEPT: usize = 1000;

/// How many finished executors (and their sandboxes) `/state` lists.
const COMPLETED_EXECUTORS_KEPT: usize = 200;

#[derive(Debug, Default)]
pub struct AgentState {
    pub agent_id: Option<String>,
    frameworks: BTreeMap<String, FrameworkRun>,
    completed: std::collections::VecDeque<ExecutorSummary>,
    updates: StatusUpdates,
    /// Calls to the master, while connected.
    pub to_master: Option<mpsc::UnboundedSender<ap::AgentCall>>,
    next_connection: u64,
    /// What `/metrics/snapshot` cannot recompute from the state.
    pub counters: crate::domain::metrics::Counters,
    /// Finished tasks whose updates were all acknowledged, newest last
    /// (reported to a master the agent re-registers with).
    finished_tasks: std::collections::VecDeque<ap::RunningTask>,
}

/// The agent: its settings, modules and state.
pub struct Agent {
    pub config: AgentConfig,
    hooks: Hooks,
    pub containerizer: Containerizer,
    /// `host:port` of the agent's own HTTP endpoints.
    pub endpoint: String,
    pub info: v1::AgentInfo,
    state: Mutex<AgentState>,
    /// When the agent started.
    pub started: std::time::Instant,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
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
    ) -> Self {
        Agent {
            config,
            hooks,
            containerizer,
            endpoint,
            info,
            state: Mutex::new(AgentState::default()),
            started: std::time::Instant::now(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, AgentState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send_to_master(state: &AgentState, call: ap::AgentCall) {
        if let Some(tx) = &state.to_master {
            let _ = tx.send(call);
        }
    }

    /// Queues an update in the task's stream and sends it if it is the head.
    fn forward_update(&self, state: &mut AgentState, framework_id: &str, status: v1::TaskStatus) {
        tracing::info!(
            framework_id,
            task_id = %status.task_id.value,
            agent_id = state.agent_id.as_deref().unwrap_or_default(),
            state = state_of(&status).as_str_name(),
            "task state changed"
        );
        state.counters.task_state(state_of(&status));
        state.counters.bump(match status.source() {
            Source::Executor => "valid_status_updates",
            _ => "agent_status_updates",
        });
        let task_id = status.task_id.value.clone();
        if let Some(head) = state.updates.add(framework_id, status) {
            self.send_update(state, framework_id, head);
        }
        self.checkpoint_task(state, framework_id, &task_id);
    }

    fn send_update(&self, state: &mut AgentState, framework_id: &str, status: v1::TaskStatus) {
        let Some(agent_id) = state.agent_id.clone() else {
            return;
        };
        if state.to_master.is_none() {
            return;
        }
        state.updates.mark_sent(
            framework_id,
            &status.task_id.value,
            self.config.status_update_retry,
        );
        Self::send_to_master(
            state,
            agent_call_of(agent_call::Type::Update, &agent_id, |c| {
                c.update = Some(agent_call::Update {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_owned(),
                    },
                    status,
                })
            }),
        );
    }

    /// Resends stream heads that were not acknowledged in time.
    pub fn resend_due(&self) {
        let mut state = self.lock();
        if state.to_master.is_none() || state.agent_id.is_none() {
            return;
        }
        let retry = self.config.status_update_retry;
        let due = state.updates.due(retry, retry * 60);
        for (framework_id, status) in due {
            let agent_id = state.agent_id.clone().unwrap_or_default();
            Self::send_to_master(
                &state,
                agent_call_of(agent_call::Type::Update, &agent_id, |c| {
                    c.update = Some(agent_call::Update {
                        framework_id: v1::FrameworkId {
                            value: framework_id,
                        },
                        status,
                    })
                }),
            );
        }
    }

    /// An agent-generated update (acknowledged like an executor's): the
    /// agent's id and a fresh uuid are added to `status`.
    fn agent_update(&self, state: &mut AgentState, framework_id: &str, status: StatusBuilder) {
        let agent_id = state.agent_id.clone().unwrap_or_default();
        self.forward_update(
            state,
            framework_id,
            status.agent(&agent_id).with_uuid().build(),
        );
    }

    // ----- master events ------------------------------------------------------

    pub fn on_registered(&self, agent_id: String) {
        let mut state = self.lock();
        tracing::info!(agent_id, "registered with the master");
        if let Err(e) = checkpoint::write_agent_id(&self.config.work_dir, &agent_id) {
            tracing::error!(error = %e, "cannot checkpoint the agent id");
        }
        state.agent_id = Some(agent_id);
        // Whatever was in flight goes out again on this connection.
        state.updates.reset_sent();
        drop(state);
        self.resend_due();
    }

    pub fn on_ping(&self) {
        let state = self.lock();
        if let Some(agent_id) = state.agent_id.clone() {
            Self::send_to_master(
                &state,
                agent_call_of(agent_call::Type::Pong, &agent_id, |_| {}),
            );
        }
    }

    /// The executor a task runs under: its own, or a command executor
    /// (Corral's `corral executor`) named after the task.
    fn executor_for(&self, framework_id: &str, task: &v1::TaskInfo) -> v1::ExecutorInfo {
        if let Some(executor) = &task.executor {
            let mut e = executor.clone();
            e.framework_id = Some(v1::FrameworkId {
                value: framework_id.to_owned(),
            });
            return e;
        }
        let program = self.config.executor_program.display().to_string();
        v1::ExecutorInfo {
            r#type: Some(v1::executor_info::Type::Default as i32),
            executor_id: v1::ExecutorId {
                value: task.task_id.value.clone(),
            },
            framework_id: Some(v1::FrameworkId {
                value: framework_id.to_owned(),
            }),
            command: Some(v1::CommandInfo {
                shell: Some(false),
                value: Some(program.clone()),
                arguments: vec![program, "executor".to_owned()],
                ..Default::default()
            }),
            name: Some(format!("Command Executor (Task: {})", task.task_id.value)),
            source: Some(task.task_id.value.clone()),
            // As in Mesos, the command executor runs in the task's container.
            container: task.container.clone(),
            ..Default::default()
        }
    }

    /// The environment of an executor: Mesos' `MESOS_*` variables, then the
    /// hooks' additions, then the executor command's own variables.
    fn executor_environment(
        &self,
        agent_id: &str,
        framework: &v1::FrameworkInfo,
        executor: &v1::ExecutorInfo,
        sandbox: &std::path::Path,
    ) -> Vec<KeyValue> {
        let framework_id = framework
            .id
            .as_ref()
            .map(|f| f.value.clone())
            .unwrap_or_default();
        let checkpoint = framework.checkpoint.unwrap_or(false);
        let is_command = executor.r#type == Some(v1::executor_info::Type::Default as i32);
        let mut env = vec![
            KeyValue::new("MESOS_FRAMEWORK_ID", &framework_id),
            KeyValue::new("MESOS_EXECUTOR_ID", &executor.executor_id.value),
            KeyValue::new("MESOS_DIRECTORY", &sandbox.display().to_string()),
            KeyValue::new("MESOS_SANDBOX", &sandbox.display().to_string()),
            KeyValue::new("MESOS_AGENT_ENDPOINT", &self.endpoint),
            KeyValue::new("MESOS_SLAVE_ID", agent_id),
            KeyValue::new("MESOS_SLAVE_PID", &format!("slave(1)@{}", self.endpoint)),
            KeyValue::new("MESOS_CHECKPOINT", if checkpoint { "1" } else { "0" }),
            KeyValue::new(
                "MESOS_HTTP_COMMAND_EXECUTOR",
                if is_command { "1" } else { "0" },
            ),
            KeyValue::new(
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                &format!("{}secs", self.config.executor_shutdown_grace.as_secs()),
            ),
        ];
        if checkpoint {
            env.push(KeyValue::new("MESOS_RECOVERY_TIMEOUT", "15mins"));
            env.push(KeyValue::new("MESOS_SUBSCRIPTION_BACKOFF_MAX", "2secs"));
        }
        let mut description = ExecutorDescription {
            executor_id: executor.executor_id.value.clone(),
            framework_id,
            agent_id: agent_id.to_owned(),
            environment: Vec::new(),
            executor_info: prost::Message::encode_to_vec(executor),
        };
        self.hooks.decorate_environment(&mut description);
        env.extend(description.environment);
        if let Some(command) = &executor.command {
            env.extend(command_environment(command));
        }
        env
    }

    pub fn on_run_task(
        self: &Arc<Self>,
        framework_info: v1::FrameworkInfo,
        mut task: v1::TaskInfo,
    ) {
        let framework_id = framework_info
            .id
            .as_ref()
            .map(|f| f.value.clone())
            .unwrap_or_default();
        let mut state = self.lock();
        let agent_id = state.agent_id.clone().unwrap_or_default();
        self.hooks
            .decorate_labels(LabelPoint::AgentRun, &framework_id, &agent_id, &mut task);
        let executor = self.executor_for(&framework_id, &task);
        let executor_id = executor.executor_id.value.clone();
        let task_id = task.task_id.value.clone();
        tracing::info!(framework_id, task_id, executor_id, "running task");

        let framework = state
            .frameworks
            .entry(framework_id.clone())
            .or_insert_with(|| FrameworkRun {
                info: framework_info.clone(),
                executors: BTreeMap::new(),
            });
        framework.info = framework_info.clone();
        if let Some(run) = framework.executors.get_mut(&executor_id) {
            run.tasks.insert(
                task_id,
                TaskRecord {
                    info: task.clone(),
                    state: TaskState::TaskStaging,
                },
            );
            match &run.connection {
                Some((_, tx)) => {
                    deliver(
                        tx,
                        executor_event(xevent::Type::Launch, |e| {
                            e.launch = Some(xevent::Launch { task })
                        }),
                    );
                }
                None => run.queued.push(task),
            }
            // The container grows by the task's resources.
            let resources = container_resources(&run.info, run.tasks.values().map(|t| &t.info));
            self.containerizer.update(&run.container_id, &resources);
            self.checkpoint(&state, &framework_id, &executor_id);
            return;
        }

        let container_id = uuid::Uuid::new_v4().to_string();
        let sandbox = self
            .config
            .work_dir
            .join("slaves")
            .join(&agent_id)
            .join("frameworks")
            .join(&framework_id)
            .join("executors")
            .join(&executor_id)
            .join("runs")
            .join(&container_id);
        let environment =
            self.executor_environment(&agent_id, &framework_info, &executor, &sandbox);
        let request = LaunchRequest {
            command: executor.command.clone().unwrap_or_default(),
            sandbox: sandbox.clone(),
            environment,
        };
        let spec = container_spec(&container_id, &framework_info, &executor, &task, &sandbox);
        let mut run = ExecutorRun {
            info: executor,
            container_id: container_id.clone(),
            sandbox,
            pid: None,
            connection: None,
            queued: vec![task.clone()],
            tasks: BTreeMap::new(),
            subscribed: false,
            shutting_down: false,
            limitation: None,
        };
        run.tasks.insert(
            task_id.clone(),
            TaskRecord {
                info: task,
                state: TaskState::TaskStaging,
            },
        );
        match self.containerizer.launch(&spec, &request) {
            Ok(child) => {
                run.pid = child.id();
                tracing::info!(framework_id, executor_id, container_id, pid = ?run.pid, "executor started");
                framework.executors.insert(executor_id.clone(), run);
                self.checkpoint(&state, &framework_id, &executor_id);
                drop(state);
                self.watch_executor(framework_id, executor_id, container_id, child);
            }
            Err(message) => {
                tracing::error!(framework_id, executor_id, %message, "executor launch failed");
                framework.executors.insert(executor_id.clone(), run);
                state.counters.bump("container_launch_errors");
                let status = StatusBuilder::new(&task_id, TaskState::TaskFailed, Source::Agent)
                    .executor(Some(&executor_id))
                    .reason(Reason::ContainerLaunchFailed)
                    .message(format!("Failed to launch container: {message}"));
                self.agent_update(&mut state, &framework_id, status);
                remove_executor(&mut state, &framework_id, &executor_id);
            }
        }
    }

    /// Waits for the executor process, and kills it if it never subscribes.
    fn watch_executor(
        self: &Arc<Self>,
        framework_id: String,
        executor_id: String,
        container_id: String,
        mut child: tokio::process::Child,
    ) {
        let agent = Arc::clone(self);
        let registration_timeout = self.config.executor_registration_timeout;
        let pid = child.id();
        tokio::spawn(async move {
            let timeout = tokio::time::sleep(registration_timeout);
            tokio::pin!(timeout);
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status,
                    _ = &mut timeout => {
                        if !agent.executor_subscribed(&framework_id, &executor_id) {
                            tracing::warn!(framework_id, executor_id, "executor did not subscribe in time; killing it");
                            if let Some(pid) = pid {
                                agent.containerizer.destroy(&container_id, pid);
                            }
                        }
                        timeout.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3600 * 24 * 365));
                    }
                }
            };
            agent.executor_exited(&framework_id, &executor_id, &container_id, status);
        });
    }

    fn executor_subscribed(&self, framework_id: &str, executor_id: &str) -> bool {
        let state = self.lock();
        state
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .is_some_and(|e| e.subscribed)
    }

    fn executor_exited(
        &self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        status: std::io::Result<std::process::ExitStatus>,
    ) {
        let mut state = self.lock();
        let Some(run) = state
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
        else {
            return;
        };
        if run.container_id != container_id {
            return;
        }
        let (how, raw) = match &status {
            Ok(s) => (launcher::describe_exit(*s), launcher::wait_status(*s)),
            Err(e) => (format!("could not be waited for: {e}"), -1),
        };
        tracing::info!(framework_id, executor_id, how, "executor exited");
        // Destroy the container: whatever the executor left behind dies too.
        if let Some(pid) = run.pid {
            self.containerizer.destroy(&run.container_id, pid);
        }
        self.containerizer.cleanup(container_id);
        let unfinished: Vec<String> = run
            .tasks
            .iter()
            .filter(|(_, t)| !is_terminal(t.state))
            .map(|(id, _)| id.clone())
            .collect();
        let killed = run.shutting_down && run.limitation.is_none();
        let launch_failure = status
            .as_ref()
            .ok()
            .filter(|s| s.code() == Some(containerizer::launch_helper::LAUNCH_FAILED_STATUS))
            .and_then(|_| containerizer::launch_failure(&run.sandbox));
        let (reason, message) = match (&run.limitation, launch_failure) {
            (Some(l), _) => (
                Reason::try_from(l.reason).unwrap_or(Reason::ContainerLimitation),
                l.message.clone(),
            ),
            (None, Some(why)) => (
                Reason::ContainerLaunchFailed,
                format!("Failed to launch container: {why}"),
            ),
            (None, None) => (Reason::ExecutorTerminated, format!("Executor {how}")),
        };
        let info = run.info.clone();
        if let Some(run) = state
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        {
            for task_id in &unfinished {
                if let Some(t) = run.tasks.get_mut(task_id) {
                    t.state = if killed {
                        TaskState::TaskKilled
                    } else {
                        TaskState::TaskFailed
                    };
                }
            }
        }
        for task_id in unfinished {
            let task_state = if killed {
                TaskState::TaskKilled
            } else {
                TaskState::TaskFailed
            };
            let status = StatusBuilder::new(&task_id, task_state, Source::Agent)
                .executor(Some(executor_id))
                .reason(reason)
                .message(message.clone());
            self.agent_update(&mut state, framework_id, status);
        }
        remove_executor(&mut state, framework_id, executor_id);
        checkpoint::remove_executor(&self.config.work_dir, framework_id, executor_id);
        if let Some(agent_id) = state.agent_id.clone() {
            Self::send_to_master(
                &state,
                agent_call_of(agent_call::Type::ExecutorExited, &agent_id, |c| {
                    c.executor_exited = Some(agent_call::ExecutorExited {
                        framework_id: v1::FrameworkId {
                            value: framework_id.to_owned(),
                        },
                        executor_id: v1::ExecutorId {
                            value: executor_id.to_owned(),
                        },
                        status: raw,
                    })
                }),
            );
        }
        let description = ExecutorDescription {
            executor_id: executor_id.to_owned(),
            framework_id: framework_id.to_owned(),
            agent_id: state.agent_id.clone().unwrap_or_default(),
            environment: Vec::new(),
            executor_info: prost::Message::encode_to_vec(&info),
        };
        drop(state);
        self.hooks.executor_removed(&description);
    }

    /// An isolator reported that `container_id` hit a limit: the container
    /// is destroyed, and its unfinished tasks fail with the limitation's
    /// reason once the executor is gone.
    pub fn on_limitation(&self, container_id: &str, limitation: ContainerLimitation) {
        let mut state = self.lock();
        let Some((framework_id, executor_id, run)) =
            state.frameworks.iter_mut().find_map(|(fid, f)| {
                f.executors
                    .iter_mut()
                    .find(|(_, e)| e.container_id == container_id)
                    .map(|(eid, e)| (fid.clone(), eid.clone(), e))
            })
        else {
            tracing::debug!(container_id, "limitation for a container that is gone");
            return;
        };
        if run.limitation.is_some() {
            return;
        }
        tracing::warn!(framework_id, executor_id, container_id, message = %limitation.message, "container hit a limit; destroying it");
        run.limitation = Some(limitation);
        run.shutting_down = true;
        if let Some(pid) = run.pid {
            self.containerizer.destroy(&run.container_id, pid);
        }
    }

    pub fn on_kill_task(
        &self,
        framework_id: &str,
        task_id: &str,
        kill_policy: Option<v1::KillPolicy>,
    ) {
        let mut state = self.lock();
        let found = state.frameworks.get_mut(framework_id).and_then(|f| {
            f.executors
                .iter_mut()
                .find(|(_, e)| e.tasks.contains_key(task_id))
                .map(|(id, e)| (id.clone(), e))
        });
        let Some((executor_id, run)) = found else {
            tracing::warn!(framework_id, task_id, "asked to kill an unknown task");
            let agent_id = state.agent_id.clone().unwrap_or_default();
            let status = StatusBuilder::new(task_id, TaskState::TaskLost, Source::Agent)
                .agent(&agent_id)
                .reason(Reason::TaskUnknown)
                .message("Cannot kill a task this agent does not know")
                .with_uuid()
                .build();
            self.forward_update(&mut state, framework_id, status);
            return;
        };
        if let Some(pos) = run.queued.iter().position(|t| t.task_id.value == task_id) {
            // Not yet handed to the executor: it is killed here.
            run.queued.remove(pos);
            if let Some(t) = run.tasks.get_mut(task_id) {
                t.state = TaskState::TaskKilled;
            }
            let last = run.queued.is_empty() && run.tasks.values().all(|t| is_terminal(t.state));
            let (pid, container) = (run.pid, run.container_id.clone());
            if last {
                run.shutting_down = true;
            }
            let status = StatusBuilder::new(task_id, TaskState::TaskKilled, Source::Agent)
                .executor(Some(&executor_id))
                .reason(Reason::TaskKilledDuringLaunch)
                .message("Killed before it was handed to its executor");
            self.agent_update(&mut state, framework_id, status);
            if let (true, Some(pid)) = (last, pid) {
                self.containerizer.destroy(&container, pid);
            }
            return;
        }
        match &run.connection {
            Some((_, tx)) => {
                deliver(
                    tx,
                    executor_event(xevent::Type::Kill, |e| {
                        e.kill = Some(xevent::Kill {
                            task_id: v1::TaskId {
                                value: task_id.to_owned(),
                            },
                            kill_policy,
                        })
                    }),
                );
            }
            None => {
                // The executor is gone or not reachable: kill the container.
                run.shutting_down = true;
                if let Some(pid) = run.pid {
                    self.containerizer.destroy(&run.container_id, pid);
                }
            }
        }
    }

    pub fn on_shutdown_executor(self: &Arc<Self>, framework_id: &str, executor_id: &str) {
        let mut state = self.lock();
        let Some(run) = state
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        run.shutting_down = true;
        if let Some((_, tx)) = &run.connection {
            deliver(tx, executor_event(xevent::Type::Shutdown, |_| {}));
        } else if let Some(pid) = run.pid {
            launcher::signal_session(pid, Signal::SIGTERM);
        }
        // Whatever is still running after the grace period is killed.
        if let Some(pid) = run.pid {
            let container = run.container_id.clone();
            let (agent, framework_id, executor_id) = (
                Arc::clone(self),
                framework_id.to_owned(),
                executor_id.to_owned(),
            );
            let grace = self.config.executor_shutdown_grace;
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                let still_there = agent
                    .lock()
                    .frameworks
                    .get(&framework_id)
                    .and_then(|f| f.executors.get(&executor_id))
                    .is_some_and(|e| e.container_id == container);
                if still_there {
                    agent.containerizer.destroy(&container, pid);
                }
            });
        }
    }

    pub fn on_shutdown_framework(self: &Arc<Self>, framework_id: &str) {
        let executors: Vec<String> = self
            .lock()
            .frameworks
            .get(framework_id)
            .map(|f| f.executors.keys().cloned().collect())
            .unwrap_or_default();
        for executor in executors {
            self.on_shutdown_executor(framework_id, &executor);
        }
    }

    pub fn on_acknowledge(&self, framework_id: &str, task_id: &str, uuid: &[u8]) {
        let mut state = self.lock();
        self.checkpoint_task_after(&mut state, framework_id, task_id, |agent, state| {
            agent.acknowledge_locked(state, framework_id, task_id, uuid)
        });
    }

    fn acknowledge_locked(
        &self,
        state: &mut AgentState,
        framework_id: &str,
        task_id: &str,
        uuid: &[u8],
    ) {
        match state.updates.acknowledge(framework_id, task_id, uuid) {
            Ok(Some(next)) => self.send_update(state, framework_id, next),
            Ok(None) => {
                // Every update of the task is acknowledged: a finished task
                // leaves its executor (remembered, bounded, for masters).
                let mut finished = Vec::new();
                if let Some(framework) = state.frameworks.get_mut(framework_id) {
                    for run in framework.executors.values_mut() {
                        if run.tasks.get(task_id).is_some_and(|t| is_terminal(t.state)) {
                            if let Some(t) = run.tasks.remove(task_id) {
                                finished.push(ap::RunningTask {
                                    framework_info: framework.info.clone(),
                                    task: t.info,
                                    state: t.state as i32,
                                });
                            }
                        }
                    }
                }
                state.finished_tasks.extend(finished);
                while state.finished_tasks.len() > FINISHED_TASKS_KEPT {
                    state.finished_tasks.pop_front();
                }
            }
            Err(()) => tracing::debug!(framework_id, task_id, "ignoring a stale acknowledgement"),
        }
    }

    /// Runs `change`, then checkpoints the executor that held `task_id`
    /// before it (the change may forget the task).
    fn checkpoint_task_after(
        &self,
        state: &mut AgentState,
        framework_id: &str,
        task_id: &str,
        change: impl FnOnce(&Self, &mut AgentState),
    ) {
        let executor = executor_of_task(state, framework_id, task_id);
        change(self, state);
        if let Some(executor_id) = executor {
            self.checkpoint(state, framework_id, &executor_id);
        }
    }

    fn checkpoint_task(&self, state: &AgentState, framework_id: &str, task_id: &str) {
        if let Some(executor_id) = executor_of_task(state, framework_id, task_id) {
            self.checkpoint(state, framework_id, &executor_id);
        }
    }

    /// Writes the checkpoint of an executor of a checkpointing framework.
    fn checkpoint(&self, state: &AgentState, framework_id: &str, executor_id: &str) {
        let Some(framework) = state.frameworks.get(framework_id) else {
            return;
        };
        if framework.info.checkpoint != Some(true) {
            return;
        }
        let Some((run, pid)) = framework
            .executors
            .get(executor_id)
            .and_then(|run| Some((run, run.pid?)))
        else {
            return;
        };
        let record = ExecutorCheckpoint {
            framework_info: checkpoint::encode(&framework.info),
            executor_info: checkpoint::encode(&run.info),
            container_id: run.container_id.clone(),
            sandbox: run.sandbox.clone(),
            pid,
            tasks: run
                .tasks
                .values()
                .map(|t| (checkpoint::encode(&t.info), t.state as i32))
                .collect(),
            queued: run.queued.iter().map(checkpoint::encode).collect(),
            updates: run
                .tasks
                .keys()
                .flat_map(|id| state.updates.pending_of(framework_id, id))
                .map(|s| checkpoint::encode(&s))
                .collect(),
        };
        if let Err(e) =
            checkpoint::write_executor(&self.config.work_dir, framework_id, executor_id, &record)
        {
            tracing::error!(framework_id, executor_id, error = %e, "cannot checkpoint the executor");
        }
    }

    /// After a restart: takes back the checkpointed executors still running
    /// (they re-subscribe), fails the tasks of those that died meanwhile,
    /// and queues their unacknowledged updates again.
    pub fn recover(self: &Arc<Self>) {
        let work_dir = self.config.work_dir.clone();
        let mut state = self.lock();
        if let Some(id) = checkpoint::read_agent_id(&work_dir) {
            tracing::info!(agent_id = %id, "recovering as the same agent");
            state.agent_id = Some(id);
        }
        let mut alive = Vec::new();
        for record in checkpoint::read_executors(&work_dir) {
            let decoded = (|| -> Result<_, String> {
                let framework: v1::FrameworkInfo = checkpoint::decode(&record.framework_info)?;
                let executor: v1::ExecutorInfo = checkpoint::decode(&record.executor_info)?;
                let tasks = record
                    .tasks
                    .iter()
                    .map(|(info, s)| {
                        Ok((
                            checkpoint::decode::<v1::TaskInfo>(info)?,
                            TaskState::try_from(*s).unwrap_or(TaskState::TaskStaging),
                        ))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let queued = record
                    .queued
                    .iter()
                    .map(|q| checkpoint::decode::<v1::TaskInfo>(q))
                    .collect::<Result<Vec<_>, _>>()?;
                let updates = record
                    .updates
                    .iter()
                    .map(|u| checkpoint::decode::<v1::TaskStatus>(u))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((framework, executor, tasks, queued, updates))
            })();
            let (framework, executor, tasks, queued, updates) = match decoded {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(container_id = %record.container_id, error = %e, "corrupt executor checkpoint; skipped");
                    continue;
                }
            };
            let framework_id = framework
                .id
                .as_ref()
                .map(|f| f.value.clone())
                .unwrap_or_default();
            let executor_id = executor.executor_id.value.clone();
            for update in updates {
                state.updates.add(&framework_id, update);
            }
            if process_alive(record.pid) {
                tracing::info!(
                    framework_id,
                    executor_id,
                    pid = record.pid,
                    "recovered a running executor; waiting for it to re-subscribe"
                );
                let run = ExecutorRun {
                    info: executor,
                    container_id: record.container_id.clone(),
                    sandbox: record.sandbox.clone(),
                    pid: Some(record.pid),
                    connection: None,
                    queued,
                    tasks: tasks
                        .into_iter()
                        .map(|(info, state)| {
                            (info.task_id.value.clone(), TaskRecord { info, state })
                        })
                        .collect(),
                    subscribed: false,
                    shutting_down: false,
                    limitation: None,
                };
                state
                    .frameworks
                    .entry(framework_id.clone())
                    .or_insert_with(|| FrameworkRun {
                        info: framework.clone(),
                        executors: BTreeMap::new(),
                    })
                    .executors
                    .insert(executor_id.clone(), run);
                alive.push((framework_id, executor_id, record.container_id, record.pid));
            } else {
                tracing::warn!(
                    framework_id,
                    executor_id,
                    "a checkpointed executor died while the agent was down"
                );
                // Tasks the executor never got are lost below, not failed.
                let undelivered = |t: &v1::TaskInfo| queued.iter().any(|q| q.task_id == t.task_id);
                let failed = tasks
                    .iter()
                    .filter(|(t, s)| !is_terminal(*s) && !undelivered(t));
                for (task, task_state) in failed {
                    let status = StatusBuilder::new(
                        &task.task_id.value,
                        TaskState::TaskFailed,
                        Source::Agent,
                    )
                    .executor(Some(&executor_id))
                    .reason(Reason::ExecutorTerminated)
                    .message(format!(
                        "Executor terminated while the agent was down (task was {})",
                        task_state.as_str_name()
                    ));
                    self.agent_update(&mut state, &framework_id, status);
                }
                for task in &queued {
                    let status =
                        StatusBuilder::new(&task.task_id.value, TaskState::TaskLost, Source::Agent)
                            .executor(Some(&executor_id))
                            .reason(Reason::AgentRestarted)
                            .message("The agent restarted before the task reached its executor");
                    self.agent_update(&mut state, &framework_id, status);
                }
                self.containerizer.cleanup(&record.container_id);
                checkpoint::remove_executor(&work_dir, &framework_id, &executor_id);
            }
        }
        let containers: Vec<ContainerSummary> = alive
            .iter()
            .map(
                |(framework_id, executor_id, container_id, pid)| ContainerSummary {
                    container_id: container_id.clone(),
                    pid: *pid,
                    sandbox: state.frameworks[framework_id].executors[executor_id]
                        .sandbox
                        .display()
                        .to_string(),
                },
            )
            .collect();
        drop(state);
        self.containerizer.recover(&containers);
        for (framework_id, executor_id, container_id, pid) in alive {
            self.watch_recovered(framework_id, executor_id, container_id, pid);
        }
    }

    /// Waits for a recovered executor (not this agent's child) to end.
    fn watch_recovered(
        self: &Arc<Self>,
        framework_id: String,
        executor_id: String,
        container_id: String,
        pid: u32,
    ) {
        let agent = Arc::clone(self);
        tokio::spawn(async move {
            while process_alive(pid) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let unknown = std::io::Error::other(
                "its exit status is unknown (it was started before the agent restarted)",
            );
            agent.executor_exited(&framework_id, &executor_id, &container_id, Err(unknown));
        });
    }

    pub fn on_message(&self, framework_id: &str, executor_id: &str, data: Vec<u8>) {
        let state = self.lock();
        let connection = state
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .and_then(|e| e.connection.as_ref());
        if let Some((_, tx)) = connection {
            deliver(
                tx,
                executor_event(xevent::Type::Message, |e| {
                    e.message = Some(xevent::Message { data })
                }),
            );
        }
    }

    /// The master removed this agent: everything here is stopped, and the
    /// agent registers again as a new one.
    pub fn on_removed(self: &Arc<Self>, message: &str) {
        tracing::error!(
            message,
            "the master removed this agent; shutting down its executors"
        );
        let frameworks: Vec<String> = self.lock().frameworks.keys().cloned().collect();
        for framework in frameworks {
            self.on_shutdown_framework(&framework);
        }
        self.lock().agent_id = None;
    }

    /// Tasks to report when re-registering: every task of its executors,
    /// live or ended, and those of recently finished executors, so that a
    /// restarted master knows how they ended.
    pub fn running_tasks(&self) -> Vec<ap::RunningTask> {
        let state = self.lock();
        let live = state.frameworks.values().flat_map(|f| {
            f.executors.values().flat_map(move |e| {
                e.tasks.values().map(move |t| ap::RunningTask {
                    framework_info: f.info.clone(),
                    task: t.info.clone(),
                    state: t.state as i32,
                })
            })
        });
        let finished = state.completed.iter().flat_map(|e| {
            e.task_infos.iter().filter_map(move |info| {
                let (_, task_state) = e.tasks.iter().find(|(id, _)| *id == info.task_id.value)?;
                Some(ap::RunningTask {
                    framework_info: e.framework_info.clone(),
                    task: info.clone(),
                    state: *task_state as i32,
                })
            })
        });
        live.chain(finished)
            .chain(state.finished_tasks.iter().cloned())
            .collect()
    }

    // ----- executor API -------------------------------------------------------

    /// An executor subscribes: it gets SUBSCRIBED, then its queued tasks.
    pub fn executor_subscribe(
        &self,
        framework_id: &str,
        executor_id: &str,
    ) -> Result<(u64, mpsc::UnboundedReceiver<Box<XEvent>>), Refusal> {
        let mut state = self.lock();
        state.next_connection += 1;
        let connection_id = state.next_connection;
        let agent_id = state.agent_id.clone().unwrap_or_default();
        let framework = state.frameworks.get_mut(framework_id).ok_or_else(|| {
            (
                400,
                format!("Framework '{framework_id}' is not known to this agent"),
            )
        })?;
        let info = framework.info.clone();
        let run = framework
            .executors
            .get_mut(executor_id)
            .ok_or_else(|| (400, format!("Executor '{executor_id}' of framework '{framework_id}' is not known to this agent")))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut agent_info = self.info.clone();
        agent_info.id = Some(v1::AgentId { value: agent_id });
        deliver(
            &tx,
            executor_event(xevent::Type::Subscribed, |e| {
                e.subscribed = Some(xevent::Subscribed {
                    executor_info: run.info.clone(),
                    framework_info: info,
                    agent_info,
                    container_id: Some(v1::ContainerId {
                        value: run.container_id.clone(),
                        parent: None,
                    }),
                })
            }),
        );
        for task in run.queued.drain(..) {
            deliver(
                &tx,
                executor_event(xevent::Type::Launch, |e| {
                    e.launch = Some(xevent::Launch { task })
                }),
            );
        }
        if run.shutting_down {
            deliver(&tx, executor_event(xevent::Type::Shutdown, |_| {}));
        }
        run.connection = Some((connection_id, tx));
        run.subscribed = true;
        tracing::info!(framework_id, executor_id, "executor subscribed");
        self.checkpoint(&state, framework_id, executor_id);
        Ok((connection_id, rx))
    }

    pub fn executor_disconnected(&self, framework_id: &str, executor_id: &str, connection_id: u64) {
        let mut state = self.lock();
        if let Some(run) = state
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        {
            if run.connection.as_ref().map(|(id, _)| *id) == Some(connection_id) {
                run.connection = None;
            }
        }
    }

    /// An executor's UPDATE call.
    pub fn executor_update(
        &self,
        framework_id: &str,
        executor_id: &str,
        mut status: v1::TaskStatus,
    ) -> Result<(), Refusal> {
        let uuid = status.uuid.clone().unwrap_or_default();
        if uuid::Uuid::from_slice(&uuid).is_err() {
            return Err((400, "'status.uuid' must be a 16-byte UUID".into()));
        }
        if status.source != Some(Source::Executor as i32) {
            return Err((400, "'status.source' must be SOURCE_EXECUTOR".into()));
        }
        let task_state = state_of(&status);
        if task_state == TaskState::TaskStaging {
            return Err((400, "executors must not send TASK_STAGING".into()));
        }
        if status
            .executor_id
            .as_ref()
            .is_some_and(|e| e.value != executor_id)
        {
            return Err((
                400,
                "'status.executor_id' differs from the call's 'executor_id'".into(),
            ));
        }
        let mut state = self.lock();
        let agent_id = state.agent_id.clone().unwrap_or_default();
        let run = state
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
            .ok_or_else(|| (400, format!("Executor '{executor_id}' of framework '{framework_id}' is not known to this agent")))?;
        if run.connection.is_none() {
            return Err((403, "Executor is not subscribed".into()));
        }
        match run.tasks.get_mut(&status.task_id.value) {
            Some(task) => task.state = task_state,
            None => {
                return Err((
                    400,
                    format!(
                        "Task '{}' is not known to this executor",
                        status.task_id.value
                    ),
                ));
            }
        }
        status.agent_id = Some(v1::AgentId { value: agent_id });
        status.executor_id = Some(v1::ExecutorId {
            value: executor_id.to_owned(),
        });
        let ack = executor_event(xevent::Type::Acknowledged, |e| {
            e.acknowledged = Some(xevent::Acknowledged {
                task_id: status.task_id.clone(),
                uuid: uuid.clone(),
            })
        });
        if let Some((_, tx)) = &run.connection {
            deliver(tx, ack);
        }
        self.forward_update(&mut state, framework_id, status);
        Ok(())
    }

    pub fn executor_message(&self, framework_id: &str, executor_id: &str, data: Vec<u8>) {
        let state = self.lock();
        if let Some(agent_id) = state.agent_id.clone() {
            Self::send_to_master(
                &state,
                agent_call_of(agent_call::Type::Message, &agent_id, |c| {
                    c.message = Some(agent_call::Message {
                        framework_id: v1::FrameworkId {
                            value: framework_id.to_owned(),
                        },
                        executor_id: v1::ExecutorId {
                            value: executor_id.to_owned(),
                        },
                        data,
                    })
                }),
            );
        }
    }

    /// Kills every executor and closes their streams (the agent is stopping).
    pub fn kill_all(&self) {
        let mut state = self.lock();
        // Nothing of the teardown reaches the master.
        state.to_master = None;
        for run in state
            .frameworks
            .values_mut()
            .flat_map(|f| f.executors.values_mut())
        {
            run.shutting_down = true;
            run.connection = None;
            if let Some(pid) = run.pid {
                self.containerizer.destroy(&run.container_id, pid);
            }
            self.containerizer.cleanup(&run.container_id);
        }
        // Stopped on purpose: nothing is left to recover.
        for (framework_id, framework) in &state.frameworks {
            for executor_id in framework.executors.keys() {
                checkpoint::remove_executor(&self.config.work_dir, framework_id, executor_id);
            }
        }
    }

    /// Every executor, running and completed.
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
        framework_name: framework.info.name.clone(),
        executor_id: executor_id.to_owned(),
        name: run.info.name.clone().unwrap_or_default(),
        source: run.info.source.clone().unwrap_or_default(),
        container_id: run.container_id.clone(),
        sandbox: run.sandbox.clone(),
        tasks: run
            .tasks
            .iter()
            .map(|(id, t)| (id.clone(), t.state))
            .collect(),
        completed,
        framework_info: framework.info.clone(),
        task_infos: run.tasks.values().map(|t| t.info.clone()).collect(),
    }
}

/// Whether `pid` names a live process (not a zombie).
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// The executor of `framework_id` that runs `task_id`.
fn executor_of_task(state: &AgentState, framework_id: &str, task_id: &str) -> Option<String> {
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

/// What isolators are told about a new container.
fn container_spec(
    container_id: &str,
    framework: &v1::FrameworkInfo,
    executor: &v1::ExecutorInfo,
    task: &v1::TaskInfo,
    sandbox: &std::path::Path,
) -> ContainerSpec {
    let volumes = executor
        .container
        .iter()
        .flat_map(|c| &c.volumes)
        .map(|v| VolumeSpec {
            container_path: v.container_path.clone(),
            host_path: v.host_path.clone().unwrap_or_default(),
            read_only: v.mode == v1::volume::Mode::Ro as i32,
        })
        .collect();
    ContainerSpec {
        container_id: container_id.to_owned(),
        framework_id: framework
            .id
            .as_ref()
            .map(|f| f.value.clone())
            .unwrap_or_default(),
        executor_id: executor.executor_id.value.clone(),
        sandbox: sandbox.display().to_string(),
        user: Some(framework.user.clone()).filter(|u| !u.is_empty()),
        resources: container_resources(executor, [task]),
        volumes,
        executor_info: prost::Message::encode_to_vec(executor),
    }
}

/// Moves an executor to the completed list, dropping its framework when it
/// was the last.
fn remove_executor(state: &mut AgentState, framework_id: &str, executor_id: &str) {
    let Some(framework) = state.frameworks.get_mut(framework_id) else {
        return;
    };
    if let Some(run) = framework.executors.remove(executor_id) {
        let done = summary(framework_id, framework, executor_id, &run, true);
        state.completed.push_back(done);
        if state.completed.len() > COMPLETED_EXECUTORS_KEPT {
            state.completed.pop_front();
        }
    }
    if framework.executors.is_empty() {
        state.frameworks.remove(framework_id);
    }
}
