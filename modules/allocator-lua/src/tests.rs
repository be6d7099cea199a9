//! The module in-process, driven by the kit's fake host.

use std::path::{Path, PathBuf};

use corral_allocator_kit::testing::{FakeHost, Offer};
use corral_module_api::Resource;

use crate::LuaAllocator;

fn policy(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies")
        .join(name)
        .display()
        .to_string()
}

fn lua(script: &str, more: &[(&str, &str)]) -> FakeHost<LuaAllocator> {
    let mut params = vec![("script", script)];
    params.extend_from_slice(more);
    FakeHost::build(&params).unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// A script written to a scratch folder.
fn scratch_script(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn node(cpus: f64, mem: f64) -> [Resource; 2] {
    [Resource::scalar("cpus", cpus), Resource::scalar("mem", mem)]
}

fn summary(offers: &[Offer]) -> Vec<String> {
    offers
        .iter()
        .map(|o| {
            format!(
                "{}@{} cpus={} mem={}",
                o.framework_id,
                o.agent_id,
                o.resources.scalar("cpus"),
                o.resources.scalar("mem")
            )
        })
        .collect()
}

#[test]
fn binpack_fills_one_agent_before_offering_an_idle_one() {
    let mut host = lua(&policy("binpack.lua"), &[]);
    host.framework("fw", "*");
    for a in ["a1", "a2", "a3"] {
        host.agent(a, &node(4.0, 4096.0));
    }
    let first = host.allocate();
    assert_eq!(first.len(), 1, "one idle agent at a time: {first:?}");
    let agent = first[0].agent_id.clone();
    host.launch(&first[0], "t1", &[Resource::scalar("cpus", 1.0)]);
    let next = host.advance(6_000).allocate();
    assert_eq!(
        summary(&next),
        [format!("fw@{agent} cpus=3 mem=4096")],
        "the busy agent's rest, and no idle agent"
    );
}

#[test]
fn priority_offers_every_agent_to_the_higher_role_first() {
    let mut host = lua(&policy("priority.lua"), &[]);
    host.framework("a-dev", "dev").framework("z-prod", "prod");
    for i in 0..4 {
        host.agent(&format!("agent-{i}"), &node(2.0, 2048.0));
    }
    let offers = host.allocate();
    assert_eq!(offers.len(), 4);
    assert!(
        offers.iter().all(|o| o.framework_id == "z-prod"),
        "prod first whatever its share: {:?}",
        summary(&offers)
    );
    // drf.lua splits the same cluster between them.
    let mut drf = lua(&policy("drf.lua"), &[]);
    drf.framework("a-dev", "dev").framework("z-prod", "prod");
    for i in 0..4 {
        drf.agent(&format!("agent-{i}"), &node(2.0, 2048.0));
    }
    assert!(drf.allocate().iter().any(|o| o.framework_id == "a-dev"));
}

#[test]
fn a_script_that_does_not_load_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, expected) in [
        (
            "syntax.lua",
            "function key(f)\n  return f.id +\nend\n",
            "syntax.lua:3:",
        ),
        ("io.lua", "local f = io.open('/etc/passwd')\n", "io.lua:1:"),
        ("load.lua", "load('return 1')()\n", "load.lua:1:"),
        (
            "none.lua",
            "x = 1\n",
            "defines none of the policy functions",
        ),
    ] {
        let path = scratch_script(&dir, name, text);
        let err = FakeHost::<LuaAllocator>::build(&[("script", path.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{name}: {err}");
    }
    let err = FakeHost::<LuaAllocator>::build(&[("script", "/no/such/policy.lua")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such/policy.lua"), "{err}");
}

#[test]
fn a_runtime_error_voids_that_round_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_script(
        &dir,
        "fragile.lua",
        "function key(f)\n  if f.id == 'bad' then error('no bad frameworks') end\n  return f.id\nend\n",
    );
    let mut host = lua(path.to_str().unwrap(), &[]);
    host.framework("good", "*").framework("bad", "*");
    host.agent("a1", &node(2.0, 2048.0));
    assert!(host.allocate().is_empty(), "the round is voided");
    assert_eq!(host.free_on("a1").scalar("cpus"), 2.0, "nothing held");
    host.set_framework_active("bad", false);
    let offers = host.allocate();
    assert_eq!(summary(&offers), ["good@a1 cpus=2 mem=2048"]);
    assert_eq!(host.allocator().policy().counts().0, 1);
}

#[test]
fn instruction_and_memory_limits_void_a_round_and_the_next_tries_again() {
    let dir = tempfile::tempdir().unwrap();
    let spin = scratch_script(
        &dir,
        "spin.lua",
        "function key(f)\n  while true do end\nend\n",
    );
    let mut host = lua(spin.to_str().unwrap(), &[("instruction_limit", "100000")]);
    host.framework("fw", "*").agent("a1", &node(2.0, 2048.0));
    assert!(host.allocate().is_empty());
    assert!(host.allocate().is_empty());
    assert_eq!(host.allocator().policy().counts().0, 2, "each round tried");

    let hog = scratch_script(
        &dir,
        "hog.lua",
        "function key(f)\n  local t = {}\n  for i = 1, 1e8 do t[i] = i end\nend\n",
    );
    let mut host = lua(
        hog.to_str().unwrap(),
        &[("memory_limit", "1"), ("instruction_limit", "1000000000")],
    );
    host.framework("fw", "*").agent("a1", &node(2.0, 2048.0));
    assert!(host.allocate().is_empty());
    assert_eq!(host.allocator().policy().counts().0, 1);
}

#[test]
fn a_changed_script_is_used_from_the_next_round_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_script(
        &dir,
        "live.lua",
        &std::fs::read_to_string(policy("firstfit.lua")).unwrap(),
    );
    let mut host = lua(path.to_str().unwrap(), &[]);
    host.framework("fw-a", "*").framework("fw-b", "*");
    host.agent("a1", &node(2.0, 2048.0));
    let offer = host.allocate().remove(0);
    assert_eq!(offer.framework_id, "fw-a");
    host.decline(&offer, None);

    std::fs::write(
        &path,
        "-- prefer fw-b now\nfunction key(f)\n  return f.id == 'fw-b' and 0 or 1\nend\n",
    )
    .unwrap();
    let offer = host.allocate().remove(0);
    assert_eq!(offer.framework_id, "fw-b", "reloaded");
    host.decline(&offer, None);

    std::fs::write(&path, "function key(f) return f.id +").unwrap();
    let offer = host.allocate().remove(0);
    assert_eq!(
        offer.framework_id, "fw-b",
        "the last good script still runs"
    );
    assert_eq!(host.allocator().policy().counts(), (0, 1));
}

#[test]
fn choose_can_offer_part_of_an_agent_and_a_bad_answer_passes() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_script(
        &dir,
        "cap.lua",
        "function choose(agent, framework, offerable)\n  if framework.id == 'greedy' then return { cpus = 99 } end\n  return { cpus = math.min(offerable.cpus, 1) }\nend\n",
    );
    let mut host = lua(path.to_str().unwrap(), &[]);
    host.framework("greedy", "*").framework("modest", "*");
    host.agent("a1", &node(4.0, 4096.0));
    assert_eq!(summary(&host.allocate()), ["modest@a1 cpus=1 mem=4096"]);
}
