//! Corral: a cluster manager in the line of Apache Mesos.
//!
//! # Layout
//!
//! - [`domain`]: core's own types for what modules work with.
//! - [`extension`]: the native traits (`AllocatorPlugin`, `IsolatorPlugin`,
//!   `HookPlugin`) the rest of core programs against.
//! - [`module_host`]: loads module libraries from a manifest and implements
//!   the `extension` traits over them; the only user of `corral_module_api`.
//! - [`config`]: daemon configuration files.
//! - [`agent`], [`containerizer`], [`executor`]: the agent side; [`master`]
//!   and [`api`]: the master and the HTTP surfaces.
//! - [`cli`]: the `corral` command's subcommands.

pub mod agent;
pub mod api;
pub mod cli;
pub mod config;
pub mod containerizer;
pub mod domain;
pub mod executor;
pub mod extension;
pub mod master;
pub mod module_host;
pub mod proto;
pub mod status;

/// The Mesos version whose v1 API Corral speaks, as `/version` reports it.
pub const VERSION: &str = "1.0.0";
