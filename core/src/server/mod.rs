//! Composition roots: each daemon's state machine put together with its HTTP
//! surface on a listener. The only place that starts an HTTP server.

pub mod agent;
pub mod master;
