//! Agents: registration and re-registration, their calls (status updates,
//! executor exits), disconnection, removal, and the tasks lost with them.

use super::{
    master_event_of, offers::Returning, AgentConnection, CallError, FrameworkState, KnownAgent,
    Master, TaskEntry,
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use tokio::time::Instant;

use super::super::{allocator::AllocatorCommand, registry::AgentRecord};
use crate::{
    domain::{
        convert::resources_from_proto,
        deliver, events,
        status::{is_terminal, now_seconds, state_of, StatusBuilder},
        Resource,
    },
    extension::{AgentEntry, Allocation},
    proto::{
        agent::{self as ap, master_event},
        v1::{
            self,
            scheduler::{event, Event},
            task_status::{Reason, Source},
            TaskState,
        },
    },
};

impl Master {
    /// An agent (re-)registers; returns its id, the connection id and the
    /// event receiver.
    pub fn agent_subscribe(
        &mut self,
        subscribe: ap::Subscribe,
        principal: Option<&str>,
    ) -> (String, u64, events::EventReceiver<ap::MasterEvent>) {
        let mut info = subscribe.agent_info;
        if let Some(id) = info
            .id
            .as_ref()
            .filter(|id| self.removed_agents.contains(&id.value))
        {
            // A removed agent may not come back under its old id: it is told
            // to shut its tasks down, then registers afresh (as in Mesos).
            tracing::warn!(agent_id = %id.value, "a removed agent tried to re-register; telling it to shut down");
            let (tx, rx) = events::channel(
                format!("agent {}", id.value),
                self.settings.agent_queue_bytes,
                &self.queue_stats,
            );
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
        let (tx, rx) = events::channel(
            format!("agent {id}"),
            self.settings.agent_queue_bytes,
            &self.queue_stats,
        );
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
        let mut added: Vec<(String, String)> = Vec::new();
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
                history: Vec::new(),
            };
            if is_terminal(state) {
                // How a task ended before the master restarted.
                framework.completed.push(Arc::new(entry));
                continue;
            }
            used.entry(framework_id.clone())
                .or_default()
                .extend(resources.iter().cloned());
            framework.tasks.insert(task_id.clone(), entry);
            added.push((framework_id, task_id));
        }

        let recovered = self.recovering.remove(&id);
        let known = self.agents.contains_key(&id) || recovered.is_some();
        // The id stays bound to the principal that first registered it,
        // across master restarts (the registry keeps it).
        let bound = self
            .agents
            .get(&id)
            .and_then(|a| a.principal.clone())
            .or_else(|| recovered.and_then(|r| r.principal))
            .or_else(|| principal.map(str::to_owned));
        self.counters.bump(if known {
            "slave_reregistrations"
        } else {
            "slave_registrations"
        });
        if let Some(registry) = &self.registry {
            let record = AgentRecord {
                info: info.clone(),
                endpoint: subscribe.endpoint.clone(),
                principal: bound.clone(),
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
                agent.reregistered_time = Some(now_seconds());
                agent.principal = bound;
                self.allocator
                    .send(AllocatorCommand::SetAgentActive(id.clone(), true));
                tracing::info!(agent_id = %id, "agent re-registered");
                self.lose_unreported_tasks(&id, &reported);
            }
            None => {
                self.allocator.send(AllocatorCommand::AddAgent(AgentEntry {
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
                    KnownAgent {
                        id: id.clone(),
                        info,
                        endpoint: subscribe.endpoint,
                        connection: Some(connection),
                        connected_in_snapshot: false,
                        last_seen: Instant::now(),
                        registered_time: now_seconds(),
                        reregistered_time: None,
                        principal: bound,
                    },
                );
            }
        }
        self.publish_agent_added(&id);
        for (framework_id, task_id) in added {
            self.publish_task_added(&framework_id, &task_id);
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
        if agent
            .connection
            .take()
            .is_some_and(|c| c.events.overflowed())
        {
            tracing::error!(
                agent_id,
                max_bytes = self.settings.agent_queue_bytes,
                "agent disconnected: it did not read its event stream and its event queue overflowed"
            );
            self.counters.bump("slaves_disconnected_slow");
        } else {
            tracing::warn!(agent_id, "agent disconnected");
        }
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
        self.rescind_offers_on(agent_id);
    }

    /// Whether `principal` (when the request authenticated) may act as
    /// agent `agent_id`: it must be the one that registered it.
    pub fn check_agent(&self, agent_id: &str, principal: Option<&str>) -> Result<(), CallError> {
        let Some(p) = principal else {
            return Ok(());
        };
        let owner = match self.agents.get(agent_id) {
            Some(a) => a.principal.as_deref(),
            None => self
                .recovering
                .get(agent_id)
                .and_then(|r| r.principal.as_deref()),
        };
        match owner {
            Some(owner) if owner != p => {
                tracing::warn!(
                    agent_id,
                    principal = p,
                    owner,
                    "refused an agent request under another principal's agent id"
                );
                Err(CallError::Forbidden(format!(
                    "agent {agent_id} was registered by another principal ('{owner}'); '{p}' may not act as it"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether `principal` may register agents (`register_agents`).
    pub fn check_agent_registration(&self, principal: Option<&str>) -> Result<(), CallError> {
        let acls = self.settings.acls.as_deref();
        let who = principal.unwrap_or("");
        if crate::domain::acls::allowed(
            acls,
            crate::domain::acls::Action::RegisterAgent,
            principal,
            who,
        ) {
            Ok(())
        } else {
            tracing::warn!(principal, "refused an agent its ACLs do not allow");
            Err(CallError::Forbidden(format!(
                "principal '{}' is not authorized to register agents",
                principal.unwrap_or("(none)")
            )))
        }
    }

    /// A call from an agent.
    pub fn agent_call(&mut self, call: ap::AgentCall) -> Result<(), CallError> {
        let agent_id = call.agent_id.value.clone();
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return Err(CallError::UnknownAgent(agent_id.to_owned()));
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

    pub(super) fn status_update(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        status: v1::TaskStatus,
    ) {
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
        // An update of a task that ran here under the agent's former id
        // (it was removed and came back): its acknowledgement names that
        // id, and must reach the agent that sent it.
        if let Some(ran_on) = status.agent_id.as_ref().map(|a| a.value.as_str()) {
            if ran_on != agent_id
                && !self.agents.contains_key(ran_on)
                && self.removed_agents.contains(ran_on)
            {
                self.returned_agents
                    .insert(ran_on.to_owned(), agent_id.to_owned());
            }
        }
        let mut recovered = None;
        let mut changed = false;
        self.counters.bump("messages_status_update");
        if let Some(task) = framework.tasks.get_mut(&status.task_id.value) {
            let state = state_of(&status);
            if state_of(&task.status) != state {
                changed = true;
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
            task.set_status(status.clone());
            if let Some(executor) = &status.executor_id {
                task.executor_id = Some(executor.value.clone());
            }
            if is_terminal(state_of(&status)) && !task.resources_recovered {
                task.resources_recovered = true;
                recovered = Some(task.resources.clone());
            }
        }
        if let Some(resources) = recovered {
            let why = Returning::task(&status.task_id.value);
            self.return_resources(framework_id, agent_id, resources, None, why);
        }
        if changed {
            self.publish_task_updated(framework_id, &status);
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
        self.returned_agents.retain(|_, now| now != agent_id);
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
        self.rescind_offers_on(agent_id);
        self.allocator
            .send(AllocatorCommand::RemoveAgent(agent_id.to_owned()));
        let message = format!("agent {agent_id} removed: {why}");
        self.lose_tasks(agent_id, Reason::AgentRemoved, &message, false, |_, _| true);
        self.publish_agent_removed(agent_id);
    }

    /// Marks the live tasks on `agent_id` that `which` selects as lost
    /// (master-generated updates, no uuid), keeps them as completed and,
    /// with `recover`, returns their resources to the allocator.
    pub(super) fn lose_tasks(
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
                task.set_status(status.clone());
                tracing::info!(framework_id = %framework.id, task_id = %id, agent_id, state = "TASK_LOST", reason = reason.as_str_name(), "task state changed");
                let resources =
                    (recover && !task.resources_recovered).then(|| task.resources.clone());
                task.resources_recovered = true;
                framework.completed.push(Arc::new(task));
                lost.push((framework.id.clone(), status, resources));
            }
        }
        for (framework_id, status, resources) in lost {
            self.counters.task_state(TaskState::TaskLost);
            if let Some(resources) = resources {
                let why = Returning::task(&status.task_id.value);
                self.return_resources(&framework_id, agent_id, resources, None, why);
            }
            self.publish_task_updated(&framework_id, &status);
            self.send_update(&framework_id, status);
        }
    }

    /// A known agent re-registered without some of the live tasks the
    /// master placed on it (it restarted without recovering them): they are
    /// lost, with `REASON_AGENT_RESTARTED`.
    pub(super) fn lose_unreported_tasks(
        &mut self,
        agent_id: &str,
        reported: &BTreeSet<(String, String)>,
    ) {
        let message = format!("agent {agent_id} restarted without this task");
        self.lose_tasks(agent_id, Reason::AgentRestarted, &message, true, |f, id| {
            !reported.contains(&(f.id.clone(), id.to_owned()))
        });
    }

    /// An agent is gone for good: out of the registry, remembered as removed.
    pub(super) fn forget_agent(&mut self, agent_id: &str) {
        if let Some(registry) = &self.registry {
            let when = crate::domain::status::now_seconds();
            if let Err(e) = registry
                .remove_agent(agent_id)
                .and_then(|()| registry.mark_removed(agent_id, when))
            {
                tracing::error!(agent_id, error = %e, "cannot remove the agent from the registry");
            }
        }
        self.removed_agents.insert(agent_id.to_owned());
    }

    /// Drops every outstanding offer of `agent_id`'s resources.
    fn rescind_offers_on(&mut self, agent_id: &str) {
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
}
