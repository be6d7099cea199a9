//! Checkpoints under `<work_dir>/meta`: the agent's id, and for every
//! executor of a framework that asked for checkpointing (`checkpoint`) what
//! a restarted agent needs to take it back: the framework, the executor,
//! its container, its tasks, and their unacknowledged status updates. Mesos
//! messages are kept as their protobuf encoding (base64) inside JSON; each
//! file is replaced atomically (written aside, then renamed).

use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::STANDARD, Engine};
use prost::Message;
use serde::{Deserialize, Serialize};

/// A checkpointed executor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutorCheckpoint {
    pub framework_info: String,
    pub executor_info: String,
    pub container_id: String,
    pub sandbox: PathBuf,
    /// The container's first process (the launch helper, session leader).
    pub pid: u32,
    /// Tasks with their last known state (`TaskState` number).
    pub tasks: Vec<(String, i32)>,
    /// Tasks not yet handed to the executor.
    pub queued: Vec<String>,
    /// Unacknowledged status updates, oldest first.
    pub updates: Vec<String>,
}

/// Why a checkpoint, or a message in one, cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Base64(#[from] base64::DecodeError),
    #[error("{0}")]
    Protobuf(#[from] prost::DecodeError),
}

pub fn encode<M: Message>(message: &M) -> String {
    STANDARD.encode(message.encode_to_vec())
}

pub fn decode<M: Message + Default>(text: &str) -> Result<M, CheckpointError> {
    let bytes = STANDARD.decode(text)?;
    Ok(M::decode(bytes.as_slice())?)
}

fn meta(work_dir: &Path) -> PathBuf {
    work_dir.join("meta")
}

/// A file name for a (framework, executor) pair that any id can make.
fn executor_file(work_dir: &Path, framework_id: &str, executor_id: &str) -> PathBuf {
    let hex: String = format!("{framework_id}\u{0}{executor_id}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    meta(work_dir).join("executors").join(format!("{hex}.json"))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, bytes)?;
    std::fs::rename(aside, path)
}

/// The agent's key for executor tokens: read from `meta/executor_token_key`,
/// or made (random, readable by the owner only) the first time, so that
/// executors keep their tokens across an agent restart.
pub fn token_key(work_dir: &Path) -> std::io::Result<crate::domain::auth::TokenKey> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = meta(work_dir).join("executor_token_key");
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(crate::domain::auth::TokenKey::new(key));
        }
        tracing::warn!(path = %path.display(), "the executor token key is not 32 bytes; making a new one");
    }
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    std::fs::create_dir_all(meta(work_dir))?;
    let aside = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&aside)?;
        file.write_all(&key)?;
    }
    std::fs::rename(aside, &path)?;
    Ok(crate::domain::auth::TokenKey::new(key))
}

pub fn write_agent_id(work_dir: &Path, agent_id: &str) -> std::io::Result<()> {
    write_atomically(&meta(work_dir).join("agent_id"), agent_id.as_bytes())
}

pub fn read_agent_id(work_dir: &Path) -> Option<String> {
    std::fs::read_to_string(meta(work_dir).join("agent_id"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub fn write_executor(
    work_dir: &Path,
    framework_id: &str,
    executor_id: &str,
    checkpoint: &ExecutorCheckpoint,
) -> std::io::Result<()> {
    let json = serde_json::to_vec(checkpoint).map_err(std::io::Error::other)?;
    write_atomically(&executor_file(work_dir, framework_id, executor_id), &json)
}

pub fn remove_executor(work_dir: &Path, framework_id: &str, executor_id: &str) {
    let _ = std::fs::remove_file(executor_file(work_dir, framework_id, executor_id));
}

/// Every checkpointed executor; unreadable files are reported and skipped.
pub fn read_executors(work_dir: &Path) -> Vec<ExecutorCheckpoint> {
    let dir = meta(work_dir).join("executors");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let path = e.path();
            let parsed = std::fs::read(&path)
                .map_err(CheckpointError::from)
                .and_then(|bytes| Ok(serde_json::from_slice(&bytes)?));
            match parsed {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "unreadable executor checkpoint; skipped");
                    None
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1;

    #[test]
    fn executors_and_the_agent_id_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let info = v1::FrameworkInfo {
            name: "f/1".into(),
            checkpoint: Some(true),
            ..Default::default()
        };
        let checkpoint = ExecutorCheckpoint {
            framework_info: encode(&info),
            executor_info: encode(&v1::ExecutorInfo::default()),
            container_id: "c".into(),
            sandbox: "/sandbox".into(),
            pid: 42,
            tasks: vec![("t".into(), v1::TaskState::TaskRunning as i32)],
            queued: vec![],
            updates: vec![],
        };
        write_executor(dir.path(), "fw/../x", "e 1", &checkpoint).unwrap();
        write_agent_id(dir.path(), "S1").unwrap();
        assert_eq!(read_executors(dir.path()), vec![checkpoint]);
        assert_eq!(read_agent_id(dir.path()).as_deref(), Some("S1"));
        assert_eq!(
            decode::<v1::FrameworkInfo>(&read_executors(dir.path())[0].framework_info).unwrap(),
            info
        );
        remove_executor(dir.path(), "fw/../x", "e 1");
        assert!(read_executors(dir.path()).is_empty());
    }
}
