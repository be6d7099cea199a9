//! Reliable status updates and reconciliation, as frameworks rely on them:
//! updates are resent until acknowledged (same uuid); explicit and implicit
//! reconciliation answer for known, finished, unknown and lost tasks; a
//! partition-aware framework gets Mesos 1.x's TASK_UNKNOWN and TASK_GONE.

use std::time::Duration;

use crate::common::{task, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::{json, Value};

async fn reconcile_call(s: &Scheduler, tasks: Value) {
    let (code, body) = s
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": tasks}}))
        .await;
    assert_eq!(code, 202, "{body}");
}

fn assert_master_answer(status: &Value, state: &str, reason: &str) {
    assert_eq!(status["state"], state, "{status}");
    assert_eq!(status["reason"], reason, "{status}");
    assert_eq!(status["source"], "SOURCE_MASTER", "{status}");
    assert!(
        status.get("uuid").is_none(),
        "master answers carry no uuid: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_updates_are_resent_with_the_same_uuid_until_acknowledged() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task("t", &offer, "sleep 600", 0.1, 32.0)])
        .await;
    let first = s.unacknowledged_update_for("t").await;
    assert_eq!(first["state"], "TASK_RUNNING");
    assert_eq!(first["source"], "SOURCE_EXECUTOR");
    // Not acknowledged: the agent resends it (every second here).
    let again = s.unacknowledged_update_for("t").await;
    assert_eq!(again["state"], "TASK_RUNNING");
    assert_eq!(again["uuid"], first["uuid"], "a resend is the same update");
    s.acknowledge(&again).await;
    // Acknowledged: no more resends.
    let quiet =
        tokio::time::timeout(Duration::from_secs(3), s.unacknowledged_update_for("t")).await;
    assert!(
        quiet.is_err(),
        "no resend after the acknowledgement: {quiet:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_and_implicit_reconciliation_answer_for_every_kind_of_task() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let agent_id = offer["agent_id"]["value"].as_str().unwrap().to_owned();
    s.launch(
        &offer,
        vec![
            task("running", &offer, "sleep 600", 0.1, 32.0),
            task("done", &offer, "true", 0.1, 32.0),
        ],
    )
    .await;
    assert_eq!(s.update_for("running").await["state"], "TASK_RUNNING");
    assert_eq!(s.update_for("done").await["state"], "TASK_RUNNING");
    assert_eq!(s.update_for("done").await["state"], "TASK_FINISHED");

    // Explicit: one answer per task asked about.
    reconcile_call(
        &s,
        json!([
            {"task_id": {"value": "running"}},
            {"task_id": {"value": "done"}, "agent_id": {"value": agent_id}},
            {"task_id": {"value": "never-heard-of"}, "agent_id": {"value": agent_id}},
        ]),
    )
    .await;
    let running = s.update_for("running").await;
    assert_master_answer(&running, "TASK_RUNNING", "REASON_RECONCILIATION");
    assert_eq!(running["agent_id"]["value"], agent_id.as_str());
    let done = s.update_for("done").await;
    assert_master_answer(&done, "TASK_FINISHED", "REASON_RECONCILIATION");
    let unknown = s.update_for("never-heard-of").await;
    assert_master_answer(&unknown, "TASK_LOST", "REASON_RECONCILIATION");

    // Implicit: the latest state of every live task, and nothing else.
    reconcile_call(&s, json!([])).await;
    let implicit = s.update_for("running").await;
    assert_master_answer(&implicit, "TASK_RUNNING", "REASON_RECONCILIATION");
    let extra = tokio::time::timeout(Duration::from_secs(1), s.next("UPDATE")).await;
    assert!(extra.is_err(), "only live tasks are listed: {extra:?}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_a_removed_agent_reconcile_lost_or_gone_for_partition_aware_frameworks() {
    let mut cluster = Cluster::start_with(Options {
        agent_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    // Checkpointing: its tasks wait for the agent's timeout, not its
    // connection.
    let mut s = Scheduler::subscribe_with(
        cluster.master,
        Encoding::Json,
        json!({"user": "root", "name": "durable", "checkpoint": true}),
    )
    .await;
    let aware = Scheduler::subscribe_with(
        cluster.master,
        Encoding::Json,
        json!({"user": "root", "name": "aware", "capabilities": [{"type": "PARTITION_AWARE"}]}),
    )
    .await;
    let offer = s.offer().await;
    let agent_id = offer["agent_id"]["value"].as_str().unwrap().to_owned();
    s.launch(
        &offer,
        vec![task("stranded", &offer, "sleep 600", 0.1, 32.0)],
    )
    .await;
    assert_eq!(s.update_for("stranded").await["state"], "TASK_RUNNING");

    // The agent goes silent and is removed: its task is lost.
    cluster.stop_agent().await;
    let lost = s.update_for("stranded").await;
    assert_eq!(lost["state"], "TASK_LOST", "{lost}");
    assert_eq!(lost["reason"], "REASON_AGENT_REMOVED");
    reconcile_call(
        &s,
        json!([{"task_id": {"value": "stranded"}, "agent_id": {"value": agent_id}}]),
    )
    .await;
    let answer = s.update_for("stranded").await;
    assert_eq!(answer["state"], "TASK_LOST", "{answer}");

    // A partition-aware framework hears Mesos 1.x's states instead.
    let mut aware = aware;
    reconcile_call(
        &aware,
        json!([
            {"task_id": {"value": "elsewhere"}, "agent_id": {"value": agent_id}},
            {"task_id": {"value": "nowhere"}},
        ]),
    )
    .await;
    let gone = aware.update_for("elsewhere").await;
    assert_master_answer(&gone, "TASK_GONE", "REASON_AGENT_REMOVED");
    let unknown = aware.update_for("nowhere").await;
    assert_master_answer(&unknown, "TASK_UNKNOWN", "REASON_RECONCILIATION");
    cluster.stop().await;
}
