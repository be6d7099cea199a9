//! `corral container-launch`: the process the agent starts for every
//! container. It runs single-threaded, before any async runtime exists, and
//! turns itself into the executor:
//!
//! 1. reads [`LaunchInstructions`] from stdin; end of input is the agent's
//!    signal that every isolator has isolated this pid (so everything
//!    started from here on inherits the cgroups);
//! 2. starts a session of its own (`setsid`), so the agent can find every
//!    process of the container that did not leave the session;
//! 3. unshares the namespaces the isolators asked for; with a new mount
//!    namespace, marks `/` recursively as a slave mount first, so no mount
//!    made here reaches the host;
//! 4. without a new pid namespace: makes the mounts, runs the pre-exec
//!    commands and execs the executor;
//! 5. with one: forks the namespace's init (pid 1), which makes the mounts
//!    (so a fresh `/proc` shows the new namespace), runs the commands, forks
//!    the executor (pid 2), reaps orphans, forwards termination signals to
//!    the executor and exits as it does. The helper stays outside, waits for
//!    init and exits with its status; if the helper is killed, init gets
//!    `SIGKILL` (parent-death signal), and the kernel kills every process
//!    left in the namespace.
//!
//! Failures are written to stderr (the sandbox's `stderr` file) as one line
//! starting with [`FAILURE_PREFIX`], and the helper exits with
//! [`LAUNCH_FAILED_STATUS`].

use std::{
    convert::Infallible,
    ffi::CString,
    io::Read,
    path::Path,
    process::{Command, ExitCode},
};

use nix::{
    errno::Errno,
    mount::{mount, MsFlags},
    sched::{unshare, CloneFlags},
    sys::{
        signal::{kill, SigSet, Signal},
        wait::{waitpid, WaitPidFlag, WaitStatus},
    },
    unistd::{execvp, fork, setsid, ForkResult, Pid},
};

use super::instructions::{LaunchInstructions, MountStep};

/// The exit status of a helper that could not set the container up.
pub const LAUNCH_FAILED_STATUS: i32 = 125;
/// Starts the line a failed helper writes to its stderr.
pub const FAILURE_PREFIX: &str = "corral container-launch: ";

/// Runs the helper; returns only on failure (with the status to exit with).
pub fn run() -> ExitCode {
    let error = match launch() {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("{FAILURE_PREFIX}{error}");
    ExitCode::from(LAUNCH_FAILED_STATUS as u8)
}

fn launch() -> Result<Infallible, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read launch instructions: {e}"))?;
    if input.is_empty() {
        return Err("the agent closed the container before releasing it".to_owned());
    }
    let instructions: LaunchInstructions =
        serde_json::from_str(&input).map_err(|e| format!("bad launch instructions: {e}"))?;
    let null =
        std::fs::File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?;
    nix::unistd::dup2_stdin(&null).map_err(|e| format!("cannot redirect stdin: {e}"))?;
    drop(null);
    setsid().map_err(|e| format!("setsid: {e}"))?;
    // Opened before any mount: a volume over the directory that holds the
    // executor (a private /tmp, with the agent's binaries under /tmp) must
    // not hide it.
    let program = instructions
        .program
        .contains('/')
        .then(|| std::fs::File::open(&instructions.program).ok())
        .flatten();

    let bits = i32::try_from(instructions.namespaces).map_err(|_| {
        format!(
            "namespace flags {:#x} out of range",
            instructions.namespaces
        )
    })?;
    let namespaces = CloneFlags::from_bits_truncate(bits);
    if !namespaces.is_empty() {
        unshare(namespaces).map_err(|e| format!("unshare({namespaces:?}): {e}"))?;
    }
    if namespaces.contains(CloneFlags::CLONE_NEWNS) {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(|e| format!("cannot make / a slave mount: {e}"))?;
    }
    if !namespaces.contains(CloneFlags::CLONE_NEWPID) {
        prepare(&instructions)?;
        return exec(&instructions, program.as_ref());
    }

    let signals = forwarded_signals();
    signals
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    // SAFETY: this process is single-threaded (the helper runs before any
    // runtime or thread is started), so the child may do anything.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => std::process::exit(wait_for_init(child)),
        ForkResult::Child => {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|e| format!("cannot set the parent-death signal: {e}"))?;
            prepare(&instructions)?;
            std::process::exit(container_init(&instructions, program.as_ref(), &signals)?)
        }
    }
}

/// Termination and job-control signals init passes on to the executor.
fn forwarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    set
}

/// Makes the mounts, then runs the pre-exec commands.
fn prepare(instructions: &LaunchInstructions) -> Result<(), String> {
    for step in &instructions.mounts {
        apply_mount(step)?;
    }
    for command in &instructions.pre_exec_commands {
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .status()
            .map_err(|e| format!("cannot run '{command}': {e}"))?;
        if !status.success() {
            return Err(format!("'{command}' failed ({status})"));
        }
    }
    Ok(())
}

fn apply_mount(step: &MountStep) -> Result<(), String> {
    let flags = MsFlags::from_bits_truncate(step.flags as std::ffi::c_ulong);
    let bind = flags.contains(MsFlags::MS_BIND);
    let describe = || {
        format!(
            "mount {} on {}",
            step.source.as_deref().unwrap_or("none"),
            step.target
        )
    };
    if bind {
        // Bind targets are created as needed (the source decides file or dir).
        let target = Path::new(&step.target);
        if !target.exists() {
            let source_is_dir = step.source.as_deref().is_none_or(|s| Path::new(s).is_dir());
            let made = if source_is_dir {
                std::fs::create_dir_all(target)
            } else {
                target
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::File::create(target).map(drop))
            };
            made.map_err(|e| format!("{}: cannot create the target: {e}", describe()))?;
        }
    }
    // A read-only bind mount takes a bind, then a read-only remount.
    let first = if bind {
        flags - MsFlags::MS_RDONLY
    } else {
        flags
    };
    mount(
        step.source.as_deref(),
        step.target.as_str(),
        step.fstype.as_deref(),
        first,
        step.data.as_deref(),
    )
    .map_err(|e| format!("{}: {e}", describe()))?;
    if bind && flags.contains(MsFlags::MS_RDONLY) {
        mount(
            None::<&str>,
            step.target.as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(|e| format!("{} (read-only remount): {e}", describe()))?;
    }
    Ok(())
}

/// Replaces this process with the executor: from the file opened before
/// the mounts when there is one (a binary; a script is run by its path, as
/// its interpreter needs one), else looked up by name in `PATH`.
fn exec(
    instructions: &LaunchInstructions,
    opened: Option<&std::fs::File>,
) -> Result<Infallible, String> {
    let cstring = |s: &str| CString::new(s).map_err(|_| format!("'{s}' contains a NUL byte"));
    let program = cstring(&instructions.program)?;
    let argv = instructions
        .argv
        .iter()
        .map(|a| cstring(a))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(file) = opened {
        use std::os::unix::ffi::OsStrExt;
        let env = std::env::vars_os()
            .map(|(k, v)| {
                let mut pair = k.as_bytes().to_vec();
                pair.push(b'=');
                pair.extend_from_slice(v.as_bytes());
                CString::new(pair)
                    .map_err(|_| "an environment variable contains a NUL byte".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Only returns on failure (e.g. a script, whose close-on-exec
        // descriptor its interpreter cannot open): then by path.
        let _ = nix::unistd::fexecve(file, &argv, &env);
    }
    let e = execvp(&program, &argv).unwrap_err();
    Err(format!("cannot execute '{}': {e}", instructions.program))
}

/// Pid 1 of the container: starts the executor, then reaps and forwards
/// signals until the executor exits. Returns the status to exit with.
fn container_init(
    instructions: &LaunchInstructions,
    program: Option<&std::fs::File>,
    signals: &SigSet,
) -> Result<i32, String> {
    // SAFETY: single-threaded, as in `launch`.
    let executor = match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            signals
                .thread_unblock()
                .map_err(|e| format!("cannot unblock signals: {e}"))?;
            exec(instructions, program)?;
            unreachable!("exec returned without an error")
        }
        ForkResult::Parent { child } => child,
    };
    loop {
        let signal = signals.wait().map_err(|e| format!("sigwait: {e}"))?;
        if signal != Signal::SIGCHLD {
            let _ = kill(executor, signal);
            continue;
        }
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == executor => return Ok(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == executor => return Ok(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(format!("waitpid: {e}")),
            }
        }
    }
}

/// The helper's side of a pid namespace: waits for init and exits as it did.
fn wait_for_init(init: Pid) -> i32 {
    loop {
        match waitpid(init, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Err(Errno::EINTR) | Ok(_) => continue,
            Err(e) => {
                eprintln!("{FAILURE_PREFIX}waitpid: {e}");
                return LAUNCH_FAILED_STATUS;
            }
        }
    }
}
