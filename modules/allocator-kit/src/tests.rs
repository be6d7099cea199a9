//! The kit's own behaviour, through small policies and the fake host.

use corral_module_api::{
    allocator::{Allocation, FrameworkDetails, FrameworkEntry},
    guest::AllocatorModule,
    Host, ModuleError, RNone, RString, RVec, Resource,
};

use crate::{
    testing::FakeHost, Agent, Choice, Cluster, Event, Framework, Kit, Params, Policy, Resources,
};

fn node() -> [Resource; 2] {
    [
        Resource::scalar("cpus", 4.0),
        Resource::scalar("mem", 1024.0),
    ]
}

/// Passes every agent over while `passing`, records what it observes,
/// and answers `choice` otherwise.
#[derive(Debug, Default)]
struct Scripted {
    passing: bool,
    choice: Option<Choice>,
    seen: Vec<String>,
    names: Vec<(String, Vec<String>)>,
}

impl Policy for Scripted {
    const SHUFFLE_AGENTS: bool = false;
    fn new(_: &Params, _: &Host) -> Result<Self, ModuleError> {
        Ok(Scripted::default())
    }
    fn order(&mut self, _: &Cluster<'_>, frameworks: &mut [&Framework]) {
        self.names = frameworks
            .iter()
            .map(|f| (f.name().to_owned(), f.capabilities().to_vec()))
            .collect();
    }
    fn choose(&mut self, _: &Agent, _: &Framework, _: &Resources) -> Choice {
        if self.passing {
            return Choice::Pass;
        }
        self.choice.clone().unwrap_or(Choice::All)
    }
    fn observe(&mut self, event: Event<'_>) {
        match event {
            Event::Returned {
                reason,
                offer_id,
                task_id,
                ..
            } => self.seen.push(format!(
                "{} offer={} task={}",
                reason.name(),
                offer_id.unwrap_or("-"),
                task_id.unwrap_or("-")
            )),
            Event::OfferMade { offer_id, .. } => self.seen.push(format!("made {offer_id}")),
        }
    }
}

fn host() -> FakeHost<Kit<Scripted>> {
    let mut host = FakeHost::build(&[]).unwrap();
    host.framework("fw", "*").agent("a1", &node());
    host
}

#[test]
fn an_agent_the_policy_passed_over_is_looked_at_again_next_round() {
    let mut host = host();
    host.allocator().policy_mut().passing = true;
    assert!(host.allocate().is_empty());
    host.allocator().policy_mut().passing = false;
    assert_eq!(
        host.allocate().len(),
        1,
        "a policy's pass is not a verdict the kit may remember"
    );
}

#[test]
fn a_choice_of_resources_that_were_not_offerable_is_dropped() {
    let mut host = host();
    let too_much = Resources::from_api(&[Resource::scalar("cpus", 5.0)]);
    host.allocator().policy_mut().choice = Some(Choice::Part(too_much));
    assert!(host.allocate().is_empty(), "never more than the agent has");
    let part = Resources::from_api(&[Resource::scalar("cpus", 1.0)]);
    host.allocator().policy_mut().choice = Some(Choice::Part(part.clone()));
    let offers = host.allocate();
    assert_eq!(offers[0].resources, part);
    assert_eq!(host.free_on("a1").scalar("cpus"), 3.0);
}

#[test]
fn the_policy_learns_why_resources_come_back_and_which_offers_were_made() {
    let mut host = host();
    let offer = host.allocate().remove(0);
    host.launch(&offer, "t1", &[Resource::scalar("cpus", 1.0)]);
    host.finish("t1");
    let again = host.advance(6_000).allocate().remove(0);
    host.decline(&again, None);
    let seen = &host.allocator().policy().seen;
    assert_eq!(
        seen,
        &[
            "made O1",
            "unused offer=O1 task=-",
            "task_ended offer=- task=t1",
            "made O2",
            "declined offer=O2 task=-",
        ]
    );
}

#[test]
fn policies_see_framework_names_and_capabilities() {
    let mut host: FakeHost<Kit<Scripted>> = FakeHost::build(&[]).unwrap();
    host.add_framework(FrameworkDetails {
        entry: FrameworkEntry {
            id: "fw-1".into(),
            role: "web".into(),
            weight: 1.0,
            active: true,
        },
        name: "marathon".into(),
        user: "root".into(),
        principal: RNone,
        roles: RVec::from(vec![RString::from("web"), RString::from("batch")]),
        capabilities: RVec::from(vec![RString::from("MULTI_ROLE")]),
    });
    host.agent("a1", &node());
    host.allocate();
    let framework = host.allocator().book().framework("fw-1").unwrap();
    assert_eq!(framework.roles(), ["web", "batch"]);
    assert!(framework.has_capability("MULTI_ROLE"));
    assert_eq!(
        host.allocator().policy().names,
        [("marathon".to_owned(), vec!["MULTI_ROLE".to_owned()])]
    );
}

#[test]
fn reserved_resources_go_only_to_their_role() {
    let mut host: FakeHost<Kit<Scripted>> = FakeHost::build(&[]).unwrap();
    host.framework("a-other", "other").framework("b-web", "web");
    host.agent(
        "a1",
        &[
            Resource::scalar("cpus", 2.0).with_role("web"),
            Resource::scalar("mem", 64.0).with_role("web"),
        ],
    );
    let offers = host.allocate();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id, "b-web");
}

/// An allocator that offers the same agent twice: the fake host must catch it.
#[derive(Debug)]
struct Greedy;

impl AllocatorModule for Greedy {
    fn new(_: &Params, _: &Host) -> Result<Self, ModuleError> {
        Ok(Greedy)
    }
    fn add_framework(&mut self, _: &FrameworkEntry) -> Result<(), ModuleError> {
        Ok(())
    }
    fn remove_framework(&mut self, _: &str) -> Result<(), ModuleError> {
        Ok(())
    }
    fn set_framework_active(&mut self, _: &str, _: bool) -> Result<(), ModuleError> {
        Ok(())
    }
    fn add_agent(
        &mut self,
        _: &corral_module_api::allocator::AgentEntry,
    ) -> Result<(), ModuleError> {
        Ok(())
    }
    fn update_agent(&mut self, _: &str, _: Vec<Resource>) -> Result<(), ModuleError> {
        Ok(())
    }
    fn remove_agent(&mut self, _: &str) -> Result<(), ModuleError> {
        Ok(())
    }
    fn set_agent_active(&mut self, _: &str, _: bool) -> Result<(), ModuleError> {
        Ok(())
    }
    fn recover_resources(
        &mut self,
        _: &corral_module_api::allocator::Recovered,
        _: u64,
    ) -> Result<(), ModuleError> {
        Ok(())
    }
    fn revive_offers(&mut self, _: &str) -> Result<(), ModuleError> {
        Ok(())
    }
    fn suppress_offers(&mut self, _: &str) -> Result<(), ModuleError> {
        Ok(())
    }
    fn allocate(&mut self, _: u64) -> Result<Vec<Allocation>, ModuleError> {
        Ok(vec![Allocation {
            framework_id: "fw".into(),
            agent_id: "a1".into(),
            resources: node().to_vec().into(),
        }])
    }
}

#[test]
fn the_fake_host_refuses_a_grant_of_resources_already_offered() {
    let mut host = FakeHost::new(Greedy);
    host.framework("fw", "*").agent("a1", &node());
    assert_eq!(host.try_allocate().unwrap().len(), 1);
    let violation = host.try_allocate().unwrap_err().to_string();
    assert!(
        violation.starts_with("fw on a1:") && violation.contains("more than the agent has free"),
        "{violation}"
    );
    host.suppress("fw");
    let violation = host.try_allocate().unwrap_err().to_string();
    assert!(violation.contains("suppressed"), "{violation}");
}

/// Orders agents by id, descending, and voids rounds while `void` is set.
#[derive(Debug, Default)]
struct Voiding {
    void: bool,
}

impl Policy for Voiding {
    const SHUFFLE_AGENTS: bool = false;
    fn new(_: &Params, _: &Host) -> Result<Self, ModuleError> {
        Ok(Voiding::default())
    }
    fn orders_agents(&self) -> bool {
        true
    }
    fn order_agents(&mut self, _: &Cluster<'_>, agents: &mut [&Agent]) {
        agents.sort_by(|a, b| b.id().cmp(a.id()));
    }
    fn end_round(&mut self) -> Result<(), String> {
        if self.void {
            Err("voided on purpose".into())
        } else {
            Ok(())
        }
    }
}

#[test]
fn a_voided_round_offers_nothing_and_holds_nothing() {
    let mut host: FakeHost<Kit<Voiding>> = FakeHost::build(&[]).unwrap();
    host.framework("fw", "*")
        .agent("a1", &node())
        .agent("a2", &node());
    host.allocator().policy_mut().void = true;
    assert!(host.allocate().is_empty());
    let book = host.allocator().book();
    assert!(book.framework("fw").unwrap().allocated().is_empty());
    assert_eq!(book.framework("fw").unwrap().offers_made(), 0);
    host.allocator().policy_mut().void = false;
    let agents: Vec<String> = host.allocate().into_iter().map(|o| o.agent_id).collect();
    assert_eq!(
        agents,
        ["a2", "a1"],
        "the next round offers, in the policy's agent order"
    );
}
