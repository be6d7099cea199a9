//! Executors ending: their processes exiting, isolators' limitations,
//! kills, shutdowns, and the agent stopping.

use std::{
    sync::{Arc, PoisonError},
    time::Duration,
};

use nix::sys::signal::Signal;

use super::{agent_call_of, executor_event, remove_executor, Agent, ContainerPhase};
use crate::{
    agent::checkpoint,
    containerizer::{self, launcher},
    domain::deliver,
    domain::status::{is_terminal, StatusBuilder},
    domain::ExecutorView,
    extension::Limitation,
    proto::{
        agent::agent_call,
        v1::{
            self,
            executor::event as xevent,
            task_status::{Reason, Source},
            TaskState,
        },
    },
};

/// How long a stopping agent waits for container launches in flight.
const LAUNCHES_AWAITED: Duration = Duration::from_secs(30);

impl Agent {
    /// Waits for the executor process, and kills it if it never subscribes.
    pub(super) fn watch_executor(
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
                                agent.destroy_off_lock(container_id.clone(), pid);
                            }
                        }
                        timeout.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3600 * 24 * 365));
                    }
                }
            };
            // Destroy and cleanup are module calls: off the runtime.
            let exited = tokio::task::spawn_blocking(move || {
                agent.executor_exited(&framework_id, &executor_id, &container_id, status)
            });
            if let Err(e) = exited.await {
                tracing::error!(error = %e, "handling an executor's exit failed");
            }
        });
    }

    /// Destroys a container on a blocking thread, with the book unlocked
    /// (killing a container scans its freezer cgroup or `/proc`).
    pub(super) fn destroy_off_lock(self: &Arc<Self>, container_id: String, pid: u32) {
        let agent = Arc::clone(self);
        tokio::task::spawn_blocking(move || agent.containerizer.destroy(&container_id, pid));
    }

    /// Destroys the container after the shutdown grace period, unless its
    /// executor has ended by then.
    pub(super) fn destroy_after_grace(
        self: &Arc<Self>,
        framework_id: &str,
        executor_id: &str,
        container: String,
        pid: u32,
    ) {
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
                agent.destroy_off_lock(container, pid);
            }
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

    /// The executor's process ended: its container is destroyed and cleaned
    /// up (with the book unlocked), then its unfinished tasks fail or are
    /// killed, and the master hears of it. Runs on a blocking thread.
    pub(super) fn executor_exited(
        &self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        status: std::io::Result<std::process::ExitStatus>,
    ) {
        let booked = |state: &super::AgentBook| {
            state
                .frameworks
                .get(framework_id)
                .and_then(|f| f.executors.get(executor_id))
                .filter(|run| run.container_id == container_id)
                .map(|run| run.pid())
        };
        let Some(pid) = booked(&self.lock()) else {
            return;
        };
        let (how, raw) = match &status {
            Ok(s) => (launcher::describe_exit(*s), launcher::wait_status(*s)),
            Err(e) => (format!("could not be waited for: {e}"), -1),
        };
        tracing::info!(framework_id, executor_id, how, "executor exited");
        // Destroy the container: whatever the executor left behind dies too.
        if let Some(pid) = pid {
            self.containerizer.destroy(container_id, pid);
        }
        self.containerizer.cleanup(container_id);
        let mut state = self.lock();
        if booked(&state).is_none() {
            return;
        }
        let run = &state.frameworks[framework_id].executors[executor_id];
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
                    t.set_state(if killed {
                        TaskState::TaskKilled
                    } else {
                        TaskState::TaskFailed
                    });
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
        let description = ExecutorView {
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
    /// While the container launches, it is destroyed once started.
    pub fn on_limitation(self: &Arc<Self>, container_id: &str, limitation: Limitation) {
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
        let pid = run.pid();
        drop(state);
        if let Some(pid) = pid {
            self.destroy_off_lock(container_id.to_owned(), pid);
        }
    }

    /// A task not yet handed to its executor (queued, perhaps while its
    /// container launches) is killed here; when it was the executor's last,
    /// the container is destroyed (once started). Others are the executor's
    /// to kill, or the container's when the executor is not reachable.
    pub fn on_kill_task(
        self: &Arc<Self>,
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
                t.set_state(TaskState::TaskKilled);
            }
            let last = run.queued.is_empty() && run.tasks.values().all(|t| is_terminal(t.state));
            let (pid, container) = (run.pid(), run.container_id.clone());
            if last {
                run.shutting_down = true;
            }
            let status = StatusBuilder::new(task_id, TaskState::TaskKilled, Source::Agent)
                .executor(Some(&executor_id))
                .reason(Reason::TaskKilledDuringLaunch)
                .message("Killed before it was handed to its executor");
            self.agent_update(&mut state, framework_id, status);
            drop(state);
            if let (true, Some(pid)) = (last, pid) {
                self.destroy_off_lock(container, pid);
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
                let (pid, container) = (run.pid(), run.container_id.clone());
                drop(state);
                if let Some(pid) = pid {
                    self.destroy_off_lock(container, pid);
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
        // While the container launches there is no process yet: it is
        // destroyed once started (see `launch_container`).
        let (pid, container) = (run.pid(), run.container_id.clone());
        let told = match &run.connection {
            Some((_, tx)) => {
                deliver(tx, executor_event(xevent::Type::Shutdown, |_| {}));
                true
            }
            None => false,
        };
        drop(state);
        let Some(pid) = pid else { return };
        if !told {
            tokio::task::spawn_blocking(move || launcher::signal_session(pid, Signal::SIGTERM));
        }
        // Whatever is still running after the grace period is killed.
        self.destroy_after_grace(framework_id, executor_id, container, pid);
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

    /// Kills every executor and closes their streams (the agent is
    /// stopping). Containers still launching are waited for (at most
    /// [`LAUNCHES_AWAITED`]), so that they are destroyed too. Blocks: call
    /// it off the runtime.
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
        }
        let (state, waited) = self
            .launched
            .wait_timeout_while(state, LAUNCHES_AWAITED, |state| state.launching())
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() {
            tracing::warn!("container launches still running at shutdown are left to finish");
        }
        let mut containers = Vec::new();
        let mut executors = Vec::new();
        for (framework_id, framework) in &state.frameworks {
            for (executor_id, run) in &framework.executors {
                executors.push((framework_id.clone(), executor_id.clone()));
                if run.container != ContainerPhase::Launching {
                    containers.push((run.container_id.clone(), run.pid()));
                }
            }
        }
        drop(state);
        for (container_id, pid) in containers {
            if let Some(pid) = pid {
                self.containerizer.destroy(&container_id, pid);
            }
            self.containerizer.cleanup(&container_id);
        }
        // Stopped on purpose: nothing is left to recover.
        for (framework_id, executor_id) in executors {
            checkpoint::remove_executor(&self.config.work_dir, &framework_id, &executor_id);
        }
    }
}
