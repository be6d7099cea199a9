//! Master failover with the registry: frameworks and agents are remembered,
//! agents re-register with their tasks, frameworks re-subscribe with their
//! ids and reconcile; agents that do not come back are removed, but never
//! more than the configured share at once.

use crate::common;

use std::time::Duration;

use crate::common::{task, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::{json, Value};

fn framework_info(id: Option<&str>) -> Value {
    let mut info = json!({"user": "root", "name": "failover-test", "failover_timeout": 300.0});
    if let Some(id) = id {
        info["id"] = json!({"value": id});
    }
    info
}

/// A new framework (with a failover timeout) and its first offer, with the
/// offering agent's id.
async fn subscribe_for_an_offer(cluster: &Cluster) -> (Scheduler, Value, String) {
    let mut s =
        Scheduler::subscribe_with(cluster.master, Encoding::Json, framework_info(None)).await;
    let offer = s.offer().await;
    let agent_id = offer["agent_id"]["value"].as_str().unwrap().to_owned();
    (s, offer, agent_id)
}

/// The framework `framework_id` subscribing again, as after a failover.
async fn resubscribe(cluster: &Cluster, framework_id: &str) -> Scheduler {
    Scheduler::subscribe_with(
        cluster.master,
        Encoding::Json,
        framework_info(Some(framework_id)),
    )
    .await
}

/// Asks about `tasks` (task id, agent id) and returns the answers by task id.
async fn reconcile(s: &mut Scheduler, tasks: &[(&str, &str)]) -> Vec<Value> {
    let list: Vec<Value> = tasks
        .iter()
        .map(|(t, a)| json!({"task_id": {"value": t}, "agent_id": {"value": a}}))
        .collect();
    let (code, body) = s
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": list}}))
        .await;
    assert_eq!(code, 202, "{body}");
    let mut answers = Vec::new();
    for (task_id, _) in tasks {
        answers.push(s.update_for(task_id).await);
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_master_restart_agents_and_frameworks_come_back_and_reconcile() {
    let mut cluster = Cluster::start_with(Options {
        registry: true,
        ..Options::default()
    })
    .await;
    let (mut s, offer, agent_id) = subscribe_for_an_offer(&cluster).await;
    s.launch(&offer, vec![task("long", &offer, "sleep 600", 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("long").await["state"], "TASK_RUNNING");
    let framework_id = s.framework_id.clone();

    cluster.restart_master().await;

    // The framework re-subscribes with its id: the registry knows it.
    let mut s = resubscribe(&cluster, &framework_id).await;
    assert_eq!(s.framework_id, framework_id);
    // Until the agent is back, its tasks get no answer; it re-registers
    // within its backoff, then reconciliation sees the task running.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let answers = loop {
        let slaves: Value =
            common::get_json(format!("http://{}/master/slaves", cluster.master)).await;
        if slaves["slaves"].as_array().is_some_and(|l| !l.is_empty()) {
            break reconcile(
                &mut s,
                &[("long", &agent_id), ("never-launched", &agent_id)],
            )
            .await;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never re-registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answers[0]["state"], "TASK_RUNNING", "{}", answers[0]);
    assert_eq!(answers[0]["source"], "SOURCE_MASTER");
    assert_eq!(answers[0]["reason"], "REASON_RECONCILIATION");
    assert!(
        answers[0].get("uuid").is_none(),
        "reconciliation answers carry no uuid"
    );
    assert_eq!(answers[1]["state"], "TASK_LOST", "{}", answers[1]);

    // The agent kept its id across the restart.
    let state: Value = common::get_json(format!("http://{}/master/state", cluster.master)).await;
    assert_eq!(state["slaves"][0]["id"], agent_id.as_str());
    assert_eq!(state["frameworks"][0]["tasks"][0]["id"], "long");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_does_not_come_back_is_removed_and_its_tasks_reconcile_lost() {
    let mut cluster = Cluster::start_with(Options {
        registry: true,
        agent_reregister_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let (mut s, offer, agent_id) = subscribe_for_an_offer(&cluster).await;
    s.launch(
        &offer,
        vec![task("stranded", &offer, "sleep 600", 0.1, 32.0)],
    )
    .await;
    assert_eq!(s.update_for("stranded").await["state"], "TASK_RUNNING");
    let framework_id = s.framework_id.clone();

    // The agent goes away for good, then the master restarts.
    cluster.stop_agent().await;
    cluster.restart_master().await;
    let mut s = resubscribe(&cluster, &framework_id).await;
    // While the agent may still re-register, its task gets no answer...
    let (code, body) = s
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": [
            {"task_id": {"value": "stranded"}, "agent_id": {"value": agent_id}}]}}))
        .await;
    assert_eq!(code, 202, "{body}");
    // ...then the agent is removed: the framework hears of it, and the task
    // reconciles as lost with the agent's removal as the reason.
    let failure = s.next("FAILURE").await;
    assert_eq!(failure["failure"]["agent_id"]["value"], agent_id.as_str());
    let answer = reconcile(&mut s, &[("stranded", &agent_id)])
        .await
        .remove(0);
    assert_eq!(answer["state"], "TASK_LOST", "{answer}");
    assert_eq!(answer["reason"], "REASON_AGENT_REMOVED", "{answer}");
    assert_eq!(answer["source"], "SOURCE_MASTER");

    // The registry remembers the removal: after another restart the task
    // still reconciles as lost with the agent removed.
    cluster.restart_master().await;
    let mut s = resubscribe(&cluster, &framework_id).await;
    let answer = reconcile(&mut s, &[("stranded", &agent_id)])
        .await
        .remove(0);
    assert_eq!(answer["state"], "TASK_LOST", "{answer}");
    assert_eq!(answer["reason"], "REASON_AGENT_REMOVED", "{answer}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_more_agents_than_the_limit_is_refused() {
    let mut cluster = Cluster::start_with(Options {
        registry: true,
        agent_reregister_timeout: Duration::from_secs(1),
        recovery_agent_removal_limit: 0.5,
        ..Options::default()
    })
    .await;
    let (s, _offer, agent_id) = subscribe_for_an_offer(&cluster).await;
    let framework_id = s.framework_id.clone();
    cluster.stop_agent().await;
    cluster.restart_master().await;
    let mut s = resubscribe(&cluster, &framework_id).await;
    // The only agent is 100% of the admitted ones: more than 50%.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics: Value =
        common::get_json(format!("http://{}/metrics/snapshot", cluster.master)).await;
    assert!(
        metrics.get("master/recovery_slave_removals").is_none(),
        "no agent was removed: {metrics}"
    );
    let (code, body) = s
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": [
            {"task_id": {"value": "anything"}, "agent_id": {"value": agent_id}}]}}))
        .await;
    assert_eq!(code, 202, "{body}");
    // The agent is still awaited: its tasks get no answer.
    let quiet = tokio::time::timeout(Duration::from_secs(2), s.next("UPDATE")).await;
    assert!(
        quiet.is_err(),
        "no answer for a task of an awaited agent: {quiet:?}"
    );
    cluster.stop().await;
}
