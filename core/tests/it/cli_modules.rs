//! `corral modules list|check` as an operator runs them.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use corral_tests::{library_entry, module_library, ManifestDir};

fn corral(args: &[&str]) -> Output {
    // Name-based manifest entries find the shipped modules where cargo built them.
    let modules_dir = module_library("corral_hook_env")
        .parent()
        .unwrap()
        .to_path_buf();
    corral_tests::output_within(
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(args)
            .env("CORRAL_MODULE_PATH", modules_dir)
            .env("CORRAL_LOG", "warn"),
        corral_tests::PROCESS_TIMEOUT,
        &format!("corral {}", args.join(" ")),
    )
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn list_shows_the_shipped_modules_of_the_default_manifest() {
    let manifest = repo_file("config/modules.toml");
    let out = corral(&["modules", "list", "--manifest", manifest.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let header = stdout.lines().next().unwrap();
    for column in ["MODULE", "KIND", "LIBRARY", "MODULE-API", "DESCRIPTION"] {
        assert!(header.contains(column), "{header}");
    }
    let row = stdout
        .lines()
        .find(|l| l.starts_with("org_corral_hook_env"))
        .expect("the env hook row");
    assert!(
        row.contains(" hook ") && row.contains("libcorral_hook_env.so") && row.contains(" 1.2.0 "),
        "{row}"
    );
}

#[test]
fn list_verbose_prints_declared_parameters_and_what_is_given() {
    let dir = ManifestDir::new();
    let manifest = dir.write(
        "modules.toml",
        &format!(
            "{}  parameters = {{ max_cpus = 2 }}\n{}",
            library_entry(
                &module_library("corral_example_allocator_firstfit"),
                &["org_example_allocator_firstfit"]
            ),
            library_entry(
                &module_library("corral_fixture_misbehaving"),
                &["org_fixture_logger"]
            )
        ),
    );
    let out = corral(&[
        "modules",
        "list",
        "--verbose",
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    for line in [
        "org_example_allocator_firstfit parameters:",
        "  min_allocatable_cpus (number, default 0.01): an agent is offered when this many cpus are free (or min_allocatable_mem)",
        "  min_allocatable_mem (number, default 32): an agent is offered when this much mem (MiB) is free (or min_allocatable_cpus)",
        "  max_cpus (number): most cpus in one offer (default: the whole agent)",
        "  given: max_cpus = 2",
        "  given: min_allocatable_cpus = 0.01",
        "org_fixture_logger parameters:",
        "  (none declared: the module checks its parameters itself)",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?} in:\n{stdout}"
        );
    }
}

#[test]
fn check_reports_every_broken_library_and_exits_1_without_crashing() {
    let dir = ManifestDir::new();
    let misbehaving = module_library("corral_fixture_misbehaving");
    let manifest = dir.write(
        "modules.toml",
        &[
            library_entry(&dir.path().join("nope.so"), &["org_a"]),
            library_entry(&module_library("corral_fixture_not_abi_stable"), &["org_b"]),
            library_entry(&module_library("corral_fixture_wrong_major"), &["org_c"]),
            library_entry(&module_library("corral_fixture_wrong_layout"), &["org_d"]),
            library_entry(
                &misbehaving,
                &["org_fixture_init_panic", "org_fixture_init_error"],
            ),
        ]
        .concat(),
    );
    let out = corral(&["modules", "check", "--manifest", manifest.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    // A clean failure: exit status 1, not a signal or an abort.
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("6 module errors:"), "{stderr}");
    for expected in [
        "library #1 (path = ",
        "file not found",
        "is a shared library but not a Corral module library",
        "was built against module-api 2.0.0, but this Corral has module-api 1.2.0",
        "has an ABI layout that does not match module-api 1.2.0",
        "module 'org_fixture_init_panic' panicked while being created: panicked in constructor: fixture constructor always panics",
        "module 'org_fixture_init_error' rejected its parameters: missing parameter 'mode'",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
}

#[test]
fn check_with_a_config_reports_modules_it_selects_but_nobody_provides() {
    let dir = ManifestDir::new();
    let manifest = dir.write(
        "modules.toml",
        &library_entry(&module_library("corral_hook_env"), &["org_corral_hook_env"]),
    );
    let config = dir.write(
        "agent.toml",
        "[modules]\nmanifest = \"modules.toml\"\nisolation = [\"org_corral_hook_env\"]\n",
    );
    let out = corral(&[
        "modules",
        "check",
        "--manifest",
        manifest.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("agent.toml: asks for isolator module 'org_corral_hook_env', but 'org_corral_hook_env' is a hook module"),
        "{stderr}"
    );
}
