//! Helpers shared by Corral's integration tests.

use std::path::{Path, PathBuf};

/// The cdylib built from the crate whose library is named `lib_name`
/// (`corral_hook_env`, `corral_fixture_misbehaving`, ...).
///
/// Cargo builds these because this crate depends on them; it leaves them in
/// `target/<profile>/deps` (and `cargo build` also in `target/<profile>`).
pub fn module_library(lib_name: &str) -> PathBuf {
    let file = format!("lib{lib_name}.so");
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary's folder");
    let candidates = [deps.join(&file), deps.parent().unwrap_or(deps).join(&file)];
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!("{file} not built: looked in {candidates:?}; run the tests with `cargo test --workspace`")
    })
}

/// A scratch folder holding a manifest written by a test.
#[derive(Debug)]
pub struct ManifestDir {
    dir: tempfile::TempDir,
}

impl ManifestDir {
    pub fn new() -> Self {
        ManifestDir {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `name` with `text` into the folder and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("writing a test file");
        path
    }
}

impl Default for ManifestDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A `[[library]]` entry loading `modules` from the file at `path`.
pub fn library_entry(path: &Path, modules: &[&str]) -> String {
    let mut entry = format!("[[library]]\npath = {:?}\n", path.display().to_string());
    for m in modules {
        entry.push_str(&format!("  [[library.module]]\n  name = {m:?}\n"));
    }
    entry
}
