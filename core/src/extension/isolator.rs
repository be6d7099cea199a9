use std::sync::Arc;

use super::ModuleCallError;
use crate::domain::{KeyValue, Resource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub container_path: String,
    pub host_path: String,
    pub read_only: bool,
}

/// What an isolator is told about a container it prepares.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    pub container_id: String,
    pub framework_id: String,
    pub executor_id: String,
    pub sandbox: String,
    pub user: Option<String>,
    pub resources: Vec<Resource>,
    pub volumes: Vec<VolumeSpec>,
    pub executor_info: Vec<u8>,
}

/// A container that survived an agent restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub container_id: String,
    pub pid: u32,
    pub sandbox: String,
}

/// One `mount(2)` to make in the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: Option<String>,
    pub target: String,
    pub fstype: Option<String>,
    pub flags: u64,
    pub data: Option<String>,
}

/// What the launcher does in the child between fork and exec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchPlan {
    pub namespaces: u64,
    pub mounts: Vec<Mount>,
    pub environment: Vec<KeyValue>,
    pub pre_exec_commands: Vec<String>,
}

/// A limit a container hit.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLimitation {
    pub resources: Vec<Resource>,
    pub message: String,
    /// A `mesos.v1.TaskStatus.Reason` number.
    pub reason: i32,
}

/// Where limitations reported by isolators go.
pub type LimitationSink = Arc<dyn Fn(&str, ContainerLimitation) + Send + Sync>;

/// An isolator (see `corral_module_api::isolator::Isolator`).
pub trait IsolatorPlugin: Send {
    fn name(&self) -> &str;
    fn recover(&mut self, containers: &[ContainerSummary]) -> Result<(), ModuleCallError>;
    fn prepare(&mut self, spec: &ContainerSpec) -> Result<LaunchPlan, ModuleCallError>;
    fn isolate(&mut self, container_id: &str, pid: u32) -> Result<(), ModuleCallError>;
    fn watch(&mut self, container_id: &str, sink: LimitationSink) -> Result<(), ModuleCallError>;
    fn update(&mut self, container_id: &str, resources: &[Resource])
        -> Result<(), ModuleCallError>;
    /// Usage figures named as Mesos' `ResourceStatistics` fields.
    fn usage(&mut self, container_id: &str) -> Result<Vec<(String, f64)>, ModuleCallError>;
    fn cleanup(&mut self, container_id: &str) -> Result<(), ModuleCallError>;
}
