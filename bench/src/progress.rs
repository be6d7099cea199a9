//! What the simulated cluster's tasks share with the benchmark driver:
//! progress counters, and spawned tasks that end when their owner drops them.

use std::sync::atomic::{AtomicU64, AtomicUsize};

/// Counters the simulated agents and frameworks share with the driver.
#[derive(Default)]
pub struct Progress {
    /// REGISTERED events received, all sessions counted.
    pub registered: AtomicUsize,
    /// TASK_RUNNING updates decoded by the frameworks.
    pub running: AtomicUsize,
    /// Unique status update uuids.
    pub next_uuid: AtomicU64,
}

/// A spawned task, aborted when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
