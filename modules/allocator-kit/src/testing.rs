//! A fake host for unit-testing any allocator module (built on the kit or
//! not): it makes the calls the master makes, keeps its own account of
//! what is offered and used, and checks every grant against it, so a test
//! reads as a scenario and a wrong offer fails saying what was wrong.
//!
//! ```ignore
//! let mut host = FakeHost::<Kit<MyPolicy>>::build(&[])?;
//! host.framework("fw-a", "*").agent("a1", &[Resource::scalar("cpus", 4.0)]);
//! let offers = host.allocate();
//! host.decline(&offers[0], Some(5.0));
//! host.advance(6_000);
//! ```

use std::collections::BTreeMap;

use corral_module_api::{
    allocator::{
        AgentEntry, Allocation, FrameworkDetails, FrameworkEntry, OfferMade, Recovered,
        ReturnReason, Returned,
    },
    guest::{testing, AllocatorModule},
    ModuleError, RNone, ROption, RSome, RString, RVec, Resource,
};

use crate::resources::Resources;

/// An offer the fake host made of a grant.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub id: String,
    pub framework_id: String,
    pub agent_id: String,
    pub resources: Resources,
}

/// A grant that a real host would have to refuse.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug)]
struct FakeFramework {
    role: String,
    active: bool,
    suppressed: bool,
}

#[derive(Debug)]
struct FakeAgent {
    total: Resources,
    active: bool,
}

#[derive(Debug)]
struct FakeTask {
    framework_id: String,
    agent_id: String,
    resources: Resources,
}

/// Drives an allocator module `A` as the master would.
#[derive(Debug)]
pub struct FakeHost<A> {
    allocator: A,
    now_ms: u64,
    frameworks: BTreeMap<String, FakeFramework>,
    agents: BTreeMap<String, FakeAgent>,
    offers: BTreeMap<String, Offer>,
    tasks: BTreeMap<String, FakeTask>,
    next_offer: u64,
}

fn expect_ok<T>(call: &str, result: Result<T, ModuleError>) -> T {
    result.unwrap_or_else(|e| panic!("the allocator's {call} failed: {e}"))
}

fn allocation(framework_id: &str, agent_id: &str, resources: &Resources) -> Allocation {
    Allocation {
        framework_id: framework_id.into(),
        agent_id: agent_id.into(),
        resources: resources.to_api().into(),
    }
}

fn ropt(s: Option<&str>) -> ROption<RString> {
    s.map_or(RNone, |s| RSome(s.into()))
}

impl<A: AllocatorModule> FakeHost<A> {
    /// The allocator built from `params` as the host builds it (declared
    /// parameters checked, defaults filled in).
    pub fn build(params: &[(&str, &str)]) -> Result<Self, ModuleError> {
        Ok(FakeHost::new(testing::allocator::<A>(params)?))
    }

    pub fn new(allocator: A) -> Self {
        FakeHost {
            allocator,
            now_ms: 0,
            frameworks: BTreeMap::new(),
            agents: BTreeMap::new(),
            offers: BTreeMap::new(),
            tasks: BTreeMap::new(),
            next_offer: 1,
        }
    }

    /// The allocator, to inspect it or call it directly.
    pub fn allocator(&mut self) -> &mut A {
        &mut self.allocator
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Moves the host's clock on.
    pub fn advance(&mut self, ms: u64) -> &mut Self {
        self.now_ms += ms;
        self
    }

    /// Adds an active framework named after its id, with one role.
    pub fn framework(&mut self, id: &str, role: &str) -> &mut Self {
        self.add_framework(FrameworkDetails {
            entry: FrameworkEntry {
                id: id.into(),
                role: role.into(),
                weight: 1.0,
                active: true,
            },
            name: id.into(),
            user: "root".into(),
            principal: RNone,
            roles: RVec::from(vec![RString::from(role)]),
            capabilities: RVec::new(),
        })
    }

    /// Adds a framework described in full.
    pub fn add_framework(&mut self, details: FrameworkDetails) -> &mut Self {
        self.frameworks.insert(
            details.entry.id.to_string(),
            FakeFramework {
                role: details.entry.role.to_string(),
                active: details.entry.active,
                suppressed: false,
            },
        );
        expect_ok(
            "add_framework_details",
            self.allocator.add_framework_details(&details),
        );
        self
    }

    /// Adds an active agent with nothing in use.
    pub fn agent(&mut self, id: &str, total: &[Resource]) -> &mut Self {
        self.agents.insert(
            id.to_owned(),
            FakeAgent {
                total: Resources::from_api(total),
                active: true,
            },
        );
        let entry = AgentEntry {
            id: id.into(),
            hostname: format!("{id}.example").into(),
            total: total.to_vec().into(),
            used: RVec::new(),
            active: true,
        };
        expect_ok("add_agent", self.allocator.add_agent(&entry));
        self
    }

    /// Connects or disconnects a framework.
    pub fn set_framework_active(&mut self, id: &str, active: bool) -> &mut Self {
        if let Some(f) = self.frameworks.get_mut(id) {
            f.active = active;
        }
        expect_ok(
            "set_framework_active",
            self.allocator.set_framework_active(id, active),
        );
        if !active {
            let theirs: Vec<Offer> = self
                .offers
                .values()
                .filter(|o| o.framework_id == id)
                .cloned()
                .collect();
            for offer in theirs {
                self.rescind(&offer);
            }
        }
        self
    }

    pub fn suppress(&mut self, id: &str) -> &mut Self {
        if let Some(f) = self.frameworks.get_mut(id) {
            f.suppressed = true;
        }
        expect_ok("suppress_offers", self.allocator.suppress_offers(id));
        self
    }

    pub fn revive(&mut self, id: &str) -> &mut Self {
        if let Some(f) = self.frameworks.get_mut(id) {
            f.suppressed = false;
        }
        expect_ok("revive_offers", self.allocator.revive_offers(id));
        self
    }

    /// One allocation round; every grant must be one a real host could
    /// offer (the test fails naming the first that is not).
    pub fn allocate(&mut self) -> Vec<Offer> {
        self.try_allocate()
            .unwrap_or_else(|v| panic!("the allocator made a grant the host must refuse: {v}"))
    }

    /// One allocation round, with the first grant a host must refuse as
    /// an error instead of a failed test.
    pub fn try_allocate(&mut self) -> Result<Vec<Offer>, Violation> {
        let grants = expect_ok("allocate", self.allocator.allocate(self.now_ms));
        let mut offers = Vec::new();
        for grant in grants {
            let framework_id = grant.framework_id.to_string();
            let agent_id = grant.agent_id.to_string();
            let resources = Resources::from_api(&grant.resources);
            self.check(&framework_id, &agent_id, &resources)?;
            let offer = Offer {
                id: format!("O{}", self.next_offer),
                framework_id,
                agent_id,
                resources,
            };
            self.next_offer += 1;
            self.offers.insert(offer.id.clone(), offer.clone());
            offers.push(offer);
        }
        let made: Vec<OfferMade> = offers
            .iter()
            .map(|o| OfferMade {
                offer_id: o.id.as_str().into(),
                allocation: allocation(&o.framework_id, &o.agent_id, &o.resources),
            })
            .collect();
        if !made.is_empty() {
            expect_ok("offers_made", self.allocator.offers_made(made));
        }
        Ok(offers)
    }

    /// What of `agent_id` nobody holds, in the host's own account.
    pub fn free_on(&self, agent_id: &str) -> Resources {
        let Some(agent) = self.agents.get(agent_id) else {
            return Resources::default();
        };
        let mut free = agent.total.clone();
        for o in self.offers.values().filter(|o| o.agent_id == agent_id) {
            free.subtract(&o.resources);
        }
        for t in self.tasks.values().filter(|t| t.agent_id == agent_id) {
            free.subtract(&t.resources);
        }
        free
    }

    fn check(&self, framework_id: &str, agent_id: &str, r: &Resources) -> Result<(), Violation> {
        let bad = |what: String| Err(Violation(format!("{framework_id} on {agent_id}: {what}")));
        let Some(f) = self.frameworks.get(framework_id) else {
            return bad("unknown framework".into());
        };
        if !f.active || f.suppressed {
            return bad("the framework is inactive or suppressed".into());
        }
        match self.agents.get(agent_id) {
            None => return bad("unknown agent".into()),
            Some(a) if !a.active => return bad("the agent is inactive".into()),
            Some(_) => {}
        }
        if r.is_empty() {
            return bad("an empty grant".into());
        }
        if r.offerable_to(&f.role) != *r {
            return bad(format!(
                "{r:?} includes resources reserved for another role"
            ));
        }
        let free = self.free_on(agent_id);
        if !free.contains(r) {
            return bad(format!("{r:?} is more than the agent has free ({free:?})"));
        }
        Ok(())
    }

    fn give_back(&mut self, back: Back<'_>, refuse_seconds: Option<f64>, reason: ReturnReason) {
        if back.resources.is_empty() {
            return;
        }
        let returned = Returned {
            recovered: Recovered {
                allocation: allocation(back.framework_id, back.agent_id, back.resources),
                refuse_seconds: refuse_seconds.map_or(RNone, RSome),
            },
            reason,
            offer_id: ropt(back.offer_id),
            task_id: ropt(back.task_id),
        };
        expect_ok(
            "resources_returned",
            self.allocator.resources_returned(&returned, self.now_ms),
        );
    }

    fn take(&mut self, offer: &Offer) -> Offer {
        self.offers
            .remove(&offer.id)
            .unwrap_or_else(|| panic!("offer {} is not outstanding", offer.id))
    }

    /// DECLINE, with a filter of `refuse_seconds` if given.
    pub fn decline(&mut self, offer: &Offer, refuse_seconds: Option<f64>) -> &mut Self {
        let o = self.take(offer);
        self.give_back(
            Back::offer(&o, &o.resources),
            refuse_seconds,
            ReturnReason::DECLINED,
        );
        self
    }

    /// The host withdraws the offer.
    pub fn rescind(&mut self, offer: &Offer) -> &mut Self {
        let o = self.take(offer);
        self.give_back(Back::offer(&o, &o.resources), None, ReturnReason::RESCINDED);
        self
    }

    /// ACCEPT with one task `task_id` using `uses` of the offer; the rest
    /// comes back as unused (with Mesos' default 5 s filter).
    pub fn launch(&mut self, offer: &Offer, task_id: &str, uses: &[Resource]) -> &mut Self {
        let o = self.take(offer);
        let used = Resources::from_api(uses);
        assert!(
            o.resources.contains(&used),
            "task {task_id} uses more than offer {} holds",
            o.id
        );
        let mut unused = o.resources.clone();
        unused.subtract(&used);
        self.tasks.insert(
            task_id.to_owned(),
            FakeTask {
                framework_id: o.framework_id.clone(),
                agent_id: o.agent_id.clone(),
                resources: used,
            },
        );
        self.give_back(Back::offer(&o, &unused), Some(5.0), ReturnReason::UNUSED);
        self
    }

    /// The task ends and its resources come back.
    pub fn finish(&mut self, task_id: &str) -> &mut Self {
        let t = self
            .tasks
            .remove(task_id)
            .unwrap_or_else(|| panic!("no running task {task_id}"));
        let back = Back {
            framework_id: &t.framework_id,
            agent_id: &t.agent_id,
            resources: &t.resources,
            offer_id: None,
            task_id: Some(task_id),
        };
        self.give_back(back, None, ReturnReason::TASK_ENDED);
        self
    }

    /// The offers outstanding, oldest first.
    pub fn outstanding(&self) -> Vec<Offer> {
        let mut all: Vec<Offer> = self.offers.values().cloned().collect();
        all.sort_by_key(|o| o.id[1..].parse::<u64>().unwrap_or(u64::MAX));
        all
    }
}

/// Resources going back, and where from.
struct Back<'a> {
    framework_id: &'a str,
    agent_id: &'a str,
    resources: &'a Resources,
    offer_id: Option<&'a str>,
    task_id: Option<&'a str>,
}

impl<'a> Back<'a> {
    fn offer(o: &'a Offer, resources: &'a Resources) -> Self {
        Back {
            framework_id: &o.framework_id,
            agent_id: &o.agent_id,
            resources,
            offer_id: Some(&o.id),
            task_id: None,
        }
    }
}
