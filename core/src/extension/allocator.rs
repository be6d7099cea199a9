use super::ModuleCallError;
use crate::domain::Resource;

#[derive(Debug, Clone, PartialEq)]
pub struct FrameworkEntry {
    pub id: String,
    pub role: String,
    pub weight: f64,
    pub active: bool,
}

/// Resources of one agent for one framework.
#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub allocation: Allocation,
    pub refuse_seconds: Option<f64>,
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
}
