//! Hook modules decorate tasks and executors at fixed points (Mesos' `Hook`).
//!
//! Decorators return `RNone` to leave things as they are, or `RSome(list)` to
//! *replace* the list (Mesos 0.23+ semantics). Hooks run in configured order,
//! each seeing the previous one's output.

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RString, RVec},
    StableAbi,
};

use crate::{error::ModuleError, types::KeyValue};

type Result<T> = abi_stable::std_types::RResult<T, ModuleError>;

/// A task being launched.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct TaskView {
    pub task_id: RString,
    pub name: RString,
    pub framework_id: RString,
    pub agent_id: RString,
    pub labels: RVec<KeyValue>,
    /// The protobuf encoding of the `mesos.v1.TaskInfo`.
    pub task_info: RVec<u8>,
}

/// An executor being launched or removed.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ExecutorView {
    pub executor_id: RString,
    pub framework_id: RString,
    pub agent_id: RString,
    /// The executor's own environment (its command's variables) with the
    /// changes of the hooks before this one. Whatever the hooks return,
    /// the command's own variables win over theirs, and isolators'
    /// variables win over both.
    pub environment: RVec<KeyValue>,
    /// The protobuf encoding of the `mesos.v1.ExecutorInfo`.
    pub executor_info: RVec<u8>,
}

/// A hook. Every method has a default that leaves things unchanged.
///
/// Evolution: methods may only be added at the end, with a default body.
#[sabi_trait]
pub trait Hook: Send + Sync {
    /// Master, launching a task: the task's new labels.
    fn master_launch_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<ROption<RVec<KeyValue>>>;
    /// Agent, running a task: the task's new labels.
    fn agent_run_task_label_decorator(&self, task: &TaskView) -> Result<ROption<RVec<KeyValue>>>;
    /// Agent, launching an executor: its new environment.
    fn executor_environment_decorator(
        &self,
        executor: &ExecutorView,
    ) -> Result<ROption<RVec<KeyValue>>>;
    /// Agent, an executor was removed.
    #[sabi(last_prefix_field)]
    fn remove_executor_hook(&self, executor: &ExecutorView) -> Result<()>;
}

/// A hook instance as it crosses the boundary.
pub type HookBox = Hook_TO<'static, RBox<()>>;
