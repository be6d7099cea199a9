//! The master's v1 operator API answers about the cluster: `GET_STATE` and
//! its parts (`GET_AGENTS`, `GET_FRAMEWORKS`, `GET_EXECUTORS`,
//! `GET_TASKS`), and `GET_ROLES`, built from a locked [`MasterSnapshot`].

use std::collections::BTreeSet;

use super::master_state::{live_resources, role_usage, Index, Viewer};
use crate::{
    domain::{convert::resources_to_proto, Resource},
    master::{operator_view, FrameworkState, MasterSnapshot},
    proto::v1::{self, master::response},
};

/// What `viewer` may see of the cluster.
pub fn state(master: &MasterSnapshot, viewer: Viewer<'_>) -> response::GetState {
    let index = Index::new(master);
    response::GetState {
        get_tasks: Some(tasks(master, viewer)),
        get_executors: Some(executors(master, viewer)),
        get_frameworks: Some(frameworks_with(master, &index, viewer)),
        get_agents: Some(agents_with(master, &index)),
    }
}

pub fn agents(master: &MasterSnapshot) -> response::GetAgents {
    agents_with(master, &Index::new(master))
}

fn agents_with(master: &MasterSnapshot, index: &Index) -> response::GetAgents {
    let of = |map: &std::collections::HashMap<String, Vec<Resource>>, id: &str| {
        map.get(id).cloned().unwrap_or_default()
    };
    response::GetAgents {
        agents: master
            .agents()
            .values()
            .map(|a| {
                operator_view::agent(
                    a,
                    &of(&index.used_by_agent, &a.id),
                    &of(&index.offered_by_agent, &a.id),
                )
            })
            .collect(),
    }
}

pub fn frameworks(master: &MasterSnapshot, viewer: Viewer<'_>) -> response::GetFrameworks {
    frameworks_with(master, &Index::new(master), viewer)
}

fn frameworks_with(
    master: &MasterSnapshot,
    index: &Index,
    viewer: Viewer<'_>,
) -> response::GetFrameworks {
    let view = |f: &FrameworkState, active: bool| {
        let own = index
            .offers_by_framework
            .get(&f.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let offered: Vec<Resource> = own.iter().flat_map(|o| o.resources.clone()).collect();
        let offers = own
            .iter()
            .map(|o| v1::Offer {
                id: v1::OfferId {
                    value: o.id.clone(),
                },
                framework_id: v1::FrameworkId {
                    value: o.framework_id.clone(),
                },
                agent_id: v1::AgentId {
                    value: o.agent_id.clone(),
                },
                hostname: master
                    .agents()
                    .get(&o.agent_id)
                    .map(|a| a.info.hostname.clone())
                    .unwrap_or_default(),
                resources: resources_to_proto(&o.resources),
                ..Default::default()
            })
            .collect();
        let used = live_resources(f.tasks.values());
        operator_view::framework(f, active, offers, &used, &offered)
    };
    response::GetFrameworks {
        frameworks: master
            .frameworks()
            .values()
            .filter(|f| viewer.framework(f))
            .map(|f| view(f, f.connected()))
            .collect(),
        completed_frameworks: master
            .completed_frameworks()
            .iter()
            .filter(|f| viewer.framework(f))
            .map(|f| view(f, false))
            .collect(),
    }
}

/// Frameworks known now and those removed, as `GET_TASKS` walks them.
fn all_frameworks(master: &MasterSnapshot) -> impl Iterator<Item = &FrameworkState> {
    master
        .frameworks()
        .values()
        .chain(master.completed_frameworks().iter())
}

/// Tasks not yet acknowledged as ended (`tasks`) and those that were
/// (`completed_tasks`), of current and removed frameworks.
pub fn tasks(master: &MasterSnapshot, viewer: Viewer<'_>) -> response::GetTasks {
    let mut out = response::GetTasks::default();
    for f in all_frameworks(master).filter(|f| viewer.framework(f)) {
        let user = &f.info.user;
        let seen = |t: &&crate::master::TaskEntry| viewer.task(f, t);
        out.tasks.extend(
            f.tasks
                .values()
                .filter(seen)
                .map(|t| operator_view::task(t, user)),
        );
        out.completed_tasks.extend(
            f.completed_tasks()
                .filter(seen)
                .map(|t| operator_view::task(t, user)),
        );
    }
    out
}

/// The executors of live tasks, once per framework, executor and agent
/// (tasks of the command executor have none to list, as in Mesos).
pub fn executors(master: &MasterSnapshot, viewer: Viewer<'_>) -> response::GetExecutors {
    let mut seen = BTreeSet::new();
    let mut out = response::GetExecutors::default();
    for f in master.frameworks().values().filter(|f| viewer.framework(f)) {
        for t in f.tasks.values() {
            let Some(executor) = &t.info.executor else {
                continue;
            };
            if !viewer.executor(f, executor) {
                continue;
            }
            if !seen.insert((&f.id, &executor.executor_id.value, &t.agent_id)) {
                continue;
            }
            let mut info = executor.clone();
            info.framework_id.get_or_insert_with(|| v1::FrameworkId {
                value: f.id.clone(),
            });
            out.executors.push(response::get_executors::Executor {
                executor_info: info,
                agent_id: v1::AgentId {
                    value: t.agent_id.clone(),
                },
            });
        }
    }
    out
}

/// Every role a framework uses, weight 1 (Corral has no weights yet).
pub fn roles(master: &MasterSnapshot) -> response::GetRoles {
    response::GetRoles {
        roles: role_usage(master)
            .into_iter()
            .map(|(name, (frameworks, used))| v1::Role {
                name: name.to_owned(),
                weight: 1.0,
                frameworks: frameworks
                    .into_iter()
                    .map(|id| v1::FrameworkId {
                        value: id.to_owned(),
                    })
                    .collect(),
                resources: resources_to_proto(&used),
            })
            .collect(),
    }
}
