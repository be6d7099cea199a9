//! A third party's module, built the way docs/modules.md says: each
//! example module crate is copied to a directory outside the workspace,
//! built there against module-api by path with cargo, and loaded into a
//! running `corral local` that uses it.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::cli_local::{execute, Local};
use corral_tests::output_within;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Copies `from` (a crate's folder) to `to`, leaving out build output.
fn copy_crate(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_crate(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Builds the example crate `example` (a folder of `examples/`) outside the
/// workspace and returns its cdylib. The only edits are the paths of
/// module-api and the allocator kit; Corral's Cargo.lock goes
/// beside it so the build uses the versions CI already fetched.
fn build_out_of_tree(scratch: &Path, example: &str, lib_name: &str) -> PathBuf {
    let dir = scratch.join(example);
    copy_crate(&repo().join("examples").join(example), &dir);
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    // Corral's own crates by absolute path, as a module author's checkout
    // would have them.
    let mut edited = text.clone();
    for (relative, crate_dir) in [
        ("../../module-api", "module-api"),
        ("../../modules/allocator-kit", "modules/allocator-kit"),
    ] {
        edited = edited.replace(
            &format!("path = \"{relative}\""),
            &format!("path = {:?}", repo().join(crate_dir).display().to_string()),
        );
    }
    assert!(
        !edited.contains("path = \"../"),
        "{example}'s Cargo.toml names a path this test does not know:\n{edited}"
    );
    assert_ne!(
        text, edited,
        "{example}'s Cargo.toml names ../../module-api"
    );
    assert!(
        !edited.contains(".workspace = true") && !edited.contains("workspace = true"),
        "{example}'s Cargo.toml inherits from Corral's workspace:\n{edited}"
    );
    // Outside any workspace: an empty [workspace] table makes it its own root.
    std::fs::write(&manifest, format!("{edited}\n[workspace]\n")).unwrap();
    std::fs::copy(repo().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    // A target dir of its own (kept between runs: the second build is quick).
    let target = repo().join("target").join("out-of-tree");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = output_within(
        Command::new(cargo)
            .args(["build", "--manifest-path"])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
        Duration::from_secs(900),
        &format!("cargo build of {example} outside the workspace"),
    );
    assert!(
        built.status.success(),
        "{example} does not build out of tree:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let lib = target.join("debug").join(format!("lib{lib_name}.so"));
    assert!(lib.is_file(), "no {}", lib.display());
    lib
}

/// GET `path` of the master, as text (python3, like an operator's script).
pub(crate) fn get(master: &str, path: &str) -> String {
    let out = output_within(
        Command::new("python3").args([
            "-c",
            &format!(
                "import urllib.request;print(urllib.request.urlopen('http://{master}{path}', timeout=10).read().decode())"
            ),
        ]),
        Duration::from_secs(30),
        &format!("GET {path}"),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `value` holds, anywhere, the label `key=value`.
fn has_label(value: &serde_json::Value, key: &str, label: &str) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            (map.get("key").and_then(|k| k.as_str()) == Some(key)
                && map.get("value").and_then(|v| v.as_str()) == Some(label))
                || map.values().any(|v| has_label(v, key, label))
        }
        serde_json::Value::Array(items) => items.iter().any(|v| has_label(v, key, label)),
        _ => false,
    }
}

#[test]
fn the_three_example_modules_build_out_of_tree_and_run_in_corral_local() {
    let scratch = tempfile::tempdir().unwrap();
    let allocator = build_out_of_tree(
        scratch.path(),
        "allocator-firstfit",
        "corral_example_allocator_firstfit",
    );
    let hook = build_out_of_tree(scratch.path(), "hook-labels", "corral_example_hook_labels");
    let isolator = build_out_of_tree(
        scratch.path(),
        "isolator-marker",
        "corral_example_isolator_marker",
    );
    let library = |lib: &Path, module: &str, params: &str| {
        format!(
            "[[library]]\npath = {:?}\n  [[library.module]]\n  name = \"{module}\"\n  parameters = {{ {params} }}\n",
            lib.display().to_string()
        )
    };
    std::fs::write(
        scratch.path().join("modules.toml"),
        [
            library(
                &allocator,
                "org_example_allocator_firstfit",
                "max_cpus = 8, min_allocatable_cpus = 0.05",
            ),
            library(
                &corral_tests::module_library("corral_hook_env"),
                "org_corral_hook_env",
                "labels = \"tier=web\", environment = \"REGION=eu\"",
            ),
            library(&hook, "org_example_hook_labels", "team = \"infra\""),
            library(
                &isolator,
                "org_example_isolator_marker",
                "text = \"marked\"",
            ),
        ]
        .concat(),
    )
    .unwrap();
    let config = scratch.path().join("corral.toml");
    std::fs::write(
        &config,
        "[modules]\nmanifest = \"modules.toml\"\nallocator = \"org_example_allocator_firstfit\"\n\
         isolation = [\"org_example_isolator_marker\"]\n\
         hooks = [\"org_corral_hook_env\", \"org_example_hook_labels\"]\n",
    )
    .unwrap();
    let local = Local::start_with_config(&config);
    // Offers come from the out-of-tree allocator only; the isolator's
    // marker is in the sandbox; the hook's variable is in the environment.
    let ran = execute(
        &local.master,
        "cat \"$MARKER_FILE\"; echo \"TEAM=$TEAM REGION=$REGION\"",
    );
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(
        stdout.contains("marked "),
        "no marker in the task's output:\n{stdout}"
    );
    // Both hooks' variables reach the task: the second hook adds to the
    // first one's environment instead of replacing it.
    assert!(
        stdout.contains("TEAM=infra REGION=eu"),
        "not both hooks' variables (TEAM from hook-labels, REGION from hook-env):\n{stdout}"
    );
    let flags = get(&local.master, "/master/flags");
    assert!(
        flags.contains("org_example_allocator_firstfit"),
        "the master does not name its allocator in /master/flags: {flags}"
    );
    // Both hooks' labels are in /master/state: the second hook names only
    // its own label, and the first one's stays.
    let state: serde_json::Value =
        serde_json::from_str(&get(&local.master, "/master/state")).expect("/master/state is JSON");
    for (key, value) in [("tier", "web"), ("team", "infra")] {
        assert!(
            has_label(&state, key, value),
            "no task labelled {key}={value} in /master/state: {state}"
        );
    }
    assert!(local.stop().success());
}
