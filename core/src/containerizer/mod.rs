//! The containerizer: one container per executor, set up by the configured
//! isolator modules and started through the launch helper.
//!
//! Launch, in Mesos' order: every isolator `prepare`s (in configuration
//! order) and their plans are merged; the helper is started and waits;
//! every isolator `isolate`s its pid and `watch`es the container; the
//! instructions are written to the helper, which applies the plan between
//! fork and exec ([`launch_helper`]). Destroy kills the container's session
//! (with `namespaces/pid`, that includes the namespace's init, whose death
//! kills everything inside) and, where the machine has one, everything in
//! the container's freezer cgroup, which catches processes that left the
//! session; `cleanup` then runs in reverse order.
//!
//! - `launcher.rs`: the helper process, the session kill, exit descriptions;
//! - `freezer.rs`: the freezer cgroup every container is put in;
//! - `instructions.rs`: what the agent tells the helper;
//! - `cgroup_view.rs`: the read-only cgroup filesystems a container in its
//!   own cgroup namespace sees;
//! - `error.rs`: why a launch failed;
//! - `launch_helper.rs`: the helper itself (`corral container-launch`).

mod cgroup_view;
mod error;
mod freezer;
mod instructions;
pub mod launch_helper;
pub mod launcher;
mod users;

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use tokio::{process::Child, sync::mpsc};

pub use error::ContainerizerError;
pub use freezer::{Freezer, FreezerError};
pub use instructions::{LaunchInstructions, MountStep};
pub use launcher::{command_environment, LaunchRequest};

use crate::extension::{ContainerConfig, IsolatorPlugin, LaunchSpec, Limitation};

/// A limitation an isolator reported, for the container it names.
pub type LimitationEvent = (String, Limitation);

/// Runs the isolators around each executor.
pub struct Containerizer {
    isolators: Mutex<Vec<Box<dyn IsolatorPlugin>>>,
    /// The isolators' names, in order (read without waiting for an
    /// isolator call in progress).
    names: Vec<String>,
    /// The `corral` binary (run as `corral container-launch`).
    helper: PathBuf,
    limitations: mpsc::UnboundedSender<LimitationEvent>,
    /// Absent where there is no writable v1 freezer hierarchy.
    freezer: Option<Freezer>,
    /// Whether every container gets its own cgroup namespace (and a
    /// read-only cgroup filesystem), so none can leave its freezer cgroup:
    /// with a freezer, where this process may create cgroup namespaces.
    contain: bool,
}

/// Linux `CLONE_NEWCGROUP`.
const CLONE_NEWCGROUP: u64 = 0x0200_0000;

/// Whether this process can give containers cgroup namespaces: the kernel
/// has them (`/proc/self/ns/cgroup`) and it holds `CAP_SYS_ADMIN` (bit 21 of
/// `CapEff` in `/proc/self/status`).
fn can_contain_cgroups() -> bool {
    let cap_sys_admin = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 21) != 0);
    cap_sys_admin && Path::new("/proc/self/ns/cgroup").exists()
}

impl std::fmt::Debug for Containerizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Containerizer")
            .field("isolators", &self.isolator_names())
            .field("helper", &self.helper)
            .field("freezer", &self.freezer)
            .field("contain", &self.contain)
            .finish()
    }
}

/// Merges `next` into `plan`: namespaces are united, the rest appended.
fn merge(plan: &mut LaunchSpec, next: LaunchSpec) {
    plan.namespaces |= next.namespaces;
    plan.mounts.extend(next.mounts);
    plan.environment.extend(next.environment);
    plan.pre_exec_commands.extend(next.pre_exec_commands);
}

impl Containerizer {
    /// A containerizer using `isolators` in order; limitations they report
    /// arrive on `limitations`; `freezer` (see [`Freezer::detect`]) holds
    /// every container's processes when available, and each container
    /// then gets its own cgroup namespace and a read-only cgroup
    /// filesystem, so that it cannot leave it (where this process may make
    /// cgroup namespaces; otherwise a warning says so).
    pub fn new(
        isolators: Vec<Box<dyn IsolatorPlugin>>,
        helper: PathBuf,
        limitations: mpsc::UnboundedSender<LimitationEvent>,
        freezer: Option<Freezer>,
    ) -> Self {
        let contain = freezer.is_some() && can_contain_cgroups();
        if freezer.is_some() && !contain {
            tracing::warn!(
                "no cgroup namespaces (kernel or CAP_SYS_ADMIN): a task that can write to the freezer hierarchy can leave its container's freezer cgroup"
            );
        }
        Containerizer {
            names: isolators.iter().map(|i| i.name().to_owned()).collect(),
            isolators: Mutex::new(isolators),
            helper,
            limitations,
            freezer,
            contain,
        }
    }

    fn isolators(&self) -> std::sync::MutexGuard<'_, Vec<Box<dyn IsolatorPlugin>>> {
        self.isolators
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn isolator_names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// Launches the container `spec` describes running `request`'s command.
    /// On failure nothing of the container is left and the error says
    /// which step (and which isolator) failed.
    pub fn launch(
        &self,
        spec: &ContainerConfig,
        request: &LaunchRequest,
    ) -> Result<Child, ContainerizerError> {
        let run_as = request.run_as.as_deref().map(users::resolve).transpose()?;
        // The sandbox exists before the first isolator sees it (`prepare`
        // may put files there; module-api's `ContainerConfig.sandbox`).
        launcher::create_sandbox(&request.sandbox)?;
        let mut isolators = self.isolators();
        let mut plan = LaunchSpec::default();
        for (index, isolator) in isolators.iter_mut().enumerate() {
            match isolator.prepare(spec) {
                Ok(next) => merge(&mut plan, next),
                Err(source) => {
                    let error = ContainerizerError::Prepare {
                        isolator: isolator.name().to_owned(),
                        source,
                    };
                    cleanup_all(&mut isolators[..index], &spec.container_id);
                    return Err(error);
                }
            }
        }
        if self.contain {
            plan.namespaces |= CLONE_NEWCGROUP;
        }
        let (program, argv) = match launcher::argv_of(&request.command) {
            Ok(a) => a,
            Err(e) => {
                cleanup_all(&mut isolators, &spec.container_id);
                return Err(e);
            }
        };
        let mut environment = request.environment.clone();
        environment.extend(plan.environment.iter().cloned());
        let (child, mut release) =
            match launcher::spawn_helper(&self.helper, &request.sandbox, &environment) {
                Ok(started) => started,
                Err(e) => {
                    cleanup_all(&mut isolators, &spec.container_id);
                    return Err(e);
                }
            };
        let pid = child.id().unwrap_or_default();
        tracing::debug!(container_id = %spec.container_id, pid, "launch helper started");
        let sink = self.limitation_sink();
        let frozen = match &self.freezer {
            Some(freezer) => freezer
                .add(&spec.container_id, pid)
                .map_err(ContainerizerError::from),
            None => Ok(()),
        };
        tracing::debug!(container_id = %spec.container_id, pid, "launch helper in its freezer cgroup");
        let isolated = frozen.and_then(|()| {
            isolators.iter_mut().try_for_each(|isolator| {
                isolator
                    .isolate(&spec.container_id, pid)
                    .and_then(|()| isolator.watch(&spec.container_id, sink.clone()))
                    .map_err(|source| ContainerizerError::Isolate {
                        isolator: isolator.name().to_owned(),
                        pid,
                        source,
                    })
            })
        });
        // Everything in the sandbox (what isolators put there, the
        // helper's stdout and stderr) belongs to the user the task runs as.
        let owned = isolated.and_then(|()| match &run_as {
            Some(user) => users::chown_tree(&request.sandbox, user),
            None => Ok(()),
        });
        let released = owned.and_then(|()| {
            let instructions = LaunchInstructions::new(&plan, program, argv, run_as);
            let json = serde_json::to_vec(&instructions)
                .map_err(ContainerizerError::EncodeInstructions)?;
            release
                .write_all(&json)
                .map_err(ContainerizerError::Release)
        });
        drop(release);
        tracing::debug!(container_id = %spec.container_id, pid, released = released.is_ok(), "launch helper isolated and released");
        if let Err(e) = released {
            // The helper is still waiting for its instructions: it has
            // started nothing, so killing it is enough.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            drop(isolators);
            self.cleanup(&spec.container_id);
            return Err(e);
        }
        Ok(child)
    }

    /// Kills every process of the container whose first process is `pid`:
    /// through its freezer cgroup, which holds all of them, or else its
    /// session (a scan of /proc, so only without a freezer: with hundreds
    /// of containers a scan per destroy dominated the agent's time).
    pub fn destroy(&self, container_id: &str, pid: u32) {
        match &self.freezer {
            Some(freezer) => freezer.kill_all(container_id),
            None => launcher::signal_session(pid, nix::sys::signal::Signal::SIGKILL),
        }
    }

    /// After the container's processes are gone: its freezer cgroup goes,
    /// and every isolator releases what it holds, in reverse order.
    pub fn cleanup(&self, container_id: &str) {
        if let Some(freezer) = &self.freezer {
            if let Err(e) = freezer.remove(container_id) {
                tracing::warn!(container_id, error = %e, "freezer cgroup left behind");
            }
        }
        cleanup_all(&mut self.isolators(), container_id);
    }

    /// At agent shutdown, after every container is cleaned up: drops the
    /// isolators (so they release what they hold for themselves) and what
    /// the containerizer made (the freezer root, when empty).
    pub fn shutdown(&self) {
        self.isolators().clear();
        if let Some(freezer) = &self.freezer {
            freezer.remove_root_if_empty();
        }
    }

    /// After an agent restart: these containers still run; isolators
    /// rebuild their state for them and release what belongs to others.
    pub fn recover(&self, containers: &[crate::extension::ContainerState]) {
        if let Some(freezer) = &self.freezer {
            let keep: Vec<&str> = containers.iter().map(|c| c.container_id.as_str()).collect();
            freezer.destroy_orphans(&keep);
        }
        let sink = self.limitation_sink();
        for isolator in self.isolators().iter_mut() {
            if let Err(e) = isolator.recover(containers) {
                tracing::error!(isolator = isolator.name(), error = %e, "isolator recovery failed");
            }
            // Limits are watched again for the containers taken back.
            for c in containers {
                if let Err(e) = isolator.watch(&c.container_id, sink.clone()) {
                    tracing::warn!(isolator = isolator.name(), container_id = %c.container_id, error = %e, "cannot watch a recovered container");
                }
            }
        }
    }

    /// Where isolators report limitations.
    fn limitation_sink(&self) -> crate::extension::LimitationNotifier {
        let tx = self.limitations.clone();
        Arc::new(move |container: &str, limitation: Limitation| {
            let _ = tx.send((container.to_owned(), limitation));
        })
    }

    /// Resources of the container changed (a task was added).
    pub fn update(&self, container_id: &str, resources: &[crate::domain::Resource]) {
        for isolator in self.isolators().iter_mut() {
            if let Err(e) = isolator.update(container_id, resources) {
                tracing::warn!(container_id, isolator = isolator.name(), error = %e, "update failed");
            }
        }
    }

    /// Usage figures of every isolator, named as Mesos' `ResourceStatistics`
    /// fields (later isolators win on a shared name).
    pub fn usage(&self, container_id: &str) -> Vec<(String, f64)> {
        let mut figures: Vec<(String, f64)> = Vec::new();
        for isolator in self.isolators().iter_mut() {
            match isolator.usage(container_id) {
                Ok(list) => {
                    for (name, value) in list {
                        figures.retain(|(n, _)| *n != name);
                        figures.push((name, value));
                    }
                }
                Err(e) => {
                    tracing::debug!(container_id, isolator = isolator.name(), error = %e, "usage failed")
                }
            }
        }
        figures
    }
}

fn cleanup_all(isolators: &mut [Box<dyn IsolatorPlugin>], container_id: &str) {
    for isolator in isolators.iter_mut().rev() {
        if let Err(e) = isolator.cleanup(container_id) {
            tracing::warn!(container_id, isolator = isolator.name(), error = %e, "cleanup failed");
        }
    }
}

/// Why the launch helper of the container in `sandbox` failed, when it did:
/// the line it wrote to the sandbox's stderr.
pub fn launch_failure(sandbox: &Path) -> Option<String> {
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).ok()?;
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(launch_helper::FAILURE_PREFIX))
        .map(str::to_owned)
}
