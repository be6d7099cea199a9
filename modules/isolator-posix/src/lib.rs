//! Posix isolators (Mesos' `posix/cpu` and `posix/mem`): no isolation, only
//! usage, so they work without root and without cgroups.
//!
//! A container's processes are the session of its first process (the
//! launch helper calls `setsid`); usage sums every process in `/proc` whose
//! session id is that pid. Processes that left the session, or have exited,
//! are not counted.
//!
//! - `org_corral_isolator_posix_cpu`: `cpus_limit` (the container's
//!   `cpus`), `cpus_user_time_secs`, `cpus_system_time_secs`.
//! - `org_corral_isolator_posix_mem`: `mem_limit_bytes` (the container's
//!   `mem`, MB, in bytes; not enforced), `mem_rss_bytes`.
//!
//! Parameters: none.

pub mod isolator;
pub mod proc;

use corral_module_api::{guest, Resource};

use isolator::{scalar, Figures, PosixIsolator};
use proc::SessionUsage;

corral_module_api::export_modules![
    guest::isolator::<PosixCpu>(
        "org_corral_isolator_posix_cpu",
        "cpu usage of the container's session from /proc, without isolation (Mesos' posix/cpu)",
    ),
    guest::isolator::<PosixMem>(
        "org_corral_isolator_posix_mem",
        "memory usage of the container's session from /proc, without isolation (Mesos' posix/mem)",
    ),
];

/// What `org_corral_isolator_posix_cpu` reports.
#[derive(Debug)]
pub enum Cpu {}

/// What `org_corral_isolator_posix_mem` reports.
#[derive(Debug)]
pub enum Mem {}

/// The posix cpu isolator.
pub type PosixCpu = PosixIsolator<Cpu>;
/// The posix memory isolator.
pub type PosixMem = PosixIsolator<Mem>;

/// Bytes in the megabyte of the `mem` resource.
const MB: f64 = 1024.0 * 1024.0;

impl Figures for Cpu {
    const KIND: &'static str = "cpu";

    fn figures(resources: &[Resource], usage: Option<&SessionUsage>) -> Vec<(&'static str, f64)> {
        let mut figures: Vec<_> = scalar(resources, "cpus")
            .map(|cpus| ("cpus_limit", cpus))
            .into_iter()
            .collect();
        if let Some(usage) = usage {
            figures.push(("cpus_user_time_secs", usage.user_time_secs()));
            figures.push(("cpus_system_time_secs", usage.system_time_secs()));
        }
        figures
    }
}

impl Figures for Mem {
    const KIND: &'static str = "mem";

    fn figures(resources: &[Resource], usage: Option<&SessionUsage>) -> Vec<(&'static str, f64)> {
        let mut figures: Vec<_> = scalar(resources, "mem")
            .map(|mem| ("mem_limit_bytes", (mem * MB).floor()))
            .into_iter()
            .collect();
        if let Some(usage) = usage {
            figures.push(("mem_rss_bytes", usage.rss_bytes() as f64));
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::{
        guest::{IsolatorModule, Params},
        isolator::{ContainerConfig, LaunchSpec, Statistic},
        RNone, RString, RVec,
    };

    fn config(id: &str) -> ContainerConfig {
        ContainerConfig {
            container_id: RString::from(id),
            framework_id: RString::from("f"),
            executor_id: RString::from("e"),
            sandbox: RString::from("/tmp"),
            user: RNone,
            resources: vec![Resource::scalar("cpus", 0.5), Resource::scalar("mem", 64.0)].into(),
            volumes: RVec::new(),
            executor_info: RVec::new(),
        }
    }

    fn new<T: IsolatorModule>() -> T {
        T::new(&Params::default(), &guest::null_host()).unwrap()
    }

    fn value(stats: &[Statistic], name: &str) -> Option<f64> {
        stats
            .iter()
            .find(|s| s.name.as_str() == name)
            .map(|s| s.value)
    }

    fn own_session() -> u32 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        proc::parse_stat(&stat).unwrap().session
    }

    #[test]
    fn cpu_usage_of_the_test_session() {
        let mut cpu: PosixCpu = new();
        assert_eq!(cpu.prepare(&config("c1")).unwrap(), LaunchSpec::default());
        let before = cpu.usage("c1").unwrap();
        assert_eq!(value(&before, "cpus_limit"), Some(0.5));
        assert_eq!(value(&before, "cpus_user_time_secs"), None);

        cpu.isolate("c1", own_session()).unwrap();
        let stats = cpu.usage("c1").unwrap();
        assert_eq!(value(&stats, "cpus_limit"), Some(0.5));
        assert!(value(&stats, "cpus_user_time_secs").unwrap() >= 0.0);
        assert!(value(&stats, "cpus_system_time_secs").unwrap() >= 0.0);

        cpu.update("c1", vec![Resource::scalar("cpus", 2.0)])
            .unwrap();
        assert_eq!(value(&cpu.usage("c1").unwrap(), "cpus_limit"), Some(2.0));
        cpu.cleanup("c1").unwrap();
        assert!(cpu.usage("c1").is_err());
    }

    #[test]
    fn mem_usage_of_the_test_session() {
        let mut mem: PosixMem = new();
        mem.prepare(&config("c1")).unwrap();
        mem.isolate("c1", own_session()).unwrap();
        let stats = mem.usage("c1").unwrap();
        assert_eq!(value(&stats, "mem_limit_bytes"), Some(64.0 * MB));
        assert!(value(&stats, "mem_rss_bytes").unwrap() > 0.0);
        assert_eq!(value(&stats, "cpus_limit"), None);
    }

    #[test]
    fn unknown_containers_fail_usage_but_not_cleanup() {
        let mut mem: PosixMem = new();
        let err = mem.usage("nope").unwrap_err().to_string();
        assert_eq!(err, "unknown container 'nope'");
        mem.cleanup("nope").unwrap();
        mem.prepare(&config("c1")).unwrap();
        assert!(mem.prepare(&config("c1")).is_err());
    }

    #[test]
    fn parameters_are_refused() {
        let params = Params::new([("root".to_owned(), "x".to_owned())]);
        let err = PosixCpu::new(&params, &guest::null_host()).unwrap_err();
        assert_eq!(err.to_string(), "unknown parameter 'root' (known: none)");
    }
}
