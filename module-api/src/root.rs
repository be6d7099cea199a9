//! The root module every Corral module library exports, and the descriptors
//! of the modules it provides.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    nonexhaustive_enum::NonExhaustive,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RResult, RString, RVec},
    StableAbi,
};

use crate::{
    allocator::AllocatorBox,
    error::ModuleError,
    hook::HookBox,
    host::Host,
    isolator::IsolatorBox,
    master::{MasterContenderBox, MasterDetectorBox},
    parameters::ModuleParams,
    types::KeyValue,
};

/// A module's kind together with the constructor for that kind, so the two
/// can never disagree. Kinds may be added in minor versions: a host that
/// meets a kind it does not know reports the module as of an unknown kind.
#[repr(u8)]
#[derive(StableAbi, Debug)]
#[sabi(kind(WithNonExhaustive(size = [usize; 4], align = usize)))]
#[non_exhaustive]
pub enum ModuleConstructor {
    // The constructor types are spelled out: the layout derive reads them
    // syntactically and does not see through type aliases.
    Allocator(extern "C" fn(RVec<KeyValue>, Host) -> RResult<AllocatorBox, ModuleError>),
    Isolator(extern "C" fn(RVec<KeyValue>, Host) -> RResult<IsolatorBox, ModuleError>),
    Hook(extern "C" fn(RVec<KeyValue>, Host) -> RResult<HookBox, ModuleError>),
    /// Since 1.2.
    MasterContender(
        extern "C" fn(RVec<KeyValue>, Host) -> RResult<MasterContenderBox, ModuleError>,
    ),
    /// Since 1.2.
    MasterDetector(extern "C" fn(RVec<KeyValue>, Host) -> RResult<MasterDetectorBox, ModuleError>),
}

impl ModuleConstructor {
    /// The kind's name as written in manifests and messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ModuleConstructor::Allocator(_) => "allocator",
            ModuleConstructor::Isolator(_) => "isolator",
            ModuleConstructor::Hook(_) => "hook",
            ModuleConstructor::MasterContender(_) => "master_contender",
            ModuleConstructor::MasterDetector(_) => "master_detector",
        }
    }
}

/// One module a library provides.
#[repr(C)]
#[derive(StableAbi)]
pub struct ModuleDescriptor {
    /// Unique across all loaded libraries; by convention a reversed domain
    /// and a name joined with underscores, e.g. `org_corral_hook_env`.
    pub name: RString,
    /// One line saying what the module does.
    pub description: RString,
    pub constructor: ModuleConstructor_NE,
}

impl ModuleDescriptor {
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        constructor: ModuleConstructor,
    ) -> Self {
        ModuleDescriptor {
            name: RString::from(name.into()),
            description: RString::from(description.into()),
            constructor: NonExhaustive::new(constructor),
        }
    }
}

impl std::fmt::Debug for ModuleDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self
            .constructor
            .as_enum()
            .map_or("unknown", ModuleConstructor::kind_name);
        f.debug_struct("ModuleDescriptor")
            .field("name", &self.name)
            .field("kind", &kind)
            .field("description", &self.description)
            .finish()
    }
}

/// The root module: the single symbol a Corral module library exports.
///
/// Evolution: fields may only be added after the one marked
/// `#[sabi(last_prefix_field)]` (the marker itself never moves: moving it
/// would make the new field required). Hosts read fields added later
/// through accessors returning `Option`, so an older library degrades to a
/// clear "library does not provide X" instead of failing to load.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = CorralModuleLib_Ref)))]
#[sabi(missing_field(option))]
pub struct CorralModuleLib {
    /// Lists the modules this library provides.
    #[sabi(last_prefix_field)]
    pub modules: extern "C" fn() -> RResult<RVec<ModuleDescriptor>, ModuleError>,
    /// Since 1.1: the parameters each module declares (modules that declare
    /// none are not listed). `None` through the accessor for older libraries.
    pub parameters: extern "C" fn() -> RResult<RVec<ModuleParams>, ModuleError>,
}

impl std::fmt::Debug for CorralModuleLib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorralModuleLib").finish_non_exhaustive()
    }
}

impl RootModule for CorralModuleLib_Ref {
    declare_root_module_statics! {CorralModuleLib_Ref}
    const BASE_NAME: &'static str = "corral_module";
    const NAME: &'static str = "corral module library";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The module-api version this crate is (and a module built against it reports).
pub const MODULE_API_VERSION: &str = env!("CARGO_PKG_VERSION");
