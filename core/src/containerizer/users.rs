//! Tasks that run as their user (Mesos' `--switch_user`): the user's ids
//! resolved by the agent, and the sandbox handed to it. The launch helper
//! switches to them just before it execs the executor.

use std::path::Path;

use nix::{
    fcntl::AtFlags,
    unistd::{fchownat, Gid, Uid, User},
};

use super::{instructions::RunAs, ContainerizerError};

/// `name`'s uid, primary gid and supplementary groups, from the system's
/// user database (a blocking lookup: the agent calls this off the async
/// runtime, as every launch step).
pub fn resolve(name: &str) -> Result<RunAs, ContainerizerError> {
    let user = User::from_name(name)
        .map_err(|source| ContainerizerError::UserLookup {
            user: name.to_owned(),
            source,
        })?
        .ok_or_else(|| ContainerizerError::UnknownUser(name.to_owned()))?;
    let mut groups = supplementary_groups(&user);
    if !groups.contains(&user.gid.as_raw()) {
        groups.insert(0, user.gid.as_raw());
    }
    Ok(RunAs {
        name: name.to_owned(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
    })
}

/// The groups that list `user` as a member (`getgrouplist`).
fn supplementary_groups(user: &User) -> Vec<u32> {
    let Ok(name) = std::ffi::CString::new(user.name.as_str()) else {
        return Vec::new();
    };
    nix::unistd::getgrouplist(&name, user.gid)
        .map(|list| list.into_iter().map(Gid::as_raw).collect())
        .unwrap_or_default()
}

/// Gives `dir` and everything under it to `user`, never following a
/// symbolic link (a link is re-owned itself).
pub fn chown_tree(dir: &Path, user: &RunAs) -> Result<(), ContainerizerError> {
    let (uid, gid) = (Some(Uid::from_raw(user.uid)), Some(Gid::from_raw(user.gid)));
    let fail = |path: &Path, source| ContainerizerError::ChownSandbox {
        path: path.to_owned(),
        user: user.name.clone(),
        source,
    };
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        fchownat(
            nix::fcntl::AT_FDCWD,
            &path,
            uid,
            gid,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| fail(&path, e))?;
        let metadata = std::fs::symlink_metadata(&path).map_err(|e| {
            fail(
                &path,
                nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })?;
        if metadata.is_dir() {
            let entries = std::fs::read_dir(&path).map_err(|e| {
                fail(
                    &path,
                    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                )
            })?;
            pending.extend(entries.flatten().map(|e| e.path()));
        }
    }
    Ok(())
}
