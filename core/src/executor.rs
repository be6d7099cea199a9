//! The command executor (`corral executor`): a Mesos v1 executor that runs
//! one task's command, as Mesos' built-in command executor does. The agent
//! starts it with the `MESOS_*` environment; it subscribes over
//! `/api/v1/executor`, reports TASK_RUNNING, then TASK_FINISHED,
//! TASK_FAILED (with the exit status) or TASK_KILLED, and exits once its
//! terminal update is acknowledged.

use std::{process::Stdio, time::Duration};

use futures::StreamExt;
use nix::sys::signal::Signal;
use tokio::{process::Command, sync::mpsc};

use crate::{
    domain::status::StatusBuilder,
    proto::v1::{
        self,
        executor::{call, event, Call, Event},
        task_status::{Reason, Source},
        TaskState,
    },
    wire::{
        codec::{decode, encode, Encoding, PROTOBUF},
        recordio::RecordReader,
    },
};

/// How long a killed task gets between SIGTERM and SIGKILL, unless its kill
/// policy says otherwise.
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error(
        "missing environment variable {0} (the executor is started by a Corral or Mesos agent)"
    )]
    MissingEnv(&'static str),
    #[error("cannot reach the agent at {endpoint}: {source}")]
    Agent {
        endpoint: String,
        source: AgentLinkError,
    },
}

/// What went wrong talking to the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentLinkError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("subscription refused ({code}): {text}")]
    Refused {
        code: reqwest::StatusCode,
        text: String,
    },
    #[error("the event stream ended")]
    StreamEnded,
    #[error("the agent did not recover within {timeout:?}: {last}")]
    NotRecovered {
        timeout: Duration,
        #[source]
        last: Box<AgentLinkError>,
    },
    #[error("{0}")]
    Stream(#[from] crate::wire::recordio::RecordIoError),
}

fn env(name: &'static str) -> Result<String, ExecutorError> {
    std::env::var(name).map_err(|_| ExecutorError::MissingEnv(name))
}

/// The bytes of an executor event stream.
type EventBytes = futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>;

struct Session {
    client: reqwest::Client,
    url: String,
    framework_id: String,
    executor_id: String,
    /// Updates sent and not yet acknowledged, oldest first: resent after
    /// re-subscribing to a recovered agent.
    unacknowledged: std::sync::Mutex<Vec<v1::TaskStatus>>,
}

impl Session {
    fn call(&self, kind: call::Type) -> Call {
        Call {
            executor_id: v1::ExecutorId {
                value: self.executor_id.clone(),
            },
            framework_id: v1::FrameworkId {
                value: self.framework_id.clone(),
            },
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    async fn post(&self, call: &Call) -> Result<reqwest::Response, AgentLinkError> {
        Ok(self
            .client
            .post(&self.url)
            .header("content-type", PROTOBUF)
            .header("accept", PROTOBUF)
            .body(encode(call, Encoding::Protobuf))
            .send()
            .await?)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<v1::TaskStatus>> {
        self.unacknowledged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends an update; it is kept until acknowledged. Returns whether the
    /// agent took it.
    async fn update(&self, status: v1::TaskStatus) -> bool {
        self.pending().push(status.clone());
        self.send(status).await
    }

    async fn send(&self, status: v1::TaskStatus) -> bool {
        let mut call = self.call(call::Type::Update);
        call.update = Some(call::Update { status });
        match self.post(&call).await {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                eprintln!(
                    "corral executor: the agent refused an update: {}",
                    r.status()
                );
                false
            }
            Err(e) => {
                eprintln!("corral executor: sending an update failed: {e}");
                false
            }
        }
    }

    fn acknowledged(&self, uuid: &[u8]) {
        self.pending().retain(|s| s.uuid.as_deref() != Some(uuid));
    }

    /// Subscribes; the event stream's bytes.
    async fn subscribe(&self) -> Result<EventBytes, AgentLinkError> {
        let mut call = self.call(call::Type::Subscribe);
        let pending = self.pending().clone();
        call.subscribe = Some(call::Subscribe {
            unacknowledged_updates: pending
                .into_iter()
                .map(|status| call::Update { status })
                .collect(),
            ..Default::default()
        });
        let response = self.post(&call).await?;
        if !response.status().is_success() {
            let code = response.status();
            let text = response.text().await.unwrap_or_default();
            return Err(AgentLinkError::Refused { code, text });
        }
        Ok(response.bytes_stream().boxed())
    }

    /// The agent went away. A checkpointing framework's executor waits for
    /// the agent to recover (up to `timeout`), re-subscribes and resends
    /// what was not acknowledged; otherwise there is nobody to report to.
    async fn resubscribe(
        &self,
        timeout: Option<Duration>,
        backoff_max: Duration,
    ) -> Result<EventBytes, AgentLinkError> {
        let Some(timeout) = timeout else {
            return Err(AgentLinkError::StreamEnded);
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::time::sleep(backoff).await;
            match self.subscribe().await {
                Ok(stream) => {
                    eprintln!("corral executor: re-subscribed to the recovered agent");
                    let pending = self.pending().clone();
                    for status in pending {
                        self.send(status).await;
                    }
                    return Ok(stream);
                }
                Err(last) if tokio::time::Instant::now() >= deadline => {
                    return Err(AgentLinkError::NotRecovered {
                        timeout,
                        last: Box::new(last),
                    })
                }
                Err(_) => backoff = (backoff * 2).min(backoff_max),
            }
        }
    }
}

/// The task being run.
struct Running {
    task_id: String,
    pid: Option<u32>,
    killed: bool,
    /// The uuid of the terminal update, once sent.
    terminal_uuid: Option<Vec<u8>>,
}

fn status(task_id: &str, state: TaskState) -> StatusBuilder {
    StatusBuilder::new(task_id, state, Source::Executor).with_uuid()
}

fn command_for(info: &v1::CommandInfo) -> Option<Command> {
    let value = info.value.clone()?;
    if info.shell.unwrap_or(true) {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(value);
        Some(c)
    } else {
        let mut c = Command::new(&value);
        if let Some((first, rest)) = info.arguments.split_first() {
            c.arg0(first);
            c.args(rest);
        }
        Some(c)
    }
}

/// Runs the executor until its task is done and acknowledged.
/// A Mesos duration such as `15mins`, `2secs`, `500ms`.
fn mesos_duration(text: &str) -> Option<Duration> {
    let digits: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = digits.parse().ok()?;
    let secs = match &text[digits.len()..] {
        "ns" => value / 1e9,
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "secs" | "s" => value,
        "mins" => value * 60.0,
        "hrs" => value * 3600.0,
        "days" => value * 86400.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

use crate::wire::EXECUTOR_TOKEN_VAR as TOKEN_VAR;

/// A client for the agent: with the executor's token on every request.
fn agent_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(token) = std::env::var(TOKEN_VAR) {
        if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")) {
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
    }
    let builder = reqwest::Client::builder().default_headers(headers);
    let builder = match agent_ca() {
        Some(ca) => crate::wire::tls::trusting(builder, &ca).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot trust the agent's CA");
            reqwest::Client::builder().https_only(true)
        }),
        None => builder,
    };
    builder.build().unwrap_or_default()
}

/// The CA that verifies the agent, when it serves HTTPS.
fn agent_ca() -> Option<std::path::PathBuf> {
    std::env::var_os(crate::wire::tls::AGENT_CA_VAR)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

pub async fn run() -> Result<(), ExecutorError> {
    let endpoint = env("MESOS_AGENT_ENDPOINT")?;
    let session = Session {
        client: agent_client(),
        url: format!(
            "{}://{endpoint}/api/v1/executor",
            crate::wire::tls::scheme(agent_ca().as_deref())
        ),
        framework_id: env("MESOS_FRAMEWORK_ID")?,
        executor_id: env("MESOS_EXECUTOR_ID")?,
        unacknowledged: std::sync::Mutex::new(Vec::new()),
    };
    let agent_error = |source: AgentLinkError| ExecutorError::Agent {
        endpoint: endpoint.clone(),
        source,
    };
    // With checkpointing, the executor outlives an agent restart.
    let recovery_timeout = (std::env::var("MESOS_CHECKPOINT").as_deref() == Ok("1")).then(|| {
        std::env::var("MESOS_RECOVERY_TIMEOUT")
            .ok()
            .and_then(|t| mesos_duration(&t))
            .unwrap_or(Duration::from_secs(15 * 60))
    });
    let backoff_max = std::env::var("MESOS_SUBSCRIPTION_BACKOFF_MAX")
        .ok()
        .and_then(|t| mesos_duration(&t))
        .unwrap_or(Duration::from_secs(2));
    let mut events = session.subscribe().await.map_err(agent_error)?;
    let mut reader = RecordReader::default();
    let (exits_tx, mut exits) = mpsc::unbounded_channel::<std::process::ExitStatus>();
    let mut running: Option<Running> = None;
    let mut shutdown_deadline: Option<tokio::time::Instant> = None;

    loop {
        let deadline = shutdown_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            chunk = events.next() => {
                let Some(Ok(chunk)) = chunk else {
                    events = match session.resubscribe(recovery_timeout, backoff_max).await {
                        Ok(events) => events,
                        Err(e) => {
                            // Nobody is left to report to: the task goes too.
                            if let Some(pid) = running.as_ref().and_then(|t| t.pid).and_then(|p| i32::try_from(p).ok()) {
                                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
                            }
                            return Err(agent_error(e));
                        }
                    };
                    reader = RecordReader::default();
                    continue;
                };
                for record in reader.push(&chunk).map_err(|e| agent_error(e.into()))? {
                    let Ok(event) = decode::<Event>(&record, Encoding::Protobuf) else { continue };
                    if handle(&session, event, &mut running, &exits_tx, &mut shutdown_deadline).await {
                        return Ok(());
                    }
                }
            }
            Some(exit) = exits.recv() => {
                if let Some(task) = running.as_mut() {
                    let update = if task.killed {
                        status(&task.task_id, TaskState::TaskKilled).message("Command terminated after a kill request")
                    } else if exit.success() {
                        status(&task.task_id, TaskState::TaskFinished).message("Command exited with status 0")
                    } else {
                        status(&task.task_id, TaskState::TaskFailed)
                            .reason(Reason::CommandExecutorFailed)
                            .message(format!("Command {}", describe(exit)))
                    };
                    let update = update.build();
                    task.terminal_uuid = update.uuid.clone();
                    // Leave even if the acknowledgement never comes (once the
                    // agent has the update: it delivers it on its own).
                    if session.update(update).await {
                        shutdown_deadline.get_or_insert(tokio::time::Instant::now() + Duration::from_secs(30));
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline), if shutdown_deadline.is_some() => return Ok(()),
        }
    }
}

fn describe(exit: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (exit.code(), exit.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("terminated by signal {signal}"),
        _ => "exited".into(),
    }
}

fn kill(task: &mut Running, grace: Duration) {
    task.killed = true;
    let Some(pid) = task.pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let group = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::killpg(group, Signal::SIGTERM);
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
    });
}

/// Handles one event; `true` means the executor is done.
async fn handle(
    session: &Session,
    event: Event,
    running: &mut Option<Running>,
    exits: &mpsc::UnboundedSender<std::process::ExitStatus>,
    shutdown_deadline: &mut Option<tokio::time::Instant>,
) -> bool {
    match event.r#type.and_then(|t| event::Type::try_from(t).ok()) {
        Some(event::Type::Launch) => {
            let Some(launch) = event.launch else {
                return false;
            };
            let task = launch.task;
            let task_id = task.task_id.value.clone();
            if running.is_some() {
                let refused = status(&task_id, TaskState::TaskFailed)
                    .message("the command executor runs a single task")
                    .build();
                session.update(refused).await;
                return false;
            }
            let info = task.command.clone().unwrap_or_default();
            let Some(mut command) = command_for(&info) else {
                session
                    .update(
                        status(&task_id, TaskState::TaskFailed)
                            .message("the task has no command")
                            .build(),
                    )
                    .await;
                return false;
            };
            let env = info.environment.iter().flat_map(|e| &e.variables);
            command
                .envs(env.map(|v| (v.name.clone(), v.value.clone().unwrap_or_default())))
                // The task may not act as its executor (as in Mesos).
                .env_remove(TOKEN_VAR)
                .stdin(Stdio::null())
                .process_group(0);
            match command.spawn() {
                Ok(mut child) => {
                    *running = Some(Running {
                        task_id: task_id.clone(),
                        pid: child.id(),
                        killed: false,
                        terminal_uuid: None,
                    });
                    let exits = exits.clone();
                    tokio::spawn(async move {
                        if let Ok(exit) = child.wait().await {
                            let _ = exits.send(exit);
                        }
                    });
                    session
                        .update(status(&task_id, TaskState::TaskRunning).build())
                        .await;
                }
                Err(e) => {
                    let failed = status(&task_id, TaskState::TaskFailed)
                        .reason(Reason::CommandExecutorFailed)
                        .message(format!("Failed to start the command: {e}"))
                        .build();
                    *running = Some(Running {
                        task_id,
                        pid: None,
                        killed: false,
                        terminal_uuid: failed.uuid.clone(),
                    });
                    session.update(failed).await;
                }
            }
        }
        Some(event::Type::Kill) => {
            let grace = event
                .kill
                .and_then(|k| k.kill_policy)
                .and_then(|p| p.grace_period)
                .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
                .unwrap_or(DEFAULT_KILL_GRACE);
            if let Some(task) = running.as_mut() {
                kill(task, grace);
            }
        }
        Some(event::Type::Shutdown) => {
            match running.as_mut() {
                Some(task) if task.terminal_uuid.is_none() => kill(task, DEFAULT_KILL_GRACE),
                Some(_) => {}
                None => return true,
            }
            shutdown_deadline.get_or_insert(tokio::time::Instant::now() + Duration::from_secs(10));
        }
        Some(event::Type::Acknowledged) => {
            let acked = event.acknowledged.map(|a| a.uuid);
            if let Some(uuid) = &acked {
                session.acknowledged(uuid);
            }
            if running
                .as_ref()
                .is_some_and(|t| t.terminal_uuid.is_some() && t.terminal_uuid == acked)
            {
                return true;
            }
        }
        Some(event::Type::Error) => {
            eprintln!(
                "corral executor: error from the agent: {}",
                event.error.map(|e| e.message).unwrap_or_default()
            );
        }
        _ => {}
    }
    false
}
