//! `org_corral_isolator_cgroups_cpu` (Mesos' `cgroups/cpu`): cpu shares, and
//! optionally a CFS quota, from the container's `cpus`; cpu usage.
//!
//! cgroup v1 uses the `cpu` hierarchy for limits and the `cpuacct` one for
//! user/system time (they may be one hierarchy or two); cgroup v2 uses the
//! `cpu` controller for both.

use std::{collections::HashMap, path::PathBuf};

use corral_module_api::{
    guest::{IsolatorModule, Params},
    isolator::{ContainerConfig, ContainerState, LaunchSpec, Statistic},
    Host, ModuleError, Resource,
};

use crate::{
    cgroup,
    hierarchy::{self, Hierarchy, Version},
    settings::{scalar, Settings},
};

/// Shares per cpu (Mesos' `CPU_SHARES_PER_CPU`).
pub const CPU_SHARES_PER_CPU: u64 = 1024;
/// The smallest share value (Mesos' `MIN_CPU_SHARES`).
pub const MIN_CPU_SHARES: u64 = 2;
/// The CFS period, in microseconds (Mesos' `CPU_CFS_PERIOD`, 100 ms).
pub const CFS_PERIOD_US: u64 = 100_000;
/// The smallest CFS quota, in microseconds (Mesos' `MIN_CPU_CFS_QUOTA`, 1 ms).
pub const MIN_CFS_QUOTA_US: u64 = 1_000;
/// The kernel's largest v1 share value, which maps to the largest v2 weight.
const MAX_CPU_SHARES: u64 = 262_144;
/// Clock ticks per second in `cpuacct.stat` (`USER_HZ`).
const USER_HZ: f64 = 100.0;

/// v1 `cpu.shares` for `cpus`: 1024 per cpu, at least 2.
pub fn shares(cpus: f64) -> u64 {
    ((cpus * CPU_SHARES_PER_CPU as f64) as u64).max(MIN_CPU_SHARES)
}

/// v2 `cpu.weight` (1..=10000) for v1 `shares` (2..=262144), the
/// conversion runc and systemd use.
pub fn weight(shares: u64) -> u64 {
    let shares = shares.clamp(MIN_CPU_SHARES, MAX_CPU_SHARES);
    (1 + ((shares - MIN_CPU_SHARES) * 9999) / (MAX_CPU_SHARES - MIN_CPU_SHARES)).clamp(1, 10_000)
}

/// The CFS quota for `cpus`, in microseconds per [`CFS_PERIOD_US`]: at least 1 ms.
pub fn quota_us(cpus: f64) -> u64 {
    ((cpus * CFS_PERIOD_US as f64) as u64).max(MIN_CFS_QUOTA_US)
}

/// The control files (of the `cpu` cgroup) that set the limits for `cpus`,
/// with their values, in the order to write them.
pub fn limit_files(version: Version, cpus: f64, cfs_quota: bool) -> Vec<(&'static str, String)> {
    let shares = shares(cpus);
    let mut files = Vec::new();
    match version {
        Version::V1 => {
            files.push(("cpu.shares", shares.to_string()));
            if cfs_quota {
                files.push(("cpu.cfs_period_us", CFS_PERIOD_US.to_string()));
                files.push(("cpu.cfs_quota_us", quota_us(cpus).to_string()));
            }
        }
        Version::V2 => {
            files.push(("cpu.weight", weight(shares).to_string()));
            if cfs_quota {
                files.push(("cpu.max", format!("{} {CFS_PERIOD_US}", quota_us(cpus))));
            }
        }
    }
    files
}

/// Usage figures from v1 `cpuacct.stat` (ticks) and `cpu.stat`
/// (`throttled_time` in ns), or v2 `cpu.stat` (µs).
pub fn usage_figures(
    version: Version,
    cpuacct_stat: &HashMap<String, u64>,
    cpu_stat: &HashMap<String, u64>,
) -> Vec<(&'static str, f64)> {
    let mut figures = Vec::new();
    let mut put = |name: &'static str, value: Option<&u64>, scale: f64| {
        if let Some(&value) = value {
            figures.push((name, value as f64 / scale));
        }
    };
    match version {
        Version::V1 => {
            put("cpus_user_time_secs", cpuacct_stat.get("user"), USER_HZ);
            put("cpus_system_time_secs", cpuacct_stat.get("system"), USER_HZ);
            put("cpus_nr_periods", cpu_stat.get("nr_periods"), 1.0);
            put("cpus_nr_throttled", cpu_stat.get("nr_throttled"), 1.0);
            put(
                "cpus_throttled_time_secs",
                cpu_stat.get("throttled_time"),
                1e9,
            );
        }
        Version::V2 => {
            put("cpus_user_time_secs", cpu_stat.get("user_usec"), 1e6);
            put("cpus_system_time_secs", cpu_stat.get("system_usec"), 1e6);
            put("cpus_nr_periods", cpu_stat.get("nr_periods"), 1.0);
            put("cpus_nr_throttled", cpu_stat.get("nr_throttled"), 1.0);
            put(
                "cpus_throttled_time_secs",
                cpu_stat.get("throttled_usec"),
                1e6,
            );
        }
    }
    figures
}

/// One container's cgroups.
#[derive(Debug, Clone)]
struct Container {
    /// Its cgroup in the `cpu` hierarchy.
    cpu: PathBuf,
    /// Its cgroup in a separate v1 `cpuacct` hierarchy.
    cpuacct: Option<PathBuf>,
    /// The cpus the limits were set from, if any.
    cpus: Option<f64>,
}

impl Container {
    fn cgroups(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.cpu).chain(&self.cpuacct)
    }
}

/// The cgroups cpu isolator.
#[derive(Debug)]
pub struct CgroupsCpu {
    settings: Settings,
    cfs_quota: bool,
    cpu: Hierarchy,
    /// A v1 `cpuacct` hierarchy mounted apart from `cpu`.
    cpuacct: Option<Hierarchy>,
    containers: HashMap<String, Container>,
}

impl Drop for CgroupsCpu {
    fn drop(&mut self) {
        self.cpu.remove_root_if_empty(&self.settings.root);
        if let Some(cpuacct) = &self.cpuacct {
            cpuacct.remove_root_if_empty(&self.settings.root);
        }
    }
}

/// Parameters of the cpu module besides the common ones.
const CPU_PARAMETERS: &[&str] = &["cfs_quota"];

impl CgroupsCpu {
    /// Reads the parameters: the common ones and `cfs_quota`.
    pub fn parse_params(params: &Params) -> Result<(Settings, bool), ModuleError> {
        let settings = Settings::from_params(params, CPU_PARAMETERS)?;
        let cfs_quota = params.parse::<bool>("cfs_quota")?.unwrap_or(false);
        Ok((settings, cfs_quota))
    }

    fn hierarchies(&self) -> impl Iterator<Item = &Hierarchy> {
        std::iter::once(&self.cpu).chain(&self.cpuacct)
    }

    fn container(&self, container_id: &str) -> Result<&Container, ModuleError> {
        self.containers
            .get(container_id)
            .ok_or_else(|| ModuleError::failed(format!("unknown container '{container_id}'")))
    }

    fn write_limits(&self, container: &Container, cpus: f64) -> Result<(), ModuleError> {
        for (file, value) in limit_files(self.cpu.version, cpus, self.cfs_quota) {
            cgroup::write(&container.cpu, file, &value)?;
        }
        Ok(())
    }

    /// The cpus a recovered cgroup was limited to: the CFS quota when set,
    /// else (v1) the shares.
    fn read_back_cpus(&self, dir: &std::path::Path) -> Option<f64> {
        match self.cpu.version {
            Version::V1 => {
                let quota = cgroup::read(dir, "cpu.cfs_quota_us").ok()?;
                match quota.trim().parse::<i64>() {
                    Ok(quota) if quota > 0 => {
                        let period = cgroup::read_u64(dir, "cpu.cfs_period_us").ok()?;
                        Some(quota as f64 / period as f64)
                    }
                    _ => cgroup::read_u64(dir, "cpu.shares")
                        .ok()
                        .map(|s| s as f64 / CPU_SHARES_PER_CPU as f64),
                }
            }
            Version::V2 => {
                let max = cgroup::read(dir, "cpu.max").ok()?;
                let mut fields = max.split_whitespace();
                let quota: f64 = fields.next()?.parse().ok()?;
                let period: f64 = fields.next()?.parse().ok()?;
                Some(quota / period)
            }
        }
    }
}

impl IsolatorModule for CgroupsCpu {
    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let (settings, cfs_quota) = Self::parse_params(params)?;
        hierarchy::check_privileges()?;
        let cpu = Hierarchy::detect("cpu", &settings.hierarchy)?;
        let cpuacct = match cpu.version {
            Version::V1 => {
                let cpuacct = Hierarchy::detect("cpuacct", &settings.hierarchy)?;
                if cpuacct.version != Version::V1 {
                    return Err(ModuleError::unsupported(format!(
                        "the cpu controller is cgroup v1 ({}) but cpuacct is not",
                        cpu.mount.display()
                    )));
                }
                (cpuacct.mount != cpu.mount).then_some(cpuacct)
            }
            Version::V2 => None,
        };
        tracing::info!(
            cpu = %cpu.mount.display(),
            cpuacct = ?cpuacct.as_ref().map(|h| h.mount.display().to_string()),
            version = ?cpu.version,
            root = %settings.root,
            cfs_quota,
            "cgroups cpu isolator ready"
        );
        Ok(CgroupsCpu {
            settings,
            cfs_quota,
            cpu,
            cpuacct,
            containers: HashMap::new(),
        })
    }

    fn recover(&mut self, containers: Vec<ContainerState>) -> Result<(), ModuleError> {
        let root = self.settings.root.clone();
        for state in &containers {
            let id = state.container_id.as_str();
            if cgroup::check_container_id(id).is_err() {
                continue;
            }
            let cpu = self.cpu.cgroup(&root, id);
            if !cpu.is_dir() {
                tracing::warn!(container_id = id, cgroup = %cpu.display(), "recovered container has no cpu cgroup");
                continue;
            }
            let container = Container {
                cpus: self.read_back_cpus(&cpu),
                cpuacct: self.cpuacct.as_ref().map(|h| h.cgroup(&root, id)),
                cpu,
            };
            self.containers.insert(id.to_owned(), container);
        }
        let keep: Vec<&str> = containers.iter().map(|c| c.container_id.as_str()).collect();
        for hierarchy in self.hierarchies() {
            cgroup::remove_orphans(&hierarchy.root_dir(&root), &keep);
        }
        Ok(())
    }

    fn prepare(&mut self, config: &ContainerConfig) -> Result<LaunchSpec, ModuleError> {
        let id = config.container_id.as_str();
        cgroup::check_container_id(id)?;
        if self.containers.contains_key(id) {
            return Err(ModuleError::failed(format!(
                "container '{id}' is already prepared"
            )));
        }
        let root = &self.settings.root;
        self.cpu.ensure_root(root, "cpu")?;
        if let Some(cpuacct) = &self.cpuacct {
            cpuacct.ensure_root(root, "cpuacct")?;
        }
        let container = Container {
            cpu: self.cpu.cgroup(root, id),
            cpuacct: self.cpuacct.as_ref().map(|h| h.cgroup(root, id)),
            cpus: scalar(&config.resources, "cpus"),
        };
        let made = container
            .cgroups()
            .try_for_each(|dir| cgroup::create(dir))
            .and_then(|()| match container.cpus {
                Some(cpus) => self.write_limits(&container, cpus),
                None => {
                    tracing::warn!(container_id = id, "no cpus resource; cpu left unlimited");
                    Ok(())
                }
            });
        if let Err(e) = made {
            for dir in container.cgroups() {
                let _ = cgroup::remove(dir, cgroup::REMOVE_PATIENCE);
            }
            return Err(e);
        }
        tracing::debug!(container_id = id, cpus = ?container.cpus, "cpu cgroup prepared");
        self.containers.insert(id.to_owned(), container);
        Ok(crate::launch_spec())
    }

    fn isolate(&mut self, container_id: &str, pid: u32) -> Result<(), ModuleError> {
        let container = self.container(container_id)?;
        container
            .cgroups()
            .try_for_each(|dir| cgroup::add_process(dir, pid))
    }

    fn update(&mut self, container_id: &str, resources: Vec<Resource>) -> Result<(), ModuleError> {
        let container = self.container(container_id)?.clone();
        let Some(cpus) = scalar(&resources, "cpus") else {
            tracing::warn!(
                container_id,
                "update without a cpus resource; limits unchanged"
            );
            return Ok(());
        };
        self.write_limits(&container, cpus)?;
        if let Some(c) = self.containers.get_mut(container_id) {
            c.cpus = Some(cpus);
        }
        Ok(())
    }

    fn usage(&mut self, container_id: &str) -> Result<Vec<Statistic>, ModuleError> {
        let container = self.container(container_id)?;
        let cpu_stat = cgroup::read_keyed(&container.cpu, "cpu.stat")?;
        let cpuacct_stat = match self.cpu.version {
            Version::V1 => {
                let dir = container.cpuacct.as_ref().unwrap_or(&container.cpu);
                cgroup::read_keyed(dir, "cpuacct.stat")?
            }
            Version::V2 => HashMap::new(),
        };
        let limit = container.cpus.map(|cpus| ("cpus_limit", cpus));
        Ok(limit
            .into_iter()
            .chain(usage_figures(self.cpu.version, &cpuacct_stat, &cpu_stat))
            .map(|(name, value)| Statistic {
                name: name.into(),
                value,
            })
            .collect())
    }

    fn cleanup(&mut self, container_id: &str) -> Result<(), ModuleError> {
        if cgroup::check_container_id(container_id).is_err() {
            return Ok(());
        }
        let root = &self.settings.root;
        match self.containers.remove(container_id) {
            Some(container) => container
                .cgroups()
                .try_for_each(|dir| cgroup::remove(dir, cgroup::REMOVE_PATIENCE)),
            None => {
                // Not ours (or prepared before a restart and not recovered):
                // remove a leftover cgroup if there is one, never fail.
                for hierarchy in self.hierarchies() {
                    let dir = hierarchy.cgroup(root, container_id);
                    if let Err(e) = cgroup::remove(&dir, cgroup::REMOVE_PATIENCE) {
                        tracing::warn!(container_id, error = %e, "cleanup of an unknown container");
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(text: &str) -> HashMap<String, u64> {
        cgroup::parse_keyed(text)
    }

    fn params(entries: &[(&str, &str)]) -> Params {
        Params::new(entries.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn shares_follow_mesos() {
        assert_eq!(shares(1.0), 1024);
        assert_eq!(shares(0.5), 512);
        assert_eq!(shares(2.25), 2304);
        assert_eq!(shares(0.001), MIN_CPU_SHARES);
        assert_eq!(shares(0.0), MIN_CPU_SHARES);
    }

    #[test]
    fn weights_map_the_share_range_onto_1_to_10000() {
        assert_eq!(weight(2), 1);
        assert_eq!(weight(1024), 39);
        assert_eq!(weight(262_144), 10_000);
        assert_eq!(weight(1_000_000), 10_000);
        assert_eq!(weight(0), 1);
    }

    #[test]
    fn quotas_follow_mesos() {
        assert_eq!(quota_us(1.0), 100_000);
        assert_eq!(quota_us(0.25), 25_000);
        assert_eq!(quota_us(0.001), MIN_CFS_QUOTA_US);
    }

    #[test]
    fn limit_files_per_version() {
        let files = |v, q| limit_files(v, 1.5, q);
        let owned = |list: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            list.iter().map(|(f, v)| (*f, v.to_string())).collect()
        };
        assert_eq!(files(Version::V1, false), owned(&[("cpu.shares", "1536")]));
        assert_eq!(
            files(Version::V1, true),
            owned(&[
                ("cpu.shares", "1536"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "150000"),
            ])
        );
        assert_eq!(files(Version::V2, false), owned(&[("cpu.weight", "59")]));
        assert_eq!(
            files(Version::V2, true),
            owned(&[("cpu.weight", "59"), ("cpu.max", "150000 100000")])
        );
    }

    #[test]
    fn v1_usage_converts_ticks_and_nanoseconds() {
        let figures = usage_figures(
            Version::V1,
            &keyed("user 250\nsystem 50\n"),
            &keyed("nr_periods 10\nnr_throttled 3\nthrottled_time 1500000000\nnr_bursts 0\n"),
        );
        assert_eq!(
            figures,
            [
                ("cpus_user_time_secs", 2.5),
                ("cpus_system_time_secs", 0.5),
                ("cpus_nr_periods", 10.0),
                ("cpus_nr_throttled", 3.0),
                ("cpus_throttled_time_secs", 1.5),
            ]
        );
    }

    #[test]
    fn v2_usage_converts_microseconds_and_skips_absent_fields() {
        let figures = usage_figures(
            Version::V2,
            &HashMap::new(),
            &keyed("usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n"),
        );
        assert_eq!(
            figures,
            [("cpus_user_time_secs", 2.0), ("cpus_system_time_secs", 1.0)]
        );
    }

    #[test]
    fn parameters_are_checked_before_any_cgroup_is_touched() {
        let (settings, cfs_quota) = CgroupsCpu::parse_params(&params(&[])).unwrap();
        assert_eq!(settings.root, "corral");
        assert!(!cfs_quota);
        let (_, cfs_quota) = CgroupsCpu::parse_params(&params(&[("cfs_quota", "true")])).unwrap();
        assert!(cfs_quota);

        let host = corral_module_api::guest::null_host();
        let err = CgroupsCpu::new(&params(&[("quota", "1")]), &host).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown parameter 'quota' (known: root, hierarchy, cfs_quota)"),
            "{err}"
        );
        let err = CgroupsCpu::new(&params(&[("cfs_quota", "yes")]), &host).unwrap_err();
        assert!(
            err.to_string().starts_with("parameter 'cfs_quota' = 'yes'"),
            "{err}"
        );
    }
}
