//! The native traits the rest of core uses for allocators, isolators and
//! hooks. `module_host` implements them over loaded modules; nothing here
//! knows about the ABI.

mod allocator;
mod error;
mod hook;
mod hooks;
mod isolator;

pub use allocator::{AgentSpec, Allocation, AllocatorPlugin, FrameworkSpec, RecoveredResources};
pub use error::ModuleCallError;
pub use hook::HookPlugin;
pub use hooks::{Hooks, LabelPoint};
pub use isolator::{
    ContainerLimitation, ContainerSpec, ContainerSummary, IsolatorPlugin, LaunchPlan,
    LimitationSink, Mount, VolumeSpec,
};
