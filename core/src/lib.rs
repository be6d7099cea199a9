//! Corral: a cluster manager in the line of Apache Mesos.
//!
//! # Layers
//!
//! Imports run one way, down this list (see `ARCHITECTURE.md`):
//!
//! 1. [`proto`], [`wire`]: generated protobuf types; encodings, RecordIO
//!    and the agent protocol's constants, shared by servers and clients.
//! 2. [`domain`]: core's own vocabulary (resources, status rules, metric
//!    names, bounded history, event channels, protobuf conversions).
//! 3. [`extension`]: the native traits (`AllocatorPlugin`, `IsolatorPlugin`,
//!    `HookPlugin`) and `Hooks`, which the rest of core programs against.
//! 4. [`module_host`] (the only user of `corral_module_api`),
//!    [`containerizer`], [`master`], [`agent`]: state machines and their
//!    effects, no HTTP server; [`executor`]: the command executor, a client.
//! 5. [`api`]: the HTTP endpoints, and errors mapped to status codes.
//! 6. [`server`]: each daemon's composition root, `run(listener, config,
//!    modules, shutdown)`.
//! 7. [`config`] (settings, used from [`cli`] down to the daemons'
//!    `*Config`), [`cli`]: the `corral` command's subcommands.

pub mod agent;
pub(crate) mod api;
pub mod cli;
pub mod config;
pub mod containerizer;
pub mod domain;
pub mod executor;
pub mod extension;
pub mod master;
pub mod module_host;
pub mod proto;
pub mod server;
pub mod wire;

/// The Mesos version whose v1 API Corral speaks, as `/version` reports it.
pub const VERSION: &str = "1.0.0";
