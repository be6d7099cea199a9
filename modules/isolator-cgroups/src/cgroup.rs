//! Operations on one cgroup directory, the same on v1 and v2: creating and
//! removing it, reading and writing its control files, moving a process in.

use std::{
    collections::HashMap,
    io::ErrorKind,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use corral_module_api::ModuleError;

/// Linux `EBUSY`: a cgroup that still has processes cannot be removed.
const EBUSY: i32 = 16;
/// How long `remove` keeps retrying a busy cgroup.
pub const REMOVE_PATIENCE: Duration = Duration::from_secs(2);
const REMOVE_RETRY: Duration = Duration::from_millis(20);
/// How long an orphan without processes may stay busy before it is left.
const ORPHAN_PATIENCE: Duration = Duration::from_millis(200);

/// Refuses a container id that cannot be a single directory name: the
/// id rule of core's `domain::ids::validate_id` (Mesos' `validateID`),
/// repeated here because modules depend on module-api only. Non-empty, at
/// most 255 bytes, not `.` or `..`, no `/` or `\`, no control characters,
/// no whitespace.
pub fn check_container_id(container_id: &str) -> Result<(), ModuleError> {
    if container_id.is_empty()
        || container_id.len() > 255
        || container_id == "."
        || container_id == ".."
        || container_id.contains(['/', '\\'])
        || container_id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ModuleError::failed(format!(
            "container id '{}' cannot name a cgroup",
            container_id.escape_debug()
        )));
    }
    Ok(())
}

/// Creates a cgroup; reuses one left behind (with a warning).
pub fn create(dir: &Path) -> Result<(), ModuleError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            tracing::warn!(cgroup = %dir.display(), "reusing an existing cgroup");
            Ok(())
        }
        Err(e) => Err(
            ModuleError::failed(format!("cannot create cgroup {}", dir.display())).with_cause(e),
        ),
    }
}

/// Writes `value` to the control file `file` of the cgroup `dir`.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), ModuleError> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| {
        ModuleError::failed(format!("cannot write '{value}' to {}", path.display())).with_cause(e)
    })
}

/// Reads the control file `file` of the cgroup `dir`.
pub fn read(dir: &Path, file: &str) -> Result<String, ModuleError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .map_err(|e| ModuleError::failed(format!("cannot read {}", path.display())).with_cause(e))
}

/// Reads a control file holding one unsigned number.
pub fn read_u64(dir: &Path, file: &str) -> Result<u64, ModuleError> {
    let text = read(dir, file)?;
    text.trim().parse().map_err(|e| {
        ModuleError::failed(format!(
            "{} holds '{}', not a number",
            dir.join(file).display(),
            text.trim()
        ))
        .with_cause(e)
    })
}

/// Reads a flat keyed file (`key value` per line, e.g. `memory.stat`).
pub fn read_keyed(dir: &Path, file: &str) -> Result<HashMap<String, u64>, ModuleError> {
    read(dir, file).map(|text| parse_keyed(&text))
}

/// Parses `key value` lines; lines whose value is not a number are skipped.
pub fn parse_keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let key = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((key.to_owned(), value))
        })
        .collect()
}

/// Moves process `pid` (and its threads) into the cgroup.
pub fn add_process(dir: &Path, pid: u32) -> Result<(), ModuleError> {
    write(dir, "cgroup.procs", &pid.to_string())
}

/// Whether any process is in the cgroup (unreadable counts as none).
pub fn has_processes(dir: &Path) -> bool {
    read(dir, "cgroup.procs").is_ok_and(|procs| !procs.trim().is_empty())
}

/// The names of the child cgroups of `dir` (none when it does not exist).
pub fn children(dir: &Path) -> Result<Vec<String>, ModuleError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(
                ModuleError::failed(format!("cannot list cgroup {}", dir.display())).with_cause(e),
            )
        }
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect())
}

/// Removes a cgroup and any cgroups below it (`rmdir`, deepest first). A
/// cgroup whose processes are still exiting is busy: retried every 20 ms for
/// up to `patience`. A cgroup that is already gone is fine.
pub fn remove(dir: &Path, patience: Duration) -> Result<(), ModuleError> {
    for child in children(dir)? {
        remove(&dir.join(child), patience)?;
    }
    let deadline = Instant::now() + patience;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(REMOVE_RETRY);
            }
            Err(e) => {
                return Err(
                    ModuleError::failed(format!("cannot remove cgroup {}", dir.display()))
                        .with_cause(e),
                )
            }
        }
    }
}

/// Removes the cgroups under `root_dir` whose names are not in `keep`,
/// leaving (with a warning) those that still have processes or fail.
pub fn remove_orphans(root_dir: &Path, keep: &[&str]) {
    let names = match children(root_dir) {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for orphan cgroups");
            return;
        }
    };
    for name in names.iter().filter(|n| !keep.contains(&n.as_str())) {
        let dir: PathBuf = root_dir.join(name);
        if has_processes(&dir) {
            tracing::warn!(cgroup = %dir.display(), "orphan cgroup still has processes; leaving it");
            continue;
        }
        match remove(&dir, ORPHAN_PATIENCE) {
            Ok(()) => tracing::info!(cgroup = %dir.display(), "removed orphan cgroup"),
            Err(e) => tracing::warn!(error = %e, "cannot remove orphan cgroup"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse_numbers_and_skip_the_rest() {
        let stat = parse_keyed("user 48018\nsystem 14621\nbogus\nname x\n");
        assert_eq!(stat.get("user"), Some(&48018));
        assert_eq!(stat.get("system"), Some(&14621));
        assert_eq!(stat.len(), 2);
    }

    #[test]
    fn container_ids_must_be_one_path_component() {
        assert!(check_container_id("4f1c-uuid.1").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "/abs", "a\\b", "a b"] {
            let err = check_container_id(bad).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("container id '{}' cannot name a cgroup", bad.escape_debug())
            );
        }
        for bad in ["a\0b", "a\nb", &"x".repeat(256)] {
            assert!(check_container_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn removing_a_missing_cgroup_succeeds() {
        let dir = Path::new("/nonexistent/corral-test/cgroup");
        assert!(remove(dir, Duration::ZERO).is_ok());
    }
}
