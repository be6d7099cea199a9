//! Wire formats, shared by servers and clients: the encodings of the v1 APIs
//! (`codec`), RecordIO framing (`recordio`), the agent protocol's
//! constants (`agent_protocol`) and the byte-exact `data` of sandbox file
//! reads (`files`). The generated message types are in
//! [`crate::proto`]. Nothing here knows HTTP servers.

pub mod agent_protocol;
pub mod codec;
pub mod files;
pub mod recordio;
