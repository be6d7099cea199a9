//! `org_corral_isolator_cgroups_mem` (Mesos' `cgroups/mem`): a memory limit
//! from the container's `mem`, the OOM condition reported as a limitation,
//! and memory usage.
//!
//! On cgroup v1 the kernel's OOM killer is disabled for the container
//! (`memory.oom_control` = 1): at the limit its processes stall with
//! `under_oom 1` instead of dying one by one, and the agent, told through
//! the limitation, destroys the whole container. cgroup v2 cannot stall:
//! the kernel kills, and `oom_kill` in `memory.events` reports it.
//!
//! One watcher thread per instance polls the watched containers every
//! 100 ms; it stops when the instance is dropped.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use corral_module_api::{
    guest::{IsolatorModule, Params},
    isolator::{ContainerConfig, ContainerState, LaunchSpec, Limitation, Notifier, Statistic},
    Host, ModuleError, RStr, Resource,
};

use crate::{
    cgroup,
    hierarchy::{self, Hierarchy, Version},
    settings::{scalar, Settings},
};

/// Bytes in the megabyte of Mesos' `mem` resource.
pub const MB: u64 = 1024 * 1024;
/// The smallest limit (Mesos' `MIN_MEMORY`, 32 MB).
pub const MIN_MEMORY_BYTES: u64 = 32 * MB;
/// `mesos.v1.TaskStatus.Reason` `REASON_CONTAINER_LIMITATION_MEMORY`.
pub const REASON_CONTAINER_LIMITATION_MEMORY: i32 = 8;
/// How often the watcher looks for an OOM.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// v1 reports "no limit" as a huge number (`PAGE_COUNTER_MAX` pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// The limit for `mem` megabytes: at least [`MIN_MEMORY_BYTES`].
pub fn limit_bytes(mem_mb: f64) -> u64 {
    ((mem_mb * MB as f64) as u64).max(MIN_MEMORY_BYTES)
}

/// The control files that set a `bytes` limit, with their values, in order.
/// (v1's `memory.oom_control` is written once, at prepare.)
pub fn limit_files(version: Version, bytes: u64) -> Vec<(&'static str, String)> {
    match version {
        Version::V1 => vec![
            ("memory.limit_in_bytes", bytes.to_string()),
            ("memory.soft_limit_in_bytes", bytes.to_string()),
        ],
        Version::V2 => vec![("memory.max", bytes.to_string())],
    }
}

/// Whether the cgroup hit its limit: v1 `memory.oom_control` says
/// `under_oom 1` (or counts an `oom_kill`), v2 `memory.events` counts an
/// `oom_kill`. `text` is that file.
pub fn oom_reported(version: Version, text: &str) -> bool {
    let fields = cgroup::parse_keyed(text);
    let kills = fields.get("oom_kill").copied().unwrap_or(0);
    match version {
        Version::V1 => fields.get("under_oom") == Some(&1) || kills > 0,
        Version::V2 => kills > 0,
    }
}

/// Bytes as Mesos prints them in limitation messages (`64MB`).
pub fn format_mb(bytes: u64) -> String {
    let whole = bytes / MB;
    if whole * MB == bytes {
        format!("{whole}MB")
    } else {
        let mb = format!("{:.2}", bytes as f64 / MB as f64);
        format!("{}MB", mb.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The limitation reported when a container with `limit` bytes (if it had
/// one) ran out of memory, having used at most `max_used` bytes.
pub fn limitation(limit: Option<u64>, max_used: Option<u64>) -> Limitation {
    let requested = limit.map_or_else(|| "unlimited".to_owned(), format_mb);
    let used = max_used.map_or_else(|| "unknown".to_owned(), format_mb);
    Limitation {
        resources: limit
            .map(|bytes| Resource::scalar("mem", bytes as f64 / MB as f64))
            .into_iter()
            .collect(),
        message: format!("Memory limit exceeded: Requested: {requested} Maximum Used: {used}")
            .into(),
        reason: REASON_CONTAINER_LIMITATION_MEMORY,
    }
}

/// Usage figures from `memory.stat` (v1: the hierarchical `total_*` lines).
pub fn usage_figures(version: Version, stat: &HashMap<String, u64>) -> Vec<(&'static str, f64)> {
    let (rss, file, mapped) = match version {
        Version::V1 => ("total_rss", "total_cache", "total_mapped_file"),
        Version::V2 => ("anon", "file", "file_mapped"),
    };
    [
        ("mem_rss_bytes", rss),
        ("mem_file_bytes", file),
        ("mem_anon_bytes", rss),
        ("mem_mapped_file_bytes", mapped),
    ]
    .into_iter()
    .filter_map(|(name, key)| stat.get(key).map(|&v| (name, v as f64)))
    .collect()
}

/// The most the cgroup has used: v1 `memory.max_usage_in_bytes`, v2
/// `memory.peak` (kernel 5.19+) or else `memory.current`.
fn max_used(version: Version, dir: &Path) -> Option<u64> {
    match version {
        Version::V1 => cgroup::read_u64(dir, "memory.max_usage_in_bytes").ok(),
        Version::V2 => cgroup::read_u64(dir, "memory.peak")
            .or_else(|_| cgroup::read_u64(dir, "memory.current"))
            .ok(),
    }
}

/// The file [`oom_reported`] reads.
fn oom_file(version: Version) -> &'static str {
    match version {
        Version::V1 => "memory.oom_control",
        Version::V2 => "memory.events",
    }
}

/// One container.
struct Container {
    cgroup: PathBuf,
    /// The limit in bytes, if one was set.
    limit: Option<u64>,
    /// Set by `watch`; taken by the watcher when it reports the OOM.
    notifier: Option<Notifier>,
    /// The OOM was reported (at most once per container).
    reported: bool,
}

/// What the instance and its watcher thread share.
struct Shared {
    containers: Mutex<HashMap<String, Container>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn containers(&self) -> MutexGuard<'_, HashMap<String, Container>> {
        lock(&self.containers)
    }

    /// Sleeps one poll interval; `false` once the instance is dropped.
    fn pause(&self) -> bool {
        let stop = lock(&self.stop);
        let (stop, _) = self
            .wake
            .wait_timeout_while(stop, POLL_INTERVAL, |stop| !*stop)
            .unwrap_or_else(PoisonError::into_inner);
        !*stop
    }

    /// The watcher thread: reports each watched container's OOM once. The
    /// host's notifier is called without holding any lock.
    fn watch_loop(&self, version: Version) {
        while self.pause() {
            let watched: Vec<(String, PathBuf)> = self
                .containers()
                .iter()
                .filter(|(_, c)| c.notifier.is_some() && !c.reported)
                .map(|(id, c)| (id.clone(), c.cgroup.clone()))
                .collect();
            for (id, dir) in watched {
                let hit = cgroup::read(&dir, oom_file(version))
                    .is_ok_and(|text| oom_reported(version, &text));
                if !hit {
                    continue;
                }
                let claimed = match self.containers().get_mut(&id) {
                    Some(c) if !c.reported => {
                        c.reported = true;
                        c.notifier.take().map(|n| (n, c.limit))
                    }
                    _ => None,
                };
                let Some((notifier, limit)) = claimed else {
                    continue;
                };
                let limitation = limitation(limit, max_used(version, &dir));
                tracing::warn!(
                    container_id = %id,
                    cgroup = %dir.display(),
                    message = %limitation.message,
                    "container reached its memory limit"
                );
                notifier.notify(RStr::from(id.as_str()), &limitation);
            }
        }
    }
}

/// The cgroups memory isolator.
pub struct CgroupsMem {
    settings: Settings,
    hierarchy: Hierarchy,
    shared: Arc<Shared>,
    watcher: Option<JoinHandle<()>>,
}

impl fmt::Debug for CgroupsMem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CgroupsMem")
            .field("settings", &self.settings)
            .field("hierarchy", &self.hierarchy)
            .field("containers", &self.shared.containers().len())
            .field("watching", &self.watcher.is_some())
            .finish()
    }
}

impl Drop for CgroupsMem {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        self.hierarchy.remove_root_if_empty(&self.settings.root);
    }
}

impl CgroupsMem {
    /// Reads the parameters (`root`, `hierarchy`).
    pub fn parse_params(params: &Params) -> Result<Settings, ModuleError> {
        Settings::from_params(params, &[])
    }

    fn with_container<T>(
        &self,
        container_id: &str,
        f: impl FnOnce(&mut Container) -> T,
    ) -> Result<T, ModuleError> {
        self.shared
            .containers()
            .get_mut(container_id)
            .map(f)
            .ok_or_else(|| ModuleError::failed(format!("unknown container '{container_id}'")))
    }

    /// The limit in a recovered cgroup, `None` when unlimited.
    fn read_back_limit(&self, dir: &Path) -> Option<u64> {
        match self.hierarchy.version {
            Version::V1 => cgroup::read_u64(dir, "memory.limit_in_bytes")
                .ok()
                .filter(|&bytes| bytes < V1_UNLIMITED),
            Version::V2 => cgroup::read_u64(dir, "memory.max").ok(),
        }
    }

    /// Sets the limit; on v1 a limit below what the cgroup uses and cannot
    /// reclaim is refused by the kernel (`EBUSY`), reported with the usage.
    fn write_limit(&self, container_id: &str, dir: &Path, bytes: u64) -> Result<(), ModuleError> {
        for (file, value) in limit_files(self.hierarchy.version, bytes) {
            cgroup::write(dir, file, &value).map_err(|e| {
                let usage_file = match self.hierarchy.version {
                    Version::V1 => "memory.usage_in_bytes",
                    Version::V2 => "memory.current",
                };
                match cgroup::read_u64(dir, usage_file) {
                    Ok(usage) if usage > bytes => ModuleError::failed(format!(
                        "cannot limit container '{container_id}' to {} (uses {} in {})",
                        format_mb(bytes),
                        format_mb(usage),
                        dir.join(usage_file).display()
                    ))
                    .with_cause(e),
                    _ => e,
                }
            })?;
        }
        Ok(())
    }

    fn start_watcher(&mut self) -> Result<(), ModuleError> {
        if self.watcher.is_some() {
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        let version = self.hierarchy.version;
        let handle = std::thread::Builder::new()
            .name("corral-mem-oom".to_owned())
            .spawn(move || shared.watch_loop(version))
            .map_err(|e| {
                ModuleError::failed("cannot start the memory watcher thread").with_cause(e)
            })?;
        self.watcher = Some(handle);
        Ok(())
    }
}

impl IsolatorModule for CgroupsMem {
    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let settings = Self::parse_params(params)?;
        hierarchy::check_privileges()?;
        let hierarchy = Hierarchy::detect("memory", &settings.hierarchy)?;
        tracing::info!(
            memory = %hierarchy.mount.display(),
            version = ?hierarchy.version,
            root = %settings.root,
            "cgroups memory isolator ready"
        );
        Ok(CgroupsMem {
            settings,
            hierarchy,
            shared: Arc::new(Shared {
                containers: Mutex::new(HashMap::new()),
                stop: Mutex::new(false),
                wake: Condvar::new(),
            }),
            watcher: None,
        })
    }

    fn recover(&mut self, containers: Vec<ContainerState>) -> Result<(), ModuleError> {
        let root = &self.settings.root;
        for state in &containers {
            let id = state.container_id.as_str();
            if cgroup::check_container_id(id).is_err() {
                continue;
            }
            let dir = self.hierarchy.cgroup(root, id);
            if !dir.is_dir() {
                tracing::warn!(container_id = id, cgroup = %dir.display(), "recovered container has no memory cgroup");
                continue;
            }
            let container = Container {
                limit: self.read_back_limit(&dir),
                cgroup: dir,
                notifier: None,
                reported: false,
            };
            self.shared.containers().insert(id.to_owned(), container);
        }
        let keep: Vec<&str> = containers.iter().map(|c| c.container_id.as_str()).collect();
        cgroup::remove_orphans(&self.hierarchy.root_dir(root), &keep);
        Ok(())
    }

    fn prepare(&mut self, config: &ContainerConfig) -> Result<LaunchSpec, ModuleError> {
        let id = config.container_id.as_str();
        cgroup::check_container_id(id)?;
        if self.shared.containers().contains_key(id) {
            return Err(ModuleError::failed(format!(
                "container '{id}' is already prepared"
            )));
        }
        let root = &self.settings.root;
        self.hierarchy.ensure_root(root, "memory")?;
        let dir = self.hierarchy.cgroup(root, id);
        let limit = scalar(&config.resources, "mem").map(limit_bytes);
        cgroup::create(&dir)?;
        let configured = (|| {
            if self.hierarchy.version == Version::V1 {
                cgroup::write(&dir, "memory.oom_control", "1")?;
            }
            match limit {
                Some(bytes) => self.write_limit(id, &dir, bytes),
                None => {
                    tracing::warn!(container_id = id, "no mem resource; memory left unlimited");
                    Ok(())
                }
            }
        })();
        if let Err(e) = configured {
            let _ = cgroup::remove(&dir, cgroup::REMOVE_PATIENCE);
            return Err(e);
        }
        tracing::debug!(container_id = id, limit = ?limit, "memory cgroup prepared");
        self.shared.containers().insert(
            id.to_owned(),
            Container {
                cgroup: dir,
                limit,
                notifier: None,
                reported: false,
            },
        );
        Ok(crate::launch_spec())
    }

    fn isolate(&mut self, container_id: &str, pid: u32) -> Result<(), ModuleError> {
        let dir = self.with_container(container_id, |c| c.cgroup.clone())?;
        cgroup::add_process(&dir, pid)
    }

    fn watch(&mut self, container_id: &str, notifier: Notifier) -> Result<(), ModuleError> {
        self.with_container(container_id, |c| {
            if !c.reported {
                c.notifier = Some(notifier);
            }
        })?;
        self.start_watcher()
    }

    fn update(&mut self, container_id: &str, resources: Vec<Resource>) -> Result<(), ModuleError> {
        let dir = self.with_container(container_id, |c| c.cgroup.clone())?;
        let Some(mem) = scalar(&resources, "mem") else {
            tracing::warn!(
                container_id,
                "update without a mem resource; limit unchanged"
            );
            return Ok(());
        };
        let bytes = limit_bytes(mem);
        self.write_limit(container_id, &dir, bytes)?;
        self.with_container(container_id, |c| c.limit = Some(bytes))
    }

    fn usage(&mut self, container_id: &str) -> Result<Vec<Statistic>, ModuleError> {
        let (dir, limit) = self.with_container(container_id, |c| (c.cgroup.clone(), c.limit))?;
        let stat = cgroup::read_keyed(&dir, "memory.stat")?;
        let limit = limit.map(|bytes| ("mem_limit_bytes", bytes as f64));
        Ok(limit
            .into_iter()
            .chain(usage_figures(self.hierarchy.version, &stat))
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
        let known = self.shared.containers().remove(container_id);
        let dir = self.hierarchy.cgroup(&self.settings.root, container_id);
        match (known, cgroup::remove(&dir, cgroup::REMOVE_PATIENCE)) {
            (Some(_), result) => result,
            (None, Err(e)) => {
                tracing::warn!(container_id, error = %e, "cleanup of an unknown container");
                Ok(())
            }
            (None, Ok(())) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::types::ResourceValue;

    #[test]
    fn limits_have_the_mesos_floor() {
        assert_eq!(limit_bytes(64.0), 64 * MB);
        assert_eq!(limit_bytes(1.5 * 1024.0), 1536 * MB);
        assert_eq!(limit_bytes(16.0), MIN_MEMORY_BYTES);
        assert_eq!(limit_bytes(0.0), MIN_MEMORY_BYTES);
    }

    #[test]
    fn limit_files_per_version() {
        assert_eq!(
            limit_files(Version::V1, 64 * MB),
            [
                ("memory.limit_in_bytes", "67108864".to_owned()),
                ("memory.soft_limit_in_bytes", "67108864".to_owned()),
            ]
        );
        assert_eq!(
            limit_files(Version::V2, 64 * MB),
            [("memory.max", "67108864".to_owned())]
        );
    }

    #[test]
    fn oom_is_under_oom_on_v1_and_oom_kill_on_v2() {
        assert!(!oom_reported(
            Version::V1,
            "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n"
        ));
        assert!(oom_reported(
            Version::V1,
            "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n"
        ));
        assert!(!oom_reported(
            Version::V2,
            "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n"
        ));
        assert!(oom_reported(
            Version::V2,
            "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"
        ));
    }

    #[test]
    fn the_limitation_names_the_limit_and_the_peak() {
        let l = limitation(Some(64 * MB), Some(64 * MB));
        assert_eq!(
            l.message.as_str(),
            "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"
        );
        assert_eq!(l.reason, 8);
        assert_eq!(l.resources.len(), 1);
        assert_eq!(l.resources[0].name.as_str(), "mem");
        assert_eq!(l.resources[0].value, ResourceValue::Scalar(64.0));

        let l = limitation(Some(limit_bytes(100.5)), Some(3 * MB / 2));
        assert_eq!(
            l.message.as_str(),
            "Memory limit exceeded: Requested: 100.5MB Maximum Used: 1.5MB"
        );
        let l = limitation(None, None);
        assert_eq!(
            l.message.as_str(),
            "Memory limit exceeded: Requested: unlimited Maximum Used: unknown"
        );
        assert!(l.resources.is_empty());
    }

    #[test]
    fn usage_names_follow_resource_statistics() {
        let v1 = cgroup::parse_keyed(
            "cache 1\nrss 2\ntotal_cache 4096\ntotal_rss 8192\ntotal_mapped_file 1024\n",
        );
        assert_eq!(
            usage_figures(Version::V1, &v1),
            [
                ("mem_rss_bytes", 8192.0),
                ("mem_file_bytes", 4096.0),
                ("mem_anon_bytes", 8192.0),
                ("mem_mapped_file_bytes", 1024.0),
            ]
        );
        let v2 = cgroup::parse_keyed("anon 100\nfile 200\nkernel 5\n");
        assert_eq!(
            usage_figures(Version::V2, &v2),
            [
                ("mem_rss_bytes", 100.0),
                ("mem_file_bytes", 200.0),
                ("mem_anon_bytes", 100.0),
            ]
        );
    }

    #[test]
    fn unknown_parameters_are_refused_before_any_cgroup_is_touched() {
        let params = Params::new([("cfs_quota".to_owned(), "true".to_owned())]);
        let err = CgroupsMem::new(&params, &corral_module_api::guest::null_host()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown parameter 'cfs_quota' (known: root, hierarchy)"
        );
    }
}
