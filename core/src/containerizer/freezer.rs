//! The freezer cgroup (v1) around every container, as Mesos' Linux launcher
//! keeps one: it holds every process the container ever started, whatever
//! session or process group they moved to, so destroying a container
//! without its own pid namespace still reaches `setsid` daemons: freeze,
//! kill everything, thaw.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::domain::ids::{path_under, IdKind, Part, PathError};

/// How long a freeze may take before the processes are killed anyway.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long removing a cgroup waits for its last processes to go.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why there is no freezer, or a container's cgroup could not be made,
/// joined or removed; each names the cgroup (or file) involved.
#[derive(Debug, thiserror::Error)]
pub enum FreezerError {
    #[error("cannot read /proc/self/mountinfo: {0}")]
    Mountinfo(#[source] std::io::Error),
    #[error("no cgroup v1 freezer hierarchy is mounted")]
    NotMounted,
    #[error("cannot create {}: {source}", cgroup.display())]
    Create {
        cgroup: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot move pid {pid} into {}: {source}", cgroup.display())]
    Join {
        cgroup: PathBuf,
        pid: u32,
        source: std::io::Error,
    },
    #[error("cannot remove {}: {source}", cgroup.display())]
    Remove {
        cgroup: PathBuf,
        source: std::io::Error,
    },
    /// The container id cannot name a cgroup under the root: refused
    /// before anything is made.
    #[error("no freezer cgroup for it: {0}")]
    Name(#[from] PathError),
}

impl FreezerError {
    /// The cgroup the error is about, when it is about one.
    pub fn cgroup(&self) -> Option<&Path> {
        match self {
            FreezerError::Mountinfo(_) | FreezerError::NotMounted | FreezerError::Name(_) => None,
            FreezerError::Create { cgroup, .. }
            | FreezerError::Join { cgroup, .. }
            | FreezerError::Remove { cgroup, .. } => Some(cgroup),
        }
    }
}

/// Containers' freezer cgroups under `<mount>/<root>`.
#[derive(Debug, Clone)]
pub struct Freezer {
    base: PathBuf,
}

/// The mount point of the v1 freezer hierarchy, from `/proc/self/mountinfo`.
fn freezer_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split_whitespace();
        let (fstype, options) = (right.next()?, right.nth(1)?);
        let mount_point = left.split_whitespace().nth(4)?;
        (fstype == "cgroup" && options.split(',').any(|o| o == "freezer"))
            .then(|| PathBuf::from(mount_point))
    })
}

impl Freezer {
    /// The freezer under cgroup `root`, when this machine has a v1 freezer
    /// hierarchy this process may write; otherwise why not.
    pub fn detect(root: &str) -> Result<Freezer, FreezerError> {
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(FreezerError::Mountinfo)?;
        let mount = freezer_mount(&mountinfo).ok_or(FreezerError::NotMounted)?;
        let base = mount.join(root);
        std::fs::create_dir_all(&base).map_err(|source| FreezerError::Create {
            cgroup: base.clone(),
            source,
        })?;
        Ok(Freezer { base })
    }

    /// Destroys every container cgroup not in `keep` (containers of an
    /// earlier run of the agent that nobody will take back), as Mesos'
    /// launcher does on recovery.
    pub fn destroy_orphans(&self, keep: &[&str]) {
        let Ok(entries) = std::fs::read_dir(&self.base) else {
            return;
        };
        for entry in entries.flatten().filter(|e| e.path().is_dir()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep.contains(&name.as_str()) {
                continue;
            }
            tracing::warn!(container_id = %name, "destroying an orphan container left by an earlier run");
            self.kill_all(&name);
            if let Err(e) = self.remove(&name) {
                tracing::error!(container_id = %name, error = %e, "cannot remove an orphan container");
            }
        }
    }

    /// Removes `<root>` when no container cgroup is left in it (at agent
    /// shutdown; a root still holding containers stays).
    pub fn remove_root_if_empty(&self) {
        let _ = std::fs::remove_dir(&self.base);
    }

    /// `<freezer mount>/<root>`.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// `<base>/<container_id>`, refused unless the id is a plain name.
    fn cgroup(&self, container_id: &str) -> Result<PathBuf, PathError> {
        path_under(&self.base, &[Part::Id(IdKind::Container, container_id)])
    }

    /// Puts `pid` (the container's first process, not yet released) into
    /// the container's cgroup.
    pub fn add(&self, container_id: &str, pid: u32) -> Result<(), FreezerError> {
        let cgroup = self.cgroup(container_id)?;
        if let Err(source) = std::fs::create_dir_all(&cgroup) {
            return Err(FreezerError::Create { cgroup, source });
        }
        std::fs::write(cgroup.join("cgroup.procs"), pid.to_string()).map_err(|source| {
            FreezerError::Join {
                cgroup,
                pid,
                source,
            }
        })
    }

    /// Freezes the container, kills every process in it, and thaws it so
    /// the kills take effect.
    pub fn kill_all(&self, container_id: &str) {
        let cgroup = match self.cgroup(container_id) {
            Ok(cgroup) => cgroup,
            Err(e) => {
                tracing::error!(error = %e, "not killing through the freezer");
                return;
            }
        };
        if !cgroup.is_dir() {
            return;
        }
        let state = cgroup.join("freezer.state");
        let _ = std::fs::write(&state, "FROZEN");
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        while std::fs::read_to_string(&state).is_ok_and(|s| s.trim() == "FREEZING")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        for pid in procs(&cgroup) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::fs::write(&state, "THAWED");
    }

    /// Removes the container's cgroup once its processes are gone (killing
    /// stragglers); succeeds when there is none.
    pub fn remove(&self, container_id: &str) -> Result<(), FreezerError> {
        let cgroup = self.cgroup(container_id)?;
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        loop {
            match std::fs::remove_dir(&cgroup) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(source) if Instant::now() >= deadline => {
                    return Err(FreezerError::Remove { cgroup, source })
                }
                Err(_) => {
                    if !procs(&cgroup).is_empty() {
                        self.kill_all(container_id);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn procs(cgroup: &Path) -> Vec<i32> {
    std::fs::read_to_string(cgroup.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_v1_freezer_among_the_mounts() {
        let mountinfo = "\
30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
35 25 0:31 / /sys/fs/cgroup/freezer rw,relatime shared:14 - cgroup cgroup rw,freezer
38 25 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
        assert_eq!(
            freezer_mount(mountinfo),
            Some(PathBuf::from("/sys/fs/cgroup/freezer"))
        );
        let v2_only = "38 25 0:34 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw";
        assert_eq!(freezer_mount(v2_only), None);
    }

    #[test]
    fn a_cgroup_that_cannot_be_made_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the root should be: no cgroup can be made under it.
        let base = dir.path().join("not-a-hierarchy");
        std::fs::write(&base, "").unwrap();
        let freezer = Freezer { base: base.clone() };
        let error = freezer.add("c1", 1).unwrap_err();
        assert!(matches!(error, FreezerError::Create { .. }), "{error:?}");
        assert_eq!(error.cgroup(), Some(base.join("c1").as_path()));
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot create {}: ", base.join("c1").display())),
            "{error}"
        );
    }

    #[test]
    fn a_container_id_that_is_not_a_plain_name_makes_no_cgroup() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("root");
        std::fs::create_dir(&base).unwrap();
        let freezer = Freezer { base: base.clone() };
        for id in ["..", "../escape", "/tmp/escape", "", "a\0b"] {
            let error = freezer.add(id, 1).unwrap_err();
            assert!(matches!(error, FreezerError::Name(_)), "{id:?}: {error:?}");
            assert!(error.to_string().contains("container id"), "{error}");
            assert!(matches!(freezer.remove(id), Err(FreezerError::Name(_))));
            freezer.kill_all(id);
        }
        assert!(!dir.path().join("escape").exists());
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
    }
}
