//! Native traits module authors implement, and the adapters that expose them
//! through the ABI with every call guarded against panics.
//!
//! A module implements [`AllocatorModule`], [`IsolatorModule`] or
//! [`HookModule`] with ordinary `Result`s and lists itself with
//! [`allocator`], [`isolator`] or [`hook`] inside [`crate::export_modules!`].
//! The constructor installs the tracing bridge, so `tracing` events inside
//! the module reach the host's log.

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RStr, RVec},
};

use super::{install_logging, panic_guard::guard, params::Params};
use crate::{
    allocator::{
        AgentEntry, Allocation, Allocator, AllocatorBox, Allocator_TO, FrameworkDetails,
        FrameworkEntry, OfferMade, Recovered, Returned,
    },
    error::ModuleError,
    hook::{Decoration, ExecutorView, Hook, HookBox, Hook_TO, TaskView},
    host::Host,
    isolator::{
        ContainerConfig, ContainerState, Isolator, IsolatorBox, Isolator_TO, LaunchSpec, Notifier,
        Statistic,
    },
    parameters::{ModuleParams, ParamSpec},
    root::{ModuleConstructor, ModuleDescriptor},
    types::{KeyValue, Resource},
};

type Result<T> = std::result::Result<T, ModuleError>;

/// An allocator written in plain Rust; see [`crate::allocator::Allocator`]
/// for what each call means.
pub trait AllocatorModule: Send + Sized + 'static {
    fn new(params: &Params, host: &Host) -> Result<Self>;
    /// The parameters this module takes. `Some` declares them: the host
    /// then refuses other keys and values not of their kind before `new`
    /// runs, gives `new` the defaults of those not set, and
    /// `corral modules list --verbose` prints them. `None` (the default)
    /// leaves every check to `new`.
    fn parameters() -> Option<Vec<ParamSpec>> {
        None
    }
    fn add_framework(&mut self, framework: &FrameworkEntry) -> Result<()>;
    fn remove_framework(&mut self, framework_id: &str) -> Result<()>;
    fn set_framework_active(&mut self, framework_id: &str, active: bool) -> Result<()>;
    fn add_agent(&mut self, agent: &AgentEntry) -> Result<()>;
    fn update_agent(&mut self, agent_id: &str, total: Vec<Resource>) -> Result<()>;
    fn remove_agent(&mut self, agent_id: &str) -> Result<()>;
    fn set_agent_active(&mut self, agent_id: &str, active: bool) -> Result<()>;
    fn recover_resources(&mut self, recovered: &Recovered, now_ms: u64) -> Result<()>;
    fn revive_offers(&mut self, framework_id: &str) -> Result<()>;
    fn suppress_offers(&mut self, framework_id: &str) -> Result<()>;
    fn allocate(&mut self, now_ms: u64) -> Result<Vec<Allocation>>;
    /// A framework is added, with its name, roles and capabilities (hosts
    /// from 1.1 call this instead of `add_framework`; by default it calls
    /// `add_framework`).
    fn add_framework_details(&mut self, framework: &FrameworkDetails) -> Result<()> {
        self.add_framework(&framework.entry)
    }
    /// Resources come back, with why (hosts from 1.1 call this instead of
    /// `recover_resources`; by default it calls `recover_resources`).
    fn resources_returned(&mut self, returned: &Returned, now_ms: u64) -> Result<()> {
        self.recover_resources(&returned.recovered, now_ms)
    }
    /// The offers made from the latest `allocate`'s grants, with their ids
    /// (ignored by default).
    fn offers_made(&mut self, _offers: Vec<OfferMade>) -> Result<()> {
        Ok(())
    }
}

/// An isolator written in plain Rust; see [`crate::isolator::Isolator`].
/// Only `prepare` is required; the rest default to doing nothing.
pub trait IsolatorModule: Send + Sized + 'static {
    fn new(params: &Params, host: &Host) -> Result<Self>;
    /// The parameters this module takes. `Some` declares them: the host
    /// then refuses other keys and values not of their kind before `new`
    /// runs, gives `new` the defaults of those not set, and
    /// `corral modules list --verbose` prints them. `None` (the default)
    /// leaves every check to `new`.
    fn parameters() -> Option<Vec<ParamSpec>> {
        None
    }
    fn recover(&mut self, _containers: Vec<ContainerState>) -> Result<()> {
        Ok(())
    }
    fn prepare(&mut self, config: &ContainerConfig) -> Result<LaunchSpec>;
    fn isolate(&mut self, _container_id: &str, _pid: u32) -> Result<()> {
        Ok(())
    }
    fn watch(&mut self, _container_id: &str, _notifier: Notifier) -> Result<()> {
        Ok(())
    }
    fn update(&mut self, _container_id: &str, _resources: Vec<Resource>) -> Result<()> {
        Ok(())
    }
    fn usage(&mut self, _container_id: &str) -> Result<Vec<Statistic>> {
        Ok(Vec::new())
    }
    fn cleanup(&mut self, _container_id: &str) -> Result<()> {
        Ok(())
    }
}

/// A hook written in plain Rust; see [`crate::hook::Hook`]. Every method
/// defaults to leaving things unchanged.
pub trait HookModule: Send + Sync + Sized + 'static {
    fn new(params: &Params, host: &Host) -> Result<Self>;
    /// The parameters this module takes. `Some` declares them: the host
    /// then refuses other keys and values not of their kind before `new`
    /// runs, gives `new` the defaults of those not set, and
    /// `corral modules list --verbose` prints them. `None` (the default)
    /// leaves every check to `new`.
    fn parameters() -> Option<Vec<ParamSpec>> {
        None
    }
    fn master_launch_task_label_decorator(
        &self,
        _task: &TaskView,
    ) -> Result<Option<Vec<KeyValue>>> {
        Ok(None)
    }
    fn agent_run_task_label_decorator(&self, _task: &TaskView) -> Result<Option<Vec<KeyValue>>> {
        Ok(None)
    }
    fn executor_environment_decorator(
        &self,
        _executor: &ExecutorView,
    ) -> Result<Option<Vec<KeyValue>>> {
        Ok(None)
    }
    fn remove_executor_hook(&self, _executor: &ExecutorView) -> Result<()> {
        Ok(())
    }
    /// What to do to a launching task's labels on the master: entries to
    /// set and keys to remove, merged by the host after earlier hooks'.
    /// Implement this (not the `_decorator` above) in new hooks; by default
    /// it asks the `_decorator`, whose list replaces.
    fn master_launch_task_label_decoration(&self, task: &TaskView) -> Result<Decoration> {
        self.master_launch_task_label_decorator(task)
            .map(|answer| Decoration::from_replacement(into_roption(answer)))
    }
    /// The same on the agent, as it runs a task.
    fn agent_run_task_label_decoration(&self, task: &TaskView) -> Result<Decoration> {
        self.agent_run_task_label_decorator(task)
            .map(|answer| Decoration::from_replacement(into_roption(answer)))
    }
    /// What to do to a launching executor's environment.
    fn executor_environment_decoration(&self, executor: &ExecutorView) -> Result<Decoration> {
        self.executor_environment_decorator(executor)
            .map(|answer| Decoration::from_replacement(into_roption(answer)))
    }
}

/// A module as [`crate::export_modules!`] lists it: its descriptor and the
/// parameters it declares. A hand-made [`ModuleDescriptor`] converts into
/// one that declares none.
#[derive(Debug)]
pub struct Described {
    pub descriptor: ModuleDescriptor,
    pub parameters: Option<Vec<ParamSpec>>,
}

impl From<ModuleDescriptor> for Described {
    fn from(descriptor: ModuleDescriptor) -> Self {
        Described {
            descriptor,
            parameters: None,
        }
    }
}

impl From<Described> for ModuleDescriptor {
    fn from(described: Described) -> Self {
        described.descriptor
    }
}

impl Described {
    /// What the library reports for this module, if it declares parameters.
    pub fn into_params(self) -> Option<ModuleParams> {
        let params = self.parameters?;
        Some(ModuleParams {
            module: self.descriptor.name,
            params: params.into(),
        })
    }
}

/// Describes an allocator module implemented by `T`.
pub fn allocator<T: AllocatorModule>(name: &str, description: &str) -> Described {
    Described {
        descriptor: ModuleDescriptor::new(
            name,
            description,
            ModuleConstructor::Allocator(construct_allocator::<T>),
        ),
        parameters: T::parameters(),
    }
}

/// Describes an isolator module implemented by `T`.
pub fn isolator<T: IsolatorModule>(name: &str, description: &str) -> Described {
    Described {
        descriptor: ModuleDescriptor::new(
            name,
            description,
            ModuleConstructor::Isolator(construct_isolator::<T>),
        ),
        parameters: T::parameters(),
    }
}

/// Describes a hook module implemented by `T`.
pub fn hook<T: HookModule>(name: &str, description: &str) -> Described {
    Described {
        descriptor: ModuleDescriptor::new(
            name,
            description,
            ModuleConstructor::Hook(construct_hook::<T>),
        ),
        parameters: T::parameters(),
    }
}

extern "C" fn construct_allocator<T: AllocatorModule>(
    params: RVec<KeyValue>,
    host: Host,
) -> RResult<AllocatorBox, ModuleError> {
    guard("constructor", || {
        install_logging(&host);
        let module = T::new(&Params::from(params), &host)?;
        Ok(Allocator_TO::from_value(Guarded(module), TD_Opaque))
    })
}

extern "C" fn construct_isolator<T: IsolatorModule>(
    params: RVec<KeyValue>,
    host: Host,
) -> RResult<IsolatorBox, ModuleError> {
    guard("constructor", || {
        install_logging(&host);
        let module = T::new(&Params::from(params), &host)?;
        Ok(Isolator_TO::from_value(Guarded(module), TD_Opaque))
    })
}

extern "C" fn construct_hook<T: HookModule>(
    params: RVec<KeyValue>,
    host: Host,
) -> RResult<HookBox, ModuleError> {
    guard("constructor", || {
        install_logging(&host);
        let module = T::new(&Params::from(params), &host)?;
        Ok(Hook_TO::from_value(Guarded(module), TD_Opaque))
    })
}

/// Wraps a native module so that every ABI call runs under [`guard`].
struct Guarded<T>(T);

type RRes<T> = RResult<T, ModuleError>;

impl<T: AllocatorModule> Allocator for Guarded<T> {
    fn add_framework(&mut self, framework: &FrameworkEntry) -> RRes<()> {
        guard("add_framework", || self.0.add_framework(framework))
    }
    fn remove_framework(&mut self, framework_id: RStr<'_>) -> RRes<()> {
        guard("remove_framework", || {
            self.0.remove_framework(framework_id.as_str())
        })
    }
    fn set_framework_active(&mut self, framework_id: RStr<'_>, active: bool) -> RRes<()> {
        guard("set_framework_active", || {
            self.0.set_framework_active(framework_id.as_str(), active)
        })
    }
    fn add_agent(&mut self, agent: &AgentEntry) -> RRes<()> {
        guard("add_agent", || self.0.add_agent(agent))
    }
    fn update_agent(&mut self, agent_id: RStr<'_>, total: RVec<Resource>) -> RRes<()> {
        guard("update_agent", || {
            self.0.update_agent(agent_id.as_str(), total.into_vec())
        })
    }
    fn remove_agent(&mut self, agent_id: RStr<'_>) -> RRes<()> {
        guard("remove_agent", || self.0.remove_agent(agent_id.as_str()))
    }
    fn set_agent_active(&mut self, agent_id: RStr<'_>, active: bool) -> RRes<()> {
        guard("set_agent_active", || {
            self.0.set_agent_active(agent_id.as_str(), active)
        })
    }
    fn recover_resources(&mut self, recovered: &Recovered, now_ms: u64) -> RRes<()> {
        guard("recover_resources", || {
            self.0.recover_resources(recovered, now_ms)
        })
    }
    fn revive_offers(&mut self, framework_id: RStr<'_>) -> RRes<()> {
        guard("revive_offers", || {
            self.0.revive_offers(framework_id.as_str())
        })
    }
    fn suppress_offers(&mut self, framework_id: RStr<'_>) -> RRes<()> {
        guard("suppress_offers", || {
            self.0.suppress_offers(framework_id.as_str())
        })
    }
    fn allocate(&mut self, now_ms: u64) -> RRes<RVec<Allocation>> {
        guard("allocate", || self.0.allocate(now_ms).map(RVec::from))
    }
    fn add_framework_details(&mut self, framework: &FrameworkDetails) -> RRes<()> {
        guard("add_framework", || self.0.add_framework_details(framework))
    }
    fn resources_returned(&mut self, returned: &Returned, now_ms: u64) -> RRes<()> {
        guard("recover_resources", || {
            self.0.resources_returned(returned, now_ms)
        })
    }
    fn offers_made(&mut self, offers: RVec<OfferMade>) -> RRes<()> {
        guard("offers_made", || self.0.offers_made(offers.into_vec()))
    }
}

impl<T: IsolatorModule> Isolator for Guarded<T> {
    fn recover(&mut self, containers: RVec<ContainerState>) -> RRes<()> {
        guard("recover", || self.0.recover(containers.into_vec()))
    }
    fn prepare(&mut self, config: &ContainerConfig) -> RRes<LaunchSpec> {
        guard("prepare", || self.0.prepare(config))
    }
    fn isolate(&mut self, container_id: RStr<'_>, pid: u32) -> RRes<()> {
        guard("isolate", || self.0.isolate(container_id.as_str(), pid))
    }
    fn watch(&mut self, container_id: RStr<'_>, notifier: Notifier) -> RRes<()> {
        guard("watch", || self.0.watch(container_id.as_str(), notifier))
    }
    fn update(&mut self, container_id: RStr<'_>, resources: RVec<Resource>) -> RRes<()> {
        guard("update", || {
            self.0.update(container_id.as_str(), resources.into_vec())
        })
    }
    fn usage(&mut self, container_id: RStr<'_>) -> RRes<RVec<Statistic>> {
        guard("usage", || {
            self.0.usage(container_id.as_str()).map(RVec::from)
        })
    }
    fn cleanup(&mut self, container_id: RStr<'_>) -> RRes<()> {
        guard("cleanup", || self.0.cleanup(container_id.as_str()))
    }
}

fn into_roption(list: Option<Vec<KeyValue>>) -> ROption<RVec<KeyValue>> {
    list.map(RVec::from).into()
}

impl<T: HookModule> Hook for Guarded<T> {
    fn master_launch_task_label_decorator(&self, task: &TaskView) -> RRes<ROption<RVec<KeyValue>>> {
        guard("master_launch_task_label_decorator", || {
            self.0
                .master_launch_task_label_decorator(task)
                .map(into_roption)
        })
    }
    fn agent_run_task_label_decorator(&self, task: &TaskView) -> RRes<ROption<RVec<KeyValue>>> {
        guard("agent_run_task_label_decorator", || {
            self.0
                .agent_run_task_label_decorator(task)
                .map(into_roption)
        })
    }
    fn executor_environment_decorator(
        &self,
        executor: &ExecutorView,
    ) -> RRes<ROption<RVec<KeyValue>>> {
        guard("executor_environment_decorator", || {
            self.0
                .executor_environment_decorator(executor)
                .map(into_roption)
        })
    }
    fn remove_executor_hook(&self, executor: &ExecutorView) -> RRes<()> {
        guard("remove_executor_hook", || {
            self.0.remove_executor_hook(executor)
        })
    }
    // Guarded under the decoration point's name, as the 1.0 methods are.
    fn master_launch_task_label_decoration(&self, task: &TaskView) -> RRes<Decoration> {
        guard("master_launch_task_label_decorator", || {
            self.0.master_launch_task_label_decoration(task)
        })
    }
    fn agent_run_task_label_decoration(&self, task: &TaskView) -> RRes<Decoration> {
        guard("agent_run_task_label_decorator", || {
            self.0.agent_run_task_label_decoration(task)
        })
    }
    fn executor_environment_decoration(&self, executor: &ExecutorView) -> RRes<Decoration> {
        guard("executor_environment_decorator", || {
            self.0.executor_environment_decoration(executor)
        })
    }
}
