//! `org_corral_isolator_filesystem_shared` (Mesos' `filesystem/shared`):
//! each container gets a private mount namespace in which its volumes are
//! bind-mounted, for example a private `/tmp` backed by `<sandbox>/tmp`.
//!
//! Volumes come from the executor's `ContainerInfo` (type `MESOS`,
//! `volumes`; a command task's `ContainerInfo` is its executor's). A
//! container without volumes gets the defaults from the
//! `default_container_info` parameter (Mesos' `--default_container_info`),
//! a `ContainerInfo` in JSON:
//!
//! ```toml
//! parameters = { default_container_info = '{"type":"MESOS","volumes":[{"container_path":"/tmp","host_path":"tmp","mode":"RW"}]}' }
//! ```
//!
//! Rules, checked before anything is mounted (a violation fails the task
//! with the rule it broke, or refuses to start the agent for bad defaults):
//! `container_path` is absolute and exists on the host (containers cannot
//! create paths on the host); `host_path` is given, an absolute one exists,
//! a relative one is created inside the sandbox with the mode and owner of
//! the container path and has no `.` or `..`; no volume is nested in
//! another or lies inside the sandbox. `mode: RO` makes a read-only mount
//! (Mesos 0.21 ignored it).
//!
//! Unlike Mesos 0.21, a `/tmp` volume works when the agent's work dir (and so
//! the sandbox) is under `/tmp`: the sandbox is bound back onto its own path
//! inside the container right after `/tmp` is mounted.
//!
//! The agent's launch helper makes the mounts after marking `/` as a slave
//! mount, so nothing propagates back to the host; the mounts vanish with
//! the container's mount namespace. Requires root.

mod volumes;

use corral_module_api::{
    guest::{self, IsolatorModule, Params},
    isolator::{ContainerConfig, LaunchSpec, MountSpec},
    Host, ModuleError,
};

pub use volumes::{check_nesting, check_volume, parse_container_info, plan_mounts, Volume};

corral_module_api::export_modules![guest::isolator::<SharedFilesystem>(
    "org_corral_isolator_filesystem_shared",
    "bind-mounts each container's volumes (e.g. a private /tmp) in its own mount namespace (Mesos' filesystem/shared)",
)];

/// Linux `CLONE_NEWNS`.
pub const CLONE_NEWNS: u64 = 0x0002_0000;

/// The shared filesystem isolator and its default volumes.
#[derive(Debug, Clone, Default)]
pub struct SharedFilesystem {
    defaults: Vec<Volume>,
}

impl SharedFilesystem {
    /// Parses and checks the parameters, naming the bad one.
    pub fn from_params(params: &Params) -> Result<Self, ModuleError> {
        params.reject_unknown(&["default_container_info"])?;
        let defaults = match params.get("default_container_info") {
            None => Vec::new(),
            Some(json) => {
                let bad = |e: String| {
                    ModuleError::invalid_parameters(format!(
                        "parameter 'default_container_info': {e}"
                    ))
                };
                let list = parse_container_info(json).map_err(bad)?;
                list.iter().try_for_each(check_volume).map_err(bad)?;
                check_nesting(&list).map_err(bad)?;
                list
            }
        };
        Ok(SharedFilesystem { defaults })
    }

    /// The launch spec for a container with `volumes` (the defaults when
    /// empty) and its sandbox.
    pub fn spec_for(&self, volumes: &[Volume], sandbox: &str) -> Result<LaunchSpec, String> {
        let volumes = if volumes.is_empty() {
            &self.defaults
        } else {
            volumes
        };
        if volumes.is_empty() {
            return Ok(LaunchSpec::default());
        }
        let mounts = plan_mounts(volumes, std::path::Path::new(sandbox))?;
        Ok(LaunchSpec {
            namespaces: CLONE_NEWNS,
            mounts: mounts
                .into_iter()
                .map(|m| MountSpec {
                    source: Some(m.source.into()).into(),
                    target: m.target.into(),
                    fstype: None.into(),
                    flags: m.flags,
                    data: None.into(),
                })
                .collect(),
            ..LaunchSpec::default()
        })
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

impl IsolatorModule for SharedFilesystem {
    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let isolator = Self::from_params(params)?;
        if !is_root() {
            return Err(ModuleError::unsupported(
                "bind mounts in a private mount namespace need root",
            ));
        }
        tracing::info!(
            default_volumes = isolator.defaults.len(),
            "shared filesystem isolator ready"
        );
        Ok(isolator)
    }

    fn prepare(&mut self, config: &ContainerConfig) -> Result<LaunchSpec, ModuleError> {
        let volumes: Vec<Volume> = config
            .volumes
            .iter()
            .map(|v| Volume {
                container_path: v.container_path.to_string(),
                host_path: v.host_path.to_string(),
                read_only: v.read_only,
            })
            .collect();
        self.spec_for(&volumes, &config.sandbox)
            .map_err(|e| ModuleError::failed(format!("invalid volume: {e}")))
    }
}

#[cfg(test)]
mod tests;
