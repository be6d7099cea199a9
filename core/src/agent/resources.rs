//! What the agent offers: detected from the machine unless configured.

use std::path::Path;

use crate::domain::{Resource, ResourceValue};

/// Configured values replace detected ones; `None` means detect.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceOverrides {
    pub cpus: Option<f64>,
    /// MB.
    pub mem: Option<f64>,
    /// MB.
    pub disk: Option<f64>,
    pub ports: Option<Vec<(u64, u64)>>,
}

/// Memory left to the operating system, as Mesos does: 1 GB, or half the
/// machine when it has less than 2 GB.
fn offerable_mem(total_mb: f64) -> f64 {
    (total_mb - (total_mb / 2.0).min(1024.0)).max(0.0)
}

fn total_memory_mb() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn free_disk_mb(dir: &Path) -> Option<f64> {
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(stat.blocks_available() as f64 * stat.fragment_size() as f64 / (1024.0 * 1024.0))
}

/// The agent's resources: `cpus`, `mem`, `disk` and `ports`.
pub fn detect(overrides: &ResourceOverrides, work_dir: &Path) -> Vec<Resource> {
    let cpus = overrides
        .cpus
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()) as f64);
    let mem = overrides
        .mem
        .unwrap_or_else(|| offerable_mem(total_memory_mb().unwrap_or(1024.0)).floor());
    // Like Mesos, leave the smaller of 5 GB and half the disk free.
    let disk = overrides.disk.unwrap_or_else(|| {
        let free = free_disk_mb(work_dir).unwrap_or(0.0);
        (free - (free / 2.0).min(5120.0)).max(0.0).floor()
    });
    let ports = overrides
        .ports
        .clone()
        .unwrap_or_else(|| vec![(31000, 32000)]);
    vec![
        Resource::scalar("cpus", cpus),
        Resource::scalar("mem", mem),
        Resource::scalar("disk", disk),
        Resource {
            name: "ports".into(),
            role: "*".into(),
            value: ResourceValue::Ranges(ports),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_and_memory_leaves_room_for_the_system() {
        let o = ResourceOverrides {
            cpus: Some(3.0),
            mem: Some(100.0),
            disk: Some(5.0),
            ports: Some(vec![(1, 2)]),
        };
        let r = detect(&o, Path::new("/"));
        assert_eq!(r[0], Resource::scalar("cpus", 3.0));
        assert_eq!(r[1], Resource::scalar("mem", 100.0));
        assert_eq!(r[3].value, ResourceValue::Ranges(vec![(1, 2)]));
        assert_eq!(offerable_mem(8192.0), 7168.0);
        assert_eq!(offerable_mem(1024.0), 512.0);
    }

    #[test]
    fn detection_finds_something_on_this_machine() {
        let r = detect(&ResourceOverrides::default(), Path::new("/"));
        assert!(matches!(r[0].value, ResourceValue::Scalar(c) if c >= 1.0));
        assert!(matches!(r[1].value, ResourceValue::Scalar(m) if m > 0.0));
    }
}
