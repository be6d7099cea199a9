//! Corral's integration tests, in one test binary: one link instead of
//! one per file, and one process whose tests run side by side.
//!
//! Every module is a test file of its own; `common` holds the cluster and
//! scheduler helpers they share. Nothing here changes process-wide state
//! (environment variables, the current directory, a global `tracing`
//! subscriber): a test that must should go into a binary of its own
//! (`core/tests/<name>.rs`), saying why.

mod common;

mod authentication;
mod authorization;
mod cli_local;
mod cli_modules;
mod cluster;
mod config_precedence;
mod custom_executor;
mod failover;
mod ha;
mod hostile_ids;
mod isolation;
mod isolation_cgroups;
mod layers;
mod lua_policy_live;
mod mesos_keys;
mod offers;
mod operator_api;
mod operator_endpoints;
mod operator_events;
mod out_of_tree;
mod process_failover;
mod reconciliation;
mod resource_bounds;
mod run_as_user;
mod sandbox_reads;
mod slow_isolator;
mod state_stall;
mod task_errors;
mod tls;
mod web_ui;
mod web_ui_browser;
