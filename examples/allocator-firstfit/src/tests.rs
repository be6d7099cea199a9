//! The policy driven by the kit's fake host, as the master would drive it.

use corral_allocator_kit::{testing::FakeHost, Kit};
use corral_module_api::Resource;

use super::FirstFit;

fn host(params: &[(&str, &str)]) -> FakeHost<Kit<FirstFit>> {
    let mut host = FakeHost::build(params).unwrap();
    host.framework("fw-a", "*").framework("fw-b", "*");
    host
}

fn node() -> [Resource; 2] {
    [
        Resource::scalar("cpus", 4.0),
        Resource::scalar("mem", 1024.0),
    ]
}

#[test]
fn agents_go_to_the_frameworks_in_turn() {
    let mut host = host(&[]);
    for agent in ["a1", "a2", "a3"] {
        host.agent(agent, &node());
    }
    let taker: Vec<String> = host
        .allocate()
        .into_iter()
        .map(|o| o.framework_id)
        .collect();
    assert_eq!(taker, ["fw-a", "fw-b", "fw-a"]);
    assert!(
        host.allocate().is_empty(),
        "offered resources count as allocated"
    );
}

#[test]
fn a_declined_agent_goes_to_the_other_framework_until_the_filter_expires() {
    let mut host = host(&[]);
    host.agent("a1", &node());
    let first = host.allocate().remove(0);
    host.decline(&first, Some(5.0));
    let second = host.advance(10).allocate().remove(0);
    assert_ne!(second.framework_id, first.framework_id);
    host.decline(&second, Some(5.0));
    assert!(
        host.advance(10).allocate().is_empty(),
        "both filtered the agent"
    );
    let after = host.advance(5_000).allocate();
    assert_eq!(after.len(), 1, "the first filter expired");
    assert_eq!(after[0].framework_id, first.framework_id);
}

#[test]
fn suppressed_frameworks_get_nothing_until_they_revive() {
    let mut host = host(&[]);
    host.agent("a1", &node()).suppress("fw-a").suppress("fw-b");
    assert!(host.allocate().is_empty());
    let offers = host.revive("fw-b").allocate();
    assert_eq!(offers[0].framework_id, "fw-b");
}

#[test]
fn a_cpu_cap_splits_an_agent_between_the_frameworks() {
    let mut host = host(&[("max_cpus", "1.5")]);
    host.agent("a1", &node());
    let offers = host.allocate();
    let cpus: Vec<f64> = offers.iter().map(|o| o.resources.scalar("cpus")).collect();
    assert_eq!(cpus, [1.5, 1.5], "two capped offers: {offers:?}");
    assert_eq!(
        offers[0].resources.scalar("mem"),
        1024.0,
        "the first takes all mem"
    );
    assert_eq!(
        host.free_on("a1").scalar("cpus"),
        1.0,
        "the rest waits for the next round"
    );
}

#[test]
fn what_a_task_leaves_unused_and_then_frees_is_offered_again() {
    let mut host = host(&[]);
    host.agent("a1", &node());
    let offer = host.allocate().remove(0);
    host.launch(&offer, "t1", &[Resource::scalar("cpus", 1.0)]);
    // Unused resources carry Mesos' 5 s filter for the taker.
    let next = host.allocate();
    assert_eq!(next[0].framework_id, "fw-b");
    assert_eq!(next[0].resources.scalar("cpus"), 3.0);
    host.finish("t1");
    assert_eq!(host.allocate()[0].resources.scalar("cpus"), 1.0);
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let err = FakeHost::<Kit<FirstFit>>::build(&[("max_cpus", "lots")]).unwrap_err();
    assert!(err.to_string().contains("max_cpus"), "{err}");
}
