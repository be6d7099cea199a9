//! Building `TaskStatus` messages and reading task states, for the master,
//! the agent and the executors alike.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::proto::v1::{self, task_status::Reason, task_status::Source, TaskState};

/// Seconds since the epoch, as Mesos stamps statuses.
pub fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A status update. `uuid` is set only for updates that must be
/// acknowledged (those from agents and executors).
#[derive(Debug, Clone)]
pub struct StatusBuilder {
    status: v1::TaskStatus,
}

impl StatusBuilder {
    pub fn new(task_id: &str, state: TaskState, source: Source) -> Self {
        StatusBuilder {
            status: v1::TaskStatus {
                task_id: v1::TaskId {
                    value: task_id.to_owned(),
                },
                state: state as i32,
                source: Some(source as i32),
                timestamp: Some(now_seconds()),
                ..Default::default()
            },
        }
    }

    pub fn reason(mut self, reason: Reason) -> Self {
        self.status.reason = Some(reason as i32);
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.status.message = Some(message.into());
        self
    }

    pub fn agent(mut self, agent_id: &str) -> Self {
        self.status.agent_id = Some(v1::AgentId {
            value: agent_id.to_owned(),
        });
        self
    }

    pub fn executor(mut self, executor_id: Option<&str>) -> Self {
        self.status.executor_id = executor_id.map(|id| v1::ExecutorId {
            value: id.to_owned(),
        });
        self
    }

    /// Gives the update a fresh 16-byte uuid, to be acknowledged.
    pub fn with_uuid(mut self) -> Self {
        self.status.uuid = Some(uuid::Uuid::new_v4().as_bytes().to_vec());
        self
    }

    pub fn build(self) -> v1::TaskStatus {
        self.status
    }
}

/// Whether a task in `state` will never change state again.
pub fn is_terminal(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
    )
}

/// The state of a status, `TASK_LOST` for a number this build does not know.
pub fn state_of(status: &v1::TaskStatus) -> TaskState {
    TaskState::try_from(status.state).unwrap_or(TaskState::TaskLost)
}
