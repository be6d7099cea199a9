//! Loaded module instances behind core's native traits. Every call runs in a
//! `module` span naming the instance (so its logs are attributed), and a
//! panic reported by the module poisons the instance: later calls fail
//! without entering the module, and the daemon keeps running.

use std::sync::{Arc, Mutex, PoisonError};

use abi_stable::{sabi_trait::TD_Opaque, std_types::RArc};
use corral_module_api::{
    allocator::AllocatorBox,
    hook::HookBox,
    isolator::{self as api_iso, IsolatorBox, LimitationNotifier_TO},
    ErrorKind, ModuleError, RStr,
};

use super::ffi;
use crate::{
    domain::{ExecutorView, Resource, TaskView},
    extension::{
        AgentEntry, Allocation, AllocatorPlugin, ContainerConfig, ContainerState, Decoration,
        FrameworkEntry, HookPlugin, IsolatorPlugin, LaunchSpec, LimitationNotifier,
        ModuleCallError, OfferMade, Recovered,
    },
};

/// The name of one instance and whether it has been poisoned.
#[derive(Debug)]
pub(super) struct Guard {
    module: String,
    poisoned: Mutex<Option<String>>,
}

impl Guard {
    pub(super) fn new(module: &str) -> Self {
        Guard {
            module: module.to_owned(),
            poisoned: Mutex::new(None),
        }
    }

    pub(super) fn module(&self) -> &str {
        &self.module
    }

    pub(super) fn call<T>(
        &self,
        method: &'static str,
        f: impl FnOnce() -> abi_stable::std_types::RResult<T, ModuleError>,
    ) -> Result<T, ModuleCallError> {
        let mut poisoned = self.poisoned.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cause) = poisoned.as_ref() {
            return Err(ModuleCallError::Poisoned {
                module: self.module.clone(),
                method,
                cause: cause.clone(),
            });
        }
        let span = tracing::info_span!("module", name = %self.module, method);
        let result = span.in_scope(f).into_result();
        result.map_err(|err| {
            let message = err.to_string();
            if err.known_kind() == Some(ErrorKind::Panicked) {
                tracing::error!(module = %self.module, method, %message, "module panicked; disabling it");
                *poisoned = Some(format!("{method}: {message}"));
                ModuleCallError::Panicked { module: self.module.clone(), method, message }
            } else {
                ModuleCallError::Failed { module: self.module.clone(), method, message }
            }
        })
    }
}

/// A hook module instance.
pub struct ForeignHook {
    guard: Guard,
    inner: HookBox,
}

impl ForeignHook {
    pub(super) fn new(module: &str, inner: HookBox) -> Self {
        ForeignHook {
            guard: Guard::new(module),
            inner,
        }
    }
}

impl std::fmt::Debug for ForeignHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignHook")
            .field("module", &self.guard.module)
            .finish()
    }
}

impl HookPlugin for ForeignHook {
    fn name(&self) -> &str {
        &self.guard.module
    }

    fn master_launch_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Decoration, ModuleCallError> {
        let view = ffi::task_to_api(task);
        self.guard
            .call("master_launch_task_label_decorator", || {
                self.inner.master_launch_task_label_decoration(&view)
            })
            .map(ffi::decoration_from_api)
    }

    fn agent_run_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Decoration, ModuleCallError> {
        let view = ffi::task_to_api(task);
        self.guard
            .call("agent_run_task_label_decorator", || {
                self.inner.agent_run_task_label_decoration(&view)
            })
            .map(ffi::decoration_from_api)
    }

    fn executor_environment_decorator(
        &self,
        executor: &ExecutorView,
    ) -> Result<Decoration, ModuleCallError> {
        let view = ffi::executor_to_api(executor);
        self.guard
            .call("executor_environment_decorator", || {
                self.inner.executor_environment_decoration(&view)
            })
            .map(ffi::decoration_from_api)
    }

    fn remove_executor_hook(&self, executor: &ExecutorView) -> Result<(), ModuleCallError> {
        let view = ffi::executor_to_api(executor);
        self.guard.call("remove_executor_hook", || {
            self.inner.remove_executor_hook(&view)
        })
    }
}

/// An allocator module instance.
pub struct ForeignAllocator {
    guard: Guard,
    inner: AllocatorBox,
}

impl ForeignAllocator {
    pub(super) fn new(module: &str, inner: AllocatorBox) -> Self {
        ForeignAllocator {
            guard: Guard::new(module),
            inner,
        }
    }
}

impl std::fmt::Debug for ForeignAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignAllocator")
            .field("module", &self.guard.module)
            .finish()
    }
}

impl AllocatorPlugin for ForeignAllocator {
    fn name(&self) -> &str {
        &self.guard.module
    }
    fn add_framework(&mut self, framework: &FrameworkEntry) -> Result<(), ModuleCallError> {
        let entry = ffi::framework_to_api(framework);
        self.guard
            .call("add_framework", || self.inner.add_framework_details(&entry))
    }
    fn remove_framework(&mut self, framework_id: &str) -> Result<(), ModuleCallError> {
        self.guard.call("remove_framework", || {
            self.inner.remove_framework(RStr::from(framework_id))
        })
    }
    fn set_framework_active(
        &mut self,
        framework_id: &str,
        active: bool,
    ) -> Result<(), ModuleCallError> {
        self.guard.call("set_framework_active", || {
            self.inner
                .set_framework_active(RStr::from(framework_id), active)
        })
    }
    fn add_agent(&mut self, agent: &AgentEntry) -> Result<(), ModuleCallError> {
        let entry = ffi::agent_to_api(agent);
        self.guard
            .call("add_agent", || self.inner.add_agent(&entry))
    }
    fn update_agent(&mut self, agent_id: &str, total: &[Resource]) -> Result<(), ModuleCallError> {
        let total = ffi::resources_to_api(total);
        self.guard.call("update_agent", || {
            self.inner.update_agent(RStr::from(agent_id), total)
        })
    }
    fn remove_agent(&mut self, agent_id: &str) -> Result<(), ModuleCallError> {
        self.guard.call("remove_agent", || {
            self.inner.remove_agent(RStr::from(agent_id))
        })
    }
    fn set_agent_active(&mut self, agent_id: &str, active: bool) -> Result<(), ModuleCallError> {
        self.guard.call("set_agent_active", || {
            self.inner.set_agent_active(RStr::from(agent_id), active)
        })
    }
    fn recover_resources(
        &mut self,
        recovered: &Recovered,
        now_ms: u64,
    ) -> Result<(), ModuleCallError> {
        let entry = ffi::recovered_to_api(recovered);
        self.guard.call("recover_resources", || {
            self.inner.resources_returned(&entry, now_ms)
        })
    }
    fn revive_offers(&mut self, framework_id: &str) -> Result<(), ModuleCallError> {
        self.guard.call("revive_offers", || {
            self.inner.revive_offers(RStr::from(framework_id))
        })
    }
    fn suppress_offers(&mut self, framework_id: &str) -> Result<(), ModuleCallError> {
        self.guard.call("suppress_offers", || {
            self.inner.suppress_offers(RStr::from(framework_id))
        })
    }
    fn allocate(&mut self, now_ms: u64) -> Result<Vec<Allocation>, ModuleCallError> {
        self.guard
            .call("allocate", || self.inner.allocate(now_ms))
            .map(|list| list.into_iter().map(ffi::allocation_from_api).collect())
    }
    fn offers_made(&mut self, offers: &[OfferMade]) -> Result<(), ModuleCallError> {
        let offers = ffi::offers_to_api(offers);
        self.guard
            .call("offers_made", || self.inner.offers_made(offers))
    }
}

/// An isolator module instance.
pub struct ForeignIsolator {
    guard: Guard,
    inner: IsolatorBox,
}

impl ForeignIsolator {
    pub(super) fn new(module: &str, inner: IsolatorBox) -> Self {
        ForeignIsolator {
            guard: Guard::new(module),
            inner,
        }
    }
}

impl std::fmt::Debug for ForeignIsolator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignIsolator")
            .field("module", &self.guard.module)
            .finish()
    }
}

/// The host's limitation callback handed to isolators.
#[derive(Clone)]
struct SinkNotifier {
    sink: LimitationNotifier,
}

impl api_iso::LimitationNotifier for SinkNotifier {
    fn notify(&self, container_id: RStr<'_>, limitation: &api_iso::Limitation) {
        (self.sink)(container_id.as_str(), ffi::limitation_from_api(limitation));
    }
}

impl IsolatorPlugin for ForeignIsolator {
    fn name(&self) -> &str {
        &self.guard.module
    }
    fn recover(&mut self, containers: &[ContainerState]) -> Result<(), ModuleCallError> {
        let list = containers.iter().map(ffi::summary_to_api).collect();
        self.guard.call("recover", || self.inner.recover(list))
    }
    fn prepare(&mut self, spec: &ContainerConfig) -> Result<LaunchSpec, ModuleCallError> {
        let config = ffi::container_to_api(spec);
        self.guard
            .call("prepare", || self.inner.prepare(&config))
            .map(ffi::launch_from_api)
    }
    fn isolate(&mut self, container_id: &str, pid: u32) -> Result<(), ModuleCallError> {
        self.guard.call("isolate", || {
            self.inner.isolate(RStr::from(container_id), pid)
        })
    }
    fn watch(
        &mut self,
        container_id: &str,
        sink: LimitationNotifier,
    ) -> Result<(), ModuleCallError> {
        let notifier = LimitationNotifier_TO::from_ptr(
            RArc::new(SinkNotifier {
                sink: Arc::clone(&sink),
            }),
            TD_Opaque,
        );
        self.guard.call("watch", || {
            self.inner.watch(RStr::from(container_id), notifier)
        })
    }
    fn update(
        &mut self,
        container_id: &str,
        resources: &[Resource],
    ) -> Result<(), ModuleCallError> {
        let list = ffi::resources_to_api(resources);
        self.guard.call("update", || {
            self.inner.update(RStr::from(container_id), list)
        })
    }
    fn usage(&mut self, container_id: &str) -> Result<Vec<(String, f64)>, ModuleCallError> {
        self.guard
            .call("usage", || self.inner.usage(RStr::from(container_id)))
            .map(ffi::statistics_from_api)
    }
    fn cleanup(&mut self, container_id: &str) -> Result<(), ModuleCallError> {
        self.guard
            .call("cleanup", || self.inner.cleanup(RStr::from(container_id)))
    }
}
