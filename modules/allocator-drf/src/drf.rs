//! Hierarchical Dominant Resource Fairness, as Mesos' built-in allocator:
//! roles are ordered by their weighted dominant share, frameworks within a
//! role likewise, and each agent's offerable resources go, whole, to the
//! first framework in that order that wants them.

use std::collections::{BTreeMap, HashMap};

use crate::resources::Resources;

/// Most a decline filter may last (Mesos caps `refuse_seconds` at a year).
const MAX_REFUSE_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// Used when a filter asks for a negative or non-finite duration.
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

#[derive(Debug, Clone)]
struct Filter {
    until_ms: u64,
    /// Offers made entirely of these resources are filtered.
    resources: Resources,
}

#[derive(Debug)]
struct Framework {
    role: String,
    active: bool,
    suppressed: bool,
    /// Everything offered to or used by the framework, on all agents.
    allocated: Resources,
    /// Number of offers made, the first tie-breaker after the share.
    allocations: u64,
    filters: HashMap<String, Filter>,
}

#[derive(Debug)]
struct Agent {
    total: Resources,
    active: bool,
    /// Offered or used, per framework.
    allocated: HashMap<String, Resources>,
}

impl Agent {
    fn available(&self) -> Resources {
        let mut free = self.total.clone();
        for used in self.allocated.values() {
            free.subtract(used);
        }
        free
    }
}

/// One grant of an allocation cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub framework_id: String,
    pub agent_id: String,
    pub resources: Resources,
}

/// The allocator's state.
#[derive(Debug)]
pub struct Drf {
    weights: BTreeMap<String, f64>,
    min_cpus: f64,
    min_mem: f64,
    frameworks: BTreeMap<String, Framework>,
    agents: BTreeMap<String, Agent>,
    /// Sum of all agents' totals: the denominator of every share.
    cluster: Resources,
    /// For shuffling the agent order of each cycle (xorshift).
    rng: u64,
}

/// Errors naming what was unknown.
#[derive(Debug, PartialEq, Eq)]
pub enum DrfError {
    UnknownFramework(String),
    UnknownAgent(String),
}

impl std::fmt::Display for DrfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrfError::UnknownFramework(id) => write!(f, "unknown framework '{id}'"),
            DrfError::UnknownAgent(id) => write!(f, "unknown agent '{id}'"),
        }
    }
}

impl Drf {
    pub fn new(weights: BTreeMap<String, f64>, min_cpus: f64, min_mem: f64) -> Self {
        Drf {
            weights,
            min_cpus,
            min_mem,
            frameworks: BTreeMap::new(),
            agents: BTreeMap::new(),
            cluster: Resources::default(),
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn weight(&self, role: &str) -> f64 {
        self.weights
            .get(role)
            .copied()
            .filter(|w| *w > 0.0)
            .unwrap_or(1.0)
    }

    /// The dominant share of `allocated`: the largest fraction of any
    /// scalar resource of the cluster.
    fn share(&self, allocated: &Resources) -> f64 {
        let totals = self.cluster.scalars();
        allocated
            .scalars()
            .into_iter()
            .filter_map(|(name, used)| totals.get(name).filter(|t| **t > 0.0).map(|t| used / t))
            .fold(0.0, f64::max)
    }

    fn framework_mut(&mut self, id: &str) -> Result<&mut Framework, DrfError> {
        self.frameworks
            .get_mut(id)
            .ok_or_else(|| DrfError::UnknownFramework(id.to_owned()))
    }

    fn agent_mut(&mut self, id: &str) -> Result<&mut Agent, DrfError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| DrfError::UnknownAgent(id.to_owned()))
    }

    pub fn add_framework(&mut self, id: &str, role: &str, active: bool) {
        // Re-adding (a framework that re-subscribed) keeps its allocations.
        let allocated = self
            .frameworks
            .remove(id)
            .map(|f| f.allocated)
            .unwrap_or_default();
        self.frameworks.insert(
            id.to_owned(),
            Framework {
                role: role.to_owned(),
                active,
                suppressed: false,
                allocated,
                allocations: 0,
                filters: HashMap::new(),
            },
        );
    }

    pub fn remove_framework(&mut self, id: &str) {
        self.frameworks.remove(id);
        for agent in self.agents.values_mut() {
            agent.allocated.remove(id);
        }
    }

    pub fn set_framework_active(&mut self, id: &str, active: bool) -> Result<(), DrfError> {
        self.framework_mut(id)?.active = active;
        Ok(())
    }

    pub fn add_agent(
        &mut self,
        id: &str,
        total: Resources,
        used: Vec<(String, Resources)>,
        active: bool,
    ) {
        self.remove_agent(id);
        self.cluster.add(&total);
        let mut agent = Agent {
            total,
            active,
            allocated: HashMap::new(),
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
        self.agents.insert(id.to_owned(), agent);
    }

    pub fn update_agent(&mut self, id: &str, total: Resources) -> Result<(), DrfError> {
        let agent = self
            .agents
            .get_mut(id)
            .ok_or_else(|| DrfError::UnknownAgent(id.to_owned()))?;
        self.cluster.subtract(&agent.total);
        self.cluster.add(&total);
        agent.total = total;
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

    pub fn set_agent_active(&mut self, id: &str, active: bool) -> Result<(), DrfError> {
        self.agent_mut(id)?.active = active;
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
        if let Some(a) = self.agents.get_mut(agent) {
            if let Some(held) = a.allocated.get_mut(framework) {
                held.subtract(resources);
                if held.is_empty() {
                    a.allocated.remove(framework);
                }
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
        f.filters.insert(
            agent.to_owned(),
            Filter {
                until_ms,
                resources: resources.clone(),
            },
        );
    }

    pub fn revive(&mut self, framework: &str) -> Result<(), DrfError> {
        let f = self.framework_mut(framework)?;
        f.filters.clear();
        f.suppressed = false;
        Ok(())
    }

    pub fn suppress(&mut self, framework: &str) -> Result<(), DrfError> {
        self.framework_mut(framework)?.suppressed = true;
        Ok(())
    }

    fn allocatable(&self, r: &Resources) -> bool {
        r.scalar("cpus") >= self.min_cpus || r.scalar("mem") >= self.min_mem
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Roles, then frameworks within each, in DRF order.
    fn framework_order(&self) -> Vec<String> {
        /// A role's allocation and its wanting frameworks.
        type RoleGroup<'a> = (Resources, Vec<(&'a String, &'a Framework)>);
        let mut roles: BTreeMap<&str, RoleGroup<'_>> = BTreeMap::new();
        for (id, f) in &self.frameworks {
            if !f.active || f.suppressed {
                continue;
            }
            let entry = roles.entry(f.role.as_str()).or_default();
            entry.0.add(&f.allocated);
            entry.1.push((id, f));
        }
        let mut roles: Vec<(f64, &str, RoleGroup<'_>)> = roles
            .into_iter()
            .map(|(role, group)| (self.share(&group.0) / self.weight(role), role, group))
            .collect();
        roles.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let mut order = Vec::new();
        for (_, _, (_, mut members)) in roles {
            members.sort_by(|(ida, a), (idb, b)| {
                self.share(&a.allocated)
                    .total_cmp(&self.share(&b.allocated))
                    .then(a.allocations.cmp(&b.allocations))
                    .then(ida.cmp(idb))
            });
            order.extend(members.into_iter().map(|(id, _)| id.clone()));
        }
        order
    }

    /// One allocation cycle.
    pub fn allocate(&mut self, now_ms: u64) -> Vec<Grant> {
        for f in self.frameworks.values_mut() {
            f.filters.retain(|_, filter| filter.until_ms > now_ms);
        }
        let mut agent_ids: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| a.active)
            .map(|(id, _)| id.clone())
            .collect();
        // Fisher-Yates, so no agent is always first.
        for i in (1..agent_ids.len()).rev() {
            let j = (self.next_random() % (i as u64 + 1)) as usize;
            agent_ids.swap(i, j);
        }
        let mut grants = Vec::new();
        // Shares change only with grants: the order is recomputed for the
        // next agent after one, and kept otherwise (a round in which every
        // framework declines everything sorts once).
        let mut order = self.framework_order();
        let mut order_stale = false;
        for agent_id in agent_ids {
            if order_stale {
                order = self.framework_order();
                order_stale = false;
            }
            // What the agent has left, kept up to date as it is granted,
            // and what of it each role may be offered.
            let mut available = self.agents[&agent_id].available();
            let mut offerable_to: HashMap<String, Resources> = HashMap::new();
            for framework_id in &order {
                let framework = &self.frameworks[framework_id];
                let offerable = offerable_to
                    .entry(framework.role.clone())
                    .or_insert_with(|| available.offerable_to(&framework.role));
                if !self.allocatable(offerable) {
                    continue;
                }
                if let Some(filter) = framework.filters.get(&agent_id) {
                    if filter.resources.contains(offerable) {
                        continue;
                    }
                }
                let offerable = offerable.clone();
                let f = self
                    .frameworks
                    .get_mut(framework_id)
                    .expect("ordered frameworks exist");
                f.allocated.add(&offerable);
                f.allocations += 1;
                let agent = self
                    .agents
                    .get_mut(&agent_id)
                    .expect("shuffled agents exist");
                agent
                    .allocated
                    .entry(framework_id.clone())
                    .or_default()
                    .add(&offerable);
                available.subtract(&offerable);
                offerable_to.clear();
                order_stale = true;
                grants.push(Grant {
                    framework_id: framework_id.clone(),
                    agent_id: agent_id.clone(),
                    resources: offerable,
                });
            }
        }
        grants
    }
}
