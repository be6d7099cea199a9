//! The native traits the rest of core uses for allocators, isolators and
//! hooks. `module_host` implements them over loaded modules; nothing here
//! knows about the ABI.

mod allocator;
mod error;
mod hook;
mod hooks;
mod isolator;
mod leadership;

pub use allocator::{
    AgentEntry, Allocation, AllocatorPlugin, FrameworkEntry, OfferMade, Recovered, ReturnReason,
};
pub use error::ModuleCallError;
pub use hook::{Decoration, HookPlugin};
pub use hooks::{Hooks, LabelPoint};
pub use isolator::{
    ContainerConfig, ContainerState, IsolatorPlugin, LaunchSpec, Limitation, LimitationNotifier,
    MountSpec, Volume,
};
pub use leadership::{
    ElectionListener, LeaderListener, MasterContenderPlugin, MasterDetectorPlugin,
};
