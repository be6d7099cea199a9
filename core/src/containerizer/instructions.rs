//! What the agent hands the launch helper on its stdin: the merged plan of
//! the isolators and the executor's command line. Writing it (and closing
//! the pipe) is also what releases the helper, once every isolator has
//! isolated its pid.

use serde::{Deserialize, Serialize};

use crate::extension::{LaunchSpec, MountSpec};

/// One `mount(2)`, as [`MountSpec`] (kept separate so the wire shape between
/// agent and helper does not follow the plugin trait's type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountStep {
    pub source: Option<String>,
    pub target: String,
    pub fstype: Option<String>,
    pub flags: u64,
    pub data: Option<String>,
}

impl From<&MountSpec> for MountStep {
    fn from(m: &MountSpec) -> Self {
        MountStep {
            source: m.source.clone(),
            target: m.target.clone(),
            fstype: m.fstype.clone(),
            flags: m.flags,
            data: m.data.clone(),
        }
    }
}

/// Everything the helper does before it becomes the executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchInstructions {
    /// `CLONE_NEW*` flags to unshare.
    pub namespaces: u64,
    /// Made in order, inside the new namespaces. A relative `source` is
    /// relative to the sandbox as it was before any mount.
    pub mounts: Vec<MountStep>,
    /// Run with `/bin/sh -c`, in order, after the mounts; any failure
    /// aborts the launch.
    pub pre_exec_commands: Vec<String>,
    /// The program to exec (looked up in `PATH` when it has no `/`).
    pub program: String,
    /// Its argv, `argv[0]` included.
    pub argv: Vec<String>,
    /// Who the executor runs as: set just before the exec, after the
    /// namespaces, mounts and pre-exec commands.
    #[serde(default)]
    pub run_as: Option<RunAs>,
}

/// A user to become: ids resolved by the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl LaunchInstructions {
    pub fn new(
        plan: &LaunchSpec,
        program: String,
        argv: Vec<String>,
        run_as: Option<RunAs>,
    ) -> Self {
        LaunchInstructions {
            namespaces: plan.namespaces,
            mounts: plan.mounts.iter().map(MountStep::from).collect(),
            pre_exec_commands: plan.pre_exec_commands.clone(),
            program,
            argv,
            run_as,
        }
    }
}
