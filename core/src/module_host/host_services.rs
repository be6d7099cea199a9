//! The host side of `HostServices`: module log records go into core's
//! `tracing`, inside the span `foreign` enters around each module call.

use abi_stable::{sabi_trait::TD_Opaque, std_types::RArc};
use corral_module_api::{
    host::{HostServices, HostServices_TO},
    Host, LogLevel, LogRecord,
};
use tracing::level_filters::LevelFilter;

/// Forwards module logs to the host's `tracing` subscriber.
#[derive(Debug, Clone)]
struct TracingHost {
    library: String,
}

/// The host services handed to modules of the library at `library`.
pub fn host_for(library: &str) -> Host {
    HostServices_TO::from_ptr(
        RArc::new(TracingHost {
            library: library.to_owned(),
        }),
        TD_Opaque,
    )
}

impl HostServices for TracingHost {
    fn log(&self, record: &LogRecord) {
        let fields: Vec<String> = record
            .fields
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        let fields = fields.join(" ");
        let target = record.target.as_str();
        let message = record.message.as_str();
        let library = self.library.as_str();
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "corral::module",
                    $level,
                    module_target = target,
                    library,
                    fields = %fields,
                    "{message}"
                )
            };
        }
        match record.level {
            LogLevel::Error => emit!(tracing::Level::ERROR),
            LogLevel::Warn => emit!(tracing::Level::WARN),
            LogLevel::Info => emit!(tracing::Level::INFO),
            LogLevel::Debug => emit!(tracing::Level::DEBUG),
            LogLevel::Trace => emit!(tracing::Level::TRACE),
        }
    }

    fn max_level(&self) -> LogLevel {
        match LevelFilter::current() {
            LevelFilter::TRACE => LogLevel::Trace,
            LevelFilter::DEBUG => LogLevel::Debug,
            LevelFilter::INFO => LogLevel::Info,
            LevelFilter::WARN => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }
}
