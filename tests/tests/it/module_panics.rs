//! A module whose method panics is disabled and reported by name; the
//! process and every other module keep working.

use corral::{
    domain::{ExecutorView, TaskView},
    extension::ModuleCallError,
    module_host::load_manifest,
};
use corral_tests::{library_entry, module_library, ManifestDir};

#[test]
fn a_panicking_method_poisons_only_its_instance() {
    let dir = ManifestDir::new();
    let manifest = dir.write(
        "modules.toml",
        &[
            library_entry(
                &module_library("corral_fixture_misbehaving"),
                &["org_fixture_method_panic"],
            ),
            library_entry(&module_library("corral_hook_env"), &["org_corral_hook_env"]),
            "  parameters = { labels = \"checked=yes\" }\n".to_owned(),
        ]
        .concat(),
    );
    let (registry, errors) = load_manifest(&manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    let bad = registry
        .create_hook("org_fixture_method_panic", "test")
        .unwrap();
    let good = registry.create_hook("org_corral_hook_env", "test").unwrap();
    let task = TaskView {
        task_id: "t-1".into(),
        ..TaskView::default()
    };
    let executor = ExecutorView::default();

    // The method panics: reported with module, method and the panic message.
    let err = bad.master_launch_task_label_decorator(&task).unwrap_err();
    assert_eq!(
        err,
        ModuleCallError::Panicked {
            module: "org_fixture_method_panic".into(),
            method: "master_launch_task_label_decorator",
            message:
                "panicked in master_launch_task_label_decorator: fixture cannot label task t-1"
                    .into(),
        }
    );
    // From now on the instance is not entered again, even for methods that work.
    let err = bad.executor_environment_decorator(&executor).unwrap_err();
    assert!(
        matches!(
            err,
            ModuleCallError::Poisoned {
                method: "executor_environment_decorator",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("disabled after an earlier panic"),
        "{err}"
    );

    // Another instance of the same module, and other modules, are unaffected.
    let fresh = registry
        .create_hook("org_fixture_method_panic", "test")
        .unwrap();
    // A hook written against 1.0's decorators: its list replaces.
    let env = fresh
        .executor_environment_decorator(&executor)
        .unwrap()
        .replace
        .unwrap();
    assert_eq!(env[0].key, "FIXTURE");
    // The env hook (1.1 decorations) sets its label.
    let labels = good.master_launch_task_label_decorator(&task).unwrap().set;
    assert_eq!(labels, [corral::domain::KeyValue::new("checked", "yes")]);
}
