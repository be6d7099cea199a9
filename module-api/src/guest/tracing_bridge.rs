//! Forwarding a module's `tracing` events to the host.
//!
//! A cdylib carries its own copy of `tracing`, with its own global
//! dispatcher that the host's subscriber never sees. The module-side
//! subscriber installed here turns each event into a [`LogRecord`] and hands
//! it to [`HostServices::log`]; the host re-emits it inside the span it
//! entered around the call, which names the module.

use std::{
    fmt::{self, Write as _},
    sync::{
        atomic::{AtomicU64, Ordering},
        Once,
    },
};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RArc, RNone, RSome, RString, RVec},
};
use tracing::{
    field::{Field, Visit},
    level_filters::LevelFilter,
    span, Event, Level, Metadata, Subscriber,
};

use crate::{
    host::{Host, HostServices, HostServices_TO, LogLevel, LogRecord},
    types::KeyValue,
};

/// Installs the forwarding subscriber as this library's global default.
/// Only the first call per library has an effect: modules sharing a library
/// share its dispatcher, and attribution comes from the host's span.
pub fn install_logging(host: &Host) {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Another subscriber may already be set (a test harness linking the
        // module as an rlib); that one then keeps the events.
        let _ = tracing::subscriber::set_global_default(Forwarder {
            host: host.clone(),
            next_span: AtomicU64::new(1),
        });
    });
}

/// Host services that drop every log record: for unit-testing a module
/// in-process (through its rlib) without a Corral host.
pub fn null_host() -> Host {
    #[derive(Debug, Clone)]
    struct NullHost;
    impl HostServices for NullHost {
        fn log(&self, _record: &LogRecord) {}
        fn max_level(&self) -> LogLevel {
            LogLevel::Error
        }
    }
    HostServices_TO::from_ptr(RArc::new(NullHost), TD_Opaque)
}

struct Forwarder {
    host: Host,
    next_span: AtomicU64,
}

fn level_of(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

fn filter_of(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

impl Subscriber for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level_of(metadata.level()) <= self.host.max_level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(filter_of(self.host.max_level()))
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let mut visitor = FieldCollector::default();
        event.record(&mut visitor);
        self.host.log(&LogRecord {
            level: level_of(metadata.level()),
            target: RString::from(metadata.target()),
            message: RString::from(visitor.message),
            fields: RVec::from(visitor.fields),
            file: metadata.file().map_or(RNone, |f| RSome(RString::from(f))),
            line: metadata.line().map_or(RNone, RSome),
        });
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

#[derive(Default)]
struct FieldCollector {
    message: String,
    fields: Vec<KeyValue>,
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.push(KeyValue::new(field.name(), value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields
                .push(KeyValue::new(field.name(), format!("{value:?}")));
        }
    }
}
