//! The only part of core that knows HTTP, JSON and protobuf encodings.

pub mod agent_protocol;
pub mod codec;
pub mod http;
pub mod master_routes;
pub mod scheduler;
