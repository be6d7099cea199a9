//! The view of the cgroup filesystems a container gets with its own cgroup
//! namespace (issue 15, "Containment"): planned here from the helper's
//! `/proc/self/mountinfo`, made by the launch helper.
//!
//! A task that can write to a cgroup hierarchy's root `cgroup.procs` moves
//! itself out of its container's cgroups: out of its memory limit, out of
//! the freezer that destroy relies on. Inside the container's mount
//! namespace, therefore:
//!
//! 1. every cgroup mount (`cgroup`, `cgroup2`) and every mount at or below
//!    `/sys/fs/cgroup` (the `tmpfs` that holds the v1 mount points) is
//!    remounted read-only (this namespace's copy only; the host's stays as
//!    it is);
//! 2. every cgroup mount is replaced by the same hierarchy mounted afresh
//!    from inside the cgroup namespace, then made read-only: the kernel
//!    roots such a mount at the namespace's root, which is the container's
//!    own cgroup, so the task sees its own cgroup's files (limits, usage)
//!    at the usual paths and nothing above them, and even a task that
//!    makes it writable again reaches only its own cgroups. The host's
//!    mount is detached first (the kernel refuses the same filesystem
//!    twice on one mount point), and the new one is made read-write, then
//!    read-only on its own (its superblock is the host's, which is
//!    read-write). Where the fresh mount cannot be made the hierarchy is
//!    absent (an empty directory of the read-only `/sys/fs/cgroup`); where
//!    the host's mount cannot be detached, its read-only copy of step 1
//!    stays.

/// `/sys/fs/cgroup`: the mount points under it are the cgroup filesystem.
pub const CGROUP_DIR: &str = "/sys/fs/cgroup";

/// One step of the view, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewStep {
    /// Remount `target` read-only (bind remount: this mount only), keeping
    /// its `nosuid`, `nodev` and `noexec`.
    ReadOnly {
        target: String,
        nosuid: bool,
        nodev: bool,
        noexec: bool,
    },
    /// Detach the `depth` mounts stacked on `target`, mount the hierarchy
    /// `fstype` (`cgroup` with the v1 options `data`, or `cgroup2`) there
    /// from inside the cgroup namespace, then make that mount read-only.
    Fresh {
        target: String,
        fstype: String,
        data: Option<String>,
        depth: usize,
    },
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if let Some(Ok(n)) = field.get(i + 1..i + 4).map(|d| u8::from_str_radix(d, 8)) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The v1 options that select a hierarchy, from its super options: the
/// controllers, `name=`, `none` and the flags the hierarchy has (so the
/// kernel finds it as it is); `rw`/`ro` and `release_agent=` are dropped.
fn v1_options(super_options: &str) -> String {
    super_options
        .split(',')
        .filter(|o| !matches!(*o, "rw" | "ro" | "") && !o.starts_with("release_agent="))
        .collect::<Vec<_>>()
        .join(",")
}

fn under_cgroup_dir(target: &str) -> bool {
    target == CGROUP_DIR
        || target
            .strip_prefix(CGROUP_DIR)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The steps for `mountinfo` (the helper's own, in its new namespaces).
pub fn plan(mountinfo: &str) -> Vec<ViewStep> {
    let mut steps = Vec::new();
    let mut fresh = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut left = left.split_whitespace();
        let (Some(target), Some(options)) = (left.nth(4), left.next()) else {
            continue;
        };
        let mut right = right.split_whitespace();
        let (Some(fstype), Some(super_options)) = (right.next(), right.nth(1)) else {
            continue;
        };
        let target = unescape(target);
        let cgroup = fstype == "cgroup" || fstype == "cgroup2";
        if !cgroup && !under_cgroup_dir(&target) {
            continue;
        }
        let has = |o: &str| options.split(',').any(|x| x == o);
        steps.push(ViewStep::ReadOnly {
            target: target.clone(),
            nosuid: has("nosuid"),
            nodev: has("nodev"),
            noexec: has("noexec"),
        });
        if cgroup
            && !fresh
                .iter()
                .any(|s| matches!(s, ViewStep::Fresh { target: t, .. } if *t == target))
        {
            fresh.push(ViewStep::Fresh {
                target,
                fstype: fstype.to_owned(),
                data: (fstype == "cgroup").then(|| v1_options(super_options)),
                depth: 0,
            });
        }
    }
    // Every mount on a fresh step's target is detached first.
    let targets: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| Some(unescape(l.split_whitespace().nth(4)?)))
        .collect();
    for step in &mut fresh {
        if let ViewStep::Fresh { target, depth, .. } = step {
            *depth = targets.iter().filter(|t| *t == target).count();
        }
    }
    steps.extend(fresh);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
25 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup rw,relatime shared:3 - tmpfs tmpfs rw,mode=755
27 26 0:24 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:4 - cgroup cgroup rw,memory
28 26 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
29 26 0:26 / /sys/fs/cgroup/systemd rw,relatime shared:6 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
30 26 0:27 / /sys/fs/cgroup/unified rw,relatime shared:7 - cgroup2 cgroup2 rw,nsdelegate
31 22 0:28 / /srv/my\\040cgroups rw,relatime - cgroup cgroup rw,freezer";

    #[test]
    fn every_cgroup_mount_and_the_cgroup_dir_go_read_only_then_fresh() {
        let steps = plan(V1);
        let ro = |t: &str, s: bool| ViewStep::ReadOnly {
            target: t.to_owned(),
            nosuid: s,
            nodev: s,
            noexec: s,
        };
        let fresh = |t: &str, f: &str, d: Option<&str>| ViewStep::Fresh {
            target: t.to_owned(),
            fstype: f.to_owned(),
            data: d.map(str::to_owned),
            depth: 1,
        };
        assert_eq!(
            steps,
            vec![
                ro("/sys/fs/cgroup", false),
                ro("/sys/fs/cgroup/memory", true),
                ro("/sys/fs/cgroup/cpu,cpuacct", false),
                ro("/sys/fs/cgroup/systemd", false),
                ro("/sys/fs/cgroup/unified", false),
                ro("/srv/my cgroups", false),
                fresh("/sys/fs/cgroup/memory", "cgroup", Some("memory")),
                fresh("/sys/fs/cgroup/cpu,cpuacct", "cgroup", Some("cpu,cpuacct")),
                fresh(
                    "/sys/fs/cgroup/systemd",
                    "cgroup",
                    Some("xattr,name=systemd")
                ),
                fresh("/sys/fs/cgroup/unified", "cgroup2", None),
                fresh("/srv/my cgroups", "cgroup", Some("freezer")),
            ]
        );
    }

    #[test]
    fn a_v2_only_host_has_one_mount_and_other_mounts_are_left_alone() {
        let mountinfo = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
25 22 0:22 / /sys/fs/cgroupfoo rw - tmpfs tmpfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:3 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";
        assert_eq!(
            plan(mountinfo),
            vec![
                ViewStep::ReadOnly {
                    target: CGROUP_DIR.to_owned(),
                    nosuid: true,
                    nodev: true,
                    noexec: true
                },
                ViewStep::Fresh {
                    target: CGROUP_DIR.to_owned(),
                    fstype: "cgroup2".to_owned(),
                    data: None,
                    depth: 1
                },
            ]
        );
        assert!(plan("").is_empty());
    }

    #[test]
    fn mounts_stacked_on_a_cgroup_mount_point_are_all_detached() {
        let mountinfo = "\
27 26 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 27 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
        let steps = plan(mountinfo);
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert!(
            matches!(&steps[2], ViewStep::Fresh { depth: 2, data: Some(d), .. } if d == "memory"),
            "{steps:?}"
        );
    }
}
