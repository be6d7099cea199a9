//! The stable ABI between Corral's core and its loadable modules.
//!
//! A *module library* is a `cdylib` built against this crate alone. It
//! exports one root module ([`CorralModuleLib`]) that lists the modules it
//! provides ([`ModuleDescriptor`]): each has a unique name, a kind
//! (allocator, isolator or hook, carried by its [`ModuleConstructor`]), a
//! one-line description and a constructor taking the module's parameters.
//! The host loads libraries named in a TOML manifest, checks them, and
//! builds module instances from the parameters the manifest gives.
//!
//! # Writing a module
//!
//! Implement [`guest::HookModule`], [`guest::IsolatorModule`] or
//! [`guest::AllocatorModule`] in plain Rust, then export it:
//!
//! ```ignore
//! corral_module_api::export_modules![
//!     corral_module_api::guest::hook::<MyHook>("org_example_hook_mine", "adds a label"),
//! ];
//! ```
//!
//! Task and executor details that travel as protobuf bytes
//! (`TaskView::task_info`, `ExecutorView::executor_info`,
//! `ContainerConfig::executor_info`) decode into plain Rust with
//! [`guest::views`] (`TaskDetails::decode`, `ExecutorDetails::decode`).
//!
//! The guest adapters run every call under [`guest::guard`], so a panic in
//! the module becomes a [`ModuleError`] of kind `Panicked` (the host then
//! poisons that instance) instead of aborting the daemon. `tracing` events
//! inside the module are forwarded to the host's log. `examples/` in the
//! Corral repository holds a complete third-party allocator.
//!
//! # Rules every module must follow
//!
//! - Calls are synchronous; the host runs them off its async runtime. Do not
//!   use an async runtime from the host: none is reachable across the ABI
//!   (a module that needs one must own it). Long waits come back through a
//!   host callback such as [`isolator::LimitationNotifier`].
//! - Keep instance state in the value the constructor returns, never in
//!   statics: two manifest entries naming the same file share one loaded
//!   library and its statics.
//! - Libraries are never unloaded; replacing one means restarting the daemon.
//!
//! # Versioning and evolution
//!
//! A library records the version of this crate it was built against. The
//! host refuses a library whose major version differs from its own, then
//! compares every type that crosses the boundary field by field (abi_stable's
//! layout check) and refuses any mismatch. Within one major version:
//!
//! - **May change in a minor release:** new variants of the non-exhaustive
//!   enums ([`ModuleConstructor`], i.e. new module kinds, and
//!   [`ErrorKind`]); new fields of the root module after its
//!   `#[sabi(last_prefix_field)]` field; new trait methods at the end of a
//!   `#[sabi_trait]`, each with a default body; new guest helpers.
//! - **Needs a major release:** removing or reordering anything; adding a
//!   field to a `#[repr(C)]` struct such as [`ContainerConfig`]; changing a
//!   method's signature; a new variant of an exhaustive enum such as
//!   [`types::ResourceValue`]. Data that must keep evolving travels as
//!   protobuf bytes beside the stable fields (`task_info`, `executor_info`).
//! - Patch releases change no type that crosses the boundary.
//!
//! A library built against 1.x therefore loads into any host built against
//! 1.y; a method the library predates answers with its default body.

// abi_stable generates `Foo_TO`, `Foo_NE` and `Foo_Ref` types.
#![allow(non_camel_case_types)]

pub mod allocator;
pub mod error;
pub mod guest;
pub mod hook;
pub mod host;
pub mod isolator;
pub mod master;
pub mod parameters;
pub mod root;
pub mod types;

pub use abi_stable::std_types::{RNone, ROption, RSome, RStr, RString, RVec};
pub use error::{ErrorKind, ModuleError};
pub use host::{Host, HostServices, LogLevel, LogRecord};
pub use isolator::ContainerConfig;
pub use parameters::{ModuleParams, ParamKind, ParamSpec};
pub use root::{
    CorralModuleLib, CorralModuleLib_Ref, ModuleConstructor, ModuleDescriptor, MODULE_API_VERSION,
};
pub use types::{KeyValue, Resource};

/// Used by [`export_modules!`]; not part of the stable API.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
    pub use abi_stable::std_types::{RResult, RVec};

    use abi_stable::prefix_type::PrefixTypeTrait;

    use crate::{
        CorralModuleLib, CorralModuleLib_Ref, ModuleDescriptor, ModuleError, ModuleParams,
    };

    /// Builds the root module (once per library; abi_stable caches it).
    pub fn leak_root_module(
        modules: extern "C" fn() -> RResult<RVec<ModuleDescriptor>, ModuleError>,
        parameters: extern "C" fn() -> RResult<RVec<ModuleParams>, ModuleError>,
    ) -> CorralModuleLib_Ref {
        CorralModuleLib {
            modules,
            parameters,
        }
        .leak_into_prefix()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_macro_uses_abi_stables_root_symbol_name() {
        // The macro hard-codes the symbol because attributes need literals.
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
