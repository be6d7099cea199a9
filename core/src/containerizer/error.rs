//! Why a container could not be launched: each step names what it worked
//! on (the isolator, the file, the helper) and keeps the cause as its
//! source. The agent turns the message into the `TASK_FAILED` message
//! `Failed to launch container: ...`.

use std::path::PathBuf;

use thiserror::Error;

use super::FreezerError;
use crate::extension::ModuleCallError;

/// A failed step of `Containerizer::launch` (steps 1–4 of a launch; the
/// helper's own failures are reported through the sandbox's `stderr`).
#[derive(Debug, Error)]
pub enum ContainerizerError {
    #[error("isolator {isolator} could not prepare: {source}")]
    Prepare {
        isolator: String,
        source: ModuleCallError,
    },
    #[error("command has no 'value' (the program to run)")]
    NoProgram,
    #[error("cannot create sandbox {}: {source}", path.display())]
    Sandbox {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the launch pipe: {0}")]
    Pipe(#[source] std::io::Error),
    #[error("cannot create {}: {source}", path.display())]
    SandboxFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {}: {source}", helper.display())]
    SpawnHelper {
        helper: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Freezer(#[from] FreezerError),
    #[error("isolator {isolator} could not isolate pid {pid}: {source}")]
    Isolate {
        isolator: String,
        pid: u32,
        source: ModuleCallError,
    },
    #[error("cannot encode the launch instructions: {0}")]
    EncodeInstructions(#[source] serde_json::Error),
    #[error("cannot release the launch helper: {0}")]
    Release(#[source] std::io::Error),
    #[error("Failed to get user information for '{0}': no such user on this agent")]
    UnknownUser(String),
    #[error("cannot look up user '{user}': {source}")]
    UserLookup {
        user: String,
        source: nix::errno::Errno,
    },
    #[error("cannot give sandbox {} to user '{user}': {source}", path.display())]
    ChownSandbox {
        path: PathBuf,
        user: String,
        source: nix::errno::Errno,
    },
}
