//! Linux cgroup isolators (Mesos' `cgroups/cpu` and `cgroups/mem`). Both need
//! root; the constructor refuses otherwise, or when no cgroup hierarchy has
//! the controller.
//!
//! - `org_corral_isolator_cgroups_cpu`: cpu shares (1024 per cpu, at least
//!   2) from the container's `cpus`, and with `cfs_quota` a hard CFS quota
//!   (`cpus` × 100 ms per 100 ms period, at least 1 ms); usage
//!   `cpus_limit`, `cpus_user_time_secs`, `cpus_system_time_secs`,
//!   `cpus_nr_periods`, `cpus_nr_throttled`, `cpus_throttled_time_secs`.
//! - `org_corral_isolator_cgroups_mem`: a memory limit from the container's
//!   `mem` (MB, at least 32 MB). Reaching it is reported as a limitation
//!   (reason `REASON_CONTAINER_LIMITATION_MEMORY`, message
//!   `Memory limit exceeded: Requested: 64MB Maximum Used: 64MB`) and the
//!   agent destroys the container; on cgroup v1 the kernel's OOM killer is
//!   disabled for the container, so its processes stall at the limit until
//!   then. Usage `mem_limit_bytes`, `mem_rss_bytes`, `mem_file_bytes`,
//!   `mem_anon_bytes`, `mem_mapped_file_bytes`.
//!
//! Both ask for a cgroup namespace for every container (`CLONE_NEWCGROUP`
//! in the launch spec, where the kernel has them): the agent's launch
//! helper unshares it after the container's first process is in its
//! cgroups, so the namespace is rooted there, and shows the container its
//! cgroup filesystems read-only and rooted at its own cgroups: a task
//! cannot move itself out of its limits.
//!
//! Parameters (all optional):
//! - `root = "corral"`: the cgroup, in each hierarchy, under which every
//!   container gets a cgroup named by its container id (created on demand;
//!   on recovery, container cgroups under it that the agent no longer knows
//!   are removed);
//! - `hierarchy = "/sys/fs/cgroup"`: only cgroup mounts at or below this
//!   directory are used. A cgroup v1 mount with the controller (`cpu` and
//!   `cpuacct`, or `memory`) is preferred; otherwise a cgroup2 mount whose
//!   `cgroup.controllers` lists it;
//! - cpu only: `cfs_quota = true|false` (default false): also enforce the
//!   CFS quota.

mod cgroup;
pub mod cpu;
pub mod hierarchy;
pub mod mem;
mod settings;

use corral_module_api::{guest, isolator::LaunchSpec};

pub use cpu::CgroupsCpu;
pub use mem::CgroupsMem;
pub use settings::Settings;

/// Linux `CLONE_NEWCGROUP`.
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;

/// What both modules ask for every container: its own cgroup namespace,
/// where the kernel has them (`/proc/self/ns/cgroup`).
pub fn launch_spec() -> LaunchSpec {
    let namespaces = if std::path::Path::new("/proc/self/ns/cgroup").exists() {
        CLONE_NEWCGROUP
    } else {
        0
    };
    LaunchSpec {
        namespaces,
        ..LaunchSpec::default()
    }
}

corral_module_api::export_modules![
    guest::isolator::<CgroupsCpu>(
        "org_corral_isolator_cgroups_cpu",
        "cpu shares and optional CFS quota from the container's cpus; cpu usage",
    ),
    guest::isolator::<CgroupsMem>(
        "org_corral_isolator_cgroups_mem",
        "memory limit from the container's mem; OOM reported as a limitation; memory usage",
    ),
];
