//! The master's tasks, agents and frameworks as the v1 operator API's
//! messages (`mesos.v1.master`), for its calls and its event stream.

use crate::{
    domain::{convert::resources_to_proto, status::state_of, Resource},
    proto::v1::{
        self,
        master::response::{get_agents, get_frameworks},
    },
};

use super::state::{FrameworkState, KnownAgent, TaskEntry};

/// A task as `mesos.v1.Task`: its latest status is its only one (the
/// master keeps no history); `user` is the command's, else the framework's.
pub fn task(t: &TaskEntry, framework_user: &str) -> v1::Task {
    let state = state_of(&t.status) as i32;
    v1::Task {
        name: t.info.name.clone(),
        task_id: t.info.task_id.clone(),
        framework_id: v1::FrameworkId {
            value: t.framework_id.clone(),
        },
        executor_id: t
            .executor_id
            .as_ref()
            .map(|e| v1::ExecutorId { value: e.clone() }),
        agent_id: v1::AgentId {
            value: t.agent_id.clone(),
        },
        state,
        resources: t.info.resources.clone(),
        statuses: vec![t.status.clone()],
        status_update_state: Some(state),
        status_update_uuid: t.status.uuid.clone(),
        labels: t.info.labels.clone(),
        container: t.info.container.clone(),
        user: Some(
            t.info
                .command
                .as_ref()
                .and_then(|c| c.user.clone())
                .unwrap_or_else(|| framework_user.to_owned()),
        ),
        kill_policy: t.info.kill_policy,
    }
}

/// An agent with what its tasks use and what is offered of it.
pub fn agent(a: &KnownAgent, allocated: &[Resource], offered: &[Resource]) -> get_agents::Agent {
    let mut info = a.info.clone();
    info.id = Some(v1::AgentId {
        value: a.id.clone(),
    });
    // A defaulted field: Mesos always writes it.
    info.port.get_or_insert(5051);
    get_agents::Agent {
        total_resources: info.resources.clone(),
        agent_info: info,
        active: a.connected(),
        deactivated: Some(!a.connected()),
        version: crate::VERSION.to_owned(),
        pid: Some(format!("slave(1)@{}", a.endpoint)),
        registered_time: Some(time_info(a.registered_time)),
        reregistered_time: a.reregistered_time.map(time_info),
        allocated_resources: resources_to_proto(allocated),
        offered_resources: resources_to_proto(offered),
    }
}

/// A framework with its outstanding offers and what it uses and is
/// offered (the event stream sends none of those, as Mesos does not).
pub fn framework(
    f: &FrameworkState,
    active: bool,
    offers: Vec<v1::Offer>,
    allocated: &[Resource],
    offered: &[Resource],
) -> get_frameworks::Framework {
    get_frameworks::Framework {
        framework_info: framework_info(f),
        active,
        connected: active,
        recovered: false,
        registered_time: Some(time_info(f.registered_time)),
        reregistered_time: f.reregistered_time.map(time_info),
        unregistered_time: None,
        offers,
        allocated_resources: resources_to_proto(allocated),
        offered_resources: resources_to_proto(offered),
    }
}

/// A framework's info with its id filled in.
/// Mesos writes `failover_timeout` and `checkpoint` (defaulted fields)
/// always.
pub fn framework_info(f: &FrameworkState) -> v1::FrameworkInfo {
    let mut info = f.info.clone();
    info.id = Some(v1::FrameworkId {
        value: f.id.clone(),
    });
    info.failover_timeout.get_or_insert(0.0);
    info.checkpoint.get_or_insert(false);
    info
}

/// Seconds since the epoch as a `TimeInfo`.
pub fn time_info(seconds: f64) -> v1::TimeInfo {
    v1::TimeInfo {
        nanoseconds: (seconds * 1e9) as i64,
    }
}
