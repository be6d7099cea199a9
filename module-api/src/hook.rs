//! Hook modules decorate tasks and executors at fixed points (Mesos' `Hook`).
//!
//! Hooks run in configured order, each seeing the previous one's output.
//! Since 1.1 the host calls the `*_decoration` methods, whose answer is a
//! [`Decoration`] the host merges: entries to set (an entry replaces those
//! with its key) and keys to remove, so a hook adds to what earlier hooks
//! did instead of replacing it. Their default bodies call the 1.0
//! decorators, whose `RSome(list)` still *replaces* the list (Mesos 0.23+
//! semantics) and `RNone` leaves it as it is: a 1.0 hook behaves as before.
//!
//! Precedence of an executor's environment, lowest first: Mesos' `MESOS_*`
//! variables, the hooks' (in order), the command's own variables, the
//! isolators' `LaunchSpec.environment`. Task labels: the master's
//! decorations apply as the task launches (and show in `/master/state`),
//! the agent's when it runs it (what the executor gets).

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RString, RVec},
    StableAbi,
};

use crate::{error::ModuleError, types::KeyValue};

/// What a hook does to a list of labels or environment variables (1.1).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Default)]
pub struct Decoration {
    /// Replace the whole list first (what a 1.0 decorator's `RSome` did).
    pub replace: ROption<RVec<KeyValue>>,
    /// Keys whose entries are removed.
    pub remove: RVec<RString>,
    /// Entries set, in order: each replaces the entries with its key.
    pub set: RVec<KeyValue>,
}

impl Decoration {
    /// Leaves the list as it is.
    pub fn unchanged() -> Self {
        Decoration::default()
    }

    /// Sets `entries` (each replacing entries with its key), keeping the rest.
    pub fn set(entries: impl IntoIterator<Item = KeyValue>) -> Self {
        Decoration {
            set: entries.into_iter().collect(),
            ..Decoration::default()
        }
    }

    /// Also removes the entries with these keys.
    pub fn removing<S: Into<String>>(self, keys: impl IntoIterator<Item = S>) -> Self {
        Decoration {
            remove: keys.into_iter().map(|k| RString::from(k.into())).collect(),
            ..self
        }
    }

    /// What a 1.0 decorator's answer means: `RSome(list)` replaces.
    pub fn from_replacement(answer: ROption<RVec<KeyValue>>) -> Self {
        Decoration {
            replace: answer,
            ..Decoration::default()
        }
    }
}

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
    /// 1.1: master, launching a task: what to do to its labels. The host
    /// calls this instead of `master_launch_task_label_decorator`.
    fn master_launch_task_label_decoration(&self, task: &TaskView) -> Result<Decoration> {
        self.master_launch_task_label_decorator(task)
            .map(Decoration::from_replacement)
    }
    /// 1.1: agent, running a task: what to do to its labels.
    fn agent_run_task_label_decoration(&self, task: &TaskView) -> Result<Decoration> {
        self.agent_run_task_label_decorator(task)
            .map(Decoration::from_replacement)
    }
    /// 1.1: agent, launching an executor: what to do to its environment.
    fn executor_environment_decoration(&self, executor: &ExecutorView) -> Result<Decoration> {
        self.executor_environment_decorator(executor)
            .map(Decoration::from_replacement)
    }
}

/// A hook instance as it crosses the boundary.
pub type HookBox = Hook_TO<'static, RBox<()>>;
