//! Frameworks: SUBSCRIBE, disconnection, failover and removal.

use super::TaskTable;
use super::{
    error_event, framework_spec, master_event_of, role_of, CallError, Connection, FrameworkState,
    Master, COMPLETED_TASKS_KEPT,
};
use crate::domain::{
    acls::{allowed, Action},
    Recent,
};
use std::{collections::BTreeSet, sync::Arc};

use tokio::time::Instant;

use super::super::{allocator::AllocatorCommand, registry::FrameworkRecord};
use crate::{
    domain::{
        deliver, events,
        ids::{validate_id, IdKind},
        status::{is_terminal, now_seconds, state_of, StatusBuilder},
    },
    proto::{
        agent::master_event,
        v1::{
            self,
            scheduler::{call, event, Event},
            task_status::{Reason, Source},
            TaskState,
        },
    },
};

impl Master {
    /// SUBSCRIBE: registers a new framework or re-subscribes a known one.
    /// Returns the framework id, the new stream id and the event receiver.
    pub fn subscribe(
        &mut self,
        call_framework_id: Option<&str>,
        subscribe: call::Subscribe,
        principal: Option<&str>,
    ) -> Result<(String, String, events::EventReceiver<Event>), CallError> {
        self.counters.bump("messages_register_framework");
        let mut info = subscribe.framework_info;
        let info_id = info.id.as_ref().map(|id| id.value.clone());
        if info_id.as_deref() != call_framework_id {
            return Err(CallError::bad_request(
                "'framework_id' differs from 'subscribe.framework_info.id'",
            ));
        }
        if let Some(id) = &info_id {
            validate_id(IdKind::Framework, id)?;
        }
        if info.user.is_empty() {
            return Err(CallError::MissingField("subscribe.framework_info.user"));
        }
        if let Some(t) = info.failover_timeout {
            if !t.is_finite() || t < 0.0 {
                return Err(CallError::bad_request(format!(
                    "'framework_info.failover_timeout' must be a non-negative number of seconds, got {t}"
                )));
            }
        }
        if let Some(p) = principal {
            match info.principal.as_deref() {
                Some(declared) if declared != p => {
                    return Err(CallError::Forbidden(format!(
                        "'framework_info.principal' is '{declared}' but the call authenticated as '{p}'"
                    )))
                }
                Some(_) => {}
                None => info.principal = Some(p.to_owned()),
            }
        }
        let mut roles = info.roles.clone();
        if roles.is_empty() {
            roles.push(info.role.clone().unwrap_or_else(|| "*".to_owned()));
        }
        let acls = self.settings.acls.as_deref();
        if let Some(role) = roles
            .iter()
            .find(|r| !allowed(acls, Action::RegisterFramework, principal, r))
        {
            tracing::warn!(principal, role, "refused a framework its ACLs do not allow");
            return Err(CallError::Forbidden(format!(
                "principal '{}' is not authorized to register frameworks with role '{role}'",
                principal.unwrap_or("(none)")
            )));
        }
        if let (Some(p), Some(id)) = (principal, &info_id) {
            // A framework id belongs to the principal that registered it.
            let bound = self
                .frameworks
                .get(id)
                .and_then(|f| f.info.principal.as_deref());
            if let Some(owner) = bound.filter(|owner| *owner != p) {
                tracing::warn!(framework_id = %id, principal = p, owner, "refused a SUBSCRIBE with another principal's framework id");
                return Err(CallError::Forbidden(format!(
                    "framework {id} was registered by another principal ('{owner}'); '{p}' may not subscribe as it"
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
        let (tx, rx) = events::channel(
            format!("framework {id}"),
            self.settings.framework_queue_bytes,
            &self.queue_stats,
        );
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
        let mut added = true;
        match self.frameworks.get_mut(&id) {
            Some(framework) => {
                if let Some(old) = framework.connection.replace(connection) {
                    deliver(&old.events, error_event("Framework failed over"));
                }
                framework.info = info;
                framework.disconnected_at = None;
                framework.reregistered_time = Some(now_seconds());
                self.allocator
                    .send(AllocatorCommand::SetFrameworkActive(id.clone(), true));
                tracing::info!(framework_id = %id, "framework re-subscribed");
                added = false;
            }
            None => {
                self.allocator
                    .send(AllocatorCommand::AddFramework(framework_spec(
                        &id, &info, true,
                    )));
                self.frameworks.insert(
                    id.clone(),
                    FrameworkState {
                        id: id.clone(),
                        info,
                        role,
                        connection: Some(connection),
                        connected_in_snapshot: false,
                        tasks: TaskTable::new(),
                        completed: Recent::new(COMPLETED_TASKS_KEPT),
                        offers: BTreeSet::new(),
                        disconnected_at: None,
                        registered_time: now_seconds(),
                        reregistered_time: None,
                    },
                );
                tracing::info!(framework_id = %id, "framework subscribed");
            }
        }
        self.persist_framework(&id);
        self.publish_framework(&id, added);
        self.allocation_wanted.notify_one();
        Ok((id, stream_id, rx))
    }

    /// Whether the operator `principal` may tear framework `framework_id`
    /// down (`teardown_frameworks`, on the framework's principal).
    pub fn check_teardown(
        &self,
        principal: Option<&str>,
        framework_id: &str,
    ) -> Result<(), CallError> {
        let owner = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.info.principal.as_deref())
            .unwrap_or("");
        if allowed(
            self.settings.acls.as_deref(),
            Action::TeardownFramework,
            principal,
            owner,
        ) {
            Ok(())
        } else {
            Err(CallError::Forbidden(format!(
                "principal '{}' is not authorized to tear down framework {framework_id}",
                principal.unwrap_or("(none)")
            )))
        }
    }

    /// Whether `principal` (when the call authenticated) may call as
    /// framework `framework_id`: it must be the one that registered it.
    pub fn check_caller(
        &self,
        framework_id: Option<&str>,
        principal: Option<&str>,
    ) -> Result<(), CallError> {
        let (Some(id), Some(p)) = (framework_id, principal) else {
            return Ok(());
        };
        match self
            .frameworks
            .get(id)
            .and_then(|f| f.info.principal.as_deref())
        {
            Some(owner) if owner != p => Err(CallError::Forbidden(format!(
                "framework {id} belongs to principal '{owner}', not '{p}'"
            ))),
            _ => Ok(()),
        }
    }

    /// The SUBSCRIBE stream `stream_id` of `framework_id` closed.
    pub fn framework_disconnected(&mut self, framework_id: &str, stream_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        if framework.connection.as_ref().map(|c| c.stream_id.as_str()) != Some(stream_id) {
            return;
        }
        let overflowed = framework
            .connection
            .take()
            .is_some_and(|c| c.events.overflowed());
        framework.disconnected_at = Some(Instant::now());
        let offers: Vec<String> = std::mem::take(&mut framework.offers).into_iter().collect();
        if overflowed {
            tracing::warn!(
                framework_id,
                max_bytes = self.settings.framework_queue_bytes,
                "framework disconnected: it did not read its event stream and its event queue overflowed"
            );
            self.counters.bump("frameworks_disconnected_slow");
        } else {
            tracing::info!(framework_id, "framework disconnected");
        }
        self.persist_framework(framework_id);
        self.publish_framework(framework_id, false);
        self.allocator.send(AllocatorCommand::SetFrameworkActive(
            framework_id.to_owned(),
            false,
        ));
        for offer in offers {
            self.drop_offer(&offer, None);
        }
    }

    /// Checks that a call comes from the framework's current stream.
    pub(super) fn check_stream(
        &self,
        framework_id: &str,
        stream_id: &str,
    ) -> Result<(), CallError> {
        let framework = self.frameworks.get(framework_id).ok_or_else(|| {
            CallError::bad_request(format!("Framework '{framework_id}' cannot be found"))
        })?;
        match &framework.connection {
            None => Err(CallError::NotSubscribed),
            Some(c) if c.stream_id != stream_id => Err(CallError::bad_request(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID '{framework_id}'"
            ))),
            Some(_) => Ok(()),
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
                task.set_status(
                    StatusBuilder::new(&task_id, TaskState::TaskKilled, Source::Master)
                        .reason(Reason::FrameworkRemoved)
                        .message(format!("Framework removed: {why}"))
                        .agent(&task.agent_id)
                        .executor(task.executor_id.as_deref())
                        .build(),
                );
                self.counters.task_state(TaskState::TaskKilled);
                self.publish_task_updated(framework_id, &task.status);
            }
            framework.completed.push(Arc::new(task));
        }
        self.publish_framework_removed(crate::master::operator_view::framework_info(&framework));
        self.completed_frameworks.push(framework);
    }

    /// Writes a framework's record (connected, or with its deadline).
    pub(super) fn persist_framework(&self, framework_id: &str) {
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
}
