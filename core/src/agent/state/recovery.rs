//! Checkpoints of executors of checkpointing frameworks, and recovery from
//! them after an agent restart.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use super::{
    executor_of_task, Agent, AgentBook, ContainerPhase, ExecutorRun, FrameworkRun, TaskRecord,
};
use crate::{
    agent::checkpoint::{self, ExecutorCheckpoint},
    domain::ids::{validate_id, IdKind},
    domain::status::{is_terminal, StatusBuilder},
    extension::ContainerState,
    proto::v1::{
        self,
        task_status::{Reason, Source},
        TaskState,
    },
};

impl Agent {
    /// Runs `change`, then checkpoints the executor that held `task_id`
    /// before it (the change may forget the task).
    pub(super) fn checkpoint_task_after(
        &self,
        state: &mut AgentBook,
        framework_id: &str,
        task_id: &str,
        change: impl FnOnce(&Self, &mut AgentBook),
    ) {
        let executor = executor_of_task(state, framework_id, task_id);
        change(self, state);
        if let Some(executor_id) = executor {
            self.checkpoint(state, framework_id, &executor_id);
        }
    }

    pub(super) fn checkpoint_task(&self, state: &AgentBook, framework_id: &str, task_id: &str) {
        if let Some(executor_id) = executor_of_task(state, framework_id, task_id) {
            self.checkpoint(state, framework_id, &executor_id);
        }
    }

    /// Writes the checkpoint of an executor of a checkpointing framework.
    pub(super) fn checkpoint(&self, state: &AgentBook, framework_id: &str, executor_id: &str) {
        let Some(framework) = state.frameworks.get(framework_id) else {
            return;
        };
        if framework.info.checkpoint != Some(true) {
            return;
        }
        let Some((run, pid)) = framework
            .executors
            .get(executor_id)
            .and_then(|run| Some((run, run.pid()?)))
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
    /// and queues their unacknowledged updates again. The isolators' cleanup
    /// and recovery run with the book unlocked; this blocks, so call it off
    /// the runtime.
    pub fn recover(self: &Arc<Self>) {
        let work_dir = self.config.work_dir.clone();
        let mut state = self.lock();
        if let Some(id) = checkpoint::read_agent_id(&work_dir) {
            match validate_id(IdKind::Agent, &id) {
                Ok(()) => {
                    tracing::info!(agent_id = %id, "recovering as the same agent");
                    state.agent_id = Some(id);
                }
                Err(e) => {
                    tracing::error!(error = %e, "ignoring the checkpointed agent id; registering as a new agent")
                }
            }
        }
        let mut alive = Vec::new();
        // Containers of executors that died: cleaned up once unlocked.
        let mut dead = Vec::new();
        for record in checkpoint::read_executors(&work_dir) {
            let decoded = (|| -> Result<_, checkpoint::CheckpointError> {
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
                    .collect::<Result<Vec<_>, checkpoint::CheckpointError>>()?;
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
                    agent_id: state.agent_id.clone().unwrap_or_default(),
                    container_id: record.container_id.clone(),
                    sandbox: record.sandbox.clone(),
                    container: ContainerPhase::Started(Some(record.pid)),
                    grown: false,
                    connection: None,
                    queued,
                    tasks: tasks
                        .into_iter()
                        .map(|(info, state)| {
                            (info.task_id.value.clone(), TaskRecord::new(info, state))
                        })
                        .collect(),
                    finished: Vec::new(),
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
                dead.push(record.container_id.clone());
                checkpoint::remove_executor(&work_dir, &framework_id, &executor_id);
            }
        }
        let containers: Vec<ContainerState> = alive
            .iter()
            .map(
                |(framework_id, executor_id, container_id, pid)| ContainerState {
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
        for container_id in dead {
            self.containerizer.cleanup(&container_id);
        }
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
            let exited = tokio::task::spawn_blocking(move || {
                agent.executor_exited(&framework_id, &executor_id, &container_id, Err(unknown))
            });
            if let Err(e) = exited.await {
                tracing::error!(error = %e, "handling an executor's exit failed");
            }
        });
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
