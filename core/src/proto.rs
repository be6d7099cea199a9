//! Generated protobuf types: Mesos v1 (`mesos.v1`, its scheduler and
//! executor APIs) and Corral's agent protocol (`corral.agent.v1`).

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

/// Descriptors of every generated message, for the JSON mapping.
pub static DESCRIPTOR_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(
        include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin")).as_ref(),
    )
    .expect("the descriptor set generated at build time decodes")
});

pub mod mesos {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));
        pub mod scheduler {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
        }
        pub mod executor {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.executor.rs"));
        }
        /// The agent's v1 operator API.
        pub mod agent {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.agent.rs"));
        }
        /// The master's v1 operator API.
        pub mod master {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.master.rs"));
        }
    }
}

pub mod corral {
    pub mod agent {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/corral.agent.v1.rs"));
        }
    }
}

pub use corral::agent::v1 as agent;
pub use mesos::v1;
