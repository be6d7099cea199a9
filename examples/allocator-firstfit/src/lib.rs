//! `org_example_allocator_firstfit`: offers each agent's free resources to
//! the frameworks in turn (round-robin), honouring decline filters,
//! SUPPRESS and REVIVE. Only scalar resources (`cpus`, `mem`, `disk`, ...)
//! are tracked; a real allocator would handle ranges and sets too.
//!
//! Parameters:
//! - `min_cpus` (default 0.01) and `min_mem` (default 32, in MB): an agent
//!   is offered only when at least one of them is free, as in Mesos.

use std::collections::BTreeMap;

use corral_module_api::{
    allocator::{AgentEntry, Allocation, FrameworkEntry, Recovered},
    guest::{self, AllocatorModule, Params},
    types::ResourceValue,
    Host, ModuleError, ParamKind, ParamSpec, RString, Resource,
};

corral_module_api::export_modules![guest::allocator::<FirstFit>(
    "org_example_allocator_firstfit",
    "example allocator: round-robin first fit with decline filters",
)];

/// Scalar resources by name.
type Scalars = BTreeMap<String, f64>;

fn scalars(resources: &[Resource]) -> Scalars {
    let mut out = Scalars::new();
    for r in resources {
        if let ResourceValue::Scalar(v) = r.value {
            *out.entry(r.name.to_string()).or_default() += v;
        }
    }
    out
}

fn to_resources(s: &Scalars) -> Vec<Resource> {
    s.iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(k, v)| Resource::scalar(k.as_str(), *v))
        .collect()
}

fn add(into: &mut Scalars, other: &Scalars) {
    for (k, v) in other {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn subtract(from: &mut Scalars, other: &Scalars) {
    for (k, v) in other {
        let left = from.entry(k.clone()).or_default();
        *left = (*left - v).max(0.0);
    }
}

#[derive(Debug, Default)]
struct Agent {
    total: Scalars,
    active: bool,
}

#[derive(Debug, Default)]
struct Framework {
    active: bool,
    suppressed: bool,
    /// Agent id → time (ms) until which it is not offered to this framework.
    filters: BTreeMap<String, u64>,
}

/// The allocator's whole state.
#[derive(Debug)]
pub struct FirstFit {
    min_cpus: f64,
    min_mem: f64,
    agents: BTreeMap<String, Agent>,
    frameworks: BTreeMap<String, Framework>,
    /// (framework, agent) → resources offered or in use.
    allocated: BTreeMap<(String, String), Scalars>,
    /// Where the round-robin over frameworks continues.
    cursor: usize,
}

impl FirstFit {
    pub fn from_params(params: &Params) -> Result<Self, ModuleError> {
        Ok(FirstFit {
            min_cpus: params.parse("min_cpus")?.unwrap_or(0.01),
            min_mem: params.parse("min_mem")?.unwrap_or(32.0),
            agents: BTreeMap::new(),
            frameworks: BTreeMap::new(),
            allocated: BTreeMap::new(),
            cursor: 0,
        })
    }

    fn available(&self, agent_id: &str, agent: &Agent) -> Scalars {
        let mut free = agent.total.clone();
        for ((_, a), used) in &self.allocated {
            if a == agent_id {
                subtract(&mut free, used);
            }
        }
        free
    }

    fn framework(&mut self, id: &str) -> Result<&mut Framework, ModuleError> {
        self.frameworks
            .get_mut(id)
            .ok_or_else(|| ModuleError::failed(format!("unknown framework '{id}'")))
    }

    fn agent(&mut self, id: &str) -> Result<&mut Agent, ModuleError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| ModuleError::failed(format!("unknown agent '{id}'")))
    }
}

impl AllocatorModule for FirstFit {
    /// Declared, so the host refuses unknown keys and non-numbers before
    /// `new` runs, and `corral modules list --verbose` shows them.
    fn parameters() -> Option<Vec<ParamSpec>> {
        Some(vec![
            ParamSpec::new(
                "min_cpus",
                ParamKind::Number,
                "smallest cpus worth offering",
            )
            .default_value("0.01"),
            ParamSpec::new(
                "min_mem",
                ParamKind::Number,
                "smallest mem (MiB) worth offering",
            )
            .default_value("32"),
        ])
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let allocator = Self::from_params(params)?;
        tracing::info!(
            min_cpus = allocator.min_cpus,
            min_mem = allocator.min_mem,
            "first-fit allocator ready"
        );
        Ok(allocator)
    }

    fn add_framework(&mut self, f: &FrameworkEntry) -> Result<(), ModuleError> {
        self.frameworks.insert(
            f.id.to_string(),
            Framework {
                active: f.active,
                ..Framework::default()
            },
        );
        Ok(())
    }

    fn remove_framework(&mut self, id: &str) -> Result<(), ModuleError> {
        self.frameworks.remove(id);
        self.allocated.retain(|(f, _), _| f != id);
        Ok(())
    }

    fn set_framework_active(&mut self, id: &str, active: bool) -> Result<(), ModuleError> {
        self.framework(id)?.active = active;
        Ok(())
    }

    fn add_agent(&mut self, a: &AgentEntry) -> Result<(), ModuleError> {
        self.agents.insert(
            a.id.to_string(),
            Agent {
                total: scalars(&a.total),
                active: a.active,
            },
        );
        for used in a.used.iter() {
            let key = (used.framework_id.to_string(), a.id.to_string());
            add(
                self.allocated.entry(key).or_default(),
                &scalars(&used.resources),
            );
        }
        Ok(())
    }

    fn update_agent(&mut self, id: &str, total: Vec<Resource>) -> Result<(), ModuleError> {
        self.agent(id)?.total = scalars(&total);
        Ok(())
    }

    fn remove_agent(&mut self, id: &str) -> Result<(), ModuleError> {
        self.agents.remove(id);
        self.allocated.retain(|(_, a), _| a != id);
        Ok(())
    }

    fn set_agent_active(&mut self, id: &str, active: bool) -> Result<(), ModuleError> {
        self.agent(id)?.active = active;
        Ok(())
    }

    fn recover_resources(&mut self, r: &Recovered, now_ms: u64) -> Result<(), ModuleError> {
        let (framework, agent) = (
            r.allocation.framework_id.to_string(),
            r.allocation.agent_id.to_string(),
        );
        if let Some(held) = self.allocated.get_mut(&(framework.clone(), agent.clone())) {
            subtract(held, &scalars(&r.allocation.resources));
        }
        let refuse = r.refuse_seconds.into_option().unwrap_or(0.0);
        if refuse > 0.0 {
            if let Some(f) = self.frameworks.get_mut(&framework) {
                f.filters
                    .insert(agent, now_ms.saturating_add((refuse * 1000.0) as u64));
            }
        }
        Ok(())
    }

    fn revive_offers(&mut self, id: &str) -> Result<(), ModuleError> {
        let f = self.framework(id)?;
        f.filters.clear();
        f.suppressed = false;
        Ok(())
    }

    fn suppress_offers(&mut self, id: &str) -> Result<(), ModuleError> {
        self.framework(id)?.suppressed = true;
        Ok(())
    }

    fn allocate(&mut self, now_ms: u64) -> Result<Vec<Allocation>, ModuleError> {
        for f in self.frameworks.values_mut() {
            f.filters.retain(|_, until| *until > now_ms);
        }
        let eligible: Vec<String> = self
            .frameworks
            .iter()
            .filter(|(_, f)| f.active && !f.suppressed)
            .map(|(id, _)| id.clone())
            .collect();
        let mut offers = Vec::new();
        if eligible.is_empty() {
            return Ok(offers);
        }
        let agent_ids: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| a.active)
            .map(|(id, _)| id.clone())
            .collect();
        for agent_id in agent_ids {
            let free = self.available(&agent_id, &self.agents[&agent_id]);
            let enough = free.get("cpus").copied().unwrap_or(0.0) >= self.min_cpus
                || free.get("mem").copied().unwrap_or(0.0) >= self.min_mem;
            if !enough {
                continue;
            }
            // The next framework in turn that has not filtered this agent.
            let taker = (0..eligible.len())
                .map(|i| (self.cursor + i) % eligible.len())
                .find(|&i| {
                    !self.frameworks[&eligible[i]]
                        .filters
                        .contains_key(&agent_id)
                });
            let Some(i) = taker else { continue };
            self.cursor = (i + 1) % eligible.len();
            let framework_id = eligible[i].clone();
            add(
                self.allocated
                    .entry((framework_id.clone(), agent_id.clone()))
                    .or_default(),
                &free,
            );
            offers.push(Allocation {
                framework_id: RString::from(framework_id),
                agent_id: RString::from(agent_id),
                resources: to_resources(&free).into(),
            });
        }
        Ok(offers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::{RNone, RSome, RVec};

    fn allocator() -> FirstFit {
        let mut a = FirstFit::new(&Params::default(), &guest::null_host()).unwrap();
        for f in ["fw-a", "fw-b"] {
            a.add_framework(&FrameworkEntry {
                id: f.into(),
                role: "*".into(),
                weight: 1.0,
                active: true,
            })
            .unwrap();
        }
        a.add_agent(&AgentEntry {
            id: "agent-1".into(),
            hostname: "h1".into(),
            total: vec![
                Resource::scalar("cpus", 4.0),
                Resource::scalar("mem", 1024.0),
            ]
            .into(),
            used: RVec::new(),
            active: true,
        })
        .unwrap();
        a
    }

    fn decline(a: &mut FirstFit, offer: &Allocation, refuse: Option<f64>, now: u64) {
        let r = Recovered {
            allocation: offer.clone(),
            refuse_seconds: refuse.map_or(RNone, RSome),
        };
        a.recover_resources(&r, now).unwrap();
    }

    #[test]
    fn free_resources_are_offered_once_until_they_come_back() {
        let mut a = allocator();
        let offers = a.allocate(0).unwrap();
        assert_eq!(offers.len(), 1);
        assert_eq!(
            scalars(&offers[0].resources),
            scalars(&[
                Resource::scalar("cpus", 4.0),
                Resource::scalar("mem", 1024.0)
            ])
        );
        assert!(
            a.allocate(1).unwrap().is_empty(),
            "offered resources count as allocated"
        );
        decline(&mut a, &offers[0], None, 2);
        assert_eq!(a.allocate(3).unwrap().len(), 1);
    }

    #[test]
    fn a_decline_filter_sends_the_agent_to_the_other_framework_until_it_expires() {
        let mut a = allocator();
        let first = a.allocate(0).unwrap().remove(0);
        decline(&mut a, &first, Some(5.0), 0);
        let second = a.allocate(10).unwrap().remove(0);
        assert_ne!(second.framework_id, first.framework_id);
        decline(&mut a, &second, Some(5.0), 10);
        assert!(
            a.allocate(100).unwrap().is_empty(),
            "both frameworks refused the agent"
        );
        let after = a.allocate(5_001).unwrap();
        assert_eq!(after.len(), 1, "the first filter expired");
        assert_eq!(after[0].framework_id, first.framework_id);
    }

    #[test]
    fn suppressed_frameworks_get_nothing_until_they_revive() {
        let mut a = allocator();
        a.suppress_offers("fw-a").unwrap();
        a.suppress_offers("fw-b").unwrap();
        assert!(a.allocate(0).unwrap().is_empty());
        a.revive_offers("fw-b").unwrap();
        assert_eq!(a.allocate(0).unwrap()[0].framework_id.as_str(), "fw-b");
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let params = Params::new([("min_cpus".to_owned(), "lots".to_owned())]);
        let err = FirstFit::from_params(&params).unwrap_err().to_string();
        assert!(err.starts_with("parameter 'min_cpus' = 'lots'"), "{err}");
    }
}
