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
//!    made here reaches the host; with a new cgroup namespace (which always
//!    comes with a mount namespace; it is rooted at the cgroups the agent
//!    put this process in), makes the cgroup filesystems read-only and
//!    rooted at the container's cgroups ([`super::cgroup_view`]);
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
    unistd::{execvp, fork, setgid, setgroups, setsid, setuid, ForkResult, Gid, Pid, Uid},
};

use super::{
    cgroup_view::{self, ViewStep},
    instructions::{LaunchInstructions, MountStep, RunAs},
};

/// The exit status of a helper that could not set the container up.
pub const LAUNCH_FAILED_STATUS: i32 = 125;
/// Starts the line a failed helper writes to its stderr.
pub const FAILURE_PREFIX: &str = "corral container-launch: ";

/// Why the helper could not turn into the executor; written to the
/// sandbox's `stderr` after [`FAILURE_PREFIX`].
#[derive(Debug, thiserror::Error)]
enum LaunchHelperError {
    #[error("cannot read launch instructions: {0}")]
    ReadInstructions(#[source] std::io::Error),
    #[error("the agent closed the container before releasing it")]
    NotReleased,
    #[error("bad launch instructions: {0}")]
    BadInstructions(#[source] serde_json::Error),
    #[error("cannot open /dev/null: {0}")]
    DevNull(#[source] std::io::Error),
    /// A system call failed; `what` says which (or what it was for).
    #[error("{what}: {source}")]
    Syscall { what: &'static str, source: Errno },
    #[error("namespace flags {0:#x} out of range")]
    NamespaceFlags(u64),
    #[error("unshare({namespaces:?}): {source}")]
    Unshare {
        namespaces: CloneFlags,
        source: Errno,
    },
    #[error("{}: cannot create the target: {source}", describe_mount(step))]
    MountTarget {
        step: MountStep,
        source: std::io::Error,
    },
    #[error("{}: {source}", describe_mount(step))]
    Mount { step: MountStep, source: Errno },
    #[error("{} (read-only remount): {source}", describe_mount(step))]
    Remount { step: MountStep, source: Errno },
    #[error("cannot run '{command}': {source}")]
    PreExecStart {
        command: String,
        source: std::io::Error,
    },
    #[error("'{command}' failed ({status})")]
    PreExecFailed {
        command: String,
        status: std::process::ExitStatus,
    },
    #[error("'{0}' contains a NUL byte")]
    NulByte(String),
    #[error("an environment variable contains a NUL byte")]
    NulInEnvironment,
    #[error("cannot execute '{program}': {source}")]
    Exec { program: String, source: Errno },
    #[error("cannot read /proc/self/mountinfo: {0}")]
    Mountinfo(#[source] std::io::Error),
    #[error("cannot make the cgroup filesystem at {target} read-only: {source}")]
    CgroupReadOnly { target: String, source: Errno },
    #[error("cannot run as user '{user}' ({step}): {source}")]
    SwitchUser {
        user: String,
        step: &'static str,
        source: Errno,
    },
}

/// Becomes `user`: supplementary groups, then group, then user (after
/// which nothing can be changed back).
fn become_user(user: &RunAs) -> Result<(), LaunchHelperError> {
    let fail = |step| {
        move |source| LaunchHelperError::SwitchUser {
            user: user.name.clone(),
            step,
            source,
        }
    };
    let groups: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    setgroups(&groups).map_err(fail("setgroups"))?;
    setgid(Gid::from_raw(user.gid)).map_err(fail("setgid"))?;
    setuid(Uid::from_raw(user.uid)).map_err(fail("setuid"))?;
    Ok(())
}

/// A failed system call, for `map_err`.
fn syscall(what: &'static str) -> impl FnOnce(Errno) -> LaunchHelperError {
    move |source| LaunchHelperError::Syscall { what, source }
}

/// `mount SOURCE on TARGET`, as failures name a mount.
fn describe_mount(step: &MountStep) -> String {
    format!(
        "mount {} on {}",
        step.source.as_deref().unwrap_or("none"),
        step.target
    )
}

/// Runs the helper; returns only on failure (with the status to exit with).
pub fn run() -> ExitCode {
    let error = match launch() {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("{FAILURE_PREFIX}{error}");
    ExitCode::from(LAUNCH_FAILED_STATUS as u8)
}

fn launch() -> Result<Infallible, LaunchHelperError> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(LaunchHelperError::ReadInstructions)?;
    if input.is_empty() {
        return Err(LaunchHelperError::NotReleased);
    }
    let instructions: LaunchInstructions =
        serde_json::from_str(&input).map_err(LaunchHelperError::BadInstructions)?;
    let null = std::fs::File::open("/dev/null").map_err(LaunchHelperError::DevNull)?;
    nix::unistd::dup2_stdin(&null).map_err(syscall("cannot redirect stdin"))?;
    drop(null);
    setsid().map_err(syscall("setsid"))?;
    // Opened before any mount: a volume over the directory that holds the
    // executor (a private /tmp, with the agent's binaries under /tmp) must
    // not hide it.
    let program = instructions
        .program
        .contains('/')
        .then(|| std::fs::File::open(&instructions.program).ok())
        .flatten();

    let bits = i32::try_from(instructions.namespaces)
        .map_err(|_| LaunchHelperError::NamespaceFlags(instructions.namespaces))?;
    let mut namespaces = CloneFlags::from_bits_truncate(bits);
    if namespaces.contains(CloneFlags::CLONE_NEWCGROUP) {
        // The read-only cgroup view is made in a mount namespace of its own.
        namespaces |= CloneFlags::CLONE_NEWNS;
    }
    if !namespaces.is_empty() {
        unshare(namespaces).map_err(|source| LaunchHelperError::Unshare { namespaces, source })?;
    }
    if namespaces.contains(CloneFlags::CLONE_NEWNS) {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(syscall("cannot make / a slave mount"))?;
    }
    if namespaces.contains(CloneFlags::CLONE_NEWCGROUP) {
        contain_cgroups()?;
    }
    if !namespaces.contains(CloneFlags::CLONE_NEWPID) {
        prepare(&instructions)?;
        return exec(&instructions, program.as_ref());
    }

    let signals = forwarded_signals();
    signals
        .thread_block()
        .map_err(syscall("cannot block signals"))?;
    // SAFETY: this process is single-threaded (the helper runs before any
    // runtime or thread is started), so the child may do anything.
    match unsafe { fork() }.map_err(syscall("fork"))? {
        ForkResult::Parent { child } => std::process::exit(wait_for_init(child)),
        ForkResult::Child => {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(syscall("cannot set the parent-death signal"))?;
            prepare(&instructions)?;
            std::process::exit(container_init(&instructions, program.as_ref(), &signals)?)
        }
    }
}

/// Makes the container's view of the cgroup filesystems (see
/// [`cgroup_view`]): every cgroup mount and `/sys/fs/cgroup` read-only,
/// then each hierarchy replaced by one mounted from inside the cgroup
/// namespace (rooted at the container's cgroups), read-only. A read-only
/// remount that fails aborts the launch; a hierarchy that cannot be
/// mounted afresh is absent.
fn contain_cgroups() -> Result<(), LaunchHelperError> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(LaunchHelperError::Mountinfo)?;
    for step in cgroup_view::plan(&mountinfo) {
        match step {
            ViewStep::ReadOnly {
                target,
                nosuid,
                nodev,
                noexec,
            } => {
                let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
                for (keep, flag) in [
                    (nosuid, MsFlags::MS_NOSUID),
                    (nodev, MsFlags::MS_NODEV),
                    (noexec, MsFlags::MS_NOEXEC),
                ] {
                    flags.set(flag, keep);
                }
                mount(
                    None::<&str>,
                    target.as_str(),
                    None::<&str>,
                    flags,
                    None::<&str>,
                )
                .map_err(|source| LaunchHelperError::CgroupReadOnly { target, source })?;
            }
            ViewStep::Fresh {
                target,
                fstype,
                data,
                depth,
            } => {
                // The kernel refuses the same filesystem twice on one
                // mount point: the host's mounts there go first. If one
                // cannot go, its read-only copy stays.
                if (0..depth).any(|_| {
                    nix::mount::umount2(target.as_str(), nix::mount::MntFlags::MNT_DETACH).is_err()
                }) {
                    continue;
                }
                // The superblock is the host's, which is read-write: a
                // read-only mount of it is refused (EBUSY), so the new
                // mount is made read-write, then made read-only alone. If
                // it cannot be made, the hierarchy is absent.
                let secure = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
                if mount(
                    Some(fstype.as_str()),
                    target.as_str(),
                    Some(fstype.as_str()),
                    secure,
                    data.as_deref(),
                )
                .is_err()
                {
                    continue;
                }
                let read_only = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
                if let Err(source) = mount(
                    None::<&str>,
                    target.as_str(),
                    None::<&str>,
                    read_only | secure,
                    None::<&str>,
                ) {
                    // Never left writable: absent, or the launch fails.
                    nix::mount::umount2(target.as_str(), nix::mount::MntFlags::MNT_DETACH)
                        .map_err(|_| LaunchHelperError::CgroupReadOnly { target, source })?;
                }
            }
        }
    }
    Ok(())
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
fn prepare(instructions: &LaunchInstructions) -> Result<(), LaunchHelperError> {
    for step in &instructions.mounts {
        apply_mount(step)?;
    }
    for command in &instructions.pre_exec_commands {
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .status()
            .map_err(|source| LaunchHelperError::PreExecStart {
                command: command.clone(),
                source,
            })?;
        if !status.success() {
            return Err(LaunchHelperError::PreExecFailed {
                command: command.clone(),
                status,
            });
        }
    }
    Ok(())
}

fn apply_mount(step: &MountStep) -> Result<(), LaunchHelperError> {
    let flags = MsFlags::from_bits_truncate(step.flags as std::ffi::c_ulong);
    let bind = flags.contains(MsFlags::MS_BIND);
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
            made.map_err(|source| LaunchHelperError::MountTarget {
                step: step.clone(),
                source,
            })?;
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
    .map_err(|source| LaunchHelperError::Mount {
        step: step.clone(),
        source,
    })?;
    if bind && flags.contains(MsFlags::MS_RDONLY) {
        mount(
            None::<&str>,
            step.target.as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(|source| LaunchHelperError::Remount {
            step: step.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Replaces this process with the executor: from the file opened before
/// the mounts when there is one (a binary; a script is run by its path, as
/// its interpreter needs one), else looked up by name in `PATH`.
fn exec(
    instructions: &LaunchInstructions,
    opened: Option<&std::fs::File>,
) -> Result<Infallible, LaunchHelperError> {
    let cstring = |s: &str| CString::new(s).map_err(|_| LaunchHelperError::NulByte(s.to_owned()));
    let program = cstring(&instructions.program)?;
    let argv = instructions
        .argv
        .iter()
        .map(|a| cstring(a))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(user) = &instructions.run_as {
        become_user(user)?;
    }
    if let Some(file) = opened {
        use std::os::unix::ffi::OsStrExt;
        let env = std::env::vars_os()
            .map(|(k, v)| {
                let mut pair = k.as_bytes().to_vec();
                pair.push(b'=');
                pair.extend_from_slice(v.as_bytes());
                CString::new(pair).map_err(|_| LaunchHelperError::NulInEnvironment)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Only returns on failure (e.g. a script, whose close-on-exec
        // descriptor its interpreter cannot open): then by path.
        let _ = nix::unistd::fexecve(file, &argv, &env);
    }
    let source = execvp(&program, &argv).unwrap_err();
    Err(LaunchHelperError::Exec {
        program: instructions.program.clone(),
        source,
    })
}

/// Pid 1 of the container: starts the executor, then reaps and forwards
/// signals until the executor exits. Returns the status to exit with.
fn container_init(
    instructions: &LaunchInstructions,
    program: Option<&std::fs::File>,
    signals: &SigSet,
) -> Result<i32, LaunchHelperError> {
    // SAFETY: single-threaded, as in `launch`.
    let executor = match unsafe { fork() }.map_err(syscall("fork"))? {
        ForkResult::Child => {
            signals
                .thread_unblock()
                .map_err(syscall("cannot unblock signals"))?;
            exec(instructions, program)?;
            unreachable!("exec returned without an error")
        }
        ForkResult::Parent { child } => child,
    };
    loop {
        let signal = signals.wait().map_err(syscall("sigwait"))?;
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
                Err(e) => return Err(syscall("waitpid")(e)),
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
