//! An isolator module driven through the ABI: container configs go in,
//! launch specs come out, and a limitation reported from a module-owned
//! thread reaches the host's callback.

use std::{
    sync::{mpsc, Arc},
    time::Duration,
};

use corral::{
    domain::{KeyValue, Resource},
    extension::{ContainerConfig, Limitation, LimitationNotifier, MountSpec, Volume},
    module_host::load_manifest,
};
use corral_tests::{library_entry, module_library, ManifestDir};

#[test]
fn prepare_watch_usage_and_cleanup_cross_the_abi_intact() {
    let dir = ManifestDir::new();
    let manifest = dir.write(
        "modules.toml",
        &library_entry(
            &module_library("corral_fixture_misbehaving"),
            &["org_fixture_isolator_echo"],
        ),
    );
    let (registry, errors) = load_manifest(&manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    let mut isolator = registry
        .create_isolator("org_fixture_isolator_echo", "test")
        .unwrap();

    let spec = ContainerConfig {
        container_id: "c-1".into(),
        framework_id: "f".into(),
        executor_id: "e".into(),
        sandbox: "/sandbox".into(),
        user: None,
        resources: vec![Resource::scalar("mem", 64.0)],
        volumes: vec![Volume {
            container_path: "/tmp".into(),
            host_path: "tmp".into(),
            read_only: false,
        }],
        executor_info: vec![],
    };
    let plan = isolator.prepare(&spec).unwrap();
    assert_eq!(plan.namespaces, 0x2000_0000);
    assert_eq!(
        plan.mounts,
        [MountSpec {
            source: Some("/sandbox/tmp".into()),
            target: "/tmp".into(),
            fstype: None,
            flags: 4096,
            data: None
        }]
    );
    assert_eq!(plan.environment, [KeyValue::new("CONTAINER_ID", "c-1")]);

    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let sink: LimitationNotifier = Arc::new(move |id: &str, limitation: Limitation| {
        tx.lock()
            .unwrap()
            .send((id.to_owned(), limitation))
            .unwrap();
    });
    isolator.watch("c-1", sink).unwrap();
    let (id, limitation) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the limitation callback");
    assert_eq!(id, "c-1");
    assert_eq!(limitation.message, "c-1 hit its memory limit");
    assert_eq!(limitation.reason, 8);

    assert_eq!(
        isolator.usage("c-1").unwrap(),
        [("mem_rss_bytes".to_owned(), 3.0)]
    );
    isolator.cleanup("c-1").unwrap();
    let err = isolator.cleanup("").unwrap_err().to_string();
    assert_eq!(
        err,
        "module 'org_fixture_isolator_echo' failed in cleanup: empty container id"
    );
}
