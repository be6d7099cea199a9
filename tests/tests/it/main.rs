//! The module host's integration tests, in one test binary (one link, one
//! process whose tests run side by side).
//!
//! `module_logging` is not here but a binary of its own
//! (`tests/tests/module_logging.rs`): it installs a `tracing` subscriber,
//! and tracing's level filter (`LevelFilter::current()`, which the host
//! hands modules as their maximum level) and its callsite interest cache
//! are process-wide, so other tests' module loads and events in the same
//! process could change what it sees.

mod allocator_module;
mod isolator_module;
mod lua_allocator;
mod module_loading;
mod module_panics;
mod module_views;
