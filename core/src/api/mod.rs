//! The only part of core that knows HTTP, JSON and protobuf encodings.

pub mod agent_operator;
pub mod agent_protocol;
pub mod agent_routes;
pub mod agent_state;
pub mod auth;
pub mod executor;
pub mod files;
pub mod follower_routes;
pub mod http;
pub mod master_routes;
pub mod master_state;
pub mod operator;
pub mod operator_state;
pub mod scheduler;
pub mod snapshot_read;
pub mod ui_assets;
pub mod ui_data;
pub mod ui_proxy;
pub mod ui_routes;
