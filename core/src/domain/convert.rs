//! Mesos protobuf resources and labels as core's domain types, and back.

use crate::{
    domain::{KeyValue, Resource, ResourceValue},
    proto::v1::{self, value},
};

pub fn resource_from_proto(r: &v1::Resource) -> Option<Resource> {
    let value = match value::Type::try_from(r.r#type).ok()? {
        value::Type::Scalar => ResourceValue::Scalar(r.scalar.as_ref()?.value),
        value::Type::Ranges => ResourceValue::Ranges(
            r.ranges
                .as_ref()?
                .range
                .iter()
                .map(|x| (x.begin, x.end))
                .collect(),
        ),
        value::Type::Set => ResourceValue::Set(r.set.as_ref()?.item.clone()),
        value::Type::Text => return None,
    };
    Some(Resource {
        name: r.name.clone(),
        role: r.role.clone().unwrap_or_else(|| "*".into()),
        value,
    })
}

pub fn resources_from_proto(list: &[v1::Resource]) -> Vec<Resource> {
    list.iter().filter_map(resource_from_proto).collect()
}

pub fn resource_to_proto(r: &Resource) -> v1::Resource {
    let mut out = v1::Resource {
        name: r.name.clone(),
        role: Some(r.role.clone()),
        ..Default::default()
    };
    match &r.value {
        ResourceValue::Scalar(v) => {
            out.r#type = value::Type::Scalar as i32;
            out.scalar = Some(value::Scalar { value: *v });
        }
        ResourceValue::Ranges(list) => {
            out.r#type = value::Type::Ranges as i32;
            out.ranges = Some(value::Ranges {
                range: list
                    .iter()
                    .map(|&(begin, end)| value::Range { begin, end })
                    .collect(),
            });
        }
        ResourceValue::Set(items) => {
            out.r#type = value::Type::Set as i32;
            out.set = Some(value::Set {
                item: items.clone(),
            });
        }
    }
    out
}

pub fn resources_to_proto(list: &[Resource]) -> Vec<v1::Resource> {
    list.iter().map(resource_to_proto).collect()
}

pub fn labels_from_proto(labels: Option<&v1::Labels>) -> Vec<KeyValue> {
    labels
        .map(|l| {
            l.labels
                .iter()
                .map(|l| KeyValue {
                    key: l.key.clone(),
                    value: l.value.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn labels_to_proto(list: &[KeyValue]) -> v1::Labels {
    v1::Labels {
        labels: list
            .iter()
            .map(|kv| v1::Label {
                key: kv.key.clone(),
                value: Some(kv.value.clone()),
            })
            .collect(),
    }
}

/// The user a task runs as (Mesos' rule): its command's user, else its
/// executor's (`executor`, or the task's own), else `framework_user`.
pub fn task_user(
    task: &v1::TaskInfo,
    executor: Option<&v1::ExecutorInfo>,
    framework_user: &str,
) -> String {
    let of = |c: Option<&v1::CommandInfo>| c.and_then(|c| c.user.clone());
    of(task.command.as_ref())
        .or_else(|| {
            of(executor
                .or(task.executor.as_ref())
                .and_then(|e| e.command.as_ref()))
        })
        .unwrap_or_else(|| framework_user.to_owned())
}

/// The user an executor runs as: its command's, else its framework's.
pub fn executor_user(executor: &v1::ExecutorInfo, framework_user: &str) -> String {
    executor
        .command
        .as_ref()
        .and_then(|c| c.user.clone())
        .unwrap_or_else(|| framework_user.to_owned())
}
