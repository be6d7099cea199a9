use std::sync::Arc;

use super::ModuleCallError;
use crate::domain::{KeyValue, Resource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub container_path: String,
    pub host_path: String,
    pub read_only: bool,
}

/// What an isolator is told about a container it prepares.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerConfig {
    pub container_id: String,
    pub framework_id: String,
    pub executor_id: String,
    pub sandbox: String,
    pub user: Option<String>,
    pub resources: Vec<Resource>,
    pub volumes: Vec<Volume>,
    pub executor_info: Vec<u8>,
}

/// A container that survived an agent restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub container_id: String,
    pub pid: u32,
    pub sandbox: String,
}

/// One `mount(2)` to make in the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: Option<String>,
    pub target: String,
    pub fstype: Option<String>,
    pub flags: u64,
    pub data: Option<String>,
}

/// What the launcher does in the child between fork and exec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchSpec {
    pub namespaces: u64,
    pub mounts: Vec<MountSpec>,
    pub environment: Vec<KeyValue>,
    pub pre_exec_commands: Vec<String>,
}

/// A limit a container hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Limitation {
    pub resources: Vec<Resource>,
    pub message: String,
    /// A `mesos.v1.TaskStatus.Reason` number.
    pub reason: i32,
}

/// Where limitations reported by isolators go.
pub type LimitationNotifier = Arc<dyn Fn(&str, Limitation) + Send + Sync>;

/// An isolator (see `corral_module_api::isolator::Isolator`).
pub trait IsolatorPlugin: Send {
    fn name(&self) -> &str;
    fn recover(&mut self, containers: &[ContainerState]) -> Result<(), ModuleCallError>;
    fn prepare(&mut self, spec: &ContainerConfig) -> Result<LaunchSpec, ModuleCallError>;
    fn isolate(&mut self, container_id: &str, pid: u32) -> Result<(), ModuleCallError>;
    fn watch(
        &mut self,
        container_id: &str,
        sink: LimitationNotifier,
    ) -> Result<(), ModuleCallError>;
    fn update(&mut self, container_id: &str, resources: &[Resource])
        -> Result<(), ModuleCallError>;
    /// Usage figures named as Mesos' `ResourceStatistics` fields.
    fn usage(&mut self, container_id: &str) -> Result<Vec<(String, f64)>, ModuleCallError>;
    fn cleanup(&mut self, container_id: &str) -> Result<(), ModuleCallError>;
}
