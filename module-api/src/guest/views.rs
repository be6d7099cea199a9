//! Typed views of the protobuf bytes that travel beside the stable fields
//! (`TaskView::task_info`, `ExecutorView::executor_info`,
//! `ContainerConfig::executor_info`): what hooks and isolators usually
//! need, decoded into plain Rust. Fields this version does not know are
//! skipped, so a newer host's messages still decode.
//!
//! ```
//! # use corral_module_api::guest::views::TaskDetails;
//! # let bytes: Vec<u8> = Vec::new();
//! let task = TaskDetails::decode(&bytes).unwrap();
//! if let Some(command) = &task.command {
//!     let _ = command.value.as_deref();
//! }
//! ```

use abi_stable::std_types::RString;
use prost::Message;

use crate::types::{Resource, ResourceValue, ValueRange};

/// Bytes that are not the protobuf message they should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode the {message} bytes: {reason}")]
pub struct DecodeError {
    pub message: &'static str,
    pub reason: String,
}

/// A `mesos.v1.TaskInfo`, as much of it as modules use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskDetails {
    pub task_id: String,
    pub name: String,
    pub agent_id: String,
    pub resources: Vec<Resource>,
    /// The command of a command task (`None` for a task with an executor).
    pub command: Option<CommandDetails>,
    /// The executor of a custom-executor task.
    pub executor: Option<ExecutorDetails>,
    pub container: Option<ContainerDetails>,
    /// Labels in order, `(key, value)`; a label without value has `""`.
    pub labels: Vec<(String, String)>,
}

/// A `mesos.v1.ExecutorInfo`, as much of it as modules use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutorDetails {
    pub executor_id: String,
    pub framework_id: Option<String>,
    pub name: Option<String>,
    pub resources: Vec<Resource>,
    pub command: Option<CommandDetails>,
    pub container: Option<ContainerDetails>,
    pub labels: Vec<(String, String)>,
}

/// A `mesos.v1.CommandInfo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandDetails {
    /// The shell command (with `shell`) or the program.
    pub value: Option<String>,
    pub arguments: Vec<String>,
    /// Run `value` through `/bin/sh -c` (Mesos' default: true).
    pub shell: bool,
    /// The user to run as, when the framework names one here.
    pub user: Option<String>,
    /// The command's own environment, `(name, value)` in order.
    pub environment: Vec<(String, String)>,
    /// The URIs to fetch into the sandbox.
    pub uris: Vec<String>,
}

/// A `mesos.v1.ContainerInfo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerDetails {
    /// `1` DOCKER, `2` MESOS (the `ContainerInfo.Type` number).
    pub kind: i32,
    pub hostname: Option<String>,
    pub volumes: Vec<VolumeDetails>,
}

/// A `mesos.v1.Volume` of a container.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VolumeDetails {
    pub container_path: String,
    pub host_path: Option<String>,
    pub read_only: bool,
}

impl TaskDetails {
    /// Decodes `TaskView::task_info`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let task = wire::TaskInfo::decode(bytes).map_err(|e| DecodeError {
            message: "mesos.v1.TaskInfo",
            reason: e.to_string(),
        })?;
        Ok(TaskDetails {
            task_id: task.task_id.map(|id| id.value).unwrap_or_default(),
            name: task.name.unwrap_or_default(),
            agent_id: task.agent_id.map(|id| id.value).unwrap_or_default(),
            resources: task.resources.into_iter().filter_map(resource).collect(),
            command: task.command.map(command),
            executor: task.executor.map(executor),
            container: task.container.map(container),
            labels: labels(task.labels),
        })
    }
}

impl ExecutorDetails {
    /// Decodes `ExecutorView::executor_info` or
    /// `ContainerConfig::executor_info`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        wire::ExecutorInfo::decode(bytes)
            .map(executor)
            .map_err(|e| DecodeError {
                message: "mesos.v1.ExecutorInfo",
                reason: e.to_string(),
            })
    }
}

fn executor(e: wire::ExecutorInfo) -> ExecutorDetails {
    ExecutorDetails {
        executor_id: e.executor_id.map(|id| id.value).unwrap_or_default(),
        framework_id: e.framework_id.map(|id| id.value),
        name: e.name,
        resources: e.resources.into_iter().filter_map(resource).collect(),
        command: e.command.map(command),
        container: e.container.map(container),
        labels: labels(e.labels),
    }
}

fn command(c: wire::CommandInfo) -> CommandDetails {
    CommandDetails {
        value: c.value,
        arguments: c.arguments,
        shell: c.shell.unwrap_or(true),
        user: c.user,
        environment: c
            .environment
            .map(|env| {
                env.variables
                    .into_iter()
                    .map(|v| (v.name, v.value.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
        uris: c.uris.into_iter().map(|u| u.value).collect(),
    }
}

fn container(c: wire::ContainerInfo) -> ContainerDetails {
    ContainerDetails {
        kind: c.r#type,
        hostname: c.hostname,
        volumes: c
            .volumes
            .into_iter()
            .map(|v| VolumeDetails {
                container_path: v.container_path,
                host_path: v.host_path,
                // Mesos' Volume.Mode: RW = 1, RO = 2.
                read_only: v.mode == 2,
            })
            .collect(),
    }
}

fn labels(labels: Option<wire::Labels>) -> Vec<(String, String)> {
    labels
        .map(|l| {
            l.labels
                .into_iter()
                .map(|l| (l.key, l.value.unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// A resource in module-api's type; `None` for a kind it has no value for
/// (Mesos' TEXT).
fn resource(r: wire::Resource) -> Option<Resource> {
    // Mesos' Value.Type: SCALAR = 0, RANGES = 1, SET = 2.
    let value = match r.r#type {
        0 => ResourceValue::Scalar(r.scalar.map_or(0.0, |s| s.value)),
        1 => ResourceValue::Ranges(
            r.ranges
                .map(|ranges| {
                    ranges
                        .range
                        .into_iter()
                        .map(|range| ValueRange {
                            begin: range.begin,
                            end: range.end,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        2 => ResourceValue::Set(
            r.set
                .map(|set| set.item.into_iter().map(RString::from).collect())
                .unwrap_or_default(),
        ),
        _ => return None,
    };
    Some(Resource {
        name: r.name.into(),
        role: r.role.unwrap_or_else(|| "*".to_owned()).into(),
        value,
    })
}

/// The messages' wire form, with the field numbers of Mesos'
/// `mesos/v1/mesos.proto` (only the fields decoded above).
pub(crate) mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Id {
        #[prost(string, tag = "1")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TaskInfo {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(message, optional, tag = "2")]
        pub task_id: Option<Id>,
        #[prost(message, optional, tag = "3")]
        pub agent_id: Option<Id>,
        #[prost(message, repeated, tag = "4")]
        pub resources: Vec<Resource>,
        #[prost(message, optional, tag = "5")]
        pub executor: Option<ExecutorInfo>,
        #[prost(message, optional, tag = "7")]
        pub command: Option<CommandInfo>,
        #[prost(message, optional, tag = "9")]
        pub container: Option<ContainerInfo>,
        #[prost(message, optional, tag = "10")]
        pub labels: Option<Labels>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExecutorInfo {
        #[prost(message, optional, tag = "1")]
        pub executor_id: Option<Id>,
        #[prost(message, repeated, tag = "5")]
        pub resources: Vec<Resource>,
        #[prost(message, optional, tag = "7")]
        pub command: Option<CommandInfo>,
        #[prost(message, optional, tag = "8")]
        pub framework_id: Option<Id>,
        #[prost(string, optional, tag = "9")]
        pub name: Option<String>,
        #[prost(message, optional, tag = "11")]
        pub container: Option<ContainerInfo>,
        #[prost(message, optional, tag = "14")]
        pub labels: Option<Labels>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CommandInfo {
        #[prost(message, repeated, tag = "1")]
        pub uris: Vec<Uri>,
        #[prost(message, optional, tag = "2")]
        pub environment: Option<Environment>,
        #[prost(string, optional, tag = "3")]
        pub value: Option<String>,
        #[prost(string, optional, tag = "5")]
        pub user: Option<String>,
        #[prost(bool, optional, tag = "6")]
        pub shell: Option<bool>,
        #[prost(string, repeated, tag = "7")]
        pub arguments: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Uri {
        #[prost(string, tag = "1")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Environment {
        #[prost(message, repeated, tag = "1")]
        pub variables: Vec<Variable>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Variable {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerInfo {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(message, repeated, tag = "2")]
        pub volumes: Vec<Volume>,
        #[prost(string, optional, tag = "4")]
        pub hostname: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Volume {
        #[prost(string, tag = "1")]
        pub container_path: String,
        #[prost(string, optional, tag = "2")]
        pub host_path: Option<String>,
        #[prost(int32, tag = "3")]
        pub mode: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Labels {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(int32, tag = "2")]
        pub r#type: i32,
        #[prost(message, optional, tag = "3")]
        pub scalar: Option<Scalar>,
        #[prost(message, optional, tag = "4")]
        pub ranges: Option<Ranges>,
        #[prost(message, optional, tag = "5")]
        pub set: Option<Set>,
        #[prost(string, optional, tag = "6")]
        pub role: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Scalar {
        #[prost(double, tag = "1")]
        pub value: f64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Ranges {
        #[prost(message, repeated, tag = "1")]
        pub range: Vec<Range>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Range {
        #[prost(uint64, tag = "1")]
        pub begin: u64,
        #[prost(uint64, tag = "2")]
        pub end: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Set {
        #[prost(string, repeated, tag = "1")]
        pub item: Vec<String>,
    }
}
