//! The module host: the only part of core that knows `corral_module_api`.
//!
//! It reads the manifest ([`manifest`]), opens each library once and checks
//! it ([`loader`]), keeps what loaded ([`registry`]), converts between ABI
//! and core types ([`ffi`]), and wraps instances behind core's native
//! traits with panic poisoning ([`foreign`]). Module logs reach core's
//! `tracing` through [`host_services`].

mod error;
mod ffi;
mod foreign;
mod foreign_master;
mod host_services;
mod loader;
mod manifest;
mod parameters;
mod registry;

use std::path::Path;

pub use corral_module_api::MODULE_API_VERSION;
pub use error::{LoadError, LoadErrors, ModuleKind};
pub use host_services::module_counters;
pub use loader::{default_search_paths, load};
pub use manifest::{EntryRef, LibraryEntry, LibrarySource, Manifest, ModuleEntry};
pub use parameters::DeclaredParam;
pub use registry::{Instances, ModuleRegistry, RegisteredModule, Selection};

/// Reads the manifest at `path` and loads its libraries, searching
/// [`default_search_paths`] for libraries given by name.
pub fn load_manifest(path: &Path) -> (ModuleRegistry, Vec<LoadError>) {
    match Manifest::load(path) {
        Ok(manifest) => load(&manifest, &default_search_paths()),
        Err(e) => (ModuleRegistry::default(), vec![e]),
    }
}
