//! Helpers compiled into modules (the guest side of the boundary): the
//! native traits to implement, the panic guard, parameter access, the
//! tracing bridge, and [`crate::export_modules!`].

mod adapters;
mod master_adapters;
mod panic_guard;
mod params;
pub mod testing;
mod tracing_bridge;
pub mod views;

pub use adapters::{
    allocator, hook, isolator, AllocatorModule, Described, HookModule, IsolatorModule,
};
pub use master_adapters::{
    master_contender, master_detector, MasterContenderModule, MasterDetectorModule,
};
pub use panic_guard::guard;
pub use params::Params;
pub use tracing_bridge::{install_logging, null_host};

/// Exports the root module of a module library listing the given
/// [`ModuleDescriptor`](crate::ModuleDescriptor)s. Use it once, at the crate
/// root of a `cdylib`:
///
/// ```ignore
/// corral_module_api::export_modules![
///     corral_module_api::guest::hook::<MyHook>("org_example_hook_mine", "what it does"),
/// ];
/// ```
#[macro_export]
macro_rules! export_modules {
    ($($descriptor:expr),+ $(,)?) => {
        #[doc(hidden)]
        fn __corral_described() -> ::std::vec::Vec<$crate::guest::Described> {
            ::std::vec![$($crate::guest::Described::from($descriptor)),+]
        }

        #[doc(hidden)]
        extern "C" fn __corral_list_modules() -> $crate::__private::RResult<
            $crate::__private::RVec<$crate::ModuleDescriptor>,
            $crate::ModuleError,
        > {
            $crate::guest::guard("listing modules", || {
                ::std::result::Result::Ok(
                    __corral_described()
                        .into_iter()
                        .map(|d| d.descriptor)
                        .collect(),
                )
            })
        }

        #[doc(hidden)]
        extern "C" fn __corral_list_parameters() -> $crate::__private::RResult<
            $crate::__private::RVec<$crate::ModuleParams>,
            $crate::ModuleError,
        > {
            $crate::guest::guard("listing parameters", || {
                ::std::result::Result::Ok(
                    __corral_described()
                        .into_iter()
                        .filter_map($crate::guest::Described::into_params)
                        .collect(),
                )
            })
        }

        #[doc(hidden)]
        fn __corral_root_module() -> $crate::CorralModuleLib_Ref {
            $crate::__private::leak_root_module(__corral_list_modules, __corral_list_parameters)
        }

        /// The symbol abi_stable looks up in every library it loads.
        #[doc(hidden)]
        #[export_name = "_1as_0lib_1header_0root_bmodule_bloader"]
        pub static __CORRAL_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn erased() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(__corral_root_module)
            }
            // SAFETY: `erased` returns the prefix reference of a
            // `CorralModuleLib`, the root module type named here.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::CorralModuleLib_Ref>(
                    erased,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}
