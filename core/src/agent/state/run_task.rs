//! A task arrives from the master: it joins its executor, or a container is
//! launched for a new executor, off the agent's runtime and with its book
//! unlocked (the executor is `Launching` meanwhile).

use std::{
    collections::BTreeMap,
    sync::{Arc, PoisonError},
};

use super::{
    container_resources, executor_event, remove_executor, Agent, ContainerPhase, ExecutorRun,
    FrameworkRun, TaskRecord,
};
use crate::{
    agent::sandbox_dir,
    containerizer::{command_environment, LaunchRequest},
    domain::deliver,
    domain::status::StatusBuilder,
    domain::{
        ids::{validate_id, IdKind, PathError},
        ExecutorView, KeyValue,
    },
    extension::{ContainerConfig, LabelPoint, Volume},
    proto::v1::{
        self,
        executor::event as xevent,
        task_status::{Reason, Source},
        TaskState,
    },
};

impl Agent {
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
            name: Some(command_executor_name(task)),
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
            KeyValue::new(
                crate::wire::tls::AGENT_CA_VAR,
                &self
                    .config
                    .tls
                    .as_ref()
                    .and(self.config.tls_ca.as_ref())
                    .map(|ca| ca.display().to_string())
                    .unwrap_or_default(),
            ),
            KeyValue::new(
                crate::wire::EXECUTOR_TOKEN_VAR,
                &self
                    .token_key
                    .token(&framework_id, &executor.executor_id.value),
            ),
        ];
        if checkpoint {
            env.push(KeyValue::new("MESOS_RECOVERY_TIMEOUT", "15mins"));
            env.push(KeyValue::new("MESOS_SUBSCRIPTION_BACKOFF_MAX", "2secs"));
        }
        let own = executor
            .command
            .as_ref()
            .map(command_environment)
            .unwrap_or_default();
        // Hooks see the executor's own environment (and earlier hooks'
        // additions); the command's own variables still win over theirs.
        let mut description = ExecutorView {
            executor_id: executor.executor_id.value.clone(),
            framework_id,
            agent_id: agent_id.to_owned(),
            environment: own.clone(),
            executor_info: prost::Message::encode_to_vec(executor),
        };
        self.hooks.decorate_environment(&mut description);
        // The command's own variables once, after the hooks' (they win).
        env.extend(
            description
                .environment
                .into_iter()
                .filter(|kv| !own.iter().any(|o| o.key == kv.key)),
        );
        env.extend(own);
        env
    }

    /// A task from the master. The hooks (label and environment
    /// decorators) run on a blocking thread, and this returns once the task
    /// is in the book, so that the master's later events (a kill, say) find
    /// it. A new executor's container is launched on a blocking thread of
    /// its own ([`Self::launch_container`]), with the book unlocked.
    pub async fn on_run_task(
        self: &Arc<Self>,
        framework_info: v1::FrameworkInfo,
        task: v1::TaskInfo,
    ) {
        let agent = Arc::clone(self);
        let booked =
            tokio::task::spawn_blocking(move || agent.run_task(framework_info, task)).await;
        if let Err(e) = booked {
            tracing::error!(error = %e, "running a task failed");
        }
    }

    fn run_task(self: &Arc<Self>, framework_info: v1::FrameworkInfo, mut task: v1::TaskInfo) {
        let framework_id = framework_info
            .id
            .as_ref()
            .map(|f| f.value.clone())
            .unwrap_or_default();
        let agent_id = self.lock().agent_id.clone().unwrap_or_default();
        self.hooks
            .decorate_labels(LabelPoint::AgentRun, &framework_id, &agent_id, &mut task);
        let executor = self.executor_for(&framework_id, &task);
        let executor_id = executor.executor_id.value.clone();
        let task_id = task.task_id.value.clone();
        tracing::info!(framework_id, task_id, executor_id, "running task");

        let container_id = uuid::Uuid::new_v4().to_string();
        // Ids from the master become directory names: a bad one (the
        // master checks them too) is refused before anything is created.
        if let Err(e) = validate_id(IdKind::Framework, &framework_id) {
            // Nothing could acknowledge an update of this framework.
            tracing::error!(task_id, error = %e, "refusing a task of an invalid framework id");
            self.lock().counters.bump("invalid_run_tasks");
            return;
        }
        let sandbox = validate_id(IdKind::Task, &task_id)
            .map_err(PathError::from)
            .and_then(|()| {
                sandbox_dir(
                    &self.config.work_dir,
                    &agent_id,
                    &framework_id,
                    &executor_id,
                    &container_id,
                )
            });
        let sandbox = match sandbox {
            Ok(sandbox) => sandbox,
            Err(e) => {
                tracing::error!(framework_id, task_id, executor_id, error = %e, "refusing a task whose ids cannot name a sandbox");
                let mut state = self.lock();
                state.counters.bump("invalid_run_tasks");
                let status = StatusBuilder::new(&task_id, TaskState::TaskFailed, Source::Agent)
                    .executor(Some(&executor_id))
                    .reason(Reason::TaskInvalid)
                    .message(format!("Refused by the agent: {e}"));
                self.agent_update(&mut state, &framework_id, status);
                return;
            }
        };
        // A new executor's environment comes from the hooks, called with
        // the book unlocked; its executor may end meanwhile, hence the loop.
        let mut environment = None;
        let mut state = loop {
            let state = self.lock();
            let known = state
                .frameworks
                .get(&framework_id)
                .is_some_and(|f| f.executors.contains_key(&executor_id));
            if known || environment.is_some() {
                break state;
            }
            drop(state);
            environment =
                Some(self.executor_environment(&agent_id, &framework_info, &executor, &sandbox));
        };

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
                TaskRecord::new(task.clone(), TaskState::TaskStaging),
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
            // The container grows by the task's resources: now, or once it
            // has started.
            let started = run.container != ContainerPhase::Launching;
            run.grown |= !started;
            self.checkpoint(&state, &framework_id, &executor_id);
            drop(state);
            if started {
                self.resize_container(framework_id, executor_id);
            }
            return;
        }

        let request = LaunchRequest {
            command: executor.command.clone().unwrap_or_default(),
            sandbox: sandbox.clone(),
            environment: environment.unwrap_or_default(),
            run_as: self
                .switches_user()
                .then(|| task_user(&framework_info, &executor, &task))
                .flatten(),
        };
        let spec = container_spec(&container_id, &framework_info, &executor, &task, &sandbox);
        let mut run = ExecutorRun {
            info: executor,
            agent_id: agent_id.clone(),
            container_id,
            sandbox,
            container: ContainerPhase::Launching,
            grown: false,
            connection: None,
            queued: vec![task.clone()],
            tasks: BTreeMap::new(),
            finished: Vec::new(),
            subscribed: false,
            shutting_down: false,
            limitation: None,
        };
        run.tasks
            .insert(task_id, TaskRecord::new(task, TaskState::TaskStaging));
        framework.executors.insert(executor_id.clone(), run);
        drop(state);
        let agent = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            agent.launch_container(&framework_id, &executor_id, &spec, &request)
        });
    }

    /// Launches the container of an executor booked as launching, with the
    /// book unlocked, then books the outcome. What arrived meanwhile is
    /// carried out here: tasks that joined grow the container; a kill of
    /// its last task, a shutdown or a limitation destroys it (after the
    /// grace period, when the executor subscribed and was told to shut
    /// down); a failed launch fails every task still waiting for it.
    fn launch_container(
        self: &Arc<Self>,
        framework_id: &str,
        executor_id: &str,
        spec: &ContainerConfig,
        request: &LaunchRequest,
    ) {
        let container_id = spec.container_id.clone();
        let launched = self.containerizer.launch(spec, request);
        let mut state = self.lock();
        let run = state
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
            .filter(|run| run.container_id == container_id);
        match (launched, run) {
            (Ok(child), Some(run)) => {
                let pid = child.id();
                run.container = ContainerPhase::Started(pid);
                tracing::info!(framework_id, executor_id, container_id, pid = ?pid, "executor started");
                let stop = run.shutting_down;
                let graceful = run.connection.is_some() && run.limitation.is_none();
                let grown = std::mem::take(&mut run.grown);
                self.checkpoint(&state, framework_id, executor_id);
                drop(state);
                self.launched.notify_all();
                self.watch_executor(
                    framework_id.to_owned(),
                    executor_id.to_owned(),
                    container_id.clone(),
                    child,
                );
                if grown {
                    self.resize_container(framework_id.to_owned(), executor_id.to_owned());
                }
                match (stop, pid) {
                    (true, Some(pid)) if graceful => {
                        self.destroy_after_grace(framework_id, executor_id, container_id, pid)
                    }
                    (true, Some(pid)) => {
                        tracing::info!(
                            framework_id,
                            executor_id,
                            container_id,
                            "executor stopped while its container launched; destroying it"
                        );
                        self.containerizer.destroy(&container_id, pid);
                    }
                    _ => {}
                }
            }
            (Ok(child), None) => {
                // Nothing removes a launching executor; should something
                // have, its container must not be left behind.
                tracing::error!(
                    framework_id,
                    executor_id,
                    container_id,
                    "container launched for an executor no longer booked; destroying it"
                );
                drop(state);
                self.launched.notify_all();
                if let Some(pid) = child.id() {
                    self.containerizer.destroy(&container_id, pid);
                }
                self.containerizer.cleanup(&container_id);
            }
            (Err(error), run) => {
                tracing::error!(framework_id, executor_id, message = %error, "executor launch failed");
                let waiting: Vec<String> = run
                    .map(|run| run.queued.iter().map(|t| t.task_id.value.clone()).collect())
                    .unwrap_or_default();
                state.counters.bump("container_launch_errors");
                for task_id in waiting {
                    let status = StatusBuilder::new(&task_id, TaskState::TaskFailed, Source::Agent)
                        .executor(Some(executor_id))
                        .reason(Reason::ContainerLaunchFailed)
                        .message(format!("Failed to launch container: {error}"));
                    self.agent_update(&mut state, framework_id, status);
                }
                remove_executor(&mut state, framework_id, executor_id);
                drop(state);
                self.launched.notify_all();
            }
        }
    }

    /// Tells the isolators the size of an executor's started container, on
    /// a blocking thread. Updates apply one at a time, each with the size
    /// booked when it runs, so the last one applied is the latest.
    fn resize_container(self: &Arc<Self>, framework_id: String, executor_id: String) {
        let agent = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _turn = agent
                .resizing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let size = {
                let state = agent.lock();
                state
                    .frameworks
                    .get(&framework_id)
                    .and_then(|f| f.executors.get(&executor_id))
                    .filter(|run| run.container != ContainerPhase::Launching)
                    .map(|run| {
                        let resources =
                            container_resources(&run.info, run.tasks.values().map(|t| &t.info));
                        (run.container_id.clone(), resources)
                    })
            };
            if let Some((container_id, resources)) = size {
                agent.containerizer.update(&container_id, &resources);
            }
        });
    }
}

/// What isolators are told about a new container.
fn container_spec(
    container_id: &str,
    framework: &v1::FrameworkInfo,
    executor: &v1::ExecutorInfo,
    task: &v1::TaskInfo,
    sandbox: &std::path::Path,
) -> ContainerConfig {
    let volumes = executor
        .container
        .iter()
        .flat_map(|c| &c.volumes)
        .map(|v| Volume {
            container_path: v.container_path.clone(),
            host_path: v.host_path.clone().unwrap_or_default(),
            read_only: v.mode == v1::volume::Mode::Ro as i32,
        })
        .collect();
    ContainerConfig {
        container_id: container_id.to_owned(),
        framework_id: framework
            .id
            .as_ref()
            .map(|f| f.value.clone())
            .unwrap_or_default(),
        executor_id: executor.executor_id.value.clone(),
        sandbox: sandbox.display().to_string(),
        user: task_user(framework, executor, task),
        resources: container_resources(executor, [task]),
        volumes,
        executor_info: prost::Message::encode_to_vec(executor),
    }
}

/// Who a task runs as: its command's user, else its executor's command's,
/// else its framework's (Mesos' rule).
fn task_user(
    framework: &v1::FrameworkInfo,
    executor: &v1::ExecutorInfo,
    task: &v1::TaskInfo,
) -> Option<String> {
    Some(crate::domain::convert::task_user(
        task,
        Some(executor),
        &framework.user,
    ))
    .filter(|u| !u.is_empty())
}

/// A command executor's name as Mesos writes it, which tools show:
/// `Command Executor (Task: ID) (Command: sh -c 'echo hi')`, a shell
/// command longer than 15 characters cut to 12 and `...`, and
/// `(Command: [program, arg, ...])` for a command run without a shell.
fn command_executor_name(task: &v1::TaskInfo) -> String {
    let command = task.command.as_ref();
    let value = command.and_then(|c| c.value.clone()).unwrap_or_default();
    let described = if command.and_then(|c| c.shell).unwrap_or(true) {
        if value.chars().count() > 15 {
            let head: String = value.chars().take(12).collect();
            format!("sh -c '{head}...'")
        } else {
            format!("sh -c '{value}'")
        }
    } else {
        let arguments = command.map(|c| c.arguments.join(", ")).unwrap_or_default();
        format!("[{value}, {arguments}]")
    };
    format!(
        "Command Executor (Task: {}) (Command: {described})",
        task.task_id.value
    )
}

#[cfg(test)]
mod executor_name_tests {
    use super::*;

    fn task(command: &str, shell: bool, arguments: &[&str]) -> v1::TaskInfo {
        v1::TaskInfo {
            task_id: v1::TaskId { value: "t1".into() },
            command: Some(v1::CommandInfo {
                value: Some(command.into()),
                shell: Some(shell),
                arguments: arguments.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn command_executors_are_named_as_mesos_names_them() {
        assert_eq!(
            command_executor_name(&task("echo hi", true, &[])),
            "Command Executor (Task: t1) (Command: sh -c 'echo hi')"
        );
        assert_eq!(
            command_executor_name(&task("sleep 1000 && echo done", true, &[])),
            "Command Executor (Task: t1) (Command: sh -c 'sleep 1000 &...')"
        );
        assert_eq!(
            command_executor_name(&task("/bin/ls", false, &["ls", "-l"])),
            "Command Executor (Task: t1) (Command: [/bin/ls, ls, -l])"
        );
    }
}
