//! Scheduler calls other than SUBSCRIBE: dispatch, KILL and ACKNOWLEDGE.

use std::sync::Arc;

use super::super::allocator::AllocatorCommand;
use super::{master_event_of, CallError, Master, DEFAULT_REFUSE_SECONDS};
use crate::{
    domain::{
        ids::{validate_id, IdKind},
        status::{is_terminal, state_of, StatusBuilder},
    },
    proto::{
        agent::master_event,
        v1::{
            self,
            scheduler::{call, Call},
            task_status::{Reason, Source},
            TaskState,
        },
    },
};

impl Master {
    /// Every call but SUBSCRIBE.
    pub fn handle_call(&mut self, stream_id: &str, call: Call) -> Result<(), CallError> {
        let framework_id = call
            .framework_id
            .as_ref()
            .map(|f| f.value.clone())
            .ok_or_else(|| CallError::bad_request("Expecting 'framework_id' to be present"))?;
        validate_id(IdKind::Framework, &framework_id)?;
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
            Some(call::Type::Unknown) => Err(CallError::UnknownCall),
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

    pub(super) fn kill(&mut self, framework_id: &str, kill: call::Kill) {
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

    pub(super) fn acknowledge(
        &mut self,
        framework_id: &str,
        ack: call::Acknowledge,
    ) -> Result<(), CallError> {
        if uuid::Uuid::from_slice(&ack.uuid).is_err() {
            return Err(CallError::bad_request(format!(
                "'acknowledge.uuid' must be a 16-byte UUID, got {} bytes",
                ack.uuid.len()
            )));
        }
        let task_id = ack.task_id.value.clone();
        let to = match self.returned_agents.get(&ack.agent_id.value) {
            Some(now) if !self.agents.contains_key(&ack.agent_id.value) => now.clone(),
            _ => ack.agent_id.value.clone(),
        };
        self.send_to_agent(
            &to,
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
            framework.completed.push(Arc::new(task));
        }
        Ok(())
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
