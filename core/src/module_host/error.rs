//! Everything that can go wrong loading modules, each naming the manifest
//! entry and the file involved.

use std::{fmt, path::PathBuf};

use thiserror::Error;

use super::manifest::EntryRef;

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn paths(list: &[PathBuf]) -> String {
    if list.is_empty() {
        return "no search paths".to_owned();
    }
    list.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One module-loading problem. Messages are lowercase, with no trailing period.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LoadError {
    #[error("{}: cannot read module manifest: {reason}", manifest.display())]
    ManifestUnreadable { manifest: PathBuf, reason: String },
    #[error("{}: {message}", manifest.display())]
    ManifestInvalid { manifest: PathBuf, message: String },
    #[error("{at}: give exactly one of `path` (a file) or `name` (looked up as lib<name>.so)")]
    LibraryUnspecified { at: EntryRef },
    #[error("{at}: lists no modules; add a [[library.module]] with a `name`")]
    NoModulesListed { at: EntryRef },
    #[error("{at}: module '{module}': parameter '{key}' must be a string, number or boolean")]
    BadParameter {
        at: EntryRef,
        module: String,
        key: String,
    },
    #[error("{at}: file not found: {}", file.display())]
    FileMissing { at: EntryRef, file: PathBuf },
    #[error("{at}: lib{name}.so not found in {}", paths(searched))]
    NameNotFound {
        at: EntryRef,
        name: String,
        searched: Vec<PathBuf>,
    },
    #[error("{at}: {} is not a loadable shared library: {reason}", file.display())]
    NotSharedLibrary {
        at: EntryRef,
        file: PathBuf,
        reason: String,
    },
    #[error("{at}: {} is a shared library but not a Corral module library (it exports no abi_stable root module)", file.display())]
    NotModuleLibrary { at: EntryRef, file: PathBuf },
    #[error("{at}: {} was built against module-api {found}, but this Corral has module-api {expected} (the major versions must match)", file.display())]
    IncompatibleApi {
        at: EntryRef,
        file: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{at}: {} has an ABI layout that does not match module-api {expected}: {details}", file.display())]
    LayoutMismatch {
        at: EntryRef,
        file: PathBuf,
        expected: String,
        details: String,
    },
    #[error("{at}: {} was built with an incompatible abi_stable: {details}", file.display())]
    IncompatibleAbiStable {
        at: EntryRef,
        file: PathBuf,
        details: String,
    },
    #[error("{at}: {} could not start: {message}", file.display())]
    LibraryInitFailed {
        at: EntryRef,
        file: PathBuf,
        message: String,
    },
    #[error("{at}: module '{module}' is not provided by {} (it provides: {})", file.display(), listed(available))]
    ModuleNotInLibrary {
        at: EntryRef,
        file: PathBuf,
        module: String,
        available: Vec<String>,
    },
    #[error("{at}: module '{module}': {problem}")]
    InvalidParameter {
        at: EntryRef,
        module: String,
        problem: String,
    },
    #[error("{at}: module '{module}' in {} is of a kind this Corral does not know (built for a newer module-api)", file.display())]
    UnknownKind {
        at: EntryRef,
        file: PathBuf,
        module: String,
    },
    #[error("{at}: duplicate module name '{module}', already loaded by {first}")]
    DuplicateModule {
        at: EntryRef,
        module: String,
        first: EntryRef,
    },
    #[error(
        "{config}: asks for {kind} module '{module}', which no library in the manifest provides"
    )]
    NotProvided {
        config: String,
        module: String,
        kind: ModuleKind,
    },
    #[error("{config}: asks for {expected} module '{module}', but '{module}' is a {found} module")]
    WrongKind {
        config: String,
        module: String,
        expected: ModuleKind,
        found: ModuleKind,
    },
    #[error("{at}: module '{module}' rejected its parameters: {message}")]
    ConstructorRejected {
        at: EntryRef,
        module: String,
        message: String,
    },
    #[error("{at}: module '{module}' panicked while being created: {message}")]
    ConstructorPanicked {
        at: EntryRef,
        module: String,
        message: String,
    },
}

/// The kinds of module core knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModuleKind {
    Allocator,
    Isolator,
    Hook,
    MasterContender,
    MasterDetector,
}

impl fmt::Display for ModuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModuleKind::Allocator => "allocator",
            ModuleKind::Isolator => "isolator",
            ModuleKind::Hook => "hook",
            ModuleKind::MasterContender => "master_contender",
            ModuleKind::MasterDetector => "master_detector",
        })
    }
}

/// All the problems found in one load, reported together.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} module error{}:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}
