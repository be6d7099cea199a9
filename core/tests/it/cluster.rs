//! The cluster end to end: master and agent on 127.0.0.1:0, frameworks
//! speaking the Mesos v1 scheduler API over JSON and over protobuf.

use crate::common;

use crate::common::{task, Cluster, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::json;

async fn task_runs_to_finished(encoding: Encoding) {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, encoding).await;
    let offer = s.offer().await;
    assert_eq!(offer["framework_id"]["value"], s.framework_id.as_str());
    s.launch(
        &offer,
        vec![task("t1", &offer, "echo hello from corral", 0.1, 32.0)],
    )
    .await;
    let running = s.update_for("t1").await;
    assert_eq!(running["state"], "TASK_RUNNING", "{running}");
    assert_eq!(running["source"], "SOURCE_EXECUTOR");
    assert_eq!(running["agent_id"], offer["agent_id"]);
    assert_eq!(running["executor_id"]["value"], "t1");
    assert!(running["timestamp"].as_f64().unwrap() > 1.0e9);
    let finished = s.update_for("t1").await;
    assert_eq!(finished["state"], "TASK_FINISHED", "{finished}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_to_finished_over_json() {
    task_runs_to_finished(Encoding::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_to_finished_over_protobuf() {
    task_runs_to_finished(Encoding::Protobuf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_reports_its_exit_status() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task("bad", &offer, "exit 3", 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("bad").await["state"], "TASK_RUNNING");
    let failed = s.update_for("bad").await;
    assert_eq!(failed["state"], "TASK_FAILED", "{failed}");
    assert_eq!(failed["message"], "Command exited with status 3");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_task_ends_killed() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(
        &offer,
        vec![task("sleeper", &offer, "sleep 600", 0.1, 32.0)],
    )
    .await;
    assert_eq!(s.update_for("sleeper").await["state"], "TASK_RUNNING");
    let (code, body) = s
        .call(json!({"type": "KILL", "kill": {"task_id": {"value": "sleeper"}}}))
        .await;
    assert_eq!(code, 202, "{body}");
    let killed = s.update_for("sleeper").await;
    assert_eq!(killed["state"], "TASK_KILLED", "{killed}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_framework_runs_n_tasks_to_completion() {
    let cluster = Cluster::start().await;
    let job = corral_example_framework::Job {
        master: cluster.master.to_string(),
        tasks: 12,
        command: "test -n \"$MESOS_SANDBOX\"".into(),
        cpus: 0.5,
        mem: 64.0,
    };
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        corral_example_framework::run(&job),
    )
    .await
    .expect("the example framework did not finish its 12 tasks within 60 s")
    .unwrap();
    assert_eq!(outcome.len(), 12);
    assert!(
        outcome.values().all(|s| s == "TASK_FINISHED"),
        "{outcome:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_with_the_same_id_fails_the_old_stream_over() {
    let cluster = Cluster::start().await;
    let mut first = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let id = first.framework_id.clone();
    let second = Scheduler::subscribe_with(
        cluster.master,
        Encoding::Protobuf,
        json!({"user": "tester", "name": "corral-test", "id": {"value": id}}),
    )
    .await;
    assert_eq!(second.framework_id, id);
    assert_ne!(second.stream_id, first.stream_id);
    let error = first.next("ERROR").await;
    assert_eq!(error["error"]["message"], "Framework failed over");
    // The old stream id no longer works; the new one does.
    let (code, text) = first.call(json!({"type": "REVIVE"})).await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("didn't match the stream ID"), "{text}");
    let (code, _) = second.call(json!({"type": "REVIVE"})).await;
    assert_eq!(code, 202);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_agent_loses_tasks_at_once_or_after_its_timeout_with_checkpointing() {
    let mut cluster = common::Cluster::start_with(common::Options {
        agent_timeout: std::time::Duration::from_secs(2),
        ..common::Options::default()
    })
    .await;
    // A checkpointing framework's task may outlive its agent's process...
    let mut durable = Scheduler::subscribe_with(
        cluster.master,
        Encoding::Json,
        json!({"user": "tester", "name": "durable", "checkpoint": true}),
    )
    .await;
    let offer = durable.offer().await;
    // The durable framework refuses the rest of the agent for the rest of
    // the test: otherwise the next allocation round may offer it all to
    // `durable` again (which never answers that offer) before `fragile`
    // subscribes, and `fragile` gets no offer until `doomed` ends.
    let (code, body) = durable
        .call(json!({"type": "ACCEPT", "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [
                task("doomed", &offer, "sleep 600", 0.1, 32.0)]}}],
            "filters": {"refuse_seconds": 3600.0}}}))
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(durable.update_for("doomed").await["state"], "TASK_RUNNING");
    // ...another framework's may not.
    let mut fragile = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = fragile.offer().await;
    fragile
        .launch(
            &offer,
            vec![task("fragile", &offer, "sleep 600", 0.1, 32.0)],
        )
        .await;
    assert_eq!(fragile.update_for("fragile").await["state"], "TASK_RUNNING");

    cluster.stop_agent().await;
    let disconnected = fragile.update_for("fragile").await;
    assert_eq!(disconnected["state"], "TASK_LOST", "{disconnected}");
    assert_eq!(disconnected["source"], "SOURCE_MASTER");
    assert_eq!(disconnected["reason"], "REASON_AGENT_DISCONNECTED");
    assert!(disconnected.get("uuid").is_none());

    let started = std::time::Instant::now();
    let lost = durable.update_for("doomed").await;
    assert_eq!(lost["state"], "TASK_LOST", "{lost}");
    assert_eq!(lost["source"], "SOURCE_MASTER");
    assert_eq!(lost["reason"], "REASON_AGENT_REMOVED");
    assert!(lost.get("uuid").is_none());
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "the checkpointing framework's task waits for the agent timeout"
    );
    cluster.stop().await;
}
