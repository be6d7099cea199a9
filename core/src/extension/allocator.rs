use super::ModuleCallError;
use crate::domain::Resource;

/// A framework as allocators see it: its allocation role, and what it told
/// the master about itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FrameworkEntry {
    pub id: String,
    pub role: String,
    pub weight: f64,
    pub active: bool,
    pub name: String,
    pub user: String,
    pub principal: Option<String>,
    /// Every role it subscribed with; `role` is the first.
    pub roles: Vec<String>,
    /// Capability names as Mesos spells them (`MULTI_ROLE`, ...).
    pub capabilities: Vec<String>,
}

/// Resources of one agent for one framework.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Allocation {
    pub framework_id: String,
    pub agent_id: String,
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentEntry {
    pub id: String,
    pub hostname: String,
    pub total: Vec<Resource>,
    pub used: Vec<Allocation>,
    pub active: bool,
}

/// Why resources come back to the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnReason {
    /// DECLINE.
    #[default]
    Declined,
    /// What an ACCEPT left unused.
    Unused,
    /// The offer was rescinded (framework or agent gone or disconnected).
    Rescinded,
    /// A task ended.
    TaskEnded,
    /// A grant that could not be made into an offer.
    NotOffered,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recovered {
    pub allocation: Allocation,
    pub refuse_seconds: Option<f64>,
    pub reason: ReturnReason,
    /// The offer the resources were in, if any.
    pub offer_id: Option<String>,
    /// The task that used them, if one ended.
    pub task_id: Option<String>,
}

/// An offer made from an allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferMade {
    pub offer_id: String,
    pub allocation: Allocation,
}

/// An allocator (see `corral_module_api::allocator::Allocator`). Calls take
/// `&mut self`: the master owns its allocator and serialises calls.
pub trait AllocatorPlugin: Send {
    fn name(&self) -> &str;
    fn add_framework(&mut self, framework: &FrameworkEntry) -> Result<(), ModuleCallError>;
    fn remove_framework(&mut self, framework_id: &str) -> Result<(), ModuleCallError>;
    fn set_framework_active(
        &mut self,
        framework_id: &str,
        active: bool,
    ) -> Result<(), ModuleCallError>;
    fn add_agent(&mut self, agent: &AgentEntry) -> Result<(), ModuleCallError>;
    fn update_agent(&mut self, agent_id: &str, total: &[Resource]) -> Result<(), ModuleCallError>;
    fn remove_agent(&mut self, agent_id: &str) -> Result<(), ModuleCallError>;
    fn set_agent_active(&mut self, agent_id: &str, active: bool) -> Result<(), ModuleCallError>;
    fn recover_resources(
        &mut self,
        recovered: &Recovered,
        now_ms: u64,
    ) -> Result<(), ModuleCallError>;
    fn revive_offers(&mut self, framework_id: &str) -> Result<(), ModuleCallError>;
    fn suppress_offers(&mut self, framework_id: &str) -> Result<(), ModuleCallError>;
    fn allocate(&mut self, now_ms: u64) -> Result<Vec<Allocation>, ModuleCallError>;
    /// The offers made from the latest allocation's grants.
    fn offers_made(&mut self, _offers: &[OfferMade]) -> Result<(), ModuleCallError> {
        Ok(())
    }
}
