//! Starting an executor process in its sandbox, with the environment Mesos
//! gives executors, and stopping it.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::Stdio,
};

use tokio::process::{Child, Command};

use crate::{domain::KeyValue, proto::v1};

/// Everything needed to start one executor.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub command: v1::CommandInfo,
    pub sandbox: PathBuf,
    /// Variables set for the executor, in order (later ones win).
    pub environment: Vec<KeyValue>,
}

/// The argv of a `CommandInfo`: `sh -c value` for shell commands, else
/// `value` run with `arguments` (whose first element is argv\[0\]).
fn command_of(info: &v1::CommandInfo) -> Result<Command, String> {
    let value = info.value.clone().unwrap_or_default();
    if info.shell.unwrap_or(true) {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(value);
        Ok(c)
    } else {
        if value.is_empty() {
            return Err("command has no 'value' (the program to run)".to_owned());
        }
        let mut c = Command::new(&value);
        if let Some((first, rest)) = info.arguments.split_first() {
            c.arg0(first);
            c.args(rest);
        }
        Ok(c)
    }
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

fn create_file(path: &Path) -> Result<File, String> {
    File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Starts the executor in a session of its own, with stdout and stderr
/// going to files in its sandbox. Everything the executor starts stays in
/// that session unless it calls `setsid` itself, so [`destroy`] can find it.
pub fn spawn(request: &LaunchRequest) -> Result<Child, String> {
    std::fs::create_dir_all(&request.sandbox)
        .map_err(|e| format!("cannot create sandbox {}: {e}", request.sandbox.display()))?;
    let mut command = command_of(&request.command)?;
    command
        .current_dir(&request.sandbox)
        .envs(request.environment.iter().map(|kv| (&kv.key, &kv.value)))
        .stdin(Stdio::null())
        .stdout(create_file(&request.sandbox.join("stdout"))?)
        .stderr(create_file(&request.sandbox.join("stderr"))?)
        .kill_on_drop(false);
    // SAFETY: `setsid` is async-signal-safe and touches no memory of the
    // parent; it is the only thing run between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    command
        .spawn()
        .map_err(|e| format!("cannot start executor: {e}"))
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

/// Sends `signal` to every process in the session the executor `pid` leads
/// (the executor, its tasks, and anything they started without `setsid`).
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
