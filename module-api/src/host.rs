//! What the host (the Corral daemon) offers every module instance.

use abi_stable::{
    sabi_trait,
    std_types::{RArc, ROption, RStr, RString, RVec},
    StableAbi,
};

use crate::types::KeyValue;

/// Severity of a log record, ordered from least to most verbose.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// One event logged inside a module, forwarded to the host's log.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct LogRecord {
    pub level: LogLevel,
    /// The `tracing` target inside the module (usually its Rust module path).
    pub target: RString,
    pub message: RString,
    /// Structured fields other than the message, rendered with `Debug`.
    pub fields: RVec<KeyValue>,
    pub file: ROption<RString>,
    pub line: ROption<u32>,
}

/// Services the host hands to every module constructor.
///
/// Evolution: methods may only be added at the end, after the method marked
/// `#[sabi(last_prefix_field)]`, and must have a default body so that hosts
/// built against an older module-api still satisfy newer modules.
#[sabi_trait]
pub trait HostServices: Send + Sync + Clone {
    /// Writes `record` into the host's log, attributed to the calling module.
    fn log(&self, record: &LogRecord);

    /// The most verbose level the host will keep; modules skip formatting
    /// anything above it.
    #[sabi(last_prefix_field)]
    fn max_level(&self) -> LogLevel;

    /// 1.1: adds `delta` to the module's counter `name`, which the daemon
    /// shows in `/metrics/snapshot` as `modules/<module>/<name>`. Names are
    /// made of `[a-z0-9_]`; others are ignored. A 1.0 host ignores counts.
    fn count(&self, name: RStr<'_>, delta: u64) {
        let _ = (name, delta);
    }
}

/// The host services handle passed to modules. Cheap to clone.
pub type Host = HostServices_TO<'static, RArc<()>>;
