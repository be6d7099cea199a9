//! Allocator modules decide which framework is offered which agent's
//! resources (Mesos' `Allocator` interface, made synchronous).
//!
//! The host tells the allocator about frameworks, agents and resources coming
//! back, and calls [`Allocator::allocate`] once per allocation cycle (every
//! `allocation_interval`, and when something changed). Time is passed in by
//! the host as monotonic milliseconds, so an allocator never reads a clock of
//! its own and behaves the same under a paused test clock.

use abi_stable::{
    sabi_trait,
    std_types::{RBox, ROption, RStr, RString, RVec},
    StableAbi,
};

use crate::{error::ModuleError, types::Resource};

type Result<T> = abi_stable::std_types::RResult<T, ModuleError>;

/// A framework as the allocator sees it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct FrameworkEntry {
    pub id: RString,
    /// The role the framework registered with (`*` by default).
    pub role: RString,
    /// The role's weight (1.0 unless configured).
    pub weight: f64,
    /// Whether the framework is connected and wants offers.
    pub active: bool,
}

/// Resources of one agent held by one framework (used, offered, or to offer).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Allocation {
    pub framework_id: RString,
    pub agent_id: RString,
    pub resources: RVec<Resource>,
}

/// An agent as the allocator sees it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct AgentEntry {
    pub id: RString,
    pub hostname: RString,
    /// Everything the agent has.
    pub total: RVec<Resource>,
    /// What running tasks already use, per framework (on re-registration).
    pub used: RVec<Allocation>,
    pub active: bool,
}

/// Resources given back to the allocator: an offer declined or rescinded, the
/// unused part of an accepted offer, or a finished task's resources.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Recovered {
    pub allocation: Allocation,
    /// `Filters.refuse_seconds` from a DECLINE or ACCEPT; `RNone` for no filter.
    pub refuse_seconds: ROption<f64>,
}

/// An allocator. The host serialises calls to one instance.
///
/// Evolution: methods may only be added at the end, with a default body.
#[sabi_trait]
pub trait Allocator: Send {
    fn add_framework(&mut self, framework: &FrameworkEntry) -> Result<()>;
    fn remove_framework(&mut self, framework_id: RStr<'_>) -> Result<()>;
    /// Change whether a framework receives offers (it connected or left).
    fn set_framework_active(&mut self, framework_id: RStr<'_>, active: bool) -> Result<()>;
    fn add_agent(&mut self, agent: &AgentEntry) -> Result<()>;
    /// Replace an agent's total resources (it re-registered with new ones).
    fn update_agent(&mut self, agent_id: RStr<'_>, total: RVec<Resource>) -> Result<()>;
    fn remove_agent(&mut self, agent_id: RStr<'_>) -> Result<()>;
    fn set_agent_active(&mut self, agent_id: RStr<'_>, active: bool) -> Result<()>;
    /// Resources come back; with `refuse_seconds` they are not offered to the
    /// same framework on the same agent again until the filter expires.
    fn recover_resources(&mut self, recovered: &Recovered, now_ms: u64) -> Result<()>;
    /// REVIVE: drop the framework's filters and resume offers after SUPPRESS.
    fn revive_offers(&mut self, framework_id: RStr<'_>) -> Result<()>;
    /// SUPPRESS: stop offering to the framework until it revives.
    fn suppress_offers(&mut self, framework_id: RStr<'_>) -> Result<()>;
    /// One allocation cycle: what to offer to whom. The returned resources
    /// count as allocated until they come back through `recover_resources`.
    #[sabi(last_prefix_field)]
    fn allocate(&mut self, now_ms: u64) -> Result<RVec<Allocation>>;
}

/// An allocator instance as it crosses the boundary.
pub type AllocatorBox = Allocator_TO<'static, RBox<()>>;
