//! The master's events besides tasks and shutdowns (registration, pings,
//! acknowledgements, messages, removal), what the agent reports when it
//! re-registers, and the status updates it forwards and resends.

use std::sync::Arc;

use super::{agent_call_of, executor_event, Agent, AgentBook};
use crate::{
    agent::checkpoint,
    domain::deliver,
    domain::ids::{validate_id, IdKind},
    domain::status::{is_terminal, state_of},
    proto::{
        agent::{self as ap, agent_call},
        v1::{self, executor::event as xevent, task_status::Source},
    },
};

impl Agent {
    /// Queues an update in the task's stream and sends it if it is the head.
    pub(super) fn forward_update(
        &self,
        state: &mut AgentBook,
        framework_id: &str,
        mut status: v1::TaskStatus,
    ) {
        if status.container_status.is_none() {
            status.container_status =
                super::container_status_of(state, framework_id, &status.task_id.value);
        }
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

    fn send_update(&self, state: &mut AgentBook, framework_id: &str, status: v1::TaskStatus) {
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

    // ----- master events ------------------------------------------------------

    pub fn on_registered(&self, agent_id: String) {
        // The id names this agent's sandboxes' directory: one that is not
        // a plain name is refused (the agent stays unregistered).
        if let Err(e) = validate_id(IdKind::Agent, &agent_id) {
            tracing::error!(error = %e, "refusing the agent id the master assigned");
            return;
        }
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

    pub fn on_acknowledge(&self, framework_id: &str, task_id: &str, uuid: &[u8]) {
        let mut state = self.lock();
        self.checkpoint_task_after(&mut state, framework_id, task_id, |agent, state| {
            agent.acknowledge_locked(state, framework_id, task_id, uuid)
        });
    }

    fn acknowledge_locked(
        &self,
        state: &mut AgentBook,
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
                                if run.finished.len() >= super::FINISHED_PER_EXECUTOR_KEPT {
                                    run.finished.remove(0);
                                }
                                finished.push(ap::RunningTask {
                                    framework_info: framework.info.clone(),
                                    task: t.info.clone(),
                                    state: t.state as i32,
                                });
                                run.finished.push(t);
                            }
                        }
                    }
                }
                for task in finished {
                    state.finished_tasks.push(task);
                }
            }
            Err(()) => tracing::debug!(framework_id, task_id, "ignoring a stale acknowledgement"),
        }
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
            e.tasks.iter().map(move |t| ap::RunningTask {
                framework_info: e.framework_info.clone(),
                task: t.info.clone(),
                state: t.state as i32,
            })
        });
        live.chain(finished)
            .chain(state.finished_tasks.iter().cloned())
            .collect()
    }
}
