//! The configured hooks, run in order at each decoration point.

use super::{Decoration, HookPlugin};
use crate::{
    domain::{
        convert::{labels_from_proto, labels_to_proto},
        ExecutorView, TaskView,
    },
    proto::v1,
};

/// Where a task's labels are decorated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelPoint {
    /// On the master, as a task launches (`master_launch_task_label_decorator`).
    MasterLaunch,
    /// On the agent, as it runs a task (`agent_run_task_label_decorator`).
    AgentRun,
}

/// Hook modules in their configured order. A hook that fails is logged and
/// leaves what it would have decorated as it was.
#[derive(Default)]
pub struct Hooks(Vec<Box<dyn HookPlugin>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl From<Vec<Box<dyn HookPlugin>>> for Hooks {
    fn from(hooks: Vec<Box<dyn HookPlugin>>) -> Self {
        Hooks(hooks)
    }
}

impl Hooks {
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|h| h.name()).collect()
    }

    /// Adds `hook` after the others.
    pub fn push(&mut self, hook: Box<dyn HookPlugin>) {
        self.0.push(hook);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs every hook's label decorator of `point` on `task`, in order;
    /// each sees the labels the one before it left.
    pub fn decorate_labels(
        &self,
        point: LabelPoint,
        framework_id: &str,
        agent_id: &str,
        task: &mut v1::TaskInfo,
    ) {
        for hook in &self.0 {
            let description = TaskView {
                task_id: task.task_id.value.clone(),
                name: task.name.clone(),
                framework_id: framework_id.to_owned(),
                agent_id: agent_id.to_owned(),
                labels: labels_from_proto(task.labels.as_ref()),
                task_info: prost::Message::encode_to_vec(task),
            };
            let decorated = match point {
                LabelPoint::MasterLaunch => hook.master_launch_task_label_decorator(&description),
                LabelPoint::AgentRun => hook.agent_run_task_label_decorator(&description),
            };
            match decorated {
                Ok(decoration) if decoration != Decoration::default() => {
                    let mut labels = description.labels;
                    decoration.apply(&mut labels);
                    task.labels = Some(labels_to_proto(&labels));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "hook failed; labels left as they were"),
            }
        }
    }

    /// Runs every hook's executor environment decorator, in order; each
    /// sees `executor.environment` as the one before it left it, and its
    /// decoration is applied to it.
    pub fn decorate_environment(&self, executor: &mut ExecutorView) {
        for hook in &self.0 {
            match hook.executor_environment_decorator(executor) {
                Ok(decoration) => decoration.apply(&mut executor.environment),
                Err(e) => tracing::warn!(error = %e, "hook failed; environment left as it was"),
            }
        }
    }

    /// Tells every hook that `executor` is gone.
    pub fn executor_removed(&self, executor: &ExecutorView) {
        for hook in &self.0 {
            if let Err(e) = hook.remove_executor_hook(executor) {
                tracing::warn!(error = %e, "remove-executor hook failed");
            }
        }
    }
}
