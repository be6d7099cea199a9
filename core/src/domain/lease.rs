//! The leadership lease of a master elected through a contender module:
//! how long it may still act as leader. A master that is not elected
//! through one (a single master, an agent, `corral local`) installs none
//! and always acts.
//!
//! The lease is process-wide on purpose: a process hosts at most one
//! elected master, and the places that must stop at once when the lease
//! runs out (event streams, registry writes) are far from where it is
//! renewed. When it runs out the process exits (see `server::master_ha`);
//! until then every such place checks [`acting`], so that nothing goes out
//! in the moments between a stopped process resuming and its exit.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

/// How long a master may act as leader.
#[derive(Debug)]
pub struct Lease {
    epoch: Instant,
    /// Microseconds after `epoch` until which the master may act.
    until_us: AtomicU64,
    lost: AtomicBool,
}

impl Lease {
    /// A lease that starts expired.
    pub fn new() -> Self {
        Lease {
            epoch: Instant::now(),
            until_us: AtomicU64::new(0),
            lost: AtomicBool::new(false),
        }
    }

    /// Good for `valid_for` from now (never shortened).
    pub fn extend(&self, valid_for: Duration) {
        let until = self.epoch.elapsed().saturating_add(valid_for).as_micros() as u64;
        self.until_us.fetch_max(until, Ordering::SeqCst);
    }

    /// Over for good.
    pub fn revoke(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    /// Whether the master may act now.
    pub fn acting(&self) -> bool {
        !self.lost.load(Ordering::SeqCst)
            && (self.epoch.elapsed().as_micros() as u64) < self.until_us.load(Ordering::SeqCst)
    }
}

impl Default for Lease {
    fn default() -> Self {
        Lease::new()
    }
}

static PROCESS: OnceLock<Lease> = OnceLock::new();

/// Makes this process act only while its lease is current (it starts
/// expired) and returns the lease. Installing twice returns the first.
pub fn install() -> &'static Lease {
    PROCESS.get_or_init(Lease::new)
}

/// Whether this process may act as leader now: always, unless a lease is
/// installed.
pub fn acting() -> bool {
    PROCESS.get().is_none_or(Lease::acting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_starts_expired_runs_for_what_was_confirmed_and_ends_when_revoked() {
        let lease = Lease::new();
        assert!(!lease.acting(), "a new lease starts expired");
        lease.extend(Duration::from_millis(200));
        assert!(lease.acting());
        lease.extend(Duration::from_millis(1));
        assert!(lease.acting(), "a shorter confirmation does not shorten it");
        std::thread::sleep(Duration::from_millis(250));
        assert!(!lease.acting(), "the lease ran out");
        lease.extend(Duration::from_secs(60));
        assert!(lease.acting());
        lease.revoke();
        assert!(!lease.acting(), "a revoked lease never acts again");
        lease.extend(Duration::from_secs(60));
        assert!(!lease.acting());
    }
}
