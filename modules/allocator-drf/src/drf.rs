//! Hierarchical Dominant Resource Fairness, as Mesos' built-in allocator:
//! roles are ordered by their weighted dominant share, frameworks within a
//! role likewise, and each agent's offerable resources go, whole, to the
//! first framework in that order that wants them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::{resources::Resources, verdicts::Verdicts};

/// Most a decline filter may last (Mesos caps `refuse_seconds` at a year).
const MAX_REFUSE_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// Used when a filter asks for a negative or non-finite duration.
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

#[derive(Debug, Clone)]
struct Filter {
    until_ms: u64,
    /// Offers made entirely of these resources are filtered. Frameworks
    /// that decline the same offer of an agent share one copy, so a round
    /// compares it with what the agent has once, not once per framework.
    resources: Arc<Resources>,
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
    /// A number of its own, never reused: filters are keyed by it.
    slot: u32,
}

#[derive(Debug)]
struct Agent {
    total: Resources,
    active: bool,
    /// Offered or used, per framework.
    allocated: HashMap<String, Resources>,
    /// Decline filters on this agent, per framework (looked up per agent
    /// in every round, so kept with the agent).
    filters: foldhash::HashMap<u32, Filter>,
    /// What the latest filter on this agent declined, for sharing.
    last_declined: Option<Arc<Resources>>,
    /// Set when a round found that no framework wants what the agent has
    /// left; cleared by anything that changes what it has left.
    quiet: Option<Quiet>,
}

/// "Every framework passed this agent over": true for as long as neither
/// the agent's free resources nor the set of frameworks changes, and no
/// filter that took part in the verdict expires.
#[derive(Debug, Clone, Copy)]
struct Quiet {
    /// `Drf::frameworks_epoch` when the verdict was reached.
    epoch: u64,
    /// The earliest expiry among the filters that passed the agent over.
    until_ms: u64,
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
    /// Bumped whenever a framework comes, goes, or changes whether and
    /// how it takes offers; agents' `Quiet` verdicts from another epoch
    /// no longer hold.
    frameworks_epoch: u64,
    /// The earliest expiry of any filter: expired filters are dropped in
    /// the first round at or after it, not scanned for every round.
    next_filter_expiry_ms: u64,
    /// The next framework's `slot`, unless one is free.
    next_slot: u32,
    /// Slots of removed frameworks (their filters are gone), reused so
    /// that slots stay dense.
    free_slots: Vec<u32>,
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
            frameworks_epoch: 0,
            next_filter_expiry_ms: u64::MAX,
            next_slot: 0,
            free_slots: Vec::new(),
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
        self.frameworks_epoch += 1;
        // Re-adding (a framework that re-subscribed) keeps its allocations
        // and starts without filters.
        let (allocated, slot) = match self.frameworks.remove(id) {
            Some(old) => {
                self.clear_filters_of(old.slot);
                (old.allocated, old.slot)
            }
            None => (Resources::default(), self.new_slot()),
        };
        self.frameworks.insert(
            id.to_owned(),
            Framework {
                role: role.to_owned(),
                active,
                suppressed: false,
                allocated,
                allocations: 0,
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

    pub fn set_framework_active(&mut self, id: &str, active: bool) -> Result<(), DrfError> {
        self.framework_mut(id)?.active = active;
        self.frameworks_epoch += 1;
        Ok(())
    }

    pub fn add_agent(
        &mut self,
        id: &str,
        total: Resources,
        used: Vec<(String, Resources)>,
        active: bool,
    ) {
        // An agent added again (it re-registered) keeps its filters.
        let filters = self
            .agents
            .get_mut(id)
            .map(|a| std::mem::take(&mut a.filters))
            .unwrap_or_default();
        self.remove_agent(id);
        self.cluster.add(&total);
        let mut agent = Agent {
            total,
            active,
            allocated: HashMap::new(),
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

    pub fn set_agent_active(&mut self, id: &str, active: bool) -> Result<(), DrfError> {
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

    pub fn revive(&mut self, framework: &str) -> Result<(), DrfError> {
        let f = self.framework_mut(framework)?;
        f.suppressed = false;
        let slot = f.slot;
        self.clear_filters_of(slot);
        self.frameworks_epoch += 1;
        Ok(())
    }

    pub fn suppress(&mut self, framework: &str) -> Result<(), DrfError> {
        self.framework_mut(framework)?.suppressed = true;
        self.frameworks_epoch += 1;
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

    /// Roles, then frameworks within each, in DRF order: every framework
    /// that takes offers.
    fn framework_order(&self) -> Vec<Ordered> {
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
        for (_, role, (_, members)) in roles {
            // Each share once, not once per comparison.
            let mut keyed: Vec<(f64, u64, &String, u32)> = members
                .into_iter()
                .map(|(id, f)| (self.share(&f.allocated), f.allocations, id, f.slot))
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(b.2)));
            order.extend(keyed.into_iter().map(|(_, _, id, slot)| Ordered {
                id: id.clone(),
                role: role.to_owned(),
                slot,
            }));
        }
        order
    }

    /// Drops expired filters and notes when the next one expires.
    fn prune_filters(&mut self, now_ms: u64) {
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
    fn still_quiet(&self, agent: &Agent, now_ms: u64) -> bool {
        agent
            .quiet
            .is_some_and(|q| q.epoch == self.frameworks_epoch && now_ms < q.until_ms)
    }

    /// One allocation cycle.
    pub fn allocate(&mut self, now_ms: u64) -> Vec<Grant> {
        if now_ms >= self.next_filter_expiry_ms {
            self.prune_filters(now_ms);
        }
        // Agents every framework passed over last time, with nothing
        // changed since, are passed over again without a look: a round in
        // which everyone keeps declining costs O(agents), not
        // O(agents × frameworks).
        let mut agent_ids: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| a.active && !self.still_quiet(a, now_ms))
            .map(|(id, _)| id.clone())
            .collect();
        let mut grants = Vec::new();
        if agent_ids.is_empty() {
            return grants;
        }
        // Fisher-Yates, so no agent is always first.
        for i in (1..agent_ids.len()).rev() {
            let j = (self.next_random() % (i as u64 + 1)) as usize;
            agent_ids.swap(i, j);
        }
        // Shares change only with grants: the order is recomputed for the
        // next agent after one, and kept otherwise.
        let mut order = self.framework_order();
        let mut order_stale = false;
        // Which slots take offers this round (grants reorder frameworks
        // but do not change which ones take offers).
        let mut in_order = vec![false; self.next_slot as usize];
        for o in &order {
            in_order[o.slot as usize] = true;
        }
        for agent_id in agent_ids {
            if order_stale {
                order = self.framework_order();
                order_stale = false;
            }
            // What the agent has left.
            let available = self.agents[&agent_id].available();
            if self.passed_over(&agent_id, &available, order.len(), &in_order, now_ms) {
                continue;
            }
            let granted = self.allocate_agent(&agent_id, available, &order, now_ms, &mut grants);
            order_stale |= granted;
        }
        grants
    }

    /// Whether every framework taking offers has a filter on `agent_id`
    /// that hides what it has left, found by one pass over the agent's
    /// filters rather than a lookup per framework; if so the agent is
    /// marked quiet. Only for agents whose resources are all unreserved
    /// (every role is offered the same): otherwise, and whenever some
    /// framework may want the agent, `allocate_agent` decides.
    fn passed_over(
        &mut self,
        agent_id: &str,
        available: &Resources,
        takers: usize,
        in_order: &[bool],
        now_ms: u64,
    ) -> bool {
        let agent = &self.agents[agent_id];
        if agent.filters.len() < takers {
            return false;
        }
        if !available.is_unreserved() {
            return false;
        }
        let mut until_ms = u64::MAX;
        if self.allocatable(available) {
            let mut verdicts = Verdicts::default();
            let mut hidden = 0;
            for (slot, filter) in &agent.filters {
                if in_order.get(*slot as usize) == Some(&true)
                    && filter.until_ms > now_ms
                    && verdicts.covers(&filter.resources, available)
                {
                    hidden += 1;
                    until_ms = until_ms.min(filter.until_ms);
                }
            }
            if hidden < takers {
                return false;
            }
        }
        let epoch = self.frameworks_epoch;
        self.agents
            .get_mut(agent_id)
            .expect("allocated agents exist")
            .quiet = Some(Quiet { epoch, until_ms });
        true
    }

    /// Offers what `agent_id` has left to the first framework in `order`
    /// that may take it, and so on while something is left. Returns
    /// whether anything was granted; if not, the agent is marked quiet.
    fn allocate_agent(
        &mut self,
        agent_id: &str,
        mut available: Resources,
        order: &[Ordered],
        now_ms: u64,
        grants: &mut Vec<Grant>,
    ) -> bool {
        let agent = &self.agents[agent_id];
        // `available`, what the agent has left, is kept up to date as it
        // is granted; `offerable_to`, what of it each role may be offered.
        let mut offerable_to: Vec<Offerable<'_>> = Vec::new();
        let mut to_grant: Vec<(usize, Resources)> = Vec::new();
        let mut quiet_until = u64::MAX;
        for (index, Ordered { role, slot, .. }) in order.iter().enumerate() {
            let offerable = match offerable_to.iter().position(|o| o.role == role) {
                Some(i) => &mut offerable_to[i],
                None => {
                    let resources = available.offerable_to(role);
                    offerable_to.push(Offerable {
                        role,
                        allocatable: self.allocatable(&resources),
                        resources,
                        verdicts: Verdicts::default(),
                    });
                    offerable_to.last_mut().expect("just pushed")
                }
            };
            if !offerable.allocatable {
                continue;
            }
            if let Some(filter) = agent.filters.get(slot) {
                if filter.until_ms > now_ms
                    && offerable
                        .verdicts
                        .covers(&filter.resources, &offerable.resources)
                {
                    quiet_until = quiet_until.min(filter.until_ms);
                    continue;
                }
            }
            let offerable = offerable.resources.clone();
            available.subtract(&offerable);
            offerable_to.clear();
            to_grant.push((index, offerable));
        }
        let epoch = self.frameworks_epoch;
        let agent = self
            .agents
            .get_mut(agent_id)
            .expect("allocated agents exist");
        if to_grant.is_empty() {
            agent.quiet = Some(Quiet {
                epoch,
                until_ms: quiet_until,
            });
            return false;
        }
        agent.quiet = None;
        for (index, offerable) in to_grant {
            let framework_id = &order[index].id;
            agent
                .allocated
                .entry(framework_id.clone())
                .or_default()
                .add(&offerable);
            let f = self
                .frameworks
                .get_mut(framework_id)
                .expect("ordered frameworks exist");
            f.allocated.add(&offerable);
            f.allocations += 1;
            grants.push(Grant {
                framework_id: framework_id.clone(),
                agent_id: agent_id.to_owned(),
                resources: offerable,
            });
        }
        true
    }
}

/// A framework in DRF order.
struct Ordered {
    id: String,
    role: String,
    slot: u32,
}

/// What an agent can offer to one role during a round, with the verdicts
/// of the (shared) filters already compared with it.
struct Offerable<'a> {
    role: &'a str,
    resources: Resources,
    allocatable: bool,
    verdicts: Verdicts,
}
