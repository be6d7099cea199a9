//! What the simulated cluster's tasks share with the benchmark driver:
//! progress counters, and spawned tasks that end when their owner drops them.

use std::sync::{
    atomic::{AtomicU64, AtomicUsize},
    Mutex,
};

/// Counters the simulated agents and frameworks share with the driver.
#[derive(Default)]
pub struct Progress {
    /// REGISTERED events received, all sessions counted.
    pub registered: AtomicUsize,
    /// TASK_RUNNING updates decoded by the frameworks.
    pub running: AtomicUsize,
    /// Unique status update uuids.
    pub next_uuid: AtomicU64,
    /// Milliseconds from a simulated agent sending TASK_RUNNING to its
    /// framework decoding it (recorded when `record_latency` is set).
    pub update_latency_ms: Mutex<Vec<f64>>,
    pub record_latency: std::sync::atomic::AtomicBool,
    /// When set, the frameworks launch at this pace in all.
    pub pace: std::sync::OnceLock<Pace>,
}

/// A launch rate shared by the frameworks: tasks/s from `start`.
pub struct Pace {
    pub start: tokio::time::Instant,
    pub per_second: f64,
    pub issued: AtomicUsize,
}

impl Pace {
    /// Waits until `n` more tasks may be launched.
    pub async fn admit(&self, n: usize) {
        let before = self
            .issued
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        let due = std::time::Duration::from_secs_f64((before + n) as f64 / self.per_second);
        tokio::time::sleep_until(self.start + due).await;
    }
}

/// Seconds since the epoch (the simulated agents' update timestamps).
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A spawned task, aborted when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
