//! The master's v1 operator event stream (`SUBSCRIBE` on `/api/v1`):
//! operators see the state, then every change in order, over JSON and
//! protobuf, and the snapshot and the events add up to the master's state.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use crate::common::{
    get_json, stream_client, task, Cluster, Options, Scheduler, EVENT_TIMEOUT, HTTP_TIMEOUT,
};
use corral::{
    proto::v1::master::Event,
    wire::{
        codec::{decode, encode, Encoding},
        recordio::RecordReader,
    },
};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// An operator following the master's event stream.
pub(crate) struct Observer {
    events: mpsc::UnboundedReceiver<Value>,
    /// Every event received, for the failure messages.
    seen: Vec<Value>,
    /// The first event (`SUBSCRIBED`).
    subscribed: Value,
}

impl Observer {
    pub(crate) async fn subscribe(master: SocketAddr, encoding: Encoding) -> Observer {
        Self::subscribe_as(master, encoding, None).await
    }

    /// [`Observer::subscribe`] with HTTP Basic credentials.
    pub(crate) async fn subscribe_as(
        master: SocketAddr,
        encoding: Encoding,
        credentials: Option<(&str, &str)>,
    ) -> Observer {
        let call = json!({"type": "SUBSCRIBE"});
        let body = match encoding {
            Encoding::Json => call.to_string().into_bytes(),
            Encoding::Protobuf => encode(
                &decode::<corral::proto::v1::master::Call>(
                    call.to_string().as_bytes(),
                    Encoding::Json,
                )
                .unwrap(),
                Encoding::Protobuf,
            ),
        };
        let mut request = stream_client()
            .post(format!("http://{master}/api/v1"))
            .header("content-type", encoding.content_type())
            .header("accept", encoding.content_type())
            .body(body);
        if let Some((principal, secret)) = credentials {
            request = request.basic_auth(principal, Some(secret));
        }
        let sent = request.send();
        let response = tokio::time::timeout(HTTP_TIMEOUT, sent)
            .await
            .expect("SUBSCRIBE answers")
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], encoding.content_type());
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut reader = RecordReader::default();
            while let Some(Ok(chunk)) = body.next().await {
                for record in reader.push(&chunk).unwrap() {
                    let event: Event = decode(&record, encoding).unwrap();
                    let json: Value =
                        serde_json::from_slice(&encode(&event, Encoding::Json)).unwrap();
                    if tx.send(json).is_err() {
                        return;
                    }
                }
            }
        });
        let mut o = Observer {
            events,
            seen: Vec::new(),
            subscribed: Value::Null,
        };
        o.subscribed = o.next("SUBSCRIBED", |_| true).await;
        o
    }

    /// The next event of type `kind` (`*`: any) that `wanted` accepts
    /// (earlier ones are passed over); fails listing what came when none
    /// does in time.
    pub(crate) async fn next(&mut self, kind: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if (kind == "*" || event["type"] == kind) && wanted(&event) {
                        return event;
                    }
                }
                end => panic!(
                    "an operator waited for {kind}: {}; it got:\n{}",
                    if matches!(end, Ok(None)) {
                        "the stream ended"
                    } else {
                        "none came in time"
                    },
                    self.seen
                        .iter()
                        .map(|e| format!("  {e}\n"))
                        .collect::<String>()
                ),
            }
        }
    }
}

impl Observer {
    /// The types of the events that arrive within `window`.
    pub(crate) async fn types_within(&mut self, window: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + window;
        let mut types = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            types.push(event["type"].as_str().unwrap_or("?").to_owned());
            self.seen.push(event);
        }
        types
    }
}

fn has_task(event: &Value, id: &str, path: &str) -> bool {
    event.pointer(path).and_then(Value::as_str) == Some(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_follow_frameworks_tasks_and_agents_as_they_change() {
    let mut cluster = Cluster::start_with(Options {
        agent_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let mut json_observer = Observer::subscribe(cluster.master, Encoding::Json).await;
    let mut proto_observer = Observer::subscribe(cluster.master, Encoding::Protobuf).await;
    let subscribed = &json_observer.subscribed["subscribed"];
    assert_eq!(
        subscribed["heartbeat_interval_seconds"],
        json!(1.0),
        "the master's heartbeat interval: {subscribed}"
    );
    assert!(
        subscribed["get_state"]["get_tasks"].is_object(),
        "{subscribed}"
    );
    json_observer.next("HEARTBEAT", |_| true).await;
    // The agent registers as the cluster starts: it is in the snapshot, or
    // its AGENT_ADDED follows.
    for o in [&mut json_observer, &mut proto_observer] {
        let agents = o.subscribed["subscribed"]["get_state"]["get_agents"]["agents"].clone();
        if agents.as_array().map_or(0, Vec::len) == 0 {
            let added = o.next("AGENT_ADDED", |_| true).await;
            assert!(added["agent_added"]["agent"]["agent_info"]["hostname"].is_string());
        }
    }

    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let framework_id = s.framework_id.clone();
    for o in [&mut json_observer, &mut proto_observer] {
        let added = o
            .next("FRAMEWORK_ADDED", |e| {
                has_task(
                    e,
                    &framework_id,
                    "/framework_added/framework/framework_info/id/value",
                )
            })
            .await;
        assert_eq!(added["framework_added"]["framework"]["active"], json!(true));
    }
    let offer = s.offer().await;
    s.launch(
        &offer,
        vec![task("watched", &offer, "sleep 600", 0.1, 32.0)],
    )
    .await;
    assert_eq!(s.update_for("watched").await["state"], "TASK_RUNNING");
    for o in [&mut json_observer, &mut proto_observer] {
        let added = o
            .next("TASK_ADDED", |e| {
                has_task(e, "watched", "/task_added/task/task_id/value")
            })
            .await;
        assert_eq!(added["task_added"]["task"]["state"], "TASK_STAGING");
        assert_eq!(
            added["task_added"]["task"]["framework_id"]["value"],
            json!(framework_id)
        );
        let running = o
            .next("TASK_UPDATED", |e| {
                has_task(e, "watched", "/task_updated/status/task_id/value")
            })
            .await;
        assert_eq!(running["task_updated"]["state"], "TASK_RUNNING");
        assert_eq!(
            running["task_updated"]["framework_id"]["value"],
            json!(framework_id)
        );
    }

    // Tearing the framework down kills its task, then removes it.
    let (code, body) = crate::operator_api::operator_call(
        &format!("http://{}", cluster.master),
        json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    for o in [&mut json_observer, &mut proto_observer] {
        let killed = o
            .next("TASK_UPDATED", |e| {
                has_task(e, "watched", "/task_updated/status/task_id/value")
                    && e["task_updated"]["state"] == "TASK_KILLED"
            })
            .await;
        assert_eq!(
            killed["task_updated"]["status"]["reason"],
            "REASON_FRAMEWORK_REMOVED"
        );
        o.next("FRAMEWORK_REMOVED", |e| {
            has_task(
                e,
                &framework_id,
                "/framework_removed/framework_info/id/value",
            )
        })
        .await;
    }

    // An agent that goes away is removed after its timeout.
    let agent_id = get_json(format!("http://{}/master/slaves", cluster.master)).await["slaves"][0]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cluster.stop_agent().await;
    for o in [&mut json_observer, &mut proto_observer] {
        o.next("AGENT_REMOVED", |e| {
            has_task(e, &agent_id, "/agent_removed/agent_id/value")
        })
        .await;
    }
    let metrics = get_json(format!("http://{}/metrics/snapshot", cluster.master)).await;
    assert_eq!(
        metrics["master/operator_subscribers"],
        json!(2.0),
        "{metrics}"
    );
    cluster.stop().await;
}

/// Task id → state, from a `GET_STATE`'s tasks.
fn states_in(get_state: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for list in ["tasks", "completed_tasks"] {
        for t in get_state["get_tasks"][list]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.insert(
                t["task_id"]["value"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_and_the_events_after_it_add_up_to_the_masters_state() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let mut observer = None;
    let mut launched = Vec::new();
    // Five rounds of quick tasks; the operator subscribes while the
    // second round is being launched and runs.
    for round in 0..5 {
        let offer = s.offer().await;
        let tasks: Vec<Value> = (0..6)
            .map(|n| {
                let id = format!("r{round}-t{n}");
                launched.push(id.clone());
                task(&id, &offer, "true", 0.1, 16.0)
            })
            .collect();
        s.launch(&offer, tasks).await;
        if round == 1 {
            observer = Some(Observer::subscribe(cluster.master, Encoding::Protobuf).await);
        }
    }
    for id in &launched {
        loop {
            let update = s.update_for(id).await;
            if update["state"] == "TASK_FINISHED" {
                break;
            }
            assert_eq!(update["state"], "TASK_RUNNING", "{update}");
        }
    }
    let mut o = observer.unwrap();
    let mut view = states_in(&o.subscribed["subscribed"]["get_state"]);
    let finished = |view: &BTreeMap<String, String>| {
        launched
            .iter()
            .all(|id| view.get(id).map(String::as_str) == Some("TASK_FINISHED"))
    };
    while !finished(&view) {
        let event = o.next("*", |_| true).await;
        match event["type"].as_str() {
            Some("TASK_ADDED") => {
                let t = &event["task_added"]["task"];
                let id = t["task_id"]["value"].as_str().unwrap().to_owned();
                assert!(
                    view.insert(id.clone(), t["state"].as_str().unwrap().to_owned())
                        .is_none(),
                    "TASK_ADDED for {id}, which the snapshot or an earlier event had"
                );
            }
            Some("TASK_UPDATED") => {
                let u = &event["task_updated"];
                let id = u["status"]["task_id"]["value"].as_str().unwrap().to_owned();
                let known = view.get_mut(&id).unwrap_or_else(|| {
                    panic!("TASK_UPDATED for {id} before it was in the snapshot or added")
                });
                *known = u["state"].as_str().unwrap().to_owned();
            }
            _ => {}
        }
    }
    let master = get_json(format!("http://{}/master/tasks?limit=-1", cluster.master)).await;
    let truth: BTreeMap<String, String> = master["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(view, truth, "the operator's view against /master/tasks");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corral_events_prints_one_line_per_event() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_corral"))
        .args([
            "events",
            "--master",
            &cluster.master.to_string(),
            "--count",
            "3",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(EVENT_TIMEOUT, lines.next_line())
            .await
            .expect("corral events prints a line in time")
            .unwrap()
            .expect("corral events prints a line before it exits")
    };
    let first = next_line().await;
    assert_eq!(first, "SUBSCRIBED agents=1 frameworks=1 tasks=0", "{first}");
    s.launch(&offer, vec![task("shown", &offer, "sleep 600", 0.1, 16.0)])
        .await;
    let added = next_line().await;
    assert!(
        added.starts_with(&format!(
            "TASK_ADDED task=shown name=shown framework={} agent=",
            s.framework_id
        )) && added.ends_with(" state=STAGING"),
        "{added}"
    );
    let running = next_line().await;
    assert_eq!(
        running,
        format!(
            "TASK_UPDATED task=shown framework={} state=RUNNING source=SOURCE_EXECUTOR",
            s.framework_id
        )
    );
    let status = tokio::time::timeout(EVENT_TIMEOUT, child.wait())
        .await
        .expect("corral events stops after --count events")
        .unwrap();
    assert!(status.success(), "{status}");
    cluster.stop().await;
}
