//! The modules a manifest loaded, and making instances of them.

use std::path::PathBuf;

use abi_stable::std_types::RResult;
use corral_module_api::{
    allocator::AllocatorBox,
    hook::HookBox,
    isolator::IsolatorBox,
    master::{MasterContenderBox, MasterDetectorBox},
    ErrorKind, Host, KeyValue, ModuleError, RVec,
};

use super::{
    error::{LoadError, LoadErrors, ModuleKind},
    ffi,
    foreign::{ForeignAllocator, ForeignHook, ForeignIsolator},
    foreign_master::{ForeignContender, ForeignDetector},
    host_services::host_for,
    manifest::EntryRef,
    parameters::DeclaredParam,
};
use crate::extension::{
    AllocatorPlugin, HookPlugin, Hooks, IsolatorPlugin, MasterContenderPlugin, MasterDetectorPlugin,
};

/// A module's constructor, copied out of its library's descriptor.
#[derive(Debug, Clone, Copy)]
pub(super) enum Constructor {
    Allocator(extern "C" fn(RVec<KeyValue>, Host) -> RResult<AllocatorBox, ModuleError>),
    Isolator(extern "C" fn(RVec<KeyValue>, Host) -> RResult<IsolatorBox, ModuleError>),
    Hook(extern "C" fn(RVec<KeyValue>, Host) -> RResult<HookBox, ModuleError>),
    MasterContender(
        extern "C" fn(RVec<KeyValue>, Host) -> RResult<MasterContenderBox, ModuleError>,
    ),
    MasterDetector(extern "C" fn(RVec<KeyValue>, Host) -> RResult<MasterDetectorBox, ModuleError>),
}

/// One loaded module, ready to be instantiated.
#[derive(Debug, Clone)]
pub struct RegisteredModule {
    pub name: String,
    pub kind: ModuleKind,
    pub description: String,
    pub library: PathBuf,
    /// The module-api version the library was built against.
    pub api_version: String,
    /// The manifest's parameters, with the defaults of declared ones it
    /// does not set.
    pub parameters: Vec<(String, String)>,
    /// What the module declares it takes; `None` when it declares nothing
    /// (built against module-api 1.0, or by choice).
    pub declared: Option<Vec<DeclaredParam>>,
    /// The manifest entry that loaded it.
    pub at: EntryRef,
    pub(super) constructor: Constructor,
}

/// Which modules a daemon's configuration asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Names the configuration file in errors.
    pub source: String,
    pub allocator: Option<String>,
    pub isolation: Vec<String>,
    pub hooks: Vec<String>,
}

/// Instances of the selected modules.
#[derive(Default)]
pub struct Instances {
    pub allocator: Option<Box<dyn AllocatorPlugin>>,
    pub isolators: Vec<Box<dyn IsolatorPlugin>>,
    pub hooks: Hooks,
}

impl std::fmt::Debug for Instances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instances")
            .field(
                "allocator",
                &self.allocator.as_ref().map(|a| a.name().to_owned()),
            )
            .field(
                "isolators",
                &self
                    .isolators
                    .iter()
                    .map(|i| i.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field("hooks", &self.hooks.names())
            .finish()
    }
}

/// Loaded modules in manifest order; names are unique.
#[derive(Debug, Clone, Default)]
pub struct ModuleRegistry {
    modules: Vec<RegisteredModule>,
}

impl ModuleRegistry {
    pub(super) fn insert(&mut self, module: RegisteredModule) {
        self.modules.push(module);
    }

    pub fn modules(&self) -> &[RegisteredModule] {
        &self.modules
    }

    pub fn get(&self, name: &str) -> Option<&RegisteredModule> {
        self.modules.iter().find(|m| m.name == name)
    }

    fn lookup(
        &self,
        name: &str,
        kind: ModuleKind,
        config: &str,
    ) -> Result<&RegisteredModule, LoadError> {
        let module = self.get(name).ok_or_else(|| LoadError::NotProvided {
            config: config.to_owned(),
            module: name.to_owned(),
            kind,
        })?;
        if module.kind != kind {
            return Err(LoadError::WrongKind {
                config: config.to_owned(),
                module: name.to_owned(),
                expected: kind,
                found: module.kind,
            });
        }
        Ok(module)
    }

    pub fn create_allocator(
        &self,
        name: &str,
        config: &str,
    ) -> Result<Box<dyn AllocatorPlugin>, LoadError> {
        let module = self.lookup(name, ModuleKind::Allocator, config)?;
        match module.constructor {
            Constructor::Allocator(new) => construct(module, new).map(|inner| {
                Box::new(ForeignAllocator::new(&module.name, inner)) as Box<dyn AllocatorPlugin>
            }),
            _ => unreachable!("lookup checked the kind"),
        }
    }

    pub fn create_isolator(
        &self,
        name: &str,
        config: &str,
    ) -> Result<Box<dyn IsolatorPlugin>, LoadError> {
        let module = self.lookup(name, ModuleKind::Isolator, config)?;
        match module.constructor {
            Constructor::Isolator(new) => construct(module, new).map(|inner| {
                Box::new(ForeignIsolator::new(&module.name, inner)) as Box<dyn IsolatorPlugin>
            }),
            _ => unreachable!("lookup checked the kind"),
        }
    }

    pub fn create_hook(&self, name: &str, config: &str) -> Result<Box<dyn HookPlugin>, LoadError> {
        let module = self.lookup(name, ModuleKind::Hook, config)?;
        match module.constructor {
            Constructor::Hook(new) => construct(module, new).map(|inner| {
                Box::new(ForeignHook::new(&module.name, inner)) as Box<dyn HookPlugin>
            }),
            _ => unreachable!("lookup checked the kind"),
        }
    }

    pub fn create_master_contender(
        &self,
        name: &str,
        config: &str,
    ) -> Result<Box<dyn MasterContenderPlugin>, LoadError> {
        let module = self.lookup(name, ModuleKind::MasterContender, config)?;
        match module.constructor {
            Constructor::MasterContender(new) => construct(module, new).map(|inner| {
                Box::new(ForeignContender::new(&module.name, inner))
                    as Box<dyn MasterContenderPlugin>
            }),
            _ => unreachable!("lookup checked the kind"),
        }
    }

    pub fn create_master_detector(
        &self,
        name: &str,
        config: &str,
    ) -> Result<Box<dyn MasterDetectorPlugin>, LoadError> {
        let module = self.lookup(name, ModuleKind::MasterDetector, config)?;
        match module.constructor {
            Constructor::MasterDetector(new) => construct(module, new).map(|inner| {
                Box::new(ForeignDetector::new(&module.name, inner)) as Box<dyn MasterDetectorPlugin>
            }),
            _ => unreachable!("lookup checked the kind"),
        }
    }

    /// Instantiates what `selection` asks for, reporting every problem.
    pub fn instantiate(&self, selection: &Selection) -> Result<Instances, LoadErrors> {
        let source = selection.source.as_str();
        let mut errors = Vec::new();
        let mut instances = Instances::default();
        if let Some(name) = &selection.allocator {
            match self.create_allocator(name, source) {
                Ok(a) => instances.allocator = Some(a),
                Err(e) => errors.push(e),
            }
        }
        for name in &selection.isolation {
            match self.create_isolator(name, source) {
                Ok(i) => instances.isolators.push(i),
                Err(e) => errors.push(e),
            }
        }
        for name in &selection.hooks {
            match self.create_hook(name, source) {
                Ok(h) => instances.hooks.push(h),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(instances)
        } else {
            Err(LoadErrors(errors))
        }
    }

    /// Creates (and drops) one instance of every loaded module, so that each
    /// module checks its parameters; returns every failure.
    pub fn check_constructors(&self) -> Vec<LoadError> {
        let source = "module check";
        self.modules
            .iter()
            .filter_map(|m| {
                let result = match m.kind {
                    ModuleKind::Allocator => self.create_allocator(&m.name, source).map(drop),
                    ModuleKind::Isolator => self.create_isolator(&m.name, source).map(drop),
                    ModuleKind::Hook => self.create_hook(&m.name, source).map(drop),
                    ModuleKind::MasterContender => {
                        self.create_master_contender(&m.name, source).map(drop)
                    }
                    ModuleKind::MasterDetector => {
                        self.create_master_detector(&m.name, source).map(drop)
                    }
                };
                result.err()
            })
            .collect()
    }
}

fn construct<T>(
    module: &RegisteredModule,
    new: extern "C" fn(RVec<KeyValue>, Host) -> RResult<T, ModuleError>,
) -> Result<T, LoadError> {
    let host = host_for(&module.library.display().to_string(), &module.name);
    let params = ffi::parameters_to_api(&module.parameters);
    let span = tracing::info_span!("module", name = %module.name, method = "constructor");
    span.in_scope(|| new(params, host))
        .into_result()
        .map_err(|err| {
            let message = err.to_string();
            if err.known_kind() == Some(ErrorKind::Panicked) {
                LoadError::ConstructorPanicked {
                    at: module.at.clone(),
                    module: module.name.clone(),
                    message,
                }
            } else {
                LoadError::ConstructorRejected {
                    at: module.at.clone(),
                    module: module.name.clone(),
                    message,
                }
            }
        })
}
