//! The allocator in-process, through the rlib and the same trait the host calls.

use corral_module_api::{
    allocator::{AgentEntry, Allocation, FrameworkEntry, Recovered},
    guest::AllocatorModule,
    RNone, RSome, RVec, Resource,
};

use super::*;

fn params(entries: &[(&str, &str)]) -> Params {
    Params::new(entries.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn allocator() -> DrfAllocator {
    DrfAllocator::new(&Params::default(), &guest::null_host()).unwrap()
}

fn framework(a: &mut DrfAllocator, id: &str, role: &str) {
    a.add_framework(&FrameworkEntry {
        id: id.into(),
        role: role.into(),
        weight: 1.0,
        active: true,
    })
    .unwrap();
}

fn agent(a: &mut DrfAllocator, id: &str, cpus: f64, mem: f64) {
    a.add_agent(&AgentEntry {
        id: id.into(),
        hostname: id.into(),
        total: vec![Resource::scalar("cpus", cpus), Resource::scalar("mem", mem)].into(),
        used: RVec::new(),
        active: true,
    })
    .unwrap();
}

fn give_back(a: &mut DrfAllocator, offer: &Allocation, refuse: Option<f64>, now: u64) {
    let r = Recovered {
        allocation: offer.clone(),
        refuse_seconds: refuse.map_or(RNone, RSome),
    };
    a.recover_resources(&r, now).unwrap();
}

fn count_for(offers: &[Allocation], framework: &str) -> usize {
    offers
        .iter()
        .filter(|o| o.framework_id.as_str() == framework)
        .count()
}

#[test]
fn agents_are_shared_fairly_between_equal_frameworks() {
    let mut a = allocator();
    framework(&mut a, "f1", "*");
    framework(&mut a, "f2", "*");
    for i in 0..4 {
        agent(&mut a, &format!("a{i}"), 4.0, 4096.0);
    }
    let offers = a.allocate(0).unwrap();
    assert_eq!(offers.len(), 4, "every agent is offered, whole");
    assert_eq!(count_for(&offers, "f1"), 2);
    assert_eq!(count_for(&offers, "f2"), 2);
    assert!(
        a.allocate(1).unwrap().is_empty(),
        "outstanding offers are allocated"
    );
}

#[test]
fn the_framework_with_the_smaller_dominant_share_goes_first() {
    let mut a = allocator();
    framework(&mut a, "big", "*");
    framework(&mut a, "small", "*");
    agent(&mut a, "a0", 8.0, 8192.0);
    agent(&mut a, "a1", 2.0, 2048.0);
    // "big" holds a0 (80% of cpus); "small" must get the next agent.
    let first = a.allocate(0).unwrap();
    for offer in &first {
        give_back(&mut a, offer, None, 0);
    }
    a.add_agent(&AgentEntry {
        id: "a0".into(),
        hostname: "a0".into(),
        total: vec![
            Resource::scalar("cpus", 8.0),
            Resource::scalar("mem", 8192.0),
        ]
        .into(),
        used: vec![Allocation {
            framework_id: "big".into(),
            agent_id: "a0".into(),
            resources: vec![
                Resource::scalar("cpus", 8.0),
                Resource::scalar("mem", 8192.0),
            ]
            .into(),
        }]
        .into(),
        active: true,
    })
    .unwrap();
    let offers = a.allocate(1).unwrap();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id.as_str(), "small");
    assert_eq!(offers[0].agent_id.as_str(), "a1");
}

#[test]
fn role_weights_scale_shares() {
    let mut a = DrfAllocator::new(&params(&[("weights", "heavy=3")]), &guest::null_host()).unwrap();
    framework(&mut a, "h", "heavy");
    framework(&mut a, "l", "light");
    for i in 0..8 {
        agent(&mut a, &format!("a{i}"), 1.0, 1024.0);
    }
    let offers = a.allocate(0).unwrap();
    assert_eq!(
        count_for(&offers, "h"),
        6,
        "weight 3 gets three times the agents of weight 1"
    );
    assert_eq!(count_for(&offers, "l"), 2);
}

#[test]
fn a_decline_filter_holds_until_it_expires_or_the_framework_revives() {
    let mut a = allocator();
    framework(&mut a, "f", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    let offer = a.allocate(0).unwrap().remove(0);
    give_back(&mut a, &offer, Some(10.0), 1_000);
    assert!(a.allocate(5_000).unwrap().is_empty(), "filtered for 10 s");
    let again = a.allocate(11_001).unwrap();
    assert_eq!(again.len(), 1, "filter expired");

    give_back(&mut a, &again[0], Some(3600.0), 12_000);
    assert!(a.allocate(13_000).unwrap().is_empty());
    a.revive_offers("f").unwrap();
    assert_eq!(
        a.allocate(13_001).unwrap().len(),
        1,
        "revive clears filters"
    );
}

#[test]
fn a_filter_does_not_hide_more_resources_than_were_declined() {
    let mut a = allocator();
    framework(&mut a, "f", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    let offer = a.allocate(0).unwrap().remove(0);
    // Declines half; the other half is still held (e.g. a task runs on it).
    let half = Allocation {
        resources: vec![
            Resource::scalar("cpus", 1.0),
            Resource::scalar("mem", 512.0),
        ]
        .into(),
        ..offer.clone()
    };
    give_back(&mut a, &half, Some(60.0), 0);
    assert!(a.allocate(1).unwrap().is_empty());
    // The task ends: now more is free than was declined, so it is offered.
    give_back(&mut a, &half, None, 2);
    assert_eq!(a.allocate(3).unwrap().len(), 1);
}

#[test]
fn suppressed_and_inactive_frameworks_get_nothing() {
    let mut a = allocator();
    framework(&mut a, "s", "*");
    framework(&mut a, "i", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    a.suppress_offers("s").unwrap();
    a.set_framework_active("i", false).unwrap();
    assert!(a.allocate(0).unwrap().is_empty());
    a.set_framework_active("i", true).unwrap();
    assert_eq!(a.allocate(1).unwrap()[0].framework_id.as_str(), "i");
}

#[test]
fn removing_a_framework_or_agent_frees_its_allocations() {
    let mut a = allocator();
    framework(&mut a, "f1", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    assert_eq!(a.allocate(0).unwrap().len(), 1);
    a.remove_framework("f1").unwrap();
    framework(&mut a, "f2", "*");
    assert_eq!(a.allocate(1).unwrap()[0].framework_id.as_str(), "f2");
    a.remove_agent("a").unwrap();
    assert!(a.allocate(2).unwrap().is_empty());
    assert_eq!(
        a.set_agent_active("a", true).unwrap_err().to_string(),
        "unknown agent 'a'"
    );
}

#[test]
fn agents_below_the_minimum_are_not_offered() {
    let mut a = allocator();
    framework(&mut a, "f", "*");
    agent(&mut a, "tiny", 0.001, 8.0);
    assert!(a.allocate(0).unwrap().is_empty());
}

#[test]
fn bad_weights_are_refused_by_name() {
    for bad in ["web", "web=0", "web=-1", "web=x"] {
        let err = DrfAllocator::new(&params(&[("weights", bad)]), &guest::null_host())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("parameter 'weights'"), "{bad}: {err}");
    }
}

/// Declines every offer of `offers` with a filter of `refuse` seconds.
fn decline_all(a: &mut DrfAllocator, offers: &[Allocation], refuse: f64, now: u64) {
    for offer in offers {
        give_back(a, offer, Some(refuse), now);
    }
}

#[test]
fn an_agent_everyone_declined_is_offered_again_when_anything_changes() {
    // Rounds skip agents every framework passed over; each of these
    // changes must bring the agent back.
    let mut a = allocator();
    framework(&mut a, "f1", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    let offers = a.allocate(0).unwrap();
    decline_all(&mut a, &offers, 3600.0, 0);
    assert!(a.allocate(1).unwrap().is_empty());
    assert!(a.allocate(2).unwrap().is_empty(), "still declined");

    // A framework joins.
    framework(&mut a, "f2", "*");
    let offers = a.allocate(3).unwrap();
    assert_eq!(count_for(&offers, "f2"), 1, "a new framework is offered");
    decline_all(&mut a, &offers, 3600.0, 3);
    assert!(a.allocate(4).unwrap().is_empty());

    // The agent grows: more is free than either framework declined.
    a.update_agent(
        "a",
        vec![
            Resource::scalar("cpus", 4.0),
            Resource::scalar("mem", 2048.0),
        ],
    )
    .unwrap();
    let offers = a.allocate(5).unwrap();
    assert_eq!(offers.len(), 1, "a grown agent is offered");
    decline_all(&mut a, &offers, 3600.0, 5);
    let other = if offers[0].framework_id.as_str() == "f1" {
        "f2"
    } else {
        "f1"
    };
    let offers = a.allocate(6).unwrap();
    assert_eq!(count_for(&offers, other), 1, "and to the other framework");
    decline_all(&mut a, &offers, 3600.0, 6);
    assert!(a.allocate(7).unwrap().is_empty());

    // Deactivated and reactivated.
    a.set_agent_active("a", false).unwrap();
    a.set_agent_active("a", true).unwrap();
    assert!(a.allocate(8).unwrap().is_empty(), "filters still hold");
    a.revive_offers("f1").unwrap();
    assert_eq!(count_for(&a.allocate(9).unwrap(), "f1"), 1, "revived");
}

#[test]
fn a_skipped_agent_returns_when_the_earliest_of_its_filters_expires() {
    let mut a = allocator();
    framework(&mut a, "short", "*");
    framework(&mut a, "long", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    agent(&mut a, "b", 2.0, 1024.0);
    let offers = a.allocate(0).unwrap();
    assert_eq!(offers.len(), 2);
    // Each framework declines both agents, "short" for 10 s.
    for offer in &offers {
        give_back(&mut a, offer, Some(3600.0), 0);
    }
    for agent_id in ["a", "b"] {
        for (framework, refuse) in [("short", 10.0), ("long", 3600.0)] {
            let offer = Allocation {
                framework_id: framework.into(),
                agent_id: agent_id.into(),
                resources: vec![
                    Resource::scalar("cpus", 2.0),
                    Resource::scalar("mem", 1024.0),
                ]
                .into(),
            };
            give_back(&mut a, &offer, Some(refuse), 0);
        }
    }
    assert!(a.allocate(1_000).unwrap().is_empty());
    assert!(a.allocate(9_999).unwrap().is_empty());
    let offers = a.allocate(10_000).unwrap();
    assert_eq!(offers.len(), 2, "both agents come back at 10 s");
    assert_eq!(count_for(&offers, "short"), 2);
}

#[test]
fn a_re_added_agent_keeps_its_filters() {
    let mut a = allocator();
    framework(&mut a, "f", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    let offers = a.allocate(0).unwrap();
    decline_all(&mut a, &offers, 3600.0, 0);
    // The agent re-registers with the same resources.
    agent(&mut a, "a", 2.0, 1024.0);
    assert!(a.allocate(1).unwrap().is_empty());
    // A framework re-subscribing starts without filters.
    framework(&mut a, "f", "*");
    assert_eq!(a.allocate(2).unwrap().len(), 1);
}

#[test]
fn a_filter_of_a_framework_that_takes_no_offers_does_not_hide_an_agent() {
    // The agent's filters are counted against the frameworks taking
    // offers; one of a suppressed framework must not stand in for them.
    let mut a = allocator();
    framework(&mut a, "picky", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    let offers = a.allocate(0).unwrap();
    decline_all(&mut a, &offers, 3600.0, 0);
    a.suppress_offers("picky").unwrap();
    framework(&mut a, "keen", "*");
    let offers = a.allocate(1).unwrap();
    assert_eq!(count_for(&offers, "keen"), 1, "{offers:?}");
}

#[test]
fn a_framework_in_a_removed_frameworks_place_starts_without_its_filters() {
    let mut a = allocator();
    framework(&mut a, "old", "*");
    agent(&mut a, "a", 2.0, 1024.0);
    let offers = a.allocate(0).unwrap();
    decline_all(&mut a, &offers, 3600.0, 0);
    a.remove_framework("old").unwrap();
    framework(&mut a, "new", "*");
    let offers = a.allocate(1).unwrap();
    assert_eq!(count_for(&offers, "new"), 1, "{offers:?}");
}
