//! The executor API: executors subscribe, send updates and messages.

use super::{agent_call_of, executor_event, Agent, Refusal};
use crate::{
    domain::status::state_of,
    domain::{deliver, events, EventReceiver},
    proto::{
        agent::agent_call,
        v1::{
            self,
            executor::{event as xevent, Event as XEvent},
            task_status::Source,
            TaskState,
        },
    },
};

impl Agent {
    /// An executor subscribes: it gets SUBSCRIBED, then its queued tasks.
    pub fn executor_subscribe(
        &self,
        framework_id: &str,
        executor_id: &str,
    ) -> Result<(u64, EventReceiver<XEvent>), Refusal> {
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
        let (tx, rx) = events::channel(
            format!("executor {executor_id} of framework {framework_id}"),
            events::EXECUTOR_QUEUE_BYTES,
            &self.queue_stats,
        );
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
        let current_agent_id = state.agent_id.clone().unwrap_or_default();
        let run = state
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
            .ok_or_else(|| (400, format!("Executor '{executor_id}' of framework '{framework_id}' is not known to this agent")))?;
        if run.connection.is_none() {
            return Err((403, "Executor is not subscribed".into()));
        }
        match run.tasks.get_mut(&status.task_id.value) {
            Some(task) => task.set_state(task_state),
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
        // The agent the task ran under, even if this agent has since been
        // removed and registered anew: acknowledgements are routed by it.
        let agent_id = Some(run.agent_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or(current_agent_id);
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
}
