//! The one place where module-api types become core's own and back.

use corral_module_api::{
    allocator as api_alloc, hook as api_hook, isolator as api_iso, types as api, RNone, ROption,
    RSome, RString, RVec,
};

use crate::{
    domain::{ExecutorView, KeyValue, Resource, ResourceValue, TaskView},
    extension::{
        AgentEntry, Allocation, ContainerConfig, ContainerState, Decoration, FrameworkEntry,
        LaunchSpec, Limitation, MountSpec, OfferMade, Recovered, ReturnReason,
    },
};

fn rstr(s: &str) -> RString {
    RString::from(s)
}

fn ropt(s: &Option<String>) -> ROption<RString> {
    s.as_deref().map_or(RNone, |s| RSome(rstr(s)))
}

fn opt(s: ROption<RString>) -> Option<String> {
    s.into_option().map(RString::into_string)
}

pub fn resource_to_api(r: &Resource) -> api::Resource {
    api::Resource {
        name: rstr(&r.name),
        role: rstr(&r.role),
        value: match &r.value {
            ResourceValue::Scalar(v) => api::ResourceValue::Scalar(*v),
            ResourceValue::Ranges(ranges) => api::ResourceValue::Ranges(
                ranges
                    .iter()
                    .map(|&(begin, end)| api::ValueRange { begin, end })
                    .collect(),
            ),
            ResourceValue::Set(items) => {
                api::ResourceValue::Set(items.iter().map(|s| rstr(s)).collect())
            }
        },
    }
}

pub fn resource_from_api(r: api::Resource) -> Resource {
    Resource {
        name: r.name.into_string(),
        role: r.role.into_string(),
        value: match r.value {
            api::ResourceValue::Scalar(v) => ResourceValue::Scalar(v),
            api::ResourceValue::Ranges(ranges) => {
                ResourceValue::Ranges(ranges.into_iter().map(|r| (r.begin, r.end)).collect())
            }
            api::ResourceValue::Set(items) => {
                ResourceValue::Set(items.into_iter().map(RString::into_string).collect())
            }
        },
    }
}

pub fn resources_to_api(list: &[Resource]) -> RVec<api::Resource> {
    list.iter().map(resource_to_api).collect()
}

fn resources_from_api(list: RVec<api::Resource>) -> Vec<Resource> {
    list.into_iter().map(resource_from_api).collect()
}

pub fn kv_to_api(list: &[KeyValue]) -> RVec<api::KeyValue> {
    list.iter()
        .map(|kv| api::KeyValue::new(kv.key.as_str(), kv.value.as_str()))
        .collect()
}

pub fn decoration_from_api(d: api_hook::Decoration) -> Decoration {
    Decoration {
        replace: d.replace.into_option().map(kv_from_api),
        remove: d.remove.into_iter().map(RString::into_string).collect(),
        set: kv_from_api(d.set),
    }
}

pub fn kv_from_api(list: RVec<api::KeyValue>) -> Vec<KeyValue> {
    list.into_iter()
        .map(|kv| KeyValue {
            key: kv.key.into_string(),
            value: kv.value.into_string(),
        })
        .collect()
}

pub fn parameters_to_api(list: &[(String, String)]) -> RVec<api::KeyValue> {
    list.iter()
        .map(|(k, v)| api::KeyValue::new(k.as_str(), v.as_str()))
        .collect()
}

pub fn task_to_api(t: &TaskView) -> api_hook::TaskView {
    api_hook::TaskView {
        task_id: rstr(&t.task_id),
        name: rstr(&t.name),
        framework_id: rstr(&t.framework_id),
        agent_id: rstr(&t.agent_id),
        labels: kv_to_api(&t.labels),
        task_info: RVec::from(t.task_info.as_slice()),
    }
}

pub fn executor_to_api(e: &ExecutorView) -> api_hook::ExecutorView {
    api_hook::ExecutorView {
        executor_id: rstr(&e.executor_id),
        framework_id: rstr(&e.framework_id),
        agent_id: rstr(&e.agent_id),
        environment: kv_to_api(&e.environment),
        executor_info: RVec::from(e.executor_info.as_slice()),
    }
}

pub fn framework_to_api(f: &FrameworkEntry) -> api_alloc::FrameworkDetails {
    api_alloc::FrameworkDetails {
        entry: api_alloc::FrameworkEntry {
            id: rstr(&f.id),
            role: rstr(&f.role),
            weight: f.weight,
            active: f.active,
        },
        name: rstr(&f.name),
        user: rstr(&f.user),
        principal: ropt(&f.principal),
        roles: f.roles.iter().map(|r| rstr(r)).collect(),
        capabilities: f.capabilities.iter().map(|c| rstr(c)).collect(),
    }
}

fn allocation_to_api(a: &Allocation) -> api_alloc::Allocation {
    api_alloc::Allocation {
        framework_id: rstr(&a.framework_id),
        agent_id: rstr(&a.agent_id),
        resources: resources_to_api(&a.resources),
    }
}

pub fn allocation_from_api(a: api_alloc::Allocation) -> Allocation {
    Allocation {
        framework_id: a.framework_id.into_string(),
        agent_id: a.agent_id.into_string(),
        resources: resources_from_api(a.resources),
    }
}

pub fn agent_to_api(a: &AgentEntry) -> api_alloc::AgentEntry {
    api_alloc::AgentEntry {
        id: rstr(&a.id),
        hostname: rstr(&a.hostname),
        total: resources_to_api(&a.total),
        used: a.used.iter().map(allocation_to_api).collect(),
        active: a.active,
    }
}

fn reason_to_api(reason: ReturnReason) -> api_alloc::ReturnReason {
    match reason {
        ReturnReason::Declined => api_alloc::ReturnReason::DECLINED,
        ReturnReason::Unused => api_alloc::ReturnReason::UNUSED,
        ReturnReason::Rescinded => api_alloc::ReturnReason::RESCINDED,
        ReturnReason::TaskEnded => api_alloc::ReturnReason::TASK_ENDED,
        ReturnReason::NotOffered => api_alloc::ReturnReason::NOT_OFFERED,
    }
}

pub fn recovered_to_api(r: &Recovered) -> api_alloc::Returned {
    api_alloc::Returned {
        recovered: api_alloc::Recovered {
            allocation: allocation_to_api(&r.allocation),
            refuse_seconds: r.refuse_seconds.map_or(RNone, RSome),
        },
        reason: reason_to_api(r.reason),
        offer_id: ropt(&r.offer_id),
        task_id: ropt(&r.task_id),
    }
}

pub fn offers_to_api(offers: &[OfferMade]) -> RVec<api_alloc::OfferMade> {
    offers
        .iter()
        .map(|o| api_alloc::OfferMade {
            offer_id: rstr(&o.offer_id),
            allocation: allocation_to_api(&o.allocation),
        })
        .collect()
}

pub fn container_to_api(c: &ContainerConfig) -> api_iso::ContainerConfig {
    api_iso::ContainerConfig {
        container_id: rstr(&c.container_id),
        framework_id: rstr(&c.framework_id),
        executor_id: rstr(&c.executor_id),
        sandbox: rstr(&c.sandbox),
        user: ropt(&c.user),
        resources: resources_to_api(&c.resources),
        volumes: c
            .volumes
            .iter()
            .map(|v| api_iso::Volume {
                container_path: rstr(&v.container_path),
                host_path: rstr(&v.host_path),
                read_only: v.read_only,
            })
            .collect(),
        executor_info: RVec::from(c.executor_info.as_slice()),
    }
}

pub fn summary_to_api(c: &ContainerState) -> api_iso::ContainerState {
    api_iso::ContainerState {
        container_id: rstr(&c.container_id),
        pid: c.pid,
        sandbox: rstr(&c.sandbox),
    }
}

pub fn launch_from_api(spec: api_iso::LaunchSpec) -> LaunchSpec {
    LaunchSpec {
        namespaces: spec.namespaces,
        mounts: spec
            .mounts
            .into_iter()
            .map(|m| MountSpec {
                source: opt(m.source),
                target: m.target.into_string(),
                fstype: opt(m.fstype),
                flags: m.flags,
                data: opt(m.data),
            })
            .collect(),
        environment: kv_from_api(spec.environment),
        pre_exec_commands: spec
            .pre_exec_commands
            .into_iter()
            .map(RString::into_string)
            .collect(),
    }
}

pub fn limitation_from_api(l: &api_iso::Limitation) -> Limitation {
    Limitation {
        resources: l.resources.iter().cloned().map(resource_from_api).collect(),
        message: l.message.to_string(),
        reason: l.reason,
    }
}

pub fn statistics_from_api(list: RVec<api_iso::Statistic>) -> Vec<(String, f64)> {
    list.into_iter()
        .map(|s| (s.name.into_string(), s.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_survive_the_round_trip() {
        let list = [
            Resource::scalar("cpus", 1.5),
            Resource {
                name: "ports".into(),
                role: "web".into(),
                value: ResourceValue::Ranges(vec![(31000, 32000)]),
            },
            Resource {
                name: "disks".into(),
                role: "*".into(),
                value: ResourceValue::Set(vec!["sda".into()]),
            },
        ];
        let back: Vec<Resource> = resources_to_api(&list)
            .into_iter()
            .map(resource_from_api)
            .collect();
        assert_eq!(back, list);
    }
}
