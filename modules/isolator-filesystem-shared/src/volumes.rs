//! Volumes: parsing Mesos' `ContainerInfo` JSON, the validation rules, and
//! the mounts that realise them.

use std::{
    os::unix::fs::{chown, MetadataExt, PermissionsExt},
    path::{Component, Path, PathBuf},
};

/// Linux `MS_RDONLY`, `MS_BIND`, `MS_REC`.
pub const MS_RDONLY: u64 = 1;
pub const MS_BIND: u64 = 4096;
pub const MS_REC: u64 = 16384;

/// A volume: `container_path` inside the container is `host_path` on the
/// host (relative host paths live in the sandbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub container_path: String,
    pub host_path: String,
    pub read_only: bool,
}

/// One bind mount to make: `source` (relative: to the sandbox) on `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: String,
    pub target: String,
    pub flags: u64,
}

/// Parses a Mesos `ContainerInfo` in JSON (`{"type": "MESOS", "volumes":
/// [{"container_path": "/tmp", "host_path": "tmp", "mode": "RW"}]}`).
pub fn parse_container_info(json: &str) -> Result<Vec<Volume>, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    match value.get("type").and_then(|t| t.as_str()) {
        None | Some("MESOS") => {}
        Some(other) => return Err(format!("type '{other}' is not supported (only MESOS)")),
    }
    let Some(list) = value.get("volumes") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| "'volumes' is not an array".to_owned())?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let text = |key: &str| v.get(key).and_then(|x| x.as_str()).map(str::to_owned);
            let container_path = text("container_path")
                .ok_or_else(|| format!("volumes[{i}]: no 'container_path'"))?;
            let read_only = match text("mode").as_deref() {
                None | Some("RW") => false,
                Some("RO") => true,
                Some(other) => {
                    return Err(format!("volumes[{i}]: mode '{other}' is neither RW nor RO"))
                }
            };
            Ok(Volume {
                container_path,
                host_path: text("host_path").unwrap_or_default(),
                read_only,
            })
        })
        .collect()
}

/// The rules that hold for a volume on its own, wherever the sandbox is.
pub fn check_volume(volume: &Volume) -> Result<(), String> {
    let container = Path::new(&volume.container_path);
    if !container.is_absolute() {
        return Err(format!(
            "container_path '{}' is not absolute",
            volume.container_path
        ));
    }
    // Containers may not create paths on the host's filesystem.
    if !container.exists() {
        return Err(format!(
            "container_path '{}' does not exist on the host",
            volume.container_path
        ));
    }
    if volume.host_path.is_empty() {
        return Err(format!(
            "volume for '{}' has no host_path",
            volume.container_path
        ));
    }
    let host = Path::new(&volume.host_path);
    if host.is_absolute() {
        if !host.exists() {
            return Err(format!("host_path '{}' does not exist", volume.host_path));
        }
    } else if !host.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!(
            "host_path '{}' may not contain '.' or '..'",
            volume.host_path
        ));
    }
    Ok(())
}

/// No volume may sit inside another.
pub fn check_nesting(volumes: &[Volume]) -> Result<(), String> {
    for (i, a) in volumes.iter().enumerate() {
        for b in &volumes[i + 1..] {
            let (pa, pb) = (Path::new(&a.container_path), Path::new(&b.container_path));
            if pa.starts_with(pb) || pb.starts_with(pa) {
                return Err(format!(
                    "volumes '{}' and '{}' are nested",
                    a.container_path, b.container_path
                ));
            }
        }
    }
    Ok(())
}

/// Validates `volumes` for a container whose sandbox is `sandbox`, creates
/// relative host paths in the sandbox (with the mode and owner of the
/// container path, so a private `/tmp` is 1777), and returns the mounts.
///
/// A sandbox inside a volume's container path (agent work dir under `/tmp`
/// with a `/tmp` volume) is allowed: right after that volume, the sandbox is
/// bound back onto its own path, so it stays reachable under its name.
pub fn plan_mounts(volumes: &[Volume], sandbox: &Path) -> Result<Vec<BindMount>, String> {
    for v in volumes {
        check_volume(v)?;
        if Path::new(&v.container_path).starts_with(sandbox) {
            return Err(format!(
                "container_path '{}' is inside the sandbox",
                v.container_path
            ));
        }
    }
    check_nesting(volumes)?;
    let mut mounts = Vec::new();
    for v in volumes {
        let host = Path::new(&v.host_path);
        let source = if host.is_absolute() {
            v.host_path.clone()
        } else {
            create_like(&sandbox.join(host), Path::new(&v.container_path))?;
            // Relative to the sandbox, which is the launch helper's working
            // directory: unaffected by mounts made before this one.
            v.host_path.clone()
        };
        let mut flags = MS_BIND | MS_REC;
        if v.read_only {
            flags |= MS_RDONLY;
        }
        mounts.push(BindMount {
            source,
            target: v.container_path.clone(),
            flags,
        });
        if sandbox.starts_with(&v.container_path) {
            mounts.push(BindMount {
                source: ".".to_owned(),
                target: sandbox.display().to_string(),
                flags: MS_BIND | MS_REC,
            });
        }
    }
    Ok(mounts)
}

/// Creates `dir` (and its parents) with the mode, uid and gid of `like`.
fn create_like(dir: &PathBuf, like: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta =
        std::fs::metadata(like).map_err(|e| format!("cannot stat {}: {e}", like.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| format!("cannot set the mode of {}: {e}", dir.display()))?;
    chown(dir, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| format!("cannot set the owner of {}: {e}", dir.display()))?;
    Ok(())
}
