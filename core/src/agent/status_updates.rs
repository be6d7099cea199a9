//! The agent's status update manager: per task, an ordered stream of
//! updates; the oldest unacknowledged one is sent to the master, and resent
//! with backoff until the framework acknowledges its uuid.

use std::{
    collections::{BTreeMap, VecDeque},
    time::Duration,
};

use tokio::time::Instant;

use crate::proto::v1;

#[derive(Debug)]
struct Stream {
    pending: VecDeque<v1::TaskStatus>,
    /// When the head was last sent, and the wait before resending it.
    sent: Option<(Instant, Duration)>,
}

/// Every task's stream, keyed by (framework id, task id).
#[derive(Debug, Default)]
pub struct StatusUpdates {
    streams: BTreeMap<(String, String), Stream>,
}

impl StatusUpdates {
    /// Queues `status`; returns it when it is the new head (to send now).
    pub fn add(&mut self, framework_id: &str, status: v1::TaskStatus) -> Option<v1::TaskStatus> {
        let key = (framework_id.to_owned(), status.task_id.value.clone());
        let stream = self.streams.entry(key).or_insert_with(|| Stream {
            pending: VecDeque::new(),
            sent: None,
        });
        stream.pending.push_back(status);
        (stream.pending.len() == 1).then(|| stream.pending[0].clone())
    }

    /// How many updates wait for an acknowledgement, over all tasks.
    pub fn pending(&self) -> usize {
        self.streams.values().map(|s| s.pending.len()).sum()
    }

    /// The framework acknowledged `uuid` for the task. Returns the next
    /// update to send, if any; `Err` when the uuid is not the head's (a
    /// duplicate or stale acknowledgement, ignored).
    pub fn acknowledge(
        &mut self,
        framework_id: &str,
        task_id: &str,
        uuid: &[u8],
    ) -> Result<Option<v1::TaskStatus>, ()> {
        let key = (framework_id.to_owned(), task_id.to_owned());
        let stream = self.streams.get_mut(&key).ok_or(())?;
        if stream.pending.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return Err(());
        }
        stream.pending.pop_front();
        stream.sent = None;
        if stream.pending.is_empty() {
            self.streams.remove(&key);
            return Ok(None);
        }
        Ok(stream.pending.front().cloned())
    }

    /// Records that the head of the task's stream was just sent.
    pub fn mark_sent(&mut self, framework_id: &str, task_id: &str, first_wait: Duration) {
        if let Some(stream) = self
            .streams
            .get_mut(&(framework_id.to_owned(), task_id.to_owned()))
        {
            let wait = stream.sent.map_or(first_wait, |(_, wait)| wait);
            stream.sent = Some((Instant::now(), wait));
        }
    }

    /// Heads due for (re)sending: never sent, or unacknowledged for longer
    /// than their wait, which then doubles up to `max_wait`.
    pub fn due(
        &mut self,
        first_wait: Duration,
        max_wait: Duration,
    ) -> Vec<(String, v1::TaskStatus)> {
        let now = Instant::now();
        let mut out = Vec::new();
        for ((framework_id, _), stream) in &mut self.streams {
            let due = match stream.sent {
                None => true,
                Some((at, wait)) => now.duration_since(at) >= wait,
            };
            if due {
                let wait = stream
                    .sent
                    .map_or(first_wait, |(_, wait)| (wait * 2).min(max_wait));
                stream.sent = Some((now, wait));
                out.push((framework_id.clone(), stream.pending[0].clone()));
            }
        }
        out
    }

    /// The task's unacknowledged updates, oldest first.
    pub fn pending_of(&self, framework_id: &str, task_id: &str) -> Vec<v1::TaskStatus> {
        self.streams
            .get(&(framework_id.to_owned(), task_id.to_owned()))
            .map(|s| s.pending.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets every stream (sent ones are resent by `due`).
    pub fn reset_sent(&mut self) {
        for stream in self.streams.values_mut() {
            stream.sent = None;
        }
    }

    /// Whether the task's stream still holds updates.
    #[cfg(test)]
    pub fn has_pending(&self, framework_id: &str, task_id: &str) -> bool {
        self.streams
            .contains_key(&(framework_id.to_owned(), task_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::status::StatusBuilder,
        proto::v1::{task_status::Source, TaskState},
    };

    fn status(state: TaskState) -> v1::TaskStatus {
        StatusBuilder::new("t", state, Source::Executor)
            .with_uuid()
            .build()
    }

    #[test]
    fn updates_go_out_in_order_one_at_a_time() {
        let mut s = StatusUpdates::default();
        let running = status(TaskState::TaskRunning);
        let finished = status(TaskState::TaskFinished);
        assert_eq!(s.add("f", running.clone()), Some(running.clone()));
        assert_eq!(
            s.add("f", finished.clone()),
            None,
            "waits for the first ack"
        );
        assert!(
            s.acknowledge("f", "t", finished.uuid.as_deref().unwrap())
                .is_err(),
            "not the head"
        );
        assert_eq!(
            s.acknowledge("f", "t", running.uuid.as_deref().unwrap()),
            Ok(Some(finished.clone()))
        );
        assert_eq!(
            s.acknowledge("f", "t", finished.uuid.as_deref().unwrap()),
            Ok(None)
        );
        assert!(!s.has_pending("f", "t"));
    }

    #[tokio::test(start_paused = true)]
    async fn unacknowledged_heads_are_resent_with_backoff() {
        let mut s = StatusUpdates::default();
        let running = status(TaskState::TaskRunning);
        s.add("f", running.clone());
        let (first, max) = (Duration::from_secs(10), Duration::from_secs(30));
        s.mark_sent("f", "t", first);
        assert!(s.due(first, max).is_empty());
        tokio::time::advance(Duration::from_secs(10)).await;
        let resent = s.due(first, max);
        assert_eq!(resent.len(), 1);
        assert_eq!(
            resent[0].1.uuid, running.uuid,
            "a resend carries the same uuid"
        );
        tokio::time::advance(Duration::from_secs(19)).await;
        assert!(s.due(first, max).is_empty(), "the wait doubled to 20 s");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(s.due(first, max).len(), 1);
    }
}
