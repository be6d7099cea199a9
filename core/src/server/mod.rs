//! Composition roots: each daemon's state machine put together with its HTTP
//! surface on a listener. The only place that starts an HTTP server
//! (`serve.rs`: the accept loop and its bounds).

pub mod agent;
pub mod master;
pub mod master_ha;
mod serve;
pub mod tls;
