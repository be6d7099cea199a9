use super::ModuleCallError;
use crate::domain::{ExecutorView, KeyValue, TaskView};

/// A hook (see `corral_module_api::hook::Hook`): `Ok(None)` leaves the list
/// unchanged, `Ok(Some(list))` replaces it.
pub trait HookPlugin: Send + Sync {
    fn name(&self) -> &str;
    fn master_launch_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleCallError>;
    fn agent_run_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleCallError>;
    fn executor_environment_decorator(
        &self,
        executor: &ExecutorView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleCallError>;
    fn remove_executor_hook(&self, executor: &ExecutorView) -> Result<(), ModuleCallError>;
}
