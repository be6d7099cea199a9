//! The Lua allocator loaded from its cdylib like any module: its script
//! path is taken from the manifest's folder, and `drf.lua` grants what the
//! native DRF module grants, round by round, through the ABI.

use corral::{
    domain::{Resource, ResourceValue},
    extension::{AgentEntry, Allocation, AllocatorPlugin, FrameworkEntry, Recovered},
    module_host::load_manifest,
};
use corral_tests::{library_entry, module_library, ManifestDir};

fn repo_file(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// The native DRF module and the Lua module running `drf.lua` (copied
/// beside the manifest and named relatively), both from their cdylibs.
fn both(dir: &ManifestDir) -> (Box<dyn AllocatorPlugin>, Box<dyn AllocatorPlugin>) {
    let script = std::fs::read_to_string(repo_file("modules/allocator-lua/policies/drf.lua"))
        .expect("drf.lua");
    dir.write("drf.lua", &script);
    let manifest = dir.write(
        "modules.toml",
        &format!(
            "{}{}  parameters = {{ script = \"drf.lua\" }}\n",
            library_entry(
                &module_library("corral_allocator_drf"),
                &["org_corral_allocator_drf"]
            ),
            library_entry(
                &module_library("corral_allocator_lua"),
                &["org_corral_allocator_lua"]
            ),
        ),
    );
    let (registry, errors) = load_manifest(&manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    let lua = registry.get("org_corral_allocator_lua").unwrap();
    let script = lua
        .parameters
        .iter()
        .find(|(k, _)| k == "script")
        .map(|(_, v)| v.clone());
    assert_eq!(
        script,
        Some(dir.path().join("drf.lua").display().to_string()),
        "a path parameter is taken from the manifest's folder"
    );
    (
        registry
            .create_allocator("org_corral_allocator_drf", "test")
            .unwrap(),
        registry
            .create_allocator("org_corral_allocator_lua", "test")
            .unwrap(),
    )
}

/// Calls made to both allocators alike.
struct Pair {
    native: Box<dyn AllocatorPlugin>,
    lua: Box<dyn AllocatorPlugin>,
    now: u64,
    round: usize,
}

impl Pair {
    fn each(&mut self, call: impl Fn(&mut dyn AllocatorPlugin)) {
        call(self.native.as_mut());
        call(self.lua.as_mut());
    }

    /// One round on both; the grants must be the same, in the same order.
    fn allocate(&mut self) -> Vec<Allocation> {
        self.round += 1;
        let native = self.native.allocate(self.now).unwrap();
        let lua = self.lua.allocate(self.now).unwrap();
        assert_eq!(native, lua, "round {} differs", self.round);
        native
    }

    fn give_back(&mut self, grant: &Allocation, resources: Vec<Resource>, refuse: Option<f64>) {
        let now = self.now;
        let r = Recovered {
            allocation: Allocation {
                resources,
                ..grant.clone()
            },
            refuse_seconds: refuse,
            ..Recovered::default()
        };
        self.each(|a| a.recover_resources(&r, now).unwrap());
    }
}

#[test]
fn drf_lua_grants_what_the_native_drf_module_grants_round_by_round() {
    let dir = ManifestDir::new();
    let (native, lua) = both(&dir);
    let mut p = Pair {
        native,
        lua,
        now: 0,
        round: 0,
    };
    for (id, role) in [("web-1", "web"), ("web-2", "web"), ("batch-1", "batch")] {
        let f = FrameworkEntry {
            id: id.into(),
            role: role.into(),
            roles: vec![role.into()],
            weight: 1.0,
            active: true,
            ..FrameworkEntry::default()
        };
        p.each(|a| a.add_framework(&f).unwrap());
    }
    for i in 0..12 {
        let cpus = 1.0 + (i % 4) as f64;
        let agent = AgentEntry {
            id: format!("agent-{i:02}"),
            hostname: format!("host-{i:02}"),
            total: vec![
                Resource::scalar("cpus", cpus),
                Resource::scalar("mem", 512.0 * cpus),
            ],
            used: vec![],
            active: true,
        };
        p.each(|a| a.add_agent(&agent).unwrap());
    }
    let offers = p.allocate();
    assert_eq!(offers.len(), 12, "every agent offered");
    // Each framework runs a task of half a cpu on its first offer and
    // declines the rest with a 30 s filter.
    let mut first = std::collections::BTreeSet::new();
    for o in &offers {
        if first.insert(o.framework_id.clone()) {
            let mut rest = o.resources.clone();
            for r in &mut rest {
                if let (true, ResourceValue::Scalar(v)) = (r.name == "cpus", &r.value) {
                    r.value = ResourceValue::Scalar(v - 0.5);
                }
            }
            p.give_back(o, rest, Some(5.0));
        } else {
            p.give_back(o, o.resources.clone(), Some(30.0));
        }
    }
    p.now += 6_000;
    let offers = p.allocate();
    assert!(!offers.is_empty(), "the unused halves come back after 5 s");
    for o in &offers {
        p.give_back(o, o.resources.clone(), None);
    }
    p.each(|a| a.suppress_offers("web-2").unwrap());
    let offers = p.allocate();
    assert!(offers.iter().all(|o| o.framework_id != "web-2"));
    for o in &offers {
        p.give_back(o, o.resources.clone(), None);
    }
    p.now += 31_000;
    p.each(|a| a.revive_offers("web-2").unwrap());
    p.each(|a| a.remove_agent("agent-03").unwrap());
    let offers = p.allocate();
    assert!(!offers.is_empty());
}
