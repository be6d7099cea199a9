//! The agent's connection to the master: subscribe, follow the event
//! stream, post calls, and reconnect (re-registering) whenever the stream
//! breaks or the master falls silent.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use tokio::sync::mpsc;

use super::state::Agent;
use crate::{
    domain::convert::resources_to_proto,
    proto::agent::{self as ap, master_event},
    wire::{
        agent_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION},
        codec::{decode, encode, Encoding, PROTOBUF},
        recordio::{RecordIoError, RecordReader},
    },
};

/// A client for the master: with the agent's credential (HTTP Basic) on
/// every request when it has one.
fn master_client(
    credential: Option<&crate::domain::auth::Credential>,
    ca: Option<&std::path::Path>,
) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(c) = credential {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", c.principal, c.secret));
        if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&format!("Basic {token}")) {
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
    }
    let builder = reqwest::Client::builder().default_headers(headers);
    let builder = match ca {
        Some(ca) => match crate::wire::tls::trusting(builder, ca) {
            Ok(b) => b,
            Err(e) => {
                // Checked at start (`cli::daemons`); an HTTPS call then
                // fails and is retried, saying why.
                tracing::error!(error = %e, "cannot trust the master's CA");
                reqwest::Client::builder().https_only(true)
            }
        },
        None => builder,
    };
    builder.build().unwrap_or_default()
}

/// Keeps the agent connected to the master until the task is aborted.
pub async fn maintain(agent: Arc<Agent>) {
    let client = master_client(
        agent.config.credential.as_ref(),
        agent.config.tls_ca.as_deref(),
    );
    let mut backoff = Duration::from_millis(100);
    loop {
        let master = match &agent.config.leader {
            None => agent.config.master.clone(),
            Some(leader) => leading(leader.clone(), &agent.config.master).await,
        };
        match session(&agent, &client, &master).await {
            Ok(()) => {
                tracing::warn!(%master, "the master closed the connection or no longer leads; re-registering");
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                tracing::warn!(error = %e, %master, "cannot reach the master; retrying")
            }
        }
        agent.lock().to_master = None;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// `host:port` of the leading master, waiting while none leads.
async fn leading(mut leader: tokio::sync::watch::Receiver<Option<String>>, url: &str) -> String {
    if leader.borrow().is_none() {
        let url = crate::domain::master_detection::shown(url);
        tracing::warn!(master = %url, "no master leads; waiting for one");
    }
    let found = leader
        .wait_for(Option::is_some)
        .await
        .map(|found| found.clone().unwrap_or_default());
    match found {
        Ok(found) => found,
        // The detector is gone (the agent is stopping): wait to be aborted.
        Err(_) => std::future::pending().await,
    }
}

/// Completes when the leader is no longer `master`; never without a
/// detected master.
async fn leader_moved(leader: Option<tokio::sync::watch::Receiver<Option<String>>>, master: &str) {
    match leader {
        Some(mut leader) => {
            let _ = leader.wait_for(|now| now.as_deref() != Some(master)).await;
        }
        None => std::future::pending().await,
    }
}

/// Why a registration with the master ended other than by the master
/// closing its stream.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Unreachable(reqwest::Error),
    #[error("the master refused the registration ({status}): {body}")]
    Refused {
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("no word from the master for {0:?}")]
    Silent(Duration),
    #[error("the master's stream broke: {0}")]
    Broken(reqwest::Error),
    #[error("the master's stream is not RecordIO: {0}")]
    Framing(#[from] RecordIoError),
}

/// One registration: runs until the stream ends or the master is silent
/// for longer than `master_timeout`.
async fn session(
    agent: &Arc<Agent>,
    client: &reqwest::Client,
    master: &str,
) -> Result<(), LinkError> {
    let mut info = agent.info.clone();
    info.resources = resources_to_proto(&agent.config.resources_detected);
    info.id = agent
        .lock()
        .agent_id
        .clone()
        .map(|value| crate::proto::v1::AgentId { value });
    let subscribe = ap::Subscribe {
        protocol_version: PROTOCOL_VERSION,
        agent_info: info,
        tasks: agent.running_tasks(),
        endpoint: agent.endpoint.clone(),
    };
    let base = format!(
        "{}://{master}",
        crate::wire::tls::scheme(agent.config.tls_ca.as_deref()),
    );
    let response = client
        .post(format!("{base}/agent/v1/subscribe"))
        .header("content-type", PROTOBUF)
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .body(encode(&subscribe, Encoding::Protobuf))
        .send()
        .await
        .map_err(LinkError::Unreachable)?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(LinkError::Refused { status, body });
    }

    // Calls go out one at a time, in order, on their own task.
    let (tx, rx) = mpsc::unbounded_channel();
    agent.lock().to_master = Some(tx);
    let poster = AbortOnDrop(tokio::spawn(post_calls(
        client.clone(),
        format!("{base}/agent/v1/call"),
        rx,
    )));

    let mut body = response.bytes_stream();
    let mut reader = RecordReader::default();
    let silence = agent.config.master_timeout;
    let moved = leader_moved(agent.config.leader.clone(), master);
    tokio::pin!(moved);
    let result = loop {
        let next = tokio::select! {
            next = tokio::time::timeout(silence, body.next()) => next,
            () = &mut moved => {
                tracing::info!(%master, "another master leads now");
                break Ok(());
            }
        };
        let chunk = match next {
            Err(_) => break Err(LinkError::Silent(silence)),
            Ok(None) => break Ok(()),
            Ok(Some(Err(e))) => break Err(LinkError::Broken(e)),
            Ok(Some(Ok(chunk))) => chunk,
        };
        let records = match reader.push(&chunk) {
            Ok(r) => r,
            Err(e) => break Err(e.into()),
        };
        for record in records {
            match decode::<ap::MasterEvent>(&record, Encoding::Protobuf) {
                Ok(event) => handle(agent, event).await,
                Err(e) => tracing::warn!(error = %e, "ignoring an undecodable master event"),
            }
        }
    };
    drop(poster);
    result
}

/// Stops the call poster however the session ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Posts `calls` to the master's call endpoint `url`, one at a time, in
/// order, until the sender side is dropped.
pub async fn post_calls(
    client: reqwest::Client,
    url: String,
    mut calls: mpsc::UnboundedReceiver<ap::AgentCall>,
) {
    while let Some(call) = calls.recv().await {
        let sent = client
            .post(&url)
            .header("content-type", PROTOBUF)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .body(encode(&call, Encoding::Protobuf))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(status = %r.status(), "the master refused a call"),
            // Updates are resent by the status update manager.
            Err(e) => tracing::warn!(error = %e, "a call to the master failed"),
        }
    }
}

/// Handles one master event. Events are handled in order: a task is in the
/// agent's book before the next event (say, its kill) is looked at, but its
/// container is launched in the background.
async fn handle(agent: &Arc<Agent>, event: ap::MasterEvent) {
    use master_event::Type;
    match event.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::Registered) => {
            if let Some(r) = event.registered {
                agent.on_registered(r.agent_id.value);
            }
        }
        Some(Type::RunTask) => {
            if let Some(r) = event.run_task {
                agent.on_run_task(r.framework_info, r.task).await;
            }
        }
        Some(Type::KillTask) => {
            if let Some(k) = event.kill_task {
                agent.on_kill_task(&k.framework_id.value, &k.task_id.value, k.kill_policy);
            }
        }
        Some(Type::ShutdownExecutor) => {
            if let Some(s) = event.shutdown_executor {
                agent.on_shutdown_executor(&s.framework_id.value, &s.executor_id.value);
            }
        }
        Some(Type::ShutdownFramework) => {
            if let Some(s) = event.shutdown_framework {
                agent.on_shutdown_framework(&s.framework_id.value);
            }
        }
        Some(Type::Acknowledge) => {
            if let Some(a) = event.acknowledge {
                agent.on_acknowledge(&a.framework_id.value, &a.task_id.value, &a.uuid);
            }
        }
        Some(Type::Message) => {
            if let Some(m) = event.message {
                agent.on_message(&m.framework_id.value, &m.executor_id.value, m.data);
            }
        }
        Some(Type::Ping) => agent.on_ping(),
        Some(Type::Shutdown) => {
            let message = event.shutdown.map(|s| s.message).unwrap_or_default();
            agent.on_removed(&message);
        }
        Some(Type::Unknown) | None => tracing::warn!("ignoring a master event of unknown type"),
    }
}
