//! The allocator in-process, through the rlib and the same trait the host calls.

use corral_module_api::{RNone, RSome, RVec};

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
        let err = DrfAllocator::from_params(&params(&[("weights", bad)]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("parameter 'weights'"), "{bad}: {err}");
    }
}
