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
/// workspace and returns its cdylib. The only edit is module-api's path,
/// as a module author's checkout would have it; Corral's Cargo.lock goes
/// beside it so the build uses the versions CI already fetched.
fn build_out_of_tree(scratch: &Path, example: &str, lib_name: &str) -> PathBuf {
    let dir = scratch.join(example);
    copy_crate(&repo().join("examples").join(example), &dir);
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let module_api = repo().join("module-api");
    let edited = text.replace(
        "path = \"../../module-api\"",
        &format!("path = {:?}", module_api.display().to_string()),
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

#[test]
fn the_example_allocator_builds_out_of_tree_and_allocates_for_corral_local() {
    let scratch = tempfile::tempdir().unwrap();
    let lib = build_out_of_tree(
        scratch.path(),
        "allocator-firstfit",
        "corral_example_allocator_firstfit",
    );
    std::fs::write(
        scratch.path().join("modules.toml"),
        format!(
            "[[library]]\npath = {:?}\n  [[library.module]]\n  name = \"org_example_allocator_firstfit\"\n  parameters = {{ min_cpus = 0.05 }}\n",
            lib.display().to_string()
        ),
    )
    .unwrap();
    let config = scratch.path().join("corral.toml");
    std::fs::write(
        &config,
        "[modules]\nmanifest = \"modules.toml\"\nallocator = \"org_example_allocator_firstfit\"\n",
    )
    .unwrap();
    let local = Local::start_with_config(&config);
    // Offers come from the out-of-tree allocator only: a task runs.
    let ran = execute(&local.master, "echo placed-by-firstfit");
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success() && stdout.contains("placed-by-firstfit"),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let flags = output_within(
        Command::new("python3").args([
            "-c",
            &format!(
                "import urllib.request;print(urllib.request.urlopen('http://{}/master/flags', timeout=10).read().decode())",
                local.master
            ),
        ]),
        Duration::from_secs(30),
        "GET /master/flags",
    );
    let flags = String::from_utf8_lossy(&flags.stdout);
    assert!(
        flags.contains("org_example_allocator_firstfit"),
        "the master does not name its allocator in /master/flags: {flags}"
    );
    assert!(local.stop().success());
}
