//! Finding and loading the shipped module cdylibs, as corral does.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use corral::module_host::{load, Manifest, ModuleRegistry};

/// `lib<name>.so` in `deps/` beside the running executable (where `cargo
/// build -p corral-bench` leaves the cdylibs of its module dependencies,
/// always the freshest), or beside it (a whole-workspace build also copies
/// them there, and leaves them stale after a `-p corral-bench` build), or
/// one level up when the executable is in `deps/`.
pub fn library(lib_name: &str) -> Result<PathBuf> {
    let file = format!("lib{lib_name}.so");
    let exe = std::env::current_exe().context("locating the running executable")?;
    let dir = exe.parent().context("the executable's folder")?;
    let mut candidates = vec![dir.join("deps").join(&file), dir.join(&file)];
    if dir.ends_with("deps") {
        if let Some(up) = dir.parent() {
            candidates.push(up.join(&file));
        }
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    bail!("{file} not found (looked in {candidates:?}); build with `cargo build --release -p corral-bench` (the Lua allocator also needs `-p corral-allocator-lua`)")
}

/// Loads `modules` from the cdylib named `lib_name` through core's module
/// host (version and layout checks included).
pub fn registry(libraries: &[(&str, &str)]) -> Result<(ModuleRegistry, Vec<PathBuf>)> {
    let mut text = String::new();
    let mut files = Vec::new();
    for (lib, module) in libraries {
        let path = library(lib)?;
        text.push_str(&format!(
            "[[library]]\npath = {:?}\n  [[library.module]]\n  name = {module:?}\n",
            path.display().to_string()
        ));
        files.push(path);
    }
    let manifest = Manifest::parse(
        &text,
        Path::new("corral-bench-modules.toml"),
        Path::new("."),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (registry, errors) = load(&manifest, &[]);
    if !errors.is_empty() {
        bail!("loading modules: {errors:?}");
    }
    Ok((registry, files))
}
