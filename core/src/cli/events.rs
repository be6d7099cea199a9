//! `corral events`: follows the master's v1 operator event stream
//! (`SUBSCRIBE` on `/api/v1`, protobuf) and prints one line per event.

use std::{io::Write, time::Duration};

use futures::StreamExt;

use crate::{
    proto::v1::{
        master::{event, Call, Event},
        TaskState,
    },
    wire::{
        codec::{decode, encode, Encoding},
        recordio::RecordReader,
    },
};

type Out<'a> = &'a mut (dyn Write + Send);

/// How long to wait for the stream to start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `corral events` prints.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventsOptions {
    /// Stop after this many events (heartbeats not counted).
    pub count: Option<u64>,
    /// Each event as one line of JSON (the v1 API's mapping) instead of text.
    pub json: bool,
    /// Print heartbeats too.
    pub heartbeats: bool,
}

pub async fn run(
    master: &str,
    options: EventsOptions,
    out: Out<'_>,
    err: Out<'_>,
) -> std::io::Result<bool> {
    match follow(master, options, out).await {
        Ok(()) => Ok(true),
        Err(Failure::Io(e)) => Err(e),
        Err(Failure::Stream(message)) => {
            writeln!(err, "error: {message}")?;
            Ok(false)
        }
    }
}

enum Failure {
    Io(std::io::Error),
    Stream(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

async fn follow(master: &str, options: EventsOptions, out: Out<'_>) -> Result<(), Failure> {
    let url = format!("{}://{master}/api/v1", super::client::scheme());
    let call = Call {
        r#type: Some(crate::proto::v1::master::call::Type::Subscribe as i32),
        ..Default::default()
    };
    let http = super::client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| Failure::Stream(format!("cannot make an HTTP client: {e}")))?;
    let sent = http
        .post(&url)
        .header("content-type", Encoding::Protobuf.content_type())
        .header("accept", Encoding::Protobuf.content_type())
        .body(encode(&call, Encoding::Protobuf))
        .send();
    let response = tokio::time::timeout(CONNECT_TIMEOUT, sent)
        .await
        .map_err(|_| Failure::Stream(format!("{url}: no answer within {CONNECT_TIMEOUT:?}")))?
        .map_err(|e| Failure::Stream(format!("{url}: {e}")))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(Failure::Stream(format!(
            "{url} answered {status}: {}",
            body.trim()
        )));
    }
    let mut body = response.bytes_stream();
    let mut reader = RecordReader::default();
    let mut printed = 0u64;
    // Silence for this long means the connection is lost (Mesos' advice:
    // five heartbeat intervals); set once SUBSCRIBED says the interval.
    let mut silence = Duration::from_secs(75);
    loop {
        let chunk = match tokio::time::timeout(silence, body.next()).await {
            Err(_) => {
                return Err(Failure::Stream(format!(
                    "nothing from the master for {silence:?} (not even a heartbeat): the connection is lost"
                )))
            }
            Ok(None) => return Err(Failure::Stream("the master closed the stream".into())),
            Ok(Some(Err(e))) => return Err(Failure::Stream(format!("reading the stream: {e}"))),
            Ok(Some(Ok(chunk))) => chunk,
        };
        let records = reader
            .push(&chunk)
            .map_err(|e| Failure::Stream(format!("the stream is not RecordIO: {e}")))?;
        for record in records {
            let event: Event = decode(&record, Encoding::Protobuf)
                .map_err(|e| Failure::Stream(format!("an event does not decode: {e}")))?;
            let heartbeat = event.r#type == Some(event::Type::Heartbeat as i32);
            if let Some(seconds) = event
                .subscribed
                .as_ref()
                .and_then(|s| s.heartbeat_interval_seconds)
                .filter(|s| s.is_finite() && *s > 0.0)
            {
                silence = Duration::from_secs_f64(seconds * 5.0);
            }
            if heartbeat && !options.heartbeats {
                continue;
            }
            if options.json {
                out.write_all(&encode(&event, Encoding::Json))?;
                writeln!(out)?;
            } else {
                writeln!(out, "{}", line(&event))?;
            }
            out.flush()?;
            if !heartbeat {
                printed += 1;
                if options.count.is_some_and(|n| printed >= n) {
                    return Ok(());
                }
            }
        }
    }
}

fn state_name(state: i32) -> &'static str {
    TaskState::try_from(state).map_or("UNKNOWN", |s| s.as_str_name().trim_start_matches("TASK_"))
}

/// One event as a line: its type, then `key=value` pairs.
pub fn line(e: &Event) -> String {
    let kind = e
        .r#type
        .and_then(|t| event::Type::try_from(t).ok())
        .unwrap_or(event::Type::Unknown);
    let mut fields: Vec<(&str, String)> = Vec::new();
    match kind {
        event::Type::Subscribed => {
            let state = e.subscribed.as_ref().and_then(|s| s.get_state.as_ref());
            let count = |n: Option<usize>| n.unwrap_or(0).to_string();
            fields.push((
                "agents",
                count(state.and_then(|s| s.get_agents.as_ref().map(|a| a.agents.len()))),
            ));
            fields.push((
                "frameworks",
                count(state.and_then(|s| s.get_frameworks.as_ref().map(|f| f.frameworks.len()))),
            ));
            fields.push((
                "tasks",
                count(state.and_then(|s| s.get_tasks.as_ref().map(|t| t.tasks.len()))),
            ));
        }
        event::Type::TaskAdded => {
            if let Some(t) = e.task_added.as_ref().map(|a| &a.task) {
                fields.push(("task", t.task_id.value.clone()));
                fields.push(("name", t.name.clone()));
                fields.push(("framework", t.framework_id.value.clone()));
                fields.push(("agent", t.agent_id.value.clone()));
                fields.push(("state", state_name(t.state).to_owned()));
            }
        }
        event::Type::TaskUpdated => {
            if let Some(u) = &e.task_updated {
                fields.push(("task", u.status.task_id.value.clone()));
                fields.push(("framework", u.framework_id.value.clone()));
                fields.push(("state", state_name(u.state).to_owned()));
                if u.status.source.is_some() {
                    fields.push(("source", u.status.source().as_str_name().to_owned()));
                }
                if u.status.reason.is_some() {
                    fields.push(("reason", u.status.reason().as_str_name().to_owned()));
                }
                if let Some(m) = u.status.message.as_deref().filter(|m| !m.is_empty()) {
                    fields.push(("message", format!("{m:?}")));
                }
            }
        }
        event::Type::FrameworkAdded | event::Type::FrameworkUpdated => {
            let f = e
                .framework_added
                .as_ref()
                .map(|a| &a.framework)
                .or(e.framework_updated.as_ref().map(|u| &u.framework));
            if let Some(f) = f {
                let id = f.framework_info.id.as_ref().map(|i| i.value.clone());
                fields.push(("framework", id.unwrap_or_default()));
                fields.push(("name", f.framework_info.name.clone()));
                fields.push(("active", f.active.to_string()));
            }
        }
        event::Type::FrameworkRemoved => {
            if let Some(r) = &e.framework_removed {
                let id = r.framework_info.id.as_ref().map(|i| i.value.clone());
                fields.push(("framework", id.unwrap_or_default()));
                fields.push(("name", r.framework_info.name.clone()));
            }
        }
        event::Type::AgentAdded => {
            if let Some(a) = e.agent_added.as_ref().map(|a| &a.agent) {
                let id = a.agent_info.id.as_ref().map(|i| i.value.clone());
                fields.push(("agent", id.unwrap_or_default()));
                fields.push(("hostname", a.agent_info.hostname.clone()));
            }
        }
        event::Type::AgentRemoved => {
            if let Some(r) = &e.agent_removed {
                fields.push(("agent", r.agent_id.value.clone()));
            }
        }
        event::Type::Heartbeat | event::Type::Unknown => {}
    }
    let mut text = kind.as_str_name().to_owned();
    for (key, value) in fields {
        text.push(' ');
        text.push_str(key);
        text.push('=');
        text.push_str(&value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::{
        self,
        master::event::{TaskUpdated, Type},
        task_status::{Reason, Source},
    };

    #[test]
    fn a_task_update_reads_as_one_line_with_why() {
        let e = Event {
            r#type: Some(Type::TaskUpdated as i32),
            task_updated: Some(TaskUpdated {
                framework_id: v1::FrameworkId { value: "F1".into() },
                state: TaskState::TaskFailed as i32,
                status: v1::TaskStatus {
                    task_id: v1::TaskId {
                        value: "web-1".into(),
                    },
                    state: TaskState::TaskFailed as i32,
                    source: Some(Source::Executor as i32),
                    reason: Some(Reason::CommandExecutorFailed as i32),
                    message: Some("exited with status 2".into()),
                    ..Default::default()
                },
            }),
            ..Default::default()
        };
        assert_eq!(
            line(&e),
            "TASK_UPDATED task=web-1 framework=F1 state=FAILED source=SOURCE_EXECUTOR \
             reason=REASON_COMMAND_EXECUTOR_FAILED message=\"exited with status 2\""
        );
    }
}
