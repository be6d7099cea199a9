//! Starting the launch helper for a container, finding and signalling a
//! container's processes, and describing how an executor ended.

use std::{
    fs::File,
    io::PipeWriter,
    path::{Path, PathBuf},
    process::Stdio,
};

use tokio::process::{Child, Command};

use super::ContainerizerError;
use crate::{domain::KeyValue, proto::v1};

/// Everything needed to start one executor.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub command: v1::CommandInfo,
    pub sandbox: PathBuf,
    /// Variables set for the executor, in order (later ones win).
    pub environment: Vec<KeyValue>,
    /// The user the container runs as (the agent's own when `None`).
    pub run_as: Option<String>,
}

/// The program and argv of a `CommandInfo`: `sh -c value` for shell
/// commands, else `value` run with `arguments` (whose first element is
/// argv\[0\]).
pub fn argv_of(info: &v1::CommandInfo) -> Result<(String, Vec<String>), ContainerizerError> {
    let value = info.value.clone().unwrap_or_default();
    if info.shell.unwrap_or(true) {
        return Ok((
            "/bin/sh".to_owned(),
            vec!["sh".to_owned(), "-c".to_owned(), value],
        ));
    }
    if value.is_empty() {
        return Err(ContainerizerError::NoProgram);
    }
    let argv = if info.arguments.is_empty() {
        vec![value.clone()]
    } else {
        info.arguments.clone()
    };
    Ok((value, argv))
}

/// The variables a `CommandInfo` sets.
pub fn command_environment(info: &v1::CommandInfo) -> Vec<KeyValue> {
    info.environment
        .iter()
        .flat_map(|e| &e.variables)
        .map(|v| KeyValue {
            key: v.name.clone(),
            value: v.value.clone().unwrap_or_default(),
        })
        .collect()
}

fn create_file(path: &Path) -> Result<File, ContainerizerError> {
    File::create(path).map_err(|source| ContainerizerError::SandboxFile {
        path: path.to_owned(),
        source,
    })
}

/// Makes the sandbox directory (and its parents).
pub fn create_sandbox(sandbox: &Path) -> Result<(), ContainerizerError> {
    std::fs::create_dir_all(sandbox).map_err(|source| ContainerizerError::Sandbox {
        path: sandbox.to_owned(),
        source,
    })
}

/// Starts `helper container-launch` in the sandbox (which
/// [`create_sandbox`] made) with the executor's environment and stdout and
/// stderr going to files there. The helper waits for its instructions on
/// the returned pipe.
pub fn spawn_helper(
    helper: &Path,
    sandbox: &Path,
    environment: &[KeyValue],
) -> Result<(Child, PipeWriter), ContainerizerError> {
    let (reader, writer) = std::io::pipe().map_err(ContainerizerError::Pipe)?;
    let child = Command::new(helper)
        .arg("container-launch")
        .current_dir(sandbox)
        .envs(environment.iter().map(|kv| (&kv.key, &kv.value)))
        .stdin(Stdio::from(reader))
        .stdout(create_file(&sandbox.join("stdout"))?)
        .stderr(create_file(&sandbox.join("stderr"))?)
        .kill_on_drop(false)
        .spawn()
        .map_err(|source| ContainerizerError::SpawnHelper {
            helper: helper.to_owned(),
            source,
        })?;
    Ok((child, writer))
}

/// The processes whose session is `sid`, from `/proc`.
fn session_members(sid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // Fields after the command name: state ppid pgrp session ...
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.to_owned()))
                .and_then(|rest| rest.split_whitespace().nth(3)?.parse::<i32>().ok())
                == Some(sid)
        })
        .collect()
}

/// Sends `signal` to every process in the session the container's first
/// process `pid` leads (the helper, the executor, its tasks, and anything
/// they started without `setsid`; in a pid namespace, its init, whose death
/// takes everything else in the namespace along).
pub fn signal_session(pid: u32, signal: nix::sys::signal::Signal) {
    let Ok(sid) = i32::try_from(pid) else { return };
    for member in session_members(sid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(member), signal);
    }
}

/// How an exit status reads in a task's message.
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("terminated by signal {signal}"),
        (None, None) => "exited".to_owned(),
    }
}

/// The numeric status Mesos reports in FAILURE events.
pub fn wait_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.into_raw()
}
