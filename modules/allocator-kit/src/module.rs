//! [`Kit`]: a policy plus the kit's bookkeeping, as an allocator module.

use corral_module_api::{
    allocator::{
        AgentEntry, Allocation, FrameworkDetails, FrameworkEntry, OfferMade, Recovered, Returned,
    },
    guest::AllocatorModule,
    Host, ModuleError, ParamKind, ParamSpec, RString, Resource,
};

use crate::{
    book::{Book, BookError, NewFramework},
    policy::{Event, Policy},
    resources::Resources,
    round::{Grant, Minimum, Round},
    Params,
};

/// An allocator module made of the policy `P` and the kit's bookkeeping.
/// Export it as `guest::allocator::<Kit<MyPolicy>>("name", "what it does")`.
#[derive(Debug)]
pub struct Kit<P> {
    book: Book,
    policy: P,
    minimum: Minimum,
    /// For shuffling the agent order of each round (xorshift).
    rng: u64,
}

fn failed(e: BookError) -> ModuleError {
    ModuleError::failed(e.to_string())
}

/// The parameters every kit allocator takes.
fn kit_parameters() -> Vec<ParamSpec> {
    vec![
        ParamSpec::new(
            "min_allocatable_cpus",
            ParamKind::Number,
            "an agent is offered when this many cpus are free (or min_allocatable_mem)",
        )
        .default_value("0.01"),
        ParamSpec::new(
            "min_allocatable_mem",
            ParamKind::Number,
            "an agent is offered when this much mem (MiB) is free (or min_allocatable_cpus)",
        )
        .default_value("32"),
    ]
}

impl<P: Policy> Kit<P> {
    /// A kit allocator around `policy`, with the default minimum.
    pub fn with_policy(policy: P) -> Self {
        Kit {
            book: Book::default(),
            policy,
            minimum: Minimum {
                cpus: 0.01,
                mem: 32.0,
            },
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// The bookkeeping, read-only (for tests and diagnostics).
    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn policy(&self) -> &P {
        &self.policy
    }

    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// One allocation round in the kit's own types.
    pub fn round(&mut self, now_ms: u64) -> Vec<Grant> {
        Round {
            book: &mut self.book,
            policy: &mut self.policy,
            minimum: self.minimum,
            rng: &mut self.rng,
            now_ms,
        }
        .run()
    }

    fn recover(&mut self, r: &Recovered, now_ms: u64) -> Resources {
        let resources = Resources::from_api(&r.allocation.resources);
        self.book.recover(
            &r.allocation.framework_id,
            &r.allocation.agent_id,
            &resources,
            r.refuse_seconds.into_option(),
            now_ms,
        );
        resources
    }
}

fn strings(list: &[RString]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl<P: Policy> AllocatorModule for Kit<P> {
    fn parameters() -> Option<Vec<ParamSpec>> {
        let mut all = kit_parameters();
        all.extend(P::parameters());
        Some(all)
    }

    fn new(params: &Params, host: &Host) -> Result<Self, ModuleError> {
        let mut kit = Kit::with_policy(P::new(params, host)?);
        kit.minimum = Minimum {
            cpus: params.parse("min_allocatable_cpus")?.unwrap_or(0.01),
            mem: params.parse("min_allocatable_mem")?.unwrap_or(32.0),
        };
        Ok(kit)
    }

    fn add_framework(&mut self, f: &FrameworkEntry) -> Result<(), ModuleError> {
        self.book.add_framework(NewFramework {
            id: f.id.to_string(),
            role: f.role.to_string(),
            roles: Vec::new(),
            weight: f.weight,
            active: f.active,
            ..NewFramework::default()
        });
        Ok(())
    }

    fn add_framework_details(&mut self, f: &FrameworkDetails) -> Result<(), ModuleError> {
        self.book.add_framework(NewFramework {
            id: f.entry.id.to_string(),
            role: f.entry.role.to_string(),
            roles: strings(&f.roles),
            weight: f.entry.weight,
            active: f.entry.active,
            name: f.name.to_string(),
            capabilities: strings(&f.capabilities),
        });
        Ok(())
    }

    fn remove_framework(&mut self, id: &str) -> Result<(), ModuleError> {
        self.book.remove_framework(id);
        Ok(())
    }

    fn set_framework_active(&mut self, id: &str, active: bool) -> Result<(), ModuleError> {
        self.book.set_framework_active(id, active).map_err(failed)
    }

    fn add_agent(&mut self, a: &AgentEntry) -> Result<(), ModuleError> {
        let used = a
            .used
            .iter()
            .map(|u| {
                (
                    u.framework_id.to_string(),
                    Resources::from_api(&u.resources),
                )
            })
            .collect();
        self.book.add_agent(
            &a.id,
            &a.hostname,
            Resources::from_api(&a.total),
            used,
            a.active,
        );
        Ok(())
    }

    fn update_agent(&mut self, id: &str, total: Vec<Resource>) -> Result<(), ModuleError> {
        self.book
            .update_agent(id, Resources::from_api(&total))
            .map_err(failed)
    }

    fn remove_agent(&mut self, id: &str) -> Result<(), ModuleError> {
        self.book.remove_agent(id);
        Ok(())
    }

    fn set_agent_active(&mut self, id: &str, active: bool) -> Result<(), ModuleError> {
        self.book.set_agent_active(id, active).map_err(failed)
    }

    fn recover_resources(&mut self, r: &Recovered, now_ms: u64) -> Result<(), ModuleError> {
        self.recover(r, now_ms);
        Ok(())
    }

    fn resources_returned(&mut self, r: &Returned, now_ms: u64) -> Result<(), ModuleError> {
        let resources = self.recover(&r.recovered, now_ms);
        self.policy.observe(Event::Returned {
            framework_id: &r.recovered.allocation.framework_id,
            agent_id: &r.recovered.allocation.agent_id,
            resources: &resources,
            reason: r.reason,
            offer_id: r.offer_id.as_ref().map(RString::as_str).into_option(),
            task_id: r.task_id.as_ref().map(RString::as_str).into_option(),
            refuse_seconds: r.recovered.refuse_seconds.into_option(),
        });
        Ok(())
    }

    fn offers_made(&mut self, offers: Vec<OfferMade>) -> Result<(), ModuleError> {
        for offer in &offers {
            self.policy.observe(Event::OfferMade {
                offer_id: &offer.offer_id,
                framework_id: &offer.allocation.framework_id,
                agent_id: &offer.allocation.agent_id,
            });
        }
        Ok(())
    }

    fn revive_offers(&mut self, id: &str) -> Result<(), ModuleError> {
        self.book.revive(id).map_err(failed)
    }

    fn suppress_offers(&mut self, id: &str) -> Result<(), ModuleError> {
        self.book.suppress(id).map_err(failed)
    }

    fn allocate(&mut self, now_ms: u64) -> Result<Vec<Allocation>, ModuleError> {
        Ok(self
            .round(now_ms)
            .into_iter()
            .map(|g| Allocation {
                framework_id: RString::from(g.framework_id),
                agent_id: RString::from(g.agent_id),
                resources: g.resources.to_api().into(),
            })
            .collect())
    }
}
