//! `org_corral_isolator_namespaces_pid` (Mesos' `namespaces/pid`): every
//! container gets its own pid namespace and a fresh `/proc`.
//!
//! What a container sees: its own processes only (`ps`, `/proc`); pid 1 is
//! Corral's container init, which starts the executor as pid 2, reaps
//! orphans and passes termination signals on to the executor. Killing the
//! init (which the agent does to destroy the container) makes the kernel
//! kill every process in the namespace, `setsid` daemons included.
//!
//! The module only describes the container: a new pid namespace, a new
//! mount namespace (so the new `/proc` stays inside), and a `proc` mount on
//! `/proc` with `nosuid,noexec,nodev`. The agent's launch helper does the
//! syscalls. Requires root (the constructor refuses otherwise).
//!
//! Parameters: none.

use corral_module_api::{
    guest::{self, IsolatorModule, Params},
    isolator::{ContainerConfig, LaunchSpec, MountSpec},
    Host, ModuleError,
};

corral_module_api::export_modules![guest::isolator::<PidNamespace>(
    "org_corral_isolator_namespaces_pid",
    "runs each container in its own pid namespace with its own /proc (Mesos' namespaces/pid)",
)];

/// Linux `CLONE_NEWNS`.
pub const CLONE_NEWNS: u64 = 0x0002_0000;
/// Linux `CLONE_NEWPID`.
pub const CLONE_NEWPID: u64 = 0x2000_0000;
const MS_NOSUID: u64 = 2;
const MS_NODEV: u64 = 4;
const MS_NOEXEC: u64 = 8;

/// The pid namespace isolator. It keeps no state: the namespace goes away
/// with its last process.
#[derive(Debug, Default)]
pub struct PidNamespace;

/// Whether this process can create pid namespaces: it runs as root (`uid`
/// from `/proc/self/status`) and the kernel has them.
fn check_capability() -> Result<(), ModuleError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| ModuleError::unsupported(format!("cannot read /proc/self/status: {e}")))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if euid != "0" {
        return Err(ModuleError::unsupported(format!(
            "pid namespaces need root (effective uid is {euid})"
        )));
    }
    if !std::path::Path::new("/proc/self/ns/pid").exists() {
        return Err(ModuleError::unsupported(
            "the kernel has no pid namespaces (/proc/self/ns/pid is missing)",
        ));
    }
    Ok(())
}

impl PidNamespace {
    /// The launch spec for every container.
    pub fn launch_spec() -> LaunchSpec {
        LaunchSpec {
            namespaces: CLONE_NEWPID | CLONE_NEWNS,
            mounts: vec![MountSpec {
                source: Some("proc".into()).into(),
                target: "/proc".into(),
                fstype: Some("proc".into()).into(),
                flags: MS_NOSUID | MS_NODEV | MS_NOEXEC,
                data: None.into(),
            }]
            .into(),
            ..LaunchSpec::default()
        }
    }
}

impl IsolatorModule for PidNamespace {
    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        params.reject_unknown(&[])?;
        check_capability()?;
        tracing::info!("pid namespace isolator ready");
        Ok(PidNamespace)
    }

    fn prepare(&mut self, _config: &ContainerConfig) -> Result<LaunchSpec, ModuleError> {
        Ok(Self::launch_spec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_pid_and_mount_namespaces_and_a_fresh_proc() {
        let spec = PidNamespace::launch_spec();
        assert_eq!(spec.namespaces, CLONE_NEWPID | CLONE_NEWNS);
        assert_eq!(spec.mounts.len(), 1);
        let proc = &spec.mounts[0];
        assert_eq!(proc.target.as_str(), "/proc");
        assert_eq!(
            proc.fstype.as_ref().map(|s| s.as_str()).into_option(),
            Some("proc")
        );
        assert_eq!(proc.flags, MS_NOSUID | MS_NODEV | MS_NOEXEC);
    }

    #[test]
    fn parameters_are_refused_by_name() {
        let params = Params::new([("depth".to_owned(), "2".to_owned())]);
        let err = PidNamespace::new(&params, &guest::null_host()).unwrap_err();
        assert!(
            err.to_string().contains("unknown parameter 'depth'"),
            "{err}"
        );
    }
}
