//! Corral's agent protocol on the wire: protobuf `corral.agent.v1` messages
//! over HTTP (`/agent/v1/subscribe`, a RecordIO stream of `MasterEvent`s, and
//! `/agent/v1/call`), every request carrying the protocol's version.

/// The header that carries [`PROTOCOL_VERSION`] on every agent request.
pub const PROTOCOL_HEADER: &str = "Corral-Agent-Protocol";
/// The agent protocol's major version; bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;
