//! Wire formats, shared by servers and clients: the encodings of the v1 APIs
//! (`codec`), RecordIO framing (`recordio`), the agent protocol's
//! constants (`agent_protocol`) and the byte-exact `data` of sandbox file
//! reads (`files`). The generated message types are in
//! [`crate::proto`]. Nothing here knows HTTP servers.

/// The variable in which an agent gives each executor its token, which the
/// executor sends as `Authorization: Bearer` on the executor API (Mesos').
pub const EXECUTOR_TOKEN_VAR: &str = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN";

pub mod agent_protocol;
pub mod codec;
pub mod files;
pub mod json_out;
pub mod recordio;
pub mod tls;
