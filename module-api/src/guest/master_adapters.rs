//! The native traits for leader election and master detection (1.2) and
//! their guarded adapters.

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RStr, RVec},
};

use super::{adapters::Described, install_logging, panic_guard::guard, params::Params};
use crate::{
    error::ModuleError,
    host::Host,
    master::{
        ContenderNotifier, LeaderNotifier, MasterContender, MasterContenderBox, MasterContender_TO,
        MasterDetector, MasterDetectorBox, MasterDetector_TO, RegistryRecord,
    },
    parameters::ParamSpec,
    root::{ModuleConstructor, ModuleDescriptor},
    types::KeyValue,
};

type Result<T> = std::result::Result<T, ModuleError>;
type RRes<T> = RResult<T, ModuleError>;

/// A contender written in plain Rust; see [`crate::master::MasterContender`].
pub trait MasterContenderModule: Send + Sized + 'static {
    fn new(params: &Params, host: &Host) -> Result<Self>;
    /// The parameters this module takes (see `AllocatorModule::parameters`).
    fn parameters() -> Option<Vec<ParamSpec>> {
        None
    }
    fn contend(&mut self, url: &str, info: &str, listener: ContenderNotifier) -> Result<()>;
    fn registry_read(&mut self, table: &str) -> Result<Vec<RegistryRecord>>;
    fn registry_write(&mut self, table: &str, key: &str, value: Option<Vec<u8>>) -> Result<()>;
    fn registry_flush(&mut self) -> Result<()>;
    fn withdraw(&mut self) -> Result<()>;
}

/// A detector written in plain Rust; see [`crate::master::MasterDetector`].
pub trait MasterDetectorModule: Send + Sized + 'static {
    fn new(params: &Params, host: &Host) -> Result<Self>;
    /// The parameters this module takes (see `AllocatorModule::parameters`).
    fn parameters() -> Option<Vec<ParamSpec>> {
        None
    }
    fn detect(&mut self, url: &str, listener: LeaderNotifier) -> Result<()>;
}

/// Describes a master contender module implemented by `T`.
pub fn master_contender<T: MasterContenderModule>(name: &str, description: &str) -> Described {
    Described {
        descriptor: ModuleDescriptor::new(
            name,
            description,
            ModuleConstructor::MasterContender(construct_contender::<T>),
        ),
        parameters: T::parameters(),
    }
}

/// Describes a master detector module implemented by `T`.
pub fn master_detector<T: MasterDetectorModule>(name: &str, description: &str) -> Described {
    Described {
        descriptor: ModuleDescriptor::new(
            name,
            description,
            ModuleConstructor::MasterDetector(construct_detector::<T>),
        ),
        parameters: T::parameters(),
    }
}

extern "C" fn construct_contender<T: MasterContenderModule>(
    params: RVec<KeyValue>,
    host: Host,
) -> RResult<MasterContenderBox, ModuleError> {
    guard("constructor", || {
        install_logging(&host);
        let module = T::new(&Params::from(params), &host)?;
        Ok(MasterContender_TO::from_value(Guarded(module), TD_Opaque))
    })
}

extern "C" fn construct_detector<T: MasterDetectorModule>(
    params: RVec<KeyValue>,
    host: Host,
) -> RResult<MasterDetectorBox, ModuleError> {
    guard("constructor", || {
        install_logging(&host);
        let module = T::new(&Params::from(params), &host)?;
        Ok(MasterDetector_TO::from_value(Guarded(module), TD_Opaque))
    })
}

/// Runs every ABI call of a native module under [`guard`].
struct Guarded<T>(T);

impl<T: MasterContenderModule> MasterContender for Guarded<T> {
    fn contend(&mut self, url: RStr<'_>, info: RStr<'_>, listener: ContenderNotifier) -> RRes<()> {
        guard("contend", || {
            self.0.contend(url.as_str(), info.as_str(), listener)
        })
    }
    fn registry_read(&mut self, table: RStr<'_>) -> RRes<RVec<RegistryRecord>> {
        guard("registry_read", || {
            self.0.registry_read(table.as_str()).map(RVec::from)
        })
    }
    fn registry_write(
        &mut self,
        table: RStr<'_>,
        key: RStr<'_>,
        value: ROption<RVec<u8>>,
    ) -> RRes<()> {
        guard("registry_write", || {
            self.0.registry_write(
                table.as_str(),
                key.as_str(),
                value.into_option().map(RVec::into_vec),
            )
        })
    }
    fn registry_flush(&mut self) -> RRes<()> {
        guard("registry_flush", || self.0.registry_flush())
    }
    fn withdraw(&mut self) -> RRes<()> {
        guard("withdraw", || self.0.withdraw())
    }
}

impl<T: MasterDetectorModule> MasterDetector for Guarded<T> {
    fn detect(&mut self, url: RStr<'_>, listener: LeaderNotifier) -> RRes<()> {
        guard("detect", || self.0.detect(url.as_str(), listener))
    }
}
