//! Starting from the registry, the upkeep timer (agent pings and timeouts,
//! framework failover, agents that never came back) and shutdown.

use super::TaskTable;
use super::{
    framework_spec, master_event_of, role_of, FrameworkState, Master, COMPLETED_TASKS_KEPT,
};
use crate::domain::Recent;
use std::{collections::BTreeSet, time::Duration};

use tokio::time::Instant;

use super::super::{
    allocator::AllocatorCommand,
    registry::{Recovered, Registry},
};
use crate::{
    domain::deliver,
    proto::{
        agent::master_event,
        v1::{
            self,
            scheduler::{event, Event},
        },
    },
};

impl Master {
    /// Starts from what the registry kept: frameworks wait (inactive) for
    /// their schedulers until their failover deadline; admitted agents have
    /// `reregister_timeout` to come back before they are removed.
    pub fn recover_from_registry(
        &mut self,
        registry: Registry,
        recovered: Recovered,
        reregister_timeout: Duration,
    ) {
        let now = Instant::now();
        let wall = crate::domain::status::now_seconds();
        for (id, record) in recovered.frameworks {
            let timeout = record.info.failover_timeout.unwrap_or(0.0).clamp(0.0, 1e9);
            // A framework connected when the master went down gets its whole
            // failover timeout from now.
            let remaining = record
                .failover_deadline
                .map_or(timeout, |d| (d - wall).clamp(0.0, timeout));
            let disconnected_at = now
                .checked_sub(Duration::from_secs_f64(timeout - remaining))
                .unwrap_or(now);
            let role = role_of(&record.info);
            self.allocator
                .send(AllocatorCommand::AddFramework(framework_spec(
                    &id,
                    &record.info,
                    false,
                )));
            tracing::info!(framework_id = %id, remaining_secs = remaining, "framework recovered from the registry");
            self.frameworks.insert(
                id.clone(),
                FrameworkState {
                    id,
                    info: record.info,
                    role,
                    connection: None,
                    connected_in_snapshot: false,
                    tasks: TaskTable::new(),
                    completed: Recent::new(COMPLETED_TASKS_KEPT),
                    offers: BTreeSet::new(),
                    disconnected_at: Some(disconnected_at),
                    registered_time: crate::domain::status::now_seconds(),
                    reregistered_time: None,
                },
            );
        }
        for (id, record) in recovered.agents {
            tracing::info!(agent_id = %id, endpoint = %record.endpoint, "agent recovered from the registry; waiting for it to re-register");
            self.recovering.insert(id, record);
        }
        let oldest = wall - super::super::registry::REMOVED_AGENT_AGE_SECS;
        for (id, when) in recovered.removed_agents {
            if when < oldest {
                if let Err(e) = registry.forget_removed(&id) {
                    tracing::warn!(agent_id = %id, error = %e, "cannot forget an old removed agent");
                }
            } else {
                self.removed_agents.insert(id);
            }
        }
        self.recovery_deadline = now + reregister_timeout;
        self.registry = Some(registry);
    }

    /// The re-registration timeout passed: admitted agents that did not come
    /// back are removed, unless that would be more than the removal limit.
    pub(super) fn give_up_recovering_agents(&mut self) {
        let missing = self.recovering.len();
        let admitted = missing + self.agents.len();
        let share = missing as f64 / admitted.max(1) as f64;
        if share > self.settings.recovery_agent_removal_limit {
            tracing::error!(
                missing,
                admitted,
                limit = self.settings.recovery_agent_removal_limit,
                "refusing to remove agents that did not re-register: more than the recovery removal limit; they stay admitted until they return or an operator intervenes"
            );
            self.recovery_deadline = Instant::now() + self.settings.agent_timeout;
            return;
        }
        for (agent_id, _) in std::mem::take(&mut self.recovering) {
            tracing::warn!(
                agent_id,
                "agent did not re-register after master failover; removing it"
            );
            self.counters.bump("recovery_slave_removals");
            self.counters.bump("slave_removals");
            self.forget_agent(&agent_id);
            let ids: Vec<String> = self.frameworks.keys().cloned().collect();
            for framework_id in ids {
                self.send(
                    &framework_id,
                    Event {
                        r#type: Some(event::Type::Failure as i32),
                        failure: Some(event::Failure {
                            agent_id: Some(v1::AgentId {
                                value: agent_id.clone(),
                            }),
                            executor_id: None,
                            status: None,
                        }),
                        ..Default::default()
                    },
                );
            }
        }
    }

    /// Periodic upkeep: pings agents, removes silent ones, and removes
    /// frameworks whose failover timeout passed.
    pub fn tick(&mut self) {
        let now = Instant::now();
        self.disconnect_overflowed();
        if !self.recovering.is_empty() && now >= self.recovery_deadline {
            self.give_up_recovering_agents();
        }
        let silent: Vec<String> = self
            .agents
            .values()
            .filter(|a| now.duration_since(a.last_seen) > self.settings.agent_timeout)
            .map(|a| a.id.clone())
            .collect();
        for agent in silent {
            let why = format!("not heard from for {:?}", self.settings.agent_timeout);
            self.remove_agent(&agent, &why);
        }
        for agent in self.agents.values() {
            if let Some(conn) = &agent.connection {
                deliver(
                    &conn.events,
                    master_event_of(master_event::Type::Ping, |_| {}),
                );
            }
        }
        let expired: Vec<String> = self
            .frameworks
            .values()
            .filter(|f| {
                f.disconnected_at.is_some_and(|at| {
                    let timeout = f.info.failover_timeout.unwrap_or(0.0).clamp(0.0, 1e9);
                    now.duration_since(at) >= Duration::from_secs_f64(timeout)
                })
            })
            .map(|f| f.id.clone())
            .collect();
        for framework in expired {
            self.remove_framework(&framework, "its failover timeout passed");
        }
    }

    /// Frameworks and agents whose event queue overflowed (they did not
    /// read their stream) are disconnected, as if their stream had closed:
    /// a framework's failover timeout starts, an agent's non-checkpointing
    /// tasks are lost.
    pub(super) fn disconnect_overflowed(&mut self) {
        let frameworks: Vec<(String, String)> = self
            .frameworks
            .values()
            .filter_map(|f| f.connection.as_ref().map(|c| (f, c)))
            .filter(|(_, c)| c.events.overflowed())
            .map(|(f, c)| (f.id.clone(), c.stream_id.clone()))
            .collect();
        for (framework_id, stream_id) in frameworks {
            self.framework_disconnected(&framework_id, &stream_id);
        }
        let agents: Vec<(String, u64)> = self
            .agents
            .values()
            .filter_map(|a| a.connection.as_ref().map(|c| (a, c)))
            .filter(|(_, c)| c.events.overflowed())
            .map(|(a, c)| (a.id.clone(), c.id))
            .collect();
        for (agent_id, connection) in agents {
            self.agent_disconnected(&agent_id, connection);
        }
    }

    /// Closes every stream (the master is shutting down).
    pub fn close_all(&mut self) {
        // The registry file is released now, so a master started in its
        // place (in this process too) can open it.
        self.registry = None;
        for framework in self.frameworks.values_mut() {
            framework.connection = None;
        }
        for agent in self.agents.values_mut() {
            agent.connection = None;
        }
        self.close_observers();
    }
}
