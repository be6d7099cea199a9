//! The master never stalls on an operator's read (issue 19): while a loop
//! fetches `/master/state` of many tasks, scheduler calls and agents'
//! status updates are still answered within 50 ms (p99). Before the
//! snapshot, the state was serialized under the master's lock and every
//! call waited for the whole write (about a second at this scale in a
//! debug build).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
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
use serde_json::json;

use crate::common::{self, Cluster, Scheduler};

/// Tasks the simulated agents report running, in all.
const TASKS: usize = 30_000;
/// Simulated agents (one subscription of 30k tasks would pass the 2 MiB
/// body limit).
const AGENTS: usize = 10;
const PER_AGENT: usize = TASKS / AGENTS;
/// The p99 a call may take while the state is fetched in a loop.
const STALL_LIMIT: Duration = Duration::from_millis(50);

fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    }
}

/// Registers agent `index`, which already runs its `PER_AGENT` tasks of
/// `framework_id` (as one re-registering after a restart would); returns
/// its id. Its stream is read on (pings) until the test ends.
async fn register_loaded_agent(
    master: std::net::SocketAddr,
    framework_id: &str,
    index: usize,
) -> String {
    let framework_info = v1::FrameworkInfo {
        id: Some(v1::FrameworkId {
            value: framework_id.into(),
        }),
        user: "tester".into(),
        name: "corral-test".into(),
        ..Default::default()
    };
    let tasks = (index * PER_AGENT..(index + 1) * PER_AGENT)
        .map(|i| ap::RunningTask {
            framework_info: framework_info.clone(),
            task: v1::TaskInfo {
                name: format!("task {i}"),
                task_id: v1::TaskId {
                    value: format!("t-{i}"),
                },
                agent_id: v1::AgentId::default(),
                resources: vec![scalar("cpus", 0.01), scalar("mem", 1.0)],
                command: Some(v1::CommandInfo {
                    value: Some("sleep 3600".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            state: v1::TaskState::TaskRunning as i32,
        })
        .collect();
    let subscribe = ap::Subscribe {
        protocol_version: PROTOCOL_VERSION,
        agent_info: v1::AgentInfo {
            hostname: format!("loaded-sim-{index}"),
            resources: vec![
                scalar("cpus", PER_AGENT as f64 * 0.01),
                scalar("mem", PER_AGENT as f64),
            ],
            ..Default::default()
        },
        tasks,
        endpoint: "127.0.0.1:9".into(),
    };
    let response = common::stream_client()
        .post(format!("http://{master}/agent/v1/subscribe"))
        .header("content-type", PROTOBUF)
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .body(encode(&subscribe, Encoding::Protobuf))
        .send()
        .await
        .expect("the simulated agent subscribes");
    assert!(response.status().is_success(), "{}", response.status());
    let mut body = response.bytes_stream();
    let mut reader = RecordReader::default();
    let deadline = tokio::time::Instant::now() + common::EVENT_TIMEOUT;
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("REGISTERED within the event timeout")
            .expect("the agent stream stays open")
            .expect("the agent stream reads");
        for record in reader.push(&chunk).unwrap() {
            let event: ap::MasterEvent = decode(&record, Encoding::Protobuf).unwrap();
            if event.r#type == Some(master_event::Type::Registered as i32) {
                let id = event.registered.unwrap().agent_id.value;
                // Keep reading the stream (pings) so the master's queue
                // to the agent never fills.
                tokio::spawn(async move { while body.next().await.is_some() {} });
                return id;
            }
        }
    }
}

/// A TASK_RUNNING update for task `i`, with a fresh uuid.
fn update(agent_id: &str, framework_id: &str, i: usize, n: u64) -> Vec<u8> {
    let mut uuid = n.to_be_bytes().to_vec();
    uuid.extend_from_slice(&[0x5a; 8]);
    let call = ap::AgentCall {
        agent_id: v1::AgentId {
            value: agent_id.into(),
        },
        r#type: Some(ap::agent_call::Type::Update as i32),
        update: Some(ap::agent_call::Update {
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            status: v1::TaskStatus {
                task_id: v1::TaskId {
                    value: format!("t-{i}"),
                },
                state: v1::TaskState::TaskRunning as i32,
                source: Some(v1::task_status::Source::Executor as i32),
                agent_id: Some(v1::AgentId {
                    value: agent_id.into(),
                }),
                uuid: Some(uuid),
                message: Some(format!("update {n}")),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    encode(&call, Encoding::Protobuf)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetching_a_large_state_in_a_loop_does_not_stall_calls_or_updates() {
    let cluster = Cluster::start().await;
    let mut fw = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let framework_id = fw.framework_id.clone();
    let mut agents = Vec::new();
    for index in 0..AGENTS {
        agents.push(register_loaded_agent(cluster.master, &framework_id, index).await);
    }
    let state_url = format!("http://{}/master/state", cluster.master);
    let first = common::get_json(&state_url).await;
    let listed = first["frameworks"][0]["tasks"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        listed, TASKS,
        "the state lists every task the agent reported"
    );

    let done = Arc::new(AtomicBool::new(false));
    let fetcher = {
        let done = done.clone();
        tokio::spawn(async move {
            let client = common::http_client();
            let mut took = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                let body = client.get(&state_url).send().await.unwrap().bytes().await;
                let body = body.expect("/master/state answers while calls are made");
                assert!(
                    body.len() > TASKS * 100,
                    "a whole state: {} bytes",
                    body.len()
                );
                took.push(started.elapsed());
            }
            took
        })
    };

    let client = common::http_client();
    let call_url = format!("http://{}/agent/v1/call", cluster.master);
    let mut calls = Vec::new();
    let mut updates = Vec::new();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(4) {
        n += 1;
        let t = Instant::now();
        let (status, body) = fw
            .call(json!({"type": "RECONCILE",
                         "reconcile": {"tasks": [{"task_id": {"value": format!("t-{n}")}}]}}))
            .await;
        assert_eq!(status, 202, "RECONCILE: {body}");
        calls.push(t.elapsed());
        let t = Instant::now();
        let r = client
            .post(&call_url)
            .header("content-type", PROTOBUF)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .body(update(
                &agents[n as usize / PER_AGENT],
                &framework_id,
                n as usize,
                n,
            ))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "UPDATE: {}", r.status());
        updates.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done.store(true, Ordering::Relaxed);
    let fetches = tokio::time::timeout(common::HTTP_TIMEOUT, fetcher)
        .await
        .expect("the state loop ends")
        .unwrap();
    // The framework got what it asked for meanwhile.
    let seen = fw.update_for(&format!("t-{n}")).await;
    assert_eq!(seen["state"], "TASK_RUNNING");

    calls.sort();
    updates.sort();
    let report = format!(
        "{} state fetches of {TASKS} tasks (each {:?} to {:?}); {} RECONCILE calls p50 {:?} \
         p99 {:?} max {:?}; {} agent updates p50 {:?} p99 {:?} max {:?}",
        fetches.len(),
        fetches.iter().min().unwrap(),
        fetches.iter().max().unwrap(),
        calls.len(),
        percentile(&calls, 0.5),
        percentile(&calls, 0.99),
        calls.last().unwrap(),
        updates.len(),
        percentile(&updates, 0.5),
        percentile(&updates, 0.99),
        updates.last().unwrap(),
    );
    eprintln!("{report}");
    assert!(
        fetches.len() >= 2,
        "the state was fetched in a loop: {report}"
    );
    assert!(
        percentile(&calls, 0.99) < STALL_LIMIT && percentile(&updates, 0.99) < STALL_LIMIT,
        "calls and updates stalled behind /master/state: {report}"
    );
    cluster.stop().await;
}
