//! The host side of `HostServices`: module log records go into core's
//! `tracing`, inside the span `foreign` enters around each module call.

use std::{
    collections::BTreeMap,
    sync::{Mutex, OnceLock, PoisonError},
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RArc, RStr},
};
use corral_module_api::{
    host::{HostServices, HostServices_TO},
    Host, LogLevel, LogRecord,
};
use tracing::level_filters::LevelFilter;

/// Forwards module logs to the host's `tracing` subscriber, and counts
/// into the process's module counters.
#[derive(Debug, Clone)]
struct TracingHost {
    library: String,
    module: String,
}

/// The host services handed to module `module` of the library at `library`.
pub fn host_for(library: &str, module: &str) -> Host {
    HostServices_TO::from_ptr(
        RArc::new(TracingHost {
            library: library.to_owned(),
            module: module.to_owned(),
        }),
        TD_Opaque,
    )
}

/// Counters modules keep through `HostServices::count`, by
/// `modules/<module>/<name>`; bounded so a module cannot grow them without
/// limit.
const MAX_COUNTERS: usize = 1_000;

fn counters() -> &'static Mutex<BTreeMap<String, u64>> {
    static COUNTERS: OnceLock<Mutex<BTreeMap<String, u64>>> = OnceLock::new();
    COUNTERS.get_or_init(Default::default)
}

/// Every module counter of this process, for `/metrics/snapshot`.
pub fn module_counters() -> Vec<(String, u64)> {
    let counters = counters().lock().unwrap_or_else(PoisonError::into_inner);
    counters.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

fn valid_counter_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
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

    fn count(&self, name: RStr<'_>, delta: u64) {
        if !valid_counter_name(name.as_str()) {
            return;
        }
        let key = format!("modules/{}/{}", self.module, name.as_str());
        let mut counters = counters().lock().unwrap_or_else(PoisonError::into_inner);
        if counters.len() >= MAX_COUNTERS && !counters.contains_key(&key) {
            return;
        }
        let value = counters.entry(key).or_default();
        *value = value.saturating_add(delta);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_count_under_their_own_name_and_odd_names_are_ignored() {
        let host = host_for("/lib/libx.so", "org_test_counting");
        host.count("rounds_voided".into(), 2);
        host.count("rounds_voided".into(), 1);
        host.count("Bad Name/../x".into(), 5);
        let counters = module_counters();
        assert!(counters.contains(&("modules/org_test_counting/rounds_voided".to_owned(), 3)));
        assert!(!counters.iter().any(|(k, _)| k.contains("Bad")));
    }
}
