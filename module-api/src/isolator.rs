//! Isolator modules set up and police a container around each executor
//! (Mesos' `Isolator` interface, made synchronous).
//!
//! Modules *describe* what a container needs in [`LaunchSpec`]; the host does
//! the syscalls between fork and exec. Waiting for a limitation (for example
//! the memory limit being hit) does not block a call: the module keeps the
//! [`LimitationNotifier`] it got from `watch` and calls it from its own thread.

use abi_stable::{
    sabi_trait,
    std_types::{RArc, RBox, ROption, RStr, RString, RVec},
    StableAbi,
};

use crate::{
    error::ModuleError,
    types::{KeyValue, Resource},
};

type Result<T> = abi_stable::std_types::RResult<T, ModuleError>;

/// A volume from the executor's `ContainerInfo`: `container_path` inside the
/// container is backed by `host_path` (relative paths live in the sandbox).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub container_path: RString,
    pub host_path: RString,
    pub read_only: bool,
}

/// Everything an isolator may need to know about a container it prepares.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ContainerConfig {
    pub container_id: RString,
    pub framework_id: RString,
    pub executor_id: RString,
    /// Absolute path of the executor's sandbox on the host. The directory
    /// exists (empty for a new container) when `prepare` is called.
    pub sandbox: RString,
    pub user: ROption<RString>,
    pub resources: RVec<Resource>,
    pub volumes: RVec<Volume>,
    /// The protobuf encoding of the `mesos.v1.ExecutorInfo`, for anything not
    /// in the fields above.
    pub executor_info: RVec<u8>,
}

/// A container that survived an agent restart.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ContainerState {
    pub container_id: RString,
    pub pid: u32,
    pub sandbox: RString,
}

/// One `mount(2)` to make inside the container's mount namespace, in order.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: ROption<RString>,
    pub target: RString,
    pub fstype: ROption<RString>,
    /// `MS_*` flags as Linux defines them (`MS_BIND` = 4096, ...).
    pub flags: u64,
    pub data: ROption<RString>,
}

/// What to do in the child between fork and exec. Isolators' specs are
/// merged in the order the isolators are configured.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchSpec {
    /// `CLONE_NEW*` flags as Linux defines them (`CLONE_NEWPID` = 0x20000000, ...).
    ///
    /// `CLONE_NEWCGROUP` (0x02000000) is unshared once the container's first
    /// process is in the cgroups `isolate` put it in, so the namespace is
    /// rooted there; the host then also gives the container a mount
    /// namespace in which every cgroup filesystem is read-only and mounted
    /// from inside the cgroup namespace (the container sees its own cgroups
    /// as the hierarchies' roots and cannot leave them).
    pub namespaces: u64,
    pub mounts: RVec<MountSpec>,
    pub environment: RVec<KeyValue>,
    /// Shell commands run inside the new namespaces before exec.
    pub pre_exec_commands: RVec<RString>,
}

/// A limit the container hit; the host destroys the container and reports
/// the task with `reason`.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Limitation {
    pub resources: RVec<Resource>,
    pub message: RString,
    /// A `mesos.v1.TaskStatus.Reason` number, e.g. 8 for
    /// `REASON_CONTAINER_LIMITATION_MEMORY`.
    pub reason: i32,
}

/// One usage figure, named as the field of Mesos' `ResourceStatistics`
/// (`cpus_user_time_secs`, `mem_rss_bytes`, ...).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Statistic {
    pub name: RString,
    pub value: f64,
}

/// Implemented by the host; an isolator calls it when a container hits a limit.
#[sabi_trait]
pub trait LimitationNotifier: Send + Sync + Clone {
    #[sabi(last_prefix_field)]
    fn notify(&self, container_id: RStr<'_>, limitation: &Limitation);
}

/// The notifier handed to [`Isolator::watch`].
pub type Notifier = LimitationNotifier_TO<'static, RArc<()>>;

/// An isolator. Calls for one container come in this order: `prepare`,
/// `isolate`, `watch`, any number of `update`/`usage`, then `cleanup`.
///
/// Evolution: methods may only be added at the end, with a default body.
#[sabi_trait]
pub trait Isolator: Send {
    /// After an agent restart: these containers are still running; release
    /// anything held for containers not in the list.
    fn recover(&mut self, containers: RVec<ContainerState>) -> Result<()>;
    fn prepare(&mut self, config: &ContainerConfig) -> Result<LaunchSpec>;
    /// The container's first process exists (stopped before exec) with `pid`.
    fn isolate(&mut self, container_id: RStr<'_>, pid: u32) -> Result<()>;
    fn watch(&mut self, container_id: RStr<'_>, notifier: Notifier) -> Result<()>;
    fn update(&mut self, container_id: RStr<'_>, resources: RVec<Resource>) -> Result<()>;
    fn usage(&mut self, container_id: RStr<'_>) -> Result<RVec<Statistic>>;
    /// All processes are gone: release everything. May be called for a
    /// container the isolator does not know; must then succeed.
    #[sabi(last_prefix_field)]
    fn cleanup(&mut self, container_id: RStr<'_>) -> Result<()>;
}

/// An isolator instance as it crosses the boundary.
pub type IsolatorBox = Isolator_TO<'static, RBox<()>>;
