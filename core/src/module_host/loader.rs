//! Opening module libraries: each file once, per file, checked for the
//! module-api version and ABI layout before anything in it runs.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use abi_stable::library::{lib_header_from_path, AbiHeader, LibraryError, RootModuleError};
use corral_module_api::{
    parameters, CorralModuleLib_Ref, ModuleConstructor, ModuleDescriptor, ModuleParams,
    MODULE_API_VERSION,
};

use super::{
    error::{LoadError, ModuleKind},
    manifest::{EntryRef, LibrarySource, Manifest},
    parameters::DeclaredParam,
    registry::{Constructor, ModuleRegistry, RegisteredModule},
};

/// A library that passed every check.
struct OpenedLibrary {
    file: PathBuf,
    api_version: String,
    descriptors: Vec<ModuleDescriptor>,
    /// What its modules declare (module-api 1.1+); empty for older ones.
    declared: Vec<ModuleParams>,
}

/// Folders searched for `name = ...` libraries after the manifest's own
/// `search_paths`: each entry of `CORRAL_MODULE_PATH` (colon-separated), then
/// the folder holding the running executable (where `cargo build` and an
/// installed Corral put the shipped modules).
pub fn default_search_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::env::var_os("CORRAL_MODULE_PATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        // Test binaries live in target/<profile>/deps, beside the modules
        // cargo builds for them; `cargo build` copies modules one level up.
        let parent = dir
            .ends_with("deps")
            .then(|| dir.parent().map(Path::to_path_buf))
            .flatten();
        paths.push(dir);
        paths.extend(parent);
    }
    paths
}

/// Loads every library of `manifest`, returning what loaded and every
/// problem found (manifest problems included).
pub fn load(
    manifest: &Manifest,
    extra_search_paths: &[PathBuf],
) -> (ModuleRegistry, Vec<LoadError>) {
    let mut errors = manifest.errors.clone();
    let mut registry = ModuleRegistry::default();
    let mut opened: HashMap<PathBuf, Arc<OpenedLibrary>> = HashMap::new();
    let search: Vec<PathBuf> = manifest
        .search_paths
        .iter()
        .chain(extra_search_paths)
        .cloned()
        .collect();

    for entry in &manifest.libraries {
        let file = match resolve(&entry.at, &entry.source, &search) {
            Ok(file) => file,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let key = file.canonicalize().unwrap_or_else(|_| file.clone());
        let library = match opened.get(&key) {
            Some(lib) => Arc::clone(lib),
            None => match open(&entry.at, &file) {
                Ok(lib) => {
                    let lib = Arc::new(lib);
                    opened.insert(key, Arc::clone(&lib));
                    lib
                }
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
        };
        for module in &entry.modules {
            let Some(descriptor) = library
                .descriptors
                .iter()
                .find(|d| d.name.as_str() == module.name)
            else {
                errors.push(LoadError::ModuleNotInLibrary {
                    at: entry.at.clone(),
                    file: library.file.clone(),
                    module: module.name.clone(),
                    available: library
                        .descriptors
                        .iter()
                        .map(|d| d.name.to_string())
                        .collect(),
                });
                continue;
            };
            let (kind, constructor) = match descriptor.constructor.as_enum() {
                Ok(ModuleConstructor::Allocator(f)) => {
                    (ModuleKind::Allocator, Constructor::Allocator(*f))
                }
                Ok(ModuleConstructor::Isolator(f)) => {
                    (ModuleKind::Isolator, Constructor::Isolator(*f))
                }
                Ok(ModuleConstructor::Hook(f)) => (ModuleKind::Hook, Constructor::Hook(*f)),
                Ok(ModuleConstructor::MasterContender(f)) => (
                    ModuleKind::MasterContender,
                    Constructor::MasterContender(*f),
                ),
                Ok(ModuleConstructor::MasterDetector(f)) => {
                    (ModuleKind::MasterDetector, Constructor::MasterDetector(*f))
                }
                // A kind added by a newer module-api.
                Ok(_) | Err(_) => {
                    errors.push(LoadError::UnknownKind {
                        at: entry.at.clone(),
                        file: library.file.clone(),
                        module: module.name.clone(),
                    });
                    continue;
                }
            };
            if let Some(first) = registry.get(&module.name) {
                errors.push(LoadError::DuplicateModule {
                    at: entry.at.clone(),
                    module: module.name.clone(),
                    first: first.at.clone(),
                });
                continue;
            }
            let specs = library
                .declared
                .iter()
                .find(|d| d.module.as_str() == module.name)
                .map(|d| d.params.as_slice());
            let declared = specs.map(|specs| specs.iter().map(DeclaredParam::from).collect());
            let parameters = match specs {
                Some(specs) => match parameters::check(specs, &module.parameters) {
                    Ok(parameters) => resolve_paths(specs, parameters, &manifest.base),
                    Err(problem) => {
                        errors.push(LoadError::InvalidParameter {
                            at: entry.at.clone(),
                            module: module.name.clone(),
                            problem,
                        });
                        continue;
                    }
                },
                None => module.parameters.clone(),
            };
            registry.insert(RegisteredModule {
                name: module.name.clone(),
                kind,
                description: descriptor.description.to_string(),
                library: library.file.clone(),
                api_version: library.api_version.clone(),
                parameters,
                declared,
                at: entry.at.clone(),
                constructor,
            });
        }
    }
    (registry, errors)
}

/// Parameters declared as paths, when relative, are taken from the
/// manifest's folder (as library paths are), so a module never has to know
/// where its manifest was.
fn resolve_paths(
    specs: &[corral_module_api::ParamSpec],
    parameters: Vec<(String, String)>,
    base: &Path,
) -> Vec<(String, String)> {
    parameters
        .into_iter()
        .map(|(key, value)| {
            let is_path = specs
                .iter()
                .any(|s| s.name.as_str() == key && s.kind == corral_module_api::ParamKind::Path);
            if is_path && !value.is_empty() && Path::new(&value).is_relative() {
                let joined = base.join(&value).display().to_string();
                (key, joined)
            } else {
                (key, value)
            }
        })
        .collect()
}

fn resolve(
    at: &EntryRef,
    source: &LibrarySource,
    search: &[PathBuf],
) -> Result<PathBuf, LoadError> {
    match source {
        LibrarySource::Path(path) if path.is_file() => Ok(path.clone()),
        LibrarySource::Path(path) => Err(LoadError::FileMissing {
            at: at.clone(),
            file: path.clone(),
        }),
        LibrarySource::Name(name) => {
            let file_name = format!("lib{name}.so");
            search
                .iter()
                .map(|dir| dir.join(&file_name))
                .find(|p| p.is_file())
                .ok_or_else(|| LoadError::NameNotFound {
                    at: at.clone(),
                    name: name.clone(),
                    searched: search.to_vec(),
                })
        }
    }
}

fn open(at: &EntryRef, file: &Path) -> Result<OpenedLibrary, LoadError> {
    let header = lib_header_from_path(file).map_err(|e| library_error(at, file, e))?;
    let api_version = header.version_strings().to_string();
    let root = header
        .init_root_module::<CorralModuleLib_Ref>()
        .map_err(|e| library_error(at, file, e))?;
    let descriptors = root.modules()()
        .into_result()
        .map_err(|e| LoadError::LibraryInitFailed {
            at: at.clone(),
            file: file.to_owned(),
            message: format!("listing its modules failed: {e}"),
        })?;
    // Absent in libraries built against module-api 1.0.
    let declared = match root.parameters() {
        Some(list) => list()
            .into_result()
            .map_err(|e| LoadError::LibraryInitFailed {
                at: at.clone(),
                file: file.to_owned(),
                message: format!("listing its modules' parameters failed: {e}"),
            })?
            .into_vec(),
        None => Vec::new(),
    };
    Ok(OpenedLibrary {
        file: file.to_owned(),
        api_version,
        descriptors: descriptors.into_vec(),
        declared,
    })
}

/// abi_stable reports layout mismatches as a long tree; keep it readable.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 1500;
    let compact: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let joined = compact.join("\n    ");
    match joined.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{} [...]", &joined[..cut]),
        None => joined,
    }
}

/// Names the abi_stable releases of a library and of this host from their
/// ABI versions (`(major, minor)`; abi_stable 0.x releases are ABI `0.x`,
/// compatible only with the same `x`).
fn abi_stable_mismatch(library: (u32, u32), host: (u32, u32)) -> String {
    let release = |(major, minor): (u32, u32)| {
        if major == 0 {
            format!("abi_stable 0.{minor}.x")
        } else {
            format!("abi_stable {major}.x")
        }
    };
    format!(
        "it was built with {}, this Corral with {}; rebuild the module with {} \
         (types of abi_stable cross the boundary, so the two must be semver-compatible)",
        release(library),
        release(host),
        release(host)
    )
}

fn library_error(at: &EntryRef, file: &Path, err: LibraryError) -> LoadError {
    let at = at.clone();
    let file = file.to_owned();
    match err {
        LibraryError::OpenError { err, .. } => LoadError::NotSharedLibrary {
            at,
            file,
            reason: err.to_string(),
        },
        LibraryError::GetSymbolError { .. } => LoadError::NotModuleLibrary { at, file },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => LoadError::IncompatibleApi {
            at,
            file,
            expected: expected_version.to_string(),
            found: actual_version.to_string(),
        },
        LibraryError::ParseVersionError(e) => LoadError::IncompatibleApi {
            at,
            file,
            expected: MODULE_API_VERSION.to_owned(),
            found: format!("an unreadable version ({e})"),
        },
        LibraryError::AbiInstability(e) => LoadError::LayoutMismatch {
            at,
            file,
            expected: MODULE_API_VERSION.to_owned(),
            details: shorten(&e.to_string()),
        },
        LibraryError::InvalidAbiHeader(header) if header.is_valid() => {
            LoadError::IncompatibleAbiStable {
                at,
                file,
                details: abi_stable_mismatch(
                    (header.abi_major, header.abi_minor),
                    (AbiHeader::VALUE.abi_major, AbiHeader::VALUE.abi_minor),
                ),
            }
        }
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            LoadError::IncompatibleAbiStable {
                at,
                file,
                details: shorten(&err.to_string()),
            }
        }
        LibraryError::RootModule { err, .. } => LoadError::LibraryInitFailed {
            at,
            file,
            message: match err {
                RootModuleError::Returned(e) => e.to_string(),
                RootModuleError::Unwound => "it panicked while building its root module".to_owned(),
            },
        },
        LibraryError::Many(list) => match list.into_iter().next() {
            Some(first) => library_error(&at, &file, first),
            None => LoadError::LibraryInitFailed {
                at,
                file,
                message: "unknown loading error".to_owned(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abi_stable_mismatch_names_both_releases_and_the_fix() {
        assert_eq!(
            abi_stable_mismatch((0, 10), (0, 11)),
            "it was built with abi_stable 0.10.x, this Corral with abi_stable 0.11.x; \
             rebuild the module with abi_stable 0.11.x (types of abi_stable cross the \
             boundary, so the two must be semver-compatible)"
        );
        assert!(
            abi_stable_mismatch((1, 2), (0, 11)).starts_with("it was built with abi_stable 1.x,")
        );
    }

    #[test]
    fn this_host_is_built_with_abi_stable_0_11() {
        // The docs (docs/modules.md, module-api's Cargo.toml) tell module
        // authors which abi_stable to use; this keeps them honest.
        assert_eq!(
            (AbiHeader::VALUE.abi_major, AbiHeader::VALUE.abi_minor),
            (0, 11)
        );
    }
}
