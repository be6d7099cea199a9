//! A simulated agent for the control-plane benchmark: it speaks the agent
//! protocol over HTTP like `corral agent` (subscribe, follow the event
//! stream, post calls), but runs nothing: a task is TASK_RUNNING as soon as
//! RUN_TASK arrives.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use corral::{
    proto::{
        agent::{self as ap, master_event},
        v1,
    },
    wire::{
        agent_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION},
        codec::{decode, encode, Encoding, PROTOBUF},
        recordio::RecordReader,
    },
};
use futures::StreamExt;

use crate::progress::{AbortOnDrop, Progress};

/// One simulated agent: registers (again, with its id and tasks, whenever
/// its stream breaks), reports every task it is given as running, and
/// answers pings.
pub async fn sim_agent(
    index: usize,
    master: String,
    client: reqwest::Client,
    resources: Vec<v1::Resource>,
    progress: Arc<Progress>,
    calls: CallSender,
) {
    let mut agent_id: Option<String> = None;
    let mut tasks: Vec<ap::RunningTask> = Vec::new();
    let subscribe_url = format!("http://{master}/agent/v1/subscribe");
    loop {
        let subscribe = ap::Subscribe {
            protocol_version: PROTOCOL_VERSION,
            agent_info: v1::AgentInfo {
                hostname: format!("sim-{index}"),
                id: agent_id.clone().map(|value| v1::AgentId { value }),
                resources: resources.clone(),
                ..Default::default()
            },
            tasks: tasks.clone(),
            endpoint: "127.0.0.1:9".to_owned(),
        };
        let sent = client
            .post(&subscribe_url)
            .header("content-type", PROTOBUF)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .body(encode(&subscribe, Encoding::Protobuf))
            .send()
            .await;
        if let Ok(response) = sent.and_then(|r| r.error_for_status()) {
            let mut body = response.bytes_stream();
            let mut reader = RecordReader::default();
            'stream: while let Some(Ok(chunk)) = body.next().await {
                let Ok(records) = reader.push(&chunk) else {
                    break;
                };
                for record in records {
                    let Ok(event) = decode::<ap::MasterEvent>(&record, Encoding::Protobuf) else {
                        break 'stream;
                    };
                    use master_event::Type;
                    match event.r#type.and_then(|t| Type::try_from(t).ok()) {
                        Some(Type::Registered) => {
                            if let Some(r) = event.registered {
                                agent_id = Some(r.agent_id.value);
                                progress.registered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(Type::RunTask) => {
                            let (Some(run), Some(id)) = (event.run_task, agent_id.clone()) else {
                                continue;
                            };
                            let uuid = progress.next_uuid.fetch_add(1, Ordering::Relaxed);
                            let call = running_update(&id, &run, uuid);
                            tasks.push(ap::RunningTask {
                                framework_info: run.framework_info,
                                task: run.task,
                                state: v1::TaskState::TaskRunning as i32,
                            });
                            let _ = calls.send(call);
                        }
                        Some(Type::Ping) => {
                            if let Some(id) = agent_id.clone() {
                                let call = ap::AgentCall {
                                    agent_id: v1::AgentId { value: id },
                                    r#type: Some(ap::agent_call::Type::Pong as i32),
                                    ..Default::default()
                                };
                                let _ = calls.send(call);
                            }
                        }
                        Some(Type::Shutdown) => {
                            agent_id = None;
                            tasks.clear();
                            break 'stream;
                        }
                        _ => {}
                    }
                }
            }
        }
        // Spread reconnections out, as agents' backoffs do.
        let jitter = (index as u64 * 7919) % 100;
        tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
    }
}

/// The TASK_RUNNING update for a task just given to the agent.
fn running_update(agent_id: &str, run: &master_event::RunTask, uuid: u64) -> ap::AgentCall {
    let task_id = run.task.task_id.clone();
    let mut uuid_bytes = uuid.to_be_bytes().to_vec();
    uuid_bytes.extend_from_slice(&[0xc0; 8]);
    ap::AgentCall {
        agent_id: v1::AgentId {
            value: agent_id.to_owned(),
        },
        r#type: Some(ap::agent_call::Type::Update as i32),
        update: Some(ap::agent_call::Update {
            framework_id: run.framework_info.id.clone().unwrap_or_default(),
            status: v1::TaskStatus {
                executor_id: Some(v1::ExecutorId {
                    value: task_id.value.clone(),
                }),
                task_id,
                state: v1::TaskState::TaskRunning as i32,
                source: Some(v1::task_status::Source::Executor as i32),
                agent_id: Some(v1::AgentId {
                    value: agent_id.to_owned(),
                }),
                uuid: Some(uuid_bytes),
                timestamp: Some(crate::progress::now_seconds()),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// Where a simulated agent's calls go: one of a few posters, each sending
/// its agents' calls one at a time, in order, over one connection (an
/// agent per connection would need twice the open files this machine
/// allows at 10k agents).
pub type CallSender = tokio::sync::mpsc::UnboundedSender<ap::AgentCall>;

/// Posters shared by all simulated agents.
pub const POSTERS: usize = 64;

/// Starts `agents` simulated agents of `total` resources each, reaching
/// the master at `master` (`host:port`), and waits until all registered.
pub async fn start_agents(
    master: &str,
    agents: usize,
    total: &[corral::domain::Resource],
    progress: &Arc<Progress>,
    handles: &mut Vec<AbortOnDrop>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let posters = start_posters(master, handles);
    let resources = corral::domain::convert::resources_to_proto(total);
    for index in 0..agents {
        handles.push(AbortOnDrop(tokio::spawn(sim_agent(
            index,
            master.to_owned(),
            client.clone(),
            resources.clone(),
            progress.clone(),
            posters[index % POSTERS].clone(),
        ))));
    }
    let registered = &progress.registered;
    crate::control_plane::wait_until(
        "agents registered",
        || registered.load(Ordering::Relaxed),
        agents,
        Duration::from_secs(300),
    )
    .await
}

pub fn start_posters(master: &str, handles: &mut Vec<AbortOnDrop>) -> Vec<CallSender> {
    (0..POSTERS)
        .map(|_| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            handles.push(AbortOnDrop(tokio::spawn(corral::agent::post_calls(
                reqwest::Client::new(),
                format!("http://{master}/agent/v1/call"),
                rx,
            ))));
            tx
        })
        .collect()
}
