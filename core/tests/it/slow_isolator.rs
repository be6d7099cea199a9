//! A slow isolator does not stall the agent: while one container's isolator
//! spends seconds in `prepare` (the fixture `org_fixture_isolator_slow`,
//! for executors whose id contains "slow"), the agent still answers its
//! endpoints, takes further tasks from the master, forwards executors'
//! updates and honours kills; a task that arrives for the launching
//! executor waits for that container instead of getting a second one.
//!
//! Whether things happened "meanwhile" is judged against the fixture's own
//! timestamps of the end of the slow `prepare`, not by a tight timing.

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::common::{get, get_json, task, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use corral_tests::{library_entry, module_library};
use serde_json::{json, Value};

const SLOW: &str = "org_fixture_isolator_slow";
const SLEEP_MS: u64 = 5000;

/// A cluster whose agent's only isolator sleeps `SLEEP_MS` in `prepare`
/// for executors whose id contains "slow", tracing to `trace`.
async fn cluster_with_slow_isolator(trace: &Path) -> Cluster {
    let mut manifest = library_entry(&module_library("corral_fixture_misbehaving"), &[SLOW]);
    manifest.push_str(&format!(
        "  parameters = {{ sleep_ms = \"{SLEEP_MS}\", match = \"slow\", trace = {:?} }}\n",
        trace.display().to_string()
    ));
    Cluster::start_with(Options {
        extra_manifest: manifest,
        isolation: vec![SLOW.to_owned()],
        ..Options::default()
    })
    .await
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// The times (unix ms) of the trace's `what` lines for `executor_id`.
fn traced(trace: &Path, what: &str, executor_id: &str) -> Vec<u128> {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (w, e, t) = (fields.next()?, fields.next()?, fields.next()?);
            (w == what && e == executor_id).then(|| t.parse().ok())?
        })
        .collect()
}

/// Waits (at most 30 s) for the trace's first `what` line of `executor_id`.
async fn wait_for_trace(trace: &Path, what: &str, executor_id: &str) -> u128 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(t) = traced(trace, what, executor_id).first() {
            return *t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no '{what} {executor_id}' in the isolator's trace within 30 s; it holds: {:?}",
            std::fs::read_to_string(trace).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A task kept running by the report executor `executor_id`.
fn staying_task(offer: &Value, task_id: &str, executor_id: &str) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/executors/report_executor.py"
    );
    json!({
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}
        ],
        "labels": {"labels": [{"key": "stay"}]},
        "executor": {
            "executor_id": {"value": executor_id},
            "command": {"shell": true, "value": format!("exec python3 {script}")}
        }
    })
}

/// GET `url` with a deadline; returns when the answer arrived (unix ms).
async fn answered_at(url: String) -> u128 {
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), get(&url))
        .await
        .unwrap_or_else(|_| panic!("{url} did not answer within 30 s"));
    assert_eq!(status, 200, "{url}: {body}");
    unix_ms()
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    (dir, trace)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_goes_on_while_an_isolator_prepares_slowly() {
    let (_dir, trace) = scratch();
    let cluster = cluster_with_slow_isolator(&trace).await;
    let agent = cluster.agent;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;

    // An executor that is up before the slow launch starts.
    let offer = s.offer().await;
    s.launch(&offer, vec![staying_task(&offer, "early", "quick")])
        .await;
    let running = s.update_for("early").await;
    assert_eq!(running["state"], "TASK_RUNNING", "{running}");

    // The slow launch: the command executor is named after its task.
    let offer = s.offer().await;
    s.launch(&offer, vec![task("slow-1", &offer, "sleep 600", 0.1, 32.0)])
        .await;
    let started = wait_for_trace(&trace, "prepare-start", "slow-1").await;

    // Meanwhile: the agent's endpoints answer (/state takes its lock) ...
    let health = answered_at(format!("http://{agent}/health")).await;
    let state = answered_at(format!("http://{agent}/state")).await;
    // ... and a task for the running executor gets there and runs.
    let offer = s.offer().await;
    s.launch(&offer, vec![staying_task(&offer, "meanwhile", "quick")])
        .await;
    let running = s.update_for("meanwhile").await;
    assert_eq!(running["state"], "TASK_RUNNING", "{running}");
    let ran = unix_ms();

    let ended = wait_for_trace(&trace, "prepare-end", "slow-1").await;
    // The sandbox an isolator is given exists, absolute, during `prepare`.
    assert_eq!(
        (
            traced(&trace, "sandbox-absolute-and-present", "slow-1").len(),
            traced(&trace, "sandbox-missing-or-relative", "slow-1").len()
        ),
        (1, 0),
        "prepare of slow-1 saw its sandbox missing or relative: {:?}",
        std::fs::read_to_string(&trace).unwrap_or_default()
    );
    assert!(
        ended >= started + u128::from(SLEEP_MS) - 100,
        "the fixture did not sleep: prepare of slow-1 ran from {started} to {ended}"
    );
    for (what, at) in [
        ("/health answered", health),
        ("/state answered", state),
        ("the second task ran", ran),
    ] {
        assert!(
            at < ended,
            "{what} at {at}, not before the slow prepare (from {started}) ended at {ended}"
        );
    }
    // The slow container still starts once its isolator is done.
    let running = s.update_for("slow-1").await;
    assert_eq!(running["state"], "TASK_RUNNING", "{running}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_slow_launch_is_honoured() {
    let (_dir, trace) = scratch();
    let cluster = cluster_with_slow_isolator(&trace).await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(
        &offer,
        vec![task("slow-kill", &offer, "sleep 600", 0.1, 32.0)],
    )
    .await;
    wait_for_trace(&trace, "prepare-start", "slow-kill").await;
    let (code, body) = s
        .call(json!({"type": "KILL", "kill": {"task_id": {"value": "slow-kill"}}}))
        .await;
    assert_eq!(code, 202, "{body}");
    let killed = s.update_for("slow-kill").await;
    let at = unix_ms();
    assert_eq!(killed["state"], "TASK_KILLED", "{killed}");
    assert_eq!(
        killed["reason"], "REASON_TASK_KILLED_DURING_LAUNCH",
        "{killed}"
    );
    let ended = wait_for_trace(&trace, "prepare-end", "slow-kill").await;
    assert!(
        at < ended,
        "the kill was answered at {at}, after the slow prepare ended at {ended}"
    );
    // The container, started after the kill, is destroyed: its executor
    // goes away (Cluster::stop also checks that no process is left).
    let failure = s.next("FAILURE").await;
    assert_eq!(
        failure["failure"]["executor_id"]["value"], "slow-kill",
        "{failure}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_for_a_launching_executor_waits_for_its_container() {
    let (_dir, trace) = scratch();
    let cluster = cluster_with_slow_isolator(&trace).await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![staying_task(&offer, "first", "slow-shared")])
        .await;
    wait_for_trace(&trace, "prepare-start", "slow-shared").await;
    let offer = s.offer().await;
    s.launch(&offer, vec![staying_task(&offer, "second", "slow-shared")])
        .await;
    // The second task is booked for the executor while its container
    // still launches.
    let url = format!("http://{}/state", cluster.agent);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let booked = loop {
        let state = get_json(&url).await;
        let tasks = &state["frameworks"][0]["executors"][0]["tasks"];
        if tasks.as_array().is_some_and(|t| t.len() == 2) {
            break unix_ms();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent did not book the second task within 30 s: {state:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ended = wait_for_trace(&trace, "prepare-end", "slow-shared").await;
    assert!(
        booked < ended,
        "the second task was booked at {booked}, after the launch's prepare ended at {ended}"
    );
    for task_id in ["first", "second"] {
        let running = s.update_for(task_id).await;
        assert_eq!(running["state"], "TASK_RUNNING", "{task_id}: {running}");
        assert_eq!(running["executor_id"]["value"], "slow-shared", "{running}");
    }
    let prepared = traced(&trace, "prepare-start", "slow-shared");
    assert_eq!(
        prepared.len(),
        1,
        "one container for the executor, not {}: {:?}",
        prepared.len(),
        std::fs::read_to_string(&trace).unwrap_or_default()
    );
    let state = get_json(&url).await;
    let executors = state["frameworks"][0]["executors"].as_array().cloned();
    assert_eq!(
        executors.as_ref().map(Vec::len),
        Some(1),
        "one executor: {state:#}"
    );
    cluster.stop().await;
}
