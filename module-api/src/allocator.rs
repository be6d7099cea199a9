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

/// A framework with what it told the master about itself (1.1): what
/// [`Allocator::add_framework_details`] receives.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct FrameworkDetails {
    pub entry: FrameworkEntry,
    /// `FrameworkInfo.name`.
    pub name: RString,
    /// `FrameworkInfo.user`.
    pub user: RString,
    /// `FrameworkInfo.principal`, when it has one.
    pub principal: ROption<RString>,
    /// Every role it subscribed with (`roles`, else `role`, else `*`);
    /// `entry.role`, the one its resources are allocated to, is the first.
    pub roles: RVec<RString>,
    /// Its capabilities as Mesos spells them (`MULTI_ROLE`,
    /// `REVOCABLE_RESOURCES`, `GPU_RESOURCES`, ...).
    pub capabilities: RVec<RString>,
}

/// Why resources come back to the allocator (1.1). A number rather than an
/// enum, so that a newer host can add reasons without breaking modules:
/// a value a module does not know is to be read as [`ReturnReason::OTHER`].
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReturnReason(pub u8);

impl ReturnReason {
    /// A reason this module does not know.
    pub const OTHER: Self = Self(0);
    /// The framework declined the offer (DECLINE).
    pub const DECLINED: Self = Self(1);
    /// What an ACCEPT left unused of the offers it accepted.
    pub const UNUSED: Self = Self(2);
    /// The offer was rescinded: its framework disconnected or was removed,
    /// or its agent disconnected.
    pub const RESCINDED: Self = Self(3);
    /// A task ended (a terminal state) and its resources are free.
    pub const TASK_ENDED: Self = Self(4);
    /// A grant of `allocate` was not made into an offer: its framework or
    /// agent was no longer connected when the round ended.
    pub const NOT_OFFERED: Self = Self(5);

    /// The reason's name (`declined`, `unused`, ...; `other` if unknown).
    pub fn name(self) -> &'static str {
        match self {
            Self::DECLINED => "declined",
            Self::UNUSED => "unused",
            Self::RESCINDED => "rescinded",
            Self::TASK_ENDED => "task_ended",
            Self::NOT_OFFERED => "not_offered",
            _ => "other",
        }
    }
}

/// Resources coming back, with why and from what (1.1): what
/// [`Allocator::resources_returned`] receives.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Returned {
    pub recovered: Recovered,
    pub reason: ReturnReason,
    /// The offer they were in (declined, rescinded, partly used).
    pub offer_id: ROption<RString>,
    /// The task they were used by (`TASK_ENDED`).
    pub task_id: ROption<RString>,
}

/// An offer the master made from one of `allocate`'s grants (1.1).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct OfferMade {
    pub offer_id: RString,
    pub allocation: Allocation,
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
    /// 1.1: a framework is added, with its name, roles and capabilities.
    /// The host calls this instead of `add_framework`.
    fn add_framework_details(&mut self, framework: &FrameworkDetails) -> Result<()> {
        self.add_framework(&framework.entry)
    }
    /// 1.1: resources come back, with why. The host calls this instead of
    /// `recover_resources`.
    fn resources_returned(&mut self, returned: &Returned, now_ms: u64) -> Result<()> {
        self.recover_resources(&returned.recovered, now_ms)
    }
    /// 1.1: the offers the master made from the latest `allocate`'s grants
    /// (grants it could not offer come back as `NOT_OFFERED`).
    fn offers_made(&mut self, offers: RVec<OfferMade>) -> Result<()> {
        let _ = offers;
        abi_stable::std_types::RResult::ROk(())
    }
}

/// An allocator instance as it crosses the boundary.
pub type AllocatorBox = Allocator_TO<'static, RBox<()>>;
