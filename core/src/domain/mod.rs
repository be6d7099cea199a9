//! Core's own vocabulary, below every subsystem: what modules work with,
//! resource arithmetic, task status rules, metric names, bounded history and
//! event channels. Module-api types are converted to and from these in
//! `module_host::ffi` only; protobuf ones in `convert`.

pub mod acls;
pub mod auth;
pub mod convert;
pub mod events;
pub mod ids;
pub mod lease;
pub mod limits;
pub mod master_detection;
pub mod metrics;
mod parse;
mod recent;
mod resources;
pub mod status;

pub use events::{deliver, EventReceiver, EventSender, QueueStats};
pub use parse::{parse_resources, ResourceTextError};
pub use recent::Recent;
pub use resources::{format_resources, ResourceBag};

/// The value of a resource.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceValue {
    Scalar(f64),
    /// Inclusive ranges, e.g. ports `[31000-32000]`.
    Ranges(Vec<(u64, u64)>),
    Set(Vec<String>),
}

/// Mesos' text form: `2.5`, `[31000-32000, 33000-33100]`, `{a,b}`.
impl std::fmt::Display for ResourceValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResourceValue::Scalar(v) => write!(f, "{v}"),
            ResourceValue::Ranges(ranges) => {
                let list: Vec<String> = ranges.iter().map(|(b, e)| format!("{b}-{e}")).collect();
                write!(f, "[{}]", list.join(", "))
            }
            ResourceValue::Set(items) => write!(f, "{{{}}}", items.join(",")),
        }
    }
}

/// One named resource reserved for a role (`*` when unreserved).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub name: String,
    pub role: String,
    pub value: ResourceValue,
}

impl Resource {
    pub fn scalar(name: &str, value: f64) -> Self {
        Resource {
            name: name.to_owned(),
            role: "*".to_owned(),
            value: ResourceValue::Scalar(value),
        }
    }
}

/// A task label or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: &str, value: &str) -> Self {
        KeyValue {
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// A task as hooks see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskView {
    pub task_id: String,
    pub name: String,
    pub framework_id: String,
    pub agent_id: String,
    pub labels: Vec<KeyValue>,
    /// Protobuf encoding of the `mesos.v1.TaskInfo`.
    pub task_info: Vec<u8>,
}

/// An executor as hooks see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutorView {
    pub executor_id: String,
    pub framework_id: String,
    pub agent_id: String,
    pub environment: Vec<KeyValue>,
    /// Protobuf encoding of the `mesos.v1.ExecutorInfo`.
    pub executor_info: Vec<u8>,
}
