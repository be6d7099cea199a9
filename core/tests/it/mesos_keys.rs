//! Our `/master/state`, `/slave(1)/state` and `GET_STATE` against the key
//! sets of real Mesos 1.x responses: every key Mesos always writes must be
//! there (tools index them without a default). The sets are taken from
//! Mesos' source, not from Corral's output: the master's
//! `src/master/readonly_handler.cpp` (state, `FullFrameworkWriter`,
//! `SlaveWriter`), `src/common/http.cpp` (`json(Task)`, `json(TaskStatus)`,
//! resource summaries, offers), the agent's `src/slave/http.cpp`
//! (`Http::state`, `FrameworkWriter`, `ExecutorWriter`, `json(TaskInfo)`)
//! and, for `GET_STATE`, the required fields and defaulted optionals of
//! `include/mesos/v1/{mesos,master/master,agent/agent}.proto`.

use std::time::Duration;

use crate::{common::get_json, operator_api::operator_call, operator_endpoints::busy_cluster};
use serde_json::Value;

const MASTER_STATE: &[&str] = &[
    "version",
    "build_date",
    "build_time",
    "build_user",
    "start_time",
    "elected_time",
    "id",
    "pid",
    "hostname",
    "capabilities",
    "activated_slaves",
    "deactivated_slaves",
    "unreachable_slaves",
    "leader",
    "leader_info",
    "flags",
    "slaves",
    "recovered_slaves",
    "frameworks",
    "completed_frameworks",
    "orphan_tasks",
    "unregistered_frameworks",
];
const LEADER_INFO: &[&str] = &["id", "pid", "port", "hostname"];
const MASTER_FRAMEWORK: &[&str] = &[
    "id",
    "name",
    "used_resources",
    "offered_resources",
    "capabilities",
    "hostname",
    "webui_url",
    "active",
    "connected",
    "recovered",
    "user",
    "failover_timeout",
    "checkpoint",
    "registered_time",
    "unregistered_time",
    "resources",
    "tasks",
    "unreachable_tasks",
    "completed_tasks",
    "offers",
    "executors",
];
const MASTER_AGENT: &[&str] = &[
    "id",
    "hostname",
    "port",
    "attributes",
    "pid",
    "registered_time",
    "resources",
    "used_resources",
    "offered_resources",
    "reserved_resources",
    "unreserved_resources",
    "active",
    "deactivated",
    "version",
    "capabilities",
];
const OFFER: &[&str] = &[
    "id",
    "framework_id",
    "allocation_info",
    "slave_id",
    "resources",
];
/// `json(Task)`, on the master and in the agent's executors.
const TASK: &[&str] = &[
    "id",
    "name",
    "framework_id",
    "executor_id",
    "slave_id",
    "state",
    "resources",
    "role",
    "statuses",
];
const STATUS: &[&str] = &["state", "timestamp"];
/// A resource summary always has these, 0 when absent.
const RESOURCES: &[&str] = &["cpus", "gpus", "mem", "disk"];

const AGENT_STATE: &[&str] = &[
    "version",
    "build_date",
    "build_time",
    "build_user",
    "start_time",
    "id",
    "pid",
    "hostname",
    "capabilities",
    "resources",
    "reserved_resources",
    "unreserved_resources",
    "reserved_resources_full",
    "unreserved_resources_full",
    "reserved_resources_allocated",
    "unreserved_resources_allocated",
    "resource_providers",
    "attributes",
    "flags",
    "frameworks",
    "completed_frameworks",
];
const AGENT_FRAMEWORK: &[&str] = &[
    "id",
    "name",
    "user",
    "failover_timeout",
    "checkpoint",
    "hostname",
    "executors",
    "completed_executors",
];
const AGENT_EXECUTOR: &[&str] = &[
    "id",
    "name",
    "source",
    "container",
    "directory",
    "resources",
    "tasks",
    "queued_tasks",
    "completed_tasks",
];

/// `GET_STATE` on the master (v1 protobuf JSON: required fields, and
/// optionals with a default).
const GET_STATE: &[&str] = &["get_tasks", "get_executors", "get_frameworks", "get_agents"];
const V1_TASK: &[&str] = &["name", "task_id", "framework_id", "agent_id", "state"];
const V1_STATUS: &[&str] = &["task_id", "state"];
const V1_AGENT: &[&str] = &[
    "agent_info",
    "active",
    "version",
    "pid",
    "registered_time",
    "deactivated",
];
const V1_AGENT_INFO: &[&str] = &["hostname", "port", "id"];
const V1_FRAMEWORK: &[&str] = &["framework_info", "active", "connected", "recovered"];
const V1_FRAMEWORK_INFO: &[&str] = &["user", "name", "failover_timeout", "checkpoint", "id"];
const AGENT_GET_STATE: &[&str] = &["get_tasks", "get_executors", "get_frameworks"];

/// Collects every key `object` (named `what`) lacks.
#[derive(Default)]
struct Missing(Vec<String>);

impl Missing {
    fn check(&mut self, what: &str, object: &Value, keys: &[&str]) {
        for key in keys {
            if object.get(key).is_none() {
                self.0.push(format!("{what} lacks '{key}': {object}"));
            }
        }
    }

    fn role(&mut self, what: &str, framework: &Value) {
        if framework.get("role").is_none() && framework.get("roles").is_none() {
            self.0
                .push(format!("{what} has neither 'role' nor 'roles'"));
        }
    }

    fn each(&mut self, what: &str, list: &Value, keys: &[&str]) -> Vec<Value> {
        let items = list.as_array().cloned().unwrap_or_default();
        for item in &items {
            self.check(what, item, keys);
        }
        items
    }

    fn task(&mut self, what: &str, task: &Value) {
        self.check(what, task, TASK);
        self.check(&format!("{what}.resources"), &task["resources"], RESOURCES);
        self.each(&format!("{what}.statuses[]"), &task["statuses"], STATUS);
    }

    fn assert_none(self, context: &str, seen: usize) {
        assert!(
            self.0.is_empty(),
            "{context}: {} missing keys:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
        assert!(seen > 0, "{context}: nothing was checked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_endpoints_have_every_key_mesos_always_writes() {
    let (cluster, _s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);
    let agent = format!("http://{}", cluster.agent);

    // The framework holds an offer of what the tasks left (the allocator
    // offers it again within a round or two).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let state = loop {
        let state = get_json(format!("{master}/master/state")).await;
        let offers = state["frameworks"][0]["offers"]
            .as_array()
            .map_or(0, Vec::len);
        if offers > 0 {
            break state;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no offer outstanding in /master/state: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut missing = Missing::default();
    let mut seen = 0;
    missing.check("/master/state", &state, MASTER_STATE);
    missing.check("leader_info", &state["leader_info"], LEADER_INFO);
    for a in missing.each("slaves[]", &state["slaves"], MASTER_AGENT) {
        for key in ["resources", "used_resources", "offered_resources"] {
            missing.check(&format!("slaves[].{key}"), &a[key], RESOURCES);
        }
        seen += 1;
    }
    for f in missing.each("frameworks[]", &state["frameworks"], MASTER_FRAMEWORK) {
        missing.role("frameworks[]", &f);
        for t in f["tasks"].as_array().into_iter().flatten() {
            missing.task("frameworks[].tasks[]", t);
            seen += 1;
        }
        for t in f["completed_tasks"].as_array().into_iter().flatten() {
            missing.task("frameworks[].completed_tasks[]", t);
        }
        for o in missing.each("frameworks[].offers[]", &f["offers"], OFFER) {
            missing.check("offers[].resources", &o["resources"], RESOURCES);
            seen += 1;
        }
    }
    // `/master/tasks` writes tasks the same way.
    let tasks = get_json(format!("{master}/master/tasks")).await;
    for t in tasks["tasks"].as_array().into_iter().flatten() {
        missing.task("/master/tasks tasks[]", t);
    }
    missing.assert_none("/master/state", seen);

    let state = get_json(format!("{agent}/slave(1)/state")).await;
    let mut missing = Missing::default();
    let mut seen = 0;
    missing.check("/slave(1)/state", &state, AGENT_STATE);
    missing.check("/slave(1)/state.resources", &state["resources"], RESOURCES);
    for f in missing.each("frameworks[]", &state["frameworks"], AGENT_FRAMEWORK) {
        missing.role("frameworks[]", &f);
        for e in missing.each("frameworks[].executors[]", &f["executors"], AGENT_EXECUTOR) {
            for t in e["tasks"].as_array().into_iter().flatten() {
                missing.task("executors[].tasks[]", t);
                seen += 1;
            }
        }
        for e in missing.each(
            "frameworks[].completed_executors[]",
            &f["completed_executors"],
            AGENT_EXECUTOR,
        ) {
            for t in e["completed_tasks"].as_array().into_iter().flatten() {
                missing.task("completed_executors[].completed_tasks[]", t);
                seen += 1;
            }
        }
    }
    missing.assert_none("/slave(1)/state", seen);

    let (_, body) = operator_call(&master, serde_json::json!({"type": "GET_STATE"})).await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    let state = &answer["get_state"];
    let mut missing = Missing::default();
    let mut seen = 0;
    missing.check("GET_STATE", state, GET_STATE);
    for t in missing.each("get_tasks.tasks[]", &state["get_tasks"]["tasks"], V1_TASK) {
        missing.each("get_tasks.tasks[].statuses[]", &t["statuses"], V1_STATUS);
        seen += 1;
    }
    for a in missing.each(
        "get_agents.agents[]",
        &state["get_agents"]["agents"],
        V1_AGENT,
    ) {
        missing.check("agents[].agent_info", &a["agent_info"], V1_AGENT_INFO);
        seen += 1;
    }
    let frameworks = &state["get_frameworks"]["frameworks"];
    for f in missing.each("get_frameworks.frameworks[]", frameworks, V1_FRAMEWORK) {
        missing.check(
            "frameworks[].framework_info",
            &f["framework_info"],
            V1_FRAMEWORK_INFO,
        );
        seen += 1;
    }
    missing.assert_none("GET_STATE", seen);

    let (_, body) = operator_call(&agent, serde_json::json!({"type": "GET_STATE"})).await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    let state = &answer["get_state"];
    let mut missing = Missing::default();
    missing.check("agent GET_STATE", state, AGENT_GET_STATE);
    let launched = missing.each(
        "get_tasks.launched_tasks[]",
        &state["get_tasks"]["launched_tasks"],
        V1_TASK,
    );
    missing.assert_none("agent GET_STATE", launched.len());
    cluster.stop().await;
}
