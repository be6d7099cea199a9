//! One allocation round: agents in turn, each offered to the frameworks in
//! the policy's order, skipping what filters hide and agents nobody wanted
//! last time with nothing changed since.

use std::sync::Arc;

use crate::{
    book::{Book, Quiet},
    policy::{Choice, Cluster, Policy},
    resources::Resources,
    verdicts::Verdicts,
};

/// One grant of a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub framework_id: String,
    pub agent_id: String,
    pub resources: Resources,
}

/// The smallest free resources worth offering: an agent is offered only
/// when at least one of them is free (Mesos' `min_allocatable_resources`).
#[derive(Debug, Clone, Copy)]
pub struct Minimum {
    pub cpus: f64,
    pub mem: f64,
}

impl Minimum {
    #[inline]
    pub fn allows(&self, r: &Resources) -> bool {
        r.scalar("cpus") >= self.cpus || r.scalar("mem") >= self.mem
    }
}

/// A framework in the policy's order.
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

/// The round's state beyond the book.
pub(crate) struct Round<'a, P> {
    pub book: &'a mut Book,
    pub policy: &'a mut P,
    pub minimum: Minimum,
    pub rng: &'a mut u64,
    pub now_ms: u64,
}

fn next_random(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

impl<P: Policy> Round<'_, P> {
    /// The frameworks that take offers, in the policy's order.
    fn order(&mut self) -> Vec<Ordered> {
        let mut takers: Vec<_> = self
            .book
            .frameworks
            .values()
            .filter(|f| f.active && !f.suppressed)
            .collect();
        self.policy
            .order(&Cluster::new(self.book, self.now_ms), &mut takers);
        takers
            .into_iter()
            .map(|f| Ordered {
                id: f.id.clone(),
                role: f.role.clone(),
                slot: f.slot,
            })
            .collect()
    }

    pub fn run(mut self) -> Vec<Grant> {
        self.policy.begin_round(self.now_ms);
        let grants = self.visit_agents();
        match self.policy.end_round() {
            Ok(()) => grants,
            Err(why) => {
                tracing::warn!(error = %why, grants = grants.len(), "allocation round voided by the policy; nothing offered");
                for g in &grants {
                    self.book
                        .ungrant(&g.framework_id, &g.agent_id, &g.resources);
                }
                Vec::new()
            }
        }
    }

    fn visit_agents(&mut self) -> Vec<Grant> {
        let now_ms = self.now_ms;
        if now_ms >= self.book.next_filter_expiry_ms {
            self.book.prune_filters(now_ms);
        }
        // Agents every framework passed over last time, with nothing
        // changed since, are passed over again without a look: a round in
        // which everyone keeps declining costs O(agents), not
        // O(agents × frameworks).
        let mut agent_ids: Vec<Arc<str>> = self
            .book
            .agents
            .iter()
            .filter(|(_, a)| a.active && !self.book.still_quiet(a, now_ms))
            .map(|(id, _)| Arc::clone(id))
            .collect();
        let mut grants = Vec::new();
        if agent_ids.is_empty() {
            return grants;
        }
        if P::SHUFFLE_AGENTS {
            // Fisher-Yates, so no agent is always first.
            for i in (1..agent_ids.len()).rev() {
                let j = (next_random(self.rng) % (i as u64 + 1)) as usize;
                agent_ids.swap(i, j);
            }
        }
        if self.policy.orders_agents() {
            let mut agents: Vec<_> = agent_ids
                .iter()
                .map(|id| &self.book.agents[&**id])
                .collect();
            self.policy
                .order_agents(&Cluster::new(self.book, now_ms), &mut agents);
            agent_ids = agents.into_iter().map(|a| Arc::clone(&a.id)).collect();
        }
        // Grants change shares: the order is asked for again before the
        // next agent after one, and kept otherwise.
        let mut order = self.order();
        let mut order_stale = false;
        // Which slots take offers this round (grants reorder frameworks
        // but do not change which ones take offers).
        let mut in_order = vec![false; self.book.next_slot as usize];
        for o in &order {
            in_order[o.slot as usize] = true;
        }
        for agent_id in agent_ids {
            if order_stale {
                order = self.order();
                order_stale = false;
            }
            let available = self.book.agents[&*agent_id].available();
            if self.passed_over(&agent_id, &available, order.len(), &in_order) {
                continue;
            }
            order_stale |= self.allocate_agent(&agent_id, available, &order, &mut grants);
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
    ) -> bool {
        let agent = &self.book.agents[agent_id];
        if agent.filters.len() < takers || !available.is_unreserved() {
            return false;
        }
        let mut until_ms = u64::MAX;
        if self.minimum.allows(available) {
            let mut verdicts = Verdicts::default();
            let mut hidden = 0;
            for (slot, filter) in &agent.filters {
                if in_order.get(*slot as usize) == Some(&true)
                    && filter.until_ms > self.now_ms
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
        let epoch = self.book.frameworks_epoch;
        self.book
            .agents
            .get_mut(agent_id)
            .expect("allocated agents exist")
            .quiet = Some(Quiet { epoch, until_ms });
        true
    }

    /// Offers what `agent_id` has left to the first framework in `order`
    /// that may take it, and so on while something is left. Returns
    /// whether anything was granted. If not, and the policy passed nobody
    /// over, the agent is marked quiet.
    fn allocate_agent(
        &mut self,
        agent_id: &str,
        mut available: Resources,
        order: &[Ordered],
        grants: &mut Vec<Grant>,
    ) -> bool {
        let book = &*self.book;
        let agent = &book.agents[agent_id];
        // `available`, what the agent has left, is kept up to date as it
        // is granted; `offerable_to`, what of it each role may be offered.
        let mut offerable_to: Vec<Offerable<'_>> = Vec::new();
        let mut to_grant: Vec<(usize, Resources)> = Vec::new();
        let mut quiet_until = u64::MAX;
        let mut policy_passed = false;
        for (index, Ordered { id, role, slot }) in order.iter().enumerate() {
            let offerable = match offerable_to.iter().position(|o| o.role == role) {
                Some(i) => &mut offerable_to[i],
                None => {
                    let resources = available.offerable_to(role);
                    offerable_to.push(Offerable {
                        role,
                        allocatable: self.minimum.allows(&resources),
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
                if filter.until_ms > self.now_ms
                    && offerable
                        .verdicts
                        .covers(&filter.resources, &offerable.resources)
                {
                    quiet_until = quiet_until.min(filter.until_ms);
                    continue;
                }
            }
            let framework = &book.frameworks[id];
            let chosen = match self.policy.choose(agent, framework, &offerable.resources) {
                Choice::All => offerable.resources.clone(),
                Choice::Part(part) if !part.is_empty() && offerable.resources.contains(&part) => {
                    part
                }
                Choice::Part(part) => {
                    tracing::warn!(
                        framework_id = %id,
                        agent_id,
                        chosen = ?part,
                        "the policy chose resources that were not offerable; framework passed over"
                    );
                    policy_passed = true;
                    continue;
                }
                Choice::Pass => {
                    policy_passed = true;
                    continue;
                }
            };
            available.subtract(&chosen);
            offerable_to.clear();
            to_grant.push((index, chosen));
        }
        if to_grant.is_empty() {
            let epoch = self.book.frameworks_epoch;
            let agent = self.book.agents.get_mut(agent_id).expect("agent exists");
            agent.quiet = (!policy_passed).then_some(Quiet {
                epoch,
                until_ms: quiet_until,
            });
            return false;
        }
        self.book
            .agents
            .get_mut(agent_id)
            .expect("agent exists")
            .quiet = None;
        for (index, resources) in to_grant {
            let framework_id = &order[index].id;
            self.book.grant(framework_id, agent_id, &resources);
            grants.push(Grant {
                framework_id: framework_id.clone(),
                agent_id: agent_id.to_owned(),
                resources,
            });
        }
        true
    }
}
