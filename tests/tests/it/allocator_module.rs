//! An allocator module driven through the ABI by core's native trait: the
//! example third-party allocator, loaded from its cdylib.

use corral::{
    domain::Resource,
    extension::{AgentEntry, Allocation, AllocatorPlugin, FrameworkEntry, Recovered},
    module_host::load_manifest,
};
use corral_tests::{library_entry, module_library, ManifestDir};

fn allocator(dir: &ManifestDir) -> Box<dyn AllocatorPlugin> {
    let manifest = dir.write(
        "modules.toml",
        &library_entry(
            &module_library("corral_example_allocator_firstfit"),
            &["org_example_allocator_firstfit"],
        ),
    );
    let (registry, errors) = load_manifest(&manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    registry
        .create_allocator("org_example_allocator_firstfit", "test")
        .unwrap()
}

#[test]
fn offers_filters_and_revive_cross_the_abi_intact() {
    let dir = ManifestDir::new();
    let mut a = allocator(&dir);
    a.add_framework(&FrameworkEntry {
        id: "fw".into(),
        role: "*".into(),
        weight: 1.0,
        active: true,
        ..FrameworkEntry::default()
    })
    .unwrap();
    let total = vec![
        Resource::scalar("cpus", 2.0),
        Resource::scalar("mem", 512.0),
    ];
    a.add_agent(&AgentEntry {
        id: "ag".into(),
        hostname: "h".into(),
        total: total.clone(),
        used: vec![],
        active: true,
    })
    .unwrap();

    let offers = a.allocate(0).unwrap();
    assert_eq!(
        offers,
        [Allocation {
            framework_id: "fw".into(),
            agent_id: "ag".into(),
            resources: total.clone()
        }]
    );

    // Declined with a 2 s filter: nothing until it expires.
    let declined = Recovered {
        allocation: offers[0].clone(),
        refuse_seconds: Some(2.0),
        ..Recovered::default()
    };
    a.recover_resources(&declined, 1_000).unwrap();
    assert!(a.allocate(2_999).unwrap().is_empty());
    assert_eq!(a.allocate(3_001).unwrap().len(), 1);

    // Declined again, then REVIVE clears the filter at once.
    let declined = Recovered {
        allocation: offers[0].clone(),
        refuse_seconds: Some(60.0),
        ..Recovered::default()
    };
    a.recover_resources(&declined, 4_000).unwrap();
    assert!(a.allocate(4_001).unwrap().is_empty());
    a.revive_offers("fw").unwrap();
    assert_eq!(a.allocate(4_002).unwrap().len(), 1);

    // The module's own errors come back as errors naming the module and method.
    let err = a
        .set_agent_active("no-such-agent", false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "module 'org_example_allocator_firstfit' failed in set_agent_active: unknown agent 'no-such-agent'"
    );
}
