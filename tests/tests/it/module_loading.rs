//! Every way a module library can fail to fit yields its own message naming
//! the manifest entry and the file, all reported at once, and the process
//! carries on.

use corral::module_host::{load_manifest, LoadError, ModuleKind, Selection};
use corral_tests::{library_entry, module_library, ManifestDir};

fn load(dir: &ManifestDir, text: &str) -> (corral::module_host::ModuleRegistry, Vec<LoadError>) {
    load_manifest(&dir.write("modules.toml", text))
}

#[test]
fn shipped_modules_load_with_their_kind_version_and_description() {
    let dir = ManifestDir::new();
    let lib = module_library("corral_hook_env");
    let (registry, errors) = load(&dir, &library_entry(&lib, &["org_corral_hook_env"]));
    assert!(errors.is_empty(), "{errors:#?}");
    let m = registry
        .get("org_corral_hook_env")
        .expect("the env hook is loaded");
    assert_eq!(m.kind, ModuleKind::Hook);
    assert_eq!(m.api_version, corral::module_host::MODULE_API_VERSION);
    assert_eq!(m.library, lib);
    assert!(m.description.contains("labels"), "{}", m.description);
}

#[test]
fn every_broken_library_gets_its_own_specific_error_in_one_report() {
    let dir = ManifestDir::new();
    let junk = dir.write("libjunk.so", "this is not an ELF file\n");
    let missing = dir.path().join("libmissing.so");
    let manifest = [
        library_entry(&missing, &["org_missing"]),
        library_entry(&junk, &["org_junk"]),
        library_entry(&module_library("corral_fixture_not_abi_stable"), &["org_plain"]),
        library_entry(&module_library("corral_fixture_wrong_major"), &["org_future"]),
        library_entry(&module_library("corral_fixture_wrong_layout"), &["org_layout"]),
        library_entry(&module_library("corral_hook_env"), &["org_corral_hook_env", "org_not_there"]),
        library_entry(&module_library("corral_hook_env"), &["org_corral_hook_env"]),
        "[[library]]\nname = \"corral_no_such_library\"\n  [[library.module]]\n  name = \"org_x\"\n".to_owned(),
    ]
    .concat();
    let (registry, errors) = load(&dir, &manifest);
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 8, "{messages:#?}");

    let expect = |i: usize, library: usize, parts: &[&str]| {
        let m = &messages[i];
        assert!(
            m.contains(&format!("modules.toml: library #{library} (")),
            "entry #{library} not named: {m}"
        );
        for part in parts {
            assert!(m.contains(part), "expected {part:?} in: {m}");
        }
    };
    assert!(matches!(errors[0], LoadError::FileMissing { .. }));
    expect(0, 1, &["file not found", "libmissing.so"]);
    assert!(matches!(errors[1], LoadError::NotSharedLibrary { .. }));
    expect(1, 2, &["libjunk.so is not a loadable shared library"]);
    assert!(matches!(errors[2], LoadError::NotModuleLibrary { .. }));
    expect(2, 3, &["libcorral_fixture_not_abi_stable.so is a shared library but not a Corral module library"]);
    assert!(matches!(errors[3], LoadError::IncompatibleApi { .. }));
    expect(
        3,
        4,
        &[
            "built against module-api 2.0.0",
            "this Corral has module-api 1.2.0",
        ],
    );
    assert!(matches!(errors[4], LoadError::LayoutMismatch { .. }));
    expect(4, 5, &["libcorral_fixture_wrong_layout.so has an ABI layout that does not match module-api 1.2.0"]);
    assert!(matches!(errors[5], LoadError::ModuleNotInLibrary { .. }));
    expect(
        5,
        6,
        &[
            "module 'org_not_there' is not provided",
            "it provides: org_corral_hook_env",
        ],
    );
    assert!(matches!(errors[6], LoadError::DuplicateModule { .. }));
    expect(
        6,
        7,
        &[
            "duplicate module name 'org_corral_hook_env'",
            "already loaded by",
            "library #6",
        ],
    );
    assert!(matches!(errors[7], LoadError::NameNotFound { .. }));
    expect(7, 8, &["libcorral_no_such_library.so not found in"]);

    // What could load did load.
    assert_eq!(registry.modules().len(), 1);
    assert!(registry.get("org_corral_hook_env").is_some());
}

#[test]
fn constructors_that_reject_or_panic_are_reported_with_the_modules_own_message() {
    let dir = ManifestDir::new();
    let lib = module_library("corral_fixture_misbehaving");
    let manifest = format!(
        "{}  parameters = {{ mode = \"sloppy\" }}\n{}",
        library_entry(&lib, &["org_fixture_init_error"]),
        library_entry(
            &lib,
            &["org_fixture_init_panic", "org_fixture_method_panic"]
        ),
    );
    let (registry, errors) = load(&dir, &manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    let errors = registry.check_constructors();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{messages:#?}");
    assert!(matches!(errors[0], LoadError::ConstructorRejected { .. }));
    assert!(
        messages[0].ends_with("module 'org_fixture_init_error' rejected its parameters: parameter 'mode' must be 'strict', got 'sloppy'"),
        "{}",
        messages[0]
    );
    assert!(matches!(errors[1], LoadError::ConstructorPanicked { .. }));
    assert!(
        messages[1].ends_with("module 'org_fixture_init_panic' panicked while being created: panicked in constructor: fixture constructor always panics"),
        "{}",
        messages[1]
    );
    assert!(messages[1].contains("library #2"), "{}", messages[1]);
}

#[test]
fn a_configuration_asking_for_a_missing_or_wrong_kind_module_is_refused() {
    let dir = ManifestDir::new();
    let (registry, errors) = load(
        &dir,
        &library_entry(&module_library("corral_hook_env"), &["org_corral_hook_env"]),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let selection = Selection {
        source: "agent.toml".to_owned(),
        allocator: Some("org_corral_hook_env".to_owned()),
        isolation: vec!["org_corral_isolator_pid".to_owned()],
        hooks: vec!["org_corral_hook_env".to_owned()],
    };
    let errors = registry.instantiate(&selection).unwrap_err().0;
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "agent.toml: asks for allocator module 'org_corral_hook_env', but 'org_corral_hook_env' is a hook module",
            "agent.toml: asks for isolator module 'org_corral_isolator_pid', which no library in the manifest provides",
        ]
    );
}

#[test]
fn two_entries_naming_one_file_share_the_library_but_not_instances() {
    let dir = ManifestDir::new();
    let lib = module_library("corral_fixture_misbehaving");
    let manifest = format!(
        "{}{}",
        library_entry(&lib, &["org_fixture_logger"]),
        library_entry(&lib, &["org_fixture_method_panic"]),
    );
    let (registry, errors) = load(&dir, &manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    let names: Vec<&str> = registry.modules().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["org_fixture_logger", "org_fixture_method_panic"]);
    assert!(registry.modules().iter().all(|m| m.library == lib));
}

/// Modules that declare their parameters (module-api 1.1) have them checked
/// by the host before their constructor runs, with defaults filled in.
#[test]
fn declared_parameters_are_checked_by_the_host_and_defaults_filled_in() {
    let dir = ManifestDir::new();
    let firstfit = module_library("corral_example_allocator_firstfit");
    let hook = module_library("corral_hook_env");
    let entry = |lib: &std::path::Path, module: &str, params: &str| {
        format!(
            "{}  parameters = {{ {params} }}\n",
            library_entry(lib, &[module])
        )
    };
    let (registry, errors) = load(
        &dir,
        &entry(
            &firstfit,
            "org_example_allocator_firstfit",
            "min_allocatable_cpus = 0.5",
        ),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let m = registry.get("org_example_allocator_firstfit").unwrap();
    assert_eq!(
        m.parameters,
        [
            ("min_allocatable_cpus".to_owned(), "0.5".to_owned()),
            ("min_allocatable_mem".to_owned(), "32".to_owned())
        ],
        "the default of min_allocatable_mem is given to the constructor"
    );
    let declared: Vec<(&str, &str)> = m
        .declared
        .as_ref()
        .expect("firstfit declares its parameters")
        .iter()
        .map(|p| (p.name.as_str(), p.kind))
        .collect();
    assert_eq!(
        declared,
        [
            ("min_allocatable_cpus", "number"),
            ("min_allocatable_mem", "number"),
            ("max_cpus", "number")
        ],
        "the kit's parameters, then the policy's"
    );
    assert!(registry.check_constructors().is_empty());

    for (lib, module, params, expected) in [
        (
            &hook,
            "org_corral_hook_env",
            "colour = \"red\"",
            "module 'org_corral_hook_env': unknown parameter 'colour' (it takes: labels, remove_labels, environment)",
        ),
        (
            &firstfit,
            "org_example_allocator_firstfit",
            "max_cpus = \"lots\"",
            "module 'org_example_allocator_firstfit': parameter 'max_cpus' = 'lots' is not a number (most cpus in one offer (default: the whole agent))",
        ),
    ] {
        let (registry, errors) = load(&dir, &entry(lib, module, params));
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 1, "{messages:#?}");
        assert!(
            matches!(errors[0], LoadError::InvalidParameter { .. }),
            "{messages:#?}"
        );
        assert!(
            messages[0].contains("modules.toml: library #1 (") && messages[0].ends_with(expected),
            "{}",
            messages[0]
        );
        assert!(registry.get(module).is_none(), "{module} is not loaded");
    }

    // A library that declares nothing keeps checking by itself.
    let (registry, errors) = load(
        &dir,
        &library_entry(
            &module_library("corral_fixture_misbehaving"),
            &["org_fixture_logger"],
        ),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(registry.get("org_fixture_logger").unwrap().declared, None);
}
