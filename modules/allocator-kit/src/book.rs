//! The bookkeeping: frameworks, agents, what each framework holds on each
//! agent, decline filters with their expiry, suppress and revive, and the
//! epochs that tell a round which earlier verdicts still hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::resources::Resources;

/// Most a decline filter may last (Mesos caps `refuse_seconds` at a year).
const MAX_REFUSE_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// Used when a filter asks for a negative or non-finite duration.
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

/// What a framework declined on one agent, until when.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub until_ms: u64,
    /// Offers made entirely of these resources are filtered. Frameworks
    /// that decline the same offer of an agent share one copy, so a round
    /// compares it with what the agent has once, not once per framework.
    pub resources: Arc<Resources>,
}

/// A framework as policies see it.
#[derive(Debug)]
pub struct Framework {
    pub(crate) id: String,
    pub(crate) role: String,
    pub(crate) roles: Vec<String>,
    pub(crate) weight: f64,
    pub(crate) name: String,
    pub(crate) capabilities: Vec<String>,
    pub(crate) active: bool,
    pub(crate) suppressed: bool,
    /// Everything offered to or used by the framework, on all agents.
    pub(crate) allocated: Resources,
    /// Offers made to it since it was added.
    pub(crate) offers: u64,
    /// A number of its own while it exists: filters are keyed by it.
    pub(crate) slot: u32,
}

impl Framework {
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The role its resources are allocated to.
    pub fn role(&self) -> &str {
        &self.role
    }
    /// Every role it subscribed with (the first is [`Framework::role`]).
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
    /// The weight the host gave its role (1 unless configured).
    pub fn weight(&self) -> f64 {
        self.weight
    }
    /// `FrameworkInfo.name` (empty from a 1.0 host).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Capability names as Mesos spells them (`MULTI_ROLE`, ...).
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c == name)
    }
    /// Everything offered to it or used by its tasks, on every agent.
    pub fn allocated(&self) -> &Resources {
        &self.allocated
    }
    /// How many offers it was made since it was added.
    pub fn offers_made(&self) -> u64 {
        self.offers
    }
}

/// An agent as policies see it.
#[derive(Debug)]
pub struct Agent {
    /// The same allocation as the agent's key in the book.
    pub(crate) id: Arc<str>,
    pub(crate) hostname: Box<str>,
    pub(crate) total: Resources,
    pub(crate) active: bool,
    /// Offered or used, per framework.
    pub(crate) allocated: foldhash::HashMap<String, Resources>,
    /// Decline filters on this agent, by framework slot (looked up per
    /// agent in every round, so kept with the agent).
    pub(crate) filters: foldhash::HashMap<u32, Filter>,
    /// What the latest filter on this agent declined, for sharing.
    pub(crate) last_declined: Option<Arc<Resources>>,
    /// Set when a round found that no framework wants what the agent has
    /// left; cleared by anything that changes what it has left.
    pub(crate) quiet: Option<Quiet>,
}

impl Agent {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn hostname(&self) -> &str {
        &self.hostname
    }
    /// Everything the agent has.
    pub fn total(&self) -> &Resources {
        &self.total
    }
    /// What `framework_id` holds on it (offered or used).
    pub fn allocated_to(&self, framework_id: &str) -> Option<&Resources> {
        self.allocated.get(framework_id)
    }
    /// What nobody holds.
    #[inline]
    pub fn available(&self) -> Resources {
        let mut free = self.total.clone();
        for used in self.allocated.values() {
            free.subtract(used);
        }
        free
    }
}

/// "Every framework passed this agent over": true for as long as neither
/// the agent's free resources nor the set of frameworks changes, and no
/// filter that took part in the verdict expires.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quiet {
    /// `Book::frameworks_epoch` when the verdict was reached.
    pub epoch: u64,
    /// The earliest expiry among the filters that passed the agent over.
    pub until_ms: u64,
}

/// A framework as the host describes it when it is added.
#[derive(Debug, Clone, Default)]
pub struct NewFramework {
    pub id: String,
    pub role: String,
    pub roles: Vec<String>,
    pub weight: f64,
    pub active: bool,
    pub name: String,
    pub capabilities: Vec<String>,
}

/// The allocator's state, apart from the policy.
#[derive(Debug)]
pub struct Book {
    pub(crate) frameworks: BTreeMap<String, Framework>,
    pub(crate) agents: BTreeMap<Arc<str>, Agent>,
    /// Sum of all agents' totals.
    pub(crate) cluster: Resources,
    /// Bumped whenever a framework comes, goes, or changes whether and how
    /// it takes offers; agents' `Quiet` verdicts from another epoch no
    /// longer hold.
    pub(crate) frameworks_epoch: u64,
    /// The earliest expiry of any filter: expired filters are dropped in
    /// the first round at or after it, not scanned for every round.
    pub(crate) next_filter_expiry_ms: u64,
    /// The next framework's `slot`, unless one is free.
    pub(crate) next_slot: u32,
    /// Slots of removed frameworks (their filters are gone), reused so
    /// that slots stay dense.
    free_slots: Vec<u32>,
}

/// A call named a framework or agent the allocator does not know.
#[derive(Debug, PartialEq, Eq)]
pub enum BookError {
    UnknownFramework(String),
    UnknownAgent(String),
}

impl std::fmt::Display for BookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BookError::UnknownFramework(id) => write!(f, "unknown framework '{id}'"),
            BookError::UnknownAgent(id) => write!(f, "unknown agent '{id}'"),
        }
    }
}

impl std::error::Error for BookError {}

impl Default for Book {
    fn default() -> Self {
        Book {
            frameworks: BTreeMap::new(),
            agents: BTreeMap::new(),
            cluster: Resources::default(),
            frameworks_epoch: 0,
            next_filter_expiry_ms: u64::MAX,
            next_slot: 0,
            free_slots: Vec::new(),
        }
    }
}

impl Book {
    pub fn framework(&self, id: &str) -> Option<&Framework> {
        self.frameworks.get(id)
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id)
    }

    pub fn frameworks(&self) -> impl Iterator<Item = &Framework> {
        self.frameworks.values()
    }

    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// The sum of every agent's total.
    pub fn cluster_total(&self) -> &Resources {
        &self.cluster
    }

    fn framework_mut(&mut self, id: &str) -> Result<&mut Framework, BookError> {
        self.frameworks
            .get_mut(id)
            .ok_or_else(|| BookError::UnknownFramework(id.to_owned()))
    }

    fn agent_mut(&mut self, id: &str) -> Result<&mut Agent, BookError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| BookError::UnknownAgent(id.to_owned()))
    }

    pub fn add_framework(&mut self, new: NewFramework) {
        self.frameworks_epoch += 1;
        // Re-adding (a framework that re-subscribed) keeps its allocations
        // and starts without filters.
        let (allocated, slot) = match self.frameworks.remove(&new.id) {
            Some(old) => {
                self.clear_filters_of(old.slot);
                (old.allocated, old.slot)
            }
            None => (Resources::default(), self.new_slot()),
        };
        let roles = if new.roles.is_empty() {
            vec![new.role.clone()]
        } else {
            new.roles
        };
        self.frameworks.insert(
            new.id.clone(),
            Framework {
                id: new.id,
                role: new.role,
                roles,
                weight: if new.weight > 0.0 { new.weight } else { 1.0 },
                name: new.name,
                capabilities: new.capabilities,
                active: new.active,
                suppressed: false,
                allocated,
                offers: 0,
                slot,
            },
        );
    }

    pub fn remove_framework(&mut self, id: &str) {
        self.frameworks_epoch += 1;
        let slot = self.frameworks.remove(id).map(|f| f.slot);
        for agent in self.agents.values_mut() {
            agent.allocated.remove(id);
            if let Some(slot) = slot {
                agent.filters.remove(&slot);
            }
        }
        self.free_slots.extend(slot);
    }

    fn new_slot(&mut self) -> u32 {
        self.free_slots.pop().unwrap_or_else(|| {
            self.next_slot += 1;
            self.next_slot - 1
        })
    }

    fn clear_filters_of(&mut self, slot: u32) {
        for agent in self.agents.values_mut() {
            agent.filters.remove(&slot);
        }
    }

    pub fn set_framework_active(&mut self, id: &str, active: bool) -> Result<(), BookError> {
        self.framework_mut(id)?.active = active;
        self.frameworks_epoch += 1;
        Ok(())
    }

    /// Adds an agent with what its running tasks already use, per
    /// framework. An agent added again (it re-registered) keeps its
    /// filters.
    pub fn add_agent(
        &mut self,
        id: &str,
        hostname: &str,
        total: Resources,
        used: Vec<(String, Resources)>,
        active: bool,
    ) {
        let filters = self
            .agents
            .get_mut(id)
            .map(|a| std::mem::take(&mut a.filters))
            .unwrap_or_default();
        self.remove_agent(id);
        self.cluster.add(&total);
        let id: Arc<str> = Arc::from(id);
        let mut agent = Agent {
            id: Arc::clone(&id),
            hostname: Box::from(hostname),
            total,
            active,
            allocated: foldhash::HashMap::default(),
            filters,
            last_declined: None,
            quiet: None,
        };
        for (framework, resources) in used {
            if let Some(f) = self.frameworks.get_mut(&framework) {
                f.allocated.add(&resources);
            }
            agent
                .allocated
                .entry(framework)
                .or_default()
                .add(&resources);
        }
        self.agents.insert(id, agent);
    }

    pub fn update_agent(&mut self, id: &str, total: Resources) -> Result<(), BookError> {
        let agent = self
            .agents
            .get_mut(id)
            .ok_or_else(|| BookError::UnknownAgent(id.to_owned()))?;
        self.cluster.subtract(&agent.total);
        self.cluster.add(&total);
        agent.total = total;
        agent.quiet = None;
        Ok(())
    }

    pub fn remove_agent(&mut self, id: &str) {
        if let Some(agent) = self.agents.remove(id) {
            self.cluster.subtract(&agent.total);
            for (framework, resources) in agent.allocated {
                if let Some(f) = self.frameworks.get_mut(&framework) {
                    f.allocated.subtract(&resources);
                }
            }
        }
    }

    pub fn set_agent_active(&mut self, id: &str, active: bool) -> Result<(), BookError> {
        let agent = self.agent_mut(id)?;
        agent.active = active;
        agent.quiet = None;
        Ok(())
    }

    /// Resources come back from `framework` on `agent`; with
    /// `refuse_seconds`, offers of no more than them are filtered.
    pub fn recover(
        &mut self,
        framework: &str,
        agent: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now_ms: u64,
    ) {
        let Some(a) = self.agents.get_mut(agent) else {
            if let Some(f) = self.frameworks.get_mut(framework) {
                f.allocated.subtract(resources);
            }
            return;
        };
        a.quiet = None;
        if let Some(held) = a.allocated.get_mut(framework) {
            held.subtract(resources);
            if held.is_empty() {
                a.allocated.remove(framework);
            }
        }
        let Some(f) = self.frameworks.get_mut(framework) else {
            return;
        };
        f.allocated.subtract(resources);
        let Some(seconds) = refuse_seconds else {
            return;
        };
        let seconds = if seconds.is_finite() && seconds >= 0.0 {
            seconds
        } else {
            DEFAULT_REFUSE_SECONDS
        };
        if seconds == 0.0 || resources.is_empty() {
            return;
        }
        let until_ms = now_ms.saturating_add((seconds.min(MAX_REFUSE_SECONDS) * 1000.0) as u64);
        self.next_filter_expiry_ms = self.next_filter_expiry_ms.min(until_ms);
        let resources = match &a.last_declined {
            Some(last) if **last == *resources => Arc::clone(last),
            _ => {
                let fresh = Arc::new(resources.clone());
                a.last_declined = Some(Arc::clone(&fresh));
                fresh
            }
        };
        a.filters.insert(
            f.slot,
            Filter {
                until_ms,
                resources,
            },
        );
    }

    /// REVIVE: the framework's filters go and it takes offers again.
    pub fn revive(&mut self, framework: &str) -> Result<(), BookError> {
        let f = self.framework_mut(framework)?;
        f.suppressed = false;
        let slot = f.slot;
        self.clear_filters_of(slot);
        self.frameworks_epoch += 1;
        Ok(())
    }

    /// SUPPRESS: no offers to the framework until it revives.
    pub fn suppress(&mut self, framework: &str) -> Result<(), BookError> {
        self.framework_mut(framework)?.suppressed = true;
        self.frameworks_epoch += 1;
        Ok(())
    }

    /// Whether `framework_id` declined `offered` on `agent` with a filter
    /// that still holds at `now_ms`.
    pub fn filtered(
        &self,
        framework_id: &str,
        agent: &Agent,
        offered: &Resources,
        now_ms: u64,
    ) -> bool {
        self.frameworks
            .get(framework_id)
            .and_then(|f| agent.filters.get(&f.slot))
            .is_some_and(|filter| filter.until_ms > now_ms && filter.resources.contains(offered))
    }

    /// Records a grant: `resources` of `agent_id` are `framework_id`'s.
    pub(crate) fn grant(&mut self, framework_id: &str, agent_id: &str, resources: &Resources) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent
                .allocated
                .entry(framework_id.to_owned())
                .or_default()
                .add(resources);
        }
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.allocated.add(resources);
            f.offers += 1;
        }
    }

    /// Takes back a grant of a voided round (as if never made).
    pub(crate) fn ungrant(&mut self, framework_id: &str, agent_id: &str, resources: &Resources) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.quiet = None;
            if let Some(held) = agent.allocated.get_mut(framework_id) {
                held.subtract(resources);
                if held.is_empty() {
                    agent.allocated.remove(framework_id);
                }
            }
        }
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.allocated.subtract(resources);
            f.offers = f.offers.saturating_sub(1);
        }
    }

    /// Drops expired filters and notes when the next one expires.
    pub(crate) fn prune_filters(&mut self, now_ms: u64) {
        let mut next = u64::MAX;
        for agent in self.agents.values_mut() {
            agent.filters.retain(|_, filter| filter.until_ms > now_ms);
            for filter in agent.filters.values() {
                next = next.min(filter.until_ms);
            }
        }
        self.next_filter_expiry_ms = next;
    }

    /// Whether an earlier round's "nobody wants this agent" still holds.
    #[inline]
    pub(crate) fn still_quiet(&self, agent: &Agent, now_ms: u64) -> bool {
        agent
            .quiet
            .is_some_and(|q| q.epoch == self.frameworks_epoch && now_ms < q.until_ms)
    }
}
