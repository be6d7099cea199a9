//! The only part of core that knows HTTP, JSON and protobuf encodings.

pub mod codec;
