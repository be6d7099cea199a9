//! Finding the cgroup hierarchy that carries a controller, and what differs
//! between cgroup v1 and v2 outside the controllers' own files.
//!
//! Detection reads `/proc/self/mountinfo`. A cgroup v1 mount (fstype
//! `cgroup`) whose super options name the controller wins; otherwise a
//! cgroup v2 mount (fstype `cgroup2`) whose `cgroup.controllers` lists it.
//! Only mounts at or below the `hierarchy` parameter are considered.

use std::{
    ffi::OsString,
    os::unix::ffi::OsStringExt,
    path::{Path, PathBuf},
};

use corral_module_api::ModuleError;

use crate::cgroup;

/// The cgroup interface a hierarchy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One hierarchy per controller (or group of controllers).
    V1,
    /// The unified hierarchy; controllers are enabled per subtree.
    V2,
}

/// The fields of one `/proc/self/mountinfo` line that detection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub super_options: Vec<String>,
}

/// Parses `/proc/self/mountinfo` text, skipping lines it cannot read.
///
/// A line is `id parent major:minor root mount_point options [optional...]
/// - fstype source super_options`; paths escape blanks and backslashes as
/// octal (`\040`).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let (mount, filesystem) = line.split_once(" - ")?;
    let mount_point = mount.split(' ').nth(4)?;
    let mut filesystem = filesystem.split(' ');
    let fstype = filesystem.next()?;
    let _source = filesystem.next()?;
    let super_options = filesystem.next().unwrap_or("");
    Some(MountEntry {
        mount_point: unescape(mount_point),
        fstype: fstype.to_owned(),
        super_options: super_options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Undoes the kernel's octal escapes (`\040` is a space).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Where a controller's cgroups live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub version: Version,
    /// The mount point; cgroups are directories below it.
    pub mount: PathBuf,
}

impl Hierarchy {
    /// Picks the hierarchy carrying `controller` among `mounts` at or below
    /// `under`: a v1 mount first, else a v2 mount for which
    /// `v2_controllers` (the contents of its `cgroup.controllers`) lists it.
    pub fn locate(
        mounts: &[MountEntry],
        controller: &str,
        under: &Path,
        v2_controllers: impl Fn(&Path) -> Option<String>,
    ) -> Option<Hierarchy> {
        let candidates = || mounts.iter().filter(|m| m.mount_point.starts_with(under));
        let v1 = candidates()
            .find(|m| m.fstype == "cgroup" && m.super_options.iter().any(|o| o == controller));
        if let Some(m) = v1 {
            return Some(Hierarchy {
                version: Version::V1,
                mount: m.mount_point.clone(),
            });
        }
        candidates()
            .filter(|m| m.fstype == "cgroup2")
            .find(|m| {
                v2_controllers(&m.mount_point)
                    .is_some_and(|list| list.split_whitespace().any(|c| c == controller))
            })
            .map(|m| Hierarchy {
                version: Version::V2,
                mount: m.mount_point.clone(),
            })
    }

    /// Finds the hierarchy carrying `controller` on this machine.
    pub fn detect(controller: &str, under: &Path) -> Result<Hierarchy, ModuleError> {
        let path = "/proc/self/mountinfo";
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModuleError::unsupported(format!("cannot read {path}")).with_cause(e))?;
        Hierarchy::locate(&parse_mountinfo(&text), controller, under, |mount| {
            std::fs::read_to_string(mount.join("cgroup.controllers")).ok()
        })
        .ok_or_else(|| {
            ModuleError::unsupported(format!(
                "no cgroup hierarchy under {} has the '{controller}' controller \
                 (no cgroup v1 mount with it in {path}, no cgroup2 mount listing it \
                 in cgroup.controllers)",
                under.display()
            ))
        })
    }

    /// The directory holding all of the module's cgroups.
    pub fn root_dir(&self, root: &str) -> PathBuf {
        self.mount.join(root)
    }

    /// The cgroup of one container.
    pub fn cgroup(&self, root: &str, container_id: &str) -> PathBuf {
        self.root_dir(root).join(container_id)
    }

    /// Removes the module's root cgroup if no container cgroup is left in it
    /// (when the module is dropped at agent shutdown).
    pub fn remove_root_if_empty(&self, root: &str) {
        let _ = std::fs::remove_dir(self.root_dir(root));
    }

    /// Creates the module's root cgroup if needed. On v2, also enables
    /// `controller` for every cgroup from the mount down to the root's
    /// children (`+controller` in each `cgroup.subtree_control`).
    pub fn ensure_root(&self, root: &str, controller: &str) -> Result<(), ModuleError> {
        match self.version {
            Version::V1 => {
                let dir = self.root_dir(root);
                std::fs::create_dir_all(&dir).map_err(|e| {
                    ModuleError::failed(format!("cannot create cgroup {}", dir.display()))
                        .with_cause(e)
                })
            }
            Version::V2 => {
                let mut dir = self.mount.clone();
                for component in Path::new(root).components() {
                    enable_controller(&dir, controller)?;
                    dir.push(component);
                    if let Err(e) = std::fs::create_dir(&dir) {
                        if e.kind() != std::io::ErrorKind::AlreadyExists {
                            return Err(ModuleError::failed(format!(
                                "cannot create cgroup {}",
                                dir.display()
                            ))
                            .with_cause(e));
                        }
                    }
                }
                enable_controller(&dir, controller)
            }
        }
    }
}

/// v2: makes `controller` available to the children of `dir`.
fn enable_controller(dir: &Path, controller: &str) -> Result<(), ModuleError> {
    let enabled = cgroup::read(dir, "cgroup.subtree_control")?;
    if enabled.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    cgroup::write(dir, "cgroup.subtree_control", &format!("+{controller}"))
}

/// Cgroups need root: fails unless the effective uid is 0.
pub fn check_privileges() -> Result<(), ModuleError> {
    let path = "/proc/self/status";
    let status = std::fs::read_to_string(path)
        .map_err(|e| ModuleError::unsupported(format!("cannot read {path}")).with_cause(e))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("unknown");
    if euid == "0" {
        Ok(())
    } else {
        Err(ModuleError::unsupported(format!(
            "cgroup isolation needs root (effective uid in {path} is {euid})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine: v1 with cpu and cpuacct mounted separately, plus an
    /// empty cgroup2 at `unified`.
    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A systemd distribution: the unified hierarchy only.
    const V2_ONLY: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    fn no_controllers(_: &Path) -> Option<String> {
        Some(String::new())
    }

    fn v2_controllers(_: &Path) -> Option<String> {
        Some("cpuset cpu io memory hugetlb pids rdma misc\n".to_owned())
    }

    fn locate(
        text: &str,
        controller: &str,
        list: fn(&Path) -> Option<String>,
    ) -> Option<Hierarchy> {
        Hierarchy::locate(
            &parse_mountinfo(text),
            controller,
            Path::new("/sys/fs/cgroup"),
            list,
        )
    }

    fn v1(mount: &str) -> Option<Hierarchy> {
        Some(Hierarchy {
            version: Version::V1,
            mount: PathBuf::from(mount),
        })
    }

    #[test]
    fn mountinfo_lines_give_mount_point_fstype_and_super_options() {
        let mounts = parse_mountinfo(V2_ONLY);
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[1].mount_point, Path::new("/sys/fs/cgroup"));
        assert_eq!(mounts[1].fstype, "cgroup2");
        assert_eq!(
            mounts[1].super_options,
            ["rw", "nsdelegate", "memory_recursiveprot"]
        );
        assert!(parse_mountinfo("garbage\n\n").is_empty());
    }

    #[test]
    fn escaped_mount_points_are_decoded() {
        let line = "50 31 0:40 / /mnt/my\\040cgroups\\134x rw - cgroup cgroup rw,memory";
        assert_eq!(
            parse_mountinfo(line)[0].mount_point,
            Path::new("/mnt/my cgroups\\x")
        );
    }

    #[test]
    fn this_machines_layout_uses_the_separate_v1_hierarchies() {
        assert_eq!(
            locate(HYBRID, "cpu", no_controllers),
            v1("/sys/fs/cgroup/cpu")
        );
        assert_eq!(
            locate(HYBRID, "cpuacct", no_controllers),
            v1("/sys/fs/cgroup/cpuacct")
        );
        assert_eq!(
            locate(HYBRID, "memory", no_controllers),
            v1("/sys/fs/cgroup/memory")
        );
        assert_eq!(locate(HYBRID, "io", no_controllers), None);
    }

    #[test]
    fn v1_wins_over_a_v2_mount_listing_the_same_controller() {
        assert_eq!(
            locate(HYBRID, "memory", v2_controllers),
            v1("/sys/fs/cgroup/memory")
        );
    }

    #[test]
    fn co_mounted_v1_controllers_share_a_mount() {
        let text = "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        assert_eq!(
            locate(text, "cpu", no_controllers),
            v1("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(
            locate(text, "cpuacct", no_controllers),
            v1("/sys/fs/cgroup/cpu,cpuacct")
        );
        // `cpuset` is not `cpu`.
        let cpuset = "34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n";
        assert_eq!(locate(cpuset, "cpu", no_controllers), None);
    }

    #[test]
    fn a_v2_only_layout_needs_the_controller_listed() {
        let expected = Some(Hierarchy {
            version: Version::V2,
            mount: PathBuf::from("/sys/fs/cgroup"),
        });
        assert_eq!(locate(V2_ONLY, "cpu", v2_controllers), expected);
        assert_eq!(locate(V2_ONLY, "memory", v2_controllers), expected);
        assert_eq!(locate(V2_ONLY, "cpuacct", v2_controllers), None);
        assert_eq!(locate(V2_ONLY, "cpu", no_controllers), None);
        assert_eq!(locate(V2_ONLY, "cpu", |_| None), None);
    }

    #[test]
    fn mounts_outside_the_hierarchy_parameter_are_ignored() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(
            Hierarchy::locate(&mounts, "cpu", Path::new("/cgroup"), no_controllers),
            None
        );
        assert_eq!(
            Hierarchy::locate(
                &mounts,
                "cpu",
                Path::new("/sys/fs/cgroup/cpu"),
                no_controllers
            ),
            v1("/sys/fs/cgroup/cpu")
        );
    }

    #[test]
    fn container_cgroups_live_under_the_root() {
        let h = v1("/sys/fs/cgroup/memory").unwrap();
        assert_eq!(
            h.cgroup("corral", "c1"),
            Path::new("/sys/fs/cgroup/memory/corral/c1")
        );
    }
}
